"""Server-side sessions: opaque 256-bit bearer tokens, stored as keyed hashes in Redis.

Idle expiry (SESSION_IDLE_SECONDS) is the key's TTL, refreshed on use but never beyond the
absolute expiry (SESSION_ABSOLUTE_SECONDS) fixed at login. The refresh (a SET, and a GET that
catches a revocation racing with it) happens at most once per `refresh_interval` (a minute, or a
tenth of the idle timeout if shorter): other requests cost one GET. So a session idle since its
last refresh expires between `idle - refresh_interval` and `idle` after its last use (never
later), and `last_seen_at` is as precise as the interval. Revocation stays immediate: it deletes
the token key, which every request reads.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from backend.crypto import keyed_hash
from backend.kv import KeyValueStore


@dataclass
class SessionRecord:
    id: str  # public, shown in "my sessions"; not the token
    account_id: int
    role: str
    created_at: str
    last_seen_at: str
    absolute_expires_at: str
    address: str
    user_agent: str
    # Cached at login so that authorisation needs no query per request.
    person_id: int | None = None
    professional_id: int | None = None

    @property
    def absolute_expiry(self) -> datetime:
        return datetime.fromisoformat(self.absolute_expires_at)


# Each key is found from its own id (token hash, session id, account), so on a Redis Cluster
# they are in different slots: commands on them stay single-key (no MGET, no transaction).
def _token_key(token_hash: str) -> str:
    return f"session:token:{token_hash}"


def _id_key(session_id: str) -> str:
    return f"session:id:{session_id}"


def _account_key(account_id: int) -> str:
    return f"session:account:{account_id}"


#: The idle timer is refreshed at most this often (seconds), and at most every tenth of the
#: idle timeout.
REFRESH_INTERVAL = 60.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SessionStore:
    def __init__(self, kv: KeyValueStore, master_key: bytes, *, idle: int, absolute: int,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.kv = kv
        self.master_key = master_key
        self.idle = idle
        self.absolute = absolute
        self.clock = clock
        self.refresh_interval = min(REFRESH_INTERVAL, idle / 10)

    def _hash(self, token: str) -> str:
        return keyed_hash(self.master_key, "session", token)

    async def create(
        self, *, account_id: int, role: str, address: str, user_agent: str,
        person_id: int | None = None, professional_id: int | None = None,
    ) -> tuple[str, SessionRecord]:
        token = secrets.token_urlsafe(32)  # 256 bits
        now = self.clock()
        record = SessionRecord(
            id=secrets.token_urlsafe(12), account_id=account_id, role=role,
            created_at=now.isoformat(), last_seen_at=now.isoformat(),
            absolute_expires_at=(now + timedelta(seconds=self.absolute)).isoformat(),
            address=address[:64], user_agent=user_agent[:200],
            person_id=person_id, professional_id=professional_id,
        )
        token_hash = self._hash(token)
        await self.kv.set(_token_key(token_hash), json.dumps(asdict(record)), ttl=self.idle)
        await self.kv.set(_id_key(record.id), token_hash, ttl=self.absolute)
        await self.kv.sadd(_account_key(account_id), record.id)
        await self.kv.expire(_account_key(account_id), self.absolute)
        return token, record

    async def resolve(self, token: str) -> SessionRecord | None:
        """The live session for a token, refreshing its idle expiry; None if unknown/expired."""
        if not token or len(token) > 128:
            return None
        token_hash = self._hash(token)
        key = _token_key(token_hash)
        raw = await self.kv.get(key)
        if raw is None:
            return None
        record = SessionRecord(**json.loads(raw))
        now = self.clock()
        remaining = (record.absolute_expiry - now).total_seconds()
        if remaining <= 0:
            await self.kv.delete(key)
            return None
        since = (now - datetime.fromisoformat(record.last_seen_at)).total_seconds()
        if 0 <= since < self.refresh_interval:
            # Refreshed less than an interval ago: the key exists, so no revocation has
            # happened (revoking deletes it). One GET per request.
            return record
        record.last_seen_at = now.isoformat()
        await self.kv.set(key, json.dumps(asdict(record)), ttl=min(self.idle, remaining))
        # A revocation between the read and the refresh above would be undone by the refresh
        # (it re-creates the token key). Revocation deletes the id key first, so checking it
        # after the refresh catches that race: whichever way they interleave, the session
        # ends up revoked.
        if await self.kv.get(_id_key(record.id)) != token_hash:
            await self.kv.delete(key)
            return None
        return record

    async def is_alive(self, session_id: str) -> bool:
        """Whether a session still exists (no refresh of its idle timer)."""
        token_hash = await self.kv.get(_id_key(session_id))
        return bool(token_hash) and await self.kv.get(_token_key(token_hash)) is not None

    async def list(self, account_id: int) -> list[SessionRecord]:
        records = []
        for session_id in sorted(await self.kv.smembers(_account_key(account_id))):
            token_hash = await self.kv.get(_id_key(session_id))
            raw = await self.kv.get(_token_key(token_hash)) if token_hash else None
            if raw is None:
                await self.kv.srem(_account_key(account_id), session_id)  # expired: tidy up
                continue
            records.append(SessionRecord(**json.loads(raw)))
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    async def revoke(self, account_id: int, session_id: str) -> bool:
        """Revoke one of the account's sessions; False if it is not one of theirs."""
        if session_id not in await self.kv.smembers(_account_key(account_id)):
            return False
        token_hash = await self.kv.getdel(_id_key(session_id))
        if token_hash:
            await self.kv.delete(_token_key(token_hash))
        await self.kv.srem(_account_key(account_id), session_id)
        return True

    async def revoke_all(self, account_id: int, *, except_id: str | None = None) -> list[str]:
        """Revoke the account's sessions (but `except_id`); the ids of those revoked."""
        revoked = []
        for session_id in await self.kv.smembers(_account_key(account_id)):
            if session_id != except_id and await self.revoke(account_id, session_id):
                revoked.append(session_id)
        return revoked
