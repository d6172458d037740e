"""Signing out, "Mes sessions" and what needs a session, with a fake `api.execute`."""

from __future__ import annotations

import json

import pytest
from carnet_web import api
from carnet_web.state import session as session_module
from carnet_web.state import sessions as sessions_module
from carnet_web.state.session import LOGIN_ROUTE, SessionState
from carnet_web.state.sessions import SessionsState, session_items

from tests.frontend.fakes import FakeApi, redirects, run

TOKEN = "jeton-de-session-secret"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"
ROWS = [
    {"id": "s-autre", "createdAt": "2026-11-27T08:00:00+00:00",
     "lastSeenAt": "2026-11-27T09:30:00+00:00", "expiresAt": "2026-11-27T20:00:00+00:00",
     "address": "203.0.113.7", "userAgent": FIREFOX, "current": False},
    {"id": "s-ici", "createdAt": "2026-11-28T17:00:00+00:00",
     "lastSeenAt": "2026-11-28T17:05:00+00:00", "expiresAt": "2026-11-29T05:00:00+00:00",
     "address": "127.0.0.1", "userAgent": "", "current": True},
]


def signed_in(state: SessionState) -> SessionState:
    state._sign_in(TOKEN, "jean@example.fr")
    return state


def test_session_items_put_this_session_first_in_french() -> None:
    here, other = session_items(ROWS)
    assert (here.id, here.current, here.browser) == ("s-ici", True, "Navigateur inconnu")
    assert (other.id, other.current) == ("s-autre", False)
    assert other.browser == "Firefox sur Windows"
    assert other.user_agent == FIREFOX
    assert other.created == "27 novembre 2026 à 09:00"  # Paris time
    assert other.last_seen == "27 novembre 2026 à 10:30"
    assert other.address == "203.0.113.7"


async def test_sessions_page_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = SessionsState()
    events = await run(state.load())
    assert redirects(events) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert fake_api.calls == []


async def test_sessions_page_lists_my_sessions(fake_api: FakeApi) -> None:
    fake_api.answer("MySessions", {"mySessions": ROWS})
    state = signed_in(SessionsState())
    events = await run(state.load())
    assert redirects(events) == []
    assert [item.id for item in state.sessions] == ["s-ici", "s-autre"]
    assert not state.loading and state.error == ""
    assert fake_api.calls[0].token == TOKEN
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_sessions_page_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("MySessions", api.ApiUnauthenticated(detail="expired"))
    state = signed_in(SessionsState())
    events = await run(state.load())
    assert redirects(events) == [LOGIN_ROUTE]
    assert state.notice == api.UNAUTHENTICATED_MESSAGE
    assert (state._api_token, state.signed_in, state.account_identifier) == ("", False, "")


async def test_sessions_page_with_the_api_down_stays_signed_in(fake_api: FakeApi) -> None:
    fake_api.answer("MySessions", api.ApiUnavailable())
    state = signed_in(SessionsState())
    assert redirects(await run(state.load())) == []
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert state.signed_in and not state.loading


@pytest.mark.parametrize(
    ("answer", "info"),
    [
        ({"__typename": "SessionRevoked", "id": "s-autre"}, sessions_module.SESSION_REVOKED),
        ({"__typename": "SessionNotFound", "message": "Session introuvable."},
         sessions_module.SESSION_ALREADY_CLOSED),
    ],
)
async def test_revoke_then_refresh(fake_api: FakeApi, answer: dict, info: str) -> None:
    fake_api.answer("RevokeSession", {"revokeSession": answer})
    fake_api.answer("MySessions", {"mySessions": ROWS[1:]})
    state = signed_in(SessionsState())
    await run(state.revoke("s-autre"))
    assert fake_api.called("RevokeSession")[0].variables == {"id": "s-autre"}
    assert state.info == info
    assert [item.id for item in state.sessions] == ["s-ici"]
    assert not state.busy


async def test_logout_everywhere_signs_this_tab_out_too(fake_api: FakeApi) -> None:
    fake_api.answer("LogoutEverywhere", {"logoutEverywhere": {"sessionsClosed": 3}})
    state = signed_in(SessionsState())
    events = await run(state.logout_everywhere())
    assert redirects(events) == [LOGIN_ROUTE]
    assert fake_api.calls[0].token == TOKEN
    assert state.notice == (
        "Vous avez été déconnecté de toutes vos sessions (3 sessions fermées)."
    )
    assert not state.signed_in and state._api_token == ""


async def test_logout_closes_the_session_then_forgets_it(fake_api: FakeApi) -> None:
    fake_api.answer("Logout", {"logout": {"sessionsClosed": 1}})
    state = signed_in(SessionState())
    events = await run(state.logout())
    assert redirects(events) == [LOGIN_ROUTE]
    assert fake_api.calls[0].token == TOKEN
    assert (state._api_token, state.signed_in, state.account_identifier) == ("", False, "")
    assert state.notice == "Vous êtes déconnecté."


