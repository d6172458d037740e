"""Composition root of a process's services: the `Runtime` with the adapters the domains
provide, and the domains' jobs. Core modules import no domain; this module (like app.py,
cli.py, schema.py) may."""

from __future__ import annotations

import importlib

from backend.jobs.registry import Registry, tasks
from backend.notifications.services import notifier_from_settings
from backend.records.storage import blob_store_from_settings
from backend.runtime import Runtime
from backend.settings import Settings

#: The domains' job modules (backend/jobs/registry.py): imported before any runner starts.
TASK_MODULES = (
    "backend.agenda.jobs",
    "backend.closure.jobs",
    "backend.messaging.jobs",
    "backend.oauth.jobs",
    "backend.onboarding.jobs",
    "backend.records.jobs",
)


def build_runtime(settings: Settings) -> Runtime:
    """The runtime the settings describe: Redis or in-memory stores, SMTP/SMS or console
    notifications, local or S3 document storage."""
    return Runtime.from_settings(settings, notifier=notifier_from_settings(settings),
                                 blobs=blob_store_from_settings(settings))


def load_tasks(extra: tuple[str, ...] = ()) -> Registry:
    """Every domain's jobs (and those of `extra` modules: tests, `carnet worker --tasks`)."""
    for module in (*TASK_MODULES, *extra):
        importlib.import_module(module)
    return tasks
