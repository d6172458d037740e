"""The home page's state handler, called directly (no browser, no Reflex server)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from carnet_web import api
from carnet_web.state.home import HomeState, french_date

from backend.announcements.models import Announcement
from tests.servers import free_port


async def run(state: HomeState) -> None:
    async for _ in state.load():
        assert state.loading  # the first update shows "Chargement…"


@pytest.fixture
def api_in_process(monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any]) -> list[dict]:
    """Route the state's API calls to the in-process app; record each call's arguments."""
    calls: list[dict] = []
    real_execute = api.execute

    async def execute(document: Any, variables: Any = None, **kwargs: Any) -> dict[str, Any]:
        calls.append({"variables": variables, **kwargs})
        return await real_execute(document, variables, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "execute", execute)
    return calls


async def test_load_shows_platform_and_latest_announcements(api_in_process: list[dict]) -> None:
    title = f"Annonce {secrets.token_hex(4)}"
    published = datetime.now(UTC)  # one instant: no midnight between publishing and checking
    await Announcement.create(title=title, body="Texte <i>brut</i>", published_at=published)
    state = HomeState()
    await run(state)
    assert state.error == ""
    assert not state.loading
    assert state.platform_name == "Carnet"
    assert state.platform_environment == "dev"
    newest = state.announcements[0]
    assert (newest.title, newest.body) == (title, "Texte <i>brut</i>")
    assert newest.published_on == french_date(published.isoformat())
    assert api_in_process[0]["variables"] == {"first": 5}
    assert api_in_process[0]["token"] is None  # anonymous tab


async def test_load_passes_the_tab_token(api_in_process: list[dict]) -> None:
    state = HomeState()
    state._api_token = "jeton-de-test"
    await run(state)
    assert api_in_process[0]["token"] == "jeton-de-test"


async def test_load_with_the_api_down_shows_a_french_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(api.API_URL_ENV, f"http://127.0.0.1:{free_port()}/graphql")
    state = HomeState()
    await run(state)
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert state.error.startswith("Le service est momentanément indisponible")
    assert not state.loading
    assert state.announcements == []


def test_the_token_never_reaches_the_browser() -> None:
    state = HomeState()
    state._api_token = "jeton-secret"
    assert "jeton-secret" not in json.dumps(state.dict(), default=str)  # what the tab receives
    assert not any("token" in name for name in HomeState.vars)


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-01-05T10:00:00+00:00", "5 janvier 2026"),
        ("2026-08-15T23:30:00+00:00", "16 août 2026"),  # already the 16th in Paris
        ("2026-12-31T12:00:00", "31 décembre 2026"),  # naive means UTC
        ("pas une date", ""),
    ],
)
def test_french_date(iso: str, expected: str) -> None:
    assert french_date(iso) == expected


async def test_load_notices_a_session_that_ended_elsewhere(api_in_process: list[dict]) -> None:
    state = HomeState()
    state._sign_in("jeton-revoque", "jean@example.fr")
    await run(state)
    assert api_in_process[0]["token"] == "jeton-revoque"
    assert not state.signed_in and state._api_token == "" and state.account_identifier == ""
    assert state.notice == api.UNAUTHENTICATED_MESSAGE
    assert state.platform_name == "Carnet" and state.error == ""
