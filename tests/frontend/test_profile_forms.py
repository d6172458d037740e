"""The profile's add / edit form (state/profile/forms.py), with a fake `api.execute`: its checks
in French and English, the measurement form asking the fields of the chosen kind only, what it
shows when it opens, the API's typed errors, saving, and where the focus goes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from carnet_web import api
from carnet_web.state.profile import (
    BY_KEY,
    field_label,
    form_values,
    out_of_range_message,
    parse_form,
    result_error,
)

from tests.frontend.fakes import FakeApi, focused, redirects, run
from tests.frontend.profile_answers import (
    ALLERGY,
    FULL,
    NOW,
    PRESSURE,
    loaded,
    profile_answer,
)

# --- checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "form", "field", "french", "english"),
    [
        ("allergy", {"substance": "  ", "kind": "ALLERGY"}, "substance",
         "Substance : ce champ est obligatoire.", "Substance: this field is required."),
        ("allergy", {"substance": "x" * 201, "kind": "ALLERGY"}, "substance",
         "Substance : 200 caractères au maximum.", "Substance: 200 characters at most."),
        ("allergy", {"substance": "Arachide", "kind": "ALLERGY", "since": "2099-01-01"},
         "since", "Depuis le : la date est dans le futur.", "Since: the date is in the future."),
        ("allergy", {"substance": "Arachide", "kind": "PEUT-ÊTRE"}, "kind",
         "Type : choisissez une valeur dans la liste.", "Type: choose a value from the list."),
        ("vaccination", {"vaccine": "DTP", "date": ""}, "date",
         "Date de vaccination : ce champ est obligatoire.",
         "Date of vaccination: this field is required."),
        ("vaccination", {"vaccine": "DTP", "date": "15/10/2025"}, "date",
         "Date de vaccination : date invalide.", "Date of vaccination: enter a valid date."),
        ("vaccination", {"vaccine": "DTP", "date": "2025-10-15", "doseNumber": "31"},
         "doseNumber", "Numéro de dose : valeur attendue entre 1 et 30.",
         "Dose number: enter a value between 1 and 30."),
        ("vaccination", {"vaccine": "DTP", "date": "2025-10-15", "doseNumber": "deux"},
         "doseNumber", "Numéro de dose : nombre entier attendu.",
         "Dose number: enter a whole number."),
        ("medical_history", {"condition": "Asthme", "category": "MEDICAL",
                             "onset": "2020-01-01", "resolved": "2019-01-01"},
         "resolved", "La date de guérison précède le début.",
         "The recovery date is before the start date."),
        ("family_history", {"condition": "Diabète", "relative": ""}, "relative",
         "Lien de parenté : choisissez une valeur dans la liste.",
         "Relationship: choose a value from the list."),
        ("treatment", {"medication": "Doliprane", "startDate": "2026-01-10",
                       "endDate": "2026-01-01"}, "endDate", "La date de fin précède le début.",
         "The end date is before the start date."),
        ("measurement", {"kind": "WEIGHT", "value": "soixante", "measuredAt": "2026-03-01T08:00"},
         "value", "Poids (kg) : nombre invalide (par exemple 72,5).",
         "Weight (kg): enter a number (for example 72.5)."),
        ("measurement", {"kind": "TEMPERATURE", "value": "", "measuredAt": "2026-03-01T08:00"},
         "value", "Température (°C) : ce champ est obligatoire.",
         "Temperature (°C): this field is required."),
        ("measurement", {"kind": "WEIGHT", "value": "70", "measuredAt": "2026-04-01T08:00"},
         "measuredAt", "Date et heure de la mesure : la date est dans le futur.",
         "Date and time of the measurement: the date is in the future."),
        ("measurement", {"kind": "BLOOD_PRESSURE", "value": "120",
                         "measuredAt": "2026-03-01T08:00"},
         "diastolic", "Pression diastolique (mmHg) : ce champ est obligatoire.",
         "Diastolic pressure (mmHg): this field is required."),
        ("measurement", {"kind": "BLOOD_PRESSURE", "value": "80", "diastolic": "120",
                         "measuredAt": "2026-03-01T08:00"},
         "diastolic", "La pression diastolique doit être inférieure à la systolique.",
         "The diastolic pressure must be lower than the systolic pressure."),
        ("emergency_contact", {"name": "Marie"}, "phone", "Indiquez un téléphone ou un courriel.",
         "Enter a phone number or an email address."),
        ("advance_directive", {"text": " ", "documentId": ""}, "text",
         "Rédigez vos directives ou choisissez un document.",
         "Write your directives or choose a document."),
        ("organ_donation", {"position": ""}, "position",
         "Ma position : choisissez une valeur dans la liste.",
         "My decision: choose a value from the list."),
    ],
)
def test_forms_are_checked_in_the_tab_language(
    key: str, form: dict[str, str], field: str, french: str, english: str,
) -> None:
    for language, message in (("fr", french), ("en", english)):
        _, problem = parse_form(BY_KEY[key], form, now=NOW, language=language)
        assert problem is not None
        assert (problem.field, problem.message) == (field, message)


def test_forms_become_api_inputs() -> None:
    values, problem = parse_form(BY_KEY["measurement"], {
        "kind": "WEIGHT", "value": " 72,5 ", "measuredAt": "2026-03-01T08:30",
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


def test_the_measurement_form_asks_the_fields_of_its_kind_only() -> None:
    spec = BY_KEY["measurement"]
    # A diastolic pressure left from a blood pressure is not sent for a weight.
    values, problem = parse_form(spec, {"kind": "WEIGHT", "value": "72.5", "diastolic": "80",
                                        "measuredAt": "2026-03-01T08:00"}, now=NOW)
    assert problem is None and values["diastolic"] is None
    values, problem = parse_form(spec, {"kind": "BLOOD_PRESSURE", "value": "128",
                                        "diastolic": "82,5", "measuredAt": "2026-03-01T08:00"},
                                 now=NOW)
    assert problem is None and (values["value"], values["diastolic"]) == (128.0, 82.5)
    diastolic = spec.field("diastolic")
    assert diastolic is not None and diastolic.kinds == ("BLOOD_PRESSURE",)
    assert not diastolic.asked_for("WEIGHT") and diastolic.asked_for("BLOOD_PRESSURE")
    value = spec.field("value")
    assert value is not None
    assert [field_label(spec, value, kind) for kind in (
        "WEIGHT", "HEIGHT", "BLOOD_PRESSURE", "HEART_RATE", "BLOOD_GLUCOSE", "TEMPERATURE",
        "WAIST")] == [
        "Poids (kg)", "Taille (cm)", "Pression systolique (mmHg)",
        "Fréquence cardiaque (battements/min)", "Glycémie (g/L)", "Température (°C)",
        "Tour de taille (cm)"]
    assert {choice for choice, _ in spec.field("kind").choices} == {  # type: ignore[union-attr]
        "WEIGHT", "HEIGHT", "BLOOD_PRESSURE", "HEART_RATE", "BLOOD_GLUCOSE", "TEMPERATURE",
        "WAIST"}  # the API's MeasurementKind


def test_edit_forms_show_the_entry_and_new_ones_the_defaults() -> None:
    assert form_values(BY_KEY["measurement"], PRESSURE) == {
        "kind": "BLOOD_PRESSURE", "value": "128", "diastolic": "82",
        "measuredAt": "2026-03-08T19:30", "notes": ""}
    weight = {**PRESSURE, "kind": "WEIGHT", "value": 72.5, "diastolic": None}
    assert form_values(BY_KEY["measurement"], weight)["value"] == "72,5"
    assert form_values(BY_KEY["measurement"], weight, "en")["value"] == "72.5"
    fresh = form_values(BY_KEY["measurement"], None)
    assert fresh["kind"] == "WEIGHT" and fresh["value"] == ""
    assert datetime.strptime(fresh["measuredAt"], "%Y-%m-%dT%H:%M")
    assert form_values(BY_KEY["allergy"], None)["kind"] == "ALLERGY"


def test_out_of_range_messages_in_both_languages() -> None:
    result = {"__typename": "MeasurementOutOfRange", "field": "value", "minimum": 0.3,
              "maximum": 500.0, "unit": "kg"}
    assert out_of_range_message(result, kind="WEIGHT", value=900.0) == (
        "Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).")
    assert out_of_range_message(result, kind="WEIGHT", value=900.5, language="en") == (
        "Weight outside physiological limits: 900.5 kg (accepted values: 0.3 to 500 kg).")
    result = {"field": "diastolic", "minimum": 20.0, "maximum": 200.0, "unit": "mmHg"}
    assert out_of_range_message(result, kind="BLOOD_PRESSURE", value=250.0) == (
        "Tension artérielle diastolique hors des limites physiologiques : 250 mmHg (valeurs "
        "acceptées de 20 à 200 mmHg).")
    result = {"field": "value", "minimum": 20.0, "maximum": 300.0, "unit": "battements/min"}
    assert out_of_range_message(result, kind="HEART_RATE", value=400.0, language="en") == (
        "Heart rate outside physiological limits: 400 beats/min (accepted values: 20 to 300 "
        "beats/min).")
    gone = {"__typename": "EntryNotFound", "message": "Élément introuvable."}
    assert result_error(gone, language="en") == (
        "", "This item no longer exists: it may have been deleted.")
    invalid = {"__typename": "InvalidProfileInput", "field": "phone",
               "message": "Phone: too short."}
    assert result_error(invalid, language="en") == ("phone", "Phone: too short.")


# --- the form in the page's state ---------------------------------------------------------------


async def test_adding_an_allergy_sends_it_and_reads_the_profile_again(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("allergy"))
    assert (state.form_kind, state.form_entry_id) == ("allergy", "")
    assert state.form_defaults["substance"] == ""
    assert state.form_choices == {"kind": "ALLERGY", "category": "", "severity": ""}

    await run(state.choose("severity", "SEVERE"))
    fake_api.answer("AddAllergy", {"addAllergy": {"__typename": "Allergy", "id": "a1"}})
    fake_api.answer("Profile", profile_answer(allergies=[ALLERGY]))
    events = await run(state.submit({"substance": "Pénicilline <b>G</b>", "kind": "ALLERGY",
                                     "reaction": "Urticaire"}))
    assert redirects(events) == []
    add = fake_api.called("AddAllergy")[0]
    assert add.variables["input"]["substance"] == "Pénicilline <b>G</b>"
    assert add.variables["input"]["severity"] == "SEVERE"  # as chosen
    assert add.variables["input"]["category"] is None
    assert state.form_kind == "" and state.form_error == "" and not state.saving
    assert (state.saved_kind, state.saved_message) == ("allergy", "L'allergie a été ajoutée.")
    assert [item.id for item in state.entries_allergy] == ["a1"]
    assert focused(events) == ["profil-allergy-add"]  # back to "Ajouter une allergie"


async def test_the_measurement_kind_chosen_changes_its_fields_and_messages(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api, profile_answer(), language="en")
    await run(state.open_form("measurement"))
    assert state.form_choices == {"kind": "WEIGHT"}
    await run(state.submit({"kind": "WEIGHT", "value": "", "measuredAt": "2026-03-01T08:00"}))
    assert (state.form_error_field, state.form_error) == (
        "value", "Weight (kg): this field is required.")
    await run(state.choose("kind", "BLOOD_PRESSURE"))
    assert state.form_choices == {"kind": "BLOOD_PRESSURE"}
    assert state.form_error == ""  # said of the weight's field
    await run(state.choose("nonsense", "x"))
    assert state.form_choices == {"kind": "BLOOD_PRESSURE"}
    fake_api.answer("AddMeasurement", {"addMeasurement": {"__typename": "Measurement",
                                                          "id": "bp"}})
    fake_api.answer("Profile", profile_answer(measurements=[PRESSURE]))
    await run(state.submit({"value": "128", "diastolic": "82", "measuredAt": "2026-03-01T08:00"}))
    sent = fake_api.called("AddMeasurement")[0].variables["input"]
    assert (sent["kind"], sent["value"], sent["diastolic"]) == ("BLOOD_PRESSURE", 128.0, 82.0)
    assert state.saved_message == "The measurement has been added."


async def test_a_form_error_is_shown_without_calling_the_api(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("emergency_contact"))
    events = await run(state.submit({"name": "Marie Dupont"}))
    assert fake_api.calls == []
    assert state.form_kind == "emergency_contact"  # the form stays open, as typed
    assert (state.form_error_field, state.form_error) == (
        "phone", "Indiquez un téléphone ou un courriel.")
    assert focused(events) == ["profil-emergency-contact-phone"]


async def test_a_900_kg_weight_gets_the_out_of_range_message(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("measurement"))
    key = state.form_key
    fake_api.answer("AddMeasurement", {"addMeasurement": {
        "__typename": "MeasurementOutOfRange", "field": "value", "minimum": 0.3,
        "maximum": 500.0, "unit": "kg",
        "message": "Poids hors des limites physiologiques : 900 kg (...)"}})
    events = await run(state.submit({"kind": "WEIGHT", "value": "900",
                                     "measuredAt": "2026-03-01T08:00"}))
    assert fake_api.called("AddMeasurement")[0].variables["input"]["value"] == 900.0
    assert fake_api.called("Profile") == []
    assert state.form_kind == "measurement" and state.form_key == key  # kept, not reset
    assert state.form_error_field == "value"
    assert state.form_error == (
        "Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).")
    assert not state.saving
    assert focused(events) == ["profil-measurement-value"]


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
    assert state.form_kind == "allergy" and not state.saving
    assert (state.form_error_field, state.form_error) == ("", api.UNAVAILABLE_MESSAGE)
    assert state.error == ""


async def test_saved_but_the_profile_cannot_be_read_again(fake_api: FakeApi) -> None:
    """The change went through: the failure to read is the page's, the form is closed."""
    state = await loaded(fake_api, profile_answer())
    await run(state.open_form("allergy"))
    fake_api.answer("AddAllergy", {"addAllergy": {"__typename": "Allergy", "id": "a1"}})
    fake_api.answer("Profile", api.ApiUnavailable())
    await run(state.submit({"substance": "Arachide", "kind": "ALLERGY"}))
    assert state.form_kind == "" and state.form_error == ""
    assert state.saved_message == "L'allergie a été ajoutée."
    assert state.error == api.UNAVAILABLE_MESSAGE


