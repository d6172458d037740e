"""The agenda under load: a booking race, then the agenda query's throughput (prints figures;
not a test).

ONE run, against a throwaway PostgreSQL database and a real `carnet serve` (uvicorn,
CARNET_ENV=production, Redis, `--workers` 2 by default, so bookings race across processes):

  (race)   one professional publishes 50 slots; 200 patients (one session and one keep-alive
           connection each) start at once, each trying the slots in its own seeded order
           (`bookSlot`) until one is booked or every slot answered SlotTaken. Expected and
           checked in the database afterwards: exactly 50 bookings, 0 double bookings (a slot
           held by two appointments, or booked twice in the answers), every slot booked, no
           patient with two. Printed: bookings, refusals, attempts, the p50 / p99 latency of a
           `bookSlot` request (successful or refused), the race's wall time.
  (agenda) a patient with 500 appointments (own entries, professionals' and booked slots,
           every fifth cancelled) reads the agenda screen (`appointments(from, first: 50)`
           with the professional summary, as the web app does) from N connections for D
           seconds: req/s, p50 / p99, server CPU per request (/proc, every worker).

    .venv/bin/python bench/agenda.py [--patients 200] [--slots 50] [--workers 2]
                                     [--duration 5] [--concurrency 8] [--seed 13]

Loopback only; every phase is bounded; the servers, the throwaway database and the run's Redis
keys (a per-run prefix, never FLUSHDB) are removed at the end, also on Ctrl-C and SIGTERM.
The load client is Python (httpx, one connection per patient or per reader): its own cost
limits the agenda row on this 2-core machine (the row prints the client's CPU share).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from graphql_overhead import (
    DB_PREFIX,
    DEFAULT_PG_ADMIN_URL,
    _create_database,
    _die_with_parent,
    _drop_database,
    _raise_interrupt,
    _version,
    _with_database,
    free_port,
    percentile,
    process_cpu_seconds,
    run_cli,
    server_env,
)
from screens import delete_redis_keys, server

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = os.environ.get("CARNET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
KEY_PREFIX_STEM = "carnet-bench-agenda-"
SETUP_TIMEOUT_S = 900
REQUEST_TIMEOUT_S = 30
MAX_DURATION_S = 120
AGENDA_SIZE = 500

BOOK = """mutation Book($slot: ID!) { bookSlot(slotId: $slot, reason: "Consultation") {
  __typename ... on Appointment { id slotId } } }"""
AGENDA = """query Agenda($from: DateTime, $first: Int!, $after: String) {
  appointments(from: $from, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id start end timeZone placeKind place reason practitioner status
      source canCancel cancelDeadline icsUrl
      professional { id rpps profession specialty practiceName } } } } }"""


# --------------------------------------------------------------------------------------------
# Seeding (its own interpreter: one Tortoise init per process)


async def _setup_job(spec: dict[str, Any]) -> dict[str, Any]:
    from datetime import date, time

    from stdnum.fr import nir

    from backend import db
    from backend.access.policy import PatientViewer, ProfessionalViewer
    from backend.agenda import services
    from backend.agenda.models import AppointmentStatus
    from backend.bootstrap import build_runtime
    from backend.identity import notices
    from backend.identity.accounts import ContactInput, create_patient, create_professional
    from backend.identity.services import session_store
    from backend.keys import services as keys
    from backend.notifications.testing import RecordingNotifier
    from backend.settings import load_settings

    settings = load_settings(**spec["settings"])
    await db.init_standalone(settings)
    runtime = build_runtime(settings)
    runtime.notifier = RecordingNotifier()
    rng = random.Random(spec["seed"])
    store = session_store(runtime)
    try:
        pros = []
        for n in range(3):
            account, _ = await create_professional(
                rpps=f"{10_000_000_000 + rng.randrange(89_999_999_999):011d}",
                profession="Médecin", specialty="Médecine générale",
                contact=ContactInput(email=f"pro{n}.{spec['tag']}@example.com", phone=None,
                                     identifier=None, password=spec["password"]))
            pros.append(account)
        doctor = ProfessionalViewer(pros[0].id, pros[0].professional_id)
        day = (datetime.now(UTC) + timedelta(days=14)).date()
        # 50 slots of 10 minutes over one morning (several days if asked for more).
        per_day = 6 * 6
        days = -(-spec["slots"] // per_day)
        published = await services.publish_slots(runtime, doctor, services.Recurrence(
            start_date=day, end_date=day + timedelta(days=days - 1), weekdays=range(7),
            day_start=time(8), day_end=time(14), duration_minutes=10,
            place_address="10 avenue du Banc, 75011 Paris"))
        slots = [str(s.id) for s in published.slots[:spec["slots"]]]
        # Slots beyond the asked number are withdrawn (the race is for exactly `slots`).
        for extra in published.slots[spec["slots"]:]:
            await services.cancel_slot(runtime, doctor, str(extra.id))

        async def patient(i: int, tag: str) -> tuple[Any, str]:
            year, month = 60 + rng.randrange(30), 1 + rng.randrange(12)
            commune = 1 + rng.randrange(998)
            body = f"1{year:02d}{month:02d}75{commune:03d}{1 + rng.randrange(998):03d}"
            account = await create_patient(
                nir=body + nir.calc_check_digits(body + "00"), birth_name="AGENDA",
                first_names="Banc", birth_date=date(1900 + year, month, 2), sex="M",
                birthplace=f"75{commune:03d}",
                contact=ContactInput(email=f"{tag}{i}.{spec['tag']}@example.com", phone=None,
                                     identifier=None, password=spec["password"],
                                     channel="email"),
                test_identity=True)
            # The data key a first write would create (the race is on the booking itself).
            await keys.data_key_for(settings, account.person_id)
            token, _ = await store.create(account_id=account.id, role=account.role.value,
                                          address="127.0.0.1", user_agent="carnet-bench-agenda",
                                          person_id=account.person_id)
            return account, token

        racers = [(await patient(i, "racer"))[1] for i in range(spec["patients"])]
        reader, reader_token = await patient(0, "reader")
        me = PatientViewer(reader.id, reader.person_id)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
            days=60)
        for n in range(AGENDA_SIZE):
            at = start + timedelta(hours=7 * n)
            if n % 3 == 0:
                item = await services.add_own(runtime, me, services.AppointmentInput(
                    start_at=at, end_at=at + timedelta(minutes=45), reason=f"Rendez-vous {n}",
                    practitioner="Dr Libre", place="1 rue de la Paix, Paris"))
            else:
                pro = pros[n % 3]
                item, _ = await services.upsert_from_software(
                    runtime, professional_account_id=pro.id,
                    professional_id=pro.professional_id, person_id=reader.person_id,
                    incoming=services.SoftwareAppointment(
                        data=services.AppointmentInput(
                            start_at=at, end_at=at + timedelta(minutes=20),
                            reason=f"Suivi {n}", place="2 rue du Cabinet, Lyon"),
                        status=AppointmentStatus.BOOKED))
            if n % 5 == 4 and item.row.start_at > datetime.now(UTC) + timedelta(days=2):
                await services.cancel_by_patient(runtime, me, str(item.row.id))
        return {"slots": slots, "racers": racers, "reader": reader_token}
    finally:
        await notices.drain()
        await runtime.aclose()
        await db.close_standalone()


async def _check_job(spec: dict[str, Any]) -> dict[str, Any]:
    """What the database says after the race."""
    from tortoise import connections

    from backend import db
    from backend.settings import load_settings

    await db.init_standalone(load_settings(**spec["settings"]))
    try:
        conn = connections.get("default")
        _, rows = await conn.execute_query(
            "SELECT count(*) AS n, count(DISTINCT active_slot_id) AS slots, "
            "count(DISTINCT person_id) AS people FROM appointment "
            "WHERE active_slot_id IS NOT NULL")
        _, doubles = await conn.execute_query(
            "SELECT count(*) AS n FROM (SELECT slot_id FROM appointment WHERE slot_id IS NOT "
            "NULL AND status IN ('booked', 'proposed') GROUP BY slot_id HAVING count(*) > 1) d")
        _, booked = await conn.execute_query(
            "SELECT count(*) AS n FROM agenda_slot WHERE status = 'booked'")
        return {"bookings": rows[0]["n"], "distinct_slots": rows[0]["slots"],
                "distinct_patients": rows[0]["people"], "double_bookings": doubles[0]["n"],
                "slots_booked": booked[0]["n"]}
    finally:
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
# The race and the reads


async def race(base: str, slots: list[str], tokens: list[str], seed: int) -> dict[str, Any]:
    latencies: list[float] = []
    answers: dict[str, int] = {}
    won: list[str] = []
    errors: list[str] = []
    gate = asyncio.Event()

    async def patient(n: int, token: str) -> None:
        order = list(slots)
        random.Random(seed * 100_003 + n).shuffle(order)
        async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            await http.get("/healthz")  # the connection is open before the start
            await gate.wait()
            for slot in order:
                t0 = time.perf_counter()
                response = await http.post("/graphql", json={"query": BOOK,
                                                             "variables": {"slot": slot}})
                latencies.append(time.perf_counter() - t0)
                body = response.json()
                if body.get("errors") or not body.get("data"):
                    errors.append(json.dumps(body)[:300])
                    return
                kind = body["data"]["bookSlot"]["__typename"]
                answers[kind] = answers.get(kind, 0) + 1
                if kind == "Appointment":
                    won.append(body["data"]["bookSlot"]["slotId"])
                    return
                if kind != "SlotTaken":
                    errors.append(kind)
                    return

    tasks = [asyncio.ensure_future(patient(n, t)) for n, t in enumerate(tokens)]
    await asyncio.sleep(1.0)  # every connection opened
    t0 = time.perf_counter()
    gate.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"answers": answers, "won": won, "errors": errors, "wall": wall,
            "attempts": len(latencies), "p50": percentile(latencies, 50) * 1000,
            "p99": percentile(latencies, 99) * 1000}


async def read_load(base: str, token: str, *, seconds: float, concurrency: int,
                    variables: dict[str, Any]) -> dict[str, Any]:
    latencies: list[float] = []
    bad: list[str] = []
    deadline = time.perf_counter() + seconds
    body = json.dumps({"query": AGENDA, "variables": variables})

    async def reader() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S, headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json"}) as http:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                response = await http.post("/graphql", content=body)
                latencies.append(time.perf_counter() - t0)
                data = response.json()
                if data.get("errors") or len(data["data"]["appointments"]["edges"]) != \
                        variables["first"]:
                    bad.append(response.text[:300])

    t0 = time.perf_counter()
    await asyncio.gather(*(reader() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"requests": len(latencies), "wall": wall, "bad": bad,
            "p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000}


def worker_pids(pid: int) -> list[int]:
    """The server process and its uvicorn workers (children), from /proc."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[1]) == pid:
                        pids.append(int(entry.name))
    return pids


