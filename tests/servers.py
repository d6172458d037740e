"""Real processes for tests that need them: `carnet serve` (uvicorn) and private redis-servers
(which a test may stop and restart without disturbing the shared one)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# How long a server process may take to answer after it starts. A healthy one answers in a few
# seconds, but CI's machine runs the browser tests beside these (two cores): importing and
# building the schema there was seen to take over 30 s. Waiting longer costs nothing when all
# is well; a process that exits early is reported at once.
START_TIMEOUT = float(os.environ.get("CARNET_TEST_START_TIMEOUT", "180"))


def wait_http(url: str, timeout: float = START_TIMEOUT, proc: subprocess.Popen | None = None
              ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def carnet_server(env: dict[str, str], *, workers: int = 1, port: int | None = None
                  ) -> Iterator[str]:
    """Run `carnet serve` and yield its base URL (http://127.0.0.1:PORT)."""
    port = port or free_port()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - must outlive this frame's try
        prefix="carnet-serve-", suffix=".log", delete=False
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--port", str(port),
         "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc=proc)
        yield base
    except BaseException:
        log.flush()
        sys.stderr.write(Path(log.name).read_text()[-4000:])
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        os.unlink(log.name)


class PrivateRedis:
    """A redis-server of our own on a free port, which tests may stop and start."""

    def __init__(self, *, persistent: bool = False) -> None:
        # persistent: append-only file, so keys (sessions) survive a restart, as in production.
        self.persistent = persistent
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="carnet-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return
            time.sleep(0.05)
        raise TimeoutError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedisCluster:
    """A Redis Cluster of our own: `masters` redis-servers with cluster-enabled yes, no
    replicas, every slot assigned, on free ports in a temporary directory."""

    def __init__(self, masters: int = 3) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        self.dir = tempfile.mkdtemp(prefix="carnet-redis-cluster-")
        # Each node also needs a cluster bus port; `cluster-port` names it (Redis >= 7).
        self.ports = [(free_port(), free_port()) for _ in range(masters)]
        self.procs: list[subprocess.Popen] = []

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port, _ in self.ports]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(self.addresses)

    def _spawn(self, index: int) -> subprocess.Popen:
        port, bus = self.ports[index]
        node_dir = Path(self.dir, str(port))
        node_dir.mkdir(exist_ok=True)
        # nodes.conf in node_dir keeps the node's id and slots across a restart.
        with open(node_dir / "redis.log", "ab") as log:
            return subprocess.Popen(
                [self.binary, "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-port", str(bus),
                 "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
                 "--save", "", "--appendonly", "no", "--dir", str(node_dir)],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def stop_node(self, index: int) -> None:
        self.procs[index].terminate()
        self.procs[index].wait(timeout=10)

    def start_node(self, index: int, timeout: float = 30.0) -> None:
        """Start a stopped node again; returns once every node says cluster_state:ok."""
        self.procs[index] = self._spawn(index)
        deadline = time.monotonic() + timeout
        for port, _ in self.ports:
            self._wait(lambda p=port: "cluster_state:ok" in self._cli(p, "cluster", "info"),
                       deadline, f"node {port} never reached cluster_state:ok")

    def start(self, timeout: float = 30.0) -> None:
        self.procs = [self._spawn(i) for i in range(len(self.ports))]
        deadline = time.monotonic() + timeout
        for port, _ in self.ports:
            self._wait(lambda p=port: self._answers(p), deadline, f"node {port} did not start")
        subprocess.run(
            [self.cli, "--cluster", "create", *self.addresses, "--cluster-replicas", "0",
             "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
        )
        for port, _ in self.ports:
            self._wait(lambda p=port: "cluster_state:ok" in self._cli(p, "cluster", "info"),
                       deadline, f"node {port} never reached cluster_state:ok")

    def _cli(self, port: int, *args: str) -> str:
        result = subprocess.run([self.cli, "-p", str(port), *args], capture_output=True,
                                text=True, timeout=10)
        return result.stdout

    def _answers(self, port: int) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(
            ("127.0.0.1", port), timeout=0.2
        ):
            return True
        return False

    @staticmethod
    def _wait(ready, deadline: float, message: str) -> None:
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.05)
        raise TimeoutError(message)

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)
