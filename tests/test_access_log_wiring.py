"""Every read of a patient's record by someone else appears in the patient's `accessLog`: the
professional's `patientRecord` (documents list, one document, each profile section read,
measurement series), the content download, FHIR `$everything` and the emergency opening, with
who read, their profession, the kind of data, the document or section and the ground. A read
not allowed (it answers like missing) and the patient's own reads log nothing; `patients` lists
identities only and logs nothing; the chain verifies after a mixed run.

Each test would fail if its path's `log_read`/`record` call were removed."""

from __future__ import annotations

import uuid

import pytest

from backend.audit.models import AccessLogEntry
from backend.audit.verify import verify_all
from backend.identity.models import Person, Professional
from backend.records.models import Visibility
from tests.access_helpers import (
    add_allergy,
    add_treatment,
    identity_of,
    make_professional,
    seed_matrix,
    store,
)
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.querycount import count_queries

LAB, PRESCRIPTION, CONSULTATION = "11502-2", "57833-6", "11488-4"

ADD = """mutation Add($rpps: String!) { addToCareTeam(rpps: $rpps) { __typename } }"""
TREATING = """mutation T($rpps: String) { setTreatingDoctor(rpps: $rpps) { __typename } }"""
DECLARE = """mutation D($p: PatientIdentityInput!) { declareCareRelationship(patient: $p) {
  __typename } }"""
EMERGENCY = """mutation X($p: PatientIdentityInput!, $reason: String!) {
  emergencyAccess(patient: $p, reason: $reason) { __typename } }"""
EMERGENCY_SETTING = """mutation E($allowed: Boolean!) { setEmergencyAccess(allowed: $allowed) {
  emergencyAccessAllowed } }"""
BLOCK = """mutation B($id: ID!) { blockProfessional(professionalId: $id) { __typename } }"""
PATIENTS = """{ patients { patientId ground } }"""
SUMMARY = """query S($id: ID!) { patientRecord(patientId: $id) {
  patientId ground expiresAt sections documentTypes patient { birthName } } }"""
DOCUMENTS = """query L($id: ID!, $first: Int!) { patientRecord(patientId: $id) {
  documents(first: $first) { totalCount edges { node { id title } } } } }"""
DOCUMENT = """query One($id: ID!, $doc: ID!) { patientRecord(patientId: $id) {
  document(id: $doc) { id title } } }"""
PROFILE = """query P($id: ID!) { patientRecord(patientId: $id) { profile {
  allergies { substance } treatments { medication } familyHistory { condition }
  advanceDirective { text } } } }"""
FULL_PROFILE = """query F($id: ID!) { patientRecord(patientId: $id) { profile {
  allergies { id } vaccinations { id } medicalHistory { id } familyHistory { id }
  treatments { id } measurements { id } emergencyContacts { id } advanceDirective { id }
  organDonation { id } } } }"""
SERIES = """query M($id: ID!) { patientRecord(patientId: $id) {
  measurements(kind: WEIGHT) { points { value } } } }"""
LATEST = """query T($id: ID!) { patientRecord(patientId: $id) {
  latestMeasurements(points: 3) { kind points { value } } } }"""
RECORD = """query R($id: ID!) { patientRecord(patientId: $id) { ground
  documents(first: 10) { edges { node { id } } } profile { allergies { substance } } } }"""
OWN = """query Own($doc: ID!) { documents(first: 10) { newCount edges { node { id } } }
  latestMeasurements { kind }
  document(id: $doc) { id }
  profile { allergies { substance } treatments { medication } advanceDirective { text } }
  measurements(kind: WEIGHT) { points { value } } fhirEverything }"""
LOG = """query Log($first: Int!) { accessLog(first: $first) { totalCount edges { node {
  seq kind section documentId ground
  reader { accountId profession professional { id rpps } } } } } }"""


@pytest.fixture
async def world(app, gql, notifier, clean):
    """A patient with a lab report, a prescription, a document hidden from professionals, an
    allergy and a treatment; a GP, a pharmacist, an urgentist, an osteopath (outside the
    matrix) and a doctor with no relationship, all signed in."""
    await seed_matrix()
    rt = app.state.runtime
    patient = await create_patient(email="patient@example.fr")
    pros = {}
    for name, profession, specialty in (
            ("gp", "Médecin", "Médecine générale"), ("pharmacist", "Pharmacien", None),
            ("urgentist", "Médecin", "Médecine d'urgence"), ("osteo", "Ostéopathe", None),
            ("stranger", "Médecin", None)):
        account = await make_professional(profession, specialty, email=f"{name}@example.fr")
        pro = await Professional.get(id=account.professional_id)
        pros[name] = {"account": account, "rpps": pro.rpps, "profession": profession,
                      "token": await sign_in(gql, notifier, f"{name}@example.fr", PASSWORD)}
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


