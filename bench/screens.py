"""The web app's three main screens through Carnet, side by side with raw Starlette plaintext.

ONE run measures, one after the other on this machine:

  (raw)  raw Starlette plaintext: a tiny Starlette app (one route answering "Hello, World!")
         served by uvicorn with `carnet serve`'s own options, in its own process;
  then through a real `carnet serve` (uvicorn, 1 worker, CARNET_ENV=production, PostgreSQL and
  Redis, access log off), each screen with the EXACT document the web app sends (imported from
  frontend/carnet_web: HOME_SIGNED_IN, DOCUMENTS_PAGE, PROFILE, with the web app's variables):
  home, documents, profile, each WARM (unchanged data: every answer is the same, compared byte
  for byte) and COLD (the patient's data changed just before each read).

Cold: each load connection belongs to its own patient (seeded alike), and before each of its
reads, a second connection (the load client process's own Tortoise connection to PostgreSQL,
through Carnet's domain services, not through the server) changes that patient's data: it
renames the patient's newest document (home, documents) or edits an allergy (profile). Only
the reads are timed; the server never sees the writes, so its CPU and counts are the reads'.
A cache keyed on the patient's data could not answer a cold read from an earlier one.

Per row: req/s, p50/p99 latency, the server's CPU per request (utime+stime from
/proc/<pid>/stat, over the requests the server counted), the ratio to raw Starlette by req/s
and by CPU (raw/screen: 5 % means the screen costs 20 times the plaintext), and, from counters
the server keeps when CARNET_BENCH_COUNTERS is set (backend/counters.py: its asyncpg connection
class and its Redis client count what they send, SIGUSR1 writes the totals), SQL statements,
asyncpg pool resets and Redis commands per request. pg_stat_statements is not loaded on this
PostgreSQL, and Redis' INFO commandstats counts every client of a shared server.

Load: wrk (1 thread) with a Lua script (POST body, Authorization header, body check) for the
raw and warm rows; the cold rows need a write before each read on the same connection's
patient, which wrk cannot order, so they use a Python asyncio HTTP/1.1 client (one keep-alive
connection per patient). Without wrk every row uses the Python client, and the bench says so.

Then the goals, PASS/MISS each: cold home and documents >= 4 % of raw Starlette, profile >= 2 %;
warm home >= 25 %; <= 4 SQL statements per screen (ratios judged on CPU per request, the steadier
figure on a shared machine; req/s ratios are printed beside them).

    .venv/bin/python bench/screens.py [--quick] [--duration S] [--concurrency N]

Loopback only; every phase is bounded; the servers, the throwaway database and the run's Redis
keys (a per-run key prefix, never FLUSHDB) are cleaned up, also on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# Shared with the colleague benches (throwaway database, processes, wrk, percentiles).
from graphql_overhead import (
    DB_PREFIX,
    DEFAULT_PG_ADMIN_URL,
    REQUEST_TIMEOUT_S,
    SERVER_START_TIMEOUT_S,
    _BadResponse,
    _create_database,
    _die_with_parent,
    _drop_database,
    _lua_string,
    _raise_interrupt,
    _read_response,
    _version,
    _with_database,
    free_port,
    percentile,
    process_cpu_seconds,
    run_cli,
    server_env,
)

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
DEFAULT_REDIS_URL = os.environ.get("CARNET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
KEY_PREFIX_STEM = "carnet-bench-screens-"
PLAINTEXT = b"Hello, World!"
SETUP_TIMEOUT_S = 600
MAX_DURATION_S = 120
DOCUMENTS_PER_PATIENT = 20
CONVERSATIONS_PER_PATIENT = 4

GOALS = [
    # (row key, minimum CPU ratio to raw Starlette)
    ("home/cold", 0.04),
    ("documents/cold", 0.04),
    ("profile/cold", 0.02),
    ("home/warm", 0.25),
]
MAX_SQL_PER_SCREEN = 4


# --------------------------------------------------------------------------------------------
# The screens: the web app's own documents and variables


def screen_operations() -> dict[str, tuple[str, dict[str, Any]]]:
    """{screen: (query text as the web app sends it, variables)}, from frontend/carnet_web."""
    if str(FRONTEND) not in sys.path:
        sys.path.insert(0, str(FRONTEND))
    from carnet_web.state import documents as documents_state
    from carnet_web.state import home as home_state
    from carnet_web.state.profile import operations as profile_operations

    def source(operation: Any) -> str:
        return operation.payload["query"]

    return {
        "home": (source(home_state.HOME_SIGNED_IN),
                 {"documents": home_state.DOCUMENTS_SHOWN,
                  "trendPoints": home_state.TREND_POINTS,
                  "announcements": home_state.ANNOUNCEMENTS_SHOWN}),
        "documents": (source(documents_state.DOCUMENTS_PAGE),
                      {"first": documents_state.PAGE_SIZE, "filter": None}),
        "profile": (source(profile_operations.PROFILE), {}),
    }


def graphql_body(query: str, variables: dict[str, Any]) -> bytes:
    return json.dumps({"query": query, "variables": variables}, separators=(",", ":")).encode()


def check_screen(screen: str, status: int, body: bytes) -> None:
    """A screen's answer, validated by meaning (raises with a readable reason)."""
    if status != 200:
        raise RuntimeError(f"({screen}) HTTP {status}: {body[:300]!r}")
    data = json.loads(body)
    if data.get("errors") or not data.get("data"):
        raise RuntimeError(f"({screen}) errors: {body[:500]!r}")
    d = data["data"]
    if screen == "home":
        ok = d["me"] is not None and d["documents"]["totalCount"] == DOCUMENTS_PER_PATIENT \
            and d["messagingSummary"]["unreadConversations"] >= 1
    elif screen == "documents":
        ok = d["documents"]["totalCount"] == DOCUMENTS_PER_PATIENT and \
            len(d["documents"]["edges"]) == DOCUMENTS_PER_PATIENT
    else:
        ok = sum(1 for v in d["profile"].values() if v) >= 5
    if not ok:
        raise RuntimeError(f"({screen}) unexpected answer: {body[:500]!r}")


