"""Mon équipe de soins, with a fake `api.execute`: the list, adding by RPPS (format, already in
the team, unknown RPPS, API down: each shown next to the field), removing, the médecin
traitant, the emergency setting, blocking, and what needs a session."""

from __future__ import annotations

import json
from typing import Any

import pytest
from carnet_web import api
from carnet_web.state import care_team as care_team_module
from carnet_web.state.care_team import (
    RPPS_FIELD_ID,
    TEAM_HEADING_ID,
    CareTeamState,
    member_items,
    normalized_rpps,
)
from carnet_web.state.session import LOGIN_ROUTE, SessionState

from tests.frontend.fakes import FakeApi, focused, redirects, run

TOKEN = "jeton-de-session-secret"
DOCTOR = {"id": "7", "rpps": "10000000007", "profession": "Médecin",
          "specialty": "Médecine générale", "practiceName": "Cabinet du Port"}
PHARMACIST = {"id": "9", "rpps": "10000000009", "profession": "Pharmacien",
              "specialty": None, "practiceName": None}


def member(pro: dict, *, treating: bool = False, active: bool = True,
           origin: str = "CARE_TEAM") -> dict:
    return {"professional": pro, "origin": origin, "active": active, "treatingDoctor": treating,
            "since": "2026-03-01T09:00:00+00:00", "lastAccessAt": "2026-03-02T09:00:00+00:00",
            "expiresAt": "2029-03-01T09:00:00+00:00"}


def page(*members: dict, emergency: bool = True, blocked: list[dict] | None = None) -> dict:
    treating = next((m["professional"] for m in members if m["treatingDoctor"]), None)
    return {"careTeam": list(members),
            "accessSettings": {"emergencyAccessAllowed": emergency,
                               "treatingDoctor": {"id": treating["id"]} if treating else None},
            "blockedProfessionals": blocked or []}


def signed_in(state: SessionState) -> Any:
    state._sign_in(TOKEN, "jeanne@example.fr")
    return state


async def loaded(fake_api: FakeApi, *members: dict, **kwargs: Any) -> CareTeamState:
    fake_api.answer("CareTeam", page(*members, **kwargs))
    state = signed_in(CareTeamState())
    await run(state.load())
    return state


def test_member_items_in_french_treating_doctor_first() -> None:
    doctor, pharmacist = member_items([member(PHARMACIST, origin="DECLARED", active=False),
                                       member(DOCTOR, treating=True)], blocked={"9"})
    assert (doctor.name, doctor.practice, doctor.treating_doctor) == (
        "Médecin (Médecine générale)", "Cabinet du Port", True)
    assert doctor.origin == "Ajouté par vous" and doctor.since == "1er mars 2026"
    assert doctor.status.startswith("Accès actif jusqu'au 1er mars 2029")
    assert not doctor.can_be_treating_doctor  # already is
    assert pharmacist.name == "Pharmacien" and pharmacist.practice == ""
    assert pharmacist.origin == "A déclaré vous suivre"
    assert pharmacist.status.startswith("Accès expiré le")
    assert pharmacist.blocked and not pharmacist.can_be_treating_doctor  # not a physician


@pytest.mark.parametrize(("typed", "expected"), [
    ("10000000007", "10000000007"), (" 1000 0000 007 ", "10000000007"),
    ("1000000000", ""), ("100000000071", ""), ("1000000000a", ""), ("", ""),
    ("١٠٠٠٠٠٠٠٠٠٧", ""),  # non-ASCII digits
])
def test_rpps_is_eleven_digits(typed: str, expected: str) -> None:
    assert normalized_rpps(typed) == expected


async def test_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = CareTeamState()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert fake_api.calls == []


