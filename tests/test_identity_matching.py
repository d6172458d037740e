"""Issue 9, item 9: no INS-trait oracle for professionals.

A professional who knows a NIR and a birth name must not learn the birth date by trying: on
each of the three paths (deposits over GraphQL and FHIR, startConversation, add...ForPatient)
a request that is invalid gets the same bytes whether the birth date is right or wrong; a
mismatch answers one way whatever trait differs; failed matches are limited per professional
(atomically, even under concurrent tries) and written to the audit trail without identity data.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import timedelta

import pytest

from backend.audit.models import AuditEvent, AuditKind
from backend.identity.models import Account, Person
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in
from tests.messaging_helpers import START
from tests.test_profile_helpers import for_patient_mutation
from tests.test_records import FHIR_DOC, PDF, _deposit, _deposit_input

ZIP = b"PK\x03\x04" + b"\x00" * 64  # not an accepted format
LIMIT_SETTING = "identity_match_failures_per_professional_per_hour"


@pytest.fixture
async def people(gql, notifier, clean):
    patient = await create_patient(email="patient@example.fr")
    other = await create_patient(email="other@example.fr")
    doctor = await create_professional(email="doctor@example.fr")
    nurse = await create_professional(email="nurse@example.fr")
    return {
        "patient": (patient, await Person.get(id=patient.person_id)),
        "other": (other, await Person.get(id=other.person_id)),
        "doctor": (doctor, await sign_in(gql, notifier, "doctor@example.fr", PASSWORD)),
        "nurse": (nurse, await sign_in(gql, notifier, "nurse@example.fr", PASSWORD)),
    }


def wrong_date(person: Person) -> str:
    return (person.birth_date + timedelta(days=1)).isoformat()


async def rpps_of(account: Account) -> str:
    return (await Account.get(id=account.id).prefetch_related("professional")).professional.rpps


def fhir_doc(person: Person, rpps: str, *, birth_date: str | None = None,
             content: bytes = PDF, **changes) -> dict:
    doc = json.loads(json.dumps(FHIR_DOC).replace("MATRICULE", person.matricule)
                     .replace("8RPPS", "8" + rpps))
    doc["contained"][0]["birthDate"] = birth_date or person.birth_date.isoformat()
    doc["content"][0]["attachment"]["data"] = base64.b64encode(content).decode()
    doc.update(changes)
    return doc


async def post_fhir(client, token: str, doc: dict):
    return await client.post("/fhir/r4/DocumentReference", json=doc,
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/fhir+json"})


async def failed_match_rows() -> list[AuditEvent]:
    return await AuditEvent.filter(kind=AuditKind.IDENTITY_MATCH_FAILED).order_by("id")


# --- the oracle is gone ---------------------------------------------------------------------


async def test_graphql_deposit_answers_an_invalid_body_alike_whatever_the_birth_date(
        client, people):
    _, person = people["patient"]
    _, token = people["doctor"]
    right = await _deposit(client, token, ZIP, _deposit_input(person))
    wrong = await _deposit(client, token, ZIP, _deposit_input(person,
                                                              birthDate=wrong_date(person)))
    assert right.json()["data"]["depositDocument"]["__typename"] == "UnsupportedContent"
    assert (wrong.status_code, wrong.content) == (right.status_code, right.content)
    # a bad title, too: the fields are checked before the identity
    bad = {"title": "\u202e\x00 "}
    right = await _deposit(client, token, PDF, _deposit_input(person, **bad))
    wrong = await _deposit(client, token, PDF, _deposit_input(
        person, birthDate=wrong_date(person), **bad))
    assert right.json()["data"]["depositDocument"]["__typename"] == "InvalidDocumentInput"
    assert wrong.content == right.content
    # invalid requests never reach the identity match (nothing to audit, nothing counted)
    assert await failed_match_rows() == []


async def test_fhir_deposit_answers_an_invalid_body_alike_whatever_the_birth_date(
        client, people):
    _, person = people["patient"]
    doctor, token = people["doctor"]
    rpps = await rpps_of(doctor)
    right = await post_fhir(client, token, fhir_doc(person, rpps, content=ZIP))
    wrong = await post_fhir(client, token, fhir_doc(person, rpps, content=ZIP,
                                                    birth_date=wrong_date(person)))
    assert right.status_code == 415, right.text
    assert (wrong.status_code, wrong.content) == (right.status_code, right.content)


async def test_a_mismatch_answers_alike_whatever_trait_differs(client, people):
    _, person = people["patient"]
    doctor, token = people["doctor"]
    rpps = await rpps_of(doctor)
    answers = set()
    for doc in (fhir_doc(person, rpps, birth_date=wrong_date(person)),
                json.loads(json.dumps(fhir_doc(person, rpps)).replace('"DUPONT"', '"AUTRE"')),
                json.loads(json.dumps(fhir_doc(person, rpps)).replace(
                    person.matricule, "255081416802538")),
                json.loads(json.dumps(fhir_doc(person, rpps)).replace(person.matricule,
                                                                      "garbage")),):
        response = await post_fhir(client, token, doc)
        answers.add((response.status_code, response.content))
    assert len(answers) == 1 and next(iter(answers))[0] == 422


async def test_start_conversation_answers_an_invalid_body_alike_whatever_the_birth_date(
        client, gql, people):
    patient, person = people["patient"]
    _, other_person = people["other"]
    _, token = people["doctor"]

    def request(who: Person, birth_date: str, attachments: list[str]) -> dict:
        return {"input": {
            "subject": "Résultats", "body": "Bonjour", "includePatient": True,
            "professionalRpps": [], "attachmentIds": attachments,
            "patient": {"insMatricule": who.matricule, "birthName": who.birth_name,
                        "birthDate": birth_date}}}

    async def raw(variables: dict) -> bytes:
        response = await client.post("/graphql", json={"query": START, "variables": variables},
                                     headers={"Authorization": f"Bearer {token}"})
        return response.content

    unknown = [str(uuid.uuid4())]
    right = await raw(request(person, person.birth_date.isoformat(), unknown))
    wrong = await raw(request(person, wrong_date(person), unknown))
    assert json.loads(right)["data"]["startConversation"]["__typename"] == "AttachmentNotFound"
    assert wrong == right

    # a document of ANOTHER patient: refused exactly like a mismatch, right date or not
    deposited = await _deposit(client, token, PDF, _deposit_input(other_person))
    other_doc = [deposited.json()["data"]["depositDocument"]["id"]]
    right = await raw(request(person, person.birth_date.isoformat(), other_doc))
    wrong = await raw(request(person, wrong_date(person), other_doc))
    assert json.loads(right)["data"]["startConversation"]["__typename"] == "PatientNotFound"
    assert wrong == right
    # ... and the document of the right patient works
    ok = await raw(request(other_person, other_person.birth_date.isoformat(), other_doc))
    assert json.loads(ok)["data"]["startConversation"]["__typename"] == "ConversationStarted"
    # a too long subject is checked before the identity too
    long_subject = request(person, person.birth_date.isoformat(), [])
    long_subject["input"]["subject"] = "x" * 201
    right = await raw(long_subject)
    long_subject["input"]["patient"]["birthDate"] = wrong_date(person)
    assert await raw(long_subject) == right
    assert json.loads(right)["data"]["startConversation"]["__typename"] == "InvalidMessage"


async def test_profile_additions_answer_an_invalid_body_alike_whatever_the_birth_date(
        client, people):
    _, person = people["patient"]
    _, token = people["doctor"]

    async def raw(kind: str, values: dict, birth_date: str) -> bytes:
        variables = {"patient": {"insMatricule": person.matricule,
                                 "birthName": person.birth_name, "birthDate": birth_date},
                     "input": values}
        response = await client.post(
            "/graphql", json={"query": for_patient_mutation(kind), "variables": variables},
            headers={"Authorization": f"Bearer {token}"})
        return response.content

    for kind, values in (
        ("measurement", {"kind": "WEIGHT", "value": 900, "measuredAt": "2026-01-01T00:00:00Z"}),
        ("allergy", {"substance": "  "}),
        ("vaccination", {"vaccine": "Grippe", "date": "2999-01-01"}),
    ):
        right = await raw(kind, values, person.birth_date.isoformat())
        wrong = await raw(kind, values, wrong_date(person))
        assert json.loads(right)["data"], right
        assert wrong == right
        assert json.loads(right)["data"][f"add{kind[0].upper()}{kind[1:]}ForPatient"][
            "__typename"] in ("MeasurementOutOfRange", "InvalidProfileInput")


# --- failed matches: limited and audited ------------------------------------------------------


async def test_failed_matches_are_limited_per_professional_and_audited(
        app, client, gql, people, monkeypatch):
    monkeypatch.setattr(app.state.runtime.settings, LIMIT_SETTING, 3)
    patient, person = people["patient"]
    doctor, token = people["doctor"]
    nurse, nurse_token = people["nurse"]
    wrong = _deposit_input(person, birthDate=wrong_date(person))
    # successes do not count: three deposits that match
    for n in range(3):
        ok = await _deposit(client, token, PDF + bytes([n]), _deposit_input(person))
        assert ok.json()["data"]["depositDocument"]["__typename"] == "DocumentDeposited"
    for _ in range(3):
        refused = await _deposit(client, token, PDF, wrong)
        assert refused.json()["data"]["depositDocument"]["__typename"] == "PatientNotFound"
    # the limit now refuses even the right traits, on every path, before any lookup
    limited = (await _deposit(client, token, PDF + b"x", _deposit_input(person))).json()
    answer = limited["data"]["depositDocument"]
    assert answer["__typename"] == "TooManyFailedIdentityMatches", answer
    conversation = await gql(START.replace("... on Error { message }",
                                           "... on TooManyFailedIdentityMatches "
                                           "{ retryAfterSeconds message }"), {"input": {
        "subject": "Résultats", "body": "Bonjour", "includePatient": True,
        "professionalRpps": [], "patient": {"insMatricule": person.matricule,
                                            "birthName": person.birth_name,
                                            "birthDate": person.birth_date.isoformat()}}},
        token=token)
    started = conversation["data"]["startConversation"]
    assert started["__typename"] == "TooManyFailedIdentityMatches"
    assert 0 < started["retryAfterSeconds"] <= 3601
    fhir = await post_fhir(client, token, fhir_doc(person, await rpps_of(doctor),
                                                   content=PDF + b"y"))
    assert fhir.status_code == 429 and 0 < int(fhir.headers["retry-after"]) <= 3601
    assert fhir.json()["issue"][0]["code"] == "throttled"
    # another professional is not affected
    other = await _deposit(client, nurse_token, PDF + b"z", _deposit_input(person))
    assert other.json()["data"]["depositDocument"]["__typename"] == "DocumentDeposited"

    failed = await failed_match_rows()
    assert [(row.account_id, row.outcome, row.detail) for row in failed] == [
        (doctor.id, "failure", {"reason": "deposit"})] * 3
    limited_rows = await AuditEvent.filter(kind=AuditKind.IDENTITY_MATCH_RATE_LIMITED)
    assert [(row.account_id, row.outcome) for row in limited_rows] == [(doctor.id, "denied")]
    # no identity data in the audit trail
    trail = json.dumps([row.detail for row in await AuditEvent.all()])
    for secret in (person.matricule, person.birth_name, person.birth_date.isoformat(),
                   wrong_date(person)):
        assert secret not in trail
    assert patient.id not in {row.account_id for row in failed}


async def test_concurrent_failed_matches_cannot_pass_the_limit(app, client, people,
                                                               monkeypatch):
    monkeypatch.setattr(app.state.runtime.settings, LIMIT_SETTING, 3)
    _, person = people["patient"]
    _, token = people["doctor"]
    wrong = _deposit_input(person, birthDate=wrong_date(person))
    answers = await asyncio.gather(*(_deposit(client, token, PDF, wrong) for _ in range(12)))
    kinds = sorted(a.json()["data"]["depositDocument"]["__typename"] for a in answers)
    assert kinds == ["PatientNotFound"] * 3 + ["TooManyFailedIdentityMatches"] * 9
    assert len(await failed_match_rows()) == 3


async def test_refusals_after_a_match_count_as_failed_matches(app, client, gql, people,
                                                              monkeypatch):
    """A refusal answered like a mismatch must count like one, or the counter would tell."""
    monkeypatch.setattr(app.state.runtime.settings, LIMIT_SETTING, 2)
    _, person = people["patient"]
    _, other_person = people["other"]
    _, token = people["doctor"]
    deposited = await _deposit(client, token, PDF, _deposit_input(other_person))
    other_doc = deposited.json()["data"]["depositDocument"]["id"]
    variables = {"input": {
        "subject": "Résultats", "body": "Bonjour", "includePatient": True,
        "professionalRpps": [], "attachmentIds": [other_doc],
        "patient": {"insMatricule": person.matricule, "birthName": person.birth_name,
                    "birthDate": person.birth_date.isoformat()}}}
    for expected in ("PatientNotFound", "PatientNotFound", "TooManyFailedIdentityMatches"):
        answer = (await gql(START, variables, token=token))["data"]["startConversation"]
        assert answer["__typename"] == expected
    assert [row.detail for row in await failed_match_rows()] == [
        {"reason": "conversation"}] * 2
