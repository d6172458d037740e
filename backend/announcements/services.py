"""Announcement rules: only published ones are visible; newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from backend.announcements.models import Announcement
from backend.broker import Broker

CHANNEL = "announcements"
MAX_PAGE = 50


class InvalidAnnouncement(ValueError):
    pass


async def latest(first: int = 5) -> list[Announcement]:
    first = max(1, min(first, MAX_PAGE))
    now = datetime.now(UTC)
    return await Announcement.filter(published_at__lte=now).limit(first)


async def by_ids(ids: Sequence[int]) -> list[Announcement | None]:
    """Batch load for DataLoaders; unpublished ones answer like missing ones."""
    rows = await Announcement.filter(id__in=list(ids), published_at__lte=datetime.now(UTC))
    found = {a.id: a for a in rows}
    return [found.get(i) for i in ids]


async def published_after(announcement_id: int) -> list[Announcement]:
    """For catch-up after a (re)subscription, oldest first."""
    now = datetime.now(UTC)
    rows = await Announcement.filter(id__gt=announcement_id, published_at__lte=now).order_by("id")
    return list(rows)


async def last_id() -> int:
    row = await Announcement.all().order_by("-id").first()
    return row.id if row else 0


async def publish(broker: Broker, *, title: str, body: str) -> Announcement:
    title, body = title.strip(), body.strip()
    if not title or len(title) > 200:
        raise InvalidAnnouncement("title must be 1 to 200 characters")
    if not body or len(body) > 5000:
        raise InvalidAnnouncement("body must be 1 to 5000 characters")
    announcement = await Announcement.create(
        title=title, body=body, published_at=datetime.now(UTC)
    )
    # Committed first, announced second: a lost announcement is caught up by subscribers.
    await broker.publish(CHANNEL, str(announcement.id))
    return announcement
