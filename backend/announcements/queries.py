from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.announcements import services
from backend.announcements.loaders import load_announcements
from backend.announcements.types import Announcement


def _parse_id(value: strawberry.ID) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@strawberry.type
class AnnouncementQueries:
    @strawberry.field(description="Latest published announcements, newest first (max 50).")
    async def announcements(self, first: int = 5) -> list[Announcement]:
        return [Announcement.from_model(a) for a in await services.latest(first)]

    @strawberry.field(description="One published announcement, or null.")
    async def announcement(self, info: Info, id: strawberry.ID) -> Announcement | None:
        pk = _parse_id(id)
        if pk is None:
            return None
        row = await info.context.loaders.get(load_announcements).load(pk)
        return Announcement.from_model(row) if row else None
