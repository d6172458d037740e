"""Clôturer mon espace's state (a block of Mon compte): the current password, then the code and
the choice to delete at once; on success the tab is signed out and sent to the login page.
Against a fake `api.execute`; the operations are checked against schema.graphql."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from carnet_web.state import closure as closure_module
from carnet_web.state.closure import ClosureState
from carnet_web.state.session import LOGIN_ROUTE
from graphql import build_schema, parse, validate

from tests.factories import PASSWORD
from tests.frontend.fakes import FakeApi, redirects, run

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())


def challenge() -> dict[str, Any]:
    return {"__typename": "LoginChallenge", "challengeId": "defi-secret", "channel": "EMAIL",
            "maskedDestination": "n***u@example.fr", "expiresAt": "2030-01-01T00:00:00+00:00"}


def signed_in(lang: str = "fr") -> ClosureState:
    state = ClosureState()
    state._sign_in("jeton-de-session-secret", "jean@example.fr", "PATIENT")
    state.lang = lang
    return state


def test_the_operations_match_the_schema() -> None:
    for operation in (closure_module.REQUEST_ACCOUNT_CLOSURE,
                      closure_module.CONFIRM_ACCOUNT_CLOSURE):
        assert validate(SCHEMA, parse(operation.payload["query"])) == []


async def test_closing_my_space(fake_api: FakeApi) -> None:
    state = signed_in()
    state.start_closure()
    await run(state.request_closure({"current_password": ""}))
    assert state.closure_error == "Saisissez votre mot de passe actuel."
    fake_api.answer("RequestAccountClosure", {"requestAccountClosure": challenge()})
    await run(state.request_closure({"current_password": PASSWORD}))
    assert fake_api.called("RequestAccountClosure")[0].variables == {
        "currentPassword": PASSWORD}
    assert state.closure_step == "code" and state.closure_masked == "n***u@example.fr"
    await run(state.confirm_closure({"code": "12"}))
    assert state.closure_error == "Saisissez les 6 chiffres du code reçu."
    assert fake_api.called("ConfirmAccountClosure") == []
    fake_api.answer("ConfirmAccountClosure", {"confirmAccountClosure": {
        "__typename": "AccountClosure", "closedAt": "2026-12-03T18:00:00+00:00",
        "purgeAfter": "2027-03-03T18:00:00+00:00", "deletionRequested": True}})
    events = await run(state.confirm_closure({"code": "123456", "delete_now": "on"}))
    assert fake_api.called("ConfirmAccountClosure")[0].variables == {
        "challengeId": "defi-secret", "code": "123456", "deleteNow": True}
    assert redirects(events) == [LOGIN_ROUTE]
    assert not state.signed_in
    assert state.notice.startswith("Votre espace est clôturé et sera supprimé")
    assert PASSWORD not in json.dumps(state.dict(), default=str)


async def test_a_wrong_code_or_password_says_so(fake_api: FakeApi) -> None:
    state = signed_in("en")
    state.start_closure()
    fake_api.answer("RequestAccountClosure", {"requestAccountClosure": {
        "__typename": "InvalidCredentials", "message": "x"}})
    await run(state.request_closure({"current_password": "faux"}))
    assert state.closure_error == "Incorrect current password."
    assert state.closure_step == "form"
    fake_api.answer("RequestAccountClosure", {"requestAccountClosure": challenge()})
    await run(state.request_closure({"current_password": PASSWORD}))
    fake_api.answer("ConfirmAccountClosure", {"confirmAccountClosure": {
        "__typename": "CodeExpired", "message": "This code has expired."}})
    await run(state.confirm_closure({"code": "123456"}))
    assert fake_api.called("ConfirmAccountClosure")[0].variables["deleteNow"] is False
    assert state.closure_error and state.closure_step == "form"  # ask for a new code
    assert state.signed_in


async def test_a_closed_space_is_reopened_from_the_code_page(fake_api: FakeApi) -> None:
    from carnet_web.state import login as login_module
    from carnet_web.state.login import LoginState

    assert validate(SCHEMA, parse(login_module.REOPEN_ACCOUNT.payload["query"])) == []
    assert validate(SCHEMA, parse(login_module.VERIFY_LOGIN_CODE.payload["query"])) == []
    state = LoginState()
    state._take_challenge({"challengeId": "defi", "expiresAt": "2030-01-01T00:00:00+00:00",
                           "maskedDestination": "n***u@example.fr", "channel": "EMAIL",
                           "resendsLeft": 3})
    fake_api.answer("VerifyLoginCode", {"verifyLoginCode": {
        "__typename": "AccountClosed", "message": "Vous avez clôturé votre espace.",
        "reopenTicket": "ticket-secret"}})
    await run(state.verify({"code": "123456"}))
    assert state.space_closed and not state.signed_in
    assert state.space_closed_message.startswith("Vous avez clôturé votre espace.")
    assert "ticket-secret" not in json.dumps(state.dict(), default=str)  # server side only
    fake_api.answer("ReopenAccount", {"reopenAccount": {
        "__typename": "Session", "token": "jeton", "expiresAt": "2030-01-01T00:00:00+00:00",
        "idleTimeoutSeconds": 1800}})
    fake_api.answer("Me", {"me": {"identifier": "jean@example.fr", "role": "PATIENT"}})
    events = await run(state.reopen())
    assert fake_api.called("ReopenAccount")[0].variables == {"ticket": "ticket-secret"}
    assert state.signed_in and not state.space_closed
    assert redirects(events) == ["/"]
