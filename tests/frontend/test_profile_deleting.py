"""Deleting a profile entry (state/profile/deleting.py), with a fake `api.execute`: the
question in the tab's language, cancelling (focus back to the entry's "Supprimer" button),
deleting (focus to the section's "Ajouter" button), single kinds, errors."""

from __future__ import annotations

from carnet_web import api
from carnet_web.state.session import LOGIN_ROUTE

from tests.frontend.fakes import FakeApi, focused, redirects, run
from tests.frontend.profile_answers import ALLERGY, FULL, loaded, profile_answer


async def test_deleting_asks_then_deletes(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.saved_kind, state.saved_message = "allergy", "L'allergie a été ajoutée."
    state.ask_delete("vaccination", "v1")
    assert state.deleting_id == "v1" and state.saved_message == ""
    assert state.deleting_question == "Supprimer cette vaccination ?"
    assert state.deleting_description == (
        "« DTP » sera retiré de votre profil. Cette action est définitive.")
    events = await run(state.delete_dialog_changed(False))  # Escape, or "Annuler"
    assert state.deleting_id == ""
    assert focused(events) == ["delete-v1"]

    state.ask_delete("vaccination", "v1")
    fake_api.answer("DeleteVaccination", {"deleteVaccination": {"__typename": "EntryDeleted",
                                                                "id": "v1"}})
    fake_api.answer("Profile", profile_answer(allergies=[ALLERGY]))
    events = await run(state.confirm_delete())
    assert fake_api.called("DeleteVaccination")[0].variables == {"id": "v1"}
    assert (state.saved_kind, state.saved_message) == ("vaccination",
                                                       "La vaccination a été supprimée.")
    assert state.entries_vaccination == [] and state.deleting_id == "" and not state.deleting
    assert focused(events) == ["profil-vaccination-add"]
    # Radix then says the dialog closed: nothing more to do.
    assert await run(state.delete_dialog_changed(False)) == []


async def test_the_question_in_english(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, language="en")
    state.ask_delete("allergy", "a1")
    assert state.deleting_question == "Delete this allergy?"
    assert state.deleting_description == (
        "“Pénicilline <b>G</b>” will be removed from your profile. This cannot be undone.")
    state.ask_delete("organ_donation", "o1")
    assert state.deleting_question == "Remove your organ donation decision?"


async def test_deleting_what_is_being_edited_closes_its_form(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    await run(state.edit("allergy", "a1"))
    state.ask_delete("allergy", "a1")
    assert state.form_kind == "allergy"  # asking is not deleting
    fake_api.answer("DeleteAllergy", {"deleteAllergy": {"__typename": "EntryDeleted",
                                                        "id": "a1"}})
    fake_api.answer("Profile", profile_answer())
    await run(state.confirm_delete())
    assert state.form_kind == ""


async def test_deleting_a_single_kind_and_an_entry_already_gone(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.ask_delete("organ_donation", "o1")
    fake_api.answer("DeleteOrganDonation", {"deleteOrganDonation": {
        "__typename": "EntryNotFound", "message": "Élément introuvable."}})
    fake_api.answer("Profile", FULL)
    events = await run(state.confirm_delete())
    assert fake_api.called("DeleteOrganDonation")[0].variables == {}
    assert state.error == "Cet élément n'existe plus : il a peut-être été supprimé."
    assert focused(events) == ["delete-o1"]  # still there: back to its button


async def test_deleting_with_the_api_down_says_so(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.ask_delete("allergy", "a1")
    fake_api.answer("DeleteAllergy", api.ApiUnavailable())
    await run(state.confirm_delete())
    assert state.error == api.UNAVAILABLE_MESSAGE and not state.deleting
    assert [item.id for item in state.entries_allergy] == ["a1"]


async def test_nothing_to_delete_does_nothing(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.ask_delete("allergy", "unknown")
    state.ask_delete("nonsense", "a1")
    assert state.deleting_id == ""
    assert await run(state.confirm_delete()) == []
    assert fake_api.calls == []


async def test_changes_with_an_expired_session_go_to_login(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.ask_delete("allergy", "a1")
    fake_api.answer("DeleteAllergy", api.ApiUnauthenticated())
    assert redirects(await run(state.confirm_delete())) == [LOGIN_ROUTE]
    assert state.entries_allergy == [] and not state.signed_in and not state.deleting
