"""Access through GraphQL and HTTP: the matrix, care teams, declarations, emergency access,
the professional's `patients` and `patientRecord`, the download and `$everything` by a
professional, and that a read not allowed answers exactly like a missing object."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from backend.access.models import CareRelationship
from backend.identity import notices
from backend.identity.models import Person, Professional
from backend.records.models import Document, Visibility
from tests.access_helpers import (
    add_allergy,
    add_treatment,
    identity_of,
    make_professional,
    now,
    seed_matrix,
    store,
)
from tests.conftest import ON_SQLITE
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.querycount import count_queries

LAB, PRESCRIPTION, CONSULTATION = "11502-2", "57833-6", "11488-4"

MATRIX = """{ accessMatrix { profession specialty documentTypes sections emergency } }"""
ADD = """mutation Add($rpps: String!) { addToCareTeam(rpps: $rpps) { __typename
  ... on CareTeamMember { active origin treatingDoctor professional { id rpps } }
  ... on InvalidAccessInput { field } ... on Error { message } } }"""
REMOVE = """mutation Rm($id: ID!) { removeFromCareTeam(professionalId: $id) { __typename
  ... on CareTeamMemberRemoved { professionalId } ... on Error { message } } }"""
TEAM = """{ careTeam { active origin treatingDoctor allowedDocumentTypes allowedSections
  professional { id rpps } } accessSettings { emergencyAccessAllowed treatingDoctor { rpps } } }"""
TREATING = """mutation T($rpps: String) { setTreatingDoctor(rpps: $rpps) { __typename
  ... on AccessSettings { treatingDoctor { rpps } } ... on Error { message } } }"""
RESTRICT = """mutation R($id: ID!, $types: [DocumentType!], $sections: [ProfileSection!]) {
  restrictProfessionalAccess(professionalId: $id, documentTypes: $types, sections: $sections) {
    __typename ... on CareTeamMember { allowedDocumentTypes allowedSections }
    ... on Error { message } } }"""
EMERGENCY_SETTING = """mutation E($allowed: Boolean!) { setEmergencyAccess(allowed: $allowed) {
  emergencyAccessAllowed } }"""
DECLARE = """mutation D($p: PatientIdentityInput!) { declareCareRelationship(patient: $p) {
  __typename ... on CareRelationshipDeclared { patientId } ... on Error { message } } }"""
EMERGENCY = """mutation X($p: PatientIdentityInput!, $reason: String!) {
  emergencyAccess(patient: $p, reason: $reason) { __typename
    ... on EmergencyAccessOpened { patientId expiresAt }
    ... on InvalidAccessInput { field } ... on Error { message } } }"""
PATIENTS = """{ patients { patientId birthName firstNames birthDate ground since expiresAt } }"""
RECORD = """query Rec($id: ID!, $first: Int!, $filter: DocumentFilter) {
  patientRecord(patientId: $id) {
    patientId ground expiresAt sections documentTypes patient { birthName }
    documents(first: $first, filter: $filter) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { id title type visibility downloadUrl
        author { isPatient professional { rpps profession } } } } }
    profile { fhirPatientId allergies { substance author { isPatient } }
      treatments { medication } familyHistory { condition } advanceDirective { text } }
  }
}"""


@pytest.fixture
async def world(app, gql, notifier, clean):
    """A patient with a small record; a general practitioner, a pharmacist, an urgentist, an
    osteopath (not in the matrix) and a stranger doctor, all signed in."""
    await seed_matrix()
    rt = app.state.runtime
    patient = await create_patient(email="patient@example.fr")
    pros = {}
    for name, profession, specialty in (
            ("gp", "Médecin", "Médecine générale"), ("pharmacist", "Pharmacien", None),
            ("urgentist", "Médecin", "Médecine d'urgence"), ("osteo", "Ostéopathe", None),
            ("stranger", "Médecin", None)):
        account = await make_professional(profession, specialty, email=f"{name}@example.fr")
        rpps = (await Professional.get(id=account.professional_id)).rpps
        pros[name] = (account, await sign_in(gql, notifier, f"{name}@example.fr", PASSWORD),
                      rpps)
    token = await sign_in(gql, notifier, "patient@example.fr", PASSWORD)
    pid = patient.person_id
    docs = {"lab": await store(rt, pid, type_code=LAB, title="Bilan lipidique"),
            "prescription": await store(rt, pid, type_code=PRESCRIPTION, title="Ordonnance"),
            "hidden": await store(rt, pid, type_code=CONSULTATION, title="Psychiatrie",
                                  visibility=Visibility.HIDDEN_FROM_PROFESSIONALS)}
    await add_allergy(rt, pid)
    await add_treatment(rt, pid)
    person = await Person.get(id=pid)
    notifier.clear()
    return {"rt": rt, "patient": patient, "token": token, "pros": pros, "docs": docs,
            "public_id": str(person.public_id), "identity": await identity_of(patient)}


async def _add(gql, world, name):
    body = await gql(ADD, {"rpps": world["pros"][name][2]}, token=world["token"])
    assert body["data"]["addToCareTeam"]["__typename"] == "CareTeamMember", body
    return body["data"]["addToCareTeam"]


async def test_the_matrix_is_public_data(gql, world):
    rows = (await gql(MATRIX))["data"]["accessMatrix"]
    by_key = {(r["profession"], r["specialty"]): r for r in rows}
    pharmacist = by_key[("Pharmacien", None)]
    assert set(pharmacist["documentTypes"]) == {
        "PRESCRIPTION_HEALTH_PRODUCTS", "DISPENSING", "VACCINATION_HISTORY", "MEDICATION_REVIEW"}
    assert pharmacist["sections"] == ["ALLERGIES", "VACCINATIONS", "TREATMENTS"]
    assert by_key[("Médecin", None)]["emergency"] is False
    assert by_key[("Médecin", "Médecine d'urgence")]["emergency"] is True
    assert by_key[("Médecin", "Régulation médicale")]["emergency"] is True
    assert len(by_key[("Médecin", None)]["documentTypes"]) == 19


async def test_care_team_add_treating_doctor_restrict_and_remove(gql, world):
    token = world["token"]
    gp, _, gp_rpps = world["pros"]["gp"]
    member = await _add(gql, world, "gp")
    assert member["origin"] == "CARE_TEAM" and member["active"]
    unknown = await gql(ADD, {"rpps": "10000000000"}, token=token)
    assert unknown["data"]["addToCareTeam"]["__typename"] == "UnknownProfessional"
    bad = await gql(ADD, {"rpps": "12"}, token=token)
    assert bad["data"]["addToCareTeam"]["field"] == "rpps"
    # A pharmacist cannot be médecin traitant.
    refused = await gql(TREATING, {"rpps": world["pros"]["pharmacist"][2]}, token=token)
    assert refused["data"]["setTreatingDoctor"]["__typename"] == "NotADoctor"
    named = await gql(TREATING, {"rpps": gp_rpps}, token=token)
    assert named["data"]["setTreatingDoctor"]["treatingDoctor"]["rpps"] == gp_rpps
    restricted = await gql(RESTRICT, {"id": str(gp.professional_id), "types": ["LAB_REPORT"],
                                      "sections": ["ALLERGIES"]}, token=token)
    assert restricted["data"]["restrictProfessionalAccess"] == {
        "__typename": "CareTeamMember", "allowedDocumentTypes": ["LAB_REPORT"],
        "allowedSections": ["ALLERGIES"]}
    assert (await gql(EMERGENCY_SETTING, {"allowed": False}, token=token))["data"][
        "setEmergencyAccess"]["emergencyAccessAllowed"] is False
    team = (await gql(TEAM, token=token))["data"]
    assert [m["treatingDoctor"] for m in team["careTeam"]] == [True]
    assert team["accessSettings"] == {"emergencyAccessAllowed": False,
                                      "treatingDoctor": {"rpps": gp_rpps}}
    removed = await gql(REMOVE, {"id": str(gp.professional_id)}, token=token)
    assert removed["data"]["removeFromCareTeam"]["professionalId"] == str(gp.professional_id)
    again = await gql(REMOVE, {"id": str(gp.professional_id)}, token=token)
    assert again["data"]["removeFromCareTeam"]["__typename"] == "NotInCareTeam"
    team = (await gql(TEAM, token=token))["data"]
    assert team["careTeam"] == [] and team["accessSettings"]["treatingDoctor"] is None
    # Only patients manage a care team.
    pro_token = world["pros"]["gp"][1]
    denied = await gql(ADD, {"rpps": gp_rpps}, token=pro_token)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_declaring_needs_every_trait_and_tells_the_patient(gql, notifier, world):
    _, token, _ = world["pros"]["pharmacist"]
    wrong = {**world["identity"], "birthDate": "1901-01-01"}
    miss = await gql(DECLARE, {"p": wrong}, token=token)
    assert miss["data"]["declareCareRelationship"]["__typename"] == "PatientNotFound"
    await notices.drain()
    assert notifier.sent == []
    body = await gql(DECLARE, {"p": world["identity"]}, token=token)
    assert body["data"]["declareCareRelationship"] == {
        "__typename": "CareRelationshipDeclared", "patientId": world["public_id"]}
    await notices.drain()
    [told] = notifier.sent
    assert told.to == "patient@example.fr"
    for secret in ("Pharmacien", "Bilan", "Pénicilline", "Dupont", "DUPONT"):
        assert secret not in told.text and secret not in (told.subject or "")
    patients = (await gql(PATIENTS, token=token))["data"]["patients"]
    assert [(p["patientId"], p["ground"]) for p in patients] == [(world["public_id"],
                                                                  "DECLARED")]
    team = (await gql(TEAM, token=world["token"]))["data"]["careTeam"]
    assert [m["origin"] for m in team] == ["DECLARED"]


async def test_patient_record_reads_what_the_policy_allows(gql, world):
    await _add(gql, world, "pharmacist")
    _, token, rpps = world["pros"]["pharmacist"]
    body = await gql(RECORD, {"id": world["public_id"], "first": 10}, token=token)
    rec = body["data"]["patientRecord"]
    assert rec["ground"] == "CARE_TEAM" and rec["patient"]["birthName"] == "DUPONT"
    assert [e["node"]["type"] for e in rec["documents"]["edges"]] == [
        "PRESCRIPTION_HEALTH_PRODUCTS"]
    assert rec["documents"]["totalCount"] == 1
    assert [a["substance"] for a in rec["profile"]["allergies"]] == ["Pénicilline"]
    assert [t["medication"] for t in rec["profile"]["treatments"]] == ["Metformine"]
    assert rec["profile"]["familyHistory"] == [] and rec["profile"]["advanceDirective"] is None
    assert rec["profile"]["fhirPatientId"] == world["public_id"]
    # The same filters as the patient's documents.
    gp, gp_token, _ = world["pros"]["gp"]
    await _add(gql, world, "gp")
    mine = await store(world["rt"], world["patient"].person_id, type_code=LAB, author=gp)
    by_type = await gql(RECORD, {"id": world["public_id"], "first": 10,
                                 "filter": {"types": ["LAB_REPORT"]}}, token=gp_token)
    ids = {e["node"]["id"] for e in by_type["data"]["patientRecord"]["documents"]["edges"]}
    assert ids == {str(world["docs"]["lab"].id), str(mine.id)}
    by_me = await gql(RECORD, {"id": world["public_id"], "first": 10,
                               "filter": {"authoredByMe": True}}, token=gp_token)
    assert [e["node"]["id"] for e in by_me["data"]["patientRecord"]["documents"]["edges"]] == [
        str(mine.id)]
    not_me = await gql(RECORD, {"id": world["public_id"], "first": 10,
                                "filter": {"authoredByMe": False}}, token=gp_token)
    assert str(mine.id) not in {
        e["node"]["id"] for e in not_me["data"]["patientRecord"]["documents"]["edges"]}
    # Hidden from professionals: not even the GP, who is not (yet) médecin traitant.
    titles = {e["node"]["title"] for e in not_me["data"]["patientRecord"]["documents"]["edges"]}
    assert "Psychiatrie" not in titles


async def test_not_allowed_answers_exactly_like_missing_on_graphql(gql, world):
    await _add(gql, world, "osteo")  # in the care team, but the matrix excludes osteopaths
    person = await Person.get(id=world["patient"].person_id)
    missing_answer = None
    for name in ("stranger", "osteo", "urgentist"):
        _, token, _ = world["pros"][name]
        answers = []
        for patient_id in (world["public_id"], str(uuid.uuid4()), "not-a-uuid",
                           str(person.id)):
            body = await gql(RECORD, {"id": patient_id, "first": 5}, token=token)
            answers.append(body)
        missing_answer = missing_answer or answers[1]
        assert all(a == missing_answer for a in answers), answers
        assert missing_answer == {"data": {"patientRecord": None}}
        assert (await gql(PATIENTS, token=token))["data"]["patients"] == []


async def test_blocked_professional_reads_nothing(gql, world):
    gp, token, _ = world["pros"]["gp"]
    await _add(gql, world, "gp")
    assert (await gql(RECORD, {"id": world["public_id"], "first": 5}, token=token))["data"][
        "patientRecord"] is not None
    block = await gql("""mutation B($id: ID!) { blockProfessional(professionalId: $id) {
        __typename } }""", {"id": str(gp.professional_id)}, token=world["token"])
    assert block["data"]["blockProfessional"]["__typename"] == "BlockChanged"
    assert await gql(RECORD, {"id": world["public_id"], "first": 5}, token=token) == {
        "data": {"patientRecord": None}}
    assert (await gql(PATIENTS, token=token))["data"]["patients"] == []


async def test_emergency_access_through_graphql(gql, notifier, world):
    _, token, _ = world["pros"]["urgentist"]
    empty = await gql(EMERGENCY, {"p": world["identity"], "reason": " "}, token=token)
    assert empty["data"]["emergencyAccess"]["field"] == "reason"
    _, gp_token, _ = world["pros"]["gp"]
    not_flagged = await gql(EMERGENCY, {"p": world["identity"], "reason": "Malaise"},
                            token=gp_token)
    assert not_flagged["data"]["emergencyAccess"]["__typename"] == "EmergencyAccessNotAllowed"
    opened = await gql(EMERGENCY, {"p": world["identity"], "reason": "Coma"}, token=token)
    assert opened["data"]["emergencyAccess"]["patientId"] == world["public_id"]
    await notices.drain()
    [told] = notifier.sent
    assert "urgence" in told.text and "Coma" not in told.text
    rec = (await gql(RECORD, {"id": world["public_id"], "first": 5}, token=token))["data"][
        "patientRecord"]
    assert rec["ground"] == "EMERGENCY" and rec["documents"]["totalCount"] == 2
    assert [p["ground"] for p in (await gql(PATIENTS, token=token))["data"]["patients"]] == [
        "EMERGENCY"]
    await gql(EMERGENCY_SETTING, {"allowed": False}, token=world["token"])
    assert (await gql(RECORD, {"id": world["public_id"], "first": 5}, token=token))["data"][
        "patientRecord"] is None
    refused = await gql(EMERGENCY, {"p": world["identity"], "reason": "Coma"}, token=token)
    assert refused["data"]["emergencyAccess"]["__typename"] == "EmergencyAccessRefused"


async def _download(client, doc_id, token):
    response = await client.get(f"/documents/{doc_id}/content",
                                headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.content, {
        k: v for k, v in response.headers.items() if k not in ("date", "x-request-id")}


async def test_download_by_a_professional_through_the_policy(client, gql, world):
    _, token, _ = world["pros"]["pharmacist"]
    prescription, lab = world["docs"]["prescription"], world["docs"]["lab"]
    before = await _download(client, prescription.id, token)
    missing = await _download(client, uuid.uuid4(), token)
    assert before == missing and before[0] == 404
    assert await _download(client, "not-a-uuid", token) == missing
    await _add(gql, world, "pharmacist")
    status, content, headers = await _download(client, prescription.id, token)
    assert status == 200 and content.startswith(b"%PDF")
    assert headers["content-disposition"].startswith("attachment")
    # Outside the matrix (a lab report for a pharmacist): exactly like missing.
    assert await _download(client, lab.id, token) == missing
    # A professional's read is not the patient's: the document stays "new" for them.
    assert (await Document.get(id=prescription.id)).seen_by_patient_at is None
    # And the patient's own download still marks it seen.
    assert (await _download(client, prescription.id, world["token"]))[0] == 200
    assert (await Document.get(id=prescription.id)).seen_by_patient_at is not None


async def test_everything_bundle_for_a_professional(client, gql, world):
    _, token, _ = world["pros"]["pharmacist"]
    url = f"/fhir/r4/Patient/{world['public_id']}/$everything"
    headers = {"Authorization": f"Bearer {token}"}
    refused = await client.get(url, headers=headers)
    missing = await client.get(f"/fhir/r4/Patient/{uuid.uuid4()}/$everything", headers=headers)
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json()
    await _add(gql, world, "pharmacist")
    bundle = (await client.get(url, headers=headers)).json()
    kinds = sorted({e["resource"]["resourceType"] for e in bundle["entry"]})
    assert kinds == ["AllergyIntolerance", "DocumentReference", "MedicationStatement",
                     "Patient"]
    [doc] = [e["resource"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "DocumentReference"]
    assert doc["id"] == str(world["docs"]["prescription"].id)


async def test_relationship_expires_without_access(gql, world):
    await _add(gql, world, "gp")
    _, token, _ = world["pros"]["gp"]
    expiry = world["rt"].settings.care_relationship_expiry_days
    await CareRelationship.all().update(last_access_at=now() - timedelta(days=expiry + 1))
    assert (await gql(RECORD, {"id": world["public_id"], "first": 5}, token=token))["data"][
        "patientRecord"] is None
    team = (await gql(TEAM, token=world["token"]))["data"]["careTeam"]
    assert [m["active"] for m in team] == [False]
    # A read a day after the last access refreshes it (and only then writes).
    await CareRelationship.all().update(last_access_at=now() - timedelta(days=2))
    assert (await gql(RECORD, {"id": world["public_id"], "first": 5}, token=token))["data"][
        "patientRecord"] is not None
    row = await CareRelationship.get()
    assert row.last_access_at > now() - timedelta(minutes=5)


async def test_professional_record_screen_runs_a_constant_number_of_queries(gql, world):
    rt = world["rt"]
    gp, token, _ = world["pros"]["gp"]
    await _add(gql, world, "gp")
    authors = [gp] + [await make_professional("Médecin", "Cardiologie") for _ in range(3)]
    for i in range(40):
        await store(rt, world["patient"].person_id, type_code=LAB, author=authors[i % 4])
    await store(rt, world["patient"].person_id, type_code=LAB)
    counts, logged = [], []
    for size in (3, 40):
        with count_queries() as counter:
            body = await gql(RECORD, {"id": world["public_id"], "first": size}, token=token)
        assert len(body["data"]["patientRecord"]["documents"]["edges"]) == size, body
        counts.append(counter.count)
        logged.append([q for q in counter.statements
                       if "INSERT INTO access_log_entry" in q.replace('"', "")])
    assert counts[0] == counts[1], counts
    # Person by public id + the policy (professional, block, matrix, relationship, settings)
    # + patient + documents page (rows, count, authors and data key in one) + the 4 profile
    # sections (one UNION ALL) + their data key (10), + ONE statement writing the access log
    # (1 listing + one entry per document + 4 sections), whatever the number of entries; on
    # SQLite the Python writer reads the chain's head and writes it apart (two more).
    assert counts[0] == (13 if ON_SQLITE else 11), counts
    assert [len(statements) for statements in logged] == [1, 1]