@pytest.mark.parametrize(
    ("failure", "notice"),
    [
        (api.ApiUnauthenticated(), session_module.SIGNED_OUT),  # already closed: fine
        (api.ApiUnavailable(), session_module.SIGNED_OUT_LOCALLY),
    ],
)
async def test_logout_forgets_the_session_even_when_the_api_fails(
    fake_api: FakeApi, failure: api.ApiError, notice: str
) -> None:
    fake_api.answer("Logout", failure)
    state = signed_in(SessionState())
    assert redirects(await run(state.logout())) == [LOGIN_ROUTE]
    assert not state.signed_in and state._api_token == ""
    assert state.notice == notice


async def test_logout_without_a_session_calls_nothing(fake_api: FakeApi) -> None:
    state = SessionState()
    assert redirects(await run(state.logout())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


def test_the_browser_user_agent_and_address_are_forwarded() -> None:
    from reflex import constants
    from reflex.istate.data import RouterData

    state = SessionState()
    assert state._forwarded_headers() == {"Accept-Language": "fr"}
    state.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"user-agent": FIREFOX, "cookie": "x=1"},
        constants.RouteVar.CLIENT_IP: "203.0.113.7",
    })
    assert state._forwarded_headers() == {
        "Accept-Language": "fr", "User-Agent": FIREFOX, "X-Forwarded-For": "203.0.113.7"}
    state.lang = "en"
    assert state._forwarded_headers()["Accept-Language"] == "en"


async def test_signing_out_forgets_every_page_of_the_previous_person(fake_api: FakeApi) -> None:
    """A shared computer: the next person must never see the previous one's data."""
    from carnet_web.state.documents import DocumentsState

    fake_api.answer("Logout", {"logout": {"sessionsClosed": 1}})
    session = signed_in(SessionState())
    documents = session.substates[DocumentsState.get_name()]
    documents.filter_text = "oncologie"
    documents.error = "x"
    await run(session.logout())
    assert documents.filter_text == "" and documents.error == ""
    assert not session.signed_in


def test_session_items_in_english() -> None:
    here, other = session_items(ROWS, "en")
    assert here.browser == "Unknown browser"
    assert other.browser == "Firefox on Windows"
    assert other.created == "27 November 2026 at 09:00"
    rows = [{**ROWS[0], "address": None}]
    assert session_items(rows, "en")[0].address == "unknown"


async def test_what_a_revoke_said_does_not_outlive_the_page(fake_api: FakeApi) -> None:
    fake_api.answer("RevokeSession", {"revokeSession": {"__typename": "SessionRevoked",
                                                        "id": "s-autre"}})
    fake_api.answer("MySessions", {"mySessions": ROWS[1:]})
    state = signed_in(SessionsState())
    await run(state.revoke("s-autre"))
    assert state.info == sessions_module.SESSION_REVOKED
    await run(state.load())  # coming back, or a reload
    assert state.info == ""


async def test_revoke_in_english(fake_api: FakeApi) -> None:
    fake_api.answer("RevokeSession", {"revokeSession": {"__typename": "SessionNotFound",
                                                        "message": "x"}})
    fake_api.answer("MySessions", {"mySessions": ROWS[1:]})
    state = signed_in(SessionsState())
    state.lang = "en"
    await run(state.revoke("s-autre"))
    assert state.info == "This session was already closed."


async def test_revoke_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("RevokeSession", api.ApiUnauthenticated())
    state = signed_in(SessionsState())
    assert redirects(await run(state.revoke("s-autre"))) == [LOGIN_ROUTE]
    assert not state.signed_in and not state.busy
    assert state.notice == api.UNAUTHENTICATED_MESSAGE


async def test_logout_everywhere_asks_first_and_says_it_in_english(fake_api: FakeApi) -> None:
    fake_api.answer("LogoutEverywhere", {"logoutEverywhere": {"sessionsClosed": 2}})
    state = signed_in(SessionsState())
    state.lang = "en"
    state.set_confirm_open(True)
    assert state.confirm_open and fake_api.calls == []  # the dialog alone calls nothing
    assert redirects(await run(state.logout_everywhere())) == [LOGIN_ROUTE]
    assert not state.confirm_open
    assert state.notice == "You have been signed out of all your sessions (2 sessions closed)."


async def test_logout_everywhere_with_the_api_down_stays(fake_api: FakeApi) -> None:
    fake_api.answer("LogoutEverywhere", api.ApiUnavailable())
    state = signed_in(SessionsState())
    assert redirects(await run(state.logout_everywhere())) == []
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert state.signed_in and not state.busy
