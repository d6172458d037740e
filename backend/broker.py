"""Publish/subscribe broker: Redis pub/sub across processes, or in-process for the default setup.

Pub/sub is at-most-once. The contract for subscribers is therefore:

- data is committed to the database first and announced second;
- a subscriber receives `Delivery(resync=True)` whenever it may have missed announcements
  (right after its subscription is confirmed, after every reconnection to Redis, after its queue
  overflowed) and must then catch up from the database from its own cursor.

One Redis pub/sub connection per process is shared by all local subscribers (fan-out in memory):
one connection per GraphQL subscription would exhaust the Redis connection pool. A supervisor
loop re-creates that connection with jittered exponential backoff when Redis restarts, since
redis-py gives up after its own short retry budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from backend.kv import KV_UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
# Keeps the pub/sub reader alive: listen() returns at once when nothing is subscribed.
_SENTINEL_SUFFIX = "broker:sentinel"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for a subscriber: a message, or a request to catch up from the database."""

    data: str | None = None
    resync: bool = False


RESYNC = Delivery(resync=True)


class Subscription:
    """A local subscriber's queue. Iterate it to receive deliveries in order."""

    def __init__(self, broker: _FanOut, channel: str) -> None:
        self.channel = channel
        self._broker = broker
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._overflowed = False

    def _offer(self, delivery: Delivery) -> None:
        if self._overflowed:
            return
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            # A slow consumer: drop what is queued and ask it to catch up from the database.
            self._overflowed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(RESYNC)

    async def get(self) -> Delivery:
        delivery = await self._queue.get()
        self._overflowed = False
        return delivery

    def take_pending(self) -> list[Delivery]:
        """What is already queued, without waiting (a consumer coalescing wake-ups)."""
        taken = []
        while not self._queue.empty():
            taken.append(self._queue.get_nowait())
        self._overflowed = False
        return taken

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Delivery]:
        while True:
            yield await self.get()

    async def __aenter__(self) -> Subscription:
        await self._broker._attach(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._broker._detach(self)


class Broker(Protocol):
    async def start(self) -> None: ...
    async def publish(self, channel: str, data: str) -> bool: ...
    def subscribe(self, channel: str) -> Subscription: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...


class _FanOut:
    """Local bookkeeping shared by both brokers: channel -> local subscriptions."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    def subscribe(self, channel: str) -> Subscription:
        return Subscription(self, channel)

    def _deliver(self, channel: str, delivery: Delivery) -> None:
        for sub in list(self._subscribers.get(channel, ())):
            sub._offer(delivery)

    def subscriber_count(self, channel: str | None = None) -> int:
        if channel is not None:
            return len(self._subscribers.get(channel, ()))
        return sum(len(s) for s in self._subscribers.values())

    async def _attach(self, sub: Subscription) -> None:
        raise NotImplementedError

    async def _detach(self, sub: Subscription) -> None:
        raise NotImplementedError


class MemoryBroker(_FanOut):
    """In-process broker for a single process (the zero-setup default and unit tests)."""

    async def start(self) -> None:
        return None

    async def publish(self, channel: str, data: str) -> bool:
        self._deliver(channel, Delivery(data=data))
        return True

    async def _attach(self, sub: Subscription) -> None:
        self._subscribers.setdefault(sub.channel, set()).add(sub)
        sub._offer(RESYNC)  # same contract as Redis: catch up once the subscription is live

    async def _detach(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.channel]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._subscribers.clear()


class RedisBroker(_FanOut):
    def __init__(
        self,
        publisher: Redis,
        subscriber: Redis,
        *,
        prefix: str = "carnet:",
        confirm_timeout: float = 2.0,
        max_backoff: float = 2.0,
    ) -> None:
        super().__init__()
        self._publisher = publisher
        self._subscriber = subscriber
        self._prefix = prefix
        self._confirm_timeout = confirm_timeout
        self._max_backoff = max_backoff
        self._pubsub: PubSub | None = None
        # Serialises (re)connection and SUBSCRIBE/UNSUBSCRIBE so that a channel attached while
        # the supervisor reconnects is subscribed by exactly one of them, never by neither.
        self._commands = asyncio.Lock()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.reconnections = 0

    def _key(self, channel: str) -> str:
        return self._prefix + channel

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="carnet-broker-reader")

    async def publish(self, channel: str, data: str) -> bool:
        """Announce; returns False (and logs) when Redis is unreachable.

        Callers have already committed the data: a failed announcement is caught up later by
        subscribers, so it must never turn a successful write into an error.
        """
        try:
            await self._publisher.publish(self._key(channel), data)
            return True
        except KV_UNAVAILABLE_ERRORS as exc:
            log.warning("broker publish failed on %s: %s", channel, type(exc).__name__)
            return False

    async def _attach(self, sub: Subscription) -> None:
        subs = self._subscribers.setdefault(sub.channel, set())
        subs.add(sub)
        event = self._confirmed.setdefault(sub.channel, asyncio.Event())
        if len(subs) == 1:
            async with self._commands:
                if self._pubsub is not None:
                    with contextlib.suppress(*KV_UNAVAILABLE_ERRORS):
                        await self._pubsub.subscribe(self._key(sub.channel))
        elif event.is_set():
            sub._offer(RESYNC)
            return
        # Wait (briefly) for Redis to confirm; if it is down, the subscriber catches up from
        # the database now and gets a RESYNC once the supervisor has reconnected.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=self._confirm_timeout)

    async def _detach(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.channel)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subscribers[sub.channel]
            self._confirmed.pop(sub.channel, None)
            async with self._commands:
                if self._pubsub is not None and sub.channel not in self._subscribers:
                    with contextlib.suppress(*KV_UNAVAILABLE_ERRORS):
                        await self._pubsub.unsubscribe(self._key(sub.channel))

    async def _supervise(self) -> None:
        backoff = 0.05
        while not self._closing:
            pubsub = self._subscriber.pubsub()
            try:
                async with self._commands:
                    await pubsub.subscribe(
                        self._prefix + _SENTINEL_SUFFIX,
                        *(self._key(c) for c in list(self._subscribers)),
                    )
                    self._pubsub = pubsub
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except KV_UNAVAILABLE_ERRORS as exc:
                log.warning("broker connection lost (%s); reconnecting", type(exc).__name__)
            except Exception:
                log.exception("broker reader failed; reconnecting")
            finally:
                self._pubsub = None
                self.connected.clear()
                for event in self._confirmed.values():
                    event.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if self._closing:
                break
            self.reconnections += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311 (jitter)
            backoff = min(backoff * 2, self._max_backoff)
        log.debug("broker reader stopped")

    async def _read(self, pubsub: PubSub) -> None:
        prefix_len = len(self._prefix)
        while not self._closing:
            # get_message with a timeout (not listen()) so health checks keep running.
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            kind = message["type"]
            channel_key = message["channel"]
            if kind == "message":
                self._deliver(channel_key[prefix_len:], Delivery(data=message["data"]))
            elif kind == "subscribe":
                if channel_key == self._prefix + _SENTINEL_SUFFIX:
                    self.connected.set()
                    continue
                channel = channel_key[prefix_len:]
                # Every confirmation, first or after a silent re-subscribe, may follow a gap.
                event = self._confirmed.get(channel)
                if event is not None:
                    event.set()
                self._deliver(channel, RESYNC)

    async def ping(self) -> None:
        await asyncio.wait_for(self._publisher.ping(), timeout=2.0)

    async def aclose(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._subscribers.clear()
        await self._subscriber.aclose()
