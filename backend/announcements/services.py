"""Announcement rules: only published ones are visible; newest first.

The latest ones (every home screen shows them, signed in or not) are cached in each process:
`latest` reads the MAX_PAGE latest published announcements at most once per CACHE_TTL and
answers from memory in between. The cache is forgotten at once:
- in the process that writes an announcement through the ORM (`Announcement.create`, `save`,
  `delete`: Tortoise's signals below), whoever writes it (`publish`, the demo, tests);
- in every process when `publish` (the `carnet announce` command) announces it through the
  broker, and when the broker resynchronises after a lost connection (`forget_on_publish`, run
  by the app's lifespan).
Bounded by CACHE_TTL (a few seconds): a write that bypasses both (SQL by hand, bulk `update()`)
and an announcement scheduled for later (`published_at` in the future: it becomes visible when
the cache is next read, at most CACHE_TTL late).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.signals import post_delete, post_save

from backend.announcements.models import Announcement
from backend.broker import Broker

log = logging.getLogger(__name__)

CHANNEL = "announcements"
MAX_PAGE = 50
CACHE_TTL = 10.0  # seconds

# (monotonic expiry, the MAX_PAGE latest published announcements, newest first)
_cache: tuple[float, list[Announcement]] | None = None
_generation = 0  # bumped by every forget: a read that raced a write does not store stale rows


class InvalidAnnouncement(ValueError):
    pass


def forget_cached() -> None:
    """Drop this process's cache of the latest announcements (the next read queries)."""
    global _cache, _generation
    _cache = None
    _generation += 1


@post_save(Announcement)
async def _saved(*_args: Any, **_kwargs: Any) -> None:
    forget_cached()


@post_delete(Announcement)
async def _deleted(*_args: Any, **_kwargs: Any) -> None:
    forget_cached()


async def _latest_published() -> list[Announcement]:
    global _cache
    cached = _cache
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    generation = _generation
    rows = list(await Announcement.filter(published_at__lte=datetime.now(UTC)).limit(MAX_PAGE))
    if generation == _generation:
        _cache = (time.monotonic() + CACHE_TTL, rows)
    return rows


async def latest(first: int = 5) -> list[Announcement]:
    """The `first` latest published announcements (1 to MAX_PAGE), newest first: from the
    process cache (see above), one query when it is cold."""
    first = max(1, min(first, MAX_PAGE))
    return (await _latest_published())[:first]


async def forget_on_publish(broker: Broker) -> None:
    """Forget the cache whenever any process publishes (or the broker resynchronises: a
    publication may have been missed). Runs until cancelled; a failure restarts it (the TTL
    bounds staleness meanwhile)."""
    while True:
        try:
            async with broker.subscribe(CHANNEL) as subscription:
                forget_cached()  # whatever was published before the subscription held
                async for _delivery in subscription:
                    forget_cached()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("announcement cache listener failed; restarting")
            await asyncio.sleep(1.0)


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
    # Committed first, announced second: a lost announcement is caught up by subscribers
    # (this process's cache was forgotten by the save itself; the others' by the broker).
    await broker.publish(CHANNEL, str(announcement.id))
    return announcement
