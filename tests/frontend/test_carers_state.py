"""Carers and parents on the web (issue 15 part 9), with a fake `api.execute`: "Mes aidants"
(list in words, the form's checks and the API's typed errors next to their field, "Retirer"
after a confirmation), the space switcher (the `Carnet-Space` header on every call while in
someone's space, never on the account's own calls, forgetting the pages' data), the friendly
message for a part not given; then the whole path against the real API."""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from carnet_web import api
from carnet_web.state import carers as carers_module
from carnet_web.state import spaces as spaces_module
from carnet_web.state.carers import (
    CarersState,
    carer_items,
    chosen_parts,
    ends_at,
)
from carnet_web.state.session import LOGIN_ROUTE, SPACE_HEADER
from carnet_web.state.spaces import SpaceState, space_items
from graphql import build_schema, validate

from tests.frontend.fakes import FakeApi, focused, redirects, run

TOKEN = "jeton-de-session-secret"
SPACE = "6f1c2b7e-0d1a-4c55-9a43-4f7d2b0c9e11"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
ROW = {"id": "7", "emailHint": "b***b@example.fr", "parts": ["AGENDA", "DOCUMENTS"],
       "canWrite": False, "createdAt": "2026-12-03T10:00:00+00:00",
       "endsAt": "2030-12-31T23:00:00+00:00", "linked": False}
SPACES = {"mySpaces": [
    {"spaceId": SPACE, "firstNames": "Alice", "birthName": "Martin", "parts": ["DOCUMENTS"],
     "canWrite": False, "endsAt": None, "legalRepresentative": False},
    {"spaceId": "child-1", "firstNames": "Léa", "birthName": "Martin", "parts": ["AGENDA"],
     "canWrite": True, "endsAt": None, "legalRepresentative": True},
]}


def signed_in(state: Any) -> Any:
    state._sign_in(TOKEN, "bob@example.fr", "PATIENT")
    return state


def test_every_operation_is_valid_against_the_schema() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    for document in (carers_module.CARERS, carers_module.GRANT_CARER,
                     carers_module.REVOKE_CARER, spaces_module.MY_SPACES):
        assert validate(schema, document.document) == []
        assert document in api.OPERATIONS


def test_the_form_and_list_in_words() -> None:
    item = carer_items([ROW], "fr")[0]
    assert item.parts == "Mes documents, Agenda"  # the form's order, not the API's
    assert item.access == "Lecture seule" and item.pending
    # Sent as the next day's midnight in Paris (23:00 UTC in winter): the last day is the 31st.
    assert item.until == "Jusqu'au 31 décembre 2030"
    assert item.since == "Ajoutée le 3 décembre 2026"
    english = carer_items([{**ROW, "canWrite": True, "linked": True, "endsAt": None}], "en")[0]
    assert english.access == "Read and change" and english.until == "No end date"
    assert english.parts == "My documents, Appointments" and not english.pending

    today = date(2026, 12, 3)
    assert ends_at("", today) is None
    assert ends_at("2026-12-03", today) == "2026-12-04T00:00:00+01:00"
    assert ends_at("2027-07-14", today) == "2027-07-15T00:00:00+02:00"
    for wrong in ("2026-12-02", "31/12/2030", "2030-02-30"):
        with pytest.raises(ValueError):
            ends_at(wrong, today)
    assert chosen_parts({"part_AGENDA": "on", "part_PROFILE": "", "part_X": "on",
                         "part_DOCUMENTS": "on"}) == ["DOCUMENTS", "AGENDA"]


async def test_signed_out_goes_to_the_login_page(fake_api: FakeApi) -> None:
    state = CarersState()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