# --------------------------------------------------------------------------------------------
# Seeding (its own interpreter: one Tortoise init per process)


async def _setup_job(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec["patients"]` patients, each with 20 documents by three authors (two professionals
    and the patient), 4 conversations with unread messages, and every profile section filled
    (like backend/demo.py and tests/test_screen_statements.py); one session each, minted with
    the identity SessionStore in the server's Redis (what a login would create)."""
    from datetime import UTC, date, datetime, timedelta
    from decimal import Decimal

    from stdnum.fr import nir

    from backend import db
    from backend.announcements.models import Announcement
    from backend.bootstrap import build_runtime
    from backend.identity import notices
    from backend.identity.accounts import ContactInput, create_patient, create_professional
    from backend.identity.matching import PatientClaim
    from backend.identity.models import Person
    from backend.identity.services import Viewer, session_store
    from backend.messaging import services as messaging
    from backend.notifications.testing import RecordingNotifier
    from backend.profile import services as profile
    from backend.profile.models import MeasurementKind, OrganDonationPosition, Relative
    from backend.records import services as records
    from backend.records.models import DocumentSource
    from backend.settings import load_settings

    settings = load_settings(**spec["settings"])
    await db.init_standalone(settings)
    runtime = build_runtime(settings)
    runtime.notifier = RecordingNotifier()
    try:
        now = datetime.now(UTC)
        for n in range(3):
            await Announcement.create(title=f"Annonce {n}", body="Texte de l'annonce.",
                                      published_at=now - timedelta(minutes=n))
        pros = []
        for n, (profession, specialty) in enumerate((("Médecin", "Médecine générale"),
                                                     ("Infirmier", None))):
            account, _ = await create_professional(
                rpps=f"{10_000_000_000 + secrets.randbelow(89_999_999_999):011d}",
                profession=profession, specialty=specialty,
                contact=ContactInput(email=f"pro{n}.{spec['tag']}@example.com", phone=None,
                                     identifier=None, password=spec["password"]))
            pros.append(account)
        store = session_store(runtime)
        patients = []
        t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
        for i in range(spec["patients"]):
            year, month = 60 + secrets.randbelow(30), 1 + secrets.randbelow(12)
            commune = 1 + secrets.randbelow(998)
            body = f"1{year:02d}{month:02d}75{commune:03d}{1 + secrets.randbelow(998):03d}"
            account = await create_patient(
                nir=body + nir.calc_check_digits(body + "00"), birth_name="ECRANS",
                first_names="Banc", birth_date=date(1900 + year, month, 2), sex="M",
                birthplace=f"75{commune:03d}",
                contact=ContactInput(email=f"patient{i}.{spec['tag']}@example.com", phone=None,
                                     identifier=None, password=spec["password"],
                                     channel="email"),
                test_identity=True)
            pid = account.person_id
            person = await Person.get(id=pid)
            claim = PatientClaim(person.matricule, person.birth_name, person.birth_date)
            newest = None
            for n in range(DOCUMENTS_PER_PATIENT):
                author = pros[n % 3] if n % 3 < 2 else None
                who = (records.Author(author.id, author.professional_id) if author
                       else records.Author(0, None))
                newest = await records.store_document(
                    runtime, person_id=pid, author=who,
                    source=(DocumentSource.PROFESSIONAL_SOFTWARE if author
                            else DocumentSource.PATIENT_UPLOAD),
                    data=records.DocumentInput(f"Document {n}", "11488-4", date(2026, 1, 5)),
                    chunks=records.bytes_chunks(b"%PDF-1.4\n%" + secrets.token_bytes(64)))
            patient_viewer = Viewer(account_id=account.id, role="patient", session_id="seed",
                                    person_id=pid)
            for n in range(CONVERSATIONS_PER_PATIENT):
                pro = pros[n % 2]
                viewer = Viewer(account_id=pro.id, role="professional", session_id="seed",
                                professional_id=pro.professional_id)
                conversation, _ = await messaging.start_conversation(
                    runtime, viewer, subject=f"Sujet {n}", patient=claim,
                    include_patient=True, professional_rpps=[],
                    body="Bonjour, vos résultats sont arrivés.")
                await messaging.send_message(runtime, viewer, conversation_id=str(conversation.id),
                                             body="Une précision.")
                if n == 0:
                    await messaging.mark_read(patient_viewer, str(conversation.id))
                    await messaging.send_message(runtime, patient_viewer,
                                                 conversation_id=str(conversation.id),
                                                 body="Merci.")
            me = profile.Author(0, None)
            allergy = await profile.add_entry(
                settings, person_id=pid, author=me,
                data=profile.AllergyInput(substance="Pénicilline", since=date(2019, 5, 2)))
            for data in (
                profile.AllergyInput(substance="Arachide"),
                profile.VaccinationInput(vaccine="DTP", vaccinated_on=date(2025, 10, 15),
                                         dose_number=3),
                profile.MedicalHistoryInput(condition="Appendicite", onset=date(2001, 3, 1)),
                profile.FamilyHistoryInput(relative=Relative.MOTHER, condition="Diabète",
                                           age_at_onset=55),
                profile.TreatmentInput(medication="Metformine", start_date=date(2024, 1, 1)),
                profile.EmergencyContactInput(name="Paul Durand", phone="+33612345678"),
            ):
                await profile.add_entry(settings, person_id=pid, author=me, data=data)
            for n, kind in enumerate((MeasurementKind.HEIGHT, MeasurementKind.WEIGHT,
                                      MeasurementKind.WEIGHT, MeasurementKind.HEART_RATE)):
                value = {"height": "178", "weight": str(80 - n), "heart_rate": "64"}[kind.value]
                await profile.add_entry(settings, person_id=pid, author=me,
                                        data=profile.MeasurementInput(
                                            kind=kind, value=Decimal(value),
                                            measured_at=t0 + timedelta(days=n)))
            await profile.add_entry(settings, person_id=pid, author=me,
                                    data=profile.MeasurementInput(
                                        kind=MeasurementKind.BLOOD_PRESSURE,
                                        value=Decimal("130"), value2=Decimal("85"),
                                        measured_at=t0 + timedelta(days=5)))
            await profile.set_advance_directive(settings, person_id=pid, author=me,
                                                text="Pas d'acharnement.", document_id=None)
            await profile.set_organ_donation(settings, person_id=pid, author=me,
                                             position=OrganDonationPosition.CONSENTS, note=None)
            token, _ = await store.create(account_id=account.id, role=account.role.value,
                                          address="127.0.0.1", user_agent="carnet-bench-screens",
                                          person_id=pid)
            assert newest is not None
            patients.append({"token": token, "person_id": pid, "newest_document": str(newest.id),
                             "allergy": str(allergy.row.id)})
        return {"patients": patients}
    finally:
        await notices.drain()
        await runtime.aclose()
        await db.close_standalone()


def run_job(flag: str, spec: dict[str, Any], env: dict[str, str], cwd: Path, timeout: float
            ) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), flag],
        input=json.dumps(spec), env=env, cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False, preexec_fn=_die_with_parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{flag} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# The cold load client (its own process): a write on its own DB connection, then a timed read


async def _cold_client(spec: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import urlsplit

    from backend import db
    from backend.profile import services as profile
    from backend.records import services as records
    from backend.settings import load_settings

    settings = load_settings(**spec["settings"])
    await db.init_standalone(settings)
    url = urlsplit(spec["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    body = spec["body"].encode()
    latencies: list[float] = []
    counts = {"bad": 0, "socket_errors": 0, "writes": 0}
    sample: list[str] = []
    seconds = float(spec["seconds"])
    deadline = time.perf_counter() + seconds

    async def write(patient: dict[str, Any], n: int) -> None:
        if spec["write"] == "rename":
            await records.rename_document(settings, patient["person_id"],
                                          patient["newest_document"], f"Compte rendu {n}")
        else:
            await profile.update_entry(settings, person_id=patient["person_id"],
                                       entry_id=patient["allergy"],
                                       data=profile.AllergyInput(substance=f"Pénicilline {n}"))
        counts["writes"] += 1

    async def worker(patient: dict[str, Any]) -> None:
        head = (f"POST {url.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "User-Agent: carnet-bench\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {patient['token']}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        request = head + body
        reader = writer = None
        n = 0
        try:
            while time.perf_counter() < deadline:
                n += 1
                await write(patient, n)
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    assert reader is not None
                    started = time.perf_counter()
                    writer.write(request)
                    status, payload, keep_alive = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError, _BadResponse) as exc:
                    counts["socket_errors"] += 1
                    if not sample:
                        sample.append(f"{type(exc).__name__}: {exc}")
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.01)
                    continue
                latencies.append(time.perf_counter() - started)
                if status != 200 or b'"errors"' in payload or not payload.startswith(b'{"data"'):
                    counts["bad"] += 1
                    if not sample:
                        sample.append(f"{status} {payload[:200].decode(errors='replace')}")
                if not keep_alive:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(worker(p)) for p in spec["patients"]]
    _done, pending = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT_S)
    for task in pending:
        task.cancel()
        counts["socket_errors"] += 1
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - started
    await db.close_standalone()
    latencies.sort()
    return {"requests": len(latencies), "seconds": elapsed, "bad": counts["bad"],
            "socket_errors": counts["socket_errors"], "writes": counts["writes"],
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "sample": sample[0] if sample else ""}


def _run_cold_client(spec: dict[str, Any]) -> dict[str, Any]:
    import uvloop

    return uvloop.run(_cold_client(spec))


# --------------------------------------------------------------------------------------------
# wrk


WRK_SCRIPT = """
wrk.method = {method}
{body_line}
{header_lines}
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


@dataclass
class Load:
    """One request to repeat: what it sends and the exact answer it must get (warm rows)."""

    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    expected: bytes


def run_wrk(wrk: str, load: Load, *, seconds: int, concurrency: int, tmp: Path
            ) -> dict[str, Any]:
    script = tmp / f"wrk-{secrets.token_hex(4)}.lua"
    script.write_text(WRK_SCRIPT.format(
        method=_lua_string(load.method.encode()),
        body_line=f"wrk.body = {_lua_string(load.body)}" if load.body else "",
        header_lines="\n".join(f"wrk.headers[{_lua_string(k.encode())}] = "
                               f"{_lua_string(v.encode())}" for k, v in load.headers.items()),
        expected=_lua_string(load.expected),
    ))
    proc = subprocess.run(
        [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", f"--timeout={REQUEST_TIMEOUT_S}s",
         "-s", str(script), load.url],
        capture_output=True, text=True, timeout=seconds + REQUEST_TIMEOUT_S + 30, check=False,
        preexec_fn=_die_with_parent,
    )
    script.unlink()
    lines = proc.stdout.splitlines()
    found = [ln.removeprefix("CARNET_WRK ") for ln in lines if ln.startswith("CARNET_WRK ")]
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    raw = json.loads(found[0])
    sample = next((ln[len("CARNET_WRK_SAMPLE "):] for ln in lines
                   if ln.startswith("CARNET_WRK_SAMPLE ")), "")
    return {"requests": int(raw["requests"]), "seconds": raw["duration_us"] / 1e6,
            "bad": int(raw["bad"]) + max(0, int(raw["requests"]) - int(raw["ok"])
                                         - int(raw["bad"])),
            "socket_errors": int(raw["socket_errors"]), "p50_ms": raw["p50_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "sample": sample}


def run_python_load(load: Load, *, seconds: int, concurrency: int) -> dict[str, Any]:
    """graphql_overhead's Python HTTP/1.1 client, in its own process (when wrk is missing)."""
    spec = {"url": load.url, "method": load.method,
            "body": load.body.decode() if load.body is not None else None,
            "headers": load.headers, "expected": load.expected.decode(), "seconds": seconds,
            "concurrency": concurrency, "max_requests": 3_000_000}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().with_name("graphql_overhead.py")),
         "--load-client", json.dumps(spec)],
        capture_output=True, text=True, timeout=seconds + REQUEST_TIMEOUT_S + 30, check=False,
        preexec_fn=_die_with_parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load client failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------------------------
# Servers


def _plaintext_server(port: int) -> None:
    """Raw Starlette plaintext with `carnet serve`'s uvicorn options (its own process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from backend.cli import uvicorn_options
    from backend.settings import get_settings

    async def plaintext(request: Any) -> PlainTextResponse:
        return PlainTextResponse(PLAINTEXT.decode())

    app = Starlette(routes=[Route("/", plaintext, methods=["GET"])])
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, **uvicorn_options(get_settings()))


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], cwd: Path, name: str, ready_path: str,
           port: int) -> Iterator[tuple[str, subprocess.Popen]]:
    log_path = cwd / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                if httpx.get(base + ready_path, timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready within {SERVER_START_TIMEOUT_S}s")
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


def read_counters(pid: int, base: str, previous: int) -> dict[str, int] | None:
    """Ask the server for its counters (SIGUSR1) and wait for the new file."""
    path = Path(f"{base}.{pid}")
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            counts = json.loads(path.read_text())
            if counts["dumps"] > previous:
                return counts
        time.sleep(0.02)
    return None


class Counters:
    def __init__(self, pid: int, base: str) -> None:
        self.pid, self.base, self.dumps = pid, base, 0

    def snapshot(self) -> dict[str, int] | None:
        counts = read_counters(self.pid, self.base, self.dumps)
        if counts is not None:
            self.dumps = counts["dumps"]
        return counts


def wait_idle(pid: int, counters: Counters | None, settle: float = 0.3, limit: float = 15.0
              ) -> dict[str, int] | None:
    """Wait until the requests still in flight when the load generator stopped are done: the
    process's CPU time stops moving and (with counters) its counts too, which catches requests
    waiting for PostgreSQL. Returns the last counters."""
    deadline = time.monotonic() + limit
    last_cpu = process_cpu_seconds(pid)
    last = counters.snapshot() if counters else None
    while time.monotonic() < deadline:
        time.sleep(settle)
        cpu = process_cpu_seconds(pid)
        now = counters.snapshot() if counters else None
        quiet = cpu is None or last_cpu is None or cpu - last_cpu < 0.01
        if quiet and (now is None or last is None
                      or all(now[k] == last[k] for k in ("sql", "redis", "http"))):
            return now
        last_cpu, last = cpu, now
    return last


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Row:
    key: str
    label: str
    client: str
    requests: int = 0
    server_requests: int | None = None
    seconds: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    server_cpu_s: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    sample: str = ""
    writes: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def served(self) -> int:
        return self.server_requests or self.requests

    @property
    def cpu_us(self) -> float | None:
        if self.server_cpu_s is None or not self.served:
            return None
        return self.server_cpu_s / self.served * 1e6

    def per_request(self, name: str) -> float | None:
        if name not in self.counts or not self.served:
            return None
        return self.counts[name] / self.served


# Where the server's CPU goes, by the package of the innermost frame (--py-spy).
PROFILE_GROUPS = (
    ("backend.", "carnet (backend/)"), ("strawberry", "strawberry"), ("graphql", "graphql-core"),
    ("tortoise", "tortoise-orm"), ("pypika", "tortoise-orm"), ("asyncpg", "asyncpg"),
    ("redis", "redis-py"), ("uvicorn", "uvicorn"), ("httptools", "uvicorn"),
    ("starlette", "starlette"), ("asyncio", "asyncio"), ("cryptography", "cryptography"),
    ("orjson", "orjson"), ("json", "json"),
)


def _group_of(frame: str) -> str:
    # py-spy names a frame "function (package/module.py:line)", relative to site-packages.
    path = frame.rsplit("(", 1)[-1]
    for needle, name in PROFILE_GROUPS:
        stem = needle.rstrip(".")
        if path.startswith((f"{stem}/", f"{stem}.", f"{stem}_")) or f"/{stem}/" in path:
            return name
    return "other (python, C)"


def summarize_profile(folded: Path, top: int = 12) -> list[str]:
    """The folded stacks py-spy wrote: share of samples by package (innermost frame) and the
    functions with the most samples on top of the stack, and inclusive."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    groups: dict[str, int] = {}
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        groups[_group_of(frames[-1])] = groups.get(_group_of(frames[-1]), 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    if not total:
        return ["  (no samples)"]
    out = ["  by package (innermost frame): " + ", ".join(
        f"{name} {100 * n / total:.0f} %" for name, n in sorted(groups.items(),
                                                                key=lambda kv: -kv[1]))]
    out.append("  most samples on top of the stack:")
    out += [f"    {100 * n / total:5.1f} %  {frame[:110]}"
            for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]]
    out.append("  inclusive (carnet's own functions):")
    ours = [(f, n) for f, n in inclusive.items()
            if "(backend/" in f and "(backend/cli.py" not in f]
    out += [f"    {100 * n / total:5.1f} %  {frame[:110]}"
            for frame, n in sorted(ours, key=lambda kv: -kv[1])[:top]]
    return out


def py_spy_start(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    exe = shutil.which("py-spy")
    if exe is None:
        print("--py-spy: py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(seconds),
                             "--rate", "250", "--format", "raw", "--output", str(out),
                             "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(row: Row, drive: Any, *, pid: int, counters: Counters | None, warmup: int,
            duration: int, profile_dir: Path | None = None) -> Row:
    warm = drive(warmup)
    if warm["bad"] or warm["socket_errors"]:
        raise RuntimeError(f"({row.key}) failures during warm-up: {warm['sample']}")
    before = wait_idle(pid, counters)
    cpu_before = process_cpu_seconds(pid)
    spy = (py_spy_start(pid, duration, profile_dir / f"{row.key.replace('/', '-')}.folded")
           if profile_dir is not None else None)
    raw = drive(duration)
    if spy is not None:
        spy.wait(timeout=60)
    after = wait_idle(pid, counters)
    cpu_after = process_cpu_seconds(pid)
    row.requests, row.seconds = raw["requests"], raw["seconds"]
    row.p50_ms, row.p99_ms = raw["p50_ms"], raw["p99_ms"]
    row.failures, row.sample = raw["bad"] + raw["socket_errors"], raw["sample"]
    row.writes = raw.get("writes", 0)
    if cpu_before is not None and cpu_after is not None:
        row.server_cpu_s = cpu_after - cpu_before
    if before and after:
        row.counts = {k: after[k] - before[k] for k in ("sql", "sql_resets", "redis", "http")}
        row.server_requests = row.counts["http"]
    return row


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def report(rows: list[Row]) -> list[str]:
    raw = rows[0]
    columns = [("row", 17, "<"), ("client", 6, "<"), ("req/s", 8, ">"), ("p50 ms", 7, ">"),
               ("p99 ms", 7, ">"), ("CPU us/req", 10, ">"), ("req/s:raw", 9, ">"),
               ("CPU:raw", 8, ">"), ("SQL/req", 7, ">"), ("resets/req", 10, ">"),
               ("Redis/req", 9, ">"), ("failed", 6, ">")]
    lines = ["  ".join(f"{n:{a}{w}}" for n, w, a in columns),
             "  ".join("-" * w for _, w, _ in columns)]
    for r in rows:
        cpu = r.cpu_us
        cells = [
            r.key, r.client, _fmt(r.rps, ",.0f"), _fmt(r.p50_ms, ".2f"), _fmt(r.p99_ms, ".2f"),
            _fmt(cpu, ",.0f"),
            _fmt(r.rps / raw.rps * 100 if raw.rps else None, ".2f") + "%",
            _fmt(raw.cpu_us / cpu * 100 if cpu and raw.cpu_us else None, ".2f") + "%",
            _fmt(r.per_request("sql"), ".2f"), _fmt(r.per_request("sql_resets"), ".2f"),
            _fmt(r.per_request("redis"), ".2f"), str(r.failures),
        ]
        lines.append("  ".join(f"{c:{a}{w}}" for c, (_, w, a) in zip(cells, columns,
                                                                       strict=True)))
    return lines


def goals(rows: list[Row]) -> tuple[list[str], bool]:
    by_key = {r.key: r for r in rows}
    raw = rows[0]
    lines, all_pass = [], True
    for key, minimum in GOALS:
        r = by_key.get(key)
        ratio = raw.cpu_us / r.cpu_us if r and r.cpu_us and raw.cpu_us else None
        rps_ratio = r.rps / raw.rps if r and raw.rps else None
        ok = ratio is not None and ratio >= minimum
        all_pass &= ok
        lines.append(f"  {'PASS' if ok else 'MISS'}  {key:<15} >= {minimum * 100:.0f} % of raw "
                     f"Starlette (by CPU/req): {_fmt(ratio and ratio * 100, '.2f')} %  "
                     f"(by req/s: {_fmt(rps_ratio and rps_ratio * 100, '.2f')} %)")
    for screen in ("home", "documents", "profile"):
        worst = max((r.per_request("sql") or 0.0 for r in rows
                     if r.key.startswith(screen + "/")), default=None)
        ok = worst is not None and worst <= MAX_SQL_PER_SCREEN
        all_pass &= ok
        lines.append(f"  {'PASS' if ok else 'MISS'}  {screen + ' SQL':<15} <= "
                     f"{MAX_SQL_PER_SCREEN} statements per request: {_fmt(worst, '.2f')} "
                     "(worst of warm and cold)")
    return lines, all_pass


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds per row (1 s warm-up + 3 s), 8 connections")
    parser.add_argument("--duration", type=int, default=None,
                        help="measured seconds per row (default 8, --quick 3)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="warm-up seconds per row (default 2, --quick 1)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="connections (and patients for the cold rows; default 16, "
                             "--quick 8)")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL,
                        help="PostgreSQL where the throwaway database is created")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help="Redis for the server (a per-run key prefix, deleted at the end; "
                             "default %(default)s)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra server setting (repeatable)")
    parser.add_argument("--client", choices=["auto", "python"], default="auto",
                        help="auto: wrk for raw and warm rows when installed")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR",
                        help="sample the server with py-spy during each Carnet row (folded "
                             "stacks in DIR) and print where its CPU goes (the sampler "
                             "costs the server a little: compare figures without it)")
    parser.add_argument("--setup-job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cold-client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plaintext-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.duration = args.duration or (3 if args.quick else 8)
    args.warmup = args.warmup or (1 if args.quick else 2)
    args.concurrency = args.concurrency or (8 if args.quick else 16)
    if not 1 <= args.duration <= MAX_DURATION_S or not 1 <= args.warmup <= MAX_DURATION_S:
        parser.error(f"--duration and --warmup must be 1..{MAX_DURATION_S}")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be 1..64")
    extra = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--server-env {item!r}: expected NAME=VALUE")
        extra[name] = value
    args.server_env = extra
    if args.py_spy is not None:
        args.py_spy = args.py_spy.resolve()
        args.py_spy.mkdir(parents=True, exist_ok=True)
    return args


def delete_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    finally:
        client.close()


def run(args: argparse.Namespace) -> int:
    from backend.settings import generate_master_key

    wrk = shutil.which("wrk") if args.client == "auto" else None
    if wrk is None:
        print("*** wrk is NOT installed (apt-get install wrk): every row uses the Python "
              "client, whose figures are not comparable with wrk runs ***", file=sys.stderr)
    operations = screen_operations()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="carnet-bench-screens-") as tmp_name, \
            contextlib.ExitStack() as cleanup:
        tmp = Path(tmp_name)
        name = f"{DB_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        for stale in asyncio.run(_create_database(args.pg_admin_url, name)):
            print(f"Dropped {stale}, left by a run that was killed.", file=sys.stderr)
        cleanup.callback(lambda: asyncio.run(_drop_database(args.pg_admin_url, name)))
        database_url = _with_database(args.pg_admin_url, name)
        prefix = f"{KEY_PREFIX_STEM}{os.getpid()}-{secrets.token_hex(3)}:"
        cleanup.callback(lambda: delete_redis_keys(args.redis_url, prefix))
        master_key = generate_master_key()
        env = server_env(database_url, args.redis_url, master_key)
        counters_base = str(tmp / "counters")
        # The code of THIS tree (the venv's editable install may point at another one).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                          env.get("PYTHONPATH")]))
        env.update({"REDIS_KEY_PREFIX": prefix, "BLOB_DIR": str(tmp / "blobs"),
                    "MESSAGE_NOTIFY_INTERVAL_SECONDS": "3600",
                    "CARNET_BENCH_COUNTERS": counters_base, **args.server_env})
        settings = {"carnet_env": "production", "carnet_master_key": master_key,
                    "database_url": database_url, "redis_url": args.redis_url,
                    "redis_key_prefix": prefix, "blob_dir": str(tmp / "blobs"),
                    "smtp_host": None}
        job_env = {k: v for k, v in env.items() if k != "CARNET_BENCH_COUNTERS"}

        print(f"Migrating the throwaway database {name} ...", file=sys.stderr)
        run_cli(["migrate"], job_env, tmp)
        print(f"Seeding {args.concurrency} patients (20 documents, 4 conversations, a full "
              "profile each) ...", file=sys.stderr)
        seeded = run_job("--setup-job", {"settings": settings, "patients": args.concurrency,
                                         "tag": secrets.token_hex(3),
                                         "password": secrets.token_urlsafe(12)},
                         job_env, tmp, SETUP_TIMEOUT_S)
        patients = seeded["patients"]

        rows: list[Row] = []
        # (raw) plain Starlette, its own process.
        port = free_port()
        with server([sys.executable, str(Path(__file__).resolve()), "--plaintext-server",
                     str(port)], job_env, tmp, "plaintext", "/", port) as (base, proc):
            load = Load("GET", base + "/", None, {}, PLAINTEXT)
            print("Measuring raw Starlette plaintext ...", file=sys.stderr)
            rows.append(measure(
                Row("raw starlette", "raw Starlette plaintext", "wrk" if wrk else "python"),
                lambda s, load=load: (run_wrk(wrk, load, seconds=s,
                                              concurrency=args.concurrency, tmp=tmp)
                                      if wrk else run_python_load(
                                          load, seconds=s, concurrency=args.concurrency)),
                pid=proc.pid, counters=None, warmup=args.warmup, duration=args.duration))

        port = free_port()
        print("Starting carnet serve (1 uvicorn worker, production settings) ...",
              file=sys.stderr)
        command = [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", "1"]
        with server(command, env, tmp, "carnet-serve", "/readyz", port) as (base, proc):
            counters = Counters(proc.pid, counters_base)
            if counters.snapshot() is None:
                raise RuntimeError("the server wrote no counters (CARNET_BENCH_COUNTERS)")
            for screen, (query, variables) in operations.items():
                body = graphql_body(query, variables)
                headers = {"Content-Type": "application/json",
                           "Authorization": f"Bearer {patients[0]['token']}"}
                answer = httpx.post(base + "/graphql", content=body, headers=headers,
                                    timeout=REQUEST_TIMEOUT_S)
                check_screen(screen, answer.status_code, answer.content)
                load = Load("POST", base + "/graphql", body, headers, answer.content)
                print(f"Measuring {screen} (warm) ...", file=sys.stderr)
                rows.append(measure(
                    Row(f"{screen}/warm", f"{screen}, unchanged data",
                        "wrk" if wrk else "python"),
                    lambda s, load=load: (run_wrk(wrk, load, seconds=s,
                                                  concurrency=args.concurrency, tmp=tmp)
                                          if wrk else run_python_load(
                                              load, seconds=s, concurrency=args.concurrency)),
                    pid=proc.pid, counters=counters, warmup=args.warmup,
                    duration=args.duration, profile_dir=args.py_spy))
                print(f"Measuring {screen} (cold) ...", file=sys.stderr)
                spec = {"settings": settings, "url": base + "/graphql", "body": body.decode(),
                        "patients": patients,
                        "write": "profile" if screen == "profile" else "rename"}
                rows.append(measure(
                    Row(f"{screen}/cold", f"{screen}, data changed before each read",
                        "python"),
                    lambda s, spec=spec: run_job("--cold-client", {**spec, "seconds": s},
                                                 job_env, tmp, s + REQUEST_TIMEOUT_S + 60),
                    pid=proc.pid, counters=counters, warmup=args.warmup,
                    duration=args.duration, profile_dir=args.py_spy))

        wrk_version = (subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10,
                                      check=False).stdout.split(" [")[0] if wrk else
                       "NOT INSTALLED (Python client everywhere)")
        out = [
            "Carnet screens vs raw Starlette: one `carnet serve` (uvicorn, 1 worker, "
            "CARNET_ENV=production, PostgreSQL + Redis, access log off)"
            + "".join(f", {k}={v}" for k, v in args.server_env.items()),
            f"load:      wrk: {wrk_version} (1 thread); {args.concurrency} connections; "
            f"{args.warmup} s warm-up + {args.duration} s per row"
            + (" (--quick)" if args.quick else ""),
            f"data:      {len(patients)} patients x ({DOCUMENTS_PER_PATIENT} documents by 3 "
            f"authors, {CONVERSATIONS_PER_PATIENT} conversations with unread messages, a full "
            "profile); warm rows read patient 0, cold rows one patient per connection",
            f"machine:   {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"strawberry-graphql {_version('strawberry-graphql')}, starlette "
            f"{_version('starlette')}, uvicorn {_version('uvicorn')}, tortoise-orm "
            f"{_version('tortoise-orm')}, asyncpg {_version('asyncpg')}, redis-py "
            f"{_version('redis')}",
            f"load avg:  {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (1 min; the "
            "machine is shared: compare within one run)",
            "",
            *report(rows),
            "",
            "CPU us/req = server CPU (utime+stime) / requests the server counted; req/s:raw and "
            "CPU:raw = the row's",
            "throughput / raw's and raw's CPU per request / the row's (higher is better). "
            "SQL/req = statements",
            "the server sent (BEGIN/COMMIT included, pool resets apart), resets/req = asyncpg "
            "pool resets, Redis/req",
            "= commands (pub/sub aside). Cold rows: the client wrote before each read "
            "(outside the server).",
            "",
            "Goals:",
        ]
        goal_lines, _ok = goals(rows)
        out += goal_lines
        if args.py_spy is not None:
            for row in rows:
                folded = args.py_spy / f"{row.key.replace('/', '-')}.folded"
                if folded.exists():
                    out += ["", f"Profile of {row.key} (py-spy, {folded}):",
                            *summarize_profile(folded)]
        failures = [r for r in rows if r.failures]
        for r in failures:
            out.append(f"FAILURES in {r.key}: {r.failures}, e.g. {r.sample!r}")
        print("\n".join(out))
        return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.plaintext_server:
        _plaintext_server(args.plaintext_server)
        return 0
    if args.setup_job:
        print(json.dumps(asyncio.run(_setup_job(json.load(sys.stdin)))))
        return 0
    if args.cold_client:
        print(json.dumps(_run_cold_client(json.load(sys.stdin))))
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("Interrupted; cleaned up.", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
        print(f"screens: {exc}\n(cleaned up)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
