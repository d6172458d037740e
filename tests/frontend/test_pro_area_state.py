"""Espace professionnel (web app), with a fake `api.execute`: the role-based guard and sign-in
landing, "Mes patients", a patient's record (documents, allowed sections, download), declaring
a care relationship and emergency access (one message for every mismatch), the Pro Santé
Connect button and ticket landing; and, in-process, the public `proSanteConnectLoginUrl`."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from typing import Any

import pytest
from carnet_web import api
from carnet_web.components import layout
from carnet_web.documents_http import TICKETS
from carnet_web.state import login as login_module
from carnet_web.state.login import LoginState
from carnet_web.state.pro_common import (
    FUTURE_BIRTH_DATE,
    IDENTITY_MISMATCH,
    MALFORMED_MATRICULE,
    TraitsError,
    parse_traits,
    record_href,
)
from carnet_web.state.pro_identity import (
    DECLARED,
    EMERGENCY_REFUSED,
    MISSING_REASON,
    ProDeclareState,
    ProEmergencyState,
)
from carnet_web.state.pro_patients import ProPatientsState
from carnet_web.state.pro_psc import (
    DROP_TICKET_SCRIPT,
    NO_TICKET,
    TICKET_INVALID,
    PscLandingState,
)
from carnet_web.state.pro_record import RECORD_UNAVAILABLE, ProRecordState
from carnet_web.state.session import HOME_ROUTE, LOGIN_ROUTE, PRO_HOME_ROUTE
from reflex import constants
from reflex.istate.data import RouterData

from tests.frontend.fakes import FakeApi, client_calls, redirects, run

TOKEN = "jeton-de-session-secret"
PATIENT_ID = "0b7c2a52-5a7e-4b8e-9d63-6a5c0c3f1e11"
TRAITS = {"insMatricule": "1 85 03 75 123 456 78", "birthName": " Dupont ",
          "birthDate": "1985-03-02"}
TICKET = "t" * 43
SECRET = "s" * 43


def as_professional(state: Any) -> Any:
    state._sign_in(TOKEN, "dr@example.fr", "PROFESSIONAL")
    return state


def at(state: Any, url: str) -> Any:
    path = url.split("?")[0]
    state.router = RouterData.from_router_data({constants.RouteVar.ORIGIN: url,
                                                constants.RouteVar.PATH: path})
    return state


def record_answer(*, sections: list[str], documents: int = 1) -> dict[str, Any]:
    nodes = [{"id": f"d{i}", "title": f"Compte rendu {i}", "type": "CONSULTATION_REPORT",
              "typeLabel": "Compte rendu de consultation", "clinicalDate": "2026-01-05",
              "createdAt": "2026-01-06T09:00:00+00:00",
              "downloadUrl": f"/documents/d{i}/content",
              "author": {"isPatient": False, "professional": {
                  "profession": "Médecin", "specialty": None, "practiceName": "Cabinet"}}}
             for i in range(documents)]
    return {"patientRecord": {
        "patientId": PATIENT_ID, "ground": "DECLARED", "expiresAt": "2029-01-05T09:00:00+00:00",
        "sections": sections,
        "patient": {"birthName": "Dupont", "firstNames": "Jean", "birthDate": "1985-03-02"},
        "documents": {"totalCount": documents, "pageInfo": {"hasNextPage": False,
                                                            "endCursor": None},
                      "edges": [{"node": n} for n in nodes]},
        "profile": {
            "allergies": [{"id": "a1", "recordedAt": "2026-01-02T10:00:00+00:00",
                           "imported": False, "author": {"isPatient": True,
                                                         "professional": None},
                           "substance": "Pénicilline", "reaction": None, "severity": None,
                           "since": None, "kind": "ALLERGY", "category": None,
                           "notes": None}],
            "vaccinations": [], "medicalHistory": [], "familyHistory": [], "treatments": [],
            "measurements": [], "emergencyContacts": [], "advanceDirective": None,
            "organDonation": None,
        },
    }}


# --- identity traits ------------------------------------------------------------------------


def test_traits_are_normalised_and_checked_for_form_only() -> None:
    assert parse_traits(TRAITS) == {"insMatricule": "185037512345678", "birthName": "Dupont",
                                    "birthDate": "1985-03-02"}
    assert parse_traits({**TRAITS, "birthDate": "02/03/1985"})["birthDate"] == "1985-03-02"
    assert parse_traits({**TRAITS, "insMatricule": "12345"}) == TraitsError(
        "insMatricule", MALFORMED_MATRICULE)
    assert parse_traits({**TRAITS, "birthDate": "2030-01-01"},
                        today=date(2026, 1, 1)) == TraitsError("birthDate", FUTURE_BIRTH_DATE)
    assert parse_traits({**TRAITS, "birthName": ""}).field == "birthName"
    assert parse_traits({**TRAITS, "birthDate": "31/02/1985"}).field == "birthDate"


# --- guard, sign-in landing, navigation -------------------------------------------------------


async def test_professional_pages_need_a_professional(fake_api: FakeApi) -> None:
    assert redirects(await run(ProPatientsState().load())) == [LOGIN_ROUTE]
    patient = ProPatientsState()
    patient._sign_in(TOKEN, "jean@example.fr", "PATIENT")
    assert redirects(await run(patient.load())) == [HOME_ROUTE]
    assert redirects(await run(ProDeclareState().open())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


async def test_a_professional_lands_on_my_patients_after_the_code(fake_api: FakeApi) -> None:
    fake_api.answer("VerifyLoginCode", {"verifyLoginCode": {
        "__typename": "Session", "token": TOKEN, "expiresAt": "2030-01-01T00:00:00+00:00",
        "idleTimeoutSeconds": 1800}})
    fake_api.answer("Me", {"me": {"identifier": "dr@example.fr", "role": "PROFESSIONAL"}})
    state = LoginState()
    state._challenge_id = "challenge"
    events = await run(state.verify({"code": "123456"}))
    assert redirects(events) == [PRO_HOME_ROUTE]
    assert (state.signed_in, state.account_role, state.is_professional) == (
        True, "PROFESSIONAL", True)
    state._sign_out()
    assert (state.account_role, state.signed_in) == ("", False)


def test_navigation_splits_by_role_and_keeps_the_patient_items() -> None:
    assert layout.NAV_ITEMS[0] == layout.NavItem("Accueil", "/")
    routes = [item.route for item in layout.PROFESSIONAL_NAV_ITEMS]
    assert routes == ["/pro", "/pro/declarer", "/pro/urgence", "/pro/agenda",
                      "/messagerie"]
    rendered = json.dumps(layout.navigation("/pro").render(), default=str)
    assert "Mes patients" in rendered and "Mes documents" in rendered
    assert "is_professional" in rendered


# --- Mes patients, the record ------------------------------------------------------------------


async def test_my_patients_lists_name_ground_and_expiry(fake_api: FakeApi) -> None:
    fake_api.answer("MyPatients", {"patients": [
        {"patientId": PATIENT_ID, "birthName": "Dupont", "firstNames": "Jean",
         "birthDate": "1985-03-02", "ground": "EMERGENCY", "since": "2026-01-05T09:00:00Z",
         "expiresAt": "2026-01-06T09:00:00+00:00"}]})
    state = as_professional(ProPatientsState())
    assert redirects(await run(state.load())) == []
    [item] = state.patients
    assert (item.name, item.birth_date, item.ground) == ("DUPONT Jean", "2 mars 1985",
                                                         "Accès d'urgence")
    assert item.emergency and item.expiry == "Jusqu'au 6 janvier 2026 à 10:00"
    assert item.href == record_href(PATIENT_ID) == f"/pro/patients/{PATIENT_ID}"
    assert fake_api.calls[0].token == TOKEN


async def test_record_shows_documents_and_only_allowed_sections(fake_api: FakeApi) -> None:
    fake_api.answer("ProPatientRecord", record_answer(sections=["ALLERGIES", "TREATMENTS"]))
    state = at(as_professional(ProRecordState()), f"/pro/patients/{PATIENT_ID}")
    assert redirects(await run(state.load())) == []
    assert fake_api.calls[0].variables["patientId"] == PATIENT_ID
    assert (state.found, state.patient_label, state.ground) == (
        True, "DUPONT Jean", "Relation de soins déclarée")
    [document] = state.documents
    assert (document.title, document.type_label, document.clinical_date, document.author) == (
        "Compte rendu 0", "Compte rendu de consultation", "5 janvier 2026", "Médecin · Cabinet")
    assert [view.title for view in state.sections] == ["Allergies et intolérances",
                                                       "Traitements"]
    allergies, treatments = state.sections
    assert allergies.rows[0].title == "Pénicilline"
    assert allergies.rows[0].meta == "Saisi par le patient le 2 janvier 2026"
    assert treatments.rows == [] and treatments.empty == "Aucun traitement enregistré."
    assert TOKEN not in json.dumps(state.dict(), default=str)
    assert "/documents/d0/content" not in json.dumps(state.dict(), default=str)


async def test_record_download_goes_through_a_one_time_ticket(fake_api: FakeApi) -> None:
    fake_api.answer("ProPatientRecord", record_answer(sections=[]))
    state = at(as_professional(ProRecordState()), f"/pro/patients/{PATIENT_ID}")
    await run(state.load())
    [(name, script)] = client_calls(await run(state.download("d0")))
    assert name == "_call_script" and "/_carnet/telechargement/" in script
    ticket = script.split("/_carnet/telechargement/")[1].split('"')[0]
    found = TICKETS.redeem(ticket)
    assert found is not None and (found.token, found.path) == (TOKEN, "/documents/d0/content")
    assert client_calls(await run(state.download("someone-else"))) == []
    assert state.error


async def test_a_record_i_may_not_read_looks_like_a_missing_one(fake_api: FakeApi) -> None:
    fake_api.answer("ProPatientRecord", {"patientRecord": None})
    state = at(as_professional(ProRecordState()), "/pro/patients/unknown")
    await run(state.load())
    assert (state.found, state.error, state.documents) == (False, RECORD_UNAVAILABLE, [])


# --- declaring, emergency ---------------------------------------------------------------------


async def test_declare_sends_the_traits_and_links_to_the_record(fake_api: FakeApi) -> None:
    fake_api.answer("DeclareCareRelationship", {"declareCareRelationship": {
        "__typename": "CareRelationshipDeclared", "patientId": PATIENT_ID}})
    state = as_professional(ProDeclareState())
    await run(state.declare(TRAITS))
    assert fake_api.calls[0].variables == {"patient": {
        "insMatricule": "185037512345678", "birthName": "Dupont", "birthDate": "1985-03-02"}}
    assert (state.info, state.error) == (DECLARED, "")
    assert state.record_href == f"/pro/patients/{PATIENT_ID}"


@pytest.mark.parametrize("answer", [
    {"__typename": "PatientNotFound", "message": "Aucun patient ne correspond."},
])
async def test_every_mismatch_gets_the_one_message(fake_api: FakeApi,
                                                   answer: dict[str, Any]) -> None:
    fake_api.answer("DeclareCareRelationship", {"declareCareRelationship": answer})
    state = as_professional(ProDeclareState())
    for wrong in ({"birthDate": "1985-03-03"}, {"birthName": "Durand"},
                  {"insMatricule": "285037512345678"}):
        await run(state.declare({**TRAITS, **wrong}))
        assert (state.error, state.info, state.record_href) == (IDENTITY_MISMATCH, "", "")


async def test_declare_checks_the_form_before_calling(fake_api: FakeApi) -> None:
    state = as_professional(ProDeclareState())
    await run(state.declare({**TRAITS, "insMatricule": "abc"}))
    assert (state.error, state.error_field) == (MALFORMED_MATRICULE, "insMatricule")
    assert fake_api.calls == []


async def test_emergency_access_needs_a_reason_and_says_when_refused(
        fake_api: FakeApi) -> None:
    state = as_professional(ProEmergencyState())
    await run(state.request_access({**TRAITS, "reason": "  "}))
    assert (state.error, state.error_field) == (MISSING_REASON, "reason")
    assert fake_api.calls == []
    fake_api.answer("EmergencyAccess",
                    {"emergencyAccess": {"__typename": "EmergencyAccessRefused",
                                         "message": "x"}},
                    {"emergencyAccess": {"__typename": "EmergencyAccessOpened",
                                         "patientId": PATIENT_ID,
                                         "expiresAt": "2026-01-06T09:00:00+00:00"}})
    await run(state.request_access({**TRAITS, "reason": "Inconscient aux urgences"}))
    assert state.error == EMERGENCY_REFUSED
    await run(state.request_access({**TRAITS, "reason": "Inconscient aux urgences"}))
    assert fake_api.calls[-1].variables["reason"] == "Inconscient aux urgences"
    assert state.error == "" and "6 janvier 2026 à 10:00" in state.info
    assert "informé" in state.info and state.record_href == f"/pro/patients/{PATIENT_ID}"


# --- Pro Santé Connect ------------------------------------------------------------------------


async def test_psc_button_shows_only_when_the_api_has_it(fake_api: FakeApi) -> None:
    fake_api.answer("LoginOptions",
                    {"platform": {"proSanteConnectLoginUrl": None}},
                    {"platform": {"proSanteConnectLoginUrl":
                                  "https://carnet.example/auth/psc/login"}},
                    api.ApiUnavailable())
    state = LoginState()
    await run(state.load_login_options())
    assert state.psc_login_url == ""
    await run(state.load_login_options())
    assert state.psc_login_url == "https://carnet.example/auth/psc/login"
    await run(state.load_login_options())
    assert state.psc_login_url == ""
    assert login_module.psc_login_link("javascript:alert(1)") == ""


async def test_psc_landing_drops_the_ticket_then_signs_in(fake_api: FakeApi) -> None:
    fake_api.answer("ExchangeLoginTicket", {"exchangeLoginTicket": {
        "__typename": "Session", "token": TOKEN, "expiresAt": "2030-01-01T00:00:00+00:00",
        "idleTimeoutSeconds": 1800}})
    fake_api.answer("Me", {"me": {"identifier": "dr@example.fr", "role": "PROFESSIONAL"}})
    state = at(PscLandingState(), f"http://localhost:3000/connexion/psc?ticket={TICKET}")
    state._psc_binding = SECRET  # as `start_psc_login` left it in this tab
    events = await run(state.exchange())
    assert client_calls(events)[0] == ("_call_script", DROP_TICKET_SCRIPT)
    assert redirects(events) == [PRO_HOME_ROUTE]
    assert fake_api.calls[0].variables == {"ticket": TICKET, "binding": SECRET}
    assert state._psc_binding == ""  # one use
    assert fake_api.calls[1].token == TOKEN  # Me, as the new session
    assert (state._api_token, state.signed_in, state.account_role) == (
        TOKEN, True, "PROFESSIONAL")
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_psc_landing_refuses_a_bad_or_missing_ticket(fake_api: FakeApi) -> None:
    fake_api.answer("ExchangeLoginTicket", {"exchangeLoginTicket": {
        "__typename": "LoginTicketInvalid", "message": "x"}})
    state = at(PscLandingState(), f"http://localhost:3000/connexion/psc?ticket={TICKET}")
    assert redirects(await run(state.exchange())) == []
    assert (state.error, state.signed_in, state._api_token) == (TICKET_INVALID, False, "")
    state = at(PscLandingState(), "http://localhost:3000/connexion/psc")
    await run(state.exchange())
    assert state.error == NO_TICKET and len(fake_api.calls) == 1


async def test_psc_login_starts_with_a_secret_kept_for_this_tab(fake_api: FakeApi) -> None:
    """Login CSRF: the ticket the API hands back works only with the secret of the tab that
    started the login; the URL carries its SHA-256, never the secret."""
    state = LoginState()
    assert await run(state.start_psc_login()) == []  # no PSC on this API: nothing to start
    state.psc_login_url = "https://api.carnet.example/auth/psc/login"
    (target,) = redirects(await run(state.start_psc_login()))
    secret = state._psc_binding
    assert len(secret) >= 43
    digest = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()).rstrip(b"=")
    assert target == ("https://api.carnet.example/auth/psc/login?binding="
                      + digest.decode())
    assert secret not in json.dumps(state.dict(), default=str)
    # Each start draws a new secret (a second click replaces the first login).
    state.psc_login_url = "https://api.carnet.example/auth/psc/login?x=1"
    (again,) = redirects(await run(state.start_psc_login()))
    assert state._psc_binding != secret
    assert again.startswith("https://api.carnet.example/auth/psc/login?x=1&binding=")
    assert again.endswith(login_module.psc_binding_of(state._psc_binding))


async def test_psc_landing_in_a_tab_that_started_no_login_is_refused(fake_api: FakeApi) -> None:
    """Someone else's ticket link opened here: this tab has no secret, so it sends none, and
    the API refuses (and burns the ticket)."""
    fake_api.answer("ExchangeLoginTicket", {"exchangeLoginTicket": {
        "__typename": "LoginTicketInvalid", "message": "x"}})
    state = at(PscLandingState(), f"http://localhost:3000/connexion/psc?ticket={TICKET}")
    assert redirects(await run(state.exchange())) == []
    assert fake_api.calls[0].variables == {"ticket": TICKET, "binding": ""}
    assert (state.error, state.signed_in) == (TICKET_INVALID, False)


# --- the API's public field -------------------------------------------------------------------


async def test_api_says_where_psc_login_starts(app: Any, in_process: dict[str, Any],
                                               pg_url: str, redis_url: str) -> None:
    from tests.conftest import make_settings

    options = login_module.LOGIN_OPTIONS
    data = await api.execute(options, **in_process)
    assert data == {"platform": {"proSanteConnectLoginUrl": None}}
    runtime = app.state.runtime  # type: ignore[attr-defined]
    previous = runtime.settings
    runtime.settings = make_settings(
        pg_url, redis_url, psc_issuer="https://psc.example/auth/realms/esante-wallet",
        psc_client_id="carnet", psc_client_secret="secret",
        psc_post_login_url="http://localhost:3000/connexion/psc")
    try:
        data = await api.execute(options, **in_process)
        assert data["platform"]["proSanteConnectLoginUrl"] == (
            "http://testserver/auth/psc/login")
        runtime.settings = make_settings(
            pg_url, redis_url, psc_issuer="https://psc.example/auth/realms/esante-wallet",
            psc_client_id="carnet", psc_client_secret="secret",
            psc_post_login_url="https://carnet.example/connexion/psc",
            psc_redirect_uri="https://carnet.example/auth/psc/callback")
        data = await api.execute(options, **in_process)
        assert data["platform"]["proSanteConnectLoginUrl"] == (
            "https://carnet.example/auth/psc/login")
    finally:
        runtime.settings = previous
