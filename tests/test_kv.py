"""One suite for both key-value stores (Redis and in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.kv import KeyValueStore, MemoryKeyValueStore, RedisKeyValueStore, redis_client


@pytest.fixture(params=["memory", "redis"])
async def kv(request, redis_url: str) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        store: KeyValueStore = MemoryKeyValueStore()
    else:
        client = redis_client(redis_url)
        await client.flushdb()
        store = RedisKeyValueStore(client, prefix="test:")
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
