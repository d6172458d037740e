"""How many complete logins (password + emailed code) per second does one Carnet worker serve?

Starts a real `carnet serve` (uvicorn, 1 worker, CARNET_ENV=production) against a throwaway
PostgreSQL database (created on 127.0.0.1:5432, migrated with `carnet migrate`, dropped at the
end) and a Redis database (default db 14, FLUSHED before and after), with an in-process aiosmtpd
SMTP server on a free loopback port as its mail relay. N patient accounts are created directly
with `backend.identity.accounts.create_patient`. Then N simulated users (asyncio + httpx, one
connection each, loopback only) loop for the duration:

  step 1  mutation login(identifier, password, channel: EMAIL)  -> LoginChallenge
          (argon2id password check, code issued and sent by SMTP before the answer)
  code    wait until the SMTP server has received that user's new 6-digit code
  step 2  mutation verifyLoginCode(challengeId, code)           -> Session

Every answer is checked (GraphQL errors come with HTTP 200): anything but a LoginChallenge or a
Session is counted by its `__typename` (or as an HTTP / transport / GraphQL error). The login
rate limits are raised to their maximum so that the bench measures the login path, not the
limiter. One login is checked end to end first (its token must answer `me`). Every phase is
bounded in time; the server, the SMTP server, the database and the Redis db are cleaned up
whatever happens (Ctrl-C or SIGTERM included).

    .venv/bin/python bench/login.py [--users 50] [--duration 10] [--warmup 2]
                                    [--database-url URL] [--redis-url URL|none]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import json
import os
import platform
import random
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

# Shared with the colleague bench (server start/stop, throwaway database, percentiles).
from graphql_overhead import (
    DB_PREFIX,
    DEFAULT_PG_ADMIN_URL,
    MAX_DURATION_S,
    _create_database,
    _drop_database,
    _raise_interrupt,
    _version,
    _with_database,
    carnet_server,
    free_port,
    percentile,
    process_cpu_seconds,
    run_cli,
    server_env,
)

DEFAULT_REDIS_URL = os.environ.get("CARNET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# Every bench account has this one, new each run (12+ characters, varied: the policy).
PASSWORD = "Bench-" + secrets.token_urlsafe(12)
EMAIL_DOMAIN = "example.com"
MAX_USERS = 500
MAX_WARMUP_S = 30
REQUEST_TIMEOUT_S = 30  # one request; at 50 users a login queues ~2 s behind argon2
CODE_TIMEOUT_S = 10  # step 1 answered -> code received by our SMTP server
SETUP_TIMEOUT_S = 180
# What we would like; each is clamped to the maximum the settings accept.
WANTED_LIMITS = {"login_rate_per_address": 1_000_000, "codes_per_account_window": 1_000_000}

LOGIN_MUTATION = """
mutation Login($identifier: String!, $password: String!) {
  login(identifier: $identifier, password: $password, channel: EMAIL) {
    __typename
    ... on LoginChallenge { challengeId channel maskedDestination }
    ... on Error { message }
  }
}"""
VERIFY_MUTATION = """
mutation Verify($challengeId: String!, $code: String!) {
  verifyLoginCode(challengeId: $challengeId, code: $code) {
    __typename
    ... on Session { token expiresAt idleTimeoutSeconds }
    ... on Error { message }
  }
}"""
ME_QUERY = "query Me { me { identifier role } }"
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


# --------------------------------------------------------------------------------------------
# SMTP capture: recipient -> latest code


class Mailbox:
    """Latest login code per recipient, filled by the SMTP thread, awaited by the users."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[int, str]] = {}  # recipient -> (messages so far, code)
        self._events: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.messages = 0
        self.without_code = 0

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._events.clear()

    def deliver(self, recipient: str, code: str | None) -> None:  # SMTP thread
        recipient = recipient.lower()
        with self._lock:
            self.messages += 1
            if code is None:
                self.without_code += 1
                return
            count = self._latest.get(recipient, (0, ""))[0] + 1
            self._latest[recipient] = (count, code)
            loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                loop.call_soon_threadsafe(self._wake, recipient)

    def _wake(self, recipient: str) -> None:
        event = self._events.get(recipient)
        if event is not None:
            event.set()

    def count(self, recipient: str) -> int:
        with self._lock:
            return self._latest.get(recipient.lower(), (0, ""))[0]

    async def code_after(self, recipient: str, seen: int, timeout: float) -> str | None:
        """The latest code once more than `seen` codes reached `recipient`; None on timeout."""
        recipient = recipient.lower()
        deadline = time.perf_counter() + timeout
        while True:
            with self._lock:
                count, code = self._latest.get(recipient, (0, ""))
            if count > seen:
                return code
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            event = self._events.setdefault(recipient, asyncio.Event())
            event.clear()  # a wake-up scheduled after the check above still runs after this
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


