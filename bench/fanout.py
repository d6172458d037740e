"""Fan-out of live messages: N WebSocket subscribers of one conversation, 1 or 2 workers.

For each combination of N subscribers (default 100 and 1000) and W uvicorn workers (default 1
and 2), starts a throwaway PostgreSQL database (created on 127.0.0.1:5432, migrated, dropped at
the end) and a real `carnet serve --workers W` (CARNET_ENV=production) with REDIS_URL on Redis
db 9 under a key prefix of its own (REDIS_KEY_PREFIX; the keys are deleted at the end). A
professional opens one conversation with a patient (`startConversation`); N WebSocket
connections (graphql-transport-ws, the `websockets` library, spread over a few client
processes) authenticate as the patient or the professional (sessions minted directly in Redis,
as a login would) and each subscribe to `messageAdded(conversationId)`. Once every subscriber
has received a warm-up message, M messages (default 50) go through HTTP `sendMessage` at a
steady rate (default 20/s), each carrying its send time in its body; every subscriber records
when each message arrives. Per combination it prints the deliveries expected and received, the
LOST ones (an expected cursor never received), the DUPLICATED ones (a cursor received twice),
the out-of-order ones (a cursor lower than one already received), the delivery latency
(send -> receive) percentiles, the RSS of each server worker (/proc) and the server CPU.

Loopback only; every phase is bounded in time; servers, client processes, databases and Redis
keys are cleaned up whatever happens (Ctrl-C or SIGTERM included).

    .venv/bin/python bench/fanout.py [--subscribers 100,1000] [--messages 50] [--workers 1,2]
                                     [--rate 20] [--drain-timeout 60]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

# Shared with the colleague benches (throwaway database, processes, percentiles).
from graphql_overhead import (
    DB_PREFIX,
    DEFAULT_PG_ADMIN_URL,
    SERVER_START_TIMEOUT_S,
    _asyncpg_url,
    _create_database,
    _die_with_parent,
    _drop_database,
    _raise_interrupt,
    _version,
    _with_database,
    carnet_command,
    free_port,
    percentile,
    process_cpu_seconds,
    run_cli,
    server_env,
)

DEFAULT_REDIS_URL = os.environ.get("CARNET_BENCH_FANOUT_REDIS_URL", "redis://127.0.0.1:6379/9")
KEY_PREFIX_STEM = "carnet-bench-fanout-"  # + <pid>-<hex>: ; keys of dead runs are deleted
MAX_SUBSCRIBERS = 5000
MAX_MESSAGES = 1000
MAX_WORKERS = 4
MAX_RATE = 200.0
MAX_DRAIN_S = 300.0
SUBSCRIBE_TIMEOUT_S = 180.0  # all connections open and subscribed
WARM_TIMEOUT_S = 120.0  # every subscriber has received a warm-up message
WARM_RESEND_S = 10.0  # a new warm-up message if not everyone got one within this
QUIET_S = 1.0  # after the last expected delivery: late duplicates still counted
REQUEST_TIMEOUT_S = 30.0
CHILD_EXIT_TIMEOUT_S = 30.0
SETUP_TIMEOUT_S = 180.0

SUBSCRIPTION = ("subscription Added($c: ID!) { messageAdded(conversationId: $c) "
                "{ body cursor } }")
SEND = """mutation Send($c: ID!, $body: String!) { sendMessage(conversationId: $c, body: $body) {
  __typename ... on MessageSent { sentMessage { cursor } } ... on Error { message } } }"""
START = """mutation Start($input: StartConversationInput!) { startConversation(input: $input) {
  __typename ... on ConversationStarted { conversation { id } firstMessage { cursor } }
  ... on Error { message } } }"""


def seq_of(cursor: str) -> int:
    """A message cursor is base64("msg:<seq>"): its position in its conversation (commit
    order there; the bench follows one conversation)."""
    kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    if kind != "msg":
        raise ValueError(cursor)
    return int(value)


# --------------------------------------------------------------------------------------------
# /proc


def _proc_stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def server_workers(server_pid: int, workers: int) -> list[int]:
    """The processes that serve requests: uvicorn runs one worker in-process, several as
    spawned children of a supervisor (multiprocessing helpers excluded)."""
    if workers == 1:
        return [server_pid]
    found = []
    for pid in descendants(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline and b"forkserver" not in cmdline:
            found.append(pid)
    return sorted(found)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) in MB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def cpu_of(pids: list[int]) -> dict[int, float]:
    return {pid: cpu for pid in pids if (cpu := process_cpu_seconds(pid)) is not None}


def connections_per_process(port: int, pids: list[int]) -> dict[int, int]:
    """Established TCP connections on the server's port, by the process holding them."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                local_port = int(cols[1].rsplit(":", 1)[1], 16)
                if local_port == port and cols[3] == "01":  # ESTABLISHED, server side
                    inodes.add(cols[9])
    counts = {}
    for pid in pids:
        n = 0
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        n += 1
        counts[pid] = n
    return counts


def raise_fd_limit(wanted: int) -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; inherited by the server and the clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# --------------------------------------------------------------------------------------------
# Server, Redis, accounts


