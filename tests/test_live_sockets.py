"""The registry of live sockets: closed by announcement, by the fallback sweep, and never
because Redis is down."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.broker import RESYNC, MemoryBroker
from backend.kv import MemoryKeyValueStore
from backend.live_sockets import (
    REVOKED_CHANNEL,
    SESSION_CLOSED,
    SPACE_CLOSED,
    LiveSockets,
    announce_revoked,
)


class FakeSocket:
    def __init__(self) -> None:
        self.closed: list[tuple[int, str | None]] = []

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed.append((code, reason))


async def _until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_delegations_sockets_close_with_their_own_code():
    # A carer's socket in a space is known by its session and by its delegation: the latter
    # ending closes it with SPACE_CLOSED (the session lives on), the former with SESSION_CLOSED.
    sockets = LiveSockets()
    in_space, again, own = FakeSocket(), FakeSocket(), FakeSocket()
    for socket in (in_space, own, again):
        sockets.add("session", socket)
    sockets.add("carer-grant:7", in_space, space=True)
    sockets.add("carer-grant:8", again, space=True)
    assert await sockets.close_session("carer-grant:7") == 1
    assert in_space.closed == [(SPACE_CLOSED, "Space access ended")] and own.closed == []
    sockets.discard("session", in_space)
    assert await sockets.sweep(lambda key: _alive(key != "session")) == 2
    assert own.closed == again.closed == [(SESSION_CLOSED, "Session revoked")]
    sockets.discard("carer-grant:8", again)
    assert sockets.count() == 0
    # A key reused for a session after its delegation's sockets went: the session's code.
    sockets.add("carer-grant:7", own)
    await sockets.close_session("carer-grant:7")
    assert own.closed[-1][0] == SESSION_CLOSED


async def _alive(answer: bool) -> bool:
    return answer


async def test_an_announced_revocation_closes_that_sessions_sockets_only():
    broker, sockets = MemoryBroker(), LiveSockets()
    a1, a2, b = FakeSocket(), FakeSocket(), FakeSocket()
    sockets.add("a", a1)
    sockets.add("a", a2)
    sockets.add("b", b)
    checked: list[str] = []

    async def alive(session_id: str) -> bool:
        checked.append(session_id)
        return True

    task = asyncio.create_task(sockets.run(broker, alive, interval=300))
    try:
        await _until(lambda: broker.subscriber_count(REVOKED_CHANNEL) == 1)
        await announce_revoked(broker, ["a", "unknown"])
        await _until(lambda: a1.closed and a2.closed)
        assert a1.closed == a2.closed == [(SESSION_CLOSED, "Session revoked")]
        assert b.closed == []
        assert sockets.count() == 1 and sockets.count("a") == 0
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_sweep_closes_what_an_announcement_missed_and_after_a_resync():
    broker, sockets = MemoryBroker(), LiveSockets()
    live, dead = FakeSocket(), FakeSocket()
    sockets.add("live", live)
    sockets.add("dead", dead)
    revoked: set[str] = set()

    async def alive(session_id: str) -> bool:
        return session_id not in revoked

    task = asyncio.create_task(sockets.run(broker, alive, interval=300))
    try:
        await _until(lambda: sockets.sweeps == 1)  # the broker's initial resync
        revoked.add("dead")  # silently: no announcement
        await asyncio.sleep(0.05)
        assert dead.closed == []
        broker._deliver(REVOKED_CHANNEL, RESYNC)  # e.g. Redis reconnected: may have missed some
        await _until(lambda: dead.closed)
        assert live.closed == []
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    # And periodically, with nothing announced at all.
    periodic = LiveSockets()
    quiet = FakeSocket()
    periodic.add("dead", quiet)
    task = asyncio.create_task(periodic.run(MemoryBroker(), alive, interval=0.05))
    try:
        await _until(lambda: quiet.closed)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_redis_down_during_a_sweep_closes_nothing():
    sockets = LiveSockets()
    socket = FakeSocket()
    sockets.add("s", socket)

    async def unreachable(session_id: str) -> bool:
        raise RedisConnectionError("down")

    assert await sockets.sweep(unreachable) == 0
    assert socket.closed == [] and sockets.count("s") == 1


async def test_a_refresh_racing_a_revocation_does_not_resurrect_the_session():
    from backend.identity.sessions import SessionStore

    store: SessionStore

    class RacingKV(MemoryKeyValueStore):
        """Revokes the session between resolve's read and its idle-timer refresh."""

        race = False

        async def set(self, key, value, *, ttl=None, only_if_absent=False):
            if self.race and key.startswith("session:token:"):
                self.race = False
                assert await store.revoke(1, record.id)
            return await super().set(key, value, ttl=ttl, only_if_absent=only_if_absent)

    from datetime import UTC, datetime, timedelta

    kv = RacingKV()
    now = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC)]
    store = SessionStore(kv, b"k" * 32, idle=60, absolute=600, clock=lambda: now[0])
    token, record = await store.create(account_id=1, role="patient", address="a",
                                       user_agent="u")
    assert await store.resolve(token) is not None
    # The idle timer is refreshed at most every refresh_interval: past it, this resolve does.
    now[0] += timedelta(seconds=store.refresh_interval + 1)
    kv.race = True
    assert await store.resolve(token) is None
    assert not kv.race, "the refresh (and the revocation racing it) happened"
    assert await store.resolve(token) is None, "the refresh must not bring the session back"
    assert not await store.is_alive(record.id)