async def test_editing_fills_the_form_and_updates_that_entry(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    await run(state.edit("allergy", "a1"))
    assert (state.form_kind, state.form_entry_id) == ("allergy", "a1")
    assert state.form_defaults == {"substance": "Pénicilline <b>G</b>",
                                   "reaction": "Urticaire", "since": "2019-05-02", "notes": ""}
    assert state.form_choices == {"kind": "ALLERGY", "category": "MEDICATION",
                                  "severity": "SEVERE"}
    fake_api.answer("UpdateAllergy", {"updateAllergy": {"__typename": "Allergy", "id": "a1"}})
    fake_api.answer("Profile", FULL)
    events = await run(state.submit({**state.form_defaults, **state.form_choices,
                                     "reaction": "Œdème"}))
    update = fake_api.called("UpdateAllergy")[0]
    assert update.variables["id"] == "a1"
    assert update.variables["input"]["reaction"] == "Œdème"
    assert state.saved_message == "L'allergie a été modifiée."
    assert state.form_kind == ""
    assert focused(events) == ["edit-a1"]  # back to its "Modifier" button


async def test_cancelling_gives_the_focus_back_to_what_opened_the_form(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api)
    await run(state.edit("allergy", "a1"))
    assert focused(await run(state.cancel_form())) == ["edit-a1"]
    assert state.form_kind == ""
    await run(state.open_form("vaccination"))
    assert focused(await run(state.cancel_form())) == ["profil-vaccination-add"]
    assert await run(state.cancel_form()) == []  # nothing open


async def test_editing_an_entry_deleted_meanwhile_says_so(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    await run(state.edit("allergy", "a1"))
    fake_api.answer("UpdateAllergy", {"updateAllergy": {"__typename": "EntryNotFound",
                                                        "message": "Élément introuvable."}})
    fake_api.answer("Profile", profile_answer())
    await run(state.submit({"substance": "Pénicilline", "kind": "ALLERGY"}))
    assert state.error == "Cet élément n'existe plus : il a peut-être été supprimé."
    assert state.form_kind == "" and state.entries_allergy == []

    fake_api.answer("Profile", profile_answer())
    await run(state.edit("allergy", "a1"))  # a stale button
    assert state.form_kind == ""
    assert state.error == "Cet élément n'existe plus : il a peut-être été supprimé."


async def test_a_single_kind_is_set_and_its_form_edits_the_existing_entry(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api)
    await run(state.open_form("organ_donation"))
    assert state.form_entry_id == "o1"  # never a second one
    assert state.form_defaults == {"note": "Inscrit au registre."}
    assert state.form_choices == {"position": "REFUSES"}
    await run(state.choose("position", "CONSENTS"))
    fake_api.answer("SetOrganDonation", {"setOrganDonation": {"__typename": "OrganDonation",
                                                              "id": "o1"}})
    fake_api.answer("Profile", FULL)
    events = await run(state.submit({"note": ""}))
    assert fake_api.called("SetOrganDonation")[0].variables == {
        "input": {"position": "CONSENTS", "note": None}}
    assert state.saved_message == "Votre position sur le don d'organes a été modifiée."
    assert focused(events) == ["edit-o1"]


async def test_the_directive_form_lists_my_documents_first(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer(), language="en")
    fake_api.answer("ProfileDocumentChoices", {"documents": {"edges": [
        {"node": {"id": "doc-1", "title": "Directives", "clinicalDate": "2024-03-01"}}]}})
    await run(state.open_form("advance_directive"))
    assert fake_api.called("ProfileDocumentChoices")[0].variables == {"first": 100}
    assert state.document_options == [["", "No document attached"],
                                      ["doc-1", "Directives (1 March 2024)"]]
    assert state.form_kind == "advance_directive" and state.form_notice == ""
    assert state.form_choices == {"documentId": ""}
    await run(state.choose("documentId", "doc-1"))
    fake_api.answer("SetAdvanceDirective", {"setAdvanceDirective": {
        "__typename": "AdvanceDirective", "id": "d1"}})
    directive: dict[str, Any] = {"id": "d1", "recordedAt": "2026-03-01T09:00:00+00:00",
                                 "imported": False, "author": {"isPatient": True},
                                 "text": None, "documentId": "doc-1"}
    fake_api.answer("Profile", profile_answer(advanceDirective=directive))
    fake_api.answer("ProfileDirectiveDocument", {"document": {"id": "doc-1",
                                                              "title": "Directives"}})
    await run(state.submit({"text": ""}))
    assert fake_api.called("SetAdvanceDirective")[0].variables == {
        "input": {"text": None, "documentId": "doc-1"}}
    assert state.saved_message == "Your advance directives have been saved."
    assert state.entries_advance_directive[0].details == ["Attached document: “Directives”"]


async def test_the_directive_form_opens_even_without_the_document_list(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api, profile_answer())
    fake_api.answer("ProfileDocumentChoices", api.ApiUnavailable())
    await run(state.open_form("advance_directive"))
    assert state.form_kind == "advance_directive"
    assert state.document_options == [["", "Aucun document joint"]]
    assert state.form_notice.startswith("La liste de vos documents n'a pas pu être chargée")


async def test_opening_a_form_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, profile_answer())
    fake_api.answer("ProfileDocumentChoices", api.ApiUnauthenticated())
    events = await run(state.open_form("advance_directive"))
    assert redirects(events) == ["/connexion"]
    assert state.form_kind == "" and not state.signed_in and not state.loaded
