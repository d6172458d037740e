"""The process-wide services a request may use, built once per process from the settings.

A core module: it imports no domain. The adapters domains provide (the notifier, the blob store)
are described here as ports and passed in by the composition root (backend.bootstrap).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from backend.broker import Broker, ClusterBroker, MemoryBroker, RedisBroker
from backend.kv import (
    KeyValueStore,
    MemoryKeyValueStore,
    RedisKeyValueStore,
    cluster_client,
    redis_client,
)
from backend.settings import Settings, is_cluster_url


@runtime_checkable
class Notifier(Protocol):
    """Delivers short messages (backend.notifications provides it)."""

    async def send_email(self, to: str, subject: str, text: str) -> None: ...

    async def send_sms(self, to: str, text: str) -> None: ...


class BlobStore(Protocol):
    """Stores encrypted document content (backend.records.storage provides it)."""

    async def put(self, name: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the stream under `name` (all or nothing); returns the bytes written."""
        ...

    def open(self, name: str) -> AsyncIterator[bytes]:
        """Stream the blob's content; `BlobNotFound` is raised by the first iteration."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the blob; no error if it does not exist."""
        ...

    async def exists(self, name: str) -> bool: ...

    async def aclose(self) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    kv: KeyValueStore
    broker: Broker
    notifier: Notifier
    blobs: BlobStore | None = None  # None: a runtime that stores no documents (some tests)
    # The time rules that expire things (one-time codes) read; tests pass a clock they move.
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def uses_redis(self) -> bool:
        return self.settings.redis_url is not None

    @classmethod
    def from_settings(cls, settings: Settings, *, notifier: Notifier, blobs: BlobStore
                      ) -> Runtime:
        """The key-value store and broker the settings name, with the given adapters.
        `backend.bootstrap.build_runtime(settings)` builds the adapters from the settings too."""
        if settings.redis_url and is_cluster_url(settings.redis_url):
            # One cluster client (a pool per master) for keys and SPUBLISH; the broker adds
            # one sharded pub/sub connection per master.
            cluster = cluster_client(settings.redis_url,
                                     max_connections=settings.redis_pool_max_size)
            prefix = settings.redis_key_prefix
            return cls(settings, RedisKeyValueStore(cluster, prefix=prefix),
                       ClusterBroker(cluster, prefix=prefix), notifier, blobs)
        if settings.redis_url:
            client = redis_client(settings.redis_url,
                                  max_connections=settings.redis_pool_max_size)
            prefix = settings.redis_key_prefix
            broker: Broker = RedisBroker(
                client, redis_client(settings.redis_url, for_pubsub=True), prefix=prefix
            )
            return cls(settings, RedisKeyValueStore(client, prefix=prefix), broker, notifier,
                       blobs)
        return cls(settings, MemoryKeyValueStore(), MemoryBroker(), notifier, blobs)

    async def start(self) -> None:
        await self.broker.start()

    async def aclose(self) -> None:
        if self.blobs is not None:
            await self.blobs.aclose()
        await self.broker.aclose()
        await self.kv.aclose()


#: Collections of the youngest generation start after this many new container objects (Python's
#: default is 700). A GraphQL answer builds tens of thousands of short-lived objects; at 700,
#: collections took 12-17 % of a screen's CPU, at 50,000 (with the freeze below) 1.2-1.7 %.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Call once per worker when start-up is over (modules, schema and pools built): moves
    every object alive now to the permanent generation, which collections never scan again,
    and raises the thresholds. Cycles made later are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
