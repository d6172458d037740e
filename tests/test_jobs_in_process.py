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
