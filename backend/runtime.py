"""The process-wide services a request may use, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from backend.broker import Broker, MemoryBroker, RedisBroker
from backend.kv import KeyValueStore, MemoryKeyValueStore, RedisKeyValueStore, redis_client
from backend.notifications.services import Notifier, notifier_from_settings
from backend.records.storage import BlobStore, blob_store_from_settings
from backend.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    kv: KeyValueStore
    broker: Broker
    notifier: Notifier
    blobs: BlobStore | None = None

    def __post_init__(self) -> None:
        if self.blobs is None:
            self.blobs = blob_store_from_settings(self.settings)

    @property
    def uses_redis(self) -> bool:
        return self.settings.redis_url is not None

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        if settings.redis_url:
            client = redis_client(settings.redis_url)
            prefix = settings.redis_key_prefix
            broker: Broker = RedisBroker(
                client, redis_client(settings.redis_url, for_pubsub=True), prefix=prefix
            )
            return cls(settings, RedisKeyValueStore(client, prefix=prefix), broker,
                       notifier_from_settings(settings))
        return cls(settings, MemoryKeyValueStore(), MemoryBroker(),
                   notifier_from_settings(settings))

    async def start(self) -> None:
        await self.broker.start()

    async def aclose(self) -> None:
        if self.blobs is not None:
            await self.blobs.aclose()
        await self.broker.aclose()
        await self.kv.aclose()
