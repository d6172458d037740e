"""The opt-out campaign import at scale (issue 15 part 10): persons/s and the importer's peak
memory, which must not grow with the file (prints figures; not a test).

For each size (default 100,000 and 1,000,000 persons), against a throwaway PostgreSQL database
(`carnet migrate` first):

  1. writes a CSV of N generated persons (valid NIR keys, all distinct; INS traits; about 70 %
     with an email, the rest with a postal address only; a phone for one in three) to a
     temporary folder;
  2. runs `carnet campaign import FILE` as a child process and measures its wall time and its
     peak resident memory (`ru_maxrss` of the child, from wait4), also sampling its RSS from
     /proc every 0.2 s to print the RSS after 25 %, 50 % and 100 % of the run;
  3. (--reimport) runs it again on the same file: idempotent, nothing is inserted;
  4. empties the campaign tables before the next run (each --jobs value is a run).

    .venv/bin/python bench/campaign.py [--sizes 100000,1000000] [--email-share 0.7]
                                       [--batch-size 2000] [--jobs 1,2] [--reimport] [--keep]

Printed per size: lines, imported, seconds, persons/s, peak RSS (MiB) and the sampled RSS.
Flat memory = the same peak RSS at 100 k and 1 M rows. Then (--finalise N, default 20,000) the
finalisation (part 5): the windows of N imported persons are moved into the past and two
`carnet campaign finalise` processes run at once (two workers, FOR UPDATE SKIP LOCKED): accounts
created per second, and a check that each person got exactly one account. The throwaway
database and files are removed at the end (--keep keeps the
CSV files), also on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from graphql_overhead import (
    DB_PREFIX,
    DEFAULT_PG_ADMIN_URL,
    _create_database,
    _die_with_parent,
    _drop_database,
    _raise_interrupt,
    _with_database,
    carnet_command,
    run_cli,
    server_env,
)
from stdnum.fr import nir as stdnum_nir

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["nir", "nom_naissance", "prenoms", "sexe", "date_naissance", "lieu_naissance",
          "adresse", "code_postal", "commune", "email", "telephone"]
NAMES = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
         "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID"]
FIRST = {"1": ["Jean", "Pierre", "Louis", "Hugo", "Lucas"],
         "2": ["Marie", "Camille", "Léa", "Chloé", "Inès"]}
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20]


def person(i: int, email_share: float) -> list[str]:
    """Person number i (deterministic; distinct NIRs for distinct i up to ~70 million)."""
    sex = "1" if i % 2 else "2"
    order = i % 999 + 1
    commune = (i // 999) % 999 + 1
    rest = i // (999 * 999)
    month = rest % 12 + 1
    year = 30 + (rest // 12) % 70
    department = DEPARTMENTS[(rest // 840) % len(DEPARTMENTS)]
    body = f"{sex}{year:02d}{month:02d}{department}{commune:03d}{order:03d}"
    nir = body + stdnum_nir.calc_check_digits(body)
    day = i % 28 + 1
    has_email = (i * 2654435761 % 1000) < email_share * 1000
    return [nir, NAMES[i % len(NAMES)], FIRST[sex][i % 5], "M" if sex == "1" else "F",
            f"19{year:02d}-{month:02d}-{day:02d}", f"{department}{commune:03d}",
            f"{i % 200 + 1} rue de la République|Bâtiment {chr(65 + i % 6)}",
            f"{department}{(i % 90) * 10 + 100:03d}", "VILLE",
            f"personne{i}@exemple.fr" if has_email else "",
            f"06{i % 100_000_000:08d}" if i % 3 == 0 else ""]


def write_csv(path: Path, n: int, email_share: float) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for i in range(n):
            writer.writerow(person(i, email_share))


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run_import(env: dict[str, str], cwd: Path, csv_path: Path, batch_size: int,
               jobs: int = 1) -> dict:
    """Import in a child process: wall time, peak RSS (wait4) and sampled RSS."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [*carnet_command(), "campaign", "import", str(csv_path), "--batch-size",
         str(batch_size), "--jobs", str(jobs), "--report", str(csv_path) + ".report.csv"],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent)
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss = _rss_kib(proc.pid)
            if rss:
                samples.append((time.monotonic() - started, rss))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: stdout_chunks.append(proc.stdout.read()),
                              daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    reader.join()
    stderr = proc.stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}):\n{stderr[-3000:]}")
    summary = json.loads(b"".join(stdout_chunks).decode().strip().splitlines()[-1])
    at = {}
    for share in (0.25, 0.5, 1.0):
        before = [rss for t, rss in samples if t <= elapsed * share]
        at[share] = max(before) if before else None
    phases = [line.split(": ", 1)[-1] for line in stderr.splitlines() if "set-based" in line]
    return {"summary": summary, "seconds": elapsed, "peak_kib": usage.ru_maxrss,
            "phases": phases[-1] if phases else "",
            "sampled_kib": at}


async def _sql(database_url: str, statement: str, *args: object) -> object:
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