async def test_load_lists_team_settings_and_other_blocked_professionals(
        fake_api: FakeApi) -> None:
    other = {"id": "12", "rpps": "10000000012", "profession": "Infirmier", "practiceName": None}
    state = await loaded(fake_api, member(PHARMACIST), member(DOCTOR, treating=True),
                         emergency=False, blocked=[{**PHARMACIST}, other])
    assert [m.id for m in state.members] == ["7", "9"]
    assert [m.blocked for m in state.members] == [False, True]
    assert [b.id for b in state.blocked_others] == ["12"]  # the pharmacist shows on their card
    assert state.emergency_allowed is False
    assert not state.loading and state.error == ""
    assert fake_api.calls[0].token == TOKEN
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_load_with_the_api_down_shows_the_error(fake_api: FakeApi) -> None:
    fake_api.answer("CareTeam", api.ApiUnavailable())
    state = signed_in(CareTeamState())
    assert redirects(await run(state.load())) == []
    assert state.error == api.UNAVAILABLE_MESSAGE and state.signed_in and not state.loading


async def test_load_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("CareTeam", api.ApiUnauthenticated())
    state = signed_in(CareTeamState())
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert not state.signed_in and state.notice == api.UNAUTHENTICATED_MESSAGE


async def test_add_by_rpps_then_refresh(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    fake_api.answer("AddToCareTeam", {"addToCareTeam": {"__typename": "CareTeamMember",
                                                        "professional": DOCTOR}})
    fake_api.answer("CareTeam", page(member(DOCTOR)))
    key = state.rpps_field_key
    events = await run(state.add({"rpps": "1000 0000 007"}))
    assert fake_api.called("AddToCareTeam")[0].variables == {"rpps": "10000000007"}
    assert [m.id for m in state.members] == ["7"]
    assert state.info == ("Médecin (Médecine générale) fait maintenant partie de votre équipe "
                          "de soins.")
    assert state.rpps_error == "" and not state.busy
    assert state.rpps_field_key == key + 1  # the field is emptied
    assert focused(events) == [RPPS_FIELD_ID]


@pytest.mark.parametrize("typed", ["123", "1000000000x", ""])
async def test_add_with_a_malformed_rpps_calls_nothing(fake_api: FakeApi, typed: str) -> None:
    state = await loaded(fake_api)
    events = await run(state.add({"rpps": typed}))
    assert state.rpps_error == "Le numéro RPPS compte 11 chiffres."
    assert fake_api.called("AddToCareTeam") == []
    assert focused(events)


async def test_add_someone_already_in_the_team_says_so(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(DOCTOR))
    await run(state.add({"rpps": "10000000007"}))
    assert state.rpps_error == "Ce professionnel fait déjà partie de votre équipe de soins."
    assert fake_api.called("AddToCareTeam") == []


async def test_add_an_expired_member_renews_them(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(DOCTOR, active=False))
    fake_api.answer("AddToCareTeam", {"addToCareTeam": {"__typename": "CareTeamMember",
                                                        "professional": DOCTOR}})
    fake_api.answer("CareTeam", page(member(DOCTOR)))
    await run(state.add({"rpps": "10000000007"}))
    assert state.rpps_error == "" and state.members[0].active


@pytest.mark.parametrize(("answer", "error"), [
    ({"addToCareTeam": {"__typename": "UnknownProfessional",
                        "message": "Aucun professionnel de santé inscrit sur Carnet avec ce "
                                   "numéro RPPS."}},
     "Aucun professionnel de santé inscrit sur Carnet avec ce numéro RPPS."),
    ({"addToCareTeam": {"__typename": "InvalidAccessInput",
                        "message": "Le numéro RPPS compte 11 chiffres."}},
     "Le numéro RPPS compte 11 chiffres."),
    (api.ApiUnavailable(), api.UNAVAILABLE_MESSAGE),
])
async def test_add_refused_shows_why_next_to_the_field(fake_api: FakeApi, answer: Any,
                                                       error: str) -> None:
    state = await loaded(fake_api)
    fake_api.answer("AddToCareTeam", answer)
    events = await run(state.add({"rpps": "10000000099"}))
    assert state.rpps_error == error
    assert state.info == "" and state.action_error == "" and not state.busy
    assert focused(events)
    assert len(fake_api.called("CareTeam")) == 1  # nothing changed: not read again


async def test_add_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    fake_api.answer("AddToCareTeam", api.ApiUnauthenticated())
    assert redirects(await run(state.add({"rpps": "10000000099"}))) == [LOGIN_ROUTE]
    assert not state.signed_in and state.members == []


async def test_remove_then_refresh(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(DOCTOR, treating=True))
    fake_api.answer("RemoveFromCareTeam", {"removeFromCareTeam": {
        "__typename": "CareTeamMemberRemoved", "professionalId": "7"}})
    fake_api.answer("CareTeam", page())
    await run(state.ask_remove("7"))  # "Retirer de mon équipe" asks first
    assert state.removing_id == "7" and state.removing_name == "Médecin (Médecine générale)"
    assert not fake_api.called("RemoveFromCareTeam")
    events = await run(state.confirm_remove())
    assert fake_api.called("RemoveFromCareTeam")[0].variables == {"professionalId": "7"}
    assert state.removing_id == ""
    assert state.members == []
    assert state.info.startswith("Médecin (Médecine générale) ne fait plus partie")
    assert focused(events) == [TEAM_HEADING_ID]
    # The dialog then reports it closed: nothing more happens.
    assert state.remove_dialog_changed(False) is None


async def test_cancelling_the_removal_gives_focus_back_to_the_button(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(DOCTOR))
    await run(state.ask_remove("7"))
    assert state.remove_dialog_changed(True) is None and state.removing_id == "7"
    event = state.remove_dialog_changed(False)  # "Annuler" or Escape
    # Focus goes back by id once the dialog has closed (a script: refs do not reach foreach).
    assert "care-team-remove-7" in str(event) and ".focus()" in str(event)
    assert state.removing_id == "" and state.removing_name == ""
    await run(state.confirm_remove())  # a late click on the closed dialog's button
    assert not fake_api.called("RemoveFromCareTeam")
    assert [m.id for m in state.members] == ["7"]


async def test_remove_refused_shows_the_api_message(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(DOCTOR))
    fake_api.answer("RemoveFromCareTeam", {"removeFromCareTeam": {
        "__typename": "NotInCareTeam",
        "message": "Ce professionnel ne fait pas partie de votre équipe de soins."}})
    await run(state.ask_remove("7"))
    await run(state.confirm_remove())
    assert state.action_error == "Ce professionnel ne fait pas partie de votre équipe de soins."
    assert state.info == ""


async def test_name_and_clear_the_treating_doctor(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(DOCTOR))
    assert state.members[0].can_be_treating_doctor
    fake_api.answer("SetTreatingDoctor", {"setTreatingDoctor": {
        "__typename": "AccessSettings", "treatingDoctor": {"id": "7"}}})
    fake_api.answer("CareTeam", page(member(DOCTOR, treating=True)))
    await run(state.set_treating_doctor("10000000007"))
    assert fake_api.called("SetTreatingDoctor")[0].variables == {"rpps": "10000000007"}
    assert state.members[0].treating_doctor
    assert state.info == "Médecin (Médecine générale) est maintenant votre médecin traitant."

    fake_api.answer("SetTreatingDoctor", {"setTreatingDoctor": {
        "__typename": "AccessSettings", "treatingDoctor": None}})
    fake_api.answer("CareTeam", page(member(DOCTOR)))
    await run(state.set_treating_doctor(""))
    assert fake_api.called("SetTreatingDoctor")[1].variables == {"rpps": None}
    assert state.info == care_team_module.TREATING_DOCTOR_CLEARED
    assert not state.members[0].treating_doctor


async def test_treating_doctor_refused_for_a_non_physician(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(PHARMACIST))
    fake_api.answer("SetTreatingDoctor", {"setTreatingDoctor": {
        "__typename": "NotADoctor", "message": "Le médecin traitant doit être un médecin."}})
    await run(state.set_treating_doctor("10000000009"))
    assert state.action_error == "Le médecin traitant doit être un médecin."


@pytest.mark.parametrize("allowed", [False, True])
async def test_emergency_access_setting(fake_api: FakeApi, allowed: bool) -> None:
    state = await loaded(fake_api, emergency=not allowed)
    fake_api.answer("SetEmergencyAccess",
                    {"setEmergencyAccess": {"emergencyAccessAllowed": allowed}})
    await run(state.set_emergency_access(allowed))
    assert fake_api.called("SetEmergencyAccess")[0].variables == {"allowed": allowed}
    assert state.emergency_allowed is allowed
    assert state.info == (care_team_module.EMERGENCY_ALLOWED if allowed
                          else care_team_module.EMERGENCY_REFUSED)


async def test_emergency_access_error_shown_next_to_the_switch(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    fake_api.answer("SetEmergencyAccess", api.ApiUnavailable())
    await run(state.set_emergency_access(False))
    assert state.emergency_error == api.UNAVAILABLE_MESSAGE
    assert state.emergency_allowed is True and not state.busy


async def test_block_and_unblock_use_the_messaging_mutations(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, member(DOCTOR))
    fake_api.answer("MessagingBlock", {"blockProfessional": {
        "__typename": "BlockChanged", "professionalId": "7", "blocked": True}})
    fake_api.answer("CareTeam", page(member(DOCTOR), blocked=[DOCTOR]))
    await run(state.set_blocked("7", True))
    assert fake_api.called("MessagingBlock")[0].variables == {"professionalId": "7"}
    assert state.members[0].blocked
    assert state.info.startswith("Vous avez bloqué Médecin (Médecine générale) : ce "
                                 "professionnel ne peut plus lire votre dossier")

    fake_api.answer("MessagingUnblock", {"unblockProfessional": {
        "__typename": "BlockChanged", "professionalId": "7", "blocked": False}})
    fake_api.answer("CareTeam", page(member(DOCTOR)))
    await run(state.set_blocked("7", False))
    assert not state.members[0].blocked
    assert state.info == "Vous avez débloqué Médecin (Médecine générale)."


async def test_signing_out_forgets_the_care_team(fake_api: FakeApi) -> None:
    """A shared computer: the next person must never see the previous one's team."""
    fake_api.answer("CareTeam", page(member(DOCTOR)))
    fake_api.answer("Logout", {"logout": {"sessionsClosed": 1}})
    session = signed_in(SessionState())
    team = session.substates[CareTeamState.get_name()]
    await run(team.load())
    team.rpps_error = "x"
    assert team.members
    await run(session.logout())
    assert team.members == [] and team.rpps_error == "" and team.emergency_allowed is True


def test_the_operations_of_both_patient_pages_are_valid_against_the_schema() -> None:
    from pathlib import Path

    from carnet_web.state import access_history
    from graphql import build_schema, validate

    schema = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
    for request in (care_team_module.CARE_TEAM, care_team_module.ADD_TO_CARE_TEAM,
                    care_team_module.REMOVE_FROM_CARE_TEAM, care_team_module.SET_TREATING_DOCTOR,
                    care_team_module.SET_EMERGENCY_ACCESS, access_history.ACCESS_LOG):
        assert validate(schema, request.document) == []


def test_member_items_in_english() -> None:
    from carnet_web.state.care_team import member_items

    rows = [{
        "professional": {"id": "7", "rpps": "10000000001", "profession": "Médecin",
                         "specialty": "Médecine générale", "practiceName": "Cabinet"},
        "active": True, "treatingDoctor": True, "origin": "CARE_TEAM",
        "since": "2026-03-01T10:00:00+00:00", "expiresAt": "2027-03-01T10:00:00+00:00",
    }]
    [doctor] = member_items(rows, set(), "en")
    assert doctor.origin == "Added by you" and doctor.since == "1 March 2026"
    assert doctor.status == "Access active until 1 March 2027 (extended each time they look)"
