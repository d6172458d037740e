"""Carers (issue 15 part 8, backend/access/carers.py): an adult grants another account read, or
read and write, per part, with an end date; the carer acts in the patient's space with the
Carnet-Space header; everything else is refused; revocation and the end date take effect at
the next request; every carer read is in the patient's access log (ground PROXY)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.access.models import CarerGrant
from backend.identity.models import Person
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.test_records import PDF, upload

GRANT = """mutation G($e: String!, $p: [CarerPart!]!, $w: Boolean!, $end: DateTime) {
  grantCarer(email: $e, parts: $p, canWrite: $w, endsAt: $end) { __typename
    ... on Carer { id emailHint parts canWrite linked }
    ... on InvalidCarerGrant { field message } } }"""
REVOKE = """mutation R($id: ID!) { revokeCarer(id: $id) { __typename } }"""
SPACES = """query { mySpaces { spaceId firstNames birthName parts canWrite } }"""
DOCUMENTS = """query { documents(first: 10) { totalCount edges { node { title } } } }"""
ADD_WEIGHT = """mutation { addMeasurement(input: {kind: WEIGHT, value: 64.5,
  measuredAt: "2026-11-20T08:00:00Z"}) { __typename } }"""
WEIGHTS = """query { measurements(kind: WEIGHT) { points { value } } }"""
LOG = """query { accessLog(first: 50) { edges { node { kind ground reader { accountId } } } } }"""


class Space:
    """A GraphQL client for a carer acting in one space."""

    def __init__(self, client, token: str, space: str) -> None:
        self.client, self.token, self.space = client, token, space

    async def __call__(self, query: str, variables: dict | None = None) -> dict:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token}", "Carnet-Space": self.space})
        assert response.status_code in (200, 400), response.text
        return response.json()


@pytest.fixture
async def family(client, clean, gql, notifier):
    alice = await create_patient(email="alice@example.fr")
    bob = await create_patient(email="bob@example.fr")
    alice_token = await sign_in(gql, notifier, "alice@example.fr", PASSWORD)
    bob_token = await sign_in(gql, notifier, "bob@example.fr", PASSWORD)
    person = await Person.get(id=alice.person_id)
    await upload(client, alice_token, PDF, title="Compte rendu")
    return {"alice": alice, "bob": bob, "alice_token": alice_token, "bob_token": bob_token,
            "space": Space(client, bob_token, str(person.public_id)), "person": person}


async def _grant(gql, family, parts, *, write=False, end=None, email="bob@example.fr"):
    body = await gql(GRANT, {"e": email, "p": parts, "w": write, "end": end},
                     token=family["alice_token"])
    return body["data"]["grantCarer"]


def refused(body: dict) -> list[str]:
    assert body.get("data") is None, body
    assert body["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE", body
    return body["errors"][0]["extensions"]["missingScopes"]


async def test_a_carer_reads_the_parts_given_and_nothing_else(gql, family):
    carer = await _grant(gql, family, ["DOCUMENTS", "PROFILE"])
    assert carer["__typename"] == "Carer" and carer["linked"] is True
    assert carer["emailHint"] == "b***b@example.fr"
    spaces = (await gql(SPACES, token=family["bob_token"]))["data"]["mySpaces"]
    assert spaces == [{"spaceId": str(family["person"].public_id), "firstNames": "Jean",
                       "birthName": "DUPONT", "parts": ["DOCUMENTS", "PROFILE"],
                       "canWrite": False}]
    space = family["space"]
    documents = (await space(DOCUMENTS))["data"]["documents"]
    assert documents["totalCount"] == 1
    assert documents["edges"][0]["node"]["title"] == "Compte rendu"
    assert "errors" not in await space(WEIGHTS)
    # Not given: the agenda; read only: no writes; never: the account's own operations.
    assert refused(await space("query { appointments(first: 1) { edges { cursor } } }")) == [
        "agenda:read"]
    assert refused(await space(ADD_WEIGHT)) == ["profile.measurements:write"]
    assert refused(await space("query { me { __typename } }")) == []
    assert refused(await space('mutation { grantCarer(email: "x@example.fr", parts: [PROFILE])'
                               " { __typename } }")) == []
    # Without the header, Bob is himself: his own (empty) documents.
    own = (await gql(DOCUMENTS, token=family["bob_token"]))["data"]["documents"]
    assert own["totalCount"] == 0


async def test_every_carer_read_is_in_the_patients_access_log(gql, family):
    await _grant(gql, family, ["DOCUMENTS", "PROFILE", "AGENDA"])
    space = family["space"]
    await space(DOCUMENTS)
    await space(WEIGHTS)
    agenda = await space("query { appointments(first: 1) { edges { cursor } } }")
    assert "errors" not in agenda, agenda
    entries = [e["node"] for e in
               (await gql(LOG, token=family["alice_token"]))["data"]["accessLog"]["edges"]]
    assert {e["ground"] for e in entries} == {"PROXY"}
    assert {e["reader"]["accountId"] for e in entries} == {str(family["bob"].id)}
    assert {"DOCUMENT_LIST", "DOCUMENT", "PROFILE", "AGENDA"} <= {e["kind"] for e in entries}


async def test_read_and_write_lets_the_carer_add_a_measurement(gql, family):
    await _grant(gql, family, ["PROFILE"], write=True)
    added = await family["space"](ADD_WEIGHT)
    assert added["data"]["addMeasurement"]["__typename"] == "Measurement", added
    mine = (await gql(WEIGHTS, token=family["alice_token"]))["data"]["measurements"]
    assert [p["value"] for p in mine["points"]] == [64.5]
    # Bob's own profile is untouched.
    bob = (await gql(WEIGHTS, token=family["bob_token"]))["data"]["measurements"]
    assert bob["points"] == []


async def test_revocation_and_the_end_date_take_effect_at_the_next_request(gql, family):
    carer = await _grant(gql, family, ["DOCUMENTS"])
    space = family["space"]
    assert "errors" not in await space(DOCUMENTS)
    assert (await gql(REVOKE, {"id": carer["id"]}, token=family["alice_token"])
            )["data"]["revokeCarer"]["__typename"] == "CarerRevoked"
    revoked = await space(DOCUMENTS)
    # An unknown space answers exactly like a revoked one.
    unknown = await Space(space.client, space.token, "00000000-0000-4000-8000-000000000000")(
        DOCUMENTS)
    assert revoked == unknown and refused(revoked) == ["documents:read"]
    assert (await gql(SPACES, token=family["bob_token"]))["data"]["mySpaces"] == []
    # An end date: valid until it passes.
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    await _grant(gql, family, ["DOCUMENTS"], end=ends)
    assert "errors" not in await space(DOCUMENTS)
    await CarerGrant.filter(revoked_at__isnull=True).update(
        ends_at=datetime.now(UTC) - timedelta(seconds=1))
    assert refused(await space(DOCUMENTS)) == ["documents:read"]


async def test_a_grant_to_an_address_without_account_waits_for_it(gql, notifier, family):
    carer = await _grant(gql, family, ["PROFILE"], email="claire@example.fr")
    assert carer["__typename"] == "Carer" and carer["linked"] is False
    await create_patient(email="claire@example.fr")
    claire = await sign_in(gql, notifier, "claire@example.fr", PASSWORD)
    spaces = (await gql(SPACES, token=claire))["data"]["mySpaces"]
    assert [s["spaceId"] for s in spaces] == [str(family["person"].public_id)]
    assert (await CarerGrant.get(id=int(carer["id"]))).carer_account_id is not None


@pytest.mark.parametrize(("email", "parts", "end", "field"), [
    ("not an address", ["PROFILE"], None, "email"),
    ("alice@example.fr", ["PROFILE"], None, "email"),  # oneself
    ("bob@example.fr", [], None, "parts"),
    ("bob@example.fr", ["PROFILE"], "2020-01-01T00:00:00Z", "endsAt"),
])
async def test_invalid_grants_are_typed_errors(gql, family, email, parts, end, field):
    answer = await _grant(gql, family, parts, email=email, end=end)
    assert answer["__typename"] == "InvalidCarerGrant" and answer["field"] == field
    assert await CarerGrant.all().count() == 0


async def test_documents_the_patient_hid_from_professionals_are_hidden_from_carers(
        client, gql, family):
    listed = (await gql(DOCUMENTS.replace("title", "id title"), token=family["alice_token"])
              )["data"]["documents"]["edges"]
    hide = """mutation H($id: ID!) { setDocumentHidden(id: $id, hidden: true) { __typename } }"""
    await gql(hide, {"id": listed[0]["node"]["id"]}, token=family["alice_token"])
    await _grant(gql, family, ["DOCUMENTS"])
    assert (await family["space"](DOCUMENTS))["data"]["documents"]["totalCount"] == 0


# --- minors and their legal representatives (part 7) -----------------------------------------


async def _minor(family, birth_date=None):
    from datetime import date

    child = family["person"]  # Alice's space plays the child's, born in 2015
    child.birth_date = birth_date or date(2015, 6, 1)
    await child.save(update_fields=["birth_date"])
    return child


async def test_a_legal_representative_manages_the_space_without_the_hidden_documents(
        client, gql, family):
    from backend.access import carers
    from backend.records.models import Document

    child = await _minor(family)
    row = await carers.add_representative(child=child, email="bob@example.fr",
                                          now=datetime.now(UTC))
    assert row.ends_at == datetime(2033, 5, 31, 22, tzinfo=UTC)  # 18th birthday, Paris time
    await upload(client, family["alice_token"], PDF + b"2", title="Consultation confidentielle")
    newest = await Document.filter(person_id=child.id).order_by("-created_at").first()
    await Document.filter(id=newest.id).update(hidden_from_representatives=True)
    spaces = (await gql(SPACES.replace("canWrite", "canWrite legalRepresentative"),
                        token=family["bob_token"]))["data"]["mySpaces"]
    assert spaces[0]["legalRepresentative"] is True
    assert spaces[0]["parts"] == ["DOCUMENTS", "PROFILE", "AGENDA"] and spaces[0]["canWrite"]
    seen = (await family["space"](DOCUMENTS))["data"]["documents"]
    assert [e["node"]["title"] for e in seen["edges"]] == ["Compte rendu"]
    # The young person sees both; the representative cannot download the hidden one either.
    mine = (await gql(DOCUMENTS, token=family["alice_token"]))["data"]["documents"]
    assert mine["totalCount"] == 2
    hidden = await client.get(f"/documents/{newest.id}/content",
                              headers={"Authorization": f"Bearer {family['bob_token']}",
                                       "Carnet-Space": str(child.public_id)})
    assert hidden.status_code == 404
    # Representatives are not the child's carers to list or revoke.
    assert (await gql("query { carers { id } }", token=family["alice_token"])
            )["data"]["carers"] == []


async def test_at_most_two_representatives(gql, notifier, family):
    from backend.access import carers
    from backend.access.errors import InvalidCarerGrant

    child = await _minor(family)
    now = datetime.now(UTC)
    await carers.add_representative(child=child, email="bob@example.fr", now=now)
    await carers.add_representative(child=child, email="other@example.fr", now=now)
    with pytest.raises(InvalidCarerGrant):
        await carers.add_representative(child=child, email="third@example.fr", now=now)


async def test_at_18_the_representatives_access_ends_and_the_hand_over_runs_once(
        app, gql, family):
    from datetime import date

    from backend.access import carers
    from backend.onboarding import majority

    child = await _minor(family, birth_date=date(2009, 1, 10))
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    row = await carers.add_representative(child=child, email="bob@example.fr", now=now)
    assert "errors" not in await family["space"](DOCUMENTS)
    await CarerGrant.filter(id=row.id).update(ends_at=datetime.now(UTC) - timedelta(seconds=1))
    assert refused(await family["space"](DOCUMENTS)) == ["documents:read"]
    settings = app.state.runtime.settings
    assert (await majority.hand_over(settings, datetime.now(UTC))).handed_over == 1
    assert await carers.adults_due(datetime.now(UTC)) == []
    assert (await majority.hand_over(settings, datetime.now(UTC))).handed_over == 0
    with pytest.raises(Exception):  # noqa: B017, PT011 - already an adult
        await carers.add_representative(child=await _minor(family, date(2000, 1, 1)),
                                        email="bob@example.fr", now=now)


def test_the_fhir_security_label_marks_a_document_hidden_from_representatives():
    from fhir.resources.documentreference import DocumentReference

    from backend.records.fhir import _hidden_from_representatives

    def resource(labels):
        return DocumentReference.model_validate({
            "resourceType": "DocumentReference", "status": "current",
            "content": [{"attachment": {"contentType": "application/pdf"}}],
            "securityLabel": labels})

    flagged = [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.13",
                            "code": "INVISIBLE_REPRESENTANTS_LEGAUX"}]}]
    assert _hidden_from_representatives(resource(flagged))
    assert not _hidden_from_representatives(resource([{"coding": [{"code": "N"}]}]))


async def test_another_patients_carer_cannot_be_revoked(gql, family):
    carer = await _grant(gql, family, ["DOCUMENTS"])
    for token, grant_id in ((family["bob_token"], carer["id"]),
                            (family["alice_token"], "999999"),
                            (family["alice_token"], "not-an-id")):
        answer = (await gql(REVOKE, {"id": grant_id}, token=token))["data"]["revokeCarer"]
        assert answer["__typename"] == "CarerNotFound"
    assert "errors" not in await family["space"](DOCUMENTS)  # still granted
