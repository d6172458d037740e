"""The in-process job runner of the zero-setup default (backend/jobs/fallback.py): on SQLite,
`enqueue` hands the job to the API process's runner, which runs it soon after; failures are
retried with exponential backoff, then given up. (The durable queue: tests/test_jobs.py.)"""

from __future__ import annotations

import asyncio
import copy
import time

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from backend.jobs import enqueue, fallback, tasks
from backend.jobs.fallback import FallbackRunner
from backend.jobs.registry import Registry
from tests.conftest import ON_SQLITE


async def test_the_in_process_runner_retries_with_backoff(app):
    rt = copy.copy(app.state.runtime)
    rt.settings = rt.settings.model_copy(update={"jobs_retry_backoff_seconds": 2})
    registry = Registry()
    runs: list[float] = []

    @registry.job("t.flaky", max_attempts=3)
    async def flaky(runtime, n: int) -> None:
        runs.append(time.monotonic())
        raise RuntimeError("flaky")

    runner = FallbackRunner(rt, registry)
    runner.submit("t.flaky", {"n": 1})
    assert await runner.run_due() == 1
    assert await runner.run_due() == 0  # not before its backoff
    (retry,) = runner._pending
    assert retry.attempt == 2 and 1.5 <= retry.due - runs[0] <= 2.5
    retry.due = time.monotonic()
    await runner.run_due()
    (retry,) = runner._pending
    assert retry.attempt == 3 and 3.5 <= retry.due - runs[1] <= 4.5
    retry.due = time.monotonic()
    await runner.run_due()
    assert runner._pending == [] and len(runs) == 3  # given up after 3 attempts


@pytest.mark.skipif(not ON_SQLITE, reason="on PostgreSQL the job goes to the durable queue")
async def test_on_sqlite_an_enqueued_job_runs_in_the_api_process(app, clean):
    assert fallback.active() is not None, "the API's lifespan runs the in-process runner"
    ran = asyncio.Event()
    seen: list[dict] = []

    @tasks.job("t.in_process")
    async def in_process(runtime, key: str) -> None:
        assert runtime is app.state.runtime
        seen.append({"key": key})
        ran.set()

    try:
        async with in_transaction() as conn:
            assert await enqueue("t.in_process", {"key": "k"}, conn=conn) is None
        async with asyncio.timeout(10):
            await ran.wait()
        assert seen == [{"key": "k"}]
        # No durable queue on SQLite: no table for it either.
        rows = await connections.get("default").execute_query_dict(
            "SELECT name FROM sqlite_master WHERE name LIKE 'procrastinate%'")
        assert rows == []
    finally:
        tasks.remove("t.in_process")


def test_a_worker_is_not_declared_dead_between_two_heartbeats():
    from backend.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="JOBS_STALLED_SECONDS"):
        load_settings(database_url="sqlite://:memory:", jobs_heartbeat_seconds=10,
                      jobs_stalled_seconds=15)
    assert load_settings(database_url="sqlite://:memory:").jobs_stalled_seconds == 60


@pytest.mark.parametrize("database_url", ["sqlite://var/x.sqlite3",
                                          "postgres://u@127.0.0.1:5432/carnet"])
def test_carnet_dev_starts_a_worker_on_postgresql_only(monkeypatch, tmp_path, database_url):
    """`make run` (SQLite): the API process runs the jobs; on PostgreSQL, `carnet dev` starts a
    `carnet worker` beside `carnet serve`."""
    import argparse

    from backend import cli
    from backend.settings import get_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    started: list[list[str]] = []

    class Done:
        returncode = 0
        args = ["python", "-m", "backend.cli", "serve"]

        def poll(self) -> int:
            return 0

    def start(self, command, **kwargs) -> None:
        started.append(command[3:])
        self.procs.append(Done())

    monkeypatch.setattr(cli, "cmd_migrate", lambda args: 0)
    monkeypatch.setattr(cli, "cmd_seed_demo", lambda args: 0)
    monkeypatch.setattr(cli._DevSignals, "start", start)
    args = argparse.Namespace(api_port=8000, web_port=3000, web_backend_port=8001,
                              no_frontend=True)
    try:
        cli._run_dev(args, cli._DevSignals([]))
    finally:
        get_settings.cache_clear()
    commands = [command[0] for command in started]
    assert commands == (["serve", "worker"] if database_url.startswith("postgres")
                        else ["serve"])