def run_finalise(env: dict[str, str], cwd: Path, database_url: str, n: int) -> dict:
    """Move N windows into the past, then two finalisers at once (child processes)."""
    asyncio.run(_sql(database_url, "UPDATE campaign_person SET window_ends_at = now() - "
                     "interval '1 second' WHERE id IN (SELECT id FROM campaign_person "
                     "ORDER BY id LIMIT $1)", n))
    started = time.monotonic()
    procs = [subprocess.Popen([*carnet_command(), "campaign", "finalise"], env=env, cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=_die_with_parent) for _ in range(2)]
    outputs = [p.communicate() for p in procs]
    elapsed = time.monotonic() - started
    for proc, (_, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"finalise failed:\n{err.decode(errors='replace')[-3000:]}")
    created = sum(json.loads(out.decode().strip().splitlines()[-1])["created"]
                  for out, _ in outputs)
    accounts = asyncio.run(_sql(database_url, "SELECT count(*) FROM account a JOIN "
                                "campaign_person c ON c.person_id = a.person_id"))
    persons = asyncio.run(_sql(database_url, "SELECT count(*) FROM campaign_person WHERE "
                               "status = 'created'"))
    asyncio.run(_sql(database_url, "TRUNCATE account, person CASCADE"))
    return {"created": created, "seconds": elapsed,
            "exactly_once": created == n == accounts == persons}


async def _empty(database_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("TRUNCATE campaign_person, campaign RESTART IDENTITY")
    finally:
        await conn.close()


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--email-share", type=float, default=0.7)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--jobs", default="1",
                        help="comma-separated --jobs values of the importer, each one a run")
    parser.add_argument("--reimport", action="store_true", help="import each file twice")
    parser.add_argument("--keep", action="store_true", help="keep the CSV files")
    parser.add_argument("--finalise", type=int, default=20_000,
                        help="persons finalised by two workers after the first import (0: no)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    signal.signal(signal.SIGTERM, _raise_interrupt)

    name = f"{DB_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_create_database(args.pg_admin_url, name))
    database_url = _with_database(args.pg_admin_url, name)
    work = Path(tempfile.mkdtemp(prefix="carnet-bench-campaign-"))
    from backend.settings import generate_master_key

    env = server_env(database_url, None, generate_master_key())
    env["PYTHONPATH"] = str(ROOT)
    env["LOG_LEVEL"] = "INFO"  # the importer logs its phase times (counts only)
    rows = []
    finalised: list[tuple[int, dict]] = []
    try:
        run_cli(["migrate"], env, work)
        print(f"# campaign import: PostgreSQL, python {platform.python_version()}, "
              f"{os.cpu_count()} cores, batch {args.batch_size}, email share "
              f"{args.email_share}", flush=True)
        for n in sizes:
            csv_path = work / f"campaign-{n}.csv"
            t0 = time.monotonic()
            write_csv(csv_path, n, args.email_share)
            print(f"generated {n} persons in {time.monotonic() - t0:.1f} s "
                  f"({csv_path.stat().st_size / 2**20:.0f} MiB)", flush=True)
            runs = []
            for jobs in [int(j) for j in args.jobs.split(",") if j]:
                runs.append((f"import, --jobs {jobs}",
                             run_import(env, work, csv_path, args.batch_size, jobs)))
                if args.finalise and jobs == int(args.jobs.split(",")[0]):
                    finalised.append((n, run_finalise(env, work, database_url,
                                                      min(args.finalise, n))))
                if args.reimport:
                    runs.append((f"again, --jobs {jobs}",
                                 run_import(env, work, csv_path, args.batch_size, jobs)))
                asyncio.run(_empty(database_url))
            for label, result in runs:
                s = result["summary"]
                rows.append((n, label, s["lines"], s["imported"], result["seconds"],
                             s["lines"] / result["seconds"], result["peak_kib"],
                             result["sampled_kib"]))
                print(f"  {label}: {json.dumps(s)}\n    {result['phases']}", flush=True)
            if not args.keep:
                csv_path.unlink()
                Path(str(csv_path) + ".report.csv").unlink(missing_ok=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        asyncio.run(_drop_database(args.pg_admin_url, name))
        if not args.keep:
            for path in work.glob("*"):
                path.unlink()
            work.rmdir()
    print()
    print("| persons | run | lines | imported | seconds | persons/s | peak RSS MiB | "
          "RSS at 25 % / 50 % / 100 % MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for n, label, lines, imported, seconds, rate, peak, sampled in rows:
        print(f"| {n:,} | {label} | {lines:,} | {imported:,} | {seconds:.1f} | {rate:,.0f} | "
              f"{_mib(peak)} | {_mib(sampled[0.25])} / {_mib(sampled[0.5])} / "
              f"{_mib(sampled[1.0])} |")
    if finalised:
        print()
        print("| persons in file | finalised | workers | seconds | accounts/s | one account each |")
        print("|---:|---:|---:|---:|---:|---|")
        for n, f in finalised:
            print(f"| {n:,} | {f['created']:,} | 2 | {f['seconds']:.1f} | "
                  f"{f['created'] / f['seconds']:,.0f} | {f['exactly_once']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