@contextlib.contextmanager
def fanout_server(env: dict[str, str], cwd: Path, workers: int
                  ) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """A real `carnet serve --workers W` on a free loopback port (graphql_overhead's
    carnet_server always runs one worker)."""
    port = free_port()
    log_path = cwd / "carnet-serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*carnet_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        ready = 0
        while ready < 5:  # several answers in a row (with 2 workers, both get a chance)
            if proc.poll() is not None:
                raise RuntimeError(f"carnet serve exited with {proc.returncode}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                ok = httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                ok = False
            ready = ready + 1 if ok and len(server_workers(proc.pid, workers)) == workers else 0
            if time.monotonic() > deadline:
                raise TimeoutError(f"carnet serve not ready within {SERVER_START_TIMEOUT_S}s")
            time.sleep(0.2)
        yield base, port, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the supervisor and its workers
                proc.wait(timeout=5)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def delete_redis_keys(url: str, prefix: str) -> int:
    """Delete the keys under `prefix` (never FLUSHDB: the db may hold other people's keys)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    deleted = 0
    try:
        batch = []
        for key in client.scan_iter(match=prefix.replace("*", r"\*") + "*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
    finally:
        client.close()
    return deleted


def delete_stale_redis_keys(url: str) -> int:
    """Keys left by runs of this bench that were killed (their pid is gone)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10,
                                  decode_responses=True)
    stale = set()
    try:
        for key in client.scan_iter(match=KEY_PREFIX_STEM + "*", count=1000):
            pid = key.removeprefix(KEY_PREFIX_STEM).split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                stale.add(key.split(":", 1)[0] + ":")
    finally:
        client.close()
    return sum(delete_redis_keys(url, prefix) for prefix in stale)


