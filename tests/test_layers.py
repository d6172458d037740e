"""Dependencies run one way (issue 9, item 17): the import-linter contracts of pyproject.toml
hold, every module of backend/ has a place in them, and the core builds no domain adapter."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
DOMAINS = ["identity", "records", "access", "profile", "messaging", "announcements", "audit",
           "catalogue", "onboarding",
           "keys", "notifications"]


def _contracts() -> list[dict]:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]


def _layers() -> list[list[str]]:
    [layered] = [c for c in _contracts() if c["type"] == "layers"]
    return [[name.strip() for name in layer.replace("|", ":").split(":")]
            for layer in layered["layers"]]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("backend", cache_dir=None)


def test_the_import_contracts_hold():
    # In a child process: import-linter's command configures logging for the whole process
    # (it silenced every later test's caplog when run in-process).
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         f"sys.exit(lint_imports(config_filename={str(PYPROJECT)!r}, no_cache=True, "
         "no_logo=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_backend_module_has_a_layer():
    listed = {name for layer in _layers() for name in layer}
    present = {f"backend.{path.stem}" for path in (ROOT / "backend").glob("*.py")
               if path.stem != "__init__"}
    present |= {f"backend.{path.parent.name}" for path in (ROOT / "backend").glob("*/__init__.py")
                if path.parent.name != "migrations"}
    assert present - listed == set(), "add these modules to a layer in pyproject.toml"
    assert listed - present == set(), "these layers name modules that do not exist"


def test_the_core_imports_no_domain(graph):
    core = _layers()[-1]
    assert "backend.runtime" in core and "backend.errors" in core
    for module in core:
        for domain in DOMAINS:
            chain = graph.find_shortest_chain(importer=module, imported=f"backend.{domain}",
                                              as_packages=True)
            assert chain is None, f"{module} depends on backend.{domain}: {chain}"


def test_no_domain_imports_another_domains_graphql_types(graph):
    for domain in DOMAINS:
        for other in DOMAINS:
            types = f"backend.{other}.types"
            if other == domain or types not in graph.modules:
                continue
            importers = {m for m in graph.find_modules_that_directly_import(types)
                         if m == f"backend.{domain}" or m.startswith(f"backend.{domain}.")}
            assert importers == set(), f"{importers} import {types}"


async def test_the_composition_root_builds_the_adapters(tmp_path):
    from backend.bootstrap import build_runtime
    from backend.notifications.services import ChannelNotifier
    from backend.records.storage import LocalBlobStore
    from backend.runtime import BlobStore, Notifier, Runtime
    from backend.settings import load_settings

    runtime = build_runtime(load_settings(blob_dir=str(tmp_path / "blobs"), redis_url=None))
    try:
        assert isinstance(runtime, Runtime)
        assert isinstance(runtime.notifier, ChannelNotifier | Notifier)
        assert isinstance(runtime.blobs, LocalBlobStore)
    finally:
        await runtime.aclose()
    # The ports stay importable where they were (their providers re-export them).
    from backend.notifications.services import Notifier as NotifierThere
    from backend.records.storage import BlobStore as BlobStoreThere

    assert (NotifierThere, BlobStoreThere) == (Notifier, BlobStore)
