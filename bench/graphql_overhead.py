"""What does GraphQL cost on top of a plain Starlette route, and what does one ORM read add?

Starts a real `carnet serve` (uvicorn, 1 worker) against a throwaway PostgreSQL database (created
on 127.0.0.1:5432, migrated with `carnet migrate`, given one Announcement, dropped at the end),
then drives it from a separate load-generator process (wrk when installed, else a Python asyncio
HTTP/1.1 client) and prints ONE table for three scenarios measured in the same run:

  (a) GET /healthz                      a plain Starlette route that touches nothing
  (b) POST /graphql { __typename }      the GraphQL layer alone
  (c) POST /graphql announcement(id:)   one-row read through Tortoise, id passed as a variable

Every response body is compared with the expected one (GraphQL errors come with HTTP 200).
Loopback traffic only; every phase is bounded in time and in request count; the server, the
load generator and the database are cleaned up whatever happens (Ctrl-C or SIGTERM included).

    .venv/bin/python bench/graphql_overhead.py [--duration S] [--concurrency N]
                                               [--database-url URL] [--client auto|wrk|python]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

DEFAULT_PG_ADMIN_URL = os.environ.get(
    "CARNET_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
TYPENAME_QUERY = "{ __typename }"
ONE_ROW_QUERY = "query One($id: ID!) { announcement(id: $id) { id title } }"
ANNOUNCEMENT_TITLE = "Benchmark announcement"
# Hard caps, whatever the options say.
MAX_DURATION_S = 120
MAX_CONCURRENCY = 256
MAX_REQUESTS_PER_PHASE = 3_000_000
REQUEST_TIMEOUT_S = 10
SERVER_START_TIMEOUT_S = 60
CLI_TIMEOUT_S = 180


# --------------------------------------------------------------------------------------------
# Scenarios and results


@dataclass
class Scenario:
    key: str
    label: str
    method: str
    path: str
    body: bytes | None = None
    expected: bytes = b""  # exact response body, learnt and validated before measuring

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"} if self.body is not None else {}


@dataclass
class Result:
    scenario: Scenario
    requests: int  # completed responses
    bad: int  # wrong status or body
    socket_errors: int  # connect/read/write errors and timeouts
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float | None
    generator_cpu_s: float | None
    sample: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_us_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.requests:
            return None
        return self.server_cpu_s / self.requests * 1e6

    @property
    def failures(self) -> int:
        return self.bad + self.socket_errors


def graphql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return json.dumps(payload, separators=(",", ":")).encode()


def build_scenarios(announcement_id: int) -> list[Scenario]:
    return [
        Scenario("a", "GET /healthz (plain Starlette)", "GET", "/healthz"),
        Scenario("b", "POST { __typename }", "POST", "/graphql", graphql_body(TYPENAME_QUERY)),
        Scenario(
            "c",
            "POST announcement(id) via Tortoise",
            "POST",
            "/graphql",
            graphql_body(ONE_ROW_QUERY, {"id": str(announcement_id)}),
        ),
    ]


def check_response(scenario: Scenario, status: int, body: bytes, announcement_id: int) -> None:
    """Validate one response by meaning; raise with a readable reason if it is wrong."""
    if status != 200:
        raise RuntimeError(f"({scenario.key}) HTTP {status}: {body[:300]!r}")
    data = json.loads(body)
    if scenario.key == "a":
        ok = data == {"status": "ok"}
    elif scenario.key == "b":
        ok = data == {"data": {"__typename": "Query"}}
    else:
        row = (data.get("data") or {}).get("announcement") or {}
        ok = "errors" not in data and row == {
            "id": str(announcement_id),
            "title": ANNOUNCEMENT_TITLE,
        }
    if not ok:
        raise RuntimeError(f"({scenario.key}) unexpected body: {body[:300]!r}")


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    # Nearest rank.
    rank = max(0, min(len(sorted_values) - 1, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


# --------------------------------------------------------------------------------------------
# Processes


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if this script dies without cleaning up (e.g. SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def carnet_command() -> list[str]:
    script = Path(sys.executable).with_name("carnet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "backend.cli"]


def server_env(database_url: str, redis_url: str | None, master_key: str) -> dict[str, str]:
    """The server's settings come from here only: none leak in from the caller's environment
    (and the processes run in a temporary directory, so no stray .env file is read)."""
    from backend.settings import setting_names

    ours = setting_names()
    env = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("CARNET_")}
    env.update(
        {
            # The production shape of docker-compose.yml, with one worker.
            "CARNET_ENV": "production",
            "CARNET_MASTER_KEY": master_key,
            "DATABASE_URL": database_url,
            "GRAPHIQL": "false",
            "INTROSPECTION": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(
        [*carnet_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        preexec_fn=_die_with_parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"carnet {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (Linux /proc), or None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def carnet_server(env: dict[str, str], cwd: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real `carnet serve` (uvicorn, one worker) on a free loopback port."""
    port = free_port()
    log_path = cwd / "carnet-serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*carnet_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
            preexec_fn=_die_with_parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"carnet serve exited with {proc.returncode}:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"carnet serve not ready within {SERVER_START_TIMEOUT_S}s")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


