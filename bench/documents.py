"""Document uploads and listing: throughput, latency, and the server's peak memory.

Starts a real `carnet serve` (uvicorn, 1 worker, CARNET_ENV=production, MAX_UPLOAD_BYTES 32 MiB,
local blob store in a temporary directory) against a throwaway PostgreSQL database (created on
127.0.0.1:5432, migrated with `carnet migrate`, dropped at the end) and a Redis database (default
db 13, FLUSHED before and after), with an in-process aiosmtpd SMTP server catching the login
codes. It creates one patient account per client (plus one for the list scenario), logs each in
once (login -> emailed code -> verifyLoginCode), then measures, loopback only:

  (A)  --clients uploads of 100 kB files for --duration seconds
  (B)  10 MB uploads, bounded (--large-uploads per client, and --duration), with --clients and
       with each of --memory-concurrency (default 1 and 5) concurrent clients, to show whether
       the server's peak memory grows with concurrency x file size
  (C)  --clients concurrent `documents(first: 20)` list queries on a patient holding
       --list-documents (200) documents

Uploads follow the GraphQL multipart request spec (`uploadDocument(file, input)`, with the
`GraphQL-Preflight: 1` header every multipart request needs), sent by a raw asyncio HTTP/1.1
client (one keep-alive connection per client). Every file is "%PDF-1.4" + a unique nonce + random
bytes, so no two have the same SHA-256 (each client also has its own patient). An upload counts
only if the answer is a `Document` of the right size; anything else is counted by type.

Server memory is read from /proc (the server process and any children): VmRSS sampled every
20 ms, and VmHWM (the kernel's exact peak), reset at the start of each scenario by writing 5 to
/proc/<pid>/clear_refs. Every phase is bounded in time; the server, the SMTP server, the
database, the temporary directories and the Redis db are cleaned up whatever happens (Ctrl-C or
SIGTERM included).

    .venv/bin/python bench/documents.py [--clients 20] [--duration 10] [--large-uploads 3]
                                        [--memory-concurrency 1,5] [--list-documents 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

# Shared with the colleague benches (server start/stop, throwaway database, percentiles,
# account creation, login with codes caught by an in-process SMTP server).
from graphql_overhead import (
    DB_PREFIX,
    DEFAULT_PG_ADMIN_URL,
    MAX_DURATION_S,
    _BadResponse,
    _create_database,
    _drop_database,
    _raise_interrupt,
    _read_response,
    _version,
    _with_database,
    carnet_server,
    percentile,
    process_cpu_seconds,
    run_cli,
)
from login import (
    EMAIL_DOMAIN,
    PASSWORD,
    Mailbox,
    StepFailed,
    User,
    accounts_job,
    bench_server_env,
    flush_redis,
    full_login,
    generous_limits,
    redis_label,
    smtp_server,
)

DEFAULT_REDIS_URL = os.environ.get("CARNET_BENCH_DOCUMENTS_REDIS_URL", "redis://127.0.0.1:6379/13")
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
SMALL_SIZE = 100_000  # 100 kB
LARGE_SIZE = 10_000_000  # 10 MB
LIST_DOC_SIZE = 2_000
LIST_FIRST = 20
MAX_CLIENTS = 100
MAX_UPLOADS_PER_CLIENT = 100_000
MAX_LIST_DOCUMENTS = 2_000
MAX_WARMUP_S = 30
REQUEST_TIMEOUT_S = 120  # one request (a 10 MB upload queued behind 19 others included)
LOGIN_TIMEOUT_S = 120
WRITE_CHUNK = 256 * 1024
SAMPLE_INTERVAL_S = 0.02
MIB = 1024 * 1024

UPLOAD_MUTATION = """mutation Up($file: Upload!, $input: UploadDocumentInput!) {
  uploadDocument(file: $file, input: $input) {
    __typename
    ... on Document { id size }
    ... on Error { message }
  }
}"""
LIST_QUERY = """query List($first: Int!) {
  documents(first: $first) {
    edges { node { id title type clinicalDate author { isPatient } } }
  }
}"""
DOC_TYPES = ["CONSULTATION_REPORT", "LAB_REPORT", "IMAGING_REPORT", "PRESCRIPTION_HEALTH_PRODUCTS",
             "DISCHARGE_LETTER", "VACCINATION_HISTORY", "CARE_PLAN"]


# --------------------------------------------------------------------------------------------
# Server memory, from /proc


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc/<pid>/task/<tid>/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    text = Path(f"/proc/{current}/task/{task}/children").read_text()
                    todo.extend(int(child) for child in text.split())
    return found


def _status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def tree_kib(pid: int, key: str) -> int:
    """Sum of a /proc status field (VmRSS, VmHWM) over the process tree, in KiB."""
    return sum(_status_kib(p, key) for p in process_tree(pid))


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if the kernel refused."""
    ok = True
    for p in process_tree(pid):
        try:
            Path(f"/proc/{p}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def spooled_files(pid: int, spool_dir: str) -> tuple[int, int]:
    """(files, bytes) the server holds open under its TMPDIR: multipart parts Starlette rolled
    over from memory to disk (unnamed O_TMPFILE files, still visible by their fds)."""
    files = total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{p}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{p}/fd/{fd}").startswith(spool_dir):
                        total += os.stat(f"/proc/{p}/fd/{fd}").st_size
                        files += 1
    return files, total


@dataclass
class Memory:
    before_kib: int = 0
    peak_kib: int = 0  # VmHWM after a reset at the start: the exact peak
    sampled_peak_kib: int = 0  # max of the 20 ms VmRSS samples (a cross-check)
    after_kib: int = 0
    spooled_peak: int = 0
    spooled_after: int = 0  # still held open once every answer has arrived
    spooled_files_after: int = 0
    hwm_reset: bool = False


class MemoryWatch:
    """Samples the server tree's RSS (and spooled bytes) in a thread while a scenario runs."""

    def __init__(self, pid: int, spool_dir: str) -> None:
        self.pid, self.spool_dir = pid, spool_dir
        self.memory = Memory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        spool_every, tick = 5, 0  # the fd walk is dearer: every 100 ms
        while not self._stop.is_set():
            rss = tree_kib(self.pid, "VmRSS")
            self.memory.sampled_peak_kib = max(self.memory.sampled_peak_kib, rss)
            if tick % spool_every == 0:
                _, spooled = spooled_files(self.pid, self.spool_dir)
                self.memory.spooled_peak = max(self.memory.spooled_peak, spooled)
            tick += 1
            self._stop.wait(SAMPLE_INTERVAL_S)

    def __enter__(self) -> Memory:
        self.memory.before_kib = tree_kib(self.pid, "VmRSS")
        self.memory.hwm_reset = reset_peak(self.pid)
        self._thread.start()
        return self.memory

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.memory.peak_kib = max(tree_kib(self.pid, "VmHWM"), self.memory.sampled_peak_kib)
        self.memory.after_kib = tree_kib(self.pid, "VmRSS")
        self.memory.spooled_files_after, self.memory.spooled_after = spooled_files(
            self.pid, self.spool_dir)


# --------------------------------------------------------------------------------------------
# A raw HTTP/1.1 client: one keep-alive connection per simulated client


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, head: bytes, body: Sequence[bytes | memoryview]) -> tuple[int, bytes]:
        """Send one request and read its answer. The body is written in chunks while the
        answer is awaited, so an early answer (413) is read, not lost in a broken pipe."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        assert reader is not None

        async def send() -> None:
            writer.write(head)
            for part in body:
                view = memoryview(part)
                for offset in range(0, len(view), WRITE_CHUNK):
                    writer.write(view[offset:offset + WRITE_CHUNK])
                    await writer.drain()
            await writer.drain()

        sender = asyncio.ensure_future(send())
        try:
            status, payload, keep_alive = await _read_response(reader)
        except BaseException:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            self.close()
            raise
        if not sender.done():  # answered before the whole body was sent
            sender.cancel()
            keep_alive = False
        sent = await asyncio.gather(sender, return_exceptions=True)
        if not keep_alive or isinstance(sent[0], BaseException):
            self.close()
        return status, payload


def request_head(base: str, token: str, content_type: str, length: int) -> bytes:
    url = urlsplit(base)
    lines = ["POST /graphql HTTP/1.1", f"Host: {url.hostname}:{url.port}",
             "User-Agent: carnet-documents-bench", f"Authorization: Bearer {token}",
             f"Content-Type: {content_type}", f"Content-Length: {length}"]
    if content_type.startswith("multipart/"):
        lines.append("GraphQL-Preflight: 1")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Uploads:
    """Multipart bodies for `uploadDocument`: a unique nonce, then a slice of shared random
    bytes (generated once: os.urandom per 10 MB upload would load the bench, not the server)."""

    def __init__(self, largest: int) -> None:
        self.random = memoryview(os.urandom(largest))
        self.counter = 0

    def body(self, size: int, title: str, type_name: str, clinical: date
             ) -> tuple[str, int, list[bytes | memoryview]]:
        self.counter += 1
        boundary = "carnet-bench-" + secrets.token_hex(16)
        header = b"%PDF-1.4\n%" + f"{self.counter} {secrets.token_hex(16)}\n".encode()
        if size < len(header):
            raise ValueError(f"file size {size} is too small")
        operations = json.dumps({"query": UPLOAD_MUTATION, "variables": {
            "file": None,
            "input": {"title": title, "type": type_name, "clinicalDate": clinical.isoformat()},
        }}, separators=(",", ":"))
        before = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n"
            f"{operations}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n"
            '{"0":["variables.file"]}\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; "
            "filename=\"bench.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
        ).encode()
        after = f"\r\n--{boundary}--\r\n".encode()
        parts = [before, header, self.random[:size - len(header)], after]
        length = sum(len(p) for p in parts)
        return f"multipart/form-data; boundary={boundary}", length, parts


def upload_outcome(status: int, payload: bytes, size: int) -> tuple[str | None, str]:
    """(None, id) for a Document of the right size; else (kind of failure, sample)."""
    text = payload[:200].decode(errors="replace")
    if status != 200:
        return f"HTTP {status}", text
    try:
        data = json.loads(payload)
    except ValueError:
        return "body is not JSON", text
    if not isinstance(data, dict):
        return "unexpected body", text
    if data.get("errors"):
        first = data["errors"][0]
        message = first.get("message", "") if isinstance(first, dict) else str(first)
        return f"GraphQL error: {message[:60]}", text
    result = (data.get("data") or {}).get("uploadDocument")
    if not isinstance(result, dict):
        return "no uploadDocument in data", text
    typename = result.get("__typename")
    if typename != "Document":
        return f"{typename}", str(result.get("message", ""))
    if result.get("size") != size:
        return "Document of the wrong size", text
    return None, str(result.get("id"))


# --------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Client:
    user: User
    token: str = ""


@dataclass
class Run:
    key: str
    label: str
    clients: int
    size: int = 0  # 0: the list query
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    max_in_flight: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    server_cpu_s: float | None = None
    bench_cpu_s: float = 0.0
    memory: Memory | None = None

    def error(self, kind: str, sample: str = "") -> None:
        self.errors[kind] += 1
        self.samples.setdefault(kind, sample[:160])

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def upload_phase(run: Run, base: str, clients: Sequence[Client], uploads: Uploads, *,
                       duration: float, per_client: int, server_pid: int) -> None:
    """Each client uploads `run.size`-byte files back to back, until `per_client` uploads or
    until `duration` has passed (no new upload starts after it); all completed ones count,
    over the time from the start to the end of the last one."""
    url = urlsplit(base)
    in_flight = 0
    clinical = date.today() - timedelta(days=30)

    async def worker(index: int, client: Client) -> None:
        nonlocal in_flight
        conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
        try:
            for n in range(per_client):
                if time.perf_counter() >= deadline:
                    break
                content_type, length, parts = uploads.body(
                    run.size, f"Bench {run.key} {index}-{n}", DOC_TYPES[n % len(DOC_TYPES)],
                    clinical)
                head = request_head(base, client.token, content_type, length)
                in_flight += 1
                run.max_in_flight = max(run.max_in_flight, in_flight)
                began = time.perf_counter()
                try:
                    status, payload = await asyncio.wait_for(conn.exchange(head, parts),
                                                             REQUEST_TIMEOUT_S)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        TimeoutError, ValueError, _BadResponse) as exc:
                    conn.close()
                    run.error(f"transport: {type(exc).__name__}", str(exc))
                    await asyncio.sleep(0.05)
                    continue
                finally:
                    in_flight -= 1
                elapsed = time.perf_counter() - began
                kind, sample = upload_outcome(status, payload, run.size)
                if kind is None:
                    run.latencies.append(elapsed)
                else:
                    run.error(kind, sample)
        finally:
            conn.close()

    cpu0, bench0 = process_cpu_seconds(server_pid), _self_cpu()
    started = time.perf_counter()
    deadline = started + duration
    tasks = [asyncio.ensure_future(worker(i, c)) for i, c in enumerate(clients)]
    _done, pending = await asyncio.wait(tasks, timeout=duration + REQUEST_TIMEOUT_S + 10)
    for task in pending:
        task.cancel()
        run.error("bench: client still busy at the watchdog")
    await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            run.error(f"bench: {type(exc).__name__}", str(exc))
    run.seconds = time.perf_counter() - started
    cpu1 = process_cpu_seconds(server_pid)
    run.server_cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    run.bench_cpu_s = _self_cpu() - bench0


def check_list_body(payload: bytes, expected_count: int) -> None:
    data = json.loads(payload)
    edges = (((data.get("data") or {}).get("documents") or {}).get("edges")) or []
    nodes = [e.get("node") or {} for e in edges]
    if ("errors" in data or len(nodes) != expected_count
            or not all(n.get("id") and n.get("title") and n.get("type") and n.get("clinicalDate")
                       and n.get("author") == {"isPatient": True} for n in nodes)):
        raise RuntimeError(f"(C) unexpected list answer: {payload[:300]!r}")


async def list_phase(run: Run, base: str, token: str, *, warmup: float, duration: float,
                     server_pid: int) -> None:
    """`run.clients` connections send the list query back to back; responses must be byte
    for byte the one validated first (the 20 newest documents never change meanwhile)."""
    url = urlsplit(base)
    body = json.dumps({"query": LIST_QUERY, "variables": {"first": LIST_FIRST}},
                      separators=(",", ":")).encode()
    head = request_head(base, token, "application/json", len(body))
    probe = Connection(url.hostname or "127.0.0.1", url.port or 80)
    try:
        status, expected = await asyncio.wait_for(probe.exchange(head, [body]), 30)
    finally:
        probe.close()
    if status != 200:
        raise RuntimeError(f"(C) HTTP {status}: {expected[:300]!r}")
    check_list_body(expected, LIST_FIRST)

    t0 = time.perf_counter()
    measure_start, measure_end = t0 + warmup, t0 + warmup + duration
    marks: dict[str, float] = {}

    async def worker() -> None:
        conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
        try:
            while time.perf_counter() < measure_end:
                began = time.perf_counter()
                try:
                    status, payload = await asyncio.wait_for(conn.exchange(head, [body]),
                                                             REQUEST_TIMEOUT_S)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        TimeoutError, ValueError, _BadResponse) as exc:
                    conn.close()
                    run.error(f"transport: {type(exc).__name__}", str(exc))
                    await asyncio.sleep(0.05)
                    continue
                ended = time.perf_counter()
                if status != 200 or payload != expected:
                    run.error(f"HTTP {status}" if status != 200 else "unexpected body",
                              payload[:160].decode(errors="replace"))
                elif measure_start <= began and ended <= measure_end:
                    run.latencies.append(ended - began)
        finally:
            conn.close()

    async def meter() -> None:
        await asyncio.sleep(max(0.0, measure_start - time.perf_counter()))
        marks["cpu0"] = process_cpu_seconds(server_pid) or 0.0
        marks["bench0"] = _self_cpu()
        await asyncio.sleep(max(0.0, measure_end - time.perf_counter()))
        marks["cpu1"] = process_cpu_seconds(server_pid) or 0.0
        marks["bench1"] = _self_cpu()

    tasks = [asyncio.ensure_future(worker()) for _ in range(run.clients)]
    metering = asyncio.ensure_future(meter())
    _done, pending = await asyncio.wait(tasks, timeout=warmup + duration + REQUEST_TIMEOUT_S)
    for task in pending:
        task.cancel()
        run.error("bench: client still busy at the watchdog")
    await asyncio.gather(*pending, metering, return_exceptions=True)
    run.seconds = duration
    if "cpu1" in marks:
        run.server_cpu_s = marks["cpu1"] - marks["cpu0"]
        run.bench_cpu_s = marks["bench1"] - marks["bench0"]


# --------------------------------------------------------------------------------------------
# Setup steps in the bench's event loop


async def log_in_all(base: str, mailbox: Mailbox, clients: Sequence[Client]) -> None:
    """One session per client (login -> code caught by our SMTP server -> verifyLoginCode)."""
    mailbox.attach(asyncio.get_running_loop())
    semaphore = asyncio.Semaphore(4)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     headers={"User-Agent": "carnet-documents-bench"}) as http:
            async def one(client: Client) -> None:
                async with semaphore:
                    try:
                        *_, client.token = await full_login(http, mailbox, client.user)
                    except StepFailed as exc:
                        raise RuntimeError(f"login of {client.user.identifier} failed: "
                                           f"{exc.kind} {exc.sample!r}") from None

            await asyncio.wait_for(asyncio.gather(*(one(c) for c in clients)), LOGIN_TIMEOUT_S)
    finally:
        mailbox.attach(None)


async def seed_documents(base: str, client: Client, uploads: Uploads, count: int) -> None:
    """`count` small documents for the list scenario (varied types and clinical dates)."""
    url = urlsplit(base)
    todo = list(range(count))

    async def worker() -> None:
        conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
        try:
            while todo:
                n = todo.pop()
                content_type, length, parts = uploads.body(
                    LIST_DOC_SIZE, f"Compte rendu n° {n}", DOC_TYPES[n % len(DOC_TYPES)],
                    date.today() - timedelta(days=3 * n))
                head = request_head(base, client.token, content_type, length)
                status, payload = await asyncio.wait_for(conn.exchange(head, parts), 60)
                kind, sample = upload_outcome(status, payload, LIST_DOC_SIZE)
                if kind is not None:
                    raise RuntimeError(f"seeding the list patient: {kind} {sample!r}")
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(8)))


async def prime(base: str, clients: Sequence[Client], uploads: Uploads) -> None:
    """One small upload per client, not measured: creates each patient's data key, opens the
    server's connection pools and warms its caches."""
    run = Run("prime", "priming", len(clients), 10_000)
    await upload_phase(run, base, clients, uploads, duration=60, per_client=1, server_pid=0)
    if run.errors or len(run.latencies) != len(clients):
        kind, count = run.errors.most_common(1)[0] if run.errors else ("?", 0)
        raise RuntimeError(f"priming uploads failed: {count} x {kind} "
                           f"{run.samples.get(kind, '')!r}")