class CaptureHandler:
    """aiosmtpd handler: accept everything, keep the 6-digit code of each message."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        found = CODE_RE.search(text)
        for recipient in envelope.rcpt_tos:
            self.mailbox.deliver(recipient, found.group(1) if found else None)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server(mailbox: Mailbox):  # noqa: ANN201
    from aiosmtpd.controller import Controller

    controller = Controller(CaptureHandler(mailbox), hostname="127.0.0.1", port=free_port(),
                            ready_timeout=10)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


# --------------------------------------------------------------------------------------------
# Accounts


@dataclass(frozen=True)
class User:
    index: int
    identifier: str  # also the email address the codes go to


def make_users(count: int, tag: str) -> list[User]:
    return [User(i, f"login-bench-{i:03d}.{tag}@{EMAIL_DOMAIN}") for i in range(count)]


async def _create_accounts(spec: dict[str, Any]) -> int:
    """One patient per user (test INS identities with valid NIR keys, email channel)."""
    from stdnum.fr import nir

    from backend.identity.accounts import ContactInput, create_patient

    rng = random.Random()
    year, month, commune = 40 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(998)
    semaphore = asyncio.Semaphore(4)

    async def one(index: int, identifier: str) -> None:
        sex = "1" if index % 2 == 0 else "2"
        body = f"{sex}{year:02d}{month:02d}75{commune:03d}{index + 1:03d}"
        async with semaphore:
            await create_patient(
                nir=body + nir.calc_check_digits(body + "00"),
                birth_name="BENCH", first_names="Utilisateur",
                birth_date=date(1900 + year, month, 1 + index % 28),
                sex="M" if sex == "1" else "F", birthplace=f"75{commune:03d}",
                contact=ContactInput(email=identifier, phone=None, identifier=None,
                                     password=spec["password"], channel="email"),
                test_identity=True,
            )

    await asyncio.gather(*(one(i, ident) for i, ident in enumerate(spec["identifiers"])))
    return len(spec["identifiers"])


async def _delete_accounts(spec: dict[str, Any]) -> int:
    """For --database-url: remove what this run added (accounts, people, their audit trail),
    found by the run's tag in the identifiers, so a half-finished creation is covered too."""
    from backend.audit.models import AuditEvent
    from backend.identity.models import Account, Person

    rows = await Account.filter(
        identifier_key__startswith="login-bench-",
        identifier_key__endswith=f".{spec['tag']}@{EMAIL_DOMAIN}",
    ).values_list("id", "person_id")
    account_ids = [account_id for account_id, _ in rows]
    await AuditEvent.filter(account_id__in=account_ids).delete()
    await Account.filter(id__in=account_ids).delete()
    await Person.filter(id__in=[p for _, p in rows if p is not None]).delete()
    return len(account_ids)


async def _accounts_job(spec: dict[str, Any]) -> int:
    from backend import db
    from backend.settings import load_settings

    settings = load_settings(carnet_env="production", carnet_master_key=spec["master_key"],
                             database_url=spec["database_url"], redis_url=None, smtp_host=None)
    job = _create_accounts if spec["action"] == "create" else _delete_accounts
    await db.init_standalone(settings)
    try:
        return await job(spec)
    finally:
        await db.close_standalone()


def accounts_job(spec: dict[str, Any], env: dict[str, str], cwd: Path) -> None:
    """Run `_accounts_job` in a fresh interpreter: Tortoise allows one global init per process,
    and the bench process stays free of the ORM and of argon2 threads while it measures. The
    spec (password and master key included) goes through stdin, not the command line."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--accounts-job"],
        input=json.dumps(spec), env=env, cwd=cwd, capture_output=True, text=True,
        timeout=SETUP_TIMEOUT_S, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['action']} accounts failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")


# --------------------------------------------------------------------------------------------
# Redis


def flush_redis(url: str) -> int:
    """FLUSHDB on the bench's Redis database; returns the number of keys it held."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        keys = int(client.dbsize())
        client.flushdb()
        return keys
    finally:
        client.close()