# --------------------------------------------------------------------------------------------
# Database


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _asyncpg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


DB_PREFIX = "carnet_bench_"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _create_database(admin_url: str, name: str) -> list[str]:
    """Create `name`; first drop databases of earlier runs whose process is gone (a run killed
    with SIGKILL cannot clean up). Returns the names dropped."""
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(admin_url), timeout=10)
    dropped = []
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", DB_PREFIX + "%"
        )
        for row in rows:
            pid = row["datname"].removeprefix(DB_PREFIX).split("_", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
                dropped.append(row["datname"])
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dropped


async def _drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(admin_url), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _delete_announcement(database_url: str, announcement_id: int) -> None:
    from backend import db
    from backend.announcements.models import Announcement
    from backend.settings import load_settings

    await db.init_standalone(load_settings(carnet_env="dev", database_url=database_url))
    try:
        await Announcement.filter(id=announcement_id).delete()
    finally:
        await db.close_standalone()


def absolute_sqlite_url(url: str, tmp: Path) -> str:
    """sqlite:// (no path) is a throwaway file; relative paths are made absolute."""
    path = url.removeprefix("sqlite://")
    if path in ("", ":memory:"):  # the server and the CLI are separate processes
        return f"sqlite://{tmp / 'bench.sqlite3'}"
    return f"sqlite://{Path(path).resolve()}"


# --------------------------------------------------------------------------------------------
# Load generators (each in its own process)


def _lua_string(value: bytes) -> str:
    out = []
    for byte in value:
        char = chr(byte)
        if 32 <= byte < 127 and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


WRK_SCRIPT = """
wrk.method = {method}
{body_line}
{header_line}
local expected = {expected}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
ok, bad, sample = 0, 0, nil
function response(status, headers, body)
  if status == 200 and body == expected then
    ok = ok + 1
  else
    bad = bad + 1
    if sample == nil then sample = status .. " " .. string.sub(body or "", 1, 200) end
  end
end
function done(summary, latency, requests)
  local tok, tbad, tsample = 0, 0, nil
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tbad = tbad + t:get("bad")
    tsample = tsample or t:get("sample")
  end
  local e = summary.errors
  io.write(string.format(
    "CARNET_WRK {{\\"requests\\": %.0f, \\"duration_us\\": %.0f, \\"ok\\": %.0f, \\"bad\\": %.0f, "
    .. "\\"socket_errors\\": %.0f, \\"p50_us\\": %.1f, \\"p99_us\\": %.1f}}\\n",
    summary.requests, summary.duration, tok, tbad,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
  if tsample then io.write("CARNET_WRK_SAMPLE " .. tsample .. "\\n") end
end
"""


def wrk_script(scenario: Scenario) -> str:
    return WRK_SCRIPT.format(
        method=_lua_string(scenario.method.encode()),
        body_line=f"wrk.body = {_lua_string(scenario.body)}" if scenario.body else "",
        header_line='wrk.headers["Content-Type"] = "application/json"' if scenario.body else "",
        expected=_lua_string(scenario.expected),
    )


def run_wrk(wrk: str, base: str, scenario: Scenario, *, seconds: int, concurrency: int,
            tmp: Path) -> dict[str, Any]:
    script = tmp / f"wrk-{scenario.key}.lua"
    script.write_text(wrk_script(scenario))
    proc = subprocess.run(
        [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", f"--timeout={REQUEST_TIMEOUT_S}s",
         "-s", str(script), base + scenario.path],
        capture_output=True,
        text=True,
        timeout=seconds + REQUEST_TIMEOUT_S + 30,
        check=False,
        preexec_fn=_die_with_parent,
    )
    lines = proc.stdout.splitlines()
    found = [line.removeprefix("CARNET_WRK ") for line in lines if line.startswith("CARNET_WRK ")]
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    raw = json.loads(found[0])
    sample = next((ln[len("CARNET_WRK_SAMPLE "):] for ln in lines
                   if ln.startswith("CARNET_WRK_SAMPLE ")), "")
    return {
        "requests": int(raw["requests"]),
        "seconds": raw["duration_us"] / 1e6,
        "bad": int(raw["bad"]) + max(0, int(raw["requests"]) - int(raw["ok"]) - int(raw["bad"])),
        "socket_errors": int(raw["socket_errors"]),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "sample": sample,
    }


def run_python_client(base: str, scenario: Scenario, *, seconds: float, concurrency: int
                      ) -> dict[str, Any]:
    spec = {
        "url": base + scenario.path,
        "method": scenario.method,
        "body": scenario.body.decode() if scenario.body is not None else None,
        "headers": scenario.headers,
        "expected": scenario.expected.decode(),
        "seconds": seconds,
        "concurrency": concurrency,
        "max_requests": MAX_REQUESTS_PER_PHASE,
    }
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--load-client", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=seconds + REQUEST_TIMEOUT_S + 30,
        check=False,
        preexec_fn=_die_with_parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load client failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


class _BadResponse(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 response with a Content-Length body: (status, body, keep_alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0][9:12])
    length, keep_alive = None, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise _BadResponse(f"unsupported Transfer-Encoding {value.strip()!r}")
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    if length is None:
        raise _BadResponse("response without Content-Length")
    return status, await reader.readexactly(length), keep_alive


async def _load_client(spec: dict[str, Any]) -> dict[str, Any]:
    """The Python load generator (its own process, via --load-client): raw HTTP/1.1 over
    asyncio streams, one keep-alive connection per in-flight request. (httpx's connection pool
    managed only a few hundred requests per second here, far below the server.)"""
    url = urlsplit(spec["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    body = spec["body"].encode() if spec["body"] is not None else b""
    head = [f"{spec['method']} {url.path or '/'} HTTP/1.1", f"Host: {host}:{port}",
            "User-Agent: carnet-bench"]
    head += [f"{name}: {value}" for name, value in spec["headers"].items()]
    if spec["body"] is not None:
        head.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    expected = spec["expected"].encode()
    latencies: list[float] = []
    counts = {"bad": 0, "socket_errors": 0}
    sample: list[str] = []
    budget = [int(spec["max_requests"])]
    seconds = float(spec["seconds"])
    deadline = time.perf_counter() + seconds

    def failed(kind: str, text: str) -> None:
        counts[kind] += 1
        if not sample:
            sample.append(text)

    async def worker() -> None:
        reader = writer = None
        try:
            while budget[0] > 0 and time.perf_counter() < deadline:
                budget[0] -= 1
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    assert reader is not None
                    started = time.perf_counter()
                    writer.write(request)
                    status, payload, keep_alive = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        ValueError, _BadResponse) as exc:
                    failed("socket_errors", f"{type(exc).__name__}: {exc}")
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.01)
                    continue
                latencies.append(time.perf_counter() - started)
                if status != 200 or payload != expected:
                    failed("bad", f"{status} {payload[:200].decode(errors='replace')}")
                if not keep_alive:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(worker()) for _ in range(int(spec["concurrency"]))]
    # One watchdog for all: a request still hanging this long after the end is abandoned.
    _done, pending = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT_S)
    for task in pending:
        task.cancel()
        failed("socket_errors", f"timeout: no answer within {REQUEST_TIMEOUT_S}s")
    await asyncio.gather(*pending, return_exceptions=True)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "bad": counts["bad"],
        "socket_errors": counts["socket_errors"],
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "sample": sample[0] if sample else "",
    }


