"""The durable job queue (backend/jobs/, issue 15 part 1) on real PostgreSQL.

- `enqueue` goes through the caller's transaction: rolled back, no job; committed, the job;
  a job already waiting under the same queueing lock is skipped without breaking the
  transaction.
- A failing job is tried again with exponential backoff, then given up.
- Periodic jobs are deferred once per tick, whatever the number of workers.
- A `carnet worker` killed (SIGKILL) mid-job: another worker runs the job again and its effect
  happens once (slow: real processes).
- Migration 0023's schema is the installed procrastinate's, and it goes back and forth.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import procrastinate
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from backend.bootstrap import load_tasks
from backend.jobs import enqueue, queue
from backend.jobs.registry import Registry
from tests import jobs_probe
from tests.conftest import ON_SQLITE
from tests.servers import ROOT
from tests.test_agenda import world as world  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(ON_SQLITE, reason="the durable queue is PostgreSQL's")

load_tasks(("tests.jobs_probe",))


def _db():
    return connections.get("default")


async def _rows(sql: str, values: list | None = None) -> list[dict]:
    return await _db().execute_query_dict(sql, values or [])


async def _jobs(task_name: str) -> list[dict]:
    return await _rows("SELECT id, status::text AS status, attempts, scheduled_at, args, "
                       "queueing_lock FROM procrastinate_jobs WHERE task_name = $1 ORDER BY id",
                       [task_name])


@pytest.fixture
async def probe(app, clean):
    await _db().execute_script(jobs_probe.PROBE_TABLE)
    try:
        yield
    finally:
        # Not a table of the schema: other tests list the real tables.
        await _db().execute_script("DROP TABLE IF EXISTS job_probe")


async def _probe(key: str) -> dict:
    rows = await _rows("SELECT runs, effects FROM job_probe WHERE key = $1", [key])
    return rows[0] if rows else {}


async def test_the_schema_is_the_installed_procrastinates(app):
    assert procrastinate.__version__ == "3.10.0"
    assert queue.schema_sql() == queue.installed_schema_sql(), (
        "procrastinate's schema changed: add a migration applying its migration SQL, then "
        "update backend/jobs/procrastinate_schema_*.sql")
    rows = await _rows("SELECT to_regproc('procrastinate_defer_jobs_v1') IS NOT NULL AS f")
    assert rows[0]["f"]


async def test_the_api_runs_no_background_sweep_on_postgresql(app):
    """On PostgreSQL the API's lifespan starts no in-process job runner: `carnet worker` runs
    the jobs (and a job enqueued here waits in the queue for it)."""
    from backend.jobs import fallback

    assert fallback.active() is None
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert "carnet-jobs-in-process" not in names


async def test_a_rolled_back_transaction_leaves_no_job_and_a_committed_one_does(app, clean):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with in_transaction() as conn:
            await enqueue(jobs_probe.FAILING, {"key": "rolled-back"}, conn=conn)
            assert len(await conn.execute_query_dict(
                "SELECT id FROM procrastinate_jobs")) == 1  # inside, it is there
            raise Boom
    assert await _jobs(jobs_probe.FAILING) == []

    async with in_transaction() as conn:
        job_id = await enqueue(jobs_probe.FAILING, {"key": "committed"}, conn=conn)
    (job,) = await _jobs(jobs_probe.FAILING)
    assert job["id"] == job_id and job["status"] == "todo"
    assert job["args"] in ('{"key": "committed"}', {"key": "committed"})


async def test_a_waiting_job_with_the_same_queueing_lock_is_skipped(app, clean):
    async with in_transaction() as conn:
        first = await enqueue(jobs_probe.FAILING, {"key": "a"}, conn=conn, queueing_lock="L")
        second = await enqueue(jobs_probe.FAILING, {"key": "b"}, conn=conn, queueing_lock="L")
        # The transaction goes on (no unique violation aborted it).
        await conn.execute_query("SELECT 1")
    assert first is not None and second is None
    assert [j["queueing_lock"] for j in await _jobs(jobs_probe.FAILING)] == ["L"]


async def test_an_unknown_job_name_fails_at_enqueue(app, clean):
    with pytest.raises(LookupError):
        await enqueue("no.such.job", conn=_db())


def _test_app(settings, *names: str):
    registry = Registry()
    full = load_tasks(("tests.jobs_probe",))
    for name in names:
        task = full.get(name)
        registry._add(task)
    return queue.build_app(settings, registry)


async def _run_available(app, rt) -> None:
    """One in-process worker pass: every job available now, then stop."""
    queue.set_runtime(rt)
    try:
        async with app.open_async():
            await app.run_worker_async(wait=False, install_signal_handlers=False,
                                       listen_notify=False)
    finally:
        queue.set_runtime(None)


async def test_a_failing_job_is_retried_with_exponential_backoff_then_given_up(app, probe):
    settings = app.state.runtime.settings.model_copy(
        update={"jobs_retry_backoff_seconds": 2})
    proc_app = _test_app(settings, jobs_probe.FAILING)
    await _db().execute_query("INSERT INTO job_probe (key) VALUES ('f')")
    await enqueue(jobs_probe.FAILING, {"key": "f"}, conn=_db())

    waits = []
    for attempt in (1, 2):
        before = datetime.now(UTC)
        await _run_available(proc_app, app.state.runtime)
        (job,) = await _jobs(jobs_probe.FAILING)
        assert job["status"] == "todo" and job["attempts"] == attempt
        waits.append((job["scheduled_at"] - before).total_seconds())
        # Not before its time: a pass now does not run it.
        await _run_available(proc_app, app.state.runtime)
        assert (await _probe("f"))["runs"] == attempt
        await _db().execute_query(
            "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = $1", [job["id"]])
    # 2 ** 1 then 2 ** 2 seconds (procrastinate's RetryStrategy, exponential_wait).
    assert 1.5 <= waits[0] <= 3.5 and 3.5 <= waits[1] <= 5.5, waits

    await _run_available(proc_app, app.state.runtime)  # the 3rd and last attempt
    (job,) = await _jobs(jobs_probe.FAILING)
    assert job["status"] == "failed"
    assert (await _probe("f"))["runs"] == 3


async def test_periodic_jobs_are_deferred_once_per_tick(app, clean):
    from procrastinate import periodic

    settings = app.state.runtime.settings
    proc_app = queue.build_app(settings, load_tasks())
    periodic_names = {task.name for task in load_tasks() if task.periodic}
    assert {"agenda.reminders", "messaging.waiting_messages",
            "records.released_documents"} <= periodic_names
    registered = {task.task.name for task in proc_app.periodic_registry.periodic_tasks.values()}
    assert registered == periodic_names | {queue.RETRY_STALLED, queue.REMOVE_OLD}

    at = time.time()
    async with proc_app.open_async():
        # Two workers' deferrers at the same moment: one job per task and tick.
        for _ in range(2):
            deferrer = periodic.PeriodicDeferrer(registry=proc_app.periodic_registry)
            await deferrer.defer_jobs(deferrer.get_previous_tasks(at=at))
    for name in periodic_names:
        jobs = await _jobs(name)
        assert len(jobs) == 1 and jobs[0]["status"] == "todo", (name, jobs)
    defers = await _rows("SELECT task_name FROM procrastinate_periodic_defers")
    assert {r["task_name"] for r in defers} >= periodic_names


async def test_the_periodic_notification_jobs_run_their_rounds(app, clean, monkeypatch):
    """Each periodic job deferred for a tick runs its domain's round once, with the worker's
    runtime: messages waiting, released documents, appointment reminders."""
    from procrastinate import periodic

    from backend.agenda import jobs as agenda_jobs
    from backend.messaging import jobs as messaging_jobs
    from backend.records import jobs as records_jobs

    rt = app.state.runtime
    calls: list[tuple[str, object]] = []

    def recorder(name: str):
        async def record(runtime, **kwargs):
            calls.append((name, runtime))
            return 0
        return record

    monkeypatch.setattr(messaging_jobs, "notify_waiting_messages", recorder("waiting"))
    monkeypatch.setattr(records_jobs, "notify_released_documents", recorder("released"))
    monkeypatch.setattr(agenda_jobs.reminders, "run_once", recorder("reminders"))
    proc_app = queue.build_app(rt.settings, load_tasks())
    async with proc_app.open_async():
        deferrer = periodic.PeriodicDeferrer(registry=proc_app.periodic_registry)
        await deferrer.defer_jobs(deferrer.get_previous_tasks(at=time.time()))
    await _run_available(proc_app, rt)
    assert sorted(calls, key=lambda c: c[0]) == [
        ("released", rt), ("reminders", rt), ("waiting", rt)]
    for name in (agenda_jobs.REMINDERS, messaging_jobs.WAITING_MESSAGES,
                 records_jobs.RELEASED_DOCUMENTS, queue.RETRY_STALLED):
        assert [j["status"] for j in await _jobs(name)] == ["succeeded"], name


async def test_finished_jobs_are_removed_after_their_time(app, clean):
    settings = app.state.runtime.settings.model_copy(
        update={"jobs_keep_hours": 24, "jobs_keep_failed_hours": 72})
    ids = {}
    for key in ("done-old", "done-new", "failed-old", "failed-older", "waiting-old"):
        ids[key] = await enqueue(jobs_probe.FAILING, {"key": key}, conn=_db())
    finished = {"done-old": ("succeeded", 30), "done-new": ("succeeded", 2),
                "failed-old": ("failed", 30), "failed-older": ("failed", 100),
                "waiting-old": ("todo", 100)}
    for key, (status, hours) in finished.items():
        await _db().execute_query(
            "UPDATE procrastinate_jobs SET status = $2::procrastinate_job_status WHERE id = $1",
            [ids[key], status])
        await _db().execute_query(
            "UPDATE procrastinate_events SET at = now() - make_interval(hours => $2) "
            "WHERE job_id = $1", [ids[key], hours])
    proc_app = queue.build_app(settings, load_tasks())
    async with proc_app.open_async():
        await queue.remove_old_jobs(proc_app, settings)
    left = {job["id"] for job in await _jobs(jobs_probe.FAILING)}
    assert left == {ids["done-new"], ids["failed-old"], ids["waiting-old"]}


def test_failed_jobs_are_logged_without_their_exception_message(caplog):
    import logging

    queue.withhold_error_messages("w")
    logger = logging.getLogger("procrastinate.worker.w")
    detail = "Key (email)=(alice@example.fr) already exists"  # as a database error quotes rows
    try:
        raise ValueError(detail)
    except ValueError:
        with caplog.at_level(logging.ERROR, logger="procrastinate.worker.w"):
            logger.exception("Job probe[1]() failed")
    text = caplog.text
    assert "ValueError (message withheld" in text and "alice@example.fr" not in text
    assert "test_failed_jobs_are_logged_without_their_exception_message" in text  # frames kept


async def test_operators_see_the_queue_and_put_failed_jobs_back(app, clean):
    done = await enqueue(jobs_probe.FAILING, {"key": "a"}, conn=_db())
    failed = await enqueue(jobs_probe.FAILING, {"key": "b"}, conn=_db())
    await enqueue(jobs_probe.EFFECT_THEN_BLOCK, {"key": "c", "block_file": "/nonexistent"},
                  conn=_db())
    for job_id, state in ((done, "succeeded"), (failed, "failed")):
        await _db().execute_query("UPDATE procrastinate_jobs SET status = "
                                  "$2::procrastinate_job_status WHERE id = $1", [job_id, state])
    state = await queue.status(_db())
    assert state["jobs"] == {jobs_probe.FAILING: {"failed": 1, "succeeded": 1},
                             jobs_probe.EFFECT_THEN_BLOCK: {"todo": 1}}
    assert await queue.retry_failed(_db(), "no.such.task") == 0
    assert await queue.retry_failed(_db(), jobs_probe.FAILING) == 1
    assert (await queue.status(_db()))["jobs"][jobs_probe.FAILING] == {"succeeded": 1,
                                                                       "todo": 1}


def test_cron_lines():
    assert queue.cron_every(60) == "*/1 * * * *"
    assert queue.cron_every(10) == "* * * * * */10"
    assert queue.cron_every(900) == "*/15 * * * *"
    assert queue.cron_every(7200) == "0 */2 * * *"


async def test_a_moved_appointment_queues_the_job_sending_its_notice(world, notifier):
    """The agenda's change notices: the outbox row and the job that sends it commit in the
    change's transaction (one job waiting at most), and the job sends the notice once."""
    from backend.access import policy
    from backend.agenda import jobs as agenda_jobs
    from backend.agenda import services

    rt = world["rt"]
    pro = policy.ProfessionalViewer(world["gp"].id, world["gp"].professional_id)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=8)
    item = await services.schedule(rt, pro, world["public_id"], services.AppointmentInput(
        start_at=start, end_at=start + timedelta(hours=1)))
    assert await _jobs(agenda_jobs.SEND_NOTICES) == []  # created: no notice
    for days in (1, 2):
        await services.move_by_professional(rt, pro, str(item.row.id),
                                            start + timedelta(days=days),
                                            start + timedelta(days=days, hours=1))
    (job,) = await _jobs(agenda_jobs.SEND_NOTICES)
    assert job["status"] == "todo" and job["queueing_lock"] == agenda_jobs.SEND_NOTICES
    notifier.sent.clear()
    proc_app = _test_app(rt.settings, agenda_jobs.SEND_NOTICES)
    await _run_available(proc_app, rt)
    await _run_available(proc_app, rt)  # nothing left: nothing sent twice
    assert [j["status"] for j in await _jobs(agenda_jobs.SEND_NOTICES)] == ["succeeded"]
    # The first move's notice is obsolete (moved again since): one notice, the latest time.
    assert len(notifier.sent) == 1, notifier.sent


