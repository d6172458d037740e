"""Run the Reflex web app (frontend/) as a real `reflex run` for browser tests.

By default in production mode (`--env prod`): the pages are built once (a Vite production
build, about a minute) and served, with the state backend, on one port, as a deployment serves
them. Dev mode compiles each page's modules on its first visit and serves them unbundled: a
page load took 2-8 s there against 0.5-1.5 s from the build (measured on this machine, loaded),
which made the browser suite the longest part of CI. CARNET_WEB_MODE=dev runs dev mode instead
(to debug the web app's own code with React's development warnings).
"""

from __future__ import annotations

import contextlib
import os
import re
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
# First run on a fresh machine installs .web/node_modules with bun (~170 MB) before compiling;
# production mode then builds every page.
START_TIMEOUT = float(os.environ.get("CARNET_WEB_START_TIMEOUT", "360"))
MODE = os.environ.get("CARNET_WEB_MODE", "prod")


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
    url: str  # the pages, e.g. http://127.0.0.1:PORT
    backend_url: str  # Reflex's own backend (state over websocket); the same port in prod

    def at(self, path: str) -> re.Pattern[str]:
        """The address of the page at `path` (e.g. "/connexion/code?x=1"), as a pattern for
        `expect(page).to_have_url`: a page loaded from the production build's server ends in
        "/" (the build stores /connexion as connexion/index.html and the server redirects the
        address of a directory to end in "/"); a page reached inside the app does not."""
        route, tail = re.fullmatch(r"([^?#]*)(.*)", path, re.DOTALL).groups()  # type: ignore[union-attr]
        return re.compile(re.escape(self.url + route.rstrip("/")) + "/?" + re.escape(tail) + "$")


@contextlib.contextmanager
def reflex_web(api_url: str) -> Iterator[WebApp]:
    """`reflex run` (MODE) on free ports, pointed at `api_url`; stopped on exit."""
    frontend_port = free_port()
    # Production mode serves the pages and the state backend on one port.
    backend_port = frontend_port if MODE == "prod" else free_port()
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
            [sys.executable, "-m", "reflex", "run", "--env", MODE,
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
