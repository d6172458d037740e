"""Demo data for `carnet dev` (idempotent: running it twice creates nothing new)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend.announcements.models import Announcement
from backend.settings import Settings

# Filled in by the identity domain: identifier -> password, printed by `carnet dev`.
DEMO_LOGINS: dict[str, str] = {}

DEMO_ANNOUNCEMENTS = [
    (
        "Bienvenue sur Carnet",
        "Votre espace santé personnel : vos documents, votre profil médical et une messagerie "
        "sécurisée avec les professionnels qui vous soignent.",
    ),
    (
        "Maintenance programmée",
        "Le service sera brièvement indisponible dimanche entre 2 h et 3 h.",
    ),
]


async def seed_demo(settings: Settings) -> dict[str, Any]:
    created = 0
    now = datetime.now(UTC)
    for offset, (title, body) in enumerate(DEMO_ANNOUNCEMENTS):
        _, was_created = await Announcement.get_or_create(
            title=title,
            defaults={"body": body, "published_at": now - timedelta(minutes=offset)},
        )
        created += int(was_created)
    return {"announcementsCreated": created}
