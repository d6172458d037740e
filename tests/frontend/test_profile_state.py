"""Mon profil médical's state, with a fake `api.execute`: loading, the forms' checks and French
messages, the API's typed errors, editing, deleting, the charts' data and the FHIR export."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from carnet_web import api
from carnet_web.state import profile as profile_module
from carnet_web.state.profile import (
    BY_KEY,
    CHART_KINDS,
    KINDS,
    ProfileState,
    chart_points,
    entry_item,
    form_values,
    out_of_range_message,
    parse_form,
)
from carnet_web.state.session import LOGIN_ROUTE
from gql import GraphQLRequest
from graphql import build_schema, validate
from reflex.event import EventSpec

from tests.frontend.fakes import FakeApi, operation_name, redirects, run

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
TOKEN = "jeton-de-session-secret"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=PARIS)
ME = {"isPatient": True, "professional": None}
DOCTOR = {"isPatient": False, "professional": {"profession": "Médecin généraliste"}}


def common(entry_id: str, author: dict[str, Any] = ME, **fields: Any) -> dict[str, Any]:
    return {"id": entry_id, "recordedAt": "2026-03-01T09:00:00+00:00", "imported": False,
            "author": author, **fields}


ALLERGY = common("a1", substance="Pénicilline <b>G</b>", reaction="Urticaire",
                 severity="SEVERE", since="2019-05-02", kind="ALLERGY", category="MEDICATION",
                 notes=None)
VACCINATION = common("v1", DOCTOR, vaccine="DTP", date="2025-10-15", doseNumber=3,
                     batch="X123", vaccinator=None, notes="Rappel")
WEIGHTS = [
    common("m3", kind="WEIGHT", label="Poids", value=70.9, diastolic=None, unit="kg",
           unitLabel="kg", measuredAt="2026-03-09T07:00:00+00:00", notes=None, bmi=None),
    common("m1", kind="WEIGHT", label="Poids", value=72.5, diastolic=None, unit="kg",
           unitLabel="kg", measuredAt="2026-02-18T07:00:00+00:00", notes=None, bmi=None),
]
PRESSURE = common("bp", kind="BLOOD_PRESSURE", label="Tension artérielle systolique",
                  value=128.0, diastolic=82.0, unit="mm[Hg]", unitLabel="mmHg",
                  measuredAt="2026-03-08T18:30:00+00:00", notes=None, bmi=None)
ORGAN = common("o1", position="REFUSES", note="Inscrit au registre.")


def series(kind: str, points: list[tuple[str, float, float | None]]) -> dict[str, Any]:
    return {"kind": kind, "unit": "kg", "unitLabel": "kg",
            "points": [{"at": at, "value": value, "diastolic": diastolic,
                        "measurementId": f"p{i}"} for i, (at, value, diastolic)
                       in enumerate(points)]}


def profile_answer(**overrides: Any) -> dict[str, Any]:
    profile = {"allergies": [], "vaccinations": [], "medicalHistory": [], "familyHistory": [],
               "treatments": [], "measurements": [], "emergencyContacts": [],
               "advanceDirective": None, "organDonation": None}
    profile.update(overrides)
    data: dict[str, Any] = {"profile": profile}
    for kind in CHART_KINDS:
        data[f"series{kind}"] = series(kind, [])
    return data


FULL = profile_answer(allergies=[ALLERGY], vaccinations=[VACCINATION],
                      measurements=WEIGHTS, organDonation=ORGAN)
FULL[f"series{'WEIGHT'}"] = series("WEIGHT", [("2026-02-18T07:00:00+00:00", 72.5, None),
                                              ("2026-03-09T07:00:00+00:00", 70.9, None)])


def signed_in(state: ProfileState) -> ProfileState:
    state._sign_in(TOKEN, "jean@example.fr")
    return state


async def loaded(fake_api: FakeApi, answer: dict[str, Any] | None = None) -> ProfileState:
    fake_api.answer("Profile", answer or FULL)
    state = signed_in(ProfileState())
    assert redirects(await run(state.load())) == []
    fake_api.calls.clear()
    return state


def downloads(events: list[Any]) -> list[dict[str, str]]:
    found = []
    for event in events:
        if isinstance(event, EventSpec) and getattr(
                event.handler.fn, "__qualname__", "").endswith("_download"):
            found.append({key._js_expr: str(getattr(value, "_var_value", value))
                          for key, value in event.args})
    return found


# --- the operations -----------------------------------------------------------------------


def test_every_profile_operation_is_valid_against_the_schema() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    ours: list[GraphQLRequest] = [profile_module.PROFILE, profile_module.FHIR_EVERYTHING,
                                  profile_module.DOCUMENT_CHOICES_QUERY,
                                  profile_module.DIRECTIVE_DOCUMENT]
    for operations in profile_module.OPERATIONS_BY_KIND.values():
        ours += [op for op in (operations.add, operations.update, operations.delete) if op]
    for request in ours:
        assert request in api.OPERATIONS
        assert validate(schema, request.document) == []
    names = {operation_name(request) for request in ours}
    assert {"AddAllergy", "UpdateAllergy", "DeleteAllergy", "AddMeasurement",
            "SetAdvanceDirective", "DeleteAdvanceDirective", "SetOrganDonation",
            "DeleteOrganDonation", "Profile", "FhirEverything"} <= names
    assert len(names) == len(ours)  # one name per operation: FakeApi answers by name


# --- loading --------------------------------------------------------------------------------


async def test_profile_page_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = ProfileState()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert fake_api.calls == []


async def test_profile_page_lists_entries_in_french_and_feeds_the_charts(
    fake_api: FakeApi,
) -> None:
    fake_api.answer("Profile", FULL)
    state = signed_in(ProfileState())
    assert redirects(await run(state.load())) == []
    assert state.loaded and not state.loading and state.error == ""
    assert fake_api.calls[0].token == TOKEN

    (allergy,) = state.entries_allergy
    assert allergy.title == "Pénicilline <b>G</b>"  # kept as typed: the page shows plain text
    assert allergy.badge == "Allergie"
    assert allergy.details == ["Catégorie : Médicament", "Réaction : Urticaire",
                               "Sévérité : sévère", "Depuis le 2 mai 2019"]
    assert allergy.meta == "Ajouté par vous le 1 mars 2026"
    (vaccination,) = state.entries_vaccination
    assert vaccination.details == ["Le 15 octobre 2025", "Dose n° 3", "Lot : X123"]
    assert vaccination.text == "Rappel"
    assert vaccination.meta == "Ajouté par : Médecin généraliste le 1 mars 2026"
    assert [item.title for item in state.entries_measurement] == ["Poids : 70,9 kg",
                                                                  "Poids : 72,5 kg"]
    assert state.entries_measurement[0].details == ["Mesuré le 9 mars 2026 à 08:00"]
    assert [item.title for item in state.entries_organ_donation] == [
        "Je refuse de donner mes organes et tissus"]
    assert state.entries_advance_directive == []

    assert state.charts["WEIGHT"] == [
        {"date": "18/02/2026", "value": 72.5, "diastolic": None},
        {"date": "09/03/2026", "value": 70.9, "diastolic": None},
    ]
    assert state.charts["BMI"] == []
    assert state.chart_summaries["WEIGHT"] == (
        "2 mesures ; dernière : 70,9 kg le 9 mars 2026 à 08:00.")
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_profile_page_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("Profile", api.ApiUnauthenticated(detail="expired"))
    state = signed_in(ProfileState())
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == api.UNAUTHENTICATED_MESSAGE
    assert (state._api_token, state.signed_in) == ("", False)


async def test_profile_page_for_a_professional_says_it_is_for_patients(
    fake_api: FakeApi,
) -> None:
    fake_api.answer("Profile", api.ApiError(api.UNEXPECTED_MESSAGE, code="FORBIDDEN"))
    state = signed_in(ProfileState())
    assert redirects(await run(state.load())) == []
    assert state.error == "Le profil médical est réservé aux comptes patients."
    assert not state.loaded and state.signed_in


async def test_profile_page_with_the_api_down_stays_signed_in(fake_api: FakeApi) -> None:
    fake_api.answer("Profile", api.ApiUnavailable())
    state = signed_in(ProfileState())
    assert redirects(await run(state.load())) == []
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert state.signed_in and not state.loading and not state.loaded


async def test_directive_with_a_document_names_it(fake_api: FakeApi) -> None:
    directive = common("d1", text="Pas d'acharnement.\nAppeler ma sœur.", documentId="doc-9")
    fake_api.answer("ProfileDirectiveDocument",
                    {"document": {"id": "doc-9", "title": "Directives signées"}})
    state = await loaded(fake_api, profile_answer(advanceDirective=directive))
    (item,) = state.entries_advance_directive
    assert item.text == "Pas d'acharnement.\nAppeler ma sœur."
    assert item.details == ["Document joint : « Directives signées »"]


# --- checks of the forms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "form", "field", "message"),
    [
        ("allergy", {"substance": "  ", "kind": "ALLERGY"}, "substance",
         "Substance : ce champ est obligatoire."),
        ("allergy", {"substance": "x" * 201, "kind": "ALLERGY"}, "substance",
         "Substance : 200 caractères au maximum."),
        ("allergy", {"substance": "Arachide", "kind": "ALLERGY", "since": "2099-01-01"},
         "since", "Depuis le : la date est dans le futur."),
        ("allergy", {"substance": "Arachide", "kind": "PEUT-ÊTRE"}, "kind",
         "Type : choisissez une valeur dans la liste."),
        ("vaccination", {"vaccine": "DTP", "date": ""}, "date",
         "Date de vaccination : ce champ est obligatoire."),
        ("vaccination", {"vaccine": "DTP", "date": "15/10/2025"}, "date",
         "Date de vaccination : date invalide."),
        ("vaccination", {"vaccine": "DTP", "date": "2025-10-15", "doseNumber": "31"},
         "doseNumber", "Numéro de dose : valeur attendue entre 1 et 30."),
        ("vaccination", {"vaccine": "DTP", "date": "2025-10-15", "doseNumber": "deux"},
         "doseNumber", "Numéro de dose : nombre entier attendu."),
        ("medical_history", {"condition": "Asthme", "category": "MEDICAL",
                             "onset": "2020-01-01", "resolved": "2019-01-01"},
         "resolved", "La date de guérison précède le début."),
        ("family_history", {"condition": "Diabète", "relative": ""}, "relative",
         "Lien de parenté : choisissez une valeur dans la liste."),
        ("treatment", {"medication": "Doliprane", "startDate": "2026-01-10",
                       "endDate": "2026-01-01"}, "endDate", "La date de fin précède le début."),
        ("measurement", {"kind": "WEIGHT", "value": "soixante", "measuredAt": "2026-03-01T08:00"},
         "value", "Valeur : nombre invalide (par exemple 72,5)."),
        ("measurement", {"kind": "WEIGHT", "value": "70", "measuredAt": "2026-04-01T08:00"},
         "measuredAt", "Date et heure de la mesure : la date est dans le futur."),
        ("measurement", {"kind": "BLOOD_PRESSURE", "value": "120",
                         "measuredAt": "2026-03-01T08:00"},
         "diastolic", "Pression diastolique : indiquez-la aussi pour une tension."),
        ("measurement", {"kind": "WEIGHT", "value": "70", "diastolic": "80",
                         "measuredAt": "2026-03-01T08:00"},
         "diastolic", "Pression diastolique : à indiquer seulement pour une tension artérielle."),
        ("measurement", {"kind": "BLOOD_PRESSURE", "value": "80", "diastolic": "120",
                         "measuredAt": "2026-03-01T08:00"},
         "diastolic", "La pression diastolique doit être inférieure à la systolique."),
        ("emergency_contact", {"name": "Marie"}, "phone", "Indiquez un téléphone ou un courriel."),
        ("advance_directive", {"text": " ", "documentId": ""}, "text",
         "Rédigez vos directives ou choisissez un document."),
        ("organ_donation", {"position": ""}, "position",
         "Ma position : choisissez une valeur dans la liste."),
    ],
)
def test_forms_are_checked_with_french_messages(
    key: str, form: dict[str, str], field: str, message: str,
) -> None:
    _, problem = parse_form(BY_KEY[key], form, now=NOW)
    assert problem is not None
    assert (problem.field, problem.message) == (field, message)


def test_forms_become_api_inputs() -> None:
    values, problem = parse_form(BY_KEY["measurement"], {
        "kind": "WEIGHT", "value": " 72,5 ", "diastolic": "", "measuredAt": "2026-03-01T08:30",
        "notes": "  après   le sport ",
    }, now=NOW)
    assert problem is None
    assert values == {"kind": "WEIGHT", "value": 72.5, "diastolic": None,
                      "measuredAt": "2026-03-01T08:30:00+01:00", "notes": "après le sport"}
    values, problem = parse_form(BY_KEY["allergy"], {
        "substance": " Pollen   de bouleau ", "kind": "ALLERGY", "category": "",
        "severity": "MILD", "reaction": "", "since": "", "notes": "Ligne 1\n  Ligne   2 ",
    }, now=NOW)
    assert problem is None
    assert values == {"substance": "Pollen de bouleau", "kind": "ALLERGY", "category": None,
                      "severity": "MILD", "reaction": None, "since": None,
                      "notes": "Ligne 1\nLigne 2"}
    values, problem = parse_form(BY_KEY["treatment"], {
        "medication": "Lévothyrox", "endDate": "2027-01-01"}, now=NOW)
    assert problem is None and values["endDate"] == "2027-01-01"  # a planned end


def test_edit_forms_show_the_entry_and_new_ones_the_defaults() -> None:
    assert form_values(BY_KEY["measurement"], PRESSURE) == {
        "kind": "BLOOD_PRESSURE", "value": "128", "diastolic": "82",
        "measuredAt": "2026-03-08T19:30", "notes": ""}
    fresh = form_values(BY_KEY["measurement"], None)
    assert fresh["kind"] == "WEIGHT" and fresh["value"] == ""
    assert datetime.strptime(fresh["measuredAt"], "%Y-%m-%dT%H:%M")
    assert form_values(BY_KEY["allergy"], None)["kind"] == "ALLERGY"


def test_measurement_titles_and_out_of_range_messages() -> None:
    assert entry_item("measurement", PRESSURE).title == "Tension artérielle : 128/82 mmHg"
    result = {"__typename": "MeasurementOutOfRange", "field": "value", "minimum": 0.3,
              "maximum": 500.0, "unit": "kg"}
    assert out_of_range_message(result, kind="WEIGHT", value=900.0) == (
        "Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).")
    result = {"field": "diastolic", "minimum": 20.0, "maximum": 200.0, "unit": "mmHg"}
    assert out_of_range_message(result, kind="BLOOD_PRESSURE", value=250.0) == (
        "Tension artérielle diastolique hors des limites physiologiques : 250 mmHg (valeurs "
        "acceptées de 20 à 200 mmHg).")


def test_chart_points_keep_the_diastolic_pressure() -> None:
    points = chart_points(series("BLOOD_PRESSURE", [("2026-03-08T18:30:00+00:00", 128, 82)]))
    assert points == [{"date": "08/03/2026", "value": 128.0, "diastolic": 82.0}]


# --- adding, editing --------------------------------------------------------------------------


async def test_adding_an_allergy_sends_it_and_reads_the_profile_again(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("allergy"))
    assert (state.form_kind, state.form_entry_id) == ("allergy", "")
    assert state.form_defaults["substance"] == "" and state.form_defaults["kind"] == "ALLERGY"

    fake_api.answer("AddAllergy", {"addAllergy": {"__typename": "Allergy", "id": "a1"}})
    fake_api.answer("Profile", profile_answer(allergies=[ALLERGY]))
    events = await run(state.submit({"substance": "Pénicilline <b>G</b>", "kind": "ALLERGY",
                                     "severity": "SEVERE", "reaction": "Urticaire"}))
    assert redirects(events) == []
    add = fake_api.called("AddAllergy")[0]
    assert add.token == TOKEN
    assert add.variables["input"]["substance"] == "Pénicilline <b>G</b>"
    assert add.variables["input"]["severity"] == "SEVERE"
    assert add.variables["input"]["category"] is None
    assert state.form_kind == "" and state.form_error == ""
    assert (state.saved_kind, state.saved_message) == ("allergy", "L'allergie a été ajoutée.")
    assert [item.id for item in state.entries_allergy] == ["a1"]


async def test_a_form_error_is_shown_without_calling_the_api(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("emergency_contact"))
    await run(state.submit({"name": "Marie Dupont"}))
    assert fake_api.calls == []
    assert state.form_kind == "emergency_contact"  # the form stays open, as typed
    assert (state.form_error_field, state.form_error) == (
        "phone", "Indiquez un téléphone ou un courriel.")


async def test_a_900_kg_weight_gets_the_out_of_range_message(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("measurement"))
    key = state.form_key
    fake_api.answer("AddMeasurement", {"addMeasurement": {
        "__typename": "MeasurementOutOfRange", "field": "value", "minimum": 0.3,
        "maximum": 500.0, "unit": "kg",
        "message": "Poids hors des limites physiologiques : 900 kg (...)"}})
    await run(state.submit({"kind": "WEIGHT", "value": "900", "measuredAt": "2026-03-01T08:00"}))
    assert fake_api.called("AddMeasurement")[0].variables["input"]["value"] == 900.0
    assert fake_api.called("Profile") == []
    assert state.form_kind == "measurement" and state.form_key == key  # kept, not reset
    assert state.form_error_field == "value"
    assert state.form_error == (
        "Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).")
    assert not state.saving


async def test_invalid_input_from_the_api_is_shown_on_its_field(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("emergency_contact"))
    fake_api.answer("AddEmergencyContact", {"addEmergencyContact": {
        "__typename": "InvalidProfileInput", "field": "phone",
        "message": "Téléphone : numéro trop court."}})
    await run(state.submit({"name": "Marie", "phone": "12"}))
    assert (state.form_error_field, state.form_error) == ("phone",
                                                          "Téléphone : numéro trop court.")


async def test_the_api_down_while_saving_keeps_the_form(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("allergy"))
    fake_api.answer("AddAllergy", api.ApiUnavailable())
    await run(state.submit({"substance": "Arachide", "kind": "ALLERGY"}))
    assert state.form_kind == "allergy"
    assert (state.form_error_field, state.form_error) == ("", api.UNAVAILABLE_MESSAGE)


async def test_editing_fills_the_form_and_updates_that_entry(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    await run(state.edit("allergy", "a1"))
    assert (state.form_kind, state.form_entry_id) == ("allergy", "a1")
    assert state.form_defaults == {"substance": "Pénicilline <b>G</b>", "kind": "ALLERGY",
                                   "category": "MEDICATION", "severity": "SEVERE",
                                   "reaction": "Urticaire", "since": "2019-05-02", "notes": ""}
    fake_api.answer("UpdateAllergy", {"updateAllergy": {"__typename": "Allergy", "id": "a1"}})
    fake_api.answer("Profile", FULL)
    await run(state.submit({**state.form_defaults, "reaction": "Œdème"}))
    update = fake_api.called("UpdateAllergy")[0]
    assert update.variables["id"] == "a1"
    assert update.variables["input"]["reaction"] == "Œdème"
    assert state.saved_message == "L'allergie a été modifiée."
    assert state.form_kind == ""


async def test_editing_an_entry_deleted_meanwhile_says_so(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    await run(state.edit("allergy", "a1"))
    fake_api.answer("UpdateAllergy", {"updateAllergy": {"__typename": "EntryNotFound",
                                                        "message": "Élément introuvable."}})
    fake_api.answer("Profile", profile_answer())
    await run(state.submit({"substance": "Pénicilline", "kind": "ALLERGY"}))
    assert state.error == "Cet élément n'existe plus : il a peut-être été supprimé."
    assert state.form_kind == "" and state.entries_allergy == []


async def test_a_single_kind_is_set_and_its_form_edits_the_existing_entry(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api)
    await run(state.open_form("organ_donation"))
    assert state.form_entry_id == "o1"  # never a second one
    assert state.form_defaults == {"position": "REFUSES", "note": "Inscrit au registre."}
    fake_api.answer("SetOrganDonation", {"setOrganDonation": {"__typename": "OrganDonation",
                                                              "id": "o1"}})
    fake_api.answer("Profile", FULL)
    await run(state.submit({"position": "CONSENTS", "note": ""}))
    assert fake_api.called("SetOrganDonation")[0].variables == {
        "input": {"position": "CONSENTS", "note": None}}
    assert state.saved_message == "Votre position sur le don d'organes a été modifiée."


async def test_the_directive_form_lists_my_documents_first(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    fake_api.answer("ProfileDocumentChoices", {"documents": {"edges": [
        {"node": {"id": "doc-1", "title": "Directives", "clinicalDate": "2024-03-03"}}]}})
    await run(state.open_form("advance_directive"))
    assert fake_api.called("ProfileDocumentChoices")[0].variables == {"first": 100}
    assert [(c.id, c.label) for c in state.document_choices] == [
        ("doc-1", "Directives (3 mars 2024)")]
    assert state.form_kind == "advance_directive" and state.form_notice == ""
    fake_api.answer("SetAdvanceDirective", {"setAdvanceDirective": {
        "__typename": "AdvanceDirective", "id": "d1"}})
    fake_api.answer("Profile", profile_answer(advanceDirective=common("d1", text=None,
                                                                      documentId="doc-1")))
    fake_api.answer("ProfileDirectiveDocument", {"document": {"id": "doc-1",
                                                              "title": "Directives"}})
    await run(state.submit({"text": "", "documentId": "doc-1"}))
    assert fake_api.called("SetAdvanceDirective")[0].variables == {
        "input": {"text": None, "documentId": "doc-1"}}
    assert state.saved_message == "Vos directives anticipées ont été enregistrées."
    assert state.entries_advance_directive[0].details == ["Document joint : « Directives »"]


async def test_the_directive_form_opens_even_without_the_document_list(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api, profile_answer())
    fake_api.answer("ProfileDocumentChoices", api.ApiUnavailable())
    await run(state.open_form("advance_directive"))
    assert state.form_kind == "advance_directive" and state.document_choices == []
    assert state.form_notice.startswith("La liste de vos documents n'a pas pu être chargée")


# --- deleting --------------------------------------------------------------------------------


async def test_deleting_asks_then_deletes(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.ask_delete("vaccination", "v1")
    assert (state.deleting_id, state.deleting_title) == ("v1", "DTP")
    assert state.deleting_question == "Supprimer cette vaccination ?"
    state.delete_dialog_changed(False)  # Escape
    assert state.deleting_id == ""
    state.ask_delete("vaccination", "v1")
    fake_api.answer("DeleteVaccination", {"deleteVaccination": {"__typename": "EntryDeleted",
                                                                "id": "v1"}})
    fake_api.answer("Profile", profile_answer(allergies=[ALLERGY]))
    await run(state.confirm_delete())
    assert fake_api.called("DeleteVaccination")[0].variables == {"id": "v1"}
    assert (state.saved_kind, state.saved_message) == ("vaccination",
                                                       "La vaccination a été supprimée.")
    assert state.entries_vaccination == [] and state.deleting_id == ""


async def test_deleting_a_single_kind_and_an_entry_already_gone(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.ask_delete("organ_donation", "o1")
    fake_api.answer("DeleteOrganDonation", {"deleteOrganDonation": {
        "__typename": "EntryNotFound", "message": "Élément introuvable."}})
    fake_api.answer("Profile", FULL)
    await run(state.confirm_delete())
    assert fake_api.called("DeleteOrganDonation")[0].variables == {}
    assert state.error == "Cet élément n'existe plus : il a peut-être été supprimé."


async def test_changes_with_an_expired_session_go_to_login(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.ask_delete("allergy", "a1")
    fake_api.answer("DeleteAllergy", api.ApiUnauthenticated())
    assert redirects(await run(state.confirm_delete())) == [LOGIN_ROUTE]
    assert state.entries_allergy == [] and not state.signed_in


# --- export -----------------------------------------------------------------------------------


async def test_export_downloads_the_bundle_fetched_with_the_token(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "AllergyIntolerance",
                      "code": {"text": "Pénicilline <b>G</b>"}}}]}
    fake_api.answer("FhirEverything", {"fhirEverything": bundle})
    events = await run(state.export_fhir())
    call = fake_api.called("FhirEverything")[0]
    assert call.token == TOKEN
    (download,) = downloads(events)
    assert download["filename"] == "carnet-dossier-fhir.json"
    prefix = "data:application/fhir+json;base64,"
    assert download["url"].startswith(prefix)
    assert json.loads(base64.b64decode(download["url"][len(prefix):])) == bundle
    assert TOKEN not in download["url"]
    assert state.info == "Votre dossier a été exporté (1 ressource)."
    assert not state.exporting


async def test_export_failing_says_so(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    fake_api.answer("FhirEverything", api.ApiUnavailable())
    events = await run(state.export_fhir())
    assert downloads(events) == []
    assert state.error == api.UNAVAILABLE_MESSAGE and not state.exporting


async def test_export_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = ProfileState()
    assert redirects(await run(state.export_fhir())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


def test_every_kind_has_its_state_list() -> None:
    for spec in KINDS:
        assert getattr(ProfileState(), spec.var) == []


async def test_another_sign_in_in_the_tab_never_sees_the_previous_profile(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api)
    assert state.entries_allergy and state._owner
    state._sign_out()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.entries_allergy == [] and state.charts["WEIGHT"] == [] and not state.loaded

    state = await loaded(fake_api)
    state._sign_in("un-autre-jeton", "paul@example.fr")
    fake_api.answer("Profile", profile_answer())
    generator = state.load()
    await generator.__anext__()  # the first update the page gets, while the profile loads
    assert state.entries_allergy == [] and not state.loaded
    await run(generator)
    assert state.loaded and state.entries_allergy == []
