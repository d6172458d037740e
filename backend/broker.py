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

On a Redis Cluster, `ClusterBroker` uses sharded pub/sub (SPUBLISH / SSUBSCRIBE): one
connection per master instead of one per process, same contract.
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
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AskError, RedisClusterException, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

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


# --- Redis Cluster: sharded pub/sub ---------------------------------------------------------

_READY = "carnet-ready"  # PING payloads on a reader's connection
_HEALTH = "carnet-health"


class ClusterBroker(_FanOut):
    """Sharded pub/sub on a Redis Cluster: SPUBLISH, and SSUBSCRIBE on the master that owns
    each channel's hash slot.

    redis-py 7.4's asyncio cluster client has no pub/sub (no `pubsub()`, no `ssubscribe`), so
    this keeps its own connections: one `_ShardReader` per master, each holding the channels
    whose slot that master owns. A reader re-subscribes its channels whenever it reconnects.
    When a master drops a channel (an `sunsubscribe` nobody asked for: its slot moved away)
    or refuses one (MOVED), the slot map is read again and the channel is subscribed on its
    new master. Every confirmation gives the channel's subscribers a RESYNC, as with
    `RedisBroker`, so nothing published during a move is lost for good.

    `cluster` is shared with the key-value store, which closes it.
    """

    def __init__(
        self,
        cluster: RedisCluster,
        *,
        prefix: str = "carnet:",
        confirm_timeout: float = 2.0,
        max_backoff: float = 2.0,
        ping_interval: float = 15.0,
    ) -> None:
        super().__init__()
        self._cluster = cluster
        self._prefix = prefix
        self._confirm_timeout = confirm_timeout
        self._max_backoff = max_backoff
        self._ping_interval = ping_interval
        self._readers: dict[str, _ShardReader] = {}  # master name (host:port) -> its reader
        self._route: dict[str, str] = {}  # channel key -> master it is subscribed on
        self._confirmed: dict[str, asyncio.Event] = {}
        # Serialises routing: attaching, detaching and re-routing after a topology change.
        self._routing = asyncio.Lock()
        self._stale = asyncio.Event()  # the slot map must be read again
        self._known = False  # a slot map has been read
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.reconnections = 0
        self.reroutes = 0

    def _key(self, channel: str) -> str:
        return self._prefix + channel

    def _channel(self, key: str) -> str:
        return key[len(self._prefix):]

    async def start(self) -> None:
        if self._task is None:
            # Read the slot map before the first requests: redis-py's cluster client can fail
            # (AttributeError on a half-made connection) when a burst of commands is what
            # initialises it. If the cluster is down now, the supervisor keeps trying.
            with contextlib.suppress(*KV_UNAVAILABLE_ERRORS, RedisClusterException):
                await self._cluster.initialize()
            self._task = asyncio.create_task(self._supervise(), name="carnet-cluster-broker")

    async def publish(self, channel: str, data: str) -> bool:
        """Announce (SPUBLISH, routed by slot); False (and logged) when Redis is unreachable.
        See `RedisBroker.publish`."""
        try:
            await self._cluster.execute_command("SPUBLISH", self._key(channel), data)
            return True
        except (*KV_UNAVAILABLE_ERRORS, RedisClusterException) as exc:
            log.warning("broker publish failed on %s: %s", channel, type(exc).__name__)
            return False

    async def _attach(self, sub: Subscription) -> None:
        subs = self._subscribers.setdefault(sub.channel, set())
        subs.add(sub)
        event = self._confirmed.setdefault(sub.channel, asyncio.Event())
        if len(subs) == 1:
            async with self._routing:
                if self._known and sub.channel in self._subscribers:
                    # Even if still subscribed (detached and attached again at once): a fresh
                    # confirmation is what gives this subscriber its first RESYNC.
                    await self._route_channel(self._key(sub.channel), confirm=True)
        elif event.is_set():
            sub._offer(RESYNC)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=self._confirm_timeout)

    async def _detach(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.channel)
        if subs is None:
            return
        subs.discard(sub)
        if subs:
            return
        del self._subscribers[sub.channel]
        self._confirmed.pop(sub.channel, None)
        async with self._routing:
            if sub.channel in self._subscribers:
                return  # attached again meanwhile
            key = self._key(sub.channel)
            reader = self._readers.get(self._route.pop(key, ""))
            if reader is not None:
                await reader.remove(key)

    def _owner(self, key: str) -> ClusterNode:
        slot = self._cluster.keyslot(key)
        return self._cluster.nodes_manager.get_node_from_slot(slot)

    async def _route_channel(self, key: str, *, confirm: bool = False) -> None:
        """Subscribe the channel on the master owning its slot (caller holds `_routing`);
        `confirm`: subscribe again even if it is there already."""
        node = self._owner(key)
        owner = node.name
        if owner not in self._readers:  # the client's slot map may know a new master first
            self._readers[owner] = _ShardReader(self, node)
        current = self._route.get(key)
        if current == owner:
            if confirm:
                await self._readers[owner].add(key)
            return
        if current is not None:
            self.reroutes += 1
            old = self._readers.get(current)
            if old is not None:
                old.forget(key)  # its old master dropped it already (or never had it)
        event = self._confirmed.get(self._channel(key))
        if event is not None:
            event.clear()
        self._route[key] = owner
        await self._readers[owner].add(key)

    async def _reconcile(self) -> None:
        """After reading the slot map: one reader per master, every channel on its owner."""
        primaries = {node.name: node for node in self._cluster.get_primaries()}
        for name, node in primaries.items():
            if name not in self._readers:
                self._readers[name] = _ShardReader(self, node)
        for name in [n for n in self._readers if n not in primaries]:
            reader = self._readers.pop(name)
            for key in reader.channels:
                self._route.pop(key, None)
            await reader.aclose()
        for channel in list(self._subscribers):
            await self._route_channel(self._key(channel))
        self._known = True
        self._update_connected()

    async def _supervise(self) -> None:
        """Read the slot map (at start, and whenever a reader says it may have changed) and
        re-route; retries with jittered backoff while the cluster cannot be reached."""
        backoff = 0.05
        first = True
        loop = asyncio.get_running_loop()
        last = -1.0
        while not self._closing:
            # At most 10 slot-map reads a second, however often readers ask.
            await asyncio.sleep(max(0.0, last + 0.1 - loop.time()))
            last = loop.time()
            self._stale.clear()
            try:
                if first:
                    await self._cluster.initialize()
                else:
                    await self._cluster.nodes_manager.initialize()
                first = False
                async with self._routing:
                    await self._reconcile()
                backoff = 0.05
                await self._stale.wait()
            except asyncio.CancelledError:
                raise
            except (*KV_UNAVAILABLE_ERRORS, RedisClusterException) as exc:
                log.warning("cluster broker cannot read the slot map (%s); retrying",
                            type(exc).__name__)
                await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311
                backoff = min(backoff * 2, self._max_backoff)
            except Exception:
                log.exception("cluster broker supervisor failed; retrying")
                await asyncio.sleep(self._max_backoff)

    # Called by the readers.

    def _on_moved(self, reader: _ShardReader, slot: int) -> None:
        for key in [k for k in reader.channels if self._cluster.keyslot(k) == slot]:
            reader.forget(key)
            self._on_dropped(reader, key)
        self._stale.set()

    def _on_confirmed(self, key: str) -> None:
        channel = self._channel(key)
        event = self._confirmed.get(channel)
        if event is not None:
            event.set()
        self._deliver(channel, RESYNC)  # every confirmation may follow a gap

    def _on_dropped(self, reader: _ShardReader, key: str) -> None:
        """A master dropped a channel we still want: its slot moved. Route it again."""
        if self._route.get(key) == reader.name:
            del self._route[key]
            self.reroutes += 1
        event = self._confirmed.get(self._channel(key))
        if event is not None:
            event.clear()
        self._stale.set()

    def _on_lost(self, reader: _ShardReader) -> None:
        for key in reader.channels:
            event = self._confirmed.get(self._channel(key))
            if event is not None:
                event.clear()
        self._update_connected()
        self._stale.set()  # a master that went away may have been replaced (failover)

    def _update_connected(self) -> None:
        if self._known and self._readers and all(
                r.ready.is_set() for r in self._readers.values()):
            self.connected.set()
        else:
            self.connected.clear()

    async def ping(self) -> None:
        await asyncio.wait_for(self._cluster.ping(), timeout=2.0)

    async def aclose(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for reader in list(self._readers.values()):
            await reader.aclose()
        self._readers.clear()
        self._subscribers.clear()


class _ShardReader:
    """The sharded pub/sub connection to one master, with the channel keys it should hold."""

    def __init__(self, broker: ClusterBroker, node: ClusterNode) -> None:
        self._broker = broker
        self.name = node.name
        # The node's connection settings (credentials, TLS), without a socket timeout (an
        # idle connection is normal: health is checked by PING) and without redis-py's own
        # health check, which would read our messages as its PING answer.
        kwargs = {**node.connection_kwargs, "socket_timeout": None, "health_check_interval": 0,
                  "retry": Retry(NoBackoff(), 0)}
        self._connect_kwargs = kwargs
        self._connection_class = node.connection_class
        self.channels: set[str] = set()
        self.ready = asyncio.Event()  # connected, and every subscription answered
        self._conn: Connection | None = None
        self._writing = asyncio.Lock()
        self._task = asyncio.create_task(self._run(), name=f"carnet-shard-{self.name}")

    async def add(self, key: str) -> None:
        self.channels.add(key)
        await self._send("SSUBSCRIBE", key)

    async def remove(self, key: str) -> None:
        self.channels.discard(key)
        await self._send("SUNSUBSCRIBE", key)

    def forget(self, key: str) -> None:
        self.channels.discard(key)

    async def _send(self, *args: str) -> None:
        # Not connected: the next connection subscribes everything in `channels`.
        async with self._writing:
            if self._conn is not None:
                with contextlib.suppress(*KV_UNAVAILABLE_ERRORS):
                    await self._conn.send_command(*args)

    async def _run(self) -> None:
        broker = self._broker
        backoff = 0.05
        while True:
            conn: Connection = self._connection_class(**self._connect_kwargs)
            try:
                await conn.connect()
                async with self._writing:
                    self._conn = conn
                    for key in list(self.channels):
                        await conn.send_command("SSUBSCRIBE", key)
                    await conn.send_command("PING", _READY)
                await self._read(conn)
            except asyncio.CancelledError:
                raise
            except KV_UNAVAILABLE_ERRORS as exc:
                log.warning("cluster broker lost %s (%s); reconnecting", self.name,
                            type(exc).__name__)
            except Exception:
                log.exception("cluster broker reader of %s failed; reconnecting", self.name)
            finally:
                self._conn = None
                if self.ready.is_set():
                    backoff = 0.05  # it worked for a while: start the backoff again
                self.ready.clear()
                broker._on_lost(self)
                with contextlib.suppress(Exception):
                    await conn.disconnect()
            broker.reconnections += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311 (jitter)
            backoff = min(backoff * 2, broker._max_backoff)

    async def _read(self, conn: Connection) -> None:
        broker = self._broker
        loop = asyncio.get_running_loop()
        last = loop.time()
        pinged = False
        while True:
            try:
                reply = await conn.read_response(timeout=1.0)
            except AskError as exc:
                # MOVED (or ASK, mid-migration): a subscription sent with an outdated slot
                # map. Its channels in that slot are routed again once the map is re-read.
                broker._on_moved(self, exc.slot_id)
                continue
            except ResponseError as exc:
                # e.g. CLUSTERDOWN: subscriptions are uncertain; start again on a new
                # connection (after a backoff), which re-subscribes everything.
                raise RedisConnectionError(f"{self.name} refused a subscription") from exc
            now = loop.time()
            if reply is None:
                idle = now - last
                if pinged and idle > 2 * broker._ping_interval:
                    raise RedisConnectionError(f"{self.name} stopped answering")
                if not pinged and idle > broker._ping_interval:
                    async with self._writing:
                        await conn.send_command("PING", _HEALTH)
                    pinged = True
                continue
            last, pinged = now, False
            if reply == _READY:  # PING's answer while subscribed to nothing yet
                self.ready.set()
                broker._update_connected()
                continue
            if not isinstance(reply, list) or len(reply) < 2:
                continue
            kind, key = reply[0], reply[1]
            if kind == "smessage":
                broker._deliver(broker._channel(key), Delivery(data=reply[2]))
            elif kind == "ssubscribe":
                broker._on_confirmed(key)
            elif kind == "sunsubscribe":
                if key in self.channels:  # not asked for: the slot left this master
                    self.channels.discard(key)
                    broker._on_dropped(self, key)
            elif kind == "pong" and key == _READY:
                self.ready.set()
                broker._update_connected()

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
