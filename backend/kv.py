"""Key-value store: Redis in production, an in-process dict for the zero-setup default.

Both implement the same small interface, with the atomic operations security rules need
(INCR with a first-hit TTL, GETDEL, SET NX), so services never care which one runs.

Redis may be one server or a Redis Cluster (REDIS_URL=redis+cluster://...). On a cluster every
key lives in the hash slot of its hash tag, the `{...}` part that key builders put right after
their name (`otp:code:{challenge}`, see `hash_tag`): keys a multi-key command (the one-time
code script, a DEL of several keys) touches together must carry the same tag, and an owner's
keys used together share it. Keys with different tags (a session's token key and its id key)
are in different slots: never combine them in one multi-key command, MGET or transaction.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    ClusterDownError,
    MaxConnectionsError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backend import counters
from backend.settings import is_cluster_url, parse_cluster_url

# What a client sees when Redis is down: the API answers "service unavailable". On a cluster,
# also: some slots have no master (CLUSTERDOWN, or not covered), or a slot is being moved.
KV_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    ClusterDownError,
    SlotNotCoveredError,
    TryAgainError,
)


# A connection pool's size: commands beyond it wait for a free connection.
MAX_CONNECTIONS = 100


def hash_tag(value: object) -> str:
    """`{value}`: the part of a key Redis Cluster hashes to choose its slot. Keys built with
    the same tag share a slot (and a cluster node)."""
    text = str(value)
    if "{" in text or "}" in text:
        raise ValueError("a hash tag cannot contain braces")
    return "{" + text + "}"


class KeyValueStore(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(
        self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool: ...
    async def getdel(self, key: str) -> str | None: ...
    async def delete(self, *keys: str) -> int: ...
    async def incr(self, key: str, *, ttl: float | None = None) -> int: ...
    async def ttl(self, key: str) -> float | None: ...
    async def expire(self, key: str, ttl: float) -> bool: ...
    async def sadd(self, key: str, *members: str) -> int: ...
    async def srem(self, key: str, *members: str) -> int: ...
    async def smembers(self, key: str) -> set[str]: ...
    async def check_code(
        self, key: str, tries_key: str, candidate: str, *, max_tries: int
    ) -> tuple[CodeCheck, int]: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...


class CodeCheck(StrEnum):
    """Outcome of an atomic one-time-code check."""

    ACCEPTED = "accepted"  # matched, and consumed: it can never be accepted again
    REJECTED = "rejected"  # wrong code; tries left is returned alongside
    BURNED = "burned"  # too many wrong tries: the code is void until it expires
    MISSING = "missing"  # expired, already used, or never existed


BURNED_MARK = "!burned"

# Check a one-time code and count the try, in one atomic step: under concurrent tries exactly
# one can be accepted, and no interleaving lets more than max_tries wrong guesses through.
_CHECK_CODE = """
local stored = redis.call('GET', KEYS[1])
if not stored then return {'missing', 0} end
if stored == ARGV[2] then return {'burned', 0} end
if stored == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {'accepted', 0}
end
local tries = redis.call('INCR', KEYS[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
local left = tonumber(ARGV[3]) - tries
if left <= 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return {'burned', 0}
end
return {'rejected', left}
"""


# INCR, and start the expiry window only on the first hit, in one atomic step.
_INCR_WITH_TTL = """
local value = redis.call('INCR', KEYS[1])
if value == 1 and tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return value
"""


class _CountingRedis(Redis):
    """Counts the commands it sends (bench only: backend/counters.py)."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        counters.COUNTS["redis"] += 1
        return await super().execute_command(*args, **options)


def redis_client(url: str, *, for_pubsub: bool = False,
                 max_connections: int = MAX_CONNECTIONS) -> Redis:
    """A Redis client with short connect timeouts and a small retry budget (one server; see
    `cluster_client` for a redis+cluster:// URL).

    The pub/sub client gets no socket timeout: an idle `listen()` would otherwise time out and
    silently re-subscribe, opening windows for loss (see shared notes on recovery).
    """
    if is_cluster_url(url):
        raise ValueError("a redis+cluster:// URL needs cluster_client()")
    # A BLOCKING pool: when every connection is busy (hundreds of subscriptions waking at
    # once), a command waits for a free one instead of failing with MaxConnectionsError.
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_timeout=None if for_pubsub else 5.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        max_connections=max_connections,
        timeout=10,
    )
    if counters.enabled() and not for_pubsub:
        return _CountingRedis.from_pool(pool)
    return Redis.from_pool(pool)


class GatedRedisCluster(RedisCluster):
    """A cluster client whose commands wait for a free slot instead of failing.

    redis-py's cluster client keeps a pool per node that raises MaxConnectionsError once it is
    exhausted (no blocking pool as for one server): at most MAX_CONNECTIONS commands run at
    once here, the others wait (up to `wait` seconds, then MaxConnectionsError, which callers
    see as "Redis unavailable").
    """

    def __init__(self, *args: object, wait: float = 10.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = asyncio.Semaphore(int(kwargs.get("max_connections") or MAX_CONNECTIONS))
        self._gate_wait = wait

    async def execute_command(self, *args: object, **kwargs: object) -> object:
        if self._gate.locked():
            try:
                async with asyncio.timeout(self._gate_wait):
                    await self._gate.acquire()
            except TimeoutError:
                raise MaxConnectionsError("too many Redis commands waiting") from None
        else:
            await self._gate.acquire()  # free: no wait
        try:
            return await super().execute_command(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            self._gate.release()


def cluster_client(url: str, *, max_connections: int = MAX_CONNECTIONS) -> GatedRedisCluster:
    """A Redis Cluster client for a redis+cluster:// (or rediss+cluster://) URL: its nodes are
    startup nodes, the slot map is read from them (and refreshed on MOVED)."""
    parsed = parse_cluster_url(url)
    return GatedRedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parsed.nodes],
        username=parsed.username,
        password=parsed.password,
        ssl=parsed.tls,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        max_connections=max_connections,
    )


RedisClient = Redis | RedisCluster


class RedisKeyValueStore:
    def __init__(self, client: RedisClient, prefix: str = "carnet:") -> None:
        self._redis = client
        self._prefix = prefix
        self._incr_script = client.register_script(_INCR_WITH_TTL)
        self._check_code_script = client.register_script(_CHECK_CODE)

    def _k(self, key: str) -> str:
        return self._prefix + key

    @property
    def client(self) -> RedisClient:
        return self._redis

    async def get(self, key: str) -> str | None:
        return await self._redis.get(self._k(key))

    async def set(
        self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        px = int(ttl * 1000) if ttl else None
        return bool(await self._redis.set(self._k(key), value, px=px, nx=only_if_absent))

    async def getdel(self, key: str) -> str | None:
        return await self._redis.getdel(self._k(key))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self._redis.delete(*(self._k(k) for k in keys)))

    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        ms = int(ttl * 1000) if ttl else 0
        return int(await self._incr_script(keys=[self._k(key)], args=[ms]))

    async def ttl(self, key: str) -> float | None:
        ms = await self._redis.pttl(self._k(key))
        return None if ms < 0 else ms / 1000

    async def expire(self, key: str, ttl: float) -> bool:
        return bool(await self._redis.pexpire(self._k(key), int(ttl * 1000)))

    async def sadd(self, key: str, *members: str) -> int:
        return int(await self._redis.sadd(self._k(key), *members))

    async def srem(self, key: str, *members: str) -> int:
        return int(await self._redis.srem(self._k(key), *members))

    async def smembers(self, key: str) -> set[str]:
        return set(await self._redis.smembers(self._k(key)))

    async def check_code(
        self, key: str, tries_key: str, candidate: str, *, max_tries: int
    ) -> tuple[CodeCheck, int]:
        outcome, left = await self._check_code_script(
            keys=[self._k(key), self._k(tries_key)], args=[candidate, BURNED_MARK, max_tries]
        )
        return CodeCheck(outcome), int(left)

    async def ping(self) -> None:
        await asyncio.wait_for(self._redis.ping(), timeout=2.0)

    async def aclose(self) -> None:
        await self._redis.aclose()


class MemoryKeyValueStore:
    """Single-process stand-in for Redis. Every method runs without awaiting in between, so
    each operation is atomic with respect to other coroutines, as in Redis."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._sets: dict[str, set[str]] = {}
        self._set_expiry: dict[str, float] = {}

    def _live(self, key: str) -> str | None:
        if key in self._sets:
            return "set" if self._set(key) else None
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return value

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(
        self, key: str, value: str, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        self._data[key] = (value, time.monotonic() + ttl if ttl else None)
        return True

    async def getdel(self, key: str) -> str | None:
        value = self._live(key)
        self._data.pop(key, None)
        return value

    async def delete(self, *keys: str) -> int:
        count = 0
        for key in keys:
            if self._live(key) is not None:
                count += 1
            self._data.pop(key, None)
        return count

    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        current = self._live(key)
        if current is None:
            self._data[key] = ("1", time.monotonic() + ttl if ttl else None)
            return 1
        value = int(current) + 1
        self._data[key] = (str(value), self._data[key][1])
        return value

    async def ttl(self, key: str) -> float | None:
        if self._live(key) is None:
            return None
        expires = self._data[key][1]
        return None if expires is None else max(0.0, expires - time.monotonic())

    async def expire(self, key: str, ttl: float) -> bool:
        value = self._live(key)
        if value is None:
            return False
        if key in self._sets:
            self._set_expiry[key] = time.monotonic() + ttl
        else:
            self._data[key] = (value, time.monotonic() + ttl)
        return True

    def _set(self, key: str) -> set[str]:
        expires = self._set_expiry.get(key)
        if expires is not None and expires <= time.monotonic():
            self._sets.pop(key, None)
            self._set_expiry.pop(key, None)
        return self._sets.setdefault(key, set())

    async def sadd(self, key: str, *members: str) -> int:
        target = self._set(key)
        before = len(target)
        target.update(members)
        return len(target) - before

    async def srem(self, key: str, *members: str) -> int:
        target = self._set(key)
        before = len(target)
        target.difference_update(members)
        return before - len(target)

    async def smembers(self, key: str) -> set[str]:
        return set(self._set(key))

    async def check_code(
        self, key: str, tries_key: str, candidate: str, *, max_tries: int
    ) -> tuple[CodeCheck, int]:
        stored = self._live(key)
        if stored is None:
            return CodeCheck.MISSING, 0
        if stored == BURNED_MARK:
            return CodeCheck.BURNED, 0
        if stored == candidate:
            self._data.pop(key, None)
            self._data.pop(tries_key, None)
            return CodeCheck.ACCEPTED, 0
        expires = self._data[key][1]
        tries = int(self._live(tries_key) or 0) + 1
        self._data[tries_key] = (str(tries), expires)
        left = max_tries - tries
        if left <= 0:
            self._data[key] = (BURNED_MARK, expires)
            return CodeCheck.BURNED, 0
        return CodeCheck.REJECTED, left

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._data.clear()
        self._sets.clear()