def redis_label(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


# --------------------------------------------------------------------------------------------
# The simulated users


@dataclass
class Stats:
    step1: list[float] = field(default_factory=list)
    code_wait: list[float] = field(default_factory=list)
    step2: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    completed_total: int = 0  # warm-up and drain included
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    server_cpu_s: float | None = None
    client_cpu_s: float | None = None
    smtp_messages: int = 0

    def error(self, kind: str, sample: str = "") -> None:
        self.errors[kind] += 1
        self.samples.setdefault(kind, sample[:160])


class StepFailed(Exception):
    def __init__(self, kind: str, sample: str = "", retry_after: float = 0.2) -> None:
        super().__init__(kind)
        self.kind = kind
        self.sample = sample
        self.retry_after = retry_after


async def call(client: httpx.AsyncClient, step: str, query: str, variables: dict[str, Any],
               expected: str) -> dict[str, Any]:
    """POST one GraphQL mutation (its root field is `step`); return its result object if its
    `__typename` is `expected`, else raise StepFailed naming what came back instead."""
    try:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    except httpx.HTTPError as exc:
        raise StepFailed(f"{step}: {type(exc).__name__}", str(exc)) from None
    if response.status_code != 200:
        raise StepFailed(f"{step}: HTTP {response.status_code}", response.text)
    try:
        payload = response.json()
    except ValueError:
        raise StepFailed(f"{step}: body is not JSON", response.text) from None
    if not isinstance(payload, dict):
        raise StepFailed(f"{step}: unexpected body", response.text)
    if payload.get("errors"):
        first = payload["errors"][0]
        raise StepFailed(f"{step}: GraphQL errors",
                         first.get("message", "") if isinstance(first, dict) else str(first))
    result = (payload.get("data") or {}).get(step)
    if not isinstance(result, dict):
        raise StepFailed(f"{step}: no {step} in data", response.text)
    typename = result.get("__typename")
    if typename != expected:
        retry = 0.2
        if typename == "RateLimited":  # only if the limits above were not raised enough
            retry = min(1.0, float(result.get("retryAfterSeconds") or 1))
        raise StepFailed(f"{step}: {typename}", str(result.get("message", "")), retry)
    return result


def check_challenge(result: dict[str, Any]) -> str:
    challenge_id = result.get("challengeId")
    if not (isinstance(challenge_id, str) and challenge_id and result.get("channel") == "EMAIL"
            and result.get("maskedDestination")):
        raise StepFailed("login: malformed LoginChallenge", repr(result))
    return challenge_id


def check_session(result: dict[str, Any]) -> str:
    token = result.get("token")
    idle = result.get("idleTimeoutSeconds")
    if not (isinstance(token, str) and len(token) >= 20 and result.get("expiresAt")
            and isinstance(idle, int) and idle > 0):
        raise StepFailed("verifyLoginCode: malformed Session",
                         repr({k: v for k, v in result.items() if k != "token"}))
    return token


async def full_login(client: httpx.AsyncClient, mailbox: Mailbox, user: User
                     ) -> tuple[float, float, float, float, str]:
    """(step 1, code wait, step 2, total) in seconds, and the session token."""
    started = time.perf_counter()
    seen = mailbox.count(user.identifier)
    challenge = await call(client, "login", LOGIN_MUTATION,
                           {"identifier": user.identifier, "password": PASSWORD},
                           "LoginChallenge")
    challenge_id = check_challenge(challenge)
    answered = time.perf_counter()
    code = await mailbox.code_after(user.identifier, seen, CODE_TIMEOUT_S)
    if code is None:
        raise StepFailed("code: not received by SMTP", f"within {CODE_TIMEOUT_S} s")
    received = time.perf_counter()
    session = await call(client, "verifyLoginCode", VERIFY_MUTATION,
                         {"challengeId": challenge_id, "code": code}, "Session")
    token = check_session(session)
    done = time.perf_counter()
    return answered - started, received - answered, done - received, done - started, token


async def preflight(client: httpx.AsyncClient, mailbox: Mailbox, user: User) -> None:
    """One login end to end, and its token must be this user's session."""
    try:
        *_, token = await full_login(client, mailbox, user)
        me = await client.post("/graphql", json={"query": ME_QUERY},
                               headers={"Authorization": f"Bearer {token}"})
        body = me.json() if me.status_code == 200 else {}
    except StepFailed as exc:
        raise RuntimeError(f"pre-flight login failed: {exc.kind} {exc.sample!r}") from None
    except (httpx.HTTPError, ValueError) as exc:
        raise RuntimeError(f"pre-flight `me` failed: {type(exc).__name__}: {exc}") from None
    got = ((body.get("data") or {}).get("me") or {}) if isinstance(body, dict) else {}
    if got != {"identifier": user.identifier, "role": "PATIENT"}:
        raise RuntimeError(f"pre-flight: the new session is not {user.identifier}: "
                           f"HTTP {me.status_code} {me.text[:300]}")


async def drive(base: str, users: list[User], mailbox: Mailbox, *, warmup: float,
                duration: float, server_pid: int) -> Stats:
    stats = Stats()
    mailbox.attach(asyncio.get_running_loop())
    limits = httpx.Limits(max_connections=len(users), max_keepalive_connections=len(users))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S, limits=limits,
                                     headers={"User-Agent": "carnet-login-bench"}) as client:
            await preflight(client, mailbox, users[0])
            messages_before = mailbox.messages
            t0 = time.perf_counter()
            measure_start, measure_end = t0 + warmup, t0 + warmup + duration

            async def user_loop(user: User) -> None:
                while time.perf_counter() < measure_end:
                    try:
                        step1, wait, step2, total, _ = await full_login(client, mailbox, user)
                    except StepFailed as exc:
                        stats.error(exc.kind, exc.sample)
                        await asyncio.sleep(exc.retry_after)
                        continue
                    stats.completed_total += 1
                    if measure_start <= time.perf_counter() <= measure_end:
                        stats.step1.append(step1)
                        stats.code_wait.append(wait)
                        stats.step2.append(step2)
                        stats.full.append(total)

            async def cpu_meter() -> None:
                await asyncio.sleep(max(0.0, measure_start - time.perf_counter()))
                server0, client0 = process_cpu_seconds(server_pid), _self_cpu()
                await asyncio.sleep(max(0.0, measure_end - time.perf_counter()))
                server1, client1 = process_cpu_seconds(server_pid), _self_cpu()
                if server0 is not None and server1 is not None:
                    stats.server_cpu_s = server1 - server0
                stats.client_cpu_s = client1 - client0

            tasks = [asyncio.ensure_future(user_loop(u)) for u in users]
            meter = asyncio.ensure_future(cpu_meter())
            # Users finish the login in flight after the end (not counted); this bounds it.
            limit = warmup + duration + 2 * REQUEST_TIMEOUT_S + CODE_TIMEOUT_S + 5
            _done, pending = await asyncio.wait(tasks, timeout=limit)
            for task in pending:
                task.cancel()
                stats.error("bench: user still busy at the watchdog", f"after {limit:.0f} s")
            await asyncio.gather(*pending, meter, return_exceptions=True)
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    stats.error(f"bench: {type(exc).__name__}", str(exc))
            stats.smtp_messages = mailbox.messages - messages_before
    finally:
        mailbox.attach(None)
    return stats


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------------------------
# Report


