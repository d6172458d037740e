"""`make run` (and every `reflex run`/`export`) must leave the tracked frontend/reflex.lock/
unchanged (issue 9, item 14).

Reflex renders `.web/package.json` from `reflex.lock/package.json` with a compact
`json.dumps`, installs, then copies it back over `reflex.lock/package.json`: a committed copy
in any other formatting (e.g. bun's indented one from the first install) is rewritten at every
start. So the committed file is kept exactly as Reflex renders it, which this test checks
without running bun.
"""

from __future__ import annotations

import json

import pytest

from tests.servers import ROOT

FRONTEND_DIR = ROOT / "frontend"
LOCKED = FRONTEND_DIR / "reflex.lock" / "package.json"


def test_the_committed_package_json_is_what_reflex_writes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reflex.utils import frontend_skeleton

    monkeypatch.chdir(FRONTEND_DIR)  # Reflex reads reflex.lock/ from the current directory
    rendered = frontend_skeleton._compile_package_json()
    committed = LOCKED.read_text()
    assert json.loads(committed) == json.loads(rendered)
    assert committed == rendered, (
        "frontend/reflex.lock/package.json is not in the form Reflex writes back: every "
        "`reflex run` would rewrite it. Replace it with Reflex's rendering "
        "(reflex.utils.frontend_skeleton._compile_package_json(), run in frontend/)."
    )
