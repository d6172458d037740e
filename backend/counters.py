"""Benchmark counters: SQL statements, pool resets, Redis commands and HTTP requests of one
server process, for bench/screens.py. Off unless CARNET_BENCH_COUNTERS names a file.

When on, the asyncpg connection class (backend/db.py) and the Redis client (backend/kv.py)
count what they send, a thin ASGI wrapper counts the HTTP requests answered, and SIGUSR1 makes
the process write the totals as JSON to `<CARNET_BENCH_COUNTERS>.<pid>` (written to a
temporary file, then renamed). Only numbers are kept: never a statement, a key or a value.

PostgreSQL's pg_stat_statements is not loaded on every machine, and Redis' INFO commandstats
counts every client of a shared server (other test runs, the bench's own writer): counting in
the process under measurement is exact for that process.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

ENV = "CARNET_BENCH_COUNTERS"

COUNTS: dict[str, int] = {"sql": 0, "sql_resets": 0, "redis": 0, "http": 0, "dumps": 0}


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def dump() -> Path | None:
    """Write the totals to `<CARNET_BENCH_COUNTERS>.<pid>`; the path, or None when off."""
    base = os.environ.get(ENV)
    if not base:
        return None
    COUNTS["dumps"] += 1
    target = Path(f"{base}.{os.getpid()}")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(COUNTS))
    tmp.replace(target)
    return target


def install_signal_handler() -> None:
    """SIGUSR1 dumps the counters (call from the running event loop, when enabled)."""
    import asyncio

    if enabled():
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)


class CountRequests:
    """ASGI wrapper counting HTTP requests (only installed when the counters are on)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            COUNTS["http"] += 1
        await self.app(scope, receive, send)
