"""Test fixtures: a fresh PostgreSQL database built from the migrations, a Redis db index,
and the app under test with its lifespan running.

Services: PostgreSQL at CARNET_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres,
used only to create and drop a database of our own) and Redis at CARNET_TEST_REDIS_URL (default
redis://127.0.0.1:6379/15, flushed); the Redis Cluster tests start their own cluster from the
redis-server binary. Locally a missing service skips the tests that need it; with CI=true it is
a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from tortoise import Tortoise, connections

from backend import db
from backend.settings import Settings, generate_master_key, load_settings
from tests.servers import PrivateRedis, PrivateRedisCluster

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "CARNET_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("CARNET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MASTER_KEY = generate_master_key()
# Every test session has its own Redis namespace: concurrent runs on one Redis never collide.
REDIS_PREFIX = f"carnet-test-{os.getpid()}-{secrets.token_hex(3)}:"
BLOB_DIR = tempfile.mkdtemp(prefix="carnet-test-blobs-")


def service_missing(what: str, error: BaseException) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


# CARNET_TEST_DATABASE=sqlite runs the tests on a fresh SQLite file instead (the zero-setup
# default database), e.g. for the screens' statement counts and the raw SQL that has a path
# per dialect. Not every test file is meant for it (some start PostgreSQL-only servers).
TEST_DATABASE = os.environ.get("CARNET_TEST_DATABASE", "postgres").lower()
ON_SQLITE = TEST_DATABASE == "sqlite"


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A brand-new database for this test session, dropped at the end (PostgreSQL, or a
    SQLite file with CARNET_TEST_DATABASE=sqlite)."""
    name = f"carnet_test_{os.getpid()}_{secrets.token_hex(3)}"
    if ON_SQLITE:
        directory = tempfile.mkdtemp(prefix="carnet-test-sqlite-")
        yield f"sqlite://{directory}/{name}.sqlite3"
        shutil.rmtree(directory, ignore_errors=True)
        return
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"),
                                      timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing(f"PostgreSQL ({PG_ADMIN_URL})", exc)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(PG_ADMIN_URL, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    client = aioredis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.ConnectionError) as exc:
        await client.aclose()
        service_missing(f"Redis ({REDIS_TEST_URL})", exc)
    yield REDIS_TEST_URL
    await delete_namespace(client)
    await client.aclose()


def make_settings(database_url: str, redis_url: str | None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "carnet_env": "dev",
        "database_url": database_url,
        "redis_url": redis_url,
        "carnet_master_key": MASTER_KEY,
        "smtp_host": None,
        "sms_webhook_url": None,
        "allowed_origins": ["http://testserver"],
        "blob_dir": BLOB_DIR,
        "redis_key_prefix": REDIS_PREFIX,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="session")
async def settings(pg_url: str, redis_url: str) -> Settings:
    return make_settings(pg_url, redis_url)


@pytest.fixture(scope="session")
def server_env(settings: Settings) -> dict[str, str]:
    """Environment for real `carnet serve` processes sharing the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARNET_", "SMTP_"))}
    env.update(
        {
            "CARNET_ENV": "dev",
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url or "",
            "CARNET_MASTER_KEY": MASTER_KEY,
            "BLOB_DIR": settings.blob_dir,
            "REDIS_KEY_PREFIX": REDIS_PREFIX,
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


@pytest.fixture(scope="session")
async def migrated(settings: Settings) -> Settings:
    """Tables come from the migrations, never from generate_schemas: migrations cannot rot."""
    await db.migrate(settings)
    return settings


@pytest.fixture(scope="session")
async def app(migrated: Settings) -> AsyncIterator[object]:
    from backend.app import create_app

    application = create_app(migrated)
    async with application.router.lifespan_context(application):
        yield application


async def truncate_all() -> None:
    tables = [model._meta.db_table for model in Tortoise.apps[db.APP_LABEL].values()]
    tables.append("data_version")  # migration 0018's, not a model
    if tables and ON_SQLITE:
        deletes = "".join(f'DELETE FROM "{t}";' for t in tables)  # noqa: S608 (model names)
        await connections.get("default").execute_script(
            f"PRAGMA foreign_keys=OFF;{deletes}PRAGMA foreign_keys=ON;")
    elif tables:
        # The job queue's tables (migration 0023, not models): no job of an earlier test.
        tables += ["procrastinate_events", "procrastinate_periodic_defers",
                   "procrastinate_jobs", "procrastinate_workers"]
        quoted = ", ".join(f'"{t}"' for t in tables)
        await connections.get("default").execute_script(
            f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"
        )


async def delete_namespace(client: aioredis.Redis) -> None:
    keys = [key async for key in client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000)]
    if keys:
        await client.delete(*keys)


@pytest.fixture
async def clean(app: object, redis_url: str) -> AsyncIterator[None]:
    """Each test starts from empty tables, an empty Redis namespace and empty process caches
    (and no notice of an earlier test still being sent in the background)."""
    from backend.announcements import services as announcements
    from backend.identity import notices

    client = aioredis.Redis.from_url(redis_url)
    await notices.drain()
    await delete_namespace(client)
    await truncate_all()
    announcements.forget_cached()  # TRUNCATE passes by the ORM's signals
    app.state.response_cache.clear()  # and by the data version triggers
    yield
    await notices.drain()
    await delete_namespace(client)
    await client.aclose()


@pytest.fixture
async def client(app: object, clean: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    async def __call__(
        self, query: str, variables: dict | None = None, *, token: str | None = None
    ) -> dict:
        headers = {}
        if token or self.token:
            headers["Authorization"] = f"Bearer {token or self.token}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        return response.json()


@pytest.fixture
async def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    import shutil as _shutil

    if not _shutil.which("redis-server") and not os.path.exists("/usr/bin/redis-server"):
        service_missing("redis-server binary", FileNotFoundError("redis-server"))
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[PrivateRedisCluster]:
    """A 3-master Redis Cluster of our own (started once per test session, then removed)."""
    import shutil as _shutil
    import subprocess as _subprocess

    for binary in ("redis-server", "redis-cli"):
        if not _shutil.which(binary) and not os.path.exists(f"/usr/bin/{binary}"):
            service_missing(f"{binary} binary", FileNotFoundError(binary))
    cluster = PrivateRedisCluster(masters=3)
    try:
        cluster.start()
    except (OSError, _subprocess.SubprocessError, TimeoutError) as exc:
        cluster.close()
        service_missing("a local Redis Cluster (redis-server --cluster-enabled yes)", exc)
    yield cluster
    cluster.close()


@pytest.fixture
def notifier(app) -> Iterator[object]:
    """Swap the app's notifier for a recording one for the duration of a test."""
    from backend.notifications.testing import RecordingNotifier

    runtime = app.state.runtime
    previous = runtime.notifier
    runtime.notifier = RecordingNotifier()
    yield runtime.notifier
    runtime.notifier = previous
