"""Jobs for tests/test_jobs.py only (loaded with `carnet worker --tasks tests.jobs_probe`).

They write to `job_probe`, a table tests/test_jobs.py creates and drops: `runs` counts every
time a job body started, `effects` its effect, made idempotent the way real jobs are (a
conditional UPDATE on a marker: `done`)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from tortoise import connections

from backend.jobs import tasks

PROBE_TABLE = ("CREATE TABLE IF NOT EXISTS job_probe (key TEXT PRIMARY KEY, "
               "runs INT NOT NULL DEFAULT 0, effects INT NOT NULL DEFAULT 0, "
               "done BOOLEAN NOT NULL DEFAULT FALSE)")
EFFECT_THEN_BLOCK = "probe.effect_then_block"
BLOCK_THEN_EFFECT = "probe.block_then_effect"
FAILING = "probe.failing"


def _db() -> Any:
    return connections.get("default")


async def _ran(key: str) -> None:
    await _db().execute_query("UPDATE job_probe SET runs = runs + 1 WHERE key = $1", [key])


async def _effect(key: str) -> None:
    # The effect happens once: only the run that flips the marker makes it.
    await _db().execute_query(
        "UPDATE job_probe SET effects = effects + 1, done = TRUE WHERE key = $1 AND NOT done",
        [key])


async def _blocked(path: str) -> None:
    while os.path.exists(path):  # noqa: ASYNC110 - a test's hand-made barrier
        await asyncio.sleep(0.05)


@tasks.job(EFFECT_THEN_BLOCK)
async def effect_then_block(rt: Any, key: str, block_file: str) -> None:
    """Its effect, then it hangs while `block_file` exists: a worker killed there has done
    the work but not told the queue."""
    await _ran(key)
    await _effect(key)
    await _blocked(block_file)


@tasks.job(BLOCK_THEN_EFFECT)
async def block_then_effect(rt: Any, key: str, block_file: str) -> None:
    """Hangs before its effect: a worker killed there has done nothing yet."""
    await _ran(key)
    await _blocked(block_file)
    await _effect(key)


@tasks.job(FAILING, max_attempts=3)
async def failing(rt: Any, key: str) -> None:
    await _ran(key)
    raise RuntimeError("probe failure")
