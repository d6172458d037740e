"""One suite for both key-value stores (Redis and in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.kv import KeyValueStore, MemoryKeyValueStore, RedisKeyValueStore, redis_client
from tests.conftest import REDIS_PREFIX, delete_namespace


@pytest.fixture(params=["memory", "redis"])
async def kv(request, redis_url: str) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        store: KeyValueStore = MemoryKeyValueStore()
    else:
        client = redis_client(redis_url)
        await delete_namespace(client)
        store = RedisKeyValueStore(client, prefix=REDIS_PREFIX + "kv:")
    yield store
    await store.aclose()


async def test_set_get_delete(kv: KeyValueStore):
    assert await kv.get("k") is None
    assert await kv.set("k", "v")
    assert await kv.get("k") == "v"
    assert await kv.delete("k", "missing") == 1
    assert await kv.get("k") is None


async def test_set_only_if_absent(kv: KeyValueStore):
    assert await kv.set("once", "1", only_if_absent=True)
    assert not await kv.set("once", "2", only_if_absent=True)
    assert await kv.get("once") == "1"


async def test_ttl_expires(kv: KeyValueStore):
    await kv.set("short", "v", ttl=0.2)
    ttl = await kv.ttl("short")
    assert ttl is not None and 0 < ttl <= 0.2
    await asyncio.sleep(0.35)
    assert await kv.get("short") is None
    assert await kv.ttl("short") is None


async def test_getdel_returns_the_value_exactly_once_under_concurrency(kv: KeyValueStore):
    await kv.set("code", "123456")
    results = await asyncio.gather(*(kv.getdel("code") for _ in range(20)))
    assert results.count("123456") == 1
    assert results.count(None) == 19


async def test_incr_is_atomic_and_starts_its_window_on_first_hit(kv: KeyValueStore):
    values = await asyncio.gather(*(kv.incr("hits", ttl=0.3) for _ in range(50)))
    assert sorted(values) == list(range(1, 51))
    ttl = await kv.ttl("hits")
    assert ttl is not None and ttl <= 0.3
    await asyncio.sleep(0.4)
    assert await kv.incr("hits", ttl=0.3) == 1


async def test_sets_and_expire(kv: KeyValueStore):
    assert await kv.sadd("s", "a", "b") == 2
    assert await kv.sadd("s", "b") == 0
    assert await kv.smembers("s") == {"a", "b"}
    assert await kv.srem("s", "a", "zz") == 1
    assert await kv.expire("s", 0.2)
    await asyncio.sleep(0.3)
    assert await kv.smembers("s") == set()


async def test_check_code_accepts_once_counts_tries_and_burns(kv: KeyValueStore):
    from backend.kv import CodeCheck

    await kv.set("code", "good", ttl=5)
    assert await kv.check_code("code", "tries", "bad", max_tries=3) == (CodeCheck.REJECTED, 2)
    assert await kv.check_code("code", "tries", "good", max_tries=3) == (CodeCheck.ACCEPTED, 0)
    assert await kv.check_code("code", "tries", "good", max_tries=3) == (CodeCheck.MISSING, 0)

    await kv.set("code2", "good", ttl=5)
    for left in (2, 1):
        assert await kv.check_code("code2", "t2", "x", max_tries=3) == (CodeCheck.REJECTED, left)
    assert await kv.check_code("code2", "t2", "x", max_tries=3) == (CodeCheck.BURNED, 0)
    # Even the right code is refused once burned.
    assert await kv.check_code("code2", "t2", "good", max_tries=3) == (CodeCheck.BURNED, 0)


async def test_check_code_under_concurrency_accepts_exactly_one(kv: KeyValueStore):
    from backend.kv import CodeCheck

    await kv.set("c", "good", ttl=5)
    results = await asyncio.gather(
        *(kv.check_code("c", "ct", "good", max_tries=5) for _ in range(20))
    )
    assert [r[0] for r in results].count(CodeCheck.ACCEPTED) == 1