def _run_load_client(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(_load_client(spec))
    return uvloop.run(_load_client(spec))


# --------------------------------------------------------------------------------------------
# Measuring and reporting


def measure(scenario: Scenario, *, base: str, server_pid: int, generator: str, warmup: int,
            duration: int, concurrency: int, tmp: Path) -> Result:
    def drive(seconds: int) -> dict[str, Any]:
        if generator == "python":
            return run_python_client(base, scenario, seconds=seconds, concurrency=concurrency)
        return run_wrk(generator, base, scenario, seconds=seconds, concurrency=concurrency,
                       tmp=tmp)

    warm = drive(warmup)
    if warm["bad"] or warm["socket_errors"]:
        raise RuntimeError(f"({scenario.key}) failures during warm-up: {warm['sample']}")
    server_before = process_cpu_seconds(server_pid)
    generator_before = children_cpu_seconds()
    raw = drive(duration)
    generator_cpu = children_cpu_seconds() - generator_before
    server_after = process_cpu_seconds(server_pid)
    server_cpu = (
        server_after - server_before
        if server_before is not None and server_after is not None
        else None
    )
    return Result(
        scenario=scenario,
        requests=raw["requests"],
        bad=raw["bad"],
        socket_errors=raw["socket_errors"],
        seconds=raw["seconds"],
        p50_ms=raw["p50_ms"],
        p99_ms=raw["p99_ms"],
        server_cpu_s=server_cpu,
        generator_cpu_s=generator_cpu,
        sample=raw["sample"],
    )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def report(results: list[Result], header: list[str]) -> str:
    base = results[0]
    columns = [
        ("scenario", 38, "<"), ("req/s", 8, ">"), ("p50 ms", 7, ">"), ("p99 ms", 7, ">"),
        ("CPU us/req", 10, ">"), ("srv CPU", 7, ">"), ("gen CPU", 7, ">"),
        ("req/s:(a)", 9, ">"), ("p50:(a)", 8, ">"), ("CPU:(a)", 8, ">"), ("failed", 6, ">"),
    ]
    lines = [*header, ""]
    lines.append("  ".join(f"{name:{align}{width}}" for name, width, align in columns))
    lines.append("  ".join("-" * width for _, width, _ in columns))
    base_cpu = base.server_cpu_us_per_request
    for r in results:
        cpu = r.server_cpu_us_per_request
        cells = [
            f"({r.scenario.key}) {r.scenario.label}",
            _fmt(r.rps, ",.0f"),
            _fmt(r.p50_ms, ".2f"),
            _fmt(r.p99_ms, ".2f"),
            _fmt(cpu, ",.0f"),
            _fmt(r.server_cpu_s / r.seconds * 100 if r.server_cpu_s is not None else None,
                 ".0f") + "%",
            _fmt(r.generator_cpu_s / r.seconds * 100 if r.generator_cpu_s is not None else None,
                 ".0f") + "%",
            _fmt(r.rps / base.rps if base.rps else None, ".3f"),
            _fmt(r.p50_ms / base.p50_ms if base.p50_ms else None, ".1f") + "x",
            _fmt(cpu / base_cpu if cpu and base_cpu else None, ".1f") + "x",
            str(r.failures),
        ]
        lines.append(
            "  ".join(f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, columns,
                                                                                  strict=True))
        )
    lines += [
        "",
        "req/s:(a) = throughput as a fraction of (a); p50:(a) and CPU:(a) = how many times (a).",
        "CPU us/req = server process CPU time per request (utime+stime from /proc); srv CPU and",
        "gen CPU = busy share of one core for the server and the load generator. A server near",
        "100% is the bottleneck (what we want to measure); a generator near 100% with the server",
        "well below means the load generator limited that row.",
    ]
    for r in results:
        if r.failures:
            lines.append(f"FAILURES in ({r.scenario.key}): {r.failures}, e.g. {r.sample!r}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5,
                        help="measured seconds per scenario (default 5, max 120)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="warm-up seconds per scenario, not measured (default 1)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="open connections / in-flight requests (default 16, max 256)")
    parser.add_argument("--database-url",
                        help="use this database (postgres://... or sqlite://[path]) instead of a "
                             "throwaway PostgreSQL one; it is migrated, one announcement is "
                             "added and removed again")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL,
                        help="PostgreSQL used to create/drop the throwaway database "
                             "(default $CARNET_BENCH_PG_URL or %(default)s)")
    parser.add_argument("--redis-url", help="give the server a REDIS_URL (default: none; no "
                                            "scenario touches Redis)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk if installed (auto), or the Python asyncio one")
    parser.add_argument("--load-client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be 1..{MAX_DURATION_S}")
    if not 1 <= args.warmup <= MAX_DURATION_S:
        parser.error(f"--warmup must be 1..{MAX_DURATION_S}")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency must be 1..{MAX_CONCURRENCY}")
    if args.database_url and not args.database_url.startswith(
        ("sqlite://", "postgres://", "postgresql://")
    ):
        parser.error("--database-url must be a postgres://, postgresql:// or sqlite:// URL")
    return args


