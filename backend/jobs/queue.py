"""The durable queue on PostgreSQL: procrastinate (its schema applied by migration 0023).

- `enqueue(name, args, conn=...)` inserts the job with the CALLER's Tortoise connection, so
  inside `in_transaction()` the job commits or rolls back with the data it concerns (the row
  a worker will look for). It calls procrastinate's own SQL (`procrastinate_defer_jobs_v1`);
  with a queueing lock (at most one such job waiting), the same INSERT that function makes,
  with `ON CONFLICT ... DO NOTHING` on procrastinate's partial unique index, so that a job
  already waiting never aborts the caller's transaction.
- `build_app(settings)` is the procrastinate App whose tasks are the registry's jobs: each
  with a `RetryStrategy` (exponential backoff: JOBS_RETRY_BACKOFF_SECONDS ** n), periodic ones
  with procrastinate's periodic deferrer (one job per tick whatever the number of workers, and
  a queueing lock: a tick is skipped while the previous run still waits).
- `run_worker(...)` (`carnet worker`) runs jobs until SIGINT/SIGTERM. A worker writes a
  heartbeat; jobs left "doing" by a worker whose heartbeat stopped (killed, its machine gone)
  are put back in the queue by `retry_stalled` (at start and then twice per
  JOBS_STALLED_SECONDS, in every worker): a killed job runs again, and its idempotence
  (registry.py) makes its effect happen once.

On SQLite (no procrastinate connector), `enqueue` hands the job to the process's in-process
runner instead (backend/jobs/fallback.py): not durable, not transactional.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from backend.jobs import fallback
from backend.jobs.registry import Registry, Task, tasks
from backend.runtime import Runtime
from backend.settings import Settings

log = logging.getLogger(__name__)

QUEUE = "default"
#: The built-in job that puts a dead worker's jobs back in the queue.
RETRY_STALLED = "jobs.retry_stalled"
#: The built-in job that deletes finished jobs past JOBS_KEEP_HOURS / JOBS_KEEP_FAILED_HOURS.
REMOVE_OLD = "jobs.remove_old"
#: The procrastinate schema this code was written against (migration 0023 applies it).
SCHEMA_FILE = Path(__file__).with_name("procrastinate_schema_3_10_0.sql")

_DEFER = ("SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW($1::varchar,$2::varchar,"
          "0,NULL,NULL,$3::text::jsonb,$4::timestamptz)::procrastinate_job_to_defer_v1])) AS id")
# procrastinate_defer_jobs_v1's INSERT, skipping (not failing on) a job already waiting with
# the same queueing lock (procrastinate_jobs_queueing_lock_idx_v1, partial on status 'todo').
_DEFER_LOCKED = (
    "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, "
    "args, scheduled_at) VALUES ($1, $2, 0, NULL, $5, $3::text::jsonb, $4::timestamptz) "
    "ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING RETURNING id"
)


def is_postgres(conn: Any) -> bool:
    return conn.capabilities.dialect == "postgres"


async def enqueue(name: str, args: dict[str, Any] | None = None, *, conn: Any,
                  queueing_lock: str | None = None,
                  scheduled_at: datetime | None = None) -> int | None:
    """Queue job `name` with `args` (JSON values: ids, never personal data) through `conn`
    (the caller's transaction, `in_transaction()`'s connection, or the default connection).

    PostgreSQL: the job's id; None when `queueing_lock` is given and a job holding it is
    already waiting. SQLite: handed to the in-process runner (run soon after, whether or not
    the caller's transaction commits: every job checks the data it concerns), None."""
    tasks.get(name)  # a typo fails here, not in a worker
    args = args or {}
    if not is_postgres(conn):
        fallback.submit(name, args)
        return None
    payload = orjson.dumps(args).decode()
    if queueing_lock is None:
        rows = await conn.execute_query_dict(_DEFER, [QUEUE, name, payload, scheduled_at])
    else:
        rows = await conn.execute_query_dict(
            _DEFER_LOCKED, [QUEUE, name, payload, scheduled_at, queueing_lock])
    return int(rows[0]["id"]) if rows else None


# --- the procrastinate App ---------------------------------------------------------------


def conninfo(settings: Settings) -> str:
    """DATABASE_URL as libpq reads it (without Tortoise's pool options)."""
    url = settings.database_url
    for prefix in ("postgres://", "asyncpg://"):
        if url.startswith(prefix):
            url = "postgresql://" + url.removeprefix(prefix)
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("minsize", "maxsize")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def cron_every(seconds: float) -> str:
    """A cron line (procrastinate's, a 6th field for seconds) for "every `seconds`"."""
    if seconds < 60:
        step = max(1, round(seconds))
        return f"* * * * * */{step}"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{max(1, min(23, round(minutes / 60)))} * * *"


#: The runtime the jobs of this process get (set by `run_worker`, or by tests).
_runtime: Runtime | None = None


def set_runtime(rt: Runtime | None) -> None:
    global _runtime
    _runtime = rt


def current_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no job runtime: set_runtime() before running jobs")
    return _runtime


def _retry(settings: Settings, task: Task) -> Any:
    from procrastinate import RetryStrategy

    attempts = task.max_attempts or settings.jobs_max_attempts
    if attempts <= 1:
        return False
    # procrastinate counts retries (attempts after the first); wait = backoff ** (retry n).
    return RetryStrategy(max_attempts=attempts - 1,
                         exponential_wait=settings.jobs_retry_backoff_seconds)


def _bind(app: Any, settings: Settings, task: Task) -> None:
    async def run(**kwargs: Any) -> None:
        kwargs.pop("timestamp", None)  # what procrastinate gives periodic jobs
        await task(current_runtime(), **kwargs)

    run.__name__ = run.__qualname__ = task.name.replace(".", "_")
    bound = app.task(name=task.name, queue=QUEUE, retry=_retry(settings, task))(run)
    if task.periodic:
        app.periodic(cron=cron_every(task.interval(settings)),
                     queueing_lock=task.name)(bound)


def build_app(settings: Settings, registry: Registry = tasks) -> Any:
    """The procrastinate App of the registry's jobs, on DATABASE_URL (PostgreSQL)."""
    import procrastinate

    if not settings.uses_postgres:
        raise RuntimeError("the durable job queue needs PostgreSQL (DATABASE_URL)")
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(settings), min_size=1,
        # The worker's jobs hold none (they use Tortoise's pool): fetching, finishing,
        # heartbeats, LISTEN, the periodic deferrer.
        max_size=min(10, settings.jobs_concurrency + 3))
    app = procrastinate.App(connector=connector)
    for task in registry:
        _bind(app, settings, task)

    async def retry_stalled_job(**kwargs: Any) -> None:
        await retry_stalled(app, settings)

    retry_stalled_job.__name__ = "retry_stalled"
    bound = app.task(name=RETRY_STALLED, queue=QUEUE, retry=False)(retry_stalled_job)
    # Twice per JOBS_STALLED_SECONDS: a dead worker's jobs run again within 1.5 times that.
    app.periodic(cron=cron_every(settings.jobs_stalled_seconds / 2),
                 queueing_lock=RETRY_STALLED)(bound)

    async def remove_old_job(**kwargs: Any) -> None:
        await remove_old_jobs(app, settings)

    remove_old_job.__name__ = "remove_old"
    bound = app.task(name=REMOVE_OLD, queue=QUEUE, retry=False)(remove_old_job)
    app.periodic(cron="17 * * * *", queueing_lock=REMOVE_OLD)(bound)
    return app


