"""The in-process job runner of the zero-setup default (SQLite: `carnet dev`, `make run`).

procrastinate has no SQLite connector, and a second process writing the same SQLite file would
fight the API for its write lock. So on SQLite the API process runs the registry's jobs itself,
as the notification loop did before the queue existed: the periodic jobs every interval, and
the jobs `enqueue` hands over, soon after, with the same retries and backoff (in memory).

It is NOT durable and NOT transactional: a job handed over by a transaction that then rolls
back still runs (harmless: every job checks the data it concerns and claims it with the
domain's markers), and jobs waiting when the process stops are lost (the periodic sweeps find
their work again: appointment notices and released documents have outbox markers in the
database). Production runs on PostgreSQL, where `carnet worker` gives all of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from backend.jobs.registry import Registry, tasks
from backend.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Pending:
    due: float
    name: str = field(compare=False)
    args: dict[str, Any] = field(compare=False)
    attempt: int = field(default=1, compare=False)


class FallbackRunner:
    """Runs jobs in this process until cancelled (one at a time, in due order)."""

    def __init__(self, rt: Runtime, registry: Registry = tasks, *, tick: float = 1.0) -> None:
        self.rt = rt
        self.registry = registry
        self.tick = tick
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()

    def submit(self, name: str, args: dict[str, Any], *, delay: float = 0.0) -> None:
        self._pending.append(_Pending(time.monotonic() + delay, name, dict(args)))
        self._wake.set()

    async def _run(self, item: _Pending) -> None:
        task = self.registry.get(item.name)
        try:
            await task(self.rt, **item.args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the error's type only, never data
            attempts = task.max_attempts or self.rt.settings.jobs_max_attempts
            if item.attempt < attempts and not task.periodic:
                backoff = self.rt.settings.jobs_retry_backoff_seconds ** item.attempt
                log.warning("job %s failed (%s), retried in %s s", item.name,
                            type(exc).__name__, backoff)
                self._pending.append(_Pending(time.monotonic() + backoff, item.name,
                                              item.args, item.attempt + 1))
            else:
                log.warning("job %s failed (%s)", item.name, type(exc).__name__)

    async def run_due(self) -> int:
        """Run every job due now (tests; the loop)."""
        now = time.monotonic()
        due = sorted(p for p in self._pending if p.due <= now)
        self._pending = [p for p in self._pending if p.due > now]
        for item in due:
            await self._run(item)
        return len(due)

    async def run(self) -> None:
        periodic = {t.name: t.interval(self.rt.settings) for t in self.registry if t.periodic}
        next_at = {name: time.monotonic() + every for name, every in periodic.items()}
        while True:
            now = time.monotonic()
            for name, at in sorted(next_at.items(), key=lambda item: item[1]):
                if at <= now:
                    next_at[name] = now + periodic[name]
                    await self._run(_Pending(now, name, {}))
            await self.run_due()
            soonest = min([*next_at.values(), *(p.due for p in self._pending),
                           time.monotonic() + self.tick])
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, soonest - time.monotonic()))


#: The runner of this process, if one runs (the API's lifespan on SQLite).
_active: FallbackRunner | None = None


def activate(runner: FallbackRunner | None) -> None:
    global _active
    _active = runner


def active() -> FallbackRunner | None:
    return _active


#: A job handed over by `enqueue` runs this much later: its caller's transaction (which this
#: runner cannot see end) has committed by then, as a rule; if not, the job finds nothing to do
#: and the next periodic round does it.
SUBMIT_DELAY_SECONDS = 0.5


def submit(name: str, args: dict[str, Any]) -> None:
    """`enqueue` on SQLite: to this process's runner; without one (a CLI command), dropped:
    the periodic jobs of the API process find the work again."""
    if _active is None:
        log.info("job %s not run: no job runner in this process (SQLite)", name)
        return
    _active.submit(name, args, delay=SUBMIT_DELAY_SECONDS)