def redis_cpu_seconds(url: str) -> float | None:
    """CPU of the whole Redis server (shared with whatever else uses it)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
        try:
            info = client.info("cpu")
        finally:
            client.close()
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    except Exception:
        return None


async def postgres_backends(admin_url: str, database: str) -> list[int]:
    import asyncpg

    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(_asyncpg_url(admin_url), timeout=5)
        try:
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1",
                                    database)
            return [row["pid"] for row in rows]
        finally:
            await conn.close()
    return []


async def _setup_job(spec: dict[str, Any]) -> dict[str, Any]:
    """One patient and one professional, and one session each minted in the server's Redis
    (what a login would create). Runs in its own interpreter (one Tortoise init per process)."""
    from stdnum.fr import nir

    from backend import db
    from backend.identity.accounts import ContactInput, create_patient, create_professional
    from backend.identity.models import Person
    from backend.identity.sessions import SessionStore
    from backend.kv import RedisKeyValueStore, redis_client
    from backend.settings import load_settings

    settings = load_settings(carnet_env="production", carnet_master_key=spec["master_key"],
                             database_url=spec["database_url"], redis_url=spec["redis_url"],
                             redis_key_prefix=spec["prefix"], smtp_host=None)
    await db.init_standalone(settings)
    client = redis_client(spec["redis_url"])
    try:
        year, month = 60 + secrets.randbelow(30), 1 + secrets.randbelow(12)
        commune = 1 + secrets.randbelow(998)
        body = f"1{year:02d}{month:02d}75{commune:03d}{1 + secrets.randbelow(998):03d}"
        patient = await create_patient(
            nir=body + nir.calc_check_digits(body + "00"), birth_name="FANOUT",
            first_names="Banc", birth_date=date(1900 + year, month, 2), sex="M",
            birthplace=f"75{commune:03d}",
            contact=ContactInput(email=f"fanout-patient.{spec['tag']}@example.com", phone=None,
                                 identifier=None, password=spec["password"], channel="email"),
            test_identity=True)
        professional, _ = await create_professional(
            rpps=f"{10_000_000_000 + secrets.randbelow(89_999_999_999):011d}",
            profession="Médecin", specialty="Médecine générale",
            contact=ContactInput(email=f"fanout-pro.{spec['tag']}@example.com", phone=None,
                                 identifier=None, password=spec["password"]))
        person = await Person.get(id=patient.person_id)
        store = SessionStore(RedisKeyValueStore(client, prefix=spec["prefix"]),
                             settings.master_key(), idle=settings.session_idle_seconds,
                             absolute=settings.session_absolute_seconds)
        tokens = {}
        for name, account in (("patient", patient), ("professional", professional)):
            tokens[name], _ = await store.create(
                account_id=account.id, role=account.role.value, address="127.0.0.1",
                user_agent="carnet-bench-fanout", person_id=account.person_id,
                professional_id=account.professional_id)
        return {"tokens": tokens,
                "patient": {"insMatricule": person.matricule, "birthName": person.birth_name,
                            "birthDate": person.birth_date.isoformat()}}
    finally:
        await client.aclose()
        await db.close_standalone()


def setup_job(spec: dict[str, Any], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--setup-job"],
        input=json.dumps(spec), env=env, cwd=cwd, capture_output=True, text=True,
        timeout=SETUP_TIMEOUT_S, check=False, preexec_fn=_die_with_parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"setup failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Client processes: many WebSocket subscribers each


@dataclass
class Sub:
    index: int
    token: str
    ws: Any = None
    error: str | None = None  # could not subscribe
    ended: str | None = None  # closed / error / complete after subscribing
    warm: bool = False
    seen: dict[str, int] = field(default_factory=dict)  # cursor -> times received
    bench: dict[int, tuple[str, float]] = field(default_factory=dict)  # index -> cursor, ms
    max_seq: int = -1
    out_of_order: int = 0
    last_ns: int = 0


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _client_job(cfg: dict[str, Any]) -> None:
    """A client process (via --client-job): cfg on the first stdin line, events on stdout as
    JSON lines, then a `stop` command on stdin with the expected cursors; answers the tally."""
    import websockets
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    url = cfg["url"]
    messages = int(cfg["messages"])
    subs = [Sub(i, cfg["tokens"][i % len(cfg["tokens"])]) for i in range(int(cfg["count"]))]
    init = [json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {t}"}})
            for t in cfg["tokens"]]
    subscribe = json.dumps({"id": "1", "type": "subscribe", "payload": {
        "query": SUBSCRIPTION, "variables": {"c": cfg["conversation"]}}})
    state: dict[str, Any] = {"warm_sent": False, "done_sent": False, "expected": None}
    errors: Counter[str] = Counter()

    def check_progress() -> None:
        live = [s for s in subs if s.error is None and s.ended is None]
        if not state["warm_sent"] and all(s.warm for s in live):
            state["warm_sent"] = True
            _emit({"event": "warm", "live": len(live)})
        expected = state["expected"]
        if (not state["done_sent"] and expected is not None
                and all(len(s.bench) >= len(expected) and expected <= s.bench.keys()
                        for s in live)):
            state["done_sent"] = True
            _emit({"event": "done", "live": len(live)})

    async def reader(sub: Sub) -> None:
        ws = sub.ws
        try:
            async for raw in ws:
                now = time.monotonic_ns()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    payload = message.get("payload") or {}
                    data = (payload.get("data") or {}).get("messageAdded")
                    if payload.get("errors") or not data:
                        sub.ended = f"next with errors: {json.dumps(payload)[:200]}"
                        break
                    cursor, body = data["cursor"], data["body"]
                    sub.last_ns = now
                    sub.seen[cursor] = sub.seen.get(cursor, 0) + 1
                    if sub.seen[cursor] > 1:
                        continue  # a duplicate: counted from `seen`
                    seq = seq_of(cursor)
                    if seq < sub.max_seq:
                        sub.out_of_order += 1
                    sub.max_seq = max(sub.max_seq, seq)
                    if body.startswith("w:"):
                        if not sub.warm:
                            sub.warm = True
                            check_progress()
                    elif body.startswith("b:"):
                        _, index, sent_ns = body.split(":")
                        if int(index) not in sub.bench:
                            sub.bench[int(index)] = (cursor, (now - int(sent_ns)) / 1e6)
                            if len(sub.bench) >= messages:
                                check_progress()
                elif kind == "ping":
                    await ws.send('{"type":"pong"}')
                elif kind in ("error", "complete"):
                    sub.ended = f"{kind}: {json.dumps(message.get('payload'))[:200]}"
                    break
        except websockets.exceptions.ConnectionClosed as exc:
            sub.ended = f"closed {exc.rcvd.code if exc.rcvd else '-'}"
        except Exception as exc:
            sub.ended = f"{type(exc).__name__}: {exc}"[:200]
        if sub.ended is None:
            sub.ended = "closed"
        check_progress()

    semaphore = asyncio.Semaphore(int(cfg["connect_concurrency"]))
    readers: list[asyncio.Task[None]] = []

    async def open_one(sub: Sub) -> None:
        async with semaphore:
            try:
                sub.ws = await connect(url, subprotocols=["graphql-transport-ws"],
                                       compression=None, ping_interval=None, open_timeout=60,
                                       close_timeout=2, max_queue=None)
                await sub.ws.send(init[sub.index % len(init)])
                ack = json.loads(await asyncio.wait_for(sub.ws.recv(), 60))
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no connection_ack: {json.dumps(ack)[:200]}")
                await sub.ws.send(subscribe)
                readers.append(asyncio.create_task(reader(sub)))
            except Exception as exc:
                sub.error = f"{type(exc).__name__}: {exc}"[:200]
                errors[sub.error.split(":")[0]] += 1
                if sub.ws is not None:
                    with contextlib.suppress(Exception):
                        await sub.ws.close()

    await asyncio.gather(*(open_one(sub) for sub in subs))
    ok = sum(1 for s in subs if s.error is None)
    _emit({"event": "subscribed", "ok": ok, "failed": len(subs) - ok,
           "errors": dict(errors), "sample": next((s.error for s in subs if s.error), None)})
    cpu_at_subscribed = time.process_time()

    while True:  # commands from the parent
        line = await stdin.readline()
        if not line:
            return  # parent gone
        command = json.loads(line)
        if command["cmd"] == "mark":
            cpu_at_subscribed = time.process_time()
        elif command["cmd"] == "expect":  # the indices whose send succeeded
            state["expected"] = {int(i) for i in command["indices"]}
            messages = len(state["expected"])
            check_progress()
        elif command["cmd"] == "stop":
            break

    expected: dict[int, str] = {int(k): v for k, v in command["expected"].items()}
    expected_cursors = set(expected.values())
    tally = Counter()
    latencies: list[float] = []
    last_ns = 0
    ended: Counter[str] = Counter()
    for sub in subs:
        if sub.error is not None:
            continue
        if sub.ended is not None:
            ended[sub.ended] += 1
        last_ns = max(last_ns, sub.last_ns)
        tally["out_of_order"] += sub.out_of_order
        tally["not_warm"] += not sub.warm
        for cursor, times in sub.seen.items():
            if cursor in expected_cursors:
                tally["received"] += 1
                tally["duplicated"] += times - 1
        tally["lost"] += sum(1 for cursor in expected_cursors if cursor not in sub.seen)
        for index, (cursor, latency) in sub.bench.items():
            if index not in expected:
                tally["unexpected"] += 1  # its send was reported as failed
            elif expected[index] != cursor:
                tally["cursor_mismatch"] += 1
            else:
                latencies.append(round(latency, 3))
    window_cpu = time.process_time() - cpu_at_subscribed
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    async def close(sub: Sub) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sub.ws.close(), 3)

    await asyncio.gather(*(close(s) for s in subs if s.ws is not None and s.error is None))
    _emit({"event": "result", "tally": dict(tally), "latencies": latencies, "last_ns": last_ns,
           "ended": dict(ended), "cpu_total": time.process_time(), "cpu_window": window_cpu})


def client_job_main() -> int:
    # The first line, read unbuffered: the rest of stdin belongs to the event loop.
    raw = b""
    while not raw.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            return 1
        raw += chunk
    cfg = json.loads(raw)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = int(cfg["count"]) + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(_client_job(cfg))
    else:
        uvloop.run(_client_job(cfg))
    return 0


class ClientProcess:
    """The parent's handle on one client process."""

    def __init__(self, proc: asyncio.subprocess.Process, count: int) -> None:
        self.proc = proc
        self.count = count
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: dict[str, dict[str, Any]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                await self.events.put({"event": "exit"})
                return
            event = json.loads(line)
            self.seen[event["event"]] = event
            await self.events.put(event)

    async def wait_for(self, name: str, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while name not in self.seen:
            if "exit" in self.seen:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(self.events.get(), remaining)
                if event["event"] == "exit":
                    self.seen["exit"] = event
        return self.seen[name]

    async def send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.proc.stdin.write((json.dumps(command) + "\n").encode())
            await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 5)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


async def start_clients(base: str, tokens: list[str], conversation: str, subscribers: int,
                        messages: int, per_process: int, cwd: Path) -> list[ClientProcess]:
    clients = []
    left = subscribers
    processes = -(-subscribers // per_process)
    for k in range(processes):
        count = left // (processes - k)
        left -= count
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--client-job",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=cwd,
            limit=64 * 1024 * 1024, preexec_fn=_die_with_parent,
        )
        client = ClientProcess(proc, count)
        await client.send({"url": base.replace("http://", "ws://") + "/graphql",
                           "tokens": tokens, "conversation": conversation, "count": count,
                           "messages": messages, "connect_concurrency": 25})
        clients.append(client)
    return clients


# --------------------------------------------------------------------------------------------
# One combination


@dataclass
class Outcome:
    subscribers: int
    workers: int
    messages: int
    rate: float
    processes: int = 0
    subscribed: int = 0
    subscribe_failed: int = 0
    subscribe_errors: dict[str, int] = field(default_factory=dict)
    subscribe_sample: str | None = None
    subscribe_s: float = 0.0
    warm_s: float | None = None
    warmups: int = 0
    not_warm: int = 0
    sends_ok: int = 0
    send_errors: Counter[str] = field(default_factory=Counter)
    send_samples: dict[str, str] = field(default_factory=dict)
    send_latencies: list[float] = field(default_factory=list)
    send_span_s: float = 0.0
    drained: bool = False
    drain_s: float = 0.0
    last_delivery_after_s: float | None = None
    tally: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    ended: Counter[str] = field(default_factory=Counter)
    workers_pids: list[int] = field(default_factory=list)
    rss_base: dict[int, float] = field(default_factory=dict)
    rss_subscribed: dict[int, float] = field(default_factory=dict)
    rss_end: dict[int, float] = field(default_factory=dict)
    rss_peak: dict[int, float] = field(default_factory=dict)
    connections: dict[int, int] = field(default_factory=dict)
    window_s: float = 0.0
    server_cpu_window: dict[int, float] = field(default_factory=dict)
    server_cpu_subscribe: float | None = None
    server_cpu_idle: float | None = None
    idle_s: float = 0.0
    pg_cpu: float | None = None
    redis_cpu: float | None = None
    client_cpu_window: float = 0.0
    log_lines: Counter[str] = field(default_factory=Counter)
    fatal: str | None = None

    @property
    def expected(self) -> int:
        return self.sends_ok * self.subscribed


async def send_one(http: httpx.AsyncClient, token: str, conversation: str, body: str
                   ) -> tuple[str | None, str, str]:
    """(cursor, error kind, sample)."""
    try:
        response = await http.post("/graphql", json={"query": SEND, "variables": {
            "c": conversation, "body": body}}, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return None, f"transport: {type(exc).__name__}", str(exc)[:200]
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}", response.text[:200]
    try:
        payload = response.json()
        result = payload["data"]["sendMessage"]
        if result["__typename"] != "MessageSent":
            return None, result["__typename"], json.dumps(result)[:200]
        return result["sentMessage"]["cursor"], "", ""
    except (ValueError, KeyError, TypeError):
        errors = payload.get("errors") if isinstance(payload, dict) else None
        kind = "GraphQL error" if errors else "bad body"
        return None, kind, response.text[:200]


def summarize_log(path: Path) -> Counter[str]:
    """Server log lines (LOG_LEVEL=WARNING) grouped by their text without numbers; an
    exception is shown with the innermost frame in backend/ that it went through."""
    lines: Counter[str] = Counter()
    frame = ""
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            text = line.strip()
            if text.startswith("Traceback"):
                frame = ""
                continue
            found = re.match(r'File ".*/(backend/[^"]+)", line (\d+), in (\S+)', text)
            if found:
                frame = f"{found[1]}:{found[2]} {found[3]}"
                continue
            if not text or line[:1].isspace() or text.startswith(("^", "~")):
                continue
            text = re.sub(r"(?<![\w/.])\d+(?![\w/.])", "N", text)[:160]
            if re.match(r"[\w.]+(Error|Exception)\b", text) and frame:
                text = f"{text}  [innermost backend frame: {frame}]"
                frame = ""
            lines[text] += 1
    return lines


async def drive(outcome: Outcome, *, base: str, port: int, server_pid: int, tokens: dict[str, str],
                conversation: str, per_process: int, drain_timeout: float, idle_s: float,
                admin_url: str, database: str, redis_url: str, cwd: Path) -> None:
    workers = server_workers(server_pid, outcome.workers)
    outcome.workers_pids = workers
    all_server = [server_pid, *descendants(server_pid)]
    outcome.rss_base = {pid: memory_mb(pid).get("VmRSS", 0.0) for pid in workers}
    cpu_start = cpu_of(all_server)

    started = time.monotonic()
    clients = await start_clients(base, [tokens["patient"], tokens["professional"]],
                                  conversation, outcome.subscribers, outcome.messages,
                                  per_process, cwd)
    outcome.processes = len(clients)
    http = httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S,
                             limits=httpx.Limits(max_connections=64))
    try:
        for client in clients:
            event = await client.wait_for("subscribed", SUBSCRIBE_TIMEOUT_S)
            if event is None:
                raise RuntimeError(f"a client process did not subscribe within "
                                   f"{SUBSCRIBE_TIMEOUT_S:.0f}s")
            outcome.subscribed += event["ok"]
            outcome.subscribe_failed += event["failed"]
            for kind, count in event["errors"].items():
                outcome.subscribe_errors[kind] = outcome.subscribe_errors.get(kind, 0) + count
            outcome.subscribe_sample = outcome.subscribe_sample or event["sample"]
        outcome.subscribe_s = time.monotonic() - started
        # Before the first HTTP request: only the subscribers' sockets.
        outcome.connections = connections_per_process(port, workers)

        # Warm-up: the protocol has no "subscribed" acknowledgement; a message received by
        # every subscriber proves they are all live. Re-sent while some have not got one.
        warm_started = time.monotonic()
        while time.monotonic() - warm_started < WARM_TIMEOUT_S:
            outcome.warmups += 1
            await send_one(http, tokens["professional"], conversation,
                           f"w:{outcome.warmups}")
            waits = [c.wait_for("warm", WARM_RESEND_S) for c in clients]
            if all(await asyncio.gather(*waits)):
                outcome.warm_s = time.monotonic() - warm_started
                break
        await asyncio.sleep(0.5)
        outcome.server_cpu_subscribe = sum(cpu_of(all_server).values()) - sum(cpu_start.values())
        outcome.rss_subscribed = {pid: memory_mb(pid).get("VmRSS", 0.0) for pid in workers}

        # Idle: subscribers connected, nothing sent (what does holding them cost?).
        idle_before = cpu_of(all_server)
        await asyncio.sleep(idle_s)
        outcome.idle_s = idle_s
        outcome.server_cpu_idle = sum(cpu_of(all_server).values()) - sum(idle_before.values())

        # Measured window: M messages at a steady rate, then until delivered (or the timeout).
        for client in clients:
            await client.send({"cmd": "mark"})
        pg_pids = await postgres_backends(admin_url, database)
        pg_before = cpu_of(pg_pids)
        redis_before = redis_cpu_seconds(redis_url)
        server_before = cpu_of(all_server)
        expected: dict[int, str] = {}
        window_started = time.monotonic()
        first_at = window_started + 0.05

        async def one(index: int) -> None:
            await asyncio.sleep(max(0.0, first_at + index / outcome.rate - time.monotonic()))
            sent_ns = time.monotonic_ns()  # CLOCK_MONOTONIC: system-wide on Linux
            cursor, kind, sample = await send_one(http, tokens["professional"], conversation,
                                                  f"b:{index}:{sent_ns}")
            outcome.send_latencies.append((time.monotonic_ns() - sent_ns) / 1e6)
            if cursor is None:
                outcome.send_errors[kind] += 1
                outcome.send_samples.setdefault(kind, sample)
            else:
                expected[index] = cursor

        await asyncio.gather(*(one(i) for i in range(outcome.messages)))
        sends_done = time.monotonic()
        outcome.send_span_s = sends_done - first_at
        outcome.sends_ok = len(expected)
        for client in clients:
            await client.send({"cmd": "expect", "indices": sorted(expected)})
        waits = [c.wait_for("done", drain_timeout) for c in clients]
        outcome.drained = all(await asyncio.gather(*waits))
        outcome.drain_s = time.monotonic() - sends_done
        await asyncio.sleep(QUIET_S)  # late duplicates
        outcome.window_s = time.monotonic() - window_started
        server_after = cpu_of(all_server)
        outcome.server_cpu_window = {pid: server_after[pid] - server_before.get(pid, 0.0)
                                     for pid in server_after}
        pg_after = cpu_of(pg_pids)
        outcome.pg_cpu = (sum(pg_after[p] - pg_before[p] for p in pg_after if p in pg_before)
                          if pg_pids else None)
        redis_after = redis_cpu_seconds(redis_url)
        if redis_before is not None and redis_after is not None:
            outcome.redis_cpu = redis_after - redis_before
        for pid in workers:
            mem = memory_mb(pid)
            outcome.rss_end[pid] = mem.get("VmRSS", 0.0)
            outcome.rss_peak[pid] = mem.get("VmHWM", 0.0)

        for client in clients:
            await client.send({"cmd": "stop", "expected": expected})
        last_ns = 0
        for client in clients:
            result = await client.wait_for("result", CHILD_EXIT_TIMEOUT_S)
            if result is None:
                raise RuntimeError("a client process gave no result")
            outcome.tally.update(result["tally"])
            outcome.latencies.extend(result["latencies"])
            outcome.ended.update(result["ended"])
            outcome.client_cpu_window += result["cpu_window"]
            last_ns = max(last_ns, result["last_ns"])
        if last_ns:
            outcome.last_delivery_after_s = last_ns / 1e9 - sends_done
        outcome.not_warm = outcome.tally.pop("not_warm", 0)
    finally:
        await http.aclose()
        for client in clients:
            await client.stop()


