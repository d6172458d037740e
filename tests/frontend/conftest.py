"""Fast tests of the web app's Python side (API client, state handlers), no browser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"
if str(FRONTEND_DIR) not in sys.path:
    sys.path.insert(0, str(FRONTEND_DIR))


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`api.execute` and `api.upload` replaced by a `tests.frontend.fakes.FakeApi` (canned
    answers by operation name, every call recorded)."""
    from carnet_web import api

    from tests.frontend.fakes import FakeApi

    fake = FakeApi()
    monkeypatch.setattr(api, "execute", fake.execute)
    monkeypatch.setattr(api, "upload", fake.upload)
    return fake


@pytest.fixture
def in_process(app: object) -> dict[str, Any]:
    """`api.execute` keyword arguments that serve the call in-process, on the test database.

    Tests create what they need with unique values rather than truncating tables, so they
    share the database with every other test of the session.
    """
    return {
        "url": "http://testserver/graphql",
        "http_transport": httpx.ASGITransport(app=app),  # type: ignore[arg-type]
    }
