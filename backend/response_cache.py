"""A per-viewer cache of whole GraphQL answers, for the web app's known operations only.

What may be cached: an HTTP POST whose query text is one of the web app's trusted documents
(backend/trusted_documents.py, by sha256 of the exact text), from a signed-in PATIENT (a session
with a person) reading their own data (the three screens read only the viewer's record). Anything
else (professionals, anonymous callers, GET, other texts, uploads, answers with errors) runs
through GraphQL as usual.

Key: (viewer account id, session's person, operation hash, canonical variables, locale, global
data version, the patient's data version). The versions come from `data_version`, bumped by
database triggers in the same transaction as every write to every table (migration 0018), and
are read before the answer is computed, in one primary-key read per request: a write committed
before the read moves the key, so a cached answer is never older than the last committed write
(staleness is impossible, not bounded). An answer computed under version V reads data at least
as new as V (it starts after the version read), so it may only be fresher than its key.
Entries also expire after RESPONSE_CACHE_TTL seconds: what the screens compute from the clock
(a document's "new" mark, expiring accesses) is at most that late.

The session check runs before (the authentication middleware): a revoked or expired session
never reaches the cache. The bytes stay in this process's memory (never in Redis, never
logged), in an LRU bounded by bytes; the entry also records the viewer's account id, checked on
read.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from tortoise import connections

from backend.graphql_documents import ByteBudgetLRU
from backend.trusted_documents import TRUSTED_DOCUMENTS

VERSIONS_PG = "SELECT scope, version FROM data_version WHERE scope IN (0, $1)"
VERSIONS_SQLITE = "SELECT scope, version FROM data_version WHERE scope IN (0, ?)"
ENTRY_OVERHEAD = 512  # bytes: the key, the entry object, the dict slot


@dataclass(frozen=True, slots=True)
class Entry:
    account_id: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    expires: float
    cost: int


class ResponseCache:
    def __init__(self, budget_bytes: int, ttl: float,
                 trusted: dict[str, str] | None = None) -> None:
        self.ttl = ttl
        self.trusted = TRUSTED_DOCUMENTS if trusted is None else trusted
        self.hits = 0
        self.misses = 0
        # The same byte-bounded LRU as the parsed documents' cache.
        self._entries = ByteBudgetLRU(budget_bytes)
        self._hashes: dict[str, str | None] = {}  # query text -> trusted hash, or None

    @property
    def budget(self) -> int:
        return self._entries.budget

    @budget.setter
    def budget(self, value: int) -> None:
        self._entries.budget = value

    @property
    def bytes(self) -> int:
        return self._entries.bytes

    @property
    def enabled(self) -> bool:
        return self.budget > 0

    def trusted_hash(self, query: str) -> str | None:
        """The query's sha256 if it is a trusted document, else None (memoised for the
        trusted texts only: an attacker's texts must not grow this map)."""
        known = self._hashes.get(query, "")
        if known != "":
            return known
        digest = hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()
        if digest in self.trusted:
            self._hashes[query] = digest
            return digest
        return None

    def get(self, key: tuple[Any, ...], account_id: int) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None and (entry.account_id != account_id
                                  or entry.expires <= time.monotonic()):
            self._entries.discard(key)
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, key: tuple[Any, ...], account_id: int, body: bytes,
            headers: tuple[tuple[str, str], ...]) -> None:
        cost = len(body) + ENTRY_OVERHEAD + sum(len(k) + len(v) for k, v in headers)
        self._entries.put(key, Entry(account_id, body, headers, time.monotonic() + self.ttl,
                                     cost))

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def canonical_variables(variables: object) -> bytes | None:
    """Variables as canonical JSON (sorted keys), or None if they are not a JSON object."""
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        return None
    try:
        return orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None


async def data_versions(person_id: int) -> tuple[int, int]:
    """(global version, the patient's version), in one primary-key read."""
    person = int(person_id)
    conn = connections.get("default")
    # One text for every patient (a parameter, not a literal): asyncpg prepares it once per
    # connection, so each read is one round trip.
    sql = VERSIONS_SQLITE if conn.capabilities.dialect == "sqlite" else VERSIONS_PG
    rows = await conn.execute_query_dict(sql, [person])
    found = {int(r["scope"]): int(r["version"]) for r in rows}
    return found.get(0, 0), found.get(person, 0)
