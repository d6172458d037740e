"""GraphQL of the patient's calendar subscription feed (backend/agenda/feeds.py): where it
stands (`calendarFeed`), a new URL (`createCalendarFeed`, shown once: only its keyed hash is
kept; the previous URL stops working), and revocation (`revokeCalendarFeed`)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from backend.agenda import feeds
from backend.agenda.models import CalendarFeed as FeedRow
from backend.permissions import IsPatient


@strawberry.type(description="My calendar subscription feed. `active` false: none (never "
                             "created, or revoked).")
class CalendarFeed:
    active: bool
    include_reason: bool = strawberry.field(
        description="Whether the feed shows my appointments' reasons (and with whom); without "
                    "it, events only say \"Rendez-vous médical\", the time and the place.")
    created_at: datetime | None
    last_used_at: datetime | None = strawberry.field(
        description="When a calendar app last fetched it (to the hour).")

    @classmethod
    def of(cls, row: FeedRow | None) -> CalendarFeed:
        if row is None:
            return cls(active=False, include_reason=False, created_at=None, last_used_at=None)
        return cls(active=row.revoked_at is None, include_reason=row.include_reason,
                   created_at=row.created_at, last_used_at=row.last_used_at)


@strawberry.type(description="A new subscription feed. `url` is shown this once: Carnet keeps "
                             "only a keyed hash of its token.")
class CalendarFeedCreated:
    url: str = strawberry.field(description="The address to subscribe to in a calendar app "
                                            "(absolute).")
    path: str = strawberry.field(description="The same, relative to the API "
                                             "(/agenda/feed/{token}.ics).")
    feed: CalendarFeed


def _person_id(info: Info) -> int:
    viewer = info.context.viewer
    assert viewer is not None and viewer.is_patient  # IsPatient
    return int(viewer.person_id)


def _base_url(info: Info) -> str:
    configured = info.context.settings.agenda_feed_base_url
    if configured:
        return configured
    return str(info.context.request.base_url).rstrip("/")


@strawberry.type
class FeedQueries:
    @strawberry.field(description="My calendar subscription feed (never its URL: that is "
                                  "shown once, by createCalendarFeed).",
                      permission_classes=[IsPatient])
    async def calendar_feed(self, info: Info) -> CalendarFeed:
        return CalendarFeed.of(await feeds.active_feed(_person_id(info)))


@strawberry.type
class FeedMutations:
    @strawberry.mutation(description="A new subscription URL for my agenda (my previous one, if "
                                     "any, stops working at once). `includeReason`: show my "
                                     "appointments' reasons in the feed.",
                         permission_classes=[IsPatient])
    async def create_calendar_feed(self, info: Info, include_reason: bool
                                   ) -> CalendarFeedCreated:
        created = await feeds.create_feed(info.context.settings, person_id=_person_id(info),
                                          include_reason=include_reason, now=datetime.now(UTC))
        return CalendarFeedCreated(url=_base_url(info) + created.path, path=created.path,
                                   feed=CalendarFeed.of(created.feed))

    @strawberry.mutation(description="Revoke my subscription URL at once (calendar apps then "
                                     "get 404). Answers the feed's state: inactive.",
                         permission_classes=[IsPatient])
    async def revoke_calendar_feed(self, info: Info) -> CalendarFeed:
        await feeds.revoke_feed(person_id=_person_id(info), now=datetime.now(UTC))
        return CalendarFeed.of(None)