async def _team(gql, world, name):
    body = await gql(ADD, {"rpps": world["pros"][name]["rpps"]}, token=world["token"])
    assert body["data"]["addToCareTeam"]["__typename"] == "CareTeamMember", body


async def _log(gql, world) -> list[dict]:
    """The patient's access log, oldest first, as the patient reads it."""
    body = await gql(LOG, {"first": 100}, token=world["token"])
    nodes = [e["node"] for e in body["data"]["accessLog"]["edges"]]
    assert body["data"]["accessLog"]["totalCount"] == len(nodes)
    return sorted(nodes, key=lambda n: n["seq"])


def _entry(world, name, kind, ground, *, document=None, section=None) -> tuple:
    pro = world["pros"][name]
    return (pro["account"].id, pro["profession"], pro["account"].professional_id, kind,
            section, str(document.id) if document is not None else None, ground)


def _shape(nodes: list[dict]) -> list[tuple]:
    return [(int(n["reader"]["accountId"]), n["reader"]["profession"],
             int(n["reader"]["professional"]["id"]), n["kind"], n["section"], n["documentId"],
             n["ground"]) for n in nodes]


class _Log:
    """Entries appended since the last call."""

    def __init__(self, gql, world) -> None:
        self.gql, self.world, self.seen = gql, world, 0

    async def new(self) -> list[tuple]:
        nodes = await _log(self.gql, self.world)
        fresh, self.seen = nodes[self.seen:], len(nodes)
        return _shape(fresh)


async def test_documents_list_logs_the_listing_and_each_document_returned(gql, world):
    await _team(gql, world, "pharmacist")
    log = _Log(gql, world)
    token = world["pros"]["pharmacist"]["token"]
    body = await gql(DOCUMENTS, {"id": world["public_id"], "first": 10}, token=token)
    assert [e["node"]["title"] for e in body["data"]["patientRecord"]["documents"]["edges"]] == [
        "Ordonnance"]
    assert await log.new() == [
        _entry(world, "pharmacist", "DOCUMENT_LIST", "CARE_TEAM"),
        _entry(world, "pharmacist", "DOCUMENT", "CARE_TEAM",
               document=world["docs"]["prescription"]),
    ]
    # The record's summary (whose record, ground, what it includes) reads no record data.
    summary = await gql(SUMMARY, {"id": world["public_id"]}, token=token)
    assert summary["data"]["patientRecord"]["ground"] == "CARE_TEAM"
    assert await log.new() == []


async def test_one_document_is_logged_and_one_not_allowed_is_not(gql, world):
    await _team(gql, world, "pharmacist")
    log = _Log(gql, world)
    token = world["pros"]["pharmacist"]["token"]
    prescription, lab = world["docs"]["prescription"], world["docs"]["lab"]
    one = await gql(DOCUMENT, {"id": world["public_id"], "doc": str(prescription.id)},
                    token=token)
    assert one["data"]["patientRecord"]["document"]["id"] == str(prescription.id)
    assert await log.new() == [_entry(world, "pharmacist", "DOCUMENT", "CARE_TEAM",
                                      document=prescription)]
    # Outside the matrix, hidden, missing: null alike, and nothing logged.
    answers = [await gql(DOCUMENT, {"id": world["public_id"], "doc": doc}, token=token)
               for doc in (str(lab.id), str(world["docs"]["hidden"].id), str(uuid.uuid4()))]
    assert all(a == {"data": {"patientRecord": {"document": None}}} for a in answers), answers
    assert await log.new() == []


async def test_each_profile_section_read_is_logged_not_the_excluded_ones(gql, world):
    await _team(gql, world, "pharmacist")
    await _team(gql, world, "gp")
    log = _Log(gql, world)
    body = await gql(PROFILE, {"id": world["public_id"]},
                     token=world["pros"]["pharmacist"]["token"])
    profile = body["data"]["patientRecord"]["profile"]
    assert profile["familyHistory"] == [] and profile["advanceDirective"] is None
    # A pharmacist reads allergies and treatments; family history and the advance directive
    # are outside their matrix: answered empty, not read, not logged.
    # (Sorted: the section fields resolve concurrently.)
    assert sorted(await log.new()) == [
        _entry(world, "pharmacist", "PROFILE", "CARE_TEAM", section="allergies"),
        _entry(world, "pharmacist", "PROFILE", "CARE_TEAM", section="treatments"),
    ]
    # A doctor reads every section; an empty one is still a read ("no directive" is data).
    full = await gql(FULL_PROFILE, {"id": world["public_id"]},
                     token=world["pros"]["gp"]["token"])
    assert "errors" not in full and len(full["data"]["patientRecord"]["profile"]["allergies"]) == 1
    sections = ["allergies", "vaccinations", "medical_history", "family_history", "treatments",
                "measurements", "emergency_contacts", "advance_directive", "organ_donation"]
    assert sorted(await log.new()) == sorted(
        _entry(world, "gp", "PROFILE", "CARE_TEAM", section=s) for s in sections)


