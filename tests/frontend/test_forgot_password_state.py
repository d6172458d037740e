"""Mot de passe oublié's state: the same screens for every identifier, rate limits with the
wait in the tab's language, the new password checked twice, "done" shown once, every session
ended; against a fake `api.execute`, and once against the real API (in-process)."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from carnet_web import api
from carnet_web.state.forgot_password import (
    CODE,
    DONE,
    IDENTIFIER,
    ForgotPasswordState,
    reset_confirm_error,
    reset_request_error,
)
from carnet_web.state.sessions import MY_SESSIONS
from graphql import GraphQLUnionType, build_schema

from tests.factories import PASSWORD, create_patient
from tests.frontend.fakes import FakeApi, client_calls, redirects, run

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
NEW_PASSWORD = "un tout nouveau mot de passe"
TOKEN = "jeton-de-session-secret"


def requested(**overrides: Any) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(minutes=15)
    return {"requestPasswordReset": {"__typename": "PasswordResetRequested",
                                     "challengeId": "defi-secret",
                                     "expiresAt": expires.isoformat(), **overrides}}


def error(kind: str, **fields: Any) -> dict[str, Any]:
    return {"__typename": kind, "message": "Message du serveur.", **fields}


def form(code: str = "123456", password: str = NEW_PASSWORD, confirmation: str | None = None
         ) -> dict[str, str]:
    return {"code": code, "new_password": password,
            "confirm_password": password if confirmation is None else confirmation}


async def at_code_step(fake_api: FakeApi, lang: str = "fr") -> ForgotPasswordState:
    fake_api.answer("RequestPasswordReset", requested())
    state = ForgotPasswordState()
    state.lang = lang
    await run(state.request_code({"identifier": " jean@example.fr "}))
    return state


def test_every_error_type_of_the_schema_has_its_own_message() -> None:
    for union, describe, success in (
        ("RequestPasswordResetResult", reset_request_error, "PasswordResetRequested"),
        ("ConfirmPasswordResetResult", reset_confirm_error, "PasswordReset"),
    ):
        members = SCHEMA.get_type(union)
        assert isinstance(members, GraphQLUnionType)
        kinds = [t.name for t in members.types if t.name != success]
        assert kinds
        for kind in kinds:
            message = describe(error(kind, retryAfterSeconds=10, attemptsLeft=2))
            assert message != "Message du serveur.", f"{union}.{kind}"


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("fr", "Trop de demandes de réinitialisation. Veuillez réessayer dans 14 minutes."),
        ("en", "Too many password reset requests. Please try again in 14 minutes."),
    ],
)
def test_rate_limits_say_how_long_to_wait(lang: str, message: str) -> None:
    assert reset_request_error(error("RateLimited", retryAfterSeconds=801), lang) == message


async def test_the_identifier_gets_a_code_step(fake_api: FakeApi) -> None:
    state = await at_code_step(fake_api)
    (call,) = fake_api.calls
    assert call.variables == {"identifier": "jean@example.fr", "channel": "EMAIL"}
    assert call.token is None
    assert state.step == CODE
    assert state.validity in ("Il est valable 15 minutes.", "Il est valable 14 minutes.")
    assert (state.error, state.busy) == ("", False)
    sent = json.dumps(state.dict(), default=str)
    assert "defi-secret" not in sent and "jean@example.fr" not in sent


async def test_an_unknown_identifier_gets_exactly_the_same_screen(fake_api: FakeApi) -> None:
    """The API answers alike (a decoy challenge); so does the page: nothing differs."""
    known = await at_code_step(fake_api)
    unknown = await at_code_step(fake_api)
    shown = {name for name in ForgotPasswordState.vars if not name.startswith("_")}
    assert {name: getattr(known, name) for name in shown} == {
        name: getattr(unknown, name) for name in shown}


async def test_the_channel_asked_for_is_sent(fake_api: FakeApi) -> None:
    fake_api.answer("RequestPasswordReset", requested())
    state = ForgotPasswordState()
    state.set_channel("SMS")
    state.set_channel("PIGEON")
    await run(state.request_code({"identifier": "jean@example.fr"}))
    assert fake_api.calls[0].variables["channel"] == "SMS"


async def test_an_empty_identifier_is_not_sent(fake_api: FakeApi) -> None:
    state = ForgotPasswordState()
    await run(state.request_code({"identifier": "  "}))
    assert state.error == "Saisissez votre identifiant."
    assert state.step == IDENTIFIER and fake_api.calls == []


async def test_a_rate_limited_request_stays_on_the_identifier(fake_api: FakeApi) -> None:
    fake_api.answer("RequestPasswordReset", {"requestPasswordReset": error(
        "RateLimited", retryAfterSeconds=45)})
    state = ForgotPasswordState()
    state.lang = "en"
    await run(state.request_code({"identifier": "jean@example.fr"}))
    assert state.error == "Too many password reset requests. Please try again in 45 seconds."
    assert state.step == IDENTIFIER and not state.busy


async def test_the_api_down(fake_api: FakeApi) -> None:
    fake_api.answer("RequestPasswordReset", api.ApiUnavailable())
    state = ForgotPasswordState()
    assert redirects(await run(state.request_code({"identifier": "jean@example.fr"}))) == []
    assert state.error == api.UNAVAILABLE_MESSAGE and not state.busy


async def test_a_new_code_for_the_same_identifier(fake_api: FakeApi) -> None:
    state = await at_code_step(fake_api)
    key = state.field_key
    fake_api.answer("RequestPasswordReset", requested(challengeId="autre-defi"))
    await run(state.resend())
    assert fake_api.calls[-1].variables["identifier"] == "jean@example.fr"
    assert state._challenge_id == "autre-defi" and state.field_key == key + 1
    assert state.info.startswith("Si un compte correspond à cet identifiant, un nouveau code")
    fake_api.answer("RequestPasswordReset", {"requestPasswordReset": error(
        "RateLimited", retryAfterSeconds=600)})
    await run(state.resend())
    assert state.error == ("Trop de demandes de réinitialisation. Veuillez réessayer dans "
                           "10 minutes.")
    assert state.info == "" and state.step == CODE


async def test_the_new_password_is_checked_before_anything_is_sent(fake_api: FakeApi) -> None:
    state = await at_code_step(fake_api)
    await run(state.confirm(form(confirmation=NEW_PASSWORD + "?")))
    assert state.error == "Les deux mots de passe ne sont pas identiques."
    await run(state.confirm(form(password="court")))
    assert state.error == "Le nouveau mot de passe doit comporter au moins 12 caractères."
    await run(state.confirm(form(code="12345")))
    assert state.error == "Saisissez les 6 chiffres du code reçu."
    assert fake_api.called("ConfirmPasswordReset") == []


@pytest.mark.parametrize(
    ("answer", "message", "usable"),
    [
        (error("InvalidCode", attemptsLeft=2), "Code incorrect. Il vous reste 2 essais.", True),
        (error("InvalidCode", attemptsLeft=0),
         "Ce code n'est plus utilisable. Demandez un nouveau code.", False),
        (error("CodeExpired"),
         "Ce code a expiré ou a déjà été utilisé. Demandez un nouveau code.", False),
        (error("WeakPassword"), "Ce mot de passe n'est pas accepté : choisissez au moins 12 "
                                "caractères variés, qui ne contiennent pas votre identifiant.",
         True),
    ],
)
async def test_a_refused_reset_says_why(
    fake_api: FakeApi, answer: dict[str, Any], message: str, usable: bool
) -> None:
    state = await at_code_step(fake_api)
    fake_api.answer("ConfirmPasswordReset", {"confirmPasswordReset": answer})
    await run(state.confirm(form()))
    assert state.error == message
    assert state.step == CODE
    assert bool(state._challenge_id) is usable
    if not usable:  # no try is sent for a code that cannot work any more
        await run(state.confirm(form()))
        assert len(fake_api.called("ConfirmPasswordReset")) == 1


async def test_done_says_every_session_ended_and_is_shown_once(fake_api: FakeApi) -> None:
    state = await at_code_step(fake_api)
    state._sign_in(TOKEN, "jean@example.fr", "PATIENT")  # signed in, in this tab, before
    fake_api.answer("ConfirmPasswordReset", {"confirmPasswordReset": {
        "__typename": "PasswordReset", "sessionsClosed": 2}})
    events = await run(state.confirm(form()))
    assert fake_api.called("ConfirmPasswordReset")[0].variables == {
        "challengeId": "defi-secret", "code": "123456", "newPassword": NEW_PASSWORD}
    assert state.step == DONE and state.sessions_closed == 2
    assert any("reset-done" in code for _, code in client_calls(events))  # focus the result
    # This tab's session was one of them: it is signed out too.
    assert not state.signed_in and state._api_token == ""
    assert NEW_PASSWORD not in json.dumps(state.dict(), default=str)
    state.open_page()  # coming back, or a reload
    assert state.step == IDENTIFIER and state.sessions_closed == 0


async def test_a_reload_keeps_a_pending_code_step(fake_api: FakeApi) -> None:
    """Switching the language reloads the page: the code already sent still works."""
    state = await at_code_step(fake_api)
    state.error = "Code incorrect. Il vous reste 2 essais."
    state.lang = "en"
    state.open_page()
    assert state.step == CODE and state.error == ""
    assert state.validity in ("It is valid for 15 minutes.", "It is valid for 14 minutes.")
    state._expires_at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    state.open_page()  # expired meanwhile: start afresh
    assert state.step == IDENTIFIER


async def test_start_over(fake_api: FakeApi) -> None:
    state = await at_code_step(fake_api)
    state.start_over()
    assert state.step == IDENTIFIER and state._challenge_id == "" and state._identifier == ""


# --- against the real API ------------------------------------------------------------------


async def test_forgotten_password_against_the_real_api(
    monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any], notifier: Any
) -> None:
    """Known and unknown identifiers alike, then the real reset: the old session is ended."""
    from carnet_web.state.login import LoginState

    real_execute = api.execute

    async def execute(document: Any, variables: Any = None, **kwargs: Any) -> dict[str, Any]:
        return await real_execute(document, variables, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "execute", execute)
    address = f"oubli-{secrets.token_hex(4)}@example.fr"
    await create_patient(email=address, password=PASSWORD)
    login = LoginState()
    await run(login.login({"identifier": address, "password": PASSWORD}))
    code = re.search(r"\b(\d{6})\b", notifier.last(to=address).text)
    assert code
    await run(login.verify({"code": code.group(1)}))
    assert login.signed_in, login.error
    old_token = login._api_token

    unknown = ForgotPasswordState()
    await run(unknown.request_code({"identifier": f"personne-{secrets.token_hex(4)}@x.fr"}))
    assert unknown.step == CODE, unknown.error
    await run(unknown.confirm(form()))
    assert unknown.error == "Code incorrect. Il vous reste 4 essais."

    notifier.clear()
    state = ForgotPasswordState()
    await run(state.request_code({"identifier": address}))
    assert state.step == CODE, state.error
    assert state.error == "" and state.validity == unknown.validity  # the same screen
    message = await notifier.wait_for(to=address)
    code = re.search(r"\b(\d{6})\b", message.text)
    assert code
    await run(state.confirm(form(code=code.group(1))))
    assert state.step == DONE, state.error
    assert state.sessions_closed >= 1

    with pytest.raises(api.ApiUnauthenticated):  # the session opened before is over
        await api.execute(MY_SESSIONS, token=old_token)
    again = LoginState()
    await run(again.login({"identifier": address, "password": NEW_PASSWORD}))
    assert again.error == ""  # the new password works
