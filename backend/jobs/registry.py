"""The registry of Carnet's jobs: what each is called, what it runs, how often (periodic ones).

A domain declares its jobs in its own `jobs.py` with `@tasks.job(...)` or `@tasks.periodic(...)`;
the composition root (backend/bootstrap.py, `TASK_MODULES`) imports those modules before a
runner starts. A job is `async def job(rt: Runtime, **args) -> object`, its arguments JSON
values (ids, never health or identity data, never a code or a token: the arguments are stored
in the queue's table, in clear).

Every job must be idempotent: run twice (a worker killed after the job's effect but before the
queue marked it done runs it again, and so does a retry), its effect happens once. The jobs here
claim their work with the domain's outbox markers and conditional UPDATEs
(`appointment_notice.sent_at`, `document.patient_notified_at`, `participant.notified_seq`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from backend.runtime import Runtime
from backend.settings import Settings

JobFunction = Callable[..., Awaitable[object]]
#: How often a periodic job runs: seconds, or read from the settings.
Every = float | Callable[[Settings], float]


@dataclass(frozen=True)
class Task:
    name: str
    fn: JobFunction
    #: None: the settings' JOBS_MAX_ATTEMPTS.
    max_attempts: int | None = None
    #: Periodic jobs only: the interval between two runs.
    every: Every | None = None

    @property
    def periodic(self) -> bool:
        return self.every is not None

    def interval(self, settings: Settings) -> float:
        if self.every is None:
            raise ValueError(f"{self.name} is not periodic")
        return float(self.every(settings) if callable(self.every) else self.every)

    async def __call__(self, rt: Runtime, **args: Any) -> object:
        return await self.fn(rt, **args)


class Registry:
    """Jobs by name (one registry per process: `tasks`)."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def _add(self, task: Task) -> Task:
        known = self._tasks.get(task.name)
        if known is not None and known.fn is not task.fn:
            raise ValueError(f"two jobs named {task.name!r}")
        self._tasks[task.name] = task
        return task

    def job(self, name: str, *, max_attempts: int | None = None
            ) -> Callable[[JobFunction], Task]:
        """Declare a job deferred with `enqueue(name, args, conn=...)`."""
        def register(fn: JobFunction) -> Task:
            return self._add(Task(name, fn, max_attempts=max_attempts))
        return register

    def periodic(self, name: str, *, every: Every, max_attempts: int | None = 1
                 ) -> Callable[[JobFunction], Task]:
        """Declare a job run every `every` seconds (one run per tick whatever the number of
        workers). By default not retried: the next tick is its retry."""
        def register(fn: JobFunction) -> Task:
            return self._add(Task(name, fn, max_attempts=max_attempts, every=every))
        return register

    def get(self, name: str) -> Task:
        try:
            return self._tasks[name]
        except KeyError:
            raise LookupError(f"no job named {name!r} (is its module in TASK_MODULES?)") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(sorted(self._tasks.values(), key=lambda t: t.name))

    def remove(self, name: str) -> None:
        """Tests: forget a job they declared."""
        self._tasks.pop(name, None)


#: The process's jobs.
tasks = Registry()