def run_combination(args: argparse.Namespace, subscribers: int, workers: int) -> Outcome:
    from backend.settings import generate_master_key

    outcome = Outcome(subscribers, workers, args.messages, args.rate)
    tag = secrets.token_hex(3)
    prefix = f"{KEY_PREFIX_STEM}{os.getpid()}-{tag}:"
    with tempfile.TemporaryDirectory(prefix="carnet-bench-fanout-") as tmp_name, \
            contextlib.ExitStack() as cleanup:
        tmp = Path(tmp_name)
        name = f"{DB_PREFIX}{os.getpid()}_fanout_{tag}"
        for stale in asyncio.run(_create_database(args.pg_admin_url, name)):
            print(f"Dropped {stale}, left by a run that was killed.", file=sys.stderr)
        cleanup.callback(lambda: asyncio.run(_drop_database(args.pg_admin_url, name)))
        cleanup.callback(delete_redis_keys, args.redis_url, prefix)
        database_url = _with_database(args.pg_admin_url, name)
        master_key = generate_master_key()
        env = server_env(database_url, args.redis_url, master_key)
        env["REDIS_KEY_PREFIX"] = prefix
        env.update(args.server_env)
        print(f"[{subscribers} subscribers, {workers} worker(s)] migrating {name} ...",
              file=sys.stderr)
        run_cli(["migrate"], env, tmp)
        setup = setup_job({"database_url": database_url, "master_key": master_key,
                           "redis_url": args.redis_url, "prefix": prefix, "tag": tag,
                           "password": "Bench-" + secrets.token_urlsafe(12)}, env, tmp)
        tokens = setup["tokens"]
        base, port, server = cleanup.enter_context(fanout_server(env, tmp, workers))
        started = httpx.post(f"{base}/graphql", timeout=REQUEST_TIMEOUT_S, json={
            "query": START, "variables": {"input": {
                "subject": "Fan-out bench", "body": "Bonjour", "includePatient": True,
                "patient": setup["patient"]}}},
            headers={"Authorization": f"Bearer {tokens['professional']}"}).json()
        try:
            conversation = started["data"]["startConversation"]["conversation"]["id"]
        except (KeyError, TypeError):
            raise RuntimeError(f"startConversation failed: {json.dumps(started)[:500]}") from None
        print(f"[{subscribers} subscribers, {workers} worker(s)] subscribing, then "
              f"{args.messages} messages at {args.rate:g}/s ...", file=sys.stderr)
        try:
            asyncio.run(drive(outcome, base=base, port=port, server_pid=server.pid,
                              tokens=tokens, conversation=conversation,
                              per_process=args.per_process, drain_timeout=args.drain_timeout,
                              idle_s=args.idle, admin_url=args.pg_admin_url, database=name,
                              redis_url=args.redis_url, cwd=tmp))
        except (RuntimeError, TimeoutError, OSError) as exc:
            outcome.fatal = f"{type(exc).__name__}: {exc}"
        outcome.log_lines = summarize_log(tmp / "carnet-serve.log")
        if args.keep_logs:
            Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp / "carnet-serve.log",
                        Path(args.keep_logs) / f"serve-{subscribers}-{workers}w-{tag}.log")
    return outcome