async def remove_old_jobs(app: Any, settings: Settings) -> None:
    """Delete finished jobs (and their events) older than JOBS_KEEP_HOURS, failed ones older
    than JOBS_KEEP_FAILED_HOURS (procrastinate's own query: it reads every job's latest event,
    fine for the notifications' volume; a campaign of millions of jobs should delete its
    jobs on success instead)."""
    await app.job_manager.delete_old_jobs(nb_hours=settings.jobs_keep_hours,
                                          include_cancelled=True, include_aborted=True)
    await app.job_manager.delete_old_jobs(nb_hours=settings.jobs_keep_failed_hours,
                                          include_failed=True)


async def retry_stalled(app: Any, settings: Settings) -> int:
    """Put back in the queue the jobs a dead worker left "doing" (its heartbeat older than
    JOBS_STALLED_SECONDS). Returns how many."""
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.jobs_stalled_seconds)
    count = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except Exception as exc:  # another worker retried it first
            log.info("stalled job %s not retried (%s)", job.id, type(exc).__name__)
            continue
        log.warning("job %s (%s) of a dead worker queued again", job.id, job.task_name)
        count += 1
    return count


# --- operators (`carnet jobs`) ---------------------------------------------------------------


async def status(conn: Any) -> dict[str, Any]:
    """Jobs by task and status, and the workers' heartbeats (seconds since), for operators."""
    rows = await conn.execute_query_dict(
        "SELECT task_name, status::text AS status, count(*) AS n FROM procrastinate_jobs "
        "GROUP BY task_name, status ORDER BY task_name, status")
    jobs: dict[str, dict[str, int]] = {}
    for row in rows:
        jobs.setdefault(row["task_name"], {})[row["status"]] = int(row["n"])
    workers = await conn.execute_query_dict(
        "SELECT id, extract(epoch FROM now() - last_heartbeat)::float AS age "
        "FROM procrastinate_workers ORDER BY id")
    return {"jobs": jobs,
            "workers": [{"id": int(w["id"]), "heartbeatSecondsAgo": round(w["age"], 1)}
                        for w in workers]}


