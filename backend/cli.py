"""The `carnet` command: migrate, serve, dev, export-schema and operator tools."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from backend.settings import (
    CONSENT_PAGE_PATH,
    DEV_TRUSTED_PROXIES,
    SettingsError,
    get_settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema.graphql"
FRONTEND_DIR = ROOT / "frontend"

# Set by `makemigrations` so Tortoise's own CLI can read the config by dotted path.
TORTOISE_ORM: dict[str, Any] = {}


def _configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Tortoise logs every SQL statement WITH its values at DEBUG: values are health data.
    logging.getLogger("tortoise.db_client").setLevel(logging.INFO)


def cmd_migrate(args: argparse.Namespace) -> int:
    from backend import db

    settings = get_settings()
    asyncio.run(db.migrate(settings))
    print("Migrations applied.", file=sys.stderr)
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:
    """Developers: write a migration for model changes (uses a throwaway SQLite database)."""
    import tempfile

    from tortoise.cli.cli import run_cli_async

    from backend import db

    if args.check:
        pending = asyncio.run(db.pending_model_changes())
        if pending:
            print(f"Models changed without a migration ({', '.join(pending)}): "
                  "run `carnet makemigrations`", file=sys.stderr)
            return 1
        print("Migrations match the models.", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(database_url=f"sqlite://{tmp}/makemigrations.sqlite3")
        # Replay existing migrations first so the autodetector diffs against the real state.
        asyncio.run(db.migrate(settings))
        TORTOISE_ORM.clear()
        TORTOISE_ORM.update(db.tortoise_config(settings))
        argv = ["-c", "backend.cli.TORTOISE_ORM", "makemigrations"]
        if args.name:
            argv += ["--name", args.name]
        return asyncio.run(run_cli_async(argv)) or 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from backend.schema import schema_sdl

    sdl = schema_sdl()
    target = Path(args.output) if args.output and args.output != "-" else SCHEMA_FILE
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != sdl:
            print(f"{target} is out of date: run `carnet export-schema`", file=sys.stderr)
            return 1
        print(f"{target} is up to date.", file=sys.stderr)
        return 0
    if args.output == "-":
        sys.stdout.write(sdl)
        return 0
    target.write_text(sdl)
    # Like `strawberry export-schema`, also print the SDL (tools diff it against the file).
    sys.stdout.write(sdl)
    print(f"Wrote {target}", file=sys.stderr)
    return 0


SERVE_HELP = """Serve the API with uvicorn.

Workers: each worker is one process with one event loop (one core at most). Run about one
worker per core given to Carnet (`--workers 2` on 2 cores); fewer when PostgreSQL and Redis
share those cores (they need CPU too). More workers than cores only add memory and
connections. Several workers need REDIS_URL.

Pools, per worker:
  database  DB_POOL_MAX_SIZE (default 5) asyncpg connections (at least 1 kept open). Keep
            workers x DB_POOL_MAX_SIZE (+ `carnet` commands, + migrations) under PostgreSQL's
            max_connections (100 by default). A request holds a connection only for each
            statement, so 5 covers a worker's load; raise it for slow queries.
  Redis     REDIS_POOL_MAX_SIZE (default 100) command connections, plus one pub/sub
            connection; a request waits for a free one when all are busy.
The options below set those settings for every worker (they override the environment).