def argon2_summary() -> tuple[str, float, int]:
    """Parameters, one verify's median time in this process (idle machine), hashing threads."""
    from backend.identity import passwords

    hashed = passwords._hasher.hash(PASSWORD)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        passwords._hasher.verify(hashed, PASSWORD)
        timings.append(time.perf_counter() - started)
    threads = getattr(passwords._pool, "_max_workers", 0)
    params = (f"argon2id time_cost={passwords.TIME_COST}, "
              f"memory_cost={passwords.MEMORY_COST_KIB} KiB "
              f"({passwords.MEMORY_COST_KIB / 1024:g} MiB), parallelism={passwords.PARALLELISM}")
    return params, statistics.median(timings), threads


def _ms(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct) * 1000:,.1f}" if values else "-"


def report(stats: Stats, header: list[str], duration: float) -> str:
    rate = len(stats.full) / duration
    lines = [*header, ""]
    lines.append(f"completed logins: {len(stats.full)} in the {duration:g} s measured "
                 f"({rate:.1f} logins/s); {stats.completed_total} in the whole run")
    cpu = []
    if stats.server_cpu_s is not None:
        cpu.append(f"server process {stats.server_cpu_s / duration * 100:.0f}%")
    if stats.client_cpu_s is not None:
        cpu.append(f"bench process (users + SMTP) {stats.client_cpu_s / duration * 100:.0f}%")
    if cpu:
        lines.append("CPU (share of one core, measured window): " + ", ".join(cpu)
                     + "; PostgreSQL and Redis not counted")
    lines.append("")
    columns = [("", 34, "<"), ("n", 6, ">"), ("p50 ms", 9, ">"), ("p95 ms", 9, ">"),
               ("p99 ms", 9, ">"), ("max ms", 9, ">")]
    lines.append("  ".join(f"{name:{align}{width}}" for name, width, align in columns))
    lines.append("  ".join("-" * width for _, width, _ in columns))
    rows = [
        ("step 1  login (password check)", stats.step1),
        ("        code: answer -> SMTP", stats.code_wait),
        ("step 2  verifyLoginCode", stats.step2),
        ("full login (step 1 -> Session)", stats.full),
    ]
    for label, values in rows:
        ordered = sorted(values)
        cells = [label, str(len(ordered)), _ms(ordered, 50), _ms(ordered, 95), _ms(ordered, 99),
                 f"{ordered[-1] * 1000:,.1f}" if ordered else "-"]
        lines.append("  ".join(f"{cell:{align}{width}}"
                               for cell, (_, width, align) in zip(cells, columns, strict=True)))
    lines.append("")
    if stats.errors:
        lines.append(f"errors (whole run, warm-up and drain included): {stats.errors.total()}")
        for kind, count in stats.errors.most_common():
            lines.append(f"  {count:6d}  {kind}  e.g. {stats.samples.get(kind, '')!r}")
    else:
        lines.append("errors (whole run, warm-up and drain included): none")
    lines += [
        "",
        "Each user has one connection and runs login -> wait for the code -> verifyLoginCode in",
        "a loop; latencies are of the logins that ended inside the measured window. Step 1",
        "includes the argon2id check (on the server's small hashing pool, so it queues there",
        "under load), the code's issue and its SMTP delivery, which the server awaits.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main


def generous_limits() -> dict[str, int]:
    """WANTED_LIMITS clamped to the maxima the settings accept (`le=` of each field)."""
    from backend.settings import Settings

    values = {}
    for name, wanted in WANTED_LIMITS.items():
        maxima = [m.le for m in Settings.model_fields[name].metadata
                  if getattr(m, "le", None) is not None]
        values[name.upper()] = min([wanted, *maxima])
    return values


def bench_server_env(database_url: str, redis_url: str | None, master_key: str,
                     smtp_port: int) -> dict[str, str]:
    from backend.settings import setting_names

    env = server_env(database_url, redis_url, master_key)
    for name in setting_names():  # none of the caller's Carnet settings reach the server
        if name in os.environ and env.get(name) == os.environ[name]:
            env.pop(name)
    env.pop("REDIS_URL", None)
    env.update({
        "CARNET_ENV": "production",
        "CARNET_MASTER_KEY": master_key,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        **{name: str(value) for name, value in generous_limits().items()},
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50,
                        help=f"concurrent simulated users, one account each (default 50, "
                             f"max {MAX_USERS})")
    parser.add_argument("--duration", type=float, default=10,
                        help=f"measured seconds (default 10, max {MAX_DURATION_S})")
    parser.add_argument("--warmup", type=float, default=2,
                        help="seconds of load before measuring, not counted (default 2)")
    parser.add_argument("--database-url",
                        help="use this PostgreSQL database instead of a throwaway one: it is "
                             "migrated, and the bench accounts are removed at the end")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL,
                        help="PostgreSQL used to create/drop the throwaway database "
                             "(default $CARNET_BENCH_PG_URL or %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help="Redis for the server, with a database index other than 0; it is "
                             "FLUSHED before and after (default $CARNET_BENCH_REDIS_URL or "
                             "%(default)s); 'none' = the in-process store")
    parser.add_argument("--accounts-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be 1..{MAX_USERS}")
    if not 1 <= args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be 1..{MAX_DURATION_S}")
    if not 0 <= args.warmup <= MAX_WARMUP_S:
        parser.error(f"--warmup must be 0..{MAX_WARMUP_S}")
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a postgres:// or postgresql:// URL")
    if args.redis_url.lower() in ("", "none"):
        args.redis_url = None
    else:
        parts = urlsplit(args.redis_url)
        index = parts.path.strip("/")
        if parts.scheme not in ("redis", "rediss") or not index.isdigit() or index == "0":
            parser.error("--redis-url must be redis://host:port/N with N > 0 (db N is flushed)")
    return args


def run(args: argparse.Namespace) -> int:
    from backend.settings import generate_master_key

    load_before = os.getloadavg()[0]
    argon2_params, argon2_verify_s, argon2_threads = argon2_summary()
    master_key = generate_master_key()
    tag = secrets.token_hex(3)
    users = make_users(args.users, tag)
    mailbox = Mailbox()
    # The temporary directory (server cwd and log) outlives everything in `cleanup`.
    with tempfile.TemporaryDirectory(prefix="carnet-bench-login-") as tmp_name, \
            contextlib.ExitStack() as cleanup:
        tmp = Path(tmp_name)
        if args.database_url is None:
            name = f"{DB_PREFIX}{os.getpid()}_login_{tag}"
            for stale in asyncio.run(_create_database(args.pg_admin_url, name)):
                print(f"Dropped {stale}, left by a run that was killed.", file=sys.stderr)
            cleanup.callback(lambda: asyncio.run(_drop_database(args.pg_admin_url, name)))
            database_url = _with_database(args.pg_admin_url, name)
            database_label = f"PostgreSQL, throwaway database {name} (dropped at the end)"
        else:
            database_url = args.database_url
            parts = urlsplit(database_url)
            database_label = f"PostgreSQL {parts.hostname}{parts.path} (bench accounts removed)"
        if args.redis_url:
            stale_keys = flush_redis(args.redis_url)
            if stale_keys:
                print(f"Flushed {stale_keys} keys left in {redis_label(args.redis_url)}.",
                      file=sys.stderr)
            cleanup.callback(flush_redis, args.redis_url)
            kv_label = f"Redis {redis_label(args.redis_url)} (flushed before and after)"
        else:
            kv_label = "in-process key-value store (no REDIS_URL)"

        smtp_port = cleanup.enter_context(smtp_server(mailbox))
        env = bench_server_env(database_url, args.redis_url, master_key, smtp_port)
        print(f"Migrating {database_label} ...", file=sys.stderr)
        run_cli(["migrate"], env, tmp)
        print(f"Creating {len(users)} patient accounts ...", file=sys.stderr)
        job = {"database_url": database_url, "master_key": master_key, "tag": tag}
        if args.database_url is not None:
            cleanup.callback(accounts_job, {**job, "action": "delete"}, env, tmp)
        accounts_job({**job, "action": "create", "password": PASSWORD,
                      "identifiers": [u.identifier for u in users]}, env, tmp)

        print("Starting carnet serve (1 uvicorn worker) ...", file=sys.stderr)
        base, server = cleanup.enter_context(carnet_server(env, tmp))
        print(f"Running {len(users)} users: {args.warmup:g} s warm-up + {args.duration:g} s "
              "measured ...", file=sys.stderr)
        stats = asyncio.run(drive(base, users, mailbox, warmup=args.warmup,
                                  duration=args.duration, server_pid=server.pid))

        limits = ", ".join(f"{k}={v}" for k, v in generous_limits().items())
        ceiling = argon2_threads / argon2_verify_s if argon2_verify_s else float("nan")
        header = [
            "Carnet login bench: one `carnet serve` process (uvicorn, 1 worker, "
            "CARNET_ENV=production, LOG_LEVEL=WARNING)",
            f"argon2:    {argon2_params}; one verify here {argon2_verify_s * 1000:.1f} ms "
            f"(idle); server hashing pool {argon2_threads} threads -> ceiling ~{ceiling:.0f} "
            "password checks/s",
            f"users:     {len(users)} concurrent simulated users (one account and one "
            f"connection each), {args.warmup:g} s warm-up + {args.duration:g} s measured",
            f"database:  {database_label}",
            f"kv:        {kv_label}",
            f"smtp:      in-process aiosmtpd on 127.0.0.1:{smtp_port}; {stats.smtp_messages} "
            f"messages during the run ({mailbox.without_code} without a code in all)",
            f"limits:    {limits} (raised, within what the settings accept: the bench "
            "measures login, not the limiter)",
            f"machine:   {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"argon2-cffi {_version('argon2-cffi')}, strawberry-graphql "
            f"{_version('strawberry-graphql')}, uvicorn {_version('uvicorn')}, "
            f"httpx {_version('httpx')}",
            f"load avg:  {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (1 min; the "
            "bench, the server, PostgreSQL and Redis share the same cores)",
        ]
        print(report(stats, header, args.duration))
        return 1 if stats.errors or not stats.full else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.accounts_job:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        print(asyncio.run(_accounts_job(json.load(sys.stdin))))
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        return run(args)
    except KeyboardInterrupt:
        print("Interrupted; cleaned up.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