async def retry_failed(conn: Any, task_name: str | None = None) -> int:
    """Put failed jobs (of one task, or all) back in the queue, to run now. How many."""
    rows = await conn.execute_query_dict(
        "SELECT procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL) FROM procrastinate_jobs "
        "WHERE status = 'failed' AND ($1::varchar IS NULL OR task_name = $1)", [task_name])
    return len(rows)


def schema_sql() -> str:
    return SCHEMA_FILE.read_text()


def installed_schema_sql() -> str:
    """The installed procrastinate's schema (tests compare it with SCHEMA_FILE)."""
    return resources.files("procrastinate.sql").joinpath("schema.sql").read_text()


# --- `carnet worker` ---------------------------------------------------------------------


class WithholdErrorMessages(logging.Filter):
    """procrastinate logs a failed job with its exception: keep the traceback's frames and the
    exception's type, withhold its message (a database error's detail may quote row values)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind, _, tb = record.exc_info
            frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
            name = kind.__name__ if kind is not None else "Exception"
            record.exc_info = None
            record.exc_text = (f"Traceback (most recent call last):\n{frames}"
                               f"{name} (message withheld: it may hold personal data)")
        return True


def withhold_error_messages(worker_name: str | None) -> None:
    """On the loggers that report failed jobs (procrastinate.worker and its child per worker)."""
    quiet = WithholdErrorMessages()
    for name in ("procrastinate.worker", f"procrastinate.worker.{worker_name or 'worker'}",
                 "procrastinate"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithholdErrorMessages) for f in logger.filters):
            logger.addFilter(quiet)


async def _touch_while_alive(path: Path, check: Callable[[], Awaitable[object]],
                             every: float) -> None:
    """The health file (docker-compose's healthcheck): touched while the database answers."""
    while True:
        try:
            await check()
            await asyncio.to_thread(path.touch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("worker health check failed (%s)", type(exc).__name__)
        await asyncio.sleep(every)


async def run_worker(rt: Runtime, app: Any, *, concurrency: int, name: str | None = None,
                     health_file: Path | None = None, wait: bool = True,
                     ping: Callable[[], Awaitable[object]] | None = None) -> None:
    """Run jobs until stopped (SIGINT/SIGTERM: the jobs in progress finish first)."""
    settings = rt.settings
    set_runtime(rt)
    withhold_error_messages(name)
    health: asyncio.Task[None] | None = None
    async with app.open_async():
        recovered = await retry_stalled(app, settings)
        if recovered:
            log.warning("%d job(s) of dead workers queued again", recovered)
        if health_file is not None and ping is not None:
            health = asyncio.create_task(
                _touch_while_alive(health_file, ping, settings.jobs_heartbeat_seconds))
        started = time.monotonic()
        try:
            await app.run_worker_async(
                concurrency=concurrency, name=name, wait=wait,
                fetch_job_polling_interval=settings.jobs_poll_seconds,
                update_heartbeat_interval=settings.jobs_heartbeat_seconds,
                stalled_worker_timeout=settings.jobs_stalled_seconds,
                install_signal_handlers=True)
        finally:
            if health is not None:
                health.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await health
            log.info("worker stopped after %.0f s", time.monotonic() - started)
            set_runtime(None)
