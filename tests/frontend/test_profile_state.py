"""Mon profil médical's shared state part (state/profile/base.py), with a fake `api.execute`:
the operations, loading, the entries in French and English, the page's messages (never kept for
the next visit), an expired session, another sign-in in the same tab. The other parts have
their own tests: test_profile_forms.py, test_profile_deleting.py, test_profile_charts.py,
test_profile_export.py."""

from __future__ import annotations

import json
from pathlib import Path

from carnet_web import api
from carnet_web.state import profile as profile_module
from carnet_web.state.profile import KINDS, ProfileState, entry_item
from carnet_web.state.session import LOGIN_ROUTE
from gql import GraphQLRequest
from graphql import build_schema, validate

from tests.frontend.fakes import FakeApi, operation_name, redirects, run
from tests.frontend.profile_answers import (
    ALLERGY,
    DOCTOR,
    FULL,
    PRESSURE,
    TOKEN,
    TREATMENT,
    VACCINATION,
    common,
    loaded,
    profile_answer,
    signed_in,
)

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


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


def test_one_state_made_of_its_parts() -> None:
    """The page's parts are one Reflex state: every handler is ProfileState's."""
    assert {"load", "open_form", "edit", "choose", "cancel_form", "submit", "ask_delete",
            "delete_dialog_changed", "confirm_delete", "export_fhir"} <= set(
        ProfileState.event_handlers)
    for spec in KINDS:
        assert getattr(ProfileState(), spec.var) == []


# --- loading --------------------------------------------------------------------------------


async def test_profile_page_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = ProfileState()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert state._return_to == "/"  # (the test has no page: the login page comes back here)
    assert fake_api.calls == []


async def test_profile_page_lists_entries_in_french(fake_api: FakeApi) -> None:
    fake_api.answer("Profile", FULL)
    state = signed_in(ProfileState())
    assert redirects(await run(state.load())) == []
    assert state.loaded and not state.loading and state.error == ""
    assert fake_api.calls[0].token == TOKEN
    assert fake_api.calls[0].headers["Accept-Language"] == "fr"

    (allergy,) = state.entries_allergy
    assert allergy.title == "Pénicilline <b>G</b>"  # kept as typed: the page shows plain text
    assert allergy.badge == "Allergie"
    assert allergy.details == ["Catégorie : Médicament", "Réaction : Urticaire",
                               "Sévérité : sévère", "Depuis le 2 mai 2019"]
    assert allergy.meta == "Ajouté par vous le 1er mars 2026"
    (vaccination,) = state.entries_vaccination
    assert vaccination.details == ["Le 15 octobre 2025", "Dose n° 3", "Lot : X123"]
    assert vaccination.text == "Rappel"
    assert vaccination.meta == "Ajouté par : Médecin généraliste le 1er mars 2026"
    assert [item.title for item in state.entries_measurement] == ["Poids : 70,9 kg",
                                                                  "Poids : 72,5 kg"]
    assert state.entries_measurement[0].details == ["Mesuré le 9 mars 2026 à 08:00"]
    assert [item.title for item in state.entries_organ_donation] == [
        "Je refuse de donner mes organes et tissus"]
    assert state.entries_advance_directive == []
    assert [point["value"] for point in state.charts["WEIGHT"].points] == [72.5, 70.9]
    assert state.charts["BMI"].points == []
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_profile_page_lists_entries_in_english(fake_api: FakeApi) -> None:
    fake_api.answer("Profile", profile_answer(
        allergies=[ALLERGY], vaccinations=[VACCINATION], measurements=[PRESSURE],
        treatments=[TREATMENT], organDonation=common("o1", position="CONSENTS", note=None)))
    state = signed_in(ProfileState(), "en")
    await run(state.load())
    assert fake_api.calls[0].headers["Accept-Language"] == "en"
    (allergy,) = state.entries_allergy
    assert allergy.badge == "Allergy"
    assert allergy.details == ["Category: Medicine", "Reaction: Urticaire", "Severity: severe",
                               "Since 2 May 2019"]
    assert allergy.meta == "Added by you on 1 March 2026"
    assert state.entries_vaccination[0].details == ["On 15 October 2025", "Dose 3",
                                                     "Batch: X123"]
    assert state.entries_vaccination[0].meta == "Added by Médecin généraliste on 1 March 2026"
    (pressure,) = state.entries_measurement
    assert pressure.title == "Blood pressure: 128/82 mmHg"
    assert pressure.details == ["Measured on 8 March 2026 at 19:30"]
    (treatment,) = state.entries_treatment
    assert (treatment.badge, treatment.details) == ("Ongoing", [
        "Dose: 1 comprimé", "How often: le matin", "Since 1 March 2026",
        "Prescribed by: Dr Martin"])
    assert state.entries_organ_donation[0].title == "I agree to donate my organs and tissues"


