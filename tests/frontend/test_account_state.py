"""Mon compte's state: my identity read-only, contact and password changes with a code,
preferences and language; against a fake `api.execute`, and once against the real API
(in-process)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from carnet_web import api
from carnet_web.i18n import LanguageState
from carnet_web.state import account as account_module
from carnet_web.state.account import (
    AccountState,
    confirm_error,
    matricule_text,
    new_password_error,
    step_up_error,
)
from carnet_web.state.session import LOGIN_ROUTE
from gql import GraphQLRequest
from graphql import GraphQLUnionType, build_schema, validate
from reflex import constants
from reflex.istate.data import RouterData

from tests.factories import PASSWORD, create_patient
from tests.frontend.fakes import FakeApi, client_calls, handler_names, redirects, run

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
TOKEN = "jeton-de-session-secret"
NEW_PASSWORD = "un tout nouveau mot de passe"


def me(**overrides: Any) -> dict[str, Any]:
    return {
        "identifier": "jean@example.fr", "role": "PATIENT", "email": "jean@example.fr",
        "emailVerified": True, "phone": None, "phoneVerified": False, "language": "fr",
        "notificationPreferences": {"channel": "EMAIL", "newDocument": True,
                                    "newMessage": False},
        "patient": {
            "insMatricule": "255081416802538", "matriculeType": "NIR", "birthName": "DUPONT",
            "firstNames": "JEAN PIERRE", "birthDate": "1985-03-01", "sex": "M",
            "birthplaceCode": "75056", "identityStatus": "QUAL",
        },
        "professional": None,
        **overrides,
    }


def challenge(**overrides: Any) -> dict[str, Any]:
    return {"__typename": "LoginChallenge", "challengeId": "defi-secret", "channel": "EMAIL",
            "maskedDestination": "n***u@example.fr", "expiresAt": "2030-01-01T00:00:00+00:00",
            **overrides}


def error(kind: str, **fields: Any) -> dict[str, Any]:
    return {"__typename": kind, "message": "Message du serveur.", **fields}


def signed_in(state: AccountState, lang: str = "fr") -> AccountState:
    state._sign_in(TOKEN, "jean@example.fr", "PATIENT")
    state.lang = lang
    return state


def sent_to_browser(state: AccountState) -> str:
    return json.dumps(state.dict(), default=str)


async def loaded(fake_api: FakeApi, lang: str = "fr", **overrides: Any) -> AccountState:
    fake_api.answer("MyAccount", {"me": me(**overrides)})
    state = signed_in(AccountState(), lang)
    await run(state.load())
    return state


# --- messages ------------------------------------------------------------------------------


def test_matricule_is_grouped_as_on_a_carte_vitale() -> None:
    assert matricule_text("255081416802538") == "2 55 08 14 168 025 38"
    assert matricule_text(" 2 55 08 14 168 025 38 ") == "2 55 08 14 168 025 38"
    assert matricule_text("12345") == "12345"  # not a NIR: as it is


@pytest.mark.parametrize(
    ("password", "confirmation", "message"),
    [
        ("court", "court", "Le nouveau mot de passe doit comporter au moins 12 caractères."),
        ("x" * 129, "x" * 129, "Le nouveau mot de passe doit comporter au plus 128 caractères."),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "Les deux mots de passe ne sont pas identiques."),
        (NEW_PASSWORD, NEW_PASSWORD, ""),
    ],
)
def test_new_password_checks(password: str, confirmation: str, message: str) -> None:
    assert new_password_error(password, confirmation) == message


def test_new_password_checks_in_english() -> None:
    assert new_password_error("court", "court", "en") == (
        "The new password must have at least 12 characters.")


@pytest.mark.parametrize(
    ("union", "describe", "success"),
    [
        ("StepUpResult", step_up_error, "LoginChallenge"),
        ("ConfirmContactChangeResult", confirm_error, "Me"),
        ("ConfirmPasswordChangeResult", confirm_error, "PasswordChanged"),
        ("UpdatePreferencesResult", None, "Me"),
    ],
)
def test_every_error_type_of_the_schema_has_its_own_message(
    union: str, describe: Any, success: str
) -> None:
    members = SCHEMA.get_type(union)
    assert isinstance(members, GraphQLUnionType)
    errors = [t.name for t in members.types if t.name != success]
    assert errors
    if describe is None:  # updatePreferences: only ChannelUnavailable has its own
        assert set(errors) == {"ChannelUnavailable", "InvalidInput"}
        return
    for kind in errors:
        message = describe(error(kind, retryAfterSeconds=10, attemptsLeft=2, field="email"))
        assert message != "Message du serveur.", f"{union}.{kind} has no message of its own"
        assert message.endswith(".")


def test_every_document_is_valid_against_the_api_schema() -> None:
    from carnet_web.state import forgot_password

    documents = [value for module in (account_module, forgot_password)
                 for value in vars(module).values() if isinstance(value, GraphQLRequest)]
    assert len(documents) >= 8
    for document in documents:
        assert validate(SCHEMA, document.document) == []


# --- loading -------------------------------------------------------------------------------


async def test_without_a_session_the_page_sends_to_login(fake_api: FakeApi) -> None:
    state = AccountState()
    state.router = RouterData.from_router_data({
        constants.RouteVar.PATH: "/mon-compte", constants.RouteVar.ORIGIN: "/mon-compte",
        constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
    })
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state._return_to == "/mon-compte"  # and back here once signed in
    assert fake_api.calls == []


async def test_my_identity_as_the_ins_holds_it(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    assert fake_api.calls[0].token == TOKEN
    assert (state.birth_name, state.first_names) == ("DUPONT", "JEAN PIERRE")
    assert state.birth_date == "1er mars 1985"
    assert state.sex == "Masculin"
    assert state.birthplace_code == "75056"
    assert state.ins_matricule == "2 55 08 14 168 025 38"
    assert state.matricule_type == "NIR (numéro de sécurité sociale)"
    assert state.identity_status_label == "Identité qualifiée"
    assert "confirmés par le téléservice INSi" in state.identity_status_hint
    assert state.is_patient and not state.is_professional_account
    assert (state.email, state.email_verified, state.phone) == ("jean@example.fr", True, "")
    assert (state.pref_channel, state.pref_new_document, state.pref_new_message) == (
        "EMAIL", True, False)
    assert state.pref_language == "fr"
    assert not state.loading and state.error == ""


async def test_my_identity_in_english(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, "en")
    assert state.birth_date == "1 March 1985"
    assert state.sex == "Male"
    assert state.identity_status_label == "Qualified identity"
    assert state.matricule_type == "NIR (social security number)"


async def test_a_professional_sees_their_professional_identity(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, role="PROFESSIONAL", patient=None, professional={
        "rpps": "10000000001", "profession": "Médecin", "specialty": "Médecine générale",
        "practiceName": "Cabinet du Parc", "practiceAddress": None})
    assert not state.is_patient and state.is_professional_account
    assert (state.rpps, state.profession, state.practice_address) == (
        "10000000001", "Médecin", "")


async def test_the_api_down_says_so_and_stays_signed_in(fake_api: FakeApi) -> None:
    fake_api.answer("MyAccount", api.ApiUnavailable())
    state = signed_in(AccountState())
    assert redirects(await run(state.load())) == []
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert state.signed_in and not state.loading


async def test_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("MyAccount", api.ApiUnauthenticated())
    state = signed_in(AccountState())
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert not state.signed_in


# --- my contacts ---------------------------------------------------------------------------


async def test_changing_my_phone_sends_a_code_to_the_new_number(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.start_contact_change("SMS")
    assert (state.contact_kind, state.contact_step) == ("SMS", "form")
    fake_api.answer("RequestContactChange", {"requestContactChange": challenge(
        channel="SMS", maskedDestination="06 ** ** ** 78")})
    await run(state.request_contact_change({"value": " 06 12 34 56 78 ",
                                            "current_password": PASSWORD}))
    (call,) = fake_api.called("RequestContactChange")
    assert call.variables == {"currentPassword": PASSWORD, "email": None,
                              "phone": "06 12 34 56 78"}
    assert state.contact_step == "code" and state.contact_masked == "06 ** ** ** 78"
    assert state.contact_error == "" and not state.contact_busy
    sent = sent_to_browser(state)
    assert PASSWORD not in sent and "defi-secret" not in sent

    fake_api.answer("ConfirmContactChange", {"confirmContactChange": {
        "__typename": "Me", **me(phone="+33612345678", phoneVerified=True)}})
    events = await run(state.confirm_contact_change({"code": "123 456"}))
    assert fake_api.called("ConfirmContactChange")[0].variables == {
        "challengeId": "defi-secret", "code": "123456"}
    assert (state.phone, state.phone_verified) == ("+33612345678", True)
    assert state.contact_info == "Votre numéro de téléphone est maintenant +33612345678."
    assert (state.contact_step, state.contact_kind, state._contact_challenge) == ("", "", "")
    # Focus goes back to the button that opened the change.
    assert any("account-change-phone" in code for _, code in client_calls(events))


async def test_changing_my_email_in_english(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, "en")
    state.start_contact_change("EMAIL")
    fake_api.answer("RequestContactChange", {"requestContactChange": challenge()})
    await run(state.request_contact_change({"value": "nouveau@example.fr",
                                            "current_password": PASSWORD}))
    assert fake_api.called("RequestContactChange")[0].variables["email"] == "nouveau@example.fr"
    fake_api.answer("ConfirmContactChange", {"confirmContactChange": {
        "__typename": "Me", **me(email="nouveau@example.fr")}})
    await run(state.confirm_contact_change({"code": "123456"}))
    assert state.contact_info == "Your email address is now nouveau@example.fr."


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (error("InvalidCredentials"), "Mot de passe actuel incorrect."),
        (error("InvalidInput", field="phone"),
         "Ce numéro de téléphone n'est pas valide. Exemple : 06 12 34 56 78."),
        (error("RateLimited", retryAfterSeconds=120),
         "Trop de tentatives. Veuillez réessayer dans 2 minutes."),
    ],
)
async def test_a_refused_contact_change_says_why_and_empties_the_password(
    fake_api: FakeApi, answer: dict[str, Any], message: str
) -> None:
    state = await loaded(fake_api)
    state.start_contact_change("SMS")
    key = state.contact_field_key
    fake_api.answer("RequestContactChange", {"requestContactChange": answer})
    await run(state.request_contact_change({"value": "06", "current_password": "faux"}))
    assert state.contact_error == message
    assert state.contact_step == "form" and state.contact_field_key == key + 1


async def test_a_contact_change_needs_both_fields(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.start_contact_change("EMAIL")
    await run(state.request_contact_change({"value": "", "current_password": PASSWORD}))
    assert state.contact_error == "Saisissez votre nouvelle adresse e-mail."
    await run(state.request_contact_change({"value": "a@b.fr", "current_password": ""}))
    assert state.contact_error == "Saisissez votre mot de passe actuel."
    assert fake_api.called("RequestContactChange") == []


async def test_a_wrong_code_then_an_expired_one(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.start_contact_change("EMAIL")
    fake_api.answer("RequestContactChange", {"requestContactChange": challenge()})
    await run(state.request_contact_change({"value": "n@example.fr",
                                            "current_password": PASSWORD}))
    fake_api.answer("ConfirmContactChange",
                    {"confirmContactChange": error("InvalidCode", attemptsLeft=3)},
                    {"confirmContactChange": error("CodeExpired")})
    await run(state.confirm_contact_change({"code": "000000"}))
    assert state.contact_error == "Code incorrect. Il vous reste 3 essais."
    assert state.contact_step == "code"
    await run(state.confirm_contact_change({"code": "000001"}))
    assert state.contact_error == (
        "Ce code a expiré ou a déjà été utilisé. Demandez un nouveau code.")
    assert state.contact_step == "form" and state._contact_challenge == ""  # ask again
    await run(state.confirm_contact_change({"code": "12"}))
    assert len(fake_api.called("ConfirmContactChange")) == 2


async def test_cancelling_a_change_gives_focus_back(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.start_contact_change("SMS")
    events = await run(state.cancel_contact_change())
    assert state.contact_step == "" and state.contact_kind == ""
    assert any("account-change-phone" in code for _, code in client_calls(events))


# --- my password ---------------------------------------------------------------------------


async def test_changing_my_password(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.start_password_change()
    fake_api.answer("RequestPasswordChange", {"requestPasswordChange": challenge()})
    await run(state.request_password_change({"current_password": PASSWORD}))
    assert fake_api.called("RequestPasswordChange")[0].variables == {
        "currentPassword": PASSWORD}
    assert state.password_step == "code" and state.password_masked == "n***u@example.fr"

    # Checked here first: nothing is sent.
    await run(state.confirm_password_change({"code": "123456", "new_password": NEW_PASSWORD,
                                             "confirm_password": "autre chose encore"}))
    assert state.password_error == "Les deux mots de passe ne sont pas identiques."
    await run(state.confirm_password_change({"code": "12", "new_password": NEW_PASSWORD,
                                             "confirm_password": NEW_PASSWORD}))
    assert state.password_error == "Saisissez les 6 chiffres du code reçu."
    assert fake_api.called("ConfirmPasswordChange") == []

    fake_api.answer("ConfirmPasswordChange",
                    {"confirmPasswordChange": error("WeakPassword")},
                    {"confirmPasswordChange": {"__typename": "PasswordChanged",
                                               "otherSessionsClosed": True}})
    await run(state.confirm_password_change({"code": "123456", "new_password": "a" * 12,
                                             "confirm_password": "a" * 12}))
    assert state.password_error.startswith("Ce mot de passe n'est pas accepté")
    events = await run(state.confirm_password_change({
        "code": "123456", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}))
    assert fake_api.called("ConfirmPasswordChange")[-1].variables == {
        "challengeId": "defi-secret", "code": "123456", "newPassword": NEW_PASSWORD}
    assert state.password_info.startswith("Votre mot de passe a été changé.")
    assert (state.password_step, state.password_error, state._password_challenge) == ("", "",
                                                                                      "")
    assert any("account-change-password" in code for _, code in client_calls(events))
    assert NEW_PASSWORD not in sent_to_browser(state)
    assert state.signed_in  # this session stays open


async def test_a_wrong_current_password(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, "en")
    state.start_password_change()
    fake_api.answer("RequestPasswordChange",
                    {"requestPasswordChange": error("InvalidCredentials")})
    await run(state.request_password_change({"current_password": "faux"}))
    assert state.password_error == "Incorrect current password."
    assert state.password_step == "form"


async def test_what_an_action_said_does_not_outlive_the_page(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.password_info = "Votre mot de passe a été changé."
    state.contact_info = "Votre adresse e-mail est maintenant x."
    state.pref_error = "x"
    state.start_contact_change("EMAIL")
    await run(state.load())  # coming back, or a reload
    assert (state.password_info, state.contact_info, state.pref_error) == ("", "", "")
    assert state.contact_step == "" and state.password_step == ""


# --- preferences ---------------------------------------------------------------------------


async def test_saving_preferences(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.set_pref_channel("SMS")
    state.set_pref_channel("PIGEON")
    state.set_pref_new_message(True)
    state.set_pref_new_document(False)
    fake_api.answer("UpdatePreferences", {"updatePreferences": {"__typename": "Me", **me(
        notificationPreferences={"channel": "SMS", "newDocument": False, "newMessage": True})}})
    events = await run(state.save_preferences())
    assert fake_api.called("UpdatePreferences")[0].variables == {
        "language": "fr", "notificationChannel": "SMS", "notifyNewDocument": False,
        "notifyNewMessage": True}
    assert state.pref_info == "Vos préférences ont été enregistrées."
    assert handler_names(events) == []  # the tab's language stays
    assert (state.pref_channel, state.pref_new_document, state.pref_new_message) == (
        "SMS", False, True)


async def test_a_channel_without_a_verified_contact_is_refused(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.set_pref_channel("SMS")
    fake_api.answer("UpdatePreferences", {"updatePreferences": error("ChannelUnavailable")})
    await run(state.save_preferences())
    assert state.pref_error == ("Pour recevoir les notifications par SMS, ajoutez d'abord un "
                                "numéro de téléphone vérifié.")
    assert state.pref_info == ""


async def test_saving_a_new_language_switches_the_tab_and_says_so_once(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api)
    state.set_pref_language("de")  # not offered: ignored
    state.set_pref_language("en")
    fake_api.answer("UpdatePreferences", {"updatePreferences": {"__typename": "Me",
                                                                **me(language="en")}})
    events = await run(state.save_preferences())
    assert fake_api.called("UpdatePreferences")[0].variables["language"] == "en"
    (switch,) = events
    assert switch.handler.fn.__qualname__ == LanguageState.set_language.fn.__qualname__
    assert dict((k._js_expr, v._var_value) for k, v in switch.args) == {"language": "en"}
    assert state.pref_info == ""  # said after the reload, in the new language
    # The switch's reload runs the page's on_load again: the message, in English, once.
    state.lang = "en"
    fake_api.answer("MyAccount", {"me": me(language="en")})
    await run(state.load())
    assert state.pref_info == "Your preferences have been saved."
    await run(state.load())
    assert state.pref_info == ""


async def test_an_unchanged_language_leaves_the_tab_alone(fake_api: FakeApi) -> None:
    """The account says French, the tab is in English: saving the notices keeps English."""
    state = await loaded(fake_api, "en")
    fake_api.answer("UpdatePreferences", {"updatePreferences": {"__typename": "Me", **me()}})
    events = await run(state.save_preferences())
    assert handler_names(events) == []
    assert state.pref_info == "Your preferences have been saved."


# --- against the real API ------------------------------------------------------------------


async def test_account_against_the_real_api(
    monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any], notifier: Any
) -> None:
    """Load, change the e-mail with the code sent to the new address, change the password,
    save preferences: the documents, variables and answers, with the API's own schema."""
    from carnet_web.state.login import LoginState

    real_execute = api.execute

    async def execute(document: Any, variables: Any = None, **kwargs: Any) -> dict[str, Any]:
        return await real_execute(document, variables, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "execute", execute)
    address = f"compte-{secrets.token_hex(4)}@example.fr"
    await create_patient(email=address, password=PASSWORD)
    login = LoginState()
    await run(login.login({"identifier": address, "password": PASSWORD}))
    code = re.search(r"\b(\d{6})\b", notifier.last(to=address).text)
    assert code
    await run(login.verify({"code": code.group(1)}))
    assert login.signed_in, login.error

    state = AccountState()
    state._sign_in(login._api_token, address, login.account_role)
    await run(state.load())
    assert state.error == "" and state.is_patient
    assert state.birth_name and state.ins_matricule and state.identity_status_label

    new_address = f"nouveau-{secrets.token_hex(4)}@example.fr"
    state.start_contact_change("EMAIL")
    await run(state.request_contact_change({"value": new_address,
                                            "current_password": PASSWORD}))
    assert state.contact_step == "code", state.contact_error
    code = re.search(r"\b(\d{6})\b", notifier.last(to=new_address).text)
    assert code
    await run(state.confirm_contact_change({"code": code.group(1)}))
    assert state.email == new_address and state.email_verified, state.contact_error

    state.start_password_change()
    await run(state.request_password_change({"current_password": PASSWORD}))
    assert state.password_step == "code", state.password_error
    code = re.search(r"\b(\d{6})\b", notifier.last(to=new_address).text)
    assert code
    await run(state.confirm_password_change({"code": code.group(1),
                                             "new_password": NEW_PASSWORD,
                                             "confirm_password": NEW_PASSWORD}))
    assert state.password_info, state.password_error

    state.set_pref_new_message(False)
    state.set_pref_language("en")
    events = await run(state.save_preferences())
    assert state.pref_error == "" and handler_names(events) == ["set_language"]
    await run(state.load())
    assert state.pref_language == "en" and not state.pref_new_message