def pick_generator(choice: str) -> str:
    wrk = shutil.which("wrk")
    if choice == "wrk" and not wrk:
        raise SystemExit("wrk is not installed (apt-get install wrk), or use --client python")
    if choice in ("auto", "wrk") and wrk:
        return wrk
    return "python"


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    from backend.settings import generate_master_key

    generator = pick_generator(args.client)
    load_before = os.getloadavg()[0]
    # The temporary directory (server cwd and log) outlives everything in `cleanup`.
    with tempfile.TemporaryDirectory(prefix="carnet-bench-") as tmp_name, \
            contextlib.ExitStack() as cleanup:
        tmp = Path(tmp_name)
        if args.database_url is None:
            name = f"{DB_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
            for stale in asyncio.run(_create_database(args.pg_admin_url, name)):
                print(f"Dropped {stale}, left by a run that was killed.", file=sys.stderr)
            cleanup.callback(lambda: asyncio.run(_drop_database(args.pg_admin_url, name)))
            database_url = _with_database(args.pg_admin_url, name)
            database_label = f"PostgreSQL, throwaway database {name} (dropped at the end)"
        else:
            database_url = args.database_url
            if database_url.startswith("sqlite://"):
                database_url = absolute_sqlite_url(database_url, tmp)
            database_label = (
                f"SQLite {database_url.removeprefix('sqlite://')}"
                if database_url.startswith("sqlite://")
                else f"PostgreSQL {urlsplit(database_url).hostname}{urlsplit(database_url).path}"
            )
        env = server_env(database_url, args.redis_url, generate_master_key())

        print(f"Migrating {database_label} ...", file=sys.stderr)
        run_cli(["migrate"], env, tmp)
        out = run_cli(
            ["announce", "--title", ANNOUNCEMENT_TITLE, "--body", "One row to read."], env, tmp
        )
        announcement_id = int(json.loads(out)["id"])
        if args.database_url is not None:
            cleanup.callback(
                lambda: asyncio.run(_delete_announcement(database_url, announcement_id))
            )

        print("Starting carnet serve (1 uvicorn worker) ...", file=sys.stderr)
        base, server = cleanup.enter_context(carnet_server(env, tmp))
        scenarios = build_scenarios(announcement_id)
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
            for scenario in scenarios:
                response = client.request(scenario.method, scenario.path,
                                          content=scenario.body, headers=scenario.headers)
                check_response(scenario, response.status_code, response.content,
                               announcement_id)
                scenario.expected = response.content

        results = []
        for scenario in scenarios:
            print(f"Measuring ({scenario.key}) {scenario.label}: {args.warmup} s warm-up + "
                  f"{args.duration} s ...", file=sys.stderr)
            results.append(
                measure(scenario, base=base, server_pid=server.pid, generator=generator,
                        warmup=args.warmup, duration=args.duration,
                        concurrency=args.concurrency, tmp=tmp)
            )

        if generator == "python":
            gen_label = (f"Python asyncio HTTP/1.1 client (1 process, {args.concurrency} "
                         "keep-alive connections)")
        else:
            wrk_version = subprocess.run([generator, "-v"], capture_output=True, text=True,
                                         timeout=10, check=False).stdout.split(" [")[0]
            gen_label = f"{wrk_version} (1 thread, {args.concurrency} connections)"
        header = [
            "Carnet GraphQL overhead: one `carnet serve` process (uvicorn, 1 worker, "
            "CARNET_ENV=production, access log off)",
            f"database:  {database_label}",
            f"load:      {gen_label}, loopback, {args.warmup} s warm-up + {args.duration} s "
            "per scenario, bodies checked",
            f"machine:   {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"strawberry-graphql {_version('strawberry-graphql')}, "
            f"starlette {_version('starlette')}, uvicorn {_version('uvicorn')}, "
            f"tortoise-orm {_version('tortoise-orm')}",
            f"load avg:  {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (1 min; other "
            "processes on the machine compete for the same cores)",
        ]
        print(report(results, header))
        return 1 if any(r.failures for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.load_client:
        print(json.dumps(_run_load_client(json.loads(args.load_client))))
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        return run(args)
    except KeyboardInterrupt:
        print("Interrupted; cleaned up.", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
        print(f"graphql_overhead: {exc}\n(cleaned up)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
