"""FHIR R4 Appointment intake from professional software: POST (INS-identified patient, RPPS
practitioner, idempotent by identifier), PUT to move or cancel (only the professional it is
with), OperationOutcome on every refusal, and the appointment in the patient's agenda."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from backend.agenda.models import (
    Appointment,
    AppointmentNotice,
    AppointmentSource,
    AppointmentStatus,
    NoticeKind,
    PlaceKind,
)
from backend.identity.models import Professional
from tests.access_helpers import identity_of, make_professional
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in

LIST = """{ appointments(first: 10) { edges { node { id reason notes place placeKind status
  source professional { rpps } } } } }"""


def resource(identity: dict, rpps: str, start: datetime, *, identifier: str | None = "RDV-1",
             status: str = "booked", virtual: bool = False) -> dict:
    location = {"resourceType": "Location", "id": "loc",
                "address": {"line": ["4 rue des Lilas"], "postalCode": "69003",
                            "city": "Lyon"}}
    if virtual:
        location = {"resourceType": "Location", "id": "loc", "physicalType": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
            "code": "vi"}]}}
    body = {
        "resourceType": "Appointment", "status": status,
        "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat(),
        "description": "Échographie", "comment": "Venir à jeun",
        "contained": [
            {"resourceType": "Patient", "id": "pat",
             "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8",
                             "value": identity["insMatricule"]}],
             "name": [{"use": "official", "family": identity["birthName"]}],
             "birthDate": identity["birthDate"]},
            location,
        ],
        "participant": [
            {"actor": {"reference": "#pat"}, "status": "accepted"},
            {"actor": {"type": "Practitioner", "identifier": {
                "system": "urn:oid:1.2.250.1.71.4.2.1", "value": "8" + rpps}},
             "status": "accepted"},
            {"actor": {"reference": "#loc"}, "status": "accepted"},
        ],
    }
    if identifier:
        body["identifier"] = [{"system": "urn:oid:1.2.3.4.5", "value": identifier}]
    return body


@pytest.fixture
async def world(app, client, gql, notifier, clean):
    patient = await create_patient(email="fhir-agenda-patient@example.fr")
    doctor = await make_professional(email="fhir-agenda-doctor@example.fr")
    other = await make_professional(email="fhir-agenda-other@example.fr")
    return {
        "patient": patient, "identity": await identity_of(patient),
        "rpps": (await Professional.get(id=doctor.professional_id)).rpps,
        "other_rpps": (await Professional.get(id=other.professional_id)).rpps,
        "doctor": doctor,
        "tokens": {name: await sign_in(gql, notifier, f"fhir-agenda-{name}@example.fr",
                                       PASSWORD) for name in ("patient", "doctor", "other")},
    }


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


def start_in(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


async def test_post_creates_then_the_same_identifier_updates(client, gql, world):
    start = start_in(4)
    body = resource(world["identity"], world["rpps"], start)
    created = await client.post("/fhir/r4/Appointment", json=body,
                                headers=auth(world["tokens"]["doctor"]))
    assert created.status_code == 201, created.text
    appointment_id = created.json()["id"]
    assert created.headers["Location"] == f"/fhir/r4/Appointment/{appointment_id}"
    assert created.json()["status"] == "booked"
    row = await Appointment.get(id=appointment_id)
    assert row.source is AppointmentSource.PROFESSIONAL_SOFTWARE
    assert row.professional_id == world["doctor"].professional_id
    assert row.person_id == world["patient"].person_id and row.source_key
    listed = (await gql(LIST, token=world["tokens"]["patient"]))["data"]["appointments"]["edges"]
    node = listed[0]["node"]
    assert node["reason"] == "Échographie" and node["notes"] == "Venir à jeun"
    assert node["place"] == "4 rue des Lilas, 69003 Lyon"
    assert node["professional"]["rpps"] == world["rpps"]
    # The same identifier again, one hour later: the same appointment, moved.
    again = resource(world["identity"], world["rpps"], start + timedelta(hours=1))
    repeated = await client.post("/fhir/r4/Appointment", json=again,
                                 headers=auth(world["tokens"]["doctor"]))
    assert repeated.status_code == 200, repeated.text
    assert repeated.json()["id"] == appointment_id
    assert await Appointment.all().count() == 1
    row = await Appointment.get(id=appointment_id)
    assert row.start_at == start + timedelta(hours=1) and row.sequence == 1
    notices = await AppointmentNotice.filter(appointment_id=appointment_id)
    assert [(n.kind, n.appointment_sequence) for n in notices] == [(NoticeKind.MOVED, 1)]
    # Without an identifier, every POST is a new appointment.
    plain = resource(world["identity"], world["rpps"], start, identifier=None, virtual=True)
    third = await client.post("/fhir/r4/Appointment", json=plain,
                              headers=auth(world["tokens"]["doctor"]))
    assert third.status_code == 201
    assert (await Appointment.get(id=third.json()["id"])).place_kind is PlaceKind.TELECONSULTATION


async def test_put_moves_and_cancels_only_for_the_professional_it_is_with(client, world):
    start = start_in(5)
    created = await client.post("/fhir/r4/Appointment",
                                json=resource(world["identity"], world["rpps"], start),
                                headers=auth(world["tokens"]["doctor"]))
    appointment_id = created.json()["id"]
    url = f"/fhir/r4/Appointment/{appointment_id}"
    moved = resource(world["identity"], world["rpps"], start + timedelta(days=1))
    moved["id"] = appointment_id
    # Another professional (their own RPPS in the body, or none): 404, as for a missing id.
    foreign = resource(world["identity"], world["other_rpps"], start + timedelta(days=1))
    refused = await client.put(url, json=foreign, headers=auth(world["tokens"]["other"]))
    missing = await client.put("/fhir/r4/Appointment/00000000-0000-4000-8000-000000000000",
                               json=foreign, headers=auth(world["tokens"]["other"]))
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert refused.json() == missing.json()
    # The right professional moves it...
    ok = await client.put(url, json=moved, headers=auth(world["tokens"]["doctor"]))
    assert ok.status_code == 200, ok.text
    assert ok.json()["start"] == (start + timedelta(days=1)).isoformat()
    # ... and cancels it.
    cancelled = copy.deepcopy(moved)
    cancelled["status"] = "cancelled"
    done = await client.put(url, json=cancelled, headers=auth(world["tokens"]["doctor"]))
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    row = await Appointment.get(id=appointment_id)
    assert row.status is AppointmentStatus.CANCELLED and row.sequence == 2
    kinds = [(n.kind, n.appointment_sequence)
             for n in await AppointmentNotice.filter(appointment_id=appointment_id).order_by("id")]
    assert kinds == [(NoticeKind.MOVED, 1), (NoticeKind.CANCELLED, 2)]
    # Cancelling again changes nothing (no second notice).
    await client.put(url, json=cancelled, headers=auth(world["tokens"]["doctor"]))
    assert await AppointmentNotice.filter(appointment_id=appointment_id).count() == 2
    # The id in the body must be the URL's.
    wrong = {**moved, "id": "00000000-0000-4000-8000-000000000000"}
    assert (await client.put(url, json=wrong, headers=auth(world["tokens"]["doctor"]))
            ).status_code == 400


async def test_refusals_are_operation_outcomes(client, world):
    start = start_in(3)
    good = resource(world["identity"], world["rpps"], start)
    token = world["tokens"]["doctor"]
    assert (await client.post("/fhir/r4/Appointment", json=good)).status_code == 401
    patient = await client.post("/fhir/r4/Appointment", json=good,
                                headers=auth(world["tokens"]["patient"]))
    assert patient.status_code == 403
    # Someone else's RPPS as practitioner.
    foreign = resource(world["identity"], world["other_rpps"], start)
    assert (await client.post("/fhir/r4/Appointment", json=foreign, headers=auth(token))
            ).status_code == 403
    # Wrong identity: 422, the same whatever trait differs.
    wrong = resource({**world["identity"], "birthName": "Autre"}, world["rpps"], start)
    answer = await client.post("/fhir/r4/Appointment", json=wrong, headers=auth(token))
    assert answer.status_code == 422
    assert answer.json()["issue"][0]["code"] == "not-found"
    # Structure, end before start, unknown status, a new cancelled appointment.
    broken = {**good, "start": "tomorrow"}
    assert (await client.post("/fhir/r4/Appointment", json=broken, headers=auth(token))
            ).status_code == 400
    backwards = {**good, "end": (start - timedelta(hours=1)).isoformat()}
    reply = await client.post("/fhir/r4/Appointment", json=backwards, headers=auth(token))
    assert reply.status_code == 422 and reply.json()["issue"][0]["expression"] == [
        "Appointment.endAt"]
    new_cancelled = resource(world["identity"], world["rpps"], start, identifier=None,
                             status="cancelled")
    assert (await client.post("/fhir/r4/Appointment", json=new_cancelled, headers=auth(token))
            ).status_code == 400
    no_patient = {**good, "participant": good["participant"][1:]}
    assert (await client.post("/fhir/r4/Appointment", json=no_patient, headers=auth(token))
            ).status_code == 400
    not_json = await client.post("/fhir/r4/Appointment", content=b"{", headers=auth(token))
    assert not_json.status_code == 400
    assert not_json.json()["resourceType"] == "OperationOutcome"
    assert await Appointment.all().count() == 0