async def test_list_grant_with_typed_errors_then_revoke(fake_api: FakeApi) -> None:
    fake_api.answer("Carers", {"carers": []}, {"carers": [ROW]}, {"carers": []})
    state = signed_in(CarersState())
    await run(state.load())
    assert state.carers == [] and not state.loading and state.error == ""

    # What the browser can check: nothing sent.
    events = await run(state.grant({"email": "  ", "ends_on": "1999-01-01"}))
    assert state.email_error == "Indiquez l'adresse e-mail de la personne."
    assert state.parts_error == "Choisissez au moins une partie de votre espace."
    assert state.ends_error == "Indiquez une date à venir, ou laissez vide."
    assert focused(events) == ["carer-email"]
    assert fake_api.called("GrantCarer") == []

    # The API's refusal goes next to its field.
    fake_api.answer("GrantCarer",
                    {"grantCarer": {"__typename": "InvalidCarerGrant", "field": "email",
                                    "message": "Cette adresse e-mail n'est pas valide."}},
                    {"grantCarer": {"__typename": "Carer", "id": "7",
                                    "emailHint": "b***b@example.fr"}})
    form = {"email": "bob@", "part_DOCUMENTS": "on", "part_AGENDA": "on", "access": "read",
            "ends_on": ""}
    events = await run(state.grant(form))
    assert state.email_error == "Cette adresse e-mail n'est pas valide."
    assert state.parts_error == state.ends_error == "" and focused(events) == ["carer-email"]
    assert fake_api.calls[-1].variables == {"email": "bob@", "parts": ["DOCUMENTS", "AGENDA"],
                                            "canWrite": False, "endsAt": None}
    assert fake_api.calls[-1].token == TOKEN
    assert SPACE_HEADER not in fake_api.calls[-1].headers

    key = state.form_key
    events = await run(state.grant({**form, "email": "bob@example.fr", "access": "write"}))
    assert fake_api.calls[-2].variables["canWrite"] is True
    assert state.email_error == "" and state.form_key == key + 1  # the form comes back empty
    assert state.info == "b***b@example.fr peut maintenant vous aider, dans les limites choisies."
    assert [c.email_hint for c in state.carers] == ["b***b@example.fr"]
    assert focused(events) == ["carers-heading"] and not state.busy

    # "Retirer": a confirmation first; cancelling revokes nothing and gives focus back.
    state.ask_revoke("7")
    assert state.revoking_id == "7" and state.revoking_label == "b***b@example.fr"
    assert focused([state.revoke_dialog_changed(False)]) == ["carer-revoke-7"]
    assert state.revoking_id == "" and fake_api.called("RevokeCarer") == []
    state.ask_revoke("7")
    fake_api.answer("RevokeCarer", {"revokeCarer": {"__typename": "CarerRevoked", "id": "7"}})
    await run(state.confirm_revoke())
    assert fake_api.called("RevokeCarer")[0].variables == {"id": "7"}
    assert state.carers == [] and state.revoking_id == ""
    assert state.info == "b***b@example.fr n'a plus accès à votre espace."


async def test_a_refused_revocation_says_so(fake_api: FakeApi) -> None:
    fake_api.answer("Carers", {"carers": [ROW]})
    fake_api.answer("RevokeCarer", {"revokeCarer": {"__typename": "CarerNotFound",
                                                    "message": "Cet aidant n'existe plus."}})
    state = signed_in(CarersState())
    await run(state.load())
    state.ask_revoke("7")
    await run(state.confirm_revoke())
    assert state.action_error == "Cet aidant n'existe plus." and state.info == ""


async def test_a_part_not_given_shows_a_friendly_message(fake_api: FakeApi) -> None:
    """The API's INSUFFICIENT_SCOPE (a page of the account, or a part not given, while in
    someone's space) becomes a message, through the shared error handling."""
    error = api._from_graphql_errors([{"message": "missing scopes",
                                       "extensions": {"code": "INSUFFICIENT_SCOPE"}}])
    assert error.code == "INSUFFICIENT_SCOPE" and error.message == api.OUT_OF_SPACE_MESSAGE
    fake_api.answer("Carers", error)
    state = signed_in(CarersState())
    state.lang = "en"
    await run(state.load())
    assert state.error.startswith("This page is not part of what you were given")


async def test_the_space_switcher(fake_api: FakeApi) -> None:
    assert [(s.name, s.child) for s in space_items(SPACES["mySpaces"])] == [
        ("Alice MARTIN", False), ("Léa MARTIN", True)]
    fake_api.answer("MySpaces", SPACES)
    state = SpaceState()
    await run(state.load_spaces())  # signed out: nothing asked
    assert fake_api.calls == [] and state.spaces == []

    signed_in(state)
    await run(state.load_spaces())
    await run(state.load_spaces())  # once per session
    assert len(fake_api.called("MySpaces")) == 1 and len(state.spaces) == 2
    assert SPACE_HEADER not in fake_api.calls[-1].headers

    # Choosing alone never leaves the page; "Ouvrir" goes into Alice's space: her documents
    # (the part given), and the header from then on.
    state.choose_space(SPACE)
    assert state.space_id == "" and state.space_choice == SPACE
    assert redirects(await run(state.open_chosen())) == ["/documents"]
    assert (state.space_id, state.space_name, state.space_child) == (SPACE, "Alice MARTIN",
                                                                     False)
    assert state.space_parts == ["DOCUMENTS"]  # what the navigation links to in her space
    assert state._forwarded_headers()[SPACE_HEADER] == SPACE
    assert SPACE_HEADER not in state._forwarded_headers(own_space=True)
    # The spaces list is the account's own: read without the header, even in a space.
    assert SPACE_HEADER not in fake_api.calls[-1].headers

    # A space not (or no longer) in the list: nothing changes, the switcher shows where I am.
    state.choose_space("someone-else")
    assert await run(state.open_chosen()) == []
    assert state.space_id == state.space_choice == SPACE
    assert await run(state.switch_space(SPACE)) == []  # already there

    # The child I represent: the agenda; then back to my space.
    assert redirects(await run(state.switch_space("child-1"))) == ["/agenda"]
    assert state.space_child and state.space_parts == ["AGENDA"]
    state.choose_space("")
    assert redirects(await run(state.open_chosen())) == ["/"]
    assert state.space_id == state.space_name == state.space_choice == ""
    assert not state.space_child and state.space_parts == []
    assert SPACE_HEADER not in state._forwarded_headers()
    assert await run(state.back_to_mine()) == []


