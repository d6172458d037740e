"""The home page's state handler, called directly (no browser, no Reflex server)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from carnet_web import api
from carnet_web.state.formatting import date_text
from carnet_web.state.home import HomeState, sparkline, trend_items

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


async def test_signed_out_load_shows_the_latest_announcements(api_in_process: list[dict]) -> None:
    title = f"Annonce {secrets.token_hex(4)}"
    published = datetime.now(UTC)  # one instant: no midnight between publishing and checking
    await Announcement.create(title=title, body="Texte <i>brut</i>", published_at=published)
    state = HomeState()
    await run(state)
    assert state.error == ""
    assert not state.loading
    newest = state.announcements[0]
    assert (newest.title, newest.body) == (title, "Texte <i>brut</i>")
    assert newest.published_on == date_text(published.isoformat(), "fr")
    assert api_in_process[0]["variables"] == {"announcements": 5}
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
    english = HomeState()
    english.lang = "en"
    await run(english)
    assert english.error.startswith("The service is temporarily unavailable")
    assert not state.loading
    assert state.announcements == []


def test_the_token_never_reaches_the_browser() -> None:
    state = HomeState()
    state._api_token = "jeton-secret"
    assert "jeton-secret" not in json.dumps(state.dict(), default=str)  # what the tab receives
    assert not any("token" in name for name in HomeState.vars)


async def test_load_notices_a_session_that_ended_elsewhere(api_in_process: list[dict]) -> None:
    """A revoked token: the tab is sent to the login page (which comes back home after)."""
    state = HomeState()
    state._sign_in("jeton-revoque", "jean@example.fr")
    updates = [update async for update in state.load()]
    assert api_in_process[0]["token"] == "jeton-revoque"
    assert not state.signed_in and state._api_token == "" and state.account_identifier == ""
    assert state.notice == api.UNAUTHENTICATED_MESSAGE
    assert any(update is not None for update in updates)  # the redirect to /connexion
    assert not state.loading


async def test_a_professional_is_sent_to_their_own_area(api_in_process: list[dict]) -> None:
    state = HomeState()
    state._sign_in("jeton", "dr@example.fr", "PROFESSIONAL")
    updates = [update async for update in state.load()]
    assert api_in_process == []  # no patient query for a professional
    assert "/pro" in str(updates[0])


SIGNED_IN_ANSWER = {
    "me": {"identifier": "marie@example.fr", "role": "PATIENT",
           "patient": {"greetingName": "Marie"}},
    "documents": {"totalCount": 7, "newCount": 2, "edges": [
        {"node": {"id": "3", "title": "Compte rendu", "typeLabel": "Compte rendu",
                  "clinicalDate": "2026-06-01", "createdAt": "2026-06-02T08:00:00+00:00",
                  "isNew": True}},
    ]},
    "messagingSummary": {"unreadCount": 4, "unreadConversations": 2},
    "latestMeasurements": [{
        "kind": "WEIGHT", "label": "Poids", "unitLabel": "kg", "change": 0.4,
        "latest": {"at": "2026-06-01T08:00:00+00:00", "value": 72.5, "diastolic": None},
        "points": [{"at": "2026-05-01T08:00:00+00:00", "value": 72.1, "diastolic": None},
                   {"at": "2026-06-01T08:00:00+00:00", "value": 72.5, "diastolic": None}],
    }],
    "announcements": [],
}


async def test_signed_in_home_comes_from_one_request_in_the_tab_language() -> None:
    from tests.frontend.fakes import FakeApi

    fake = FakeApi()
    fake.answer("Home", SIGNED_IN_ANSWER)
    for language, expected in (
        ("fr", ("2 nouveaux documents", "4 messages non lus dans 2 conversations", "72,5 kg",
                "1er juin 2026", "+0,4 kg depuis la mesure précédente")),
        ("en", ("2 new documents", "4 unread messages in 2 conversations", "72.5 kg",
                "1 June 2026", "+0.4 kg since the previous measurement")),
    ):
        state = HomeState()
        state.lang = language
        state._sign_in("jeton", "marie@example.fr", "PATIENT")
        original = api.execute
        api.execute = fake.execute  # type: ignore[assignment]
        try:
            async for _ in state.load():
                pass
        finally:
            api.execute = original  # type: ignore[assignment]
        assert state.error == ""
        assert state.greeting_name == "Marie"
        trend = state.trends[0]
        assert (state.new_documents_label, state.unread_label, trend.value, trend.measured_on,
                trend.change) == expected
        assert state.documents[0].is_new and state.documents[0].date in ("1er juin 2026",
                                                                           "1 June 2026")
    assert len(fake.called("Home")) == 2  # one request per load
    assert fake.called("Home")[1].headers["Accept-Language"] == "en"


def test_sparkline_points() -> None:
    assert sparkline([1.0]) == ""
    points = sparkline([1.0, 3.0, 2.0]).split()
    assert len(points) == 3
    xs = [float(point.split(",")[0]) for point in points]
    ys = [float(point.split(",")[1]) for point in points]
    assert xs == sorted(xs) and ys[1] < ys[2] < ys[0]  # higher values drawn higher
    flat = sparkline([5.0, 5.0])
    assert len({point.split(",")[1] for point in flat.split()}) == 1


def test_blood_pressure_trend_reads_systolic_over_diastolic() -> None:
    [item] = trend_items([{
        "kind": "BLOOD_PRESSURE", "label": "Tension artérielle", "unitLabel": "mmHg",
        "change": None,
        "latest": {"at": "2026-06-01T08:00:00+00:00", "value": 120, "diastolic": 80},
        "points": [{"at": "2026-06-01T08:00:00+00:00", "value": 120, "diastolic": 80}],
    }], "fr")
    assert item.value == "120/80 mmHg" and item.change == "" and item.points == ""


def test_the_web_app_sends_the_document_whose_statement_count_the_api_tests_hold() -> None:
    from carnet_web.state.home import HOME_SIGNED_IN
    from graphql import parse, print_ast

    from tests.test_home_query import HOME_QUERY

    assert print_ast(HOME_SIGNED_IN.document) == print_ast(parse(HOME_QUERY))
