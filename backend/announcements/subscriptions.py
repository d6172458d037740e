from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from backend.announcements import services
from backend.announcements.types import Announcement


@strawberry.type
class AnnouncementSubscriptions:
    @strawberry.subscription(
        description="Announcements published after `after` (an announcement id), then live ones."
    )
    async def announcement_added(
        self, info: Info, after: strawberry.ID | None = None
    ) -> AsyncGenerator[Announcement, None]:
        broker = info.context.runtime.broker
        cursor = int(after) if after and str(after).isdigit() else await services.last_id()
        # Subscribe before reading the database, so nothing published meanwhile is missed.
        async with broker.subscribe(services.CHANNEL) as subscription:
            async for _delivery in subscription:
                # Any delivery (message or resync) means: read what is new since our cursor.
                for row in await services.published_after(cursor):
                    cursor = row.id
                    yield Announcement.from_model(row)