async def test_the_parts_given_follow_the_spaces_list(fake_api: FakeApi) -> None:
    """Read again (the patient may have changed what they give): the navigation follows."""
    changed = {"mySpaces": [{**SPACES["mySpaces"][0], "parts": ["DOCUMENTS", "PROFILE"]}]}
    fake_api.answer("MySpaces", SPACES, changed)
    state = signed_in(SpaceState())
    await run(state.switch_space(SPACE))
    assert state.space_parts == ["DOCUMENTS"]
    state._spaces_of = ""
    await run(state.load_spaces())
    assert state.space_parts == ["DOCUMENTS", "PROFILE"]
    await run(state.load_spaces())  # known: not read again
    assert len(fake_api.called("MySpaces")) == 2
    state.space_parts = []  # a tab in a space from before the parts were kept: read again
    fake_api.answer("MySpaces", changed)
    await run(state.load_spaces())
    assert state.space_parts == ["DOCUMENTS", "PROFILE"]
    assert len(fake_api.called("MySpaces")) == 3


def test_in_a_space_the_navigation_links_only_the_pages_of_the_parts_given() -> None:
    """Each part has its page in the patient's navigation (shown in a space when given); every
    other page (home, messages, care team...) is hidden in someone else's space."""
    from carnet_web.components import layout

    assert {item.part: item.route for item in layout.NAV_ITEMS if item.part} == \
        spaces_module.PART_ROUTES
    rendered = str(layout.navigation("/documents").render())
    assert rendered.count("space_parts") == len(spaces_module.PART_ROUTES)
    assert all(not item.part for item in layout.PROFESSIONAL_NAV_ITEMS)


async def test_every_page_call_carries_the_space_and_signing_out_leaves_it(
        fake_api: FakeApi) -> None:
    fake_api.answer("Carers", {"carers": []})
    fake_api.answer("Logout", {"logout": {"sessionsClosed": 1}})
    state = signed_in(CarersState())
    state.space_id, state.space_name = SPACE, "Alice MARTIN"
    await run(state.load())
    assert fake_api.calls[-1].headers[SPACE_HEADER] == SPACE
    await run(state.logout())  # the account's own operation: never in the space
    assert SPACE_HEADER not in fake_api.called("Logout")[0].headers
    assert state.space_id == "" and not state.signed_in
    signed_in(state)
    assert state.space_id == ""


async def test_a_professional_has_no_switcher(fake_api: FakeApi) -> None:
    state = SpaceState()
    state._sign_in(TOKEN, "dr@example.fr", "PROFESSIONAL")
    await run(state.load_spaces())
    assert fake_api.calls == [] and state.spaces == []


# --- against the real API -------------------------------------------------------------------


