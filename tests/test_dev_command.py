"""`carnet dev` stops on SIGINT and SIGTERM sent to its own process (issue 9, item 14), even when
SIGINT was ignored at start (a job started in the background by a script: `make run &`, CI),
and leaves no child behind. Runs the real command with --no-frontend on a temporary SQLite
database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import ROOT, free_port, wait_http

# Each case starts `carnet dev` and its children (about 50 s in all): CI runs them.
pytestmark = pytest.mark.slow

STOP_BUDGET = 12.0  # seconds; the children get 5 s to stop before SIGKILL


def _children_of(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.parametrize(
    ("sig", "sigint_ignored_at_start"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGINT", "SIGINT-background-job"],
)
def test_carnet_dev_stops_on_a_signal_with_no_child_left(
    tmp_path: Path, sig: signal.Signals, sigint_ignored_at_start: bool
) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARNET_", "SMTP_", "REDIS_", "FORWARDED_", "PYTEST_"))}
    env.update({"DATABASE_URL": f"sqlite://{tmp_path}/carnet.sqlite3", "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT)})

    def ignore_sigint() -> None:  # what a shell does to a background job
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "dev", "--no-frontend",
             "--api-port", str(port)],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            preexec_fn=ignore_sigint if sigint_ignored_at_start else None,
        )
        children: set[int] = set()
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=90, proc=proc)
            children = _children_of(proc.pid)
            assert children, "carnet dev started no API process"
            # With no web app, the API believes nobody's X-Forwarded-For (issue 9, item 7).
            api_envs = [_environ(pid) for pid in children]
            assert all(e.get("FORWARDED_ALLOW_IPS") == "" for e in api_envs)

            started = time.monotonic()
            proc.send_signal(sig)
            try:
                proc.wait(timeout=STOP_BUDGET)
            except subprocess.TimeoutExpired:
                pytest.fail(f"carnet dev still running {STOP_BUDGET}s after {sig.name}")
            elapsed = time.monotonic() - started
            left = {pid for pid in children if _alive(pid)}
            assert not left, f"children left after {sig.name}: {sorted(left)}"
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            assert proc.returncode == 0
            assert elapsed < STOP_BUDGET
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
            for pid in children:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
