"""`carnet serve`: its help says how many workers and what pool sizes, its options set the
pools of every worker, and each worker tunes its garbage collector once started."""

from __future__ import annotations

import gc

import pytest

from backend import cli
from backend.runtime import GC_THRESHOLDS, tune_gc
from backend.settings import get_settings


def test_the_help_tells_workers_per_core_and_pool_sizes(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["serve", "--help"])
    text = capsys.readouterr().out
    for words in ("one\nworker per core", "DB_POOL_MAX_SIZE", "REDIS_POOL_MAX_SIZE",
                  "max_connections", "--db-pool-max-size", "--redis-pool-max-size"):
        assert words.replace("\n", " ") in " ".join(text.split()), words


def test_the_pool_options_reach_every_worker(monkeypatch):
    monkeypatch.setenv("CARNET_ENV", "dev")
    monkeypatch.delenv("DB_POOL_MAX_SIZE", raising=False)
    monkeypatch.delenv("REDIS_POOL_MAX_SIZE", raising=False)
    seen = {}

    def run(app, **options):
        # uvicorn's workers read their settings from the environment they inherit.
        seen.update(options, settings=get_settings())

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", run)
    args = cli.build_parser().parse_args(["serve", "--db-pool-max-size", "7",
                                          "--redis-pool-max-size", "20"])
    try:
        assert cli.cmd_serve(args) == 0
        assert seen["settings"].db_pool_max_size == 7
        assert seen["settings"].redis_pool_max_size == 20
        assert seen["access_log"] is False and seen["workers"] == 1
    finally:
        monkeypatch.delenv("DB_POOL_MAX_SIZE", raising=False)
        monkeypatch.delenv("REDIS_POOL_MAX_SIZE", raising=False)
        get_settings.cache_clear()


def test_tune_gc_freezes_start_up_objects_and_raises_thresholds():
    previous = gc.get_threshold()
    try:
        tune_gc((12_345, 11, 13))
        assert gc.get_threshold() == (12_345, 11, 13)
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*previous)


async def test_the_app_tunes_the_collector_once_started(app):
    assert app.state.runtime.settings.gc_tuning
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
