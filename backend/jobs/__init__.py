"""Background jobs (core): the registry of jobs, `enqueue` through the caller's transaction,
the durable queue on PostgreSQL (procrastinate, `carnet worker`) and the in-process fallback
runner on SQLite. docs/jobs.md describes both; registry.py the rules every job follows."""

from backend.jobs.queue import enqueue
from backend.jobs.registry import Task, tasks

__all__ = ["Task", "enqueue", "tasks"]