# --------------------------------------------------------------------------------------------
# Report


def _ms(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct):,.0f}" if values else "-"


def describe(o: Outcome) -> list[str]:
    lines = [f"--- {o.subscribers} subscribers, {o.workers} worker(s), {o.messages} messages "
             f"at {o.rate:g}/s ---"]
    if o.fatal:
        lines.append(f"ABORTED: {o.fatal}")
    errors = ", ".join(f"{k} x{v}" for k, v in o.subscribe_errors.items())
    lines.append(f"subscribe:  {o.subscribed}/{o.subscribers} subscribed in {o.subscribe_s:.1f} s "
                 f"({o.processes} client process(es))"
                 + (f"; FAILED {o.subscribe_failed}: {errors}; e.g. {o.subscribe_sample!r}"
                    if o.subscribe_failed else ""))
    warm = (f"all got a warm-up message {o.warm_s:.1f} s after the first "
            f"({o.warmups} warm-up message(s))" if o.warm_s is not None
            else f"NOT all warm after {WARM_TIMEOUT_S:.0f} s ({o.warmups} warm-up messages); "
                 f"{o.not_warm} never got one")
    lines.append(f"warm-up:    {warm}")
    sends = sorted(o.send_latencies)
    failed = sum(o.send_errors.values())
    lines.append(f"sends:      {o.sends_ok} ok, {failed} failed over {o.send_span_s:.1f} s "
                 f"(achieved {o.sends_ok / o.send_span_s if o.send_span_s else 0:.1f}/s); "
                 f"sendMessage answered p50 {_ms(sends, 50)} ms, p99 {_ms(sends, 99)} ms, max "
                 f"{_ms(sends, 100)} ms")
    for kind, count in o.send_errors.most_common():
        lines.append(f"            send failure {kind} x{count}: {o.send_samples.get(kind)!r}")
    t = o.tally
    lines.append(f"deliveries: expected {o.expected}, received {t['received']}, LOST "
                 f"{t['lost']}, DUPLICATED {t['duplicated']}, out-of-order {t['out_of_order']}, "
                 f"cursor mismatch {t['cursor_mismatch']}, unexpected {t['unexpected']}")
    last = (f"{o.last_delivery_after_s:.1f} s" if o.last_delivery_after_s is not None else "-")
    lines.append(f"drain:      {'all delivered' if o.drained else 'NOT all delivered'} "
                 f"{o.drain_s:.1f} s after the last send answered (timeout "
                 f"{'not reached' if o.drained else 'reached'}); last delivery {last} after it")
    if o.ended:
        lines.append("ended early: " + ", ".join(f"{k!r} x{v}" for k, v in o.ended.items()))
    lat = sorted(o.latencies)
    lines.append(f"latency:    send -> received, ms: p50 {_ms(lat, 50)}, p95 {_ms(lat, 95)}, "
                 f"p99 {_ms(lat, 99)}, max {_ms(lat, 100)} ({len(lat)} deliveries)")
    for pid in o.workers_pids:
        base, sub = o.rss_base.get(pid, 0.0), o.rss_subscribed.get(pid, 0.0)
        conns = o.connections.get(pid, 0)
        per = f", {(sub - base) / conns * 1024:.0f} kB per subscriber" if conns else ""
        lines.append(f"worker {pid}: {conns} subscribers; RSS MB: {base:.0f} idle -> {sub:.0f} "
                     f"subscribed -> {o.rss_end.get(pid, 0.0):.0f} at the end, peak "
                     f"{o.rss_peak.get(pid, 0.0):.0f}{per}; CPU in the window "
                     f"{o.server_cpu_window.get(pid, 0.0):.1f} s")
    total = sum(o.server_cpu_window.values())
    received = t["received"] or 0
    per_delivery = f", {total / received * 1000:.2f} ms per delivery" if received else ""
    lines.append(f"server CPU: {total:.1f} s in the {o.window_s:.1f} s window = "
                 f"{total / o.window_s * 100 if o.window_s else 0:.0f}% of one core{per_delivery}"
                 f"; subscribing {o.server_cpu_subscribe or 0:.1f} s; idle with subscribers "
                 f"{(o.server_cpu_idle or 0) / o.idle_s * 100 if o.idle_s else 0:.0f}% of a "
                 f"core")
    others = [f"PostgreSQL backends {o.pg_cpu:.1f} s" if o.pg_cpu is not None else None,
              f"Redis (whole server) {o.redis_cpu:.1f} s" if o.redis_cpu is not None else None,
              f"bench clients {o.client_cpu_window:.1f} s"]
    lines.append("other CPU:  " + ", ".join(x for x in others if x) + " in the window")
    lines.append("goal:       " + goal_text(o))
    if o.log_lines:
        lines.append(f"server log ({sum(o.log_lines.values())} lines):")
        for text, count in o.log_lines.most_common(6):
            lines.append(f"  {count:6d}  {text}")
    return lines