async def test_carers_against_the_real_api(
    monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any], gql: Any, notifier: Any
) -> None:
    """Alice grants Bob her documents (read only) from "Mes aidants"; Bob's switcher lists her
    space; in it, her documents page shows her document, her carers page is refused with the
    friendly message; Alice revokes him."""
    import httpx
    from carnet_web.state.documents import DocumentsState

    from tests.factories import PASSWORD, create_patient
    from tests.identity_helpers import sign_in
    from tests.test_records import PDF, upload

    real_execute = api.execute

    async def execute(document: Any, variables: Any = None, **kwargs: Any) -> dict[str, Any]:
        return await real_execute(document, variables, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "execute", execute)
    suffix = secrets.token_hex(4)
    alice_email, bob_email = f"alice-{suffix}@example.fr", f"bob-{suffix}@example.fr"
    await create_patient(email=alice_email)
    await create_patient(email=bob_email)
    alice_token = await sign_in(gql, notifier, alice_email, PASSWORD)
    bob_token = await sign_in(gql, notifier, bob_email, PASSWORD)

    async with httpx.AsyncClient(base_url="http://testserver",
                                 transport=in_process["http_transport"]) as http:
        uploaded = await upload(http, alice_token, PDF, title="Compte rendu d'Alice")
        assert uploaded.json()["data"]["uploadDocument"]["__typename"] == "Document"

    alice = CarersState()
    alice._sign_in(alice_token, alice_email, "PATIENT")
    await run(alice.load())
    assert alice.error == "" and alice.carers == []
    await run(alice.grant({"email": "pas-une-adresse", "part_DOCUMENTS": "on"}))
    assert alice.email_error != "" and alice.carers == []
    await run(alice.grant({"email": bob_email, "part_DOCUMENTS": "on", "access": "read",
                           "ends_on": "2099-12-31"}))
    assert alice.action_error == alice.email_error == "", (alice.action_error, alice.email_error)
    [carer] = alice.carers
    assert carer.parts == "Mes documents" and carer.access == "Lecture seule"
    assert carer.until == "Jusqu'au 31 décembre 2099" and not carer.pending

    bob = SpaceState()
    bob._sign_in(bob_token, bob_email, "PATIENT")
    await run(bob.load_spaces())
    [space] = bob.spaces
    assert space.parts == ["DOCUMENTS"] and not space.child
    assert redirects(await run(bob.switch_space(space.id))) == ["/documents"]

    documents = DocumentsState()
    documents._sign_in(bob_token, bob_email, "PATIENT")
    await run(documents.load())  # his own space: none
    assert documents.error == "" and documents.documents == []
    documents.space_id = bob.space_id
    await run(documents.load())  # Alice's space: hers
    assert documents.error == ""
    assert [d.title for d in documents.documents] == ["Compte rendu d'Alice"]

    in_space = CarersState()
    in_space._sign_in(bob_token, bob_email, "PATIENT")
    in_space.space_id = bob.space_id
    await run(in_space.load())  # Alice's carers are hers alone: refused in her space
    assert in_space.error == api.OUT_OF_SPACE_MESSAGE

    alice.ask_revoke(carer.id)
    await run(alice.confirm_revoke())
    assert alice.carers == [] and alice.action_error == ""
    bob._spaces_of = ""
    await run(bob.load_spaces())
    assert bob.spaces == []


async def test_each_given_part_opens_its_page_in_the_space(
    monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any], gql: Any, notifier: Any
) -> None:
    """Every part a carer may be given has its page, and that page's queries ask only for
    what the part gives: each loads in the space without an error."""
    from carnet_web.state.agenda import AgendaState
    from carnet_web.state.documents import DocumentsState
    from carnet_web.state.profile import ProfileState

    from tests.factories import PASSWORD, create_patient
    from tests.identity_helpers import sign_in

    real_execute = api.execute

    async def execute(document: Any, variables: Any = None, **kwargs: Any) -> dict[str, Any]:
        return await real_execute(document, variables, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "execute", execute)
    suffix = secrets.token_hex(4)
    alice_email, bob_email = f"alice-{suffix}@example.fr", f"bob-{suffix}@example.fr"
    await create_patient(email=alice_email)
    await create_patient(email=bob_email)
    alice_token = await sign_in(gql, notifier, alice_email, PASSWORD)
    bob_token = await sign_in(gql, notifier, bob_email, PASSWORD)
    alice = CarersState()
    alice._sign_in(alice_token, alice_email, "PATIENT")
    await run(alice.grant({"email": bob_email, "part_DOCUMENTS": "on", "part_PROFILE": "on",
                           "part_AGENDA": "on", "access": "read"}))
    assert alice.action_error == "" and len(alice.carers) == 1
    bob = SpaceState()
    bob._sign_in(bob_token, bob_email, "PATIENT")
    await run(bob.load_spaces())
    [space] = bob.spaces
    errors = {}
    for page_state in (DocumentsState, ProfileState, AgendaState):
        state = page_state()
        state._sign_in(bob_token, bob_email, "PATIENT")
        state.space_id = space.id
        await run(state.load())
        errors[page_state.__name__] = state.error
    assert errors == {"DocumentsState": "", "ProfileState": "", "AgendaState": ""}