Start-up freezes the objects it made (gc.freeze) and raises the garbage collector's thresholds
(GC_TUNING=false keeps Python's defaults).
"""


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # Every worker reads its settings from the environment: options go there first.
    for option, name in (("db_pool_max_size", "DB_POOL_MAX_SIZE"),
                         ("redis_pool_max_size", "REDIS_POOL_MAX_SIZE")):
        if getattr(args, option, None) is not None:
            os.environ[name] = str(getattr(args, option))
    get_settings.cache_clear()
    settings = get_settings()
    if args.workers > 1 and not settings.redis_url:
        print(
            "carnet serve: --workers > 1 needs REDIS_URL (the in-process broker cannot reach "
            "other workers).",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        "backend.app:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        **uvicorn_options(settings),
    )
    return 0


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """The uvicorn options of `carnet serve` but the app, address and workers (bench/screens.py
    serves its plain Starlette reference with the same ones)."""
    return {
        # X-Forwarded-For gives the client address only from the trusted proxies (the web
        # app): anyone else could choose the address the rate limits and audit trail see.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies,
        "log_level": settings.log_level.lower(),
        "access_log": False,  # request lines could carry query strings with identifiers
    }


WORKER_HELP = """Run background jobs from the durable queue (PostgreSQL; backend/jobs/).

The notifications (messages waiting, released documents, appointment reminders and change
notices) and every later job. Run one or more workers beside `carnet serve` (any number, on any
machines: each job runs once at a time, periodic ones once per tick). SIGINT/SIGTERM stops
taking jobs and lets those in progress finish; a worker killed mid-job loses nothing: another
worker runs the job again once the dead one's heartbeat is JOBS_STALLED_SECONDS old, and every
job's effect happens once.

Connections: DB_POOL_MAX_SIZE for the jobs (Tortoise) + up to --concurrency + 3 for the queue.

On SQLite (the zero-setup default) there is no durable queue: `carnet serve` runs the jobs in
its own process (not durable, see docs/jobs.md), and this command refuses.
"""


def cmd_worker(args: argparse.Namespace) -> int:
    from backend import db
    from backend.bootstrap import build_runtime, load_tasks
    from backend.jobs import queue

    settings = get_settings()
    if not settings.uses_postgres:
        print("carnet worker: the durable job queue needs PostgreSQL (DATABASE_URL); on SQLite "
              "`carnet serve` runs the jobs in its own process.", file=sys.stderr)
        return 2
    concurrency = args.concurrency or settings.jobs_concurrency
    if concurrency < 1:
        print("carnet worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    registry = load_tasks(tuple(args.tasks or ()))

    async def ping() -> None:
        from tortoise import connections

        await connections.get("default").execute_query("SELECT 1")

    async def run() -> None:
        runtime = build_runtime(settings)
        await db.init_standalone(settings)
        try:
            await runtime.start()
            await queue.run_worker(
                runtime, queue.build_app(settings, registry), concurrency=concurrency,
                name=args.name, ping=ping,
                health_file=Path(args.health_file) if args.health_file else None)
        finally:
            await db.close_standalone()
            await runtime.aclose()

    print(f"carnet worker: {concurrency} job(s) at a time, "
          f"{sum(1 for _ in registry)} job type(s).", file=sys.stderr)
    asyncio.run(run())
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    """Operators: the queue's state, and failed jobs put back (PostgreSQL)."""
    from tortoise import connections

    from backend import db
    from backend.jobs import queue

    settings = get_settings()
    if not settings.uses_postgres:
        print("carnet jobs: the durable job queue needs PostgreSQL (DATABASE_URL).",
              file=sys.stderr)
        return 2

    async def run() -> dict[str, Any]:
        await db.init_standalone(settings)
        try:
            conn = connections.get("default")
            if args.action == "retry-failed":
                return {"retried": await queue.retry_failed(conn, args.task)}
            return await queue.status(conn)
        finally:
            await db.close_standalone()

    print(json.dumps(asyncio.run(run()), indent=2))
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from backend import db
    from backend.demo import seed_demo

    async def run() -> dict[str, Any]:
        settings = get_settings()
        await db.init_standalone(settings)
        try:
            return await seed_demo(settings)
        finally:
            await db.close_standalone()

    print(json.dumps(asyncio.run(run()), indent=2, ensure_ascii=False))
    return 0


def cmd_announce(args: argparse.Namespace) -> int:
    from backend import db
    from backend.announcements import services
    from backend.bootstrap import build_runtime

    async def run() -> dict[str, Any]:
        settings = get_settings()
        runtime = build_runtime(settings)
        await db.init_standalone(settings)
        try:
            row = await services.publish(runtime.broker, title=args.title, body=args.body)
            return {"id": row.id, "publishedAt": row.published_at.isoformat()}
        finally:
            await db.close_standalone()
            await runtime.aclose()

    try:
        print(json.dumps(asyncio.run(run())))
    except services.InvalidAnnouncement as exc:
        print(f"carnet announce: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    from backend import db
    from backend.bootstrap import build_runtime
    from backend.records import services

    async def run() -> int:
        settings = get_settings()
        runtime = build_runtime(settings)
        await db.init_standalone(settings)
        try:
            return await services.purge_deleted(runtime)
        finally:
            await db.close_standalone()
            await runtime.aclose()

    print(json.dumps({"purged": asyncio.run(run())}))
    return 0


def _dev_env(api_port: int, *, frontend: bool, web_port: int = 3000) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CARNET_API_URL", f"http://127.0.0.1:{api_port}/graphql")
    if get_settings().oauth_authorization_page_url is None:
        # GET /oauth/authorize sends apps' users to the consent page of this web app.
        env["OAUTH_AUTHORIZATION_PAGE_URL"] = f"http://127.0.0.1:{web_port}{CONSENT_PAGE_PATH}"
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
    env.setdefault("REFLEX_HTTP_CLIENT_BIND_ADDRESS", "0.0.0.0")
    if get_settings().forwarded_allow_ips is None:
        # The API believes X-Forwarded-For only from the web app (on 127.0.0.1 here); with no
        # web app, from nobody.
        env["FORWARDED_ALLOW_IPS"] = DEV_TRUSTED_PROXIES if frontend else ""
    jstools = ROOT / ".jstools" / "node_modules" / ".bin"
    if jstools.exists():
        env["PATH"] = f"{jstools}{os.pathsep}{env.get('PATH', '')}"
    return env


class _StopRequested(Exception):  # noqa: N818 - a request, not an error
    """SIGINT or SIGTERM reached `carnet dev`."""


def cmd_dev(args: argparse.Namespace) -> int:
    """API + SPA with demo data on the embedded defaults (SQLite, in-process broker).

    SIGINT (Ctrl-C) and SIGTERM stop everything, even when SIGINT was ignored at start (as for a
    job started in the background by a shell script): each child runs in its own process group,
    which gets SIGINT, then SIGKILL if it has not stopped after a few seconds.
    """
    procs: list[subprocess.Popen[bytes]] = []
    state = _DevSignals(procs)
    previous = {sig: signal.signal(sig, state.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _run_dev(args, state)
    except _StopRequested as stop:
        print(f"\ncarnet dev: {stop}, stopping...", file=sys.stderr)
        return 0
    finally:
        state.stopping = True
        _stop_children(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _DevSignals:
    """The first SIGINT/SIGTERM stops `carnet dev` (raises _StopRequested), except while a
    child is being started (deferred until it is recorded, so none is missed); later ones, or
    any during the stop, SIGKILL the children at once."""

    def __init__(self, procs: list[subprocess.Popen[bytes]]) -> None:
        self.procs = procs
        self.stopping = False
        self.starting = False
        self.pending: int | None = None

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.stopping:
            _kill_groups(self.procs, signal.SIGKILL)
        elif self.starting:
            self.pending = signum
        else:
            self.stopping = True
            raise _StopRequested(signal.Signals(signum).name)

    def start(self, command: list[str], **kwargs: Any) -> None:
        self.starting = True
        try:
            self.procs.append(subprocess.Popen(
                command, stdin=subprocess.DEVNULL,
                # Its own process group (with its children: bun, Vite, uvicorn workers), which
                # `_stop_children` signals as a whole; the terminal's Ctrl-C reaches only us.
                start_new_session=True, **kwargs,
            ))
        finally:
            self.starting = False
        if self.pending is not None:
            self.stopping = True
            raise _StopRequested(signal.Signals(self.pending).name)


def _run_dev(args: argparse.Namespace, state: _DevSignals) -> int:
    settings = get_settings()
    print("Applying migrations...", file=sys.stderr)
    cmd_migrate(args)
    cmd_seed_demo(args)
    env = _dev_env(args.api_port, frontend=not args.no_frontend, web_port=args.web_port)
    carnet = [sys.executable, "-m", "backend.cli"]
    state.start([*carnet, "serve", "--host", "127.0.0.1", "--port", str(args.api_port)],
                env=env)
    # Background jobs: on PostgreSQL a `carnet worker` (the durable queue); on SQLite the API
    # process runs them itself (backend/jobs/fallback.py).
    if settings.uses_postgres:
        state.start([*carnet, "worker"], env=env)
    from backend.demo import DEMO_LOGINS

    banner = (
        "\nCarnet is running:\n"
        + (f"  Web app          http://127.0.0.1:{args.web_port}/\n"
           f"  Web app backend  http://127.0.0.1:{args.web_backend_port} (Reflex: state, "
           "uploads, downloads)\n" if not args.no_frontend else "")
        + f"  GraphQL API      http://127.0.0.1:{args.api_port}/graphql"
        f"{' (GraphiQL in a browser)' if settings.graphiql else ''}\n"
        f"  Database         "
        f"{settings.database_url if 'sqlite' in settings.database_url else '(set)'}\n"
        + "".join(f"  Demo login       {login} / {password}\n"
                  for login, password in DEMO_LOGINS.items()) +
        "  Login codes are printed here when no SMTP is configured. Ctrl-C stops everything.\n"
    )
    if args.no_frontend:
        print(banner, file=sys.stderr)
    else:
        print("Building the web app (the first build takes a minute)...", file=sys.stderr)
        state.start([
            sys.executable, "-m", "reflex", "run", "--env", "dev",
            "--frontend-port", str(args.web_port),
            "--backend-port", str(args.web_backend_port),
            "--backend-host", "127.0.0.1",
        ], env=env, cwd=FRONTEND_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        web = state.procs[-1]
        assert web.stdout is not None
        threading.Thread(target=_relay_reflex_output, args=(web.stdout, banner),
                         name="reflex-output", daemon=True).start()
    while True:
        for proc in state.procs:
            if proc.poll() is not None:
                name = " ".join(str(part) for part in proc.args[2:4])
                print(f"carnet dev: `{name}` exited with {proc.returncode}, stopping the rest.",
                      file=sys.stderr)
                return proc.returncode or 1
        time.sleep(0.2)


#: Reflex's own "where it runs" lines: replaced by Carnet's banner (every URL and port, once).
_REFLEX_ADDRESS_LINE = re.compile(r"^(App running at|Backend running at):")


def _relay_reflex_output(stream: IO[bytes], banner: str) -> None:
    """Copy Reflex's output to our stderr, except its address lines: the first one is replaced
    by Carnet's banner (printed when the web app is actually up)."""
    shown = False
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        if _REFLEX_ADDRESS_LINE.match(line):
            if not shown:
                shown = True
                print(banner, file=sys.stderr, flush=True)
            continue
        sys.stderr.write(line)
        sys.stderr.flush()


def _kill_groups(procs: list[subprocess.Popen[bytes]], sig: int) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def _stop_children(procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """SIGINT to every child's process group (what Ctrl-C does), SIGKILL after `grace`."""
    _kill_groups(procs, signal.SIGINT)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    # Whatever is left in the groups (leader gone or not): no orphan outlives `carnet dev`.
    _kill_groups(procs, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def _campaign(command: Callable[..., int]) -> Callable[[argparse.Namespace], int]:
    """`carnet campaign ...` with the runtime builder (its notices need the notifier)."""

    def run(args: argparse.Namespace) -> int:
        from backend.bootstrap import build_runtime

        return command(args, build_runtime)

    return run


def _access(args: argparse.Namespace) -> int:
    """`carnet access ...`; `hand-over` tells the young adults (onboarding's notices: a
    domain above access, so the composition root routes it)."""
    from backend.access import cli as access_cli
    from backend.onboarding import cli as onboarding_cli

    if args.access_command == "hand-over":
        from backend.bootstrap import build_runtime

        return onboarding_cli.cmd_hand_over(args, build_runtime)
    return access_cli.cmd_access(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carnet", description="Carnet personal health space")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations (idempotent)")
    mk = sub.add_parser("makemigrations", help="write a migration for model changes")
    mk.add_argument("--name")
    mk.add_argument("--check", action="store_true", help="fail if models have unmigrated changes")

    serve = sub.add_parser("serve", help="serve the API with uvicorn", description=SERVE_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes: about one per core (default 1)")
    serve.add_argument("--db-pool-max-size", type=int, metavar="N",
                       help="PostgreSQL connections per worker (DB_POOL_MAX_SIZE, default 5)")
    serve.add_argument("--redis-pool-max-size", type=int, metavar="N",
                       help="Redis command connections per worker (REDIS_POOL_MAX_SIZE, "
                            "default 100)")

    worker = sub.add_parser("worker", help="run background jobs (PostgreSQL)",
                            description=WORKER_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    worker.add_argument("--concurrency", type=int, metavar="N",
                        help="jobs run at once (JOBS_CONCURRENCY, default 4)")
    worker.add_argument("--name", help="this worker's name in the logs")
    worker.add_argument("--health-file", metavar="PATH",
                        help="touched while the worker and its database are alive (container "
                             "healthchecks)")
    worker.add_argument("--tasks", action="append", metavar="MODULE",
                        help="also register the jobs of this module (tests, plug-ins)")

    jobs = sub.add_parser("jobs", help="the job queue: status, retry failed jobs (PostgreSQL)")
    jobs.add_argument("action", choices=["status", "retry-failed"],
                      help="status: jobs by task and status, workers' heartbeats; "
                           "retry-failed: put failed jobs back in the queue")
    jobs.add_argument("--task", help="retry-failed: only this job (e.g. agenda.send_notices)")

    dev = sub.add_parser("dev", help="API + web app with demo data on the embedded defaults")
    dev.add_argument("--api-port", type=int, default=8000)
    dev.add_argument("--web-port", type=int, default=3000)
    dev.add_argument("--web-backend-port", type=int, default=8001)
    dev.add_argument("--no-frontend", action="store_true")

    export = sub.add_parser("export-schema", help="write schema.graphql from the code")
    export.add_argument("--output")
    export.add_argument("--check", action="store_true", help="fail if the file is out of date")

    sub.add_parser("seed-demo", help="create demo data (idempotent)")
    announce = sub.add_parser("announce", help="publish a service announcement")
    announce.add_argument("--title", required=True)
    announce.add_argument("--body", required=True)

    from backend.access import cli as access_cli
    from backend.audit import cli as audit_cli
    from backend.catalogue import cli as catalogue_cli
    from backend.identity import cli as identity_cli
    from backend.keys import cli as keys_cli
    from backend.oauth import cli as oauth_cli
    from backend.onboarding import cli as onboarding_cli

    identity_cli.add_parsers(sub)
    keys_cli.add_parsers(sub)
    audit_cli.add_parsers(sub)
    access_cli.add_parsers(sub)
    oauth_cli.add_parsers(catalogue_cli.add_parsers(sub))
    onboarding_cli.add_parsers(sub)
    documents = sub.add_parser("documents", help="medical record maintenance")
    documents.add_argument("action", choices=["purge"],
                           help="purge: delete soft-deleted documents past their retention")
    COMMANDS.update(
        {
            "patient": identity_cli.cmd_patient,
            "access": _access,
            "apps": oauth_cli.with_credentials(catalogue_cli.cmd_apps),
            "keys": keys_cli.cmd_keys,
            "campaign": _campaign(onboarding_cli.cmd_campaign),
            "audit": audit_cli.cmd_audit,
            "documents": cmd_documents,
            "professional": identity_cli.cmd_professional,
            "migrate": cmd_migrate,
            "makemigrations": cmd_makemigrations,
            "serve": cmd_serve,
            "worker": cmd_worker,
            "jobs": cmd_jobs,
            "dev": cmd_dev,
            "export-schema": cmd_export_schema,
            "seed-demo": cmd_seed_demo,
            "announce": cmd_announce,
        }
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"carnet: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        return COMMANDS[args.command](args)
    except SettingsError as exc:
        print(f"carnet: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