# Issue 12's goal: 1,000 subscribers at 20 messages/s with 2 workers, p99 delivery < 250 ms,
# <= 50 us of server CPU per delivery, nothing lost or duplicated.
GOAL_P99_MS = 250.0
GOAL_CPU_US = 50.0


def cpu_us_per_delivery(o: Outcome) -> float | None:
    received = o.tally["received"]
    return sum(o.server_cpu_window.values()) / received * 1e6 if received else None


def goal_met(o: Outcome) -> bool:
    lat = sorted(o.latencies)
    cpu = cpu_us_per_delivery(o)
    return bool(lat) and percentile(lat, 99) < GOAL_P99_MS and cpu is not None \
        and cpu <= GOAL_CPU_US and o.tally["lost"] == 0 and o.tally["duplicated"] == 0 \
        and o.tally["out_of_order"] == 0 and not o.fatal and o.tally["received"] == o.expected


def goal_text(o: Outcome) -> str:
    lat = sorted(o.latencies)
    cpu = cpu_us_per_delivery(o)
    p99 = f"{percentile(lat, 99):,.0f} ms" if lat else "-"
    cpu_text = f"{cpu:.0f} us" if cpu is not None else "-"
    return (f"p99 {p99} (< {GOAL_P99_MS:.0f}), CPU {cpu_text} per delivery "
            f"(<= {GOAL_CPU_US:.0f}), lost {o.tally['lost']}, duplicated "
            f"{o.tally['duplicated']}: {'MET' if goal_met(o) else 'MISSED'}")