async def test_measurement_series_is_logged_when_readable(gql, world):
    await _team(gql, world, "pharmacist")
    await _team(gql, world, "gp")
    log = _Log(gql, world)
    # Pharmacists may not read measurements: an empty series, nothing logged.
    body = await gql(SERIES, {"id": world["public_id"]},
                     token=world["pros"]["pharmacist"]["token"])
    assert body["data"]["patientRecord"]["measurements"]["points"] == []
    assert await log.new() == []
    series = await gql(SERIES, {"id": world["public_id"]}, token=world["pros"]["gp"]["token"])
    assert "errors" not in series, series
    assert await log.new() == [_entry(world, "gp", "PROFILE", "CARE_TEAM",
                                      section="measurements")]


async def test_latest_measurements_are_logged_when_readable(gql, world):
    await _team(gql, world, "pharmacist")
    await _team(gql, world, "gp")
    log = _Log(gql, world)
    body = await gql(LATEST, {"id": world["public_id"]},
                     token=world["pros"]["pharmacist"]["token"])
    assert body["data"]["patientRecord"]["latestMeasurements"] == []
    assert await log.new() == []
    latest = await gql(LATEST, {"id": world["public_id"]}, token=world["pros"]["gp"]["token"])
    assert "errors" not in latest, latest
    assert await log.new() == [_entry(world, "gp", "PROFILE", "CARE_TEAM",
                                      section="measurements")]


