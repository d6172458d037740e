from __future__ import annotations

from datetime import datetime

import strawberry

from backend.announcements.models import Announcement as AnnouncementModel


@strawberry.type(description="A service announcement shown on the home page.")
class Announcement:
    id: strawberry.ID
    title: str
    body: str
    published_at: datetime

    @classmethod
    def from_model(cls, row: AnnouncementModel) -> Announcement:
        return cls(id=strawberry.ID(str(row.id)), title=row.title, body=row.body,
                   published_at=row.published_at)
