"""One suite for the brokers: Redis pub/sub, sharded pub/sub on a Redis Cluster, and the
in-process one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.broker import RESYNC, Broker, ClusterBroker, Delivery, MemoryBroker, RedisBroker
from backend.kv import cluster_client, redis_client
from tests.conftest import REDIS_PREFIX


async def _next(sub, timeout: float = 3.0) -> Delivery:
    return await asyncio.wait_for(sub.get(), timeout)


async def _next_message(sub, timeout: float = 3.0) -> Delivery:
    """Skip resync markers (the contract allows them at any time) and return a message."""
    while True:
        delivery = await _next(sub, timeout)
        if not delivery.resync:
            return delivery


def make_redis_broker(url: str, **kw) -> RedisBroker:
    return RedisBroker(redis_client(url), redis_client(url, for_pubsub=True),
                       prefix=REDIS_PREFIX, **kw)


@pytest.fixture(params=["memory", "redis", "cluster"])
async def broker(request, redis_url: str) -> AsyncIterator[Broker]:
    client = None
    if request.param == "cluster":
        client = cluster_client(request.getfixturevalue("redis_cluster").url)
        b: Broker = ClusterBroker(client, prefix=REDIS_PREFIX)
    else:
        b = MemoryBroker() if request.param == "memory" else make_redis_broker(redis_url)
    await b.start()
    yield b
    await b.aclose()
    if client is not None:
        await client.aclose()


async def test_subscriber_gets_a_resync_first_then_messages_in_order(broker: Broker):
    async with broker.subscribe("conv:1") as sub:
        assert (await _next(sub)) == RESYNC
        for i in range(20):
            assert await broker.publish("conv:1", f"m{i}")
        received = [(await _next_message(sub)).data for _ in range(20)]
    assert received == [f"m{i}" for i in range(20)]


async def test_channels_are_isolated(broker: Broker):
    async with broker.subscribe("a") as sub_a, broker.subscribe("b") as sub_b:
        await broker.publish("a", "for-a")
        await broker.publish("b", "for-b")
        assert (await _next_message(sub_a)).data == "for-a"
        assert (await _next_message(sub_b)).data == "for-b"
        await asyncio.sleep(0.1)
        assert sub_a._queue.empty() and sub_b._queue.empty()


async def test_fan_out_to_many_local_subscribers(broker: Broker):
    # More subscribers than Redis' connection pool: they must share one pub/sub connection.
    subs = [broker.subscribe("room") for _ in range(150)]
    for s in subs:
        await s.__aenter__()
    try:
        await broker.publish("room", "hello")
        for s in subs:
            assert (await _next_message(s)).data == "hello"
    finally:
        for s in subs:
            await s.__aexit__(None, None, None)
    assert broker.subscriber_count() == 0


async def test_unsubscribed_receives_nothing_and_publish_without_subscribers_is_fine(
    broker: Broker,
):
    assert await broker.publish("nobody", "x")
    async with broker.subscribe("late") as sub:
        await _next(sub)  # the initial resync
        await asyncio.sleep(0.05)
        assert sub._queue.empty()


async def test_slow_subscriber_overflow_turns_into_a_resync(broker: Broker, monkeypatch):
    import backend.broker as broker_module

    monkeypatch.setattr(broker_module, "QUEUE_SIZE", 5)
    async with broker.subscribe("busy") as sub:
        await _next(sub)
        for i in range(20):
            await broker.publish("busy", str(i))
        await asyncio.sleep(0.3)
        first = await _next(sub)
        assert first.resync, "a consumer that fell behind must be told to catch up"


async def test_redis_broker_survives_a_redis_restart(private_redis):
    broker = make_redis_broker(private_redis.url, max_backoff=0.5)
    await broker.start()
    try:
        async with broker.subscribe("conv:42") as sub:
            assert (await _next(sub)).resync
            await broker.publish("conv:42", "before")
            assert (await _next_message(sub)).data == "before"

            private_redis.stop()
            # Publishing while Redis is down fails softly: the data is already committed.
            assert await broker.publish("conv:42", "during") is False
            private_redis.start()

            # After reconnection the subscriber is told to catch up from the database ...
            delivery = await _next(sub, timeout=15)
            assert delivery.resync
            # Which path brought it depends on timing, so the test does not count
            # reconnections: redis-py may re-subscribe by itself inside get_message (no error
            # reaches the supervisor), or the reader fails and the supervisor reconnects. Each
            # subscription confirmation brings the RESYNC.
            # ... and live messages flow again, without restarting anything.
            await asyncio.wait_for(broker.connected.wait(), 10)
            await broker.publish("conv:42", "after")
            assert (await _next_message(sub, timeout=5)).data == "after"
    finally:
        await broker.aclose()


async def test_take_pending_returns_what_is_queued_without_waiting(broker: Broker):
    async with broker.subscribe("coalesce") as sub:
        await _next(sub)  # the initial resync
        assert sub.take_pending() == []
        for i in range(3):
            await broker.publish("coalesce", f"m{i}")
        first = await _next_message(sub)
        rest = [first, *sub.take_pending()]
        while len(rest) < 3:  # Redis may still be delivering the last ones
            rest.append(await _next_message(sub))
        assert [d.data for d in rest] == ["m0", "m1", "m2"]
        assert sub._queue.empty()