async def _download(client, doc_id, token):
    response = await client.get(f"/documents/{doc_id}/content",
                                headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_download_is_logged_in_one_statement(client, gql, world):
    await _team(gql, world, "pharmacist")
    log = _Log(gql, world)
    token = world["pros"]["pharmacist"]["token"]
    prescription = world["docs"]["prescription"]
    with count_queries() as counter:
        assert await _download(client, prescription.id, token) == 200
    writes = [q for q in counter.statements if "access_log_entry" in q]
    assert len(writes) == 1, counter.statements
    assert await log.new() == [_entry(world, "pharmacist", "DOCUMENT_CONTENT", "CARE_TEAM",
                                      document=prescription)]
    # Not allowed (outside the matrix), missing: 404 alike, nothing logged, no log statement.
    with count_queries() as counter:
        assert await _download(client, world["docs"]["lab"].id, token) == 404
        assert await _download(client, uuid.uuid4(), token) == 404
    assert not [q for q in counter.statements if "access_log_entry" in q]
    assert await log.new() == []


async def test_everything_logs_the_export_and_each_document_in_it(client, gql, world):
    await _team(gql, world, "pharmacist")
    log = _Log(gql, world)
    headers = {"Authorization": f"Bearer {world['pros']['pharmacist']['token']}"}
    with count_queries() as counter:
        response = await client.get(f"/fhir/r4/Patient/{world['public_id']}/$everything",
                                    headers=headers)
    assert response.status_code == 200
    assert len([q for q in counter.statements if "access_log_entry" in q]) == 1
    assert await log.new() == [
        _entry(world, "pharmacist", "EXPORT", "CARE_TEAM"),
        _entry(world, "pharmacist", "DOCUMENT", "CARE_TEAM",
               document=world["docs"]["prescription"]),
    ]
    stranger = {"Authorization": f"Bearer {world['pros']['stranger']['token']}"}
    refused = await client.get(f"/fhir/r4/Patient/{world['public_id']}/$everything",
                               headers=stranger)
    assert refused.status_code == 404
    assert await log.new() == []


async def test_emergency_opening_and_the_reads_after_it_are_logged(gql, world):
    log = _Log(gql, world)
    token = world["pros"]["urgentist"]["token"]
    opened = await gql(EMERGENCY, {"p": world["identity"], "reason": "Coma"}, token=token)
    assert opened["data"]["emergencyAccess"]["__typename"] == "EmergencyAccessOpened"
    assert await log.new() == [_entry(world, "urgentist", "EMERGENCY_ACCESS", "EMERGENCY")]
    await gql(DOCUMENTS, {"id": world["public_id"], "first": 10}, token=token)
    new = await log.new()
    assert {e[3] for e in new} == {"DOCUMENT_LIST", "DOCUMENT"} and len(new) == 3
    assert {e[6] for e in new} == {"EMERGENCY"}
    # Refused by the patient: no opening, no entry.
    await gql(EMERGENCY_SETTING, {"allowed": False}, token=world["token"])
    refused = await gql(EMERGENCY, {"p": world["identity"], "reason": "Coma"}, token=token)
    assert refused["data"]["emergencyAccess"]["__typename"] == "EmergencyAccessRefused"
    assert await log.new() == []


async def test_grounds_declared_and_treating_doctor(gql, world):
    log = _Log(gql, world)
    pharmacist = world["pros"]["pharmacist"]
    declared = await gql(DECLARE, {"p": world["identity"]}, token=pharmacist["token"])
    assert declared["data"]["declareCareRelationship"]["__typename"] == \
        "CareRelationshipDeclared"
    await gql(PROFILE, {"id": world["public_id"]}, token=pharmacist["token"])
    assert {e[6] for e in await log.new()} == {"DECLARED"}
    named = await gql(TREATING, {"rpps": world["pros"]["gp"]["rpps"]}, token=world["token"])
    assert named["data"]["setTreatingDoctor"]["__typename"] == "AccessSettings"
    await gql(DOCUMENTS, {"id": world["public_id"], "first": 10},
              token=world["pros"]["gp"]["token"])
    new = await log.new()
    # The médecin traitant also reads the document hidden from professionals: logged too.
    assert str(world["docs"]["hidden"].id) in {e[5] for e in new}
    assert {e[6] for e in new} == {"TREATING_DOCTOR"} and len(new) == 4


async def test_reads_not_allowed_log_nothing(client, gql, world):
    await _team(gql, world, "osteo")  # in the care team, but outside the matrix
    await _team(gql, world, "gp")
    gp = world["pros"]["gp"]
    blocked = await gql(BLOCK, {"id": str(gp["account"].professional_id)}, token=world["token"])
    assert blocked["data"]["blockProfessional"]["__typename"] == "BlockChanged"
    for name in ("stranger", "osteo", "gp", "urgentist"):
        token = world["pros"][name]["token"]
        for query in (RECORD, FULL_PROFILE, SERIES, LATEST):
            body = await gql(query, {"id": world["public_id"]}, token=token)
            assert body == {"data": {"patientRecord": None}}, (name, body)
        assert await _download(client, world["docs"]["prescription"].id, token) == 404
        response = await client.get(f"/fhir/r4/Patient/{world['public_id']}/$everything",
                                    headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 404
        assert (await gql(PATIENTS, token=token))["data"]["patients"] == []
    assert await _log(gql, world) == []
    assert await AccessLogEntry.all().count() == 0


async def test_the_patients_own_reads_and_patients_list_log_nothing(client, gql, world):
    prescription = world["docs"]["prescription"]
    body = await gql(OWN, {"doc": str(prescription.id)}, token=world["token"])
    assert "errors" not in body, body
    assert await _download(client, prescription.id, world["token"]) == 200
    response = await client.get(f"/fhir/r4/Patient/{world['public_id']}/$everything",
                                headers={"Authorization": f"Bearer {world['token']}"})
    assert response.status_code == 200
    # `patients` lists the professional's patients (identity and ground): no record data.
    await _team(gql, world, "gp")
    listed = await gql(PATIENTS, token=world["pros"]["gp"]["token"])
    assert [p["ground"] for p in listed["data"]["patients"]] == ["CARE_TEAM"]
    assert await AccessLogEntry.all().count() == 0


async def test_the_chain_verifies_after_a_mixed_run(client, gql, world):
    await _team(gql, world, "pharmacist")
    await _team(gql, world, "gp")
    pid = world["public_id"]
    for name in ("pharmacist", "gp"):
        token = world["pros"][name]["token"]
        for query in (RECORD, FULL_PROFILE):
            assert "errors" not in await gql(query, {"id": pid}, token=token)
        await _download(client, world["docs"]["prescription"].id, token)
        await client.get(f"/fhir/r4/Patient/{pid}/$everything",
                         headers={"Authorization": f"Bearer {token}"})
    await gql(EMERGENCY, {"p": world["identity"], "reason": "Malaise"},
              token=world["pros"]["urgentist"]["token"])
    await gql(RECORD, {"id": pid}, token=world["pros"]["urgentist"]["token"])
    await gql(OWN, {"doc": str(world["docs"]["lab"].id)}, token=world["token"])
    nodes = await _log(gql, world)
    assert [n["seq"] for n in nodes] == list(range(1, len(nodes) + 1))
    assert len(nodes) > 20
    assert {n["reader"]["profession"] for n in nodes} == {"Pharmacien", "Médecin"}
    report = await verify_all()
    assert report.ok, report.broken
    assert (report.chains, report.entries) == (1, len(nodes))
