"""One-time 6-digit codes, bound to a challenge, stored only as keyed hashes in Redis.

Rules (shared/notes/security.md): drawn with `secrets`; valid OTP_TTL_SECONDS; accepted exactly
once even under concurrent tries (atomic check in the store); at most MAX_TRIES wrong tries, then
burned; a new code for the same account and purpose (or the same `slot`) voids the previous one.
Expiry is the challenge's own `expires_at`, read against the store's clock (tests inject one);
the Redis TTL only clears what has expired.

A decoy challenge (`issue(decoy=True)`) is stored exactly like a real one, but no 6-digit code
can ever match it: it answers the password reset of an unknown identifier, so that every later
step (wrong code, tries left, burned) looks the same as for a real account.

The Redis record of a challenge holds no destination in clear: the address (and the payload,
e.g. a new e-mail being verified) is sealed with AES-256-GCM under the master key
(backend/crypto.py), bound to the challenge id.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from backend.crypto import keyed_hash, keyring
from backend.kv import CodeCheck, KeyValueStore, hash_tag

MAX_TRIES = 5
MAX_RESENDS = 3


@dataclass
class Challenge:
    id: str
    account_id: int
    purpose: str  # login | password | contact | reset
    channel: str  # email | sms
    destination: str
    expires_at: str  # ISO 8601
    resends: int = 0
    payload: dict | None = None  # e.g. the new contact being verified

    @property
    def expires(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)


def draw_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


# A challenge's keys share its hash tag (one Redis Cluster slot): the code check script and
# the voiding of a previous challenge touch them in one command.
def _code_key(challenge_id: str) -> str:
    return f"otp:code:{hash_tag(challenge_id)}"


def _tries_key(challenge_id: str) -> str:
    return f"otp:tries:{hash_tag(challenge_id)}"


def _meta_key(challenge_id: str) -> str:
    return f"otp:meta:{hash_tag(challenge_id)}"


def _current_key(account_id: int, purpose: str) -> str:
    return f"otp:current:{hash_tag(account_id)}:{purpose}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _dump(challenge: Challenge) -> str:
    record = asdict(challenge)
    secret = {"destination": record.pop("destination"), "payload": record.pop("payload")}
    sealed = keyring().seal(json.dumps(secret), f"otp/{challenge.id}")
    record["sealed"] = base64.b64encode(sealed).decode()
    return json.dumps(record)


def _load(raw: str) -> Challenge:
    record = json.loads(raw)
    sealed = base64.b64decode(record.pop("sealed"))
    record.update(json.loads(keyring().open(sealed, f"otp/{record['id']}")))
    return Challenge(**record)


class CodeStore:
    def __init__(self, kv: KeyValueStore, master_key: bytes, ttl_seconds: int, *,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.kv = kv
        self.master_key = master_key
        self.ttl = ttl_seconds
        self.clock = clock

    def _hash(self, challenge_id: str, code: str) -> str:
        # Bound to its challenge: the same digits for another challenge hash differently.
        return keyed_hash(self.master_key, "otp", f"{challenge_id}:{code}")

    async def issue(
        self, *, account_id: int, purpose: str, channel: str, destination: str,
        payload: dict | None = None, slot: str | None = None, decoy: bool = False,
    ) -> tuple[Challenge, str]:
        """A new challenge and its code; voids the previous one of the account for this
        purpose, or of `slot` when given (e.g. one identifier's password resets, known or not;
        part of a key name, with the hash tag of the owner's keys: "reset:{tag}").
        `decoy`: the same work and the same record, but no code can match (the code returned
        is not a 6-digit code and must not be sent)."""
        challenge = Challenge(
            id=secrets.token_urlsafe(24), account_id=account_id, purpose=purpose,
            channel=channel, destination=destination,
            expires_at=(self.clock() + timedelta(seconds=self.ttl)).isoformat(),
            payload=payload,
        )
        current = f"otp:current:{slot}" if slot else _current_key(account_id, purpose)
        previous = await self.kv.get(current)
        if previous:
            await self.kv.delete(_code_key(previous), _tries_key(previous), _meta_key(previous))
        # A decoy's "code" is 32 url-safe characters: tries are 6 digits, it never matches.
        code = secrets.token_urlsafe(24) if decoy else draw_code()
        await self.kv.set(_meta_key(challenge.id), _dump(challenge), ttl=self.ttl)
        await self.kv.set(_code_key(challenge.id), self._hash(challenge.id, code), ttl=self.ttl)
        await self.kv.set(current, challenge.id, ttl=self.ttl)
        return challenge, code

    async def get(self, challenge_id: str) -> Challenge | None:
        """The pending challenge; None if unknown, used or expired (by the store's clock)."""
        if "{" in challenge_id or "}" in challenge_id:
            return None  # never one of ours (ids are url-safe), and no key can hold it
        raw = await self.kv.get(_meta_key(challenge_id))
        if not raw:
            return None
        challenge = _load(raw)
        return challenge if self.clock() < challenge.expires else None

    async def reissue(self, challenge: Challenge) -> tuple[Challenge, str] | None:
        """A fresh code for the same challenge (resend); None once MAX_RESENDS is reached."""
        if challenge.resends >= MAX_RESENDS:
            return None
        challenge.resends += 1
        challenge.expires_at = (self.clock() + timedelta(seconds=self.ttl)).isoformat()
        code = draw_code()
        await self.kv.delete(_tries_key(challenge.id))
        await self.kv.set(_meta_key(challenge.id), _dump(challenge), ttl=self.ttl)
        await self.kv.set(_code_key(challenge.id), self._hash(challenge.id, code), ttl=self.ttl)
        await self.kv.set(_current_key(challenge.account_id, challenge.purpose), challenge.id,
                          ttl=self.ttl)
        return challenge, code

    async def check(self, challenge_id: str, code: str) -> tuple[CodeCheck, int]:
        candidate = self._hash(challenge_id, code.strip())
        outcome, left = await self.kv.check_code(
            _code_key(challenge_id), _tries_key(challenge_id), candidate, max_tries=MAX_TRIES
        )
        if outcome is CodeCheck.ACCEPTED:
            await self.kv.delete(_meta_key(challenge_id))
        return outcome, left