def cpu_of(pids: list[int]) -> float:
    return sum(process_cpu_seconds(p) or 0.0 for p in pids)


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--setup-job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.slots <= args.patients <= 1000:
        parser.error("need 1 <= --slots <= --patients <= 1000")
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S}]")
    if not 1 <= args.workers <= 4 or not 1 <= args.concurrency <= 64:
        parser.error("--workers 1..4, --concurrency 1..64")
    return args


def run(args: argparse.Namespace) -> int:
    from backend.settings import generate_master_key

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="carnet-bench-agenda-") as tmp_name, \
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
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.update({"REDIS_KEY_PREFIX": prefix, "BLOB_DIR": str(tmp / "blobs"),
                    "MESSAGE_NOTIFY_INTERVAL_SECONDS": "3600", "DB_POOL_MAX_SIZE": "10"})
        settings = {"carnet_env": "production", "carnet_master_key": master_key,
                    "database_url": database_url, "redis_url": args.redis_url,
                    "redis_key_prefix": prefix, "blob_dir": str(tmp / "blobs"),
                    "smtp_host": None}
        print(f"Migrating the throwaway database {name} ...", file=sys.stderr)
        run_cli(["migrate"], env, tmp)
        print(f"Seeding {args.patients} patients, {args.slots} slots and a patient with "
              f"{AGENDA_SIZE} appointments ...", file=sys.stderr)
        seeded = run_job("--setup-job", {"settings": settings, "patients": args.patients,
                                         "slots": args.slots, "seed": args.seed,
                                         "tag": secrets.token_hex(3),
                                         "password": secrets.token_urlsafe(12)},
                         env, tmp, SETUP_TIMEOUT_S)
        port = free_port()
        command = [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", str(args.workers)]
        print(f"Starting carnet serve ({args.workers} workers) ...", file=sys.stderr)
        with server(command, env, tmp, "carnet-serve", "/readyz", port) as (base, proc):
            time.sleep(1.0 if args.workers > 1 else 0)  # every worker up
            print("Race ...", file=sys.stderr)
            raced = asyncio.run(race(base, seeded["slots"], seeded["racers"], args.seed))
            variables = {"from": (datetime.now(UTC) - timedelta(days=7)).isoformat(),
                         "first": 50}
            print("Agenda reads ...", file=sys.stderr)
            asyncio.run(read_load(base, seeded["reader"], seconds=1.0,
                                  concurrency=args.concurrency, variables=variables))
            pids = worker_pids(proc.pid)
            cpu0, gen0 = cpu_of(pids), time.process_time()
            reads = asyncio.run(read_load(base, seeded["reader"], seconds=args.duration,
                                          concurrency=args.concurrency, variables=variables))
            server_cpu, gen_cpu = cpu_of(pids) - cpu0, time.process_time() - gen0
        checked = run_job("--check-job", {"settings": settings}, env, tmp, 120)

    double_in_answers = len(raced["won"]) - len(set(raced["won"]))
    ok = (checked["bookings"] == args.slots and checked["double_bookings"] == 0
          and checked["distinct_slots"] == args.slots and checked["slots_booked"] == args.slots
          and checked["distinct_patients"] == args.slots and double_in_answers == 0
          and len(raced["won"]) == args.slots and not raced["errors"] and not reads["bad"])
    rps = reads["requests"] / reads["wall"] if reads["wall"] else 0.0
    out = [
        f"Carnet agenda bench: `carnet serve` ({args.workers} uvicorn workers, "
        "CARNET_ENV=production, PostgreSQL + Redis), Python httpx clients",
        f"machine:  {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"strawberry-graphql {_version('strawberry-graphql')}, tortoise-orm "
        f"{_version('tortoise-orm')}, asyncpg {_version('asyncpg')}; load avg "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
        "",
        f"race:     {args.patients} patients x {args.slots} slots (seed {args.seed}), "
        f"{raced['attempts']} bookSlot requests in {raced['wall']:.2f} s",
        f"          answers: {json.dumps(raced['answers'], sort_keys=True)}",
        f"          booking latency p50 {raced['p50']:.1f} ms, p99 {raced['p99']:.1f} ms",
        f"          database: {checked['bookings']} bookings holding "
        f"{checked['distinct_slots']} distinct slots for {checked['distinct_patients']} "
        f"patients; {checked['slots_booked']} slots booked; double bookings: "
        f"{checked['double_bookings']} (in the answers: {double_in_answers})",
        f"agenda:   a patient with {AGENDA_SIZE} appointments, appointments(from, first: 50) "
        f"with professionals, {args.concurrency} connections, {args.duration:g} s",
        f"          {rps:.1f} req/s, p50 {reads['p50']:.1f} ms, p99 {reads['p99']:.1f} ms, "
        f"server CPU {server_cpu / max(1, reads['requests']) * 1e6:.0f} us/req "
        f"(all workers), client CPU {gen_cpu / reads['wall'] * 100:.0f} % of a core",
        "",
        "RESULT: " + ("OK (exactly one booking per slot, no double booking)" if ok else
                      "FAILED " + json.dumps({"errors": raced["errors"][:3],
                                              "bad_reads": reads["bad"][:2]})),
    ]
    print("\n".join(out))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.setup_job:
        print(json.dumps(asyncio.run(_setup_job(json.load(sys.stdin)))))
        return 0
    if args.check_job:
        print(json.dumps(asyncio.run(_check_job(json.load(sys.stdin)))))
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("Interrupted; cleaned up.", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
        print(f"agenda: {exc}\n(cleaned up)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
