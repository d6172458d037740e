"""Run the Reflex web app (frontend/) as a real `reflex run` for browser tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from tests.servers import ROOT, free_port, wait_http

FRONTEND_DIR = ROOT / "frontend"
JSTOOLS_BIN = ROOT / ".jstools" / "node_modules" / ".bin"
# First run on a fresh machine installs .web/node_modules with bun (~170 MB) before compiling.
START_TIMEOUT = float(os.environ.get("CARNET_WEB_START_TIMEOUT", "240"))


def web_env(api_url: str) -> dict[str, str]:
    """Environment for `reflex run`: this API, bun from .jstools, nothing from pytest.

    frontend/rxconfig.py adds the defaults that keep Reflex offline (telemetry, version check,
    npm registry, address probe).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["CARNET_API_URL"] = api_url
    env["PATH"] = f"{JSTOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def bun_path(env: dict[str, str]) -> str | None:
    return shutil.which("bun", path=env["PATH"])


@dataclass(frozen=True)
class WebApp:
    url: str  # the page server (Vite), e.g. http://127.0.0.1:PORT
    backend_url: str  # Reflex's own backend (state over websocket)


@contextlib.contextmanager
def reflex_dev(api_url: str) -> Iterator[WebApp]:
    """`reflex run --env dev` on free ports, pointed at `api_url`; stopped on exit."""
    frontend_port, backend_port = free_port(), free_port()
    app = WebApp(f"http://127.0.0.1:{frontend_port}", f"http://127.0.0.1:{backend_port}")
    # CARNET_WEB_LOG=path keeps the web app's output there (to debug a browser test).
    keep = os.environ.get("CARNET_WEB_LOG")
    with (open(keep, "w+b") if keep else  # noqa: SIM115
          tempfile.TemporaryFile(prefix="carnet-web-", suffix=".log") as log,
          tempfile.TemporaryDirectory(prefix="carnet-web-watch-") as watched):
        env = web_env(api_url)
        # Dev mode reloads the backend (and recompiles) whenever a file of frontend/ changes:
        # watch an empty directory instead, so edits made during a run cannot restart the app
        # under a test.
        env["REFLEX_HOT_RELOAD_OVERRIDE_PATHS"] = watched
        proc = subprocess.Popen(
            [sys.executable, "-m", "reflex", "run", "--env", "dev",
             "--frontend-port", str(frontend_port), "--backend-port", str(backend_port),
             "--backend-host", "127.0.0.1"],
            cwd=FRONTEND_DIR, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: bun/Vite/granian children stop with it
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            wait_http(f"{app.backend_url}/ping", timeout=START_TIMEOUT, proc=proc)
            wait_http(f"{app.url}/", timeout=max(1.0, deadline - time.monotonic()), proc=proc)
            yield app
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-6000:])
            raise
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGINT (what Ctrl-C sends; reflex stops its children), then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)
