"""Composition root of a process's services: the `Runtime` with the adapters the domains
provide. Core modules import no domain; this module (like app.py, cli.py, schema.py) may."""

from __future__ import annotations

from backend.notifications.services import notifier_from_settings
from backend.records.storage import blob_store_from_settings
from backend.runtime import Runtime
from backend.settings import Settings


def build_runtime(settings: Settings) -> Runtime:
    """The runtime the settings describe: Redis or in-memory stores, SMTP/SMS or console
    notifications, local or S3 document storage."""
    return Runtime.from_settings(settings, notifier=notifier_from_settings(settings),
                                 blobs=blob_store_from_settings(settings))