def event_loop_run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(coro)
    return uvloop.run(coro)


# --------------------------------------------------------------------------------------------
# Report


def _ms(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct) * 1000:,.0f}" if values else "-"


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


def _row(cells: Sequence[str], columns: Sequence[tuple[str, int, str]]) -> str:
    return "  ".join(f"{cell:{align}{width}}"
                     for cell, (_, width, align) in zip(cells, columns, strict=True)).rstrip()


def _table(columns: Sequence[tuple[str, int, str]], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = [_row([name for name, _, _ in columns], columns)]
    lines.append("  ".join("-" * width for _, width, _ in columns))
    lines += [_row(cells, columns) for cells in rows]
    return lines


def _size_label(size: int) -> str:
    return f"{size / 1e6:g} MB" if size >= 1_000_000 else f"{size / 1e3:g} kB"


def report(header: list[str], uploads: list[Run], listing: Run, startup_kib: int,
           idle_kib: int, large_size: int) -> tuple[str, int]:
    lines = [*header, ""]
    lines.append("Uploads (uploadDocument, multipart; every answer checked: a Document of the "
                 "right size)")
    columns = [("scenario", 30, "<"), ("clients", 7, ">"), ("file", 6, ">"), ("ok", 5, ">"),
               ("secs", 5, ">"), ("uploads/s", 9, ">"), ("MB/s", 6, ">"), ("p50 ms", 7, ">"),
               ("p95 ms", 7, ">"), ("p99 ms", 7, ">"), ("max ms", 7, ">"), ("srv CPU", 7, ">"),
               ("bench CPU", 9, ">"), ("errors", 6, ">")]
    rows = []
    for r in uploads:
        ordered = sorted(r.latencies)
        rows.append([
            f"({r.key}) {r.label}", str(r.clients), _size_label(r.size), str(len(ordered)),
            f"{r.seconds:.1f}", f"{r.rate:,.1f}", f"{r.rate * r.size / 1e6:,.1f}",
            _ms(ordered, 50), _ms(ordered, 95), _ms(ordered, 99),
            f"{ordered[-1] * 1000:,.0f}" if ordered else "-",
            f"{r.server_cpu_s / r.seconds * 100:.0f}%" if r.server_cpu_s is not None
            and r.seconds else "-",
            f"{r.bench_cpu_s / r.seconds * 100:.0f}%" if r.seconds else "-",
            str(r.errors.total()),
        ])
    lines += _table(columns, rows)
    lines += [
        "MB = 10^6 bytes of file content (the multipart envelope is not counted); uploads/s =",
        "completed uploads / time from the first request to the last answer; srv CPU / bench CPU",
        "= busy share of one core for the server process / this bench (client + SMTP).",
        "",
        f"Server memory (process tree RSS; idle after start-up {_mib(startup_kib)} MiB, "
        f"before the 10 MB runs {_mib(idle_kib)} MiB)",
    ]
    columns = [("scenario", 30, "<"), ("in flight", 9, ">"), ("RSS before", 10, ">"),
               ("peak RSS", 8, ">"), ("peak-before", 11, ">"), ("peak-baseline", 13, ">"),
               ("per upload", 10, ">"), ("RSS after", 9, ">"), ("spool peak", 10, ">"),
               ("spool left", 13, ">")]
    rows = []
    for r in [*uploads, listing]:
        m = r.memory
        if m is None:
            continue
        growth = m.peak_kib - idle_kib
        per_upload = growth / r.max_in_flight if r.size >= large_size and r.max_in_flight else None
        rows.append([
            f"({r.key}) {r.label}", str(r.max_in_flight) if r.size else str(r.clients),
            _mib(m.before_kib), _mib(m.peak_kib), f"+{_mib(m.peak_kib - m.before_kib)}",
            f"{growth / 1024:+,.0f}" if r.size >= large_size else "",
            f"{per_upload / 1024:,.1f}" if per_upload is not None else "",
            _mib(m.after_kib), f"{m.spooled_peak / MIB:,.0f}" if r.size else "",
            f"{m.spooled_after / MIB:,.0f} ({m.spooled_files_after} files)" if r.size else "",
        ])
    lines += _table(columns, rows)
    lines += [
        "All in MiB. peak RSS = VmHWM (the kernel's exact high-water mark, reset at the start "
        "of",
        "each scenario; never below the max of the 20 ms VmRSS samples); peak-baseline = peak "
        "minus",
        "the RSS before the first 10 MB run; per upload = that / max uploads in flight; spool "
        "peak =",
        "peak bytes of multipart parts Starlette had rolled over to temporary files (sampled "
        "every",
        "100 ms); spool left = those the server still held open after the last answer.",
    ]
    if not all(r.memory.hwm_reset for r in uploads if r.memory):
        lines.append("(the kernel refused to reset VmHWM: peaks are the sampled VmRSS maxima)")

    large = sorted((r for r in uploads if r.size >= large_size and r.memory and r.latencies),
                   key=lambda r: r.max_in_flight)
    if len(large) >= 2:
        low, high = large[0], large[-1]
        assert low.memory and high.memory
        extra_uploads = high.max_in_flight - low.max_in_flight
        extra = (high.memory.peak_kib - low.memory.peak_kib) / 1024
        buffered = extra_uploads * large_size / MIB
        lines += [
            "",
            f"Concurrency x file size: {low.max_in_flight} -> {high.max_in_flight} concurrent "
            f"{_size_label(large_size)} uploads changed the server's peak RSS by {extra:+,.0f} "
            f"MiB",
            f"({extra / extra_uploads if extra_uploads else 0:+,.1f} MiB per extra upload in "
            f"flight); holding each whole file in memory would add ~{buffered:,.0f} MiB "
            f"({large_size / MIB:,.1f} MiB each).",
        ]
        if extra_uploads and extra > 0.5 * buffered:
            lines.append("=> PEAK MEMORY GROWS WITH CONCURRENCY x FILE SIZE: uploads are held "
                         "in memory somewhere.")
        else:
            lines.append("=> bounded: the per-upload cost is a few fixed buffers (Starlette's "
                         "1 MiB spool, 1 MiB blob write buffer, 64 KiB segments), not the file.")
    left = max((r for r in uploads if r.memory), key=lambda r: r.memory.spooled_after,
               default=None)
    if left is not None and left.memory and left.memory.spooled_files_after:
        lines += [
            "",
            f"NOTE: after ({left.key}) every upload had been answered, yet the server still held "
            f"{left.memory.spooled_files_after} spooled part(s) open",
            f"({left.memory.spooled_after / MIB:,.0f} MiB of deleted temporary files, of "
            f"{len(left.latencies)} uploads): the parts are not closed at the end of their "
            "request,",
            "only when the garbage collector happens to free them (their disk space and file "
            "descriptors,",
            "or RAM if TMPDIR is a tmpfs, stay taken until then).",
        ]

    ordered = sorted(listing.latencies)
    lines += [
        "",
        f"List query (C): documents(first: {LIST_FIRST}) {{ edges {{ node {{ id title type "
        "clinicalDate author { isPatient } } } } }",
    ]
    columns = [("scenario", 30, "<"), ("clients", 7, ">"), ("req/s", 7, ">"), ("p50 ms", 7, ">"),
               ("p95 ms", 7, ">"), ("p99 ms", 7, ">"), ("max ms", 7, ">"), ("srv CPU", 7, ">"),
               ("bench CPU", 9, ">"), ("errors", 6, ">")]
    lines += _table(columns, [[
        f"(C) {listing.label}", str(listing.clients), f"{listing.rate:,.0f}",
        _ms(ordered, 50), _ms(ordered, 95), _ms(ordered, 99),
        f"{ordered[-1] * 1000:,.0f}" if ordered else "-",
        f"{listing.server_cpu_s / listing.seconds * 100:.0f}%"
        if listing.server_cpu_s is not None else "-",
        f"{listing.bench_cpu_s / listing.seconds * 100:.0f}%",
        str(listing.errors.total()),
    ]])
    lines.append("Responses compared byte for byte with the first one, validated by meaning "
                 f"({LIST_FIRST} nodes, author.isPatient).")

    failures = 0
    lines.append("")
    for r in [*uploads, listing]:
        for kind, count in r.errors.most_common():
            failures += count
            lines.append(f"ERRORS in ({r.key}): {count:5d} x {kind}  e.g. "
                         f"{r.samples.get(kind, '')!r}")
    if not failures:
        lines.append("errors: none")
    return "\n".join(lines), failures


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20,
                        help=f"concurrent clients in (A), the big (B) run and (C) "
                             f"(default 20, max {MAX_CLIENTS}); one patient each")
    parser.add_argument("--duration", type=float, default=10,
                        help="measured seconds of (A) and (C), and the cap of each (B) run "
                             f"(default 10, max {MAX_DURATION_S})")
    parser.add_argument("--warmup", type=float, default=1,
                        help="seconds of (C) load before measuring (default 1)")
    parser.add_argument("--large-uploads", type=int, default=3,
                        help="10 MB uploads per client in each (B) run (default 3)")
    parser.add_argument("--memory-concurrency", default="1,5",
                        help="other client counts for (B), to compare peak memory "
                             "(default 1,5)")
    parser.add_argument("--small-size", type=int, default=SMALL_SIZE,
                        help="file size in (A), bytes (default 100000)")
    parser.add_argument("--large-size", type=int, default=LARGE_SIZE,
                        help="file size in (B), bytes (default 10000000)")
    parser.add_argument("--list-documents", type=int, default=200,
                        help="documents of the patient listed in (C) (default 200)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL,
                        help="PostgreSQL used to create/drop the throwaway database "
                             "(default $CARNET_BENCH_PG_URL or %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help="Redis for the server, with a database index other than 0; it is "
                             "FLUSHED before and after (default "
                             "$CARNET_BENCH_DOCUMENTS_REDIS_URL or %(default)s)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1..{MAX_CLIENTS}")
    if not 1 <= args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be 1..{MAX_DURATION_S}")
    if not 0 <= args.warmup <= MAX_WARMUP_S:
        parser.error(f"--warmup must be 0..{MAX_WARMUP_S}")
    if not 1 <= args.large_uploads <= 1000:
        parser.error("--large-uploads must be 1..1000")
    try:
        args.memory_concurrency = sorted({int(n) for n in args.memory_concurrency.split(",")
                                          if n.strip()} - {args.clients})
    except ValueError:
        parser.error("--memory-concurrency must be comma-separated integers")
    if not all(1 <= n <= MAX_CLIENTS for n in args.memory_concurrency):
        parser.error(f"--memory-concurrency values must be 1..{MAX_CLIENTS}")
    for name in ("small_size", "large_size"):
        if not 1_000 <= getattr(args, name) <= MAX_UPLOAD_BYTES:
            parser.error(f"--{name.replace('_', '-')} must be 1000..{MAX_UPLOAD_BYTES}")
    if not LIST_FIRST <= args.list_documents <= MAX_LIST_DOCUMENTS:
        parser.error(f"--list-documents must be {LIST_FIRST}..{MAX_LIST_DOCUMENTS}")
    parts = urlsplit(args.redis_url)
    index = parts.path.strip("/")
    if parts.scheme not in ("redis", "rediss") or not index.isdigit() or index == "0":
        parser.error("--redis-url must be redis://host:port/N with N > 0 (db N is flushed)")
    return args


