"""The whole-record FHIR export gains the agenda's `Appointment` resources
(backend/agenda/fhir_export.py, wired into backend/profile/fhir_export.py by backend/schema.py):
valid FHIR (fhir.resources), statuses mapped, instants in UTC, the patient and the
professional (RPPS) as participants; a professional reads only their own appointments with
the patient, with the reason and without the notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from backend.access import services as access
from backend.access.policy import PatientViewer
from backend.agenda.models import AppointmentStatus, PlaceKind
from backend.identity.models import Person, Professional
from tests.access_helpers import seed_matrix
from tests.agenda_factories import create_appointment
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in

START = datetime(2026, 7, 15, 8, 30, tzinfo=UTC)  # 10:30 in Paris
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
EVERYTHING = "query { fhirEverything }"


@pytest.fixture
async def record(app, clean, gql, notifier):
    await seed_matrix()
    settings = app.state.runtime.settings
    patient = await create_patient(email="alice@example.fr")
    doctor = await create_professional(email="doc@example.fr")
    other = await create_professional(email="other@example.fr")
    rpps = (await Professional.get(id=doctor.professional_id)).rpps
    await access.add_to_care_team(PatientViewer(patient.id, patient.person_id), rpps)
    with_doctor = await create_appointment(
        settings, patient, start=START, professional=doctor,
        details={"reason": "Renouvellement", "notes": "note perso"})
    with_other = await create_appointment(
        settings, patient, start=START + timedelta(days=1), professional=other,
        status=AppointmentStatus.CANCELLED, details={"reason": "Psychiatrie"})
    own = await create_appointment(
        settings, patient, start=START + timedelta(days=2), status=AppointmentStatus.DONE,
        place_kind=PlaceKind.TELECONSULTATION,
        details={"reason": "Kiné", "practitioner": "M. Durand, kinésithérapeute"})
    noshow = await create_appointment(settings, patient, start=START + timedelta(days=3),
                                      status=AppointmentStatus.NO_SHOW)
    proposed = await create_appointment(settings, patient, start=START + timedelta(days=4),
                                        professional=doctor, status=AppointmentStatus.PROPOSED)
    public_id = (await Person.get(id=patient.person_id)).public_id
    return SimpleNamespace(
        patient_token=await sign_in(gql, notifier, "alice@example.fr", PASSWORD),
        doctor_token=await sign_in(gql, notifier, "doc@example.fr", PASSWORD),
        rpps=rpps, public_id=public_id, with_doctor=with_doctor, with_other=with_other,
        own=own, noshow=noshow, proposed=proposed)


async def everything(client, token: str, public_id) -> dict:
    response = await client.get(f"/fhir/r4/Patient/{public_id}/$everything",
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def validated(bundle: dict) -> dict[str, dict]:
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def appointments(resources: dict[str, dict]) -> dict[str, dict]:
    return {r["id"]: r for r in resources.values() if r["resourceType"] == "Appointment"}


async def test_patient_export_has_every_appointment_as_valid_fhir(client, gql, record):
    bundle = await everything(client, record.patient_token, record.public_id)
    resources = validated(bundle)
    found = appointments(resources)
    assert set(found) == {str(a.id) for a in (record.with_doctor, record.with_other,
                                              record.own, record.noshow, record.proposed)}
    assert {found[str(a.id)]["status"] for a in (record.with_doctor, record.with_other,
                                                 record.own, record.noshow, record.proposed)} \
        == {"booked", "cancelled", "fulfilled", "noshow", "proposed"}
    mine = found[str(record.with_doctor.id)]
    assert mine["start"] == "2026-07-15T08:30:00Z" and mine["end"] == "2026-07-15T09:00:00Z"
    assert mine["minutesDuration"] == 30
    assert mine["description"] == "Renouvellement" and mine["comment"] == "note perso"
    patient_ref, pro_participant = (p["actor"] for p in mine["participant"][:2])
    assert resources[patient_ref["reference"]]["resourceType"] == "Patient"
    assert pro_participant["identifier"] == {"system": RPPS_SYSTEM, "value": "8" + record.rpps}
    practitioner = resources[pro_participant["reference"]]
    assert practitioner["resourceType"] == "Practitioner"
    assert {"system": RPPS_SYSTEM, "value": "8" + record.rpps} in practitioner["identifier"]
    assert all(p["status"] == "accepted" for p in mine["participant"])
    own = found[str(record.own.id)]
    assert [p["actor"].get("display") for p in own["participant"][1:]] == [
        "M. Durand, kinésithérapeute", "Téléconsultation"]
    assert found[str(record.with_other.id)]["participant"][0]["status"] == "declined"
    assert found[str(record.proposed.id)]["participant"][0]["status"] == "needs-action"
    # The GraphQL export is the same Bundle (but for its id and timestamps).
    graphql = (await gql(EVERYTHING, token=record.patient_token))["data"]["fhirEverything"]
    assert appointments(validated(graphql)) == found


async def test_a_professional_reads_only_their_own_appointments_without_notes(client, record):
    bundle = await everything(client, record.doctor_token, record.public_id)
    found = appointments(validated(bundle))
    assert set(found) == {str(record.with_doctor.id), str(record.proposed.id)}
    mine = found[str(record.with_doctor.id)]
    assert mine["description"] == "Renouvellement"
    assert "comment" not in mine
    text = str(bundle)
    for secret in ("Psychiatrie", "Kiné", "Durand", "note perso"):
        assert secret not in text
