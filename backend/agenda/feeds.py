"""A patient's private calendar subscription feed (`GET /agenda/feed/{token}.ics`).

- The token is 256 bits from `secrets` (43 URL-safe characters), shown to the patient once
  (the URL returned by `createCalendarFeed`); only its keyed hash is stored
  (`CalendarFeed.token_hash`: HMAC-SHA256 under an HKDF subkey of the master key, purpose
  "agenda.feed", backend/crypto.py `keyed_hash`, as session tokens and login codes are). A
  database dump does not give a working URL.
- One active feed per patient: creating one revokes the previous one in the same transaction,
  under a lock on the patient's row (two concurrent creations cannot leave two active feeds).
  Rotating is creating again. Revoking takes effect at once (the next fetch answers 404).
- A master key rotation does not break subscriptions: a token is looked up under every known
  master key (current and previous), like identity blind indexes.
- `last_used_at` is written at most once an hour (`touch`): a calendar app polling every few
  minutes does not turn every read into a write.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.agenda.models import CalendarFeed
from backend.crypto import keyed_hash
from backend.identity.models import Person
from backend.keys.services import known_master_keys
from backend.settings import Settings

PURPOSE = "agenda.feed"
TOKEN_BYTES = 32
TOUCH_INTERVAL = timedelta(hours=1)
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def feed_path(token: str) -> str:
    return f"/agenda/feed/{token}.ics"


def token_hash(master_key: bytes, token: str) -> str:
    return keyed_hash(master_key, PURPOSE, token)


@dataclass(frozen=True)
class NewFeed:
    feed: CalendarFeed
    token: str  # shown once, never stored

    @property
    def path(self) -> str:
        return feed_path(self.token)


async def active_feed(person_id: int) -> CalendarFeed | None:
    return await CalendarFeed.filter(person_id=person_id, revoked_at__isnull=True) \
        .order_by("-id").first()


async def create_feed(settings: Settings, *, person_id: int, include_reason: bool,
                      now: datetime) -> NewFeed:
    """A new feed for the patient; their previous one, if any, stops working at once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    async with in_transaction() as conn:
        # Serialises the patient's feed changes (no-op on SQLite, whose writers are serial).
        await Person.filter(id=person_id).select_for_update(no_key=True).using_db(conn) \
            .first()
        await CalendarFeed.filter(person_id=person_id, revoked_at__isnull=True) \
            .using_db(conn).update(revoked_at=now)
        feed = await CalendarFeed.create(
            person_id=person_id, token_hash=token_hash(settings.master_key(), token),
            include_reason=include_reason, created_at=now, using_db=conn)
    return NewFeed(feed, token)


async def revoke_feed(*, person_id: int, now: datetime) -> bool:
    """Revoke the patient's active feed; False if they had none."""
    revoked = await CalendarFeed.filter(person_id=person_id, revoked_at__isnull=True) \
        .update(revoked_at=now)
    return bool(revoked)


async def feed_by_token(settings: Settings, token: str) -> CalendarFeed | None:
    """The active feed of a token, or None (malformed, unknown or revoked alike)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    hashes = [token_hash(master, token) for master in known_master_keys(settings).values()]
    return await CalendarFeed.filter(token_hash__in=hashes, revoked_at__isnull=True).first()


async def touch(feed: CalendarFeed, now: datetime) -> bool:
    """Record a use, at most once per TOUCH_INTERVAL (one conditional UPDATE; concurrent
    fetches write once). True if this call wrote."""
    updated = await CalendarFeed.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_INTERVAL),
        id=feed.id).update(last_used_at=now)
    if updated:
        feed.last_used_at = now
    return bool(updated)