# --- a worker killed mid-job ---------------------------------------------------------------


def _start_worker(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "worker", "--tasks", "tests.jobs_probe",
         "--concurrency", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def _until(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the worker exited with {proc.returncode} before {what}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_a_worker_killed_mid_job_runs_it_again_and_its_effect_happens_once(
        app, probe, server_env):
    env = {**server_env, "JOBS_HEARTBEAT_SECONDS": "0.5", "JOBS_STALLED_SECONDS": "2",
           "JOBS_POLL_SECONDS": "0.2", "LOG_LEVEL": "INFO"}
    block = Path(tempfile.mkdtemp(prefix="carnet-job-block-")) / "block"
    block.touch()
    await _db().execute_query("INSERT INTO job_probe (key) VALUES ('after'), ('before')")
    async with in_transaction() as conn:
        after = await enqueue(jobs_probe.EFFECT_THEN_BLOCK,
                              {"key": "after", "block_file": str(block)}, conn=conn)
        before = await enqueue(jobs_probe.BLOCK_THEN_EFFECT,
                               {"key": "before", "block_file": str(block)}, conn=conn)

    async def status(job_id: int) -> str:
        return (await _rows("SELECT status::text AS s FROM procrastinate_jobs WHERE id = $1",
                            [job_id]))[0]["s"]

    with tempfile.NamedTemporaryFile(prefix="carnet-worker-", suffix=".log") as log:
        first = _start_worker(env, log)
        try:
            async def both_hanging() -> bool:
                return ((await _probe("after")).get("effects") == 1
                        and (await _probe("before")).get("runs") == 1)
            await _until(both_hanging, 120, "both jobs to start", first)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        except BaseException:
            first.kill()
            log.flush()
            sys.stderr.write(Path(log.name).read_text()[-4000:])
            raise
        # Killed mid-job: the queue still says "doing", one effect made, one not.
        assert [await status(after), await status(before)] == ["doing", "doing"]
        assert await _probe("after") == {"runs": 1, "effects": 1}
        assert await _probe("before") == {"runs": 1, "effects": 0}

        block.unlink()  # the next runs do not hang
        second = _start_worker(env, log)
        try:
            async def both_done() -> bool:
                return [await status(after), await status(before)] == ["succeeded"] * 2
            await _until(both_done, 120, "the jobs to run again", second)
        except BaseException:
            log.flush()
            sys.stderr.write(Path(log.name).read_text()[-4000:])
            raise
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(timeout=15)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait(timeout=5)
    # Each ran twice; each effect happened exactly once.
    assert await _probe("after") == {"runs": 2, "effects": 1}
    assert await _probe("before") == {"runs": 2, "effects": 1}
    assert second.returncode == 0, "SIGTERM stops a worker cleanly"
    with contextlib.suppress(OSError):
        os.rmdir(block.parent)


async def test_migration_0023_is_idempotent_and_reversible(app, clean):
    import importlib
    from types import SimpleNamespace

    migration = importlib.import_module("backend.migrations.0023_job_queue")
    op, editor = migration.ProcrastinateSchema(), SimpleNamespace(client=_db())

    async def objects() -> dict[str, int]:
        rows = await _rows(
            "SELECT (SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%') AS f, "
            "(SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%') AS t, "
            "(SELECT count(*) FROM pg_tables WHERE tablename LIKE 'procrastinate%') AS r")
        return {k: int(v) for k, v in rows[0].items()}

    applied = await objects()
    assert applied["r"] == len(migration.UNVERSIONED) == 4
    await op.database_forward("carnet", None, None, editor)  # already there: left as it is
    assert await objects() == applied
    try:
        await op.database_backward("carnet", None, None, editor)
        assert await objects() == {"f": 0, "t": 0, "r": 0}
    finally:
        await op.database_forward("carnet", None, None, editor)
    assert await objects() == applied
    assert await enqueue(jobs_probe.FAILING, {"key": "x"}, conn=_db()) is not None