def summary(outcomes: list[Outcome]) -> list[str]:
    columns = [("subs", 5), ("wk", 2), ("msgs", 4), ("sent ok", 7), ("expected", 8),
               ("received", 8), ("LOST", 6), ("DUP", 4), ("OOO", 4), ("unexp", 5),
               ("p50 ms", 7), ("p95 ms", 7),
               ("p99 ms", 7), ("max ms", 7), ("RSS MB/worker", 13), ("srv CPU", 11),
               ("us/deliv", 8), ("goal", 6)]
    lines = ["  ".join(f"{name:>{width}}" for name, width in columns),
             "  ".join("-" * width for _, width in columns)]
    for o in outcomes:
        lat = sorted(o.latencies)
        total = sum(o.server_cpu_window.values())
        rss = "/".join(f"{o.rss_peak.get(p, 0.0):.0f}" for p in o.workers_pids) or "-"
        cells = [o.subscribers, o.workers, o.messages, o.sends_ok, o.expected,
                 o.tally["received"], o.tally["lost"], o.tally["duplicated"],
                 o.tally["out_of_order"], o.tally["unexpected"],
                 _ms(lat, 50), _ms(lat, 95), _ms(lat, 99), _ms(lat, 100), rss,
                 f"{total:.1f}s {total / o.window_s * 100 if o.window_s else 0:.0f}%",
                 f"{cpu:.0f}" if (cpu := cpu_us_per_delivery(o)) is not None else "-",
                 "MET" if goal_met(o) else "MISSED"]
        lines.append("  ".join(f"{cell!s:>{width}}"
                               for cell, (_, width) in zip(cells, columns, strict=True)))
    return lines