def test_entries_of_every_section_in_both_languages() -> None:
    history = common("h1", condition="Asthme", category="SURGICAL", onset="2020-06-01",
                     resolved="2021-01-01", active=False, notes="Suivi")
    family = common("f1", relative="MOTHER", condition="Diabète", ageAtOnset=1, notes=None)
    contact = common("c1", name="Marie", relationship="Sœur", phone="06 12 34 56 78",
                     email=None, notes=None)
    weight = common("w1", DOCTOR, kind="WEIGHT", label="Poids", value=1000.25, diastolic=None,
                    unit="kg", unitLabel="kg", measuredAt="2026-06-01T07:00:00+00:00",
                    notes=None, bmi=23.456)
    item = entry_item("medical_history", history)
    assert (item.badge, item.details, item.text) == (
        "Chirurgical", ["Depuis le 1er juin 2020", "Guéri le 1er janvier 2021"], "Suivi")
    assert entry_item("medical_history", history, "en").details == [
        "Since 1 June 2020", "Recovered on 1 January 2021"]
    assert entry_item("family_history", family).details == ["Mère", "Âge au début : 1 an"]
    assert entry_item("family_history", {**family, "ageAtOnset": 40}, "en").details == [
        "Mother", "Age at onset: 40 years"]
    assert entry_item("emergency_contact", contact, "en").details == [
        "Sœur", "Phone: 06 12 34 56 78"]
    item = entry_item("measurement", weight)
    assert item.title == "Poids : 1\u202f000,25 kg"
    assert item.details == ["Mesuré le 1er juin 2026 à 09:00", "IMC : 23,5"]
    item = entry_item("measurement", weight, "en")
    assert item.title == "Weight: 1,000.25 kg"
    assert item.details == ["Measured on 1 June 2026 at 09:00", "BMI: 23.5"]
    assert entry_item("advance_directive", common("d1", text="", documentId="x"),
                      "en").details == ["A document from your record is attached."]


async def test_profile_page_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("Profile", api.ApiUnauthenticated(detail="expired"))
    state = signed_in(ProfileState())
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == api.UNAUTHENTICATED_MESSAGE
    assert (state._api_token, state.signed_in) == ("", False)
    assert not state.loading


async def test_profile_page_for_a_professional_says_it_is_for_patients(
    fake_api: FakeApi,
) -> None:
    fake_api.answer("Profile", api.ApiError(api.UNEXPECTED_MESSAGE, code="FORBIDDEN"))
    state = signed_in(ProfileState(), "en")
    assert redirects(await run(state.load())) == []
    assert state.error == "The medical profile is for patient accounts only."
    assert not state.loaded and state.signed_in and not state.loading


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

    fake_api.answer("ProfileDirectiveDocument", {"document": None})
    fake_api.answer("Profile", profile_answer(advanceDirective=directive))
    state.lang = "en"
    await run(state.load())
    assert state.entries_advance_directive[0].details == [
        "The attached document is no longer in your record."]


async def test_what_a_finished_action_said_is_gone_when_the_page_loads_again(
    fake_api: FakeApi,
) -> None:
    """Coming back to the page, or reloading it, runs `load` again: no message of before."""
    state = await loaded(fake_api)
    state.saved_kind, state.saved_message = "allergy", "L'allergie a été ajoutée."
    state.info = "Votre dossier a été exporté."
    state.error = "Le service est indisponible."
    state.ask_delete("allergy", "a1")
    await run(state.open_form("vaccination"))  # (and closes the dialog)
    assert state.form_kind == "vaccination"
    fake_api.answer("Profile", FULL)
    generator = state.load()
    await generator.__anext__()  # the first update the page gets
    assert (state.saved_kind, state.saved_message, state.info, state.error) == ("", "", "", "")
    assert state.form_kind == "" and state.deleting_id == ""
    await run(generator)
    assert state.saved_message == "" and state.loaded


async def test_another_sign_in_in_the_tab_never_sees_the_previous_profile(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api)
    assert state.entries_allergy and state._owner
    state._sign_out()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.entries_allergy == [] and state.charts["WEIGHT"].points == []
    assert not state.loaded

    state = await loaded(fake_api)
    state._sign_in("un-autre-jeton", "paul@example.fr")
    fake_api.answer("Profile", profile_answer())
    generator = state.load()
    await generator.__anext__()  # the first update the page gets, while the profile loads
    assert state.entries_allergy == [] and not state.loaded
    await run(generator)
    assert state.loaded and state.entries_allergy == []
