"""Database configuration and migrations (Tortoise ORM, PostgreSQL or SQLite).

All domains share one Tortoise app, "carnet", so that models can reference each other across
domains; its migrations live in `backend/migrations/` and are the only way tables get created.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise, connections

from backend import counters
from backend.settings import Settings

APP_LABEL = "carnet"

# Every domain's models module; a new domain adds itself here and runs `carnet makemigrations`.
MODEL_MODULES = [
    "backend.announcements.models",
    "backend.audit.models",
    "backend.identity.models",
    "backend.keys.models",
    "backend.records.models",
    "backend.access.models",
    "backend.messaging.models",
    "backend.profile.models",
    "backend.agenda.models",
    "backend.catalogue.models",
    "backend.oauth.models",
    "backend.onboarding.models",
]

# Raised by asyncpg / the OS when PostgreSQL is down or restarting; the API answers these with a
# "service unavailable, retry" error rather than a 500 (see backend/errors.py).
DATABASE_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionRefusedError,
    ConnectionResetError,
    socket.gaierror,
    asyncio.TimeoutError,
    OSError,
)


class CarnetConnection(asyncpg.Connection):
    """asyncpg's connection without the pool's per-release reset query.

    asyncpg's pool sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    every time a connection goes back to the pool, so after EVERY statement Tortoise runs
    outside a transaction: one more round trip each (measured: ~6 % of the app's CPU, 40-45 %
    of PostgreSQL's). That query undoes session state, and Carnet creates none: no advisory
    locks (row locks only, `select_for_update`, which end with their transaction), no LISTEN
    (pub/sub is Redis), no cursors, no `SET` (connection settings are startup parameters, the
    same on every connection). tests/test_db_pool.py keeps it so. An open transaction is still
    rolled back on release (asyncpg's `Connection._reset` does that whatever the query).

    Whoever needs session state must scope it to a transaction (`SET LOCAL`,
    `pg_advisory_xact_lock`), or bring the reset back for that connection.
    """

    def get_reset_query(self) -> str:
        return ""


class CountingConnection(CarnetConnection):
    """Counts the statements and pool resets it sends (bench only: backend/counters.py)."""

    async def execute(self, query: str, *args: Any,
                      timeout: float | None = None) -> str:  # noqa: ASYNC109 - asyncpg's
        if not args:  # with arguments, asyncpg goes through _execute (counted there)
            reset = self.get_reset_query()
            counters.COUNTS["sql_resets" if reset and query == reset else "sql"] += 1
        return await super().execute(query, *args, timeout=timeout)

    async def _execute(self, *args: Any, **kwargs: Any) -> Any:
        counters.COUNTS["sql"] += 1
        return await super()._execute(*args, **kwargs)

    async def _executemany(self, *args: Any, **kwargs: Any) -> Any:
        counters.COUNTS["sql"] += 1
        return await super()._executemany(*args, **kwargs)


def _database_url(settings: Settings) -> str:
    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    # Pool size per process; workers x maxsize must stay under PostgreSQL's max_connections.
    query.setdefault("maxsize", str(settings.db_pool_max_size))
    query.setdefault("minsize", "1")
    return urlunsplit(parts._replace(query=urlencode(query)))


def tortoise_config(settings: Settings) -> dict[str, Any]:
    url = _database_url(settings)
    connection: Any = url
    if url.startswith("postgres://"):
        # Precautions against silently dropped connections (see shared notes on recovery).
        from tortoise.backends.base.config_generator import expand_db_url

        connection = expand_db_url(url)
        connection["credentials"].update(
            {"max_inactive_connection_lifetime": 300.0, "command_timeout": 30.0}
        )
        connection["credentials"]["connection_class"] = (
            CountingConnection if counters.enabled() else CarnetConnection)
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "backend.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def use_master_keys(settings: Settings) -> None:
    """Seal and open identity data at rest with these settings' master keys (every process that
    opens the ORM calls this first)."""
    from backend.crypto import use_settings

    use_settings(settings)


async def migrate(settings: Settings) -> None:
    """Apply every pending migration; running it again is a no-op."""
    from tortoise.migrations.api.migrate import migrate as migrate_api

    use_master_keys(settings)  # data migrations seal identity data
    try:
        await migrate_api(config=tortoise_config(settings))
    finally:
        await connections.close_all()


async def ping() -> None:
    """Raise if the database does not answer a trivial query."""
    conn = connections.get("default")
    await asyncio.wait_for(conn.execute_query("SELECT 1"), timeout=2.0)


async def init_standalone(settings: Settings) -> None:
    """Open the ORM outside the web app (CLI commands, scripts)."""
    use_master_keys(settings)
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def close_standalone() -> None:
    await connections.close_all()


async def pending_model_changes() -> list[str]:
    """Names of the migrations `carnet makemigrations` would write (empty when in sync).

    Compares the models with the migration files only; no real database is touched.
    """
    from tortoise.cli.cli import tortoise_cli_context
    from tortoise.migrations.autodetector import MigrationAutodetector

    from backend.settings import load_settings

    config = tortoise_config(load_settings(database_url="sqlite://:memory:"))
    async with tortoise_cli_context(config) as ctx:
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    return [f"{w.app_label}.{w.name}" for w in writers]