# --------------------------------------------------------------------------------------------
# Main


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("empty list")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=_int_list, default=[100, 1000],
                        help="comma-separated subscriber counts (default 100,1000)")
    parser.add_argument("--messages", type=int, default=50,
                        help="messages sent per combination (default 50)")
    parser.add_argument("--workers", type=_int_list, default=[1, 2],
                        help="comma-separated uvicorn worker counts (default 1,2)")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="messages per second, steady (default 20)")
    parser.add_argument("--drain-timeout", type=float, default=60.0,
                        help="seconds after the last send to wait for every delivery "
                             "(default 60); what is missing then counts as LOST")
    parser.add_argument("--idle", type=float, default=5.0,
                        help="seconds with every subscriber connected and nothing sent, to "
                             "measure the server's idle CPU (default 5)")
    parser.add_argument("--per-process", type=int, default=500,
                        help="WebSocket connections per client process (default 500)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL,
                        help="PostgreSQL where the throwaway databases are created "
                             "(default $CARNET_BENCH_PG_URL or %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help="Redis for the server (default %(default)s); only keys under a "
                             "per-run prefix are written, and deleted at the end")
    parser.add_argument("--server-env", metavar="NAME=VALUE", action="append", default=[],
                        help="an extra server setting, e.g. DB_POOL_MAX_SIZE=10 (repeatable)")
    parser.add_argument("--keep-logs", metavar="DIR",
                        help="copy each server log (LOG_LEVEL=WARNING) into DIR")
    parser.add_argument("--client-job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setup-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not all(1 <= n <= MAX_SUBSCRIBERS for n in args.subscribers):
        parser.error(f"--subscribers must be 1..{MAX_SUBSCRIBERS}")
    if not all(1 <= w <= MAX_WORKERS for w in args.workers):
        parser.error(f"--workers must be 1..{MAX_WORKERS}")
    if not 1 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--messages must be 1..{MAX_MESSAGES}")
    if not 0.1 <= args.rate <= MAX_RATE:
        parser.error(f"--rate must be 0.1..{MAX_RATE:g}")
    if not 1 <= args.drain_timeout <= MAX_DRAIN_S:
        parser.error(f"--drain-timeout must be 1..{MAX_DRAIN_S:g}")
    if not 0 <= args.idle <= 60:
        parser.error("--idle must be 0..60")
    if not 10 <= args.per_process <= 2000:
        parser.error("--per-process must be 10..2000")
    extra = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or name in (
                "DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "CARNET_MASTER_KEY"):
            parser.error(f"--server-env {item!r}: expected NAME=VALUE, a setting the bench "
                         "does not set itself")
        extra[name] = value
    args.server_env = extra
    parts = urlsplit(args.redis_url)
    if parts.scheme not in ("redis", "rediss") or parts.hostname not in ("127.0.0.1",
                                                                          "localhost", "::1"):
        parser.error("--redis-url must be a loopback redis:// URL")
    return args


def run(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()[0]
    soft, hard = raise_fd_limit(max(args.subscribers) * 2 + 1024)
    stale = delete_stale_redis_keys(args.redis_url)
    if stale:
        print(f"Deleted {stale} Redis keys left by a killed run.", file=sys.stderr)
    outcomes = []
    for subscribers in args.subscribers:
        for workers in args.workers:
            outcomes.append(run_combination(args, subscribers, workers))
    header = [
        "Carnet fan-out bench: one conversation, N WebSocket subscribers of messageAdded, "
        "`carnet serve --workers W` (CARNET_ENV=production, LOG_LEVEL=WARNING, REDIS_URL set"
        + "".join(f", {k}={v}" for k, v in args.server_env.items()) + ")",
        f"redis:     {args.redis_url} under a per-run key prefix (deleted at the end); "
        "PostgreSQL: a throwaway database per combination (dropped)",
        f"clients:   websockets {_version('websockets')} (no compression, no client pings), "
        f"uvloop, up to {args.per_process} connections per client process, half as the "
        "patient and half as the professional; sendMessage over HTTP as the professional",
        f"machine:   {os.cpu_count()} CPUs, Python {platform.python_version()}, strawberry-graphql "
        f"{_version('strawberry-graphql')}, uvicorn {_version('uvicorn')}, redis-py "
        f"{_version('redis')}, RLIMIT_NOFILE {soft}/{hard}",
        f"load avg:  {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (1 min; server, "
        "clients, PostgreSQL and Redis share the same cores)",
        "",
    ]
    print("\n".join(header))
    for outcome in outcomes:
        print("\n".join(describe(outcome)))
        print()
    print("\n".join(summary(outcomes)))
    print()
    print("sent ok = sendMessage answered MessageSent (expected = sent ok x subscribers); unexp =\n"
          "deliveries of messages whose sendMessage failed or timed out (yet were committed);\n"
          "LOST = expected cursors a live subscriber never received before the drain timeout;\n"
          "DUP = a cursor received more than once by one subscriber; OOO = a cursor lower than\n"
          "one already received; latency = sendMessage sent -> `next` received (same monotonic\n"
          "clock); RSS = peak (VmHWM) per worker; srv CPU = all server processes in the window\n"
          "(sends + drain), as seconds and share of one core.")
    bad = any(o.fatal or o.tally["lost"] or o.tally["duplicated"] or o.tally["out_of_order"]
              or o.send_errors or o.subscribe_failed for o in outcomes)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if args.client_job:
        return client_job_main()
    if args.setup_job:
        print(json.dumps(asyncio.run(_setup_job(json.load(sys.stdin)))))
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("Interrupted; cleaned up.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