def run(args: argparse.Namespace) -> int:
    from backend.settings import generate_master_key

    load_before = os.getloadavg()[0]
    master_key = generate_master_key()
    tag = secrets.token_hex(3)
    # One patient per client, and one more whose record is listed in (C).
    users = [User(i, f"documents-bench-{i:03d}.{tag}@{EMAIL_DOMAIN}")
             for i in range(args.clients + 1)]
    clients = [Client(u) for u in users[:-1]]
    lister = Client(users[-1])
    mailbox = Mailbox()
    # The temporary directory (server cwd, log, blobs, spooled parts) outlives everything else.
    with tempfile.TemporaryDirectory(prefix="carnet-bench-documents-") as tmp_name, \
            contextlib.ExitStack() as cleanup:
        tmp = Path(tmp_name)
        blob_dir, spool_dir = tmp / "blobs", tmp / "spool"
        blob_dir.mkdir(mode=0o700)
        spool_dir.mkdir(mode=0o700)
        name = f"{DB_PREFIX}{os.getpid()}_documents_{tag}"
        for stale in asyncio.run(_create_database(args.pg_admin_url, name)):
            print(f"Dropped {stale}, left by a run that was killed.", file=sys.stderr)
        cleanup.callback(lambda: asyncio.run(_drop_database(args.pg_admin_url, name)))
        database_url = _with_database(args.pg_admin_url, name)
        stale_keys = flush_redis(args.redis_url)
        if stale_keys:
            print(f"Flushed {stale_keys} keys left in {redis_label(args.redis_url)}.",
                  file=sys.stderr)
        cleanup.callback(flush_redis, args.redis_url)

        smtp_port = cleanup.enter_context(smtp_server(mailbox))
        env = bench_server_env(database_url, args.redis_url, master_key, smtp_port)
        env.update({
            "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            "BLOB_STORE": "local",
            "BLOB_DIR": str(blob_dir),
            # Where Starlette's spooled parts go: inside what we remove, whatever happens.
            "TMPDIR": str(spool_dir),
        })
        print(f"Migrating throwaway database {name} ...", file=sys.stderr)
        run_cli(["migrate"], env, tmp)
        print(f"Creating {len(users)} patient accounts ...", file=sys.stderr)
        accounts_job({"action": "create", "database_url": database_url,
                      "master_key": master_key, "tag": tag, "password": PASSWORD,
                      "identifiers": [u.identifier for u in users]}, env, tmp)

        print("Starting carnet serve (1 uvicorn worker) ...", file=sys.stderr)
        base, server = cleanup.enter_context(carnet_server(env, tmp))
        pid = server.pid
        time.sleep(0.5)
        startup_kib = tree_kib(pid, "VmRSS")
        uploads = Uploads(max(args.small_size, args.large_size, LIST_DOC_SIZE, 10_000))

        async def setup() -> None:
            print(f"Logging {len(users)} users in ...", file=sys.stderr)
            await log_in_all(base, mailbox, [*clients, lister])
            await prime(base, [*clients, lister], uploads)
            print(f"Seeding {args.list_documents} documents for (C) ...", file=sys.stderr)
            await seed_documents(base, lister, uploads, args.list_documents - 1)

        event_loop_run(setup())

        def upload_run(key: str, label: str, count: int, size: int, per_client: int) -> Run:
            r = Run(key, label, count, size)
            print(f"({key}) {label}: {count} clients ...", file=sys.stderr)
            with MemoryWatch(pid, str(spool_dir)) as memory:
                event_loop_run(upload_phase(r, base, clients[:count], uploads,
                                            duration=args.duration, per_client=per_client,
                                            server_pid=pid))
            r.memory = memory
            return r

        small = _size_label(args.small_size)
        large = _size_label(args.large_size)
        runs = [upload_run("A", f"{small} uploads, {args.duration:g} s", args.clients,
                           args.small_size, MAX_UPLOADS_PER_CLIENT)]
        idle_kib = tree_kib(pid, "VmRSS")
        for count in [c for c in args.memory_concurrency if c < args.clients]:
            runs.append(upload_run(f"B{count}", f"{large} uploads x{args.large_uploads}/client",
                                   count, args.large_size, args.large_uploads))
        runs.append(upload_run(f"B{args.clients}",
                               f"{large} uploads x{args.large_uploads}/client", args.clients,
                               args.large_size, args.large_uploads))
        for count in [c for c in args.memory_concurrency if c > args.clients]:
            runs.append(upload_run(f"B{count}", f"{large} uploads x{args.large_uploads}/client",
                                   count, args.large_size, args.large_uploads))

        listing = Run("C", f"list, {args.list_documents} documents", args.clients)
        print(f"(C) list query: {args.warmup:g} s warm-up + {args.duration:g} s ...",
              file=sys.stderr)
        with MemoryWatch(pid, str(spool_dir)) as memory:
            event_loop_run(list_phase(listing, base, lister.token, warmup=args.warmup,
                                      duration=args.duration, server_pid=pid))
        listing.memory = memory

        blob_bytes = sum(p.stat().st_size for p in blob_dir.rglob("*") if p.is_file())
        fs_type = next((line.split()[2] for line in Path("/proc/mounts").read_text().splitlines()
                        if line.split()[1] == "/"), "?")
        limits = ", ".join(f"{k}={v}" for k, v in generous_limits().items())
        header = [
            "Carnet documents bench: one `carnet serve` process (uvicorn, 1 worker, "
            "CARNET_ENV=production, LOG_LEVEL=WARNING)",
            f"settings:  MAX_UPLOAD_BYTES={MAX_UPLOAD_BYTES} ({MAX_UPLOAD_BYTES // MIB} MiB), "
            f"BLOB_STORE=local (temporary dir, {blob_bytes / 1e6:,.0f} MB written), "
            f"TMPDIR=temporary dir; {limits}",
            f"clients:   {args.clients} patients (one each, logged in once) + 1 listed in (C); "
            "raw asyncio HTTP/1.1, one keep-alive connection per client, loopback",
            "files:     %PDF-1.4 + unique nonce + random bytes (no two alike)",
            f"database:  PostgreSQL, throwaway database {name} (dropped at the end)",
            f"kv:        Redis {redis_label(args.redis_url)} (flushed before and after)",
            f"machine:   {os.cpu_count()} CPUs, / on {fs_type}, Python "
            f"{platform.python_version()}, starlette {_version('starlette')}, "
            f"python-multipart {_version('python-multipart')}, strawberry-graphql "
            f"{_version('strawberry-graphql')}, uvicorn {_version('uvicorn')}, cryptography "
            f"{_version('cryptography')}",
            f"load avg:  {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (1 min; the "
            "bench, the server, PostgreSQL and Redis share the same cores)",
        ]
        text, failures = report(header, runs, listing, startup_kib, idle_kib, args.large_size)
        print(text)
        return 1 if failures or any(not r.latencies for r in [*runs, listing]) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        return run(args)
    except KeyboardInterrupt:
        print("Interrupted; cleaned up.", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"documents: {exc}\n(cleaned up)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
