"""The login pages' state: French messages for every error type, and the handlers called
directly, against a fake `api.execute` (and once against the real API, in-process)."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from carnet_web import api
from carnet_web.state import login
from carnet_web.state.login import (
    LoginState,
    code_error_message,
    login_error_message,
    normalise_code,
    resend_error_message,
)
from carnet_web.state.session import (
    CODE_ROUTE,
    HOME_ROUTE,
    LOGIN_ROUTE,
    PRO_HOME_ROUTE,
    PROFESSIONAL_ROLE,
)
from carnet_web.state.sessions import MY_SESSIONS
from graphql import GraphQLUnionType, build_schema
from reflex import constants
from reflex.istate.data import RouterData

from tests.factories import PASSWORD, create_patient
from tests.frontend.fakes import FakeApi, handler_names, redirects, run

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
TOKEN = "jeton-de-session-secret"


def challenge(**overrides: Any) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(minutes=15)
    return {
        "__typename": "LoginChallenge", "challengeId": "defi-secret", "channel": "EMAIL",
        "maskedDestination": "j***t@example.fr", "expiresAt": expires.isoformat(),
        "resendsLeft": 3, **overrides,
    }


def error(kind: str, **fields: Any) -> dict[str, Any]:
    return {"__typename": kind, "message": "Message du serveur.", **fields}


def state_json(state: LoginState) -> str:
    """What the browser can ever receive of this state."""
    return json.dumps(state.dict(), default=str)


async def challenged_state(fake_api: FakeApi) -> LoginState:
    fake_api.answer("Login", {"login": challenge()})
    state = LoginState()
    await run(state.login({"identifier": "jean@example.fr", "password": PASSWORD}))
    return state


# --- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "channel", "message"),
    [
        (error("InvalidCredentials"), "EMAIL", "Identifiant ou mot de passe incorrect."),
        (error("RateLimited", retryAfterSeconds=45), "EMAIL",
         "Trop de tentatives. Veuillez réessayer dans 45 secondes."),
        (error("RateLimited", retryAfterSeconds=1), "EMAIL",
         "Trop de tentatives. Veuillez réessayer dans 1 seconde."),
        (error("TemporarilyLocked", retryAfterSeconds=900), "EMAIL",
         "Trop d'échecs consécutifs : la connexion à ce compte est bloquée temporairement. "
         "Veuillez réessayer dans 15 minutes."),
        (error("ChannelUnavailable"), "SMS",
         "Aucun numéro de téléphone vérifié n'est associé à ce compte : choisissez de recevoir "
         "le code par e-mail."),
        (error("ChannelUnavailable"), "EMAIL",
         "Aucune adresse e-mail vérifiée n'est associée à ce compte : choisissez de recevoir "
         "le code par SMS."),
        (error("CodeDeliveryFailed"), "EMAIL", login.CODE_DELIVERY_FAILED),
        (error("SomethingNew"), "EMAIL", "Message du serveur."),  # a type added later
        ({"__typename": "SomethingNew"}, "EMAIL", api.UNEXPECTED_MESSAGE),
    ],
)
def test_login_error_messages(result: dict[str, Any], channel: str, message: str) -> None:
    assert login_error_message(result, channel=channel) == message


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (error("InvalidCode", attemptsLeft=4), "Code incorrect. Il vous reste 4 essais."),
        (error("InvalidCode", attemptsLeft=1), "Code incorrect. Il vous reste 1 essai."),
        (error("InvalidCode", attemptsLeft=0),
         "Code incorrect. Ce code n'est plus utilisable : demandez un nouveau code."),
        (error("CodeExpired"),
         "Ce code a expiré ou a déjà été utilisé. Demandez un nouveau code."),
        (error("TooManyAttempts"), "Trop d'essais pour ce code. Demandez un nouveau code."),
        (error("RateLimited", retryAfterSeconds=61),
         "Trop de tentatives. Veuillez réessayer dans 2 minutes."),
        (error("TemporarilyLocked", retryAfterSeconds=60), login.locked_message(60)),
    ],
)
def test_code_error_messages(result: dict[str, Any], message: str) -> None:
    assert code_error_message(result) == message


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (error("CodeExpired"), login.CHALLENGE_EXPIRED),
        (error("TooManyAttempts"), login.NO_MORE_RESENDS),
        (error("RateLimited", retryAfterSeconds=30), login.rate_limited_message(30)),
        (error("CodeDeliveryFailed"), login.CODE_DELIVERY_FAILED),
    ],
)
def test_resend_error_messages(result: dict[str, Any], message: str) -> None:
    assert resend_error_message(result) == message


@pytest.mark.parametrize(
    ("union", "describe"),
    [
        ("LoginResult", login_error_message),
        ("VerifyLoginCodeResult", code_error_message),
        ("ResendLoginCodeResult", resend_error_message),
    ],
)
def test_every_error_type_of_the_schema_has_its_own_message(union: str, describe: Any) -> None:
    members = SCHEMA.get_type(union)
    assert isinstance(members, GraphQLUnionType)
    errors = [t.name for t in members.types if t.name not in ("LoginChallenge", "Session")]
    assert errors
    for kind in errors:
        message = describe(error(kind, retryAfterSeconds=10, attemptsLeft=2))
        assert message != "Message du serveur.", f"{union}.{kind} has no message of its own"
        assert message.endswith(".")


@pytest.mark.parametrize(
    ("raw", "code"),
    [("123456", "123456"), (" 123 456 ", "123456"), ("123-456", "123456"), ("12345", None),
     ("1234567", None), ("12a456", None), ("", None), (None, None), ("١٢٣٤٥٦", None)],
)
def test_normalise_code(raw: object, code: str | None) -> None:
    assert normalise_code(raw) == code


# --- /connexion ----------------------------------------------------------------------------


async def test_login_goes_to_the_code_page_and_forgets_the_password(fake_api: FakeApi) -> None:
    fake_api.answer("Login", {"login": challenge()})
    state = LoginState()
    state.notice = "Votre session a expiré. Veuillez vous reconnecter."
    state.set_channel("SMS")
    events = await run(
        state.login({"identifier": "  jean@example.fr ", "password": PASSWORD, "channel": "X"})
    )
    assert redirects(events) == [CODE_ROUTE]
    (call,) = fake_api.calls
    assert call.variables == {"identifier": "jean@example.fr", "password": PASSWORD,
                              "channel": "SMS"}
    assert call.token is None
    assert (state.error, state.notice, state.busy) == ("", "", False)
    assert state.masked_destination == "j***t@example.fr"
    assert state.resends_left == 3
    assert 890 <= state.seconds_left <= 900
    assert state.countdown in ("15:00", "14:59")
    assert state._challenge_id == "defi-secret"
    # Neither the password nor the challenge id is ever sent to the browser.
    sent = state_json(state)
    assert PASSWORD not in sent
    assert "defi-secret" not in sent
    assert PASSWORD not in repr(vars(state))


async def test_login_error_stays_on_the_page_and_empties_the_password(
    fake_api: FakeApi,
) -> None:
    fake_api.answer("Login", {"login": error("InvalidCredentials")})
    state = LoginState()
    events = await run(state.login({"identifier": "jean@example.fr", "password": "faux"}))
    assert redirects(events) == []
    assert state.error == "Identifiant ou mot de passe incorrect."
    assert state.password_field_key == 1
    assert state._challenge_id == ""
    assert not state.busy


async def test_login_needs_both_fields(fake_api: FakeApi) -> None:
    state = LoginState()
    await run(state.login({"identifier": "jean@example.fr", "password": ""}))
    assert state.error == login.MISSING_CREDENTIALS
    assert fake_api.calls == []


async def test_login_with_the_api_down(fake_api: FakeApi) -> None:
    fake_api.answer("Login", api.ApiUnavailable(code="NETWORK"))
    state = LoginState()
    events = await run(state.login({"identifier": "jean@example.fr", "password": PASSWORD}))
    assert redirects(events) == []
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert not state.busy


async def test_login_ignores_a_second_submit_while_busy(fake_api: FakeApi) -> None:
    state = LoginState()
    state.busy = True
    await run(state.login({"identifier": "jean@example.fr", "password": PASSWORD}))
    assert fake_api.calls == []


def test_set_channel_accepts_only_email_or_sms() -> None:
    state = LoginState()
    state.set_channel("SMS")
    state.set_channel("PIGEON")
    assert state.channel == "SMS"


async def test_login_page_sends_a_signed_in_tab_home() -> None:
    state = LoginState()
    state.error = "ancienne erreur"
    assert redirects(await run(state.open_login_page())) == []
    assert state.error == ""
    state._sign_in(TOKEN, "jean@example.fr")
    assert redirects(await run(state.open_login_page())) == [HOME_ROUTE]


async def test_login_page_sends_a_signed_in_professional_to_their_home() -> None:
    state = LoginState()
    state._sign_in(TOKEN, "dr@example.fr", PROFESSIONAL_ROLE)
    assert redirects(await run(state.open_login_page())) == [PRO_HOME_ROUTE]


# --- /connexion/code -----------------------------------------------------------------------


async def test_code_page_needs_a_pending_login(fake_api: FakeApi) -> None:
    state = LoginState()
    assert redirects(await run(state.open_code_page())) == [LOGIN_ROUTE]
    state = await challenged_state(fake_api)
    state.seconds_left = 0
    events = await run(state.open_code_page())
    assert redirects(events) == []
    assert handler_names(events) == ["run_countdown"]  # the countdown starts
    assert state.seconds_left > 890


async def test_right_code_keeps_the_token_server_side_and_goes_home(fake_api: FakeApi) -> None:
    state = await challenged_state(fake_api)
    fake_api.answer("VerifyLoginCode", {"verifyLoginCode": {
        "__typename": "Session", "token": TOKEN, "expiresAt": "2030-01-01T00:00:00+00:00",
        "idleTimeoutSeconds": 1800,
    }})
    fake_api.answer("Me", {"me": {"identifier": "jean@example.fr"}})
    events = await run(state.verify({"code": "123 456"}))
    assert redirects(events) == [HOME_ROUTE]
    assert fake_api.called("VerifyLoginCode")[0].variables == {
        "challengeId": "defi-secret", "code": "123456",
    }
    assert fake_api.called("Me")[0].token == TOKEN  # asked as the new session
    assert state._api_token == TOKEN
    assert state.signed_in
    assert state.account_identifier == "jean@example.fr"
    assert state._challenge_id == "" and state.masked_destination == ""
    assert TOKEN not in state_json(state)
    assert not any("token" in name for name in LoginState.vars)


async def test_signed_in_even_if_me_fails(fake_api: FakeApi) -> None:
    state = await challenged_state(fake_api)
    fake_api.answer("VerifyLoginCode", {"verifyLoginCode": {
        "__typename": "Session", "token": TOKEN, "expiresAt": "2030-01-01T00:00:00+00:00",
        "idleTimeoutSeconds": 1800,
    }})
    fake_api.answer("Me", api.ApiUnavailable())
    assert redirects(await run(state.verify({"code": "123456"}))) == [HOME_ROUTE]
    assert state.signed_in and state.account_identifier == ""
    assert state.error == ""


async def test_wrong_code_says_how_many_tries_are_left(fake_api: FakeApi) -> None:
    state = await challenged_state(fake_api)
    fake_api.answer("VerifyLoginCode",
                    {"verifyLoginCode": error("InvalidCode", attemptsLeft=4)})
    events = await run(state.verify({"code": "000000"}))
    assert redirects(events) == []
    assert state.error == "Code incorrect. Il vous reste 4 essais."
    assert state.code_field_key == 1
    assert state._challenge_id == "defi-secret"  # still pending
    assert not state.signed_in and state._api_token == ""


async def test_malformed_code_is_not_sent(fake_api: FakeApi) -> None:
    state = await challenged_state(fake_api)
    await run(state.verify({"code": "12345"}))
    assert state.error == login.MALFORMED_CODE
    assert fake_api.called("VerifyLoginCode") == []


async def test_verify_without_a_pending_login_goes_back(fake_api: FakeApi) -> None:
    state = LoginState()
    assert redirects(await run(state.verify({"code": "123456"}))) == [LOGIN_ROUTE]
    assert fake_api.calls == []


async def test_resend_takes_the_new_challenge_and_restarts_the_countdown(
    fake_api: FakeApi,
) -> None:
    state = await challenged_state(fake_api)
    state.error = "Code incorrect. Il vous reste 4 essais."
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    fake_api.answer("ResendLoginCode",
                    {"resendLoginCode": challenge(resendsLeft=2, expiresAt=later)})
    events = await run(state.resend())
    assert handler_names(events) == ["run_countdown"]
    assert fake_api.called("ResendLoginCode")[0].variables == {"challengeId": "defi-secret"}
    assert state.resends_left == 2
    assert 590 <= state.seconds_left <= 600
    assert state.error == ""
    assert state.info == (
        "Un nouveau code vous a été envoyé par e-mail à j***t@example.fr. "
        "L'ancien code ne fonctionne plus."
    )


async def test_resend_refused(fake_api: FakeApi) -> None:
    state = await challenged_state(fake_api)
    fake_api.answer("ResendLoginCode", {"resendLoginCode": error("TooManyAttempts")})
    assert handler_names(await run(state.resend())) == []
    assert state.error == login.NO_MORE_RESENDS
    assert state.resends_left == 0


# --- against the real API ------------------------------------------------------------------


async def test_login_against_the_real_api(
    monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any], notifier: Any
) -> None:
    """The documents, the variables and the answers' shapes, with the API's own schema."""
    real_execute = api.execute

    async def execute(document: Any, variables: Any = None, **kwargs: Any) -> dict[str, Any]:
        return await real_execute(document, variables, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "execute", execute)
    address = f"front-{secrets.token_hex(4)}@example.fr"
    await create_patient(email=address, password=PASSWORD)

    state = LoginState()
    browser = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0"
    state.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"user-agent": browser},
        constants.RouteVar.CLIENT_IP: "127.0.0.1",
    })
    events = await run(state.login({"identifier": address, "password": PASSWORD}))
    assert redirects(events) == [CODE_ROUTE], state.error
    assert state.code_channel == "EMAIL"
    sent = notifier.last(to=address)
    code = re.search(r"\b(\d{6})\b", sent.text)
    assert code
    wrong = "000000" if code.group(1) != "000000" else "111111"
    await run(state.verify({"code": wrong}))
    assert state.error == "Code incorrect. Il vous reste 4 essais."
    events = await run(state.verify({"code": code.group(1)}))
    assert redirects(events) == [HOME_ROUTE], state.error
    assert state.account_identifier == address

    # The session was opened for the browser, not for the web server's HTTP client.
    (row,) = (await state._query(MY_SESSIONS))["mySessions"]
    assert row["current"] and row["userAgent"] == browser


# --- in English ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (error("InvalidCredentials"), "Incorrect username or password."),
        (error("RateLimited", retryAfterSeconds=45), "Too many attempts. Please try again in "
                                                     "45 seconds."),
        (error("TemporarilyLocked", retryAfterSeconds=900),
         "Too many failed attempts in a row: signing in to this account is blocked for a "
         "while. Please try again in 15 minutes."),
        (error("ChannelUnavailable"), "There is no verified phone number for this account: "
                                      "choose to get the code by email."),
    ],
)
def test_login_error_messages_in_english(result: dict[str, Any], message: str) -> None:
    assert login_error_message(result, channel="SMS", language="en") == message


def test_code_and_resend_messages_in_english() -> None:
    assert code_error_message(error("InvalidCode", attemptsLeft=4), "en") == (
        "Incorrect code. You have 4 tries left.")
    assert code_error_message(error("InvalidCode", attemptsLeft=1), "en") == (
        "Incorrect code. You have 1 try left.")
    assert resend_error_message(error("TooManyAttempts"), "en") == (
        "The code cannot be sent again for this sign-in. Start signing in again.")


async def test_an_english_tab_gets_english_messages(fake_api: FakeApi) -> None:
    fake_api.answer("Login", {"login": error("InvalidCredentials")})
    state = LoginState()
    state.lang = "en"
    await run(state.login({"identifier": "jean@example.fr", "password": "faux"}))
    assert state.error == "Incorrect username or password."
    await run(state.login({"identifier": "", "password": ""}))
    assert state.error == "Enter your username and your password."


async def test_resend_says_where_the_new_code_went_in_english(fake_api: FakeApi) -> None:
    state = await challenged_state(fake_api)
    state.lang = "en"
    fake_api.answer("ResendLoginCode", {"resendLoginCode": challenge(
        channel="SMS", maskedDestination="06 ** ** ** 78", resendsLeft=2)})
    await run(state.resend())
    assert state.info == ("A new code has been sent by text message to 06 ** ** ** 78. The old "
                          "code no longer works.")


async def test_what_a_resend_said_does_not_outlive_the_code_page(fake_api: FakeApi) -> None:
    state = await challenged_state(fake_api)
    fake_api.answer("ResendLoginCode", {"resendLoginCode": challenge(resendsLeft=2)})
    await run(state.resend())
    assert state.info
    await run(state.open_code_page())  # coming back, or a reload
    assert state.info == "" and state.error == ""


# --- where the tab goes once signed in -------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "role", "goes_to"),
    [
        ("", "PATIENT", HOME_ROUTE),
        ("/documents", "PATIENT", "/documents"),
        ("/documents?filtre=bilan", "PATIENT", "/documents?filtre=bilan"),
        ("/messagerie/abc", "PATIENT", "/messagerie/abc"),
        ("/pro/patients/abc", "PATIENT", HOME_ROUTE),  # not a patient's page
        ("/mon-compte", "PATIENT", "/mon-compte"),
        ("", PROFESSIONAL_ROLE, PRO_HOME_ROUTE),
        ("/pro/patients/abc", PROFESSIONAL_ROLE, "/pro/patients/abc"),
        ("/pro", PROFESSIONAL_ROLE, "/pro"),
        ("/messagerie/abc", PROFESSIONAL_ROLE, "/messagerie/abc"),
        ("/sessions", PROFESSIONAL_ROLE, "/sessions"),
        ("/mon-compte", PROFESSIONAL_ROLE, "/mon-compte"),
        ("/", PROFESSIONAL_ROLE, PRO_HOME_ROUTE),  # the patient's home: errors for a pro
        ("/documents", PROFESSIONAL_ROLE, PRO_HOME_ROUTE),
        ("/profil", PROFESSIONAL_ROLE, PRO_HOME_ROUTE),
        ("/professionnel", PROFESSIONAL_ROLE, PRO_HOME_ROUTE),  # only /pro and under it
        ("/connexion/code", "PATIENT", HOME_ROUTE),  # sign-in pages: never back there
        ("/mot-de-passe-oublie", PROFESSIONAL_ROLE, PRO_HOME_ROUTE),
        ("//evil.example/documents", "PATIENT", HOME_ROUTE),
        ("https://evil.example/", "PATIENT", HOME_ROUTE),
        ("/\\evil.example/", "PATIENT", HOME_ROUTE),
    ],
)
def test_return_target(target: str, role: str, goes_to: str) -> None:
    assert login.return_target(target, role) == goes_to


def session_answer() -> dict[str, Any]:
    return {"verifyLoginCode": {
        "__typename": "Session", "token": TOKEN, "expiresAt": "2030-01-01T00:00:00+00:00",
        "idleTimeoutSeconds": 1800,
    }}


@pytest.mark.parametrize(
    ("role", "asked", "goes_to"),
    [
        ("PATIENT", "/documents", "/documents"),
        (PROFESSIONAL_ROLE, "/documents", PRO_HOME_ROUTE),
        (PROFESSIONAL_ROLE, "/pro/urgence", "/pro/urgence"),
        (PROFESSIONAL_ROLE, "", PRO_HOME_ROUTE),
    ],
)
async def test_signing_in_goes_back_to_the_page_asked_for(
    fake_api: FakeApi, role: str, asked: str, goes_to: str
) -> None:
    state = await challenged_state(fake_api)
    state._return_to = asked  # what `_require_session` kept
    fake_api.answer("VerifyLoginCode", session_answer())
    fake_api.answer("Me", {"me": {"identifier": "x@example.fr", "role": role}})
    assert redirects(await run(state.verify({"code": "123456"}))) == [goes_to]
    assert state._return_to == ""  # once only
    assert state.account_role == role


async def test_a_page_that_needs_a_session_is_where_signing_in_leads(fake_api: FakeApi) -> None:
    from carnet_web.state.sessions import SessionsState

    sessions = SessionsState()
    sessions.router = RouterData.from_router_data({
        constants.RouteVar.PATH: "/sessions", constants.RouteVar.ORIGIN: "/sessions",
        constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
    })
    assert redirects(await run(sessions.load())) == [LOGIN_ROUTE]
    assert sessions._return_to == "/sessions"
