"""The agenda screens run a constant number of SQL statements whatever the page size: the
page joins each appointment's professional (and, for a professional, its patient) and the
page's data keys are read in one statement (backend/agenda/loaders.py). Counted for the
patient's `appointments`, a professional's `professionalAppointments` (50 patients, so 50
data keys) and `patientRecord.appointments`. The response cache is off (GraphQL's own cost)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.access import policy
from backend.access import services as access
from backend.agenda import services
from backend.agenda.models import AppointmentStatus
from backend.audit.models import AccessKind, AccessLogEntry
from backend.identity.models import Person, Professional
from tests.access_helpers import make_professional, seed_matrix
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.querycount import count_queries

AGENDA = """query Agenda($first: Int!, $after: String) {
  appointments(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id start end timeZone placeKind place reason notes practitioner
      status source canCancel cancelDeadline icsUrl
      professional { id rpps profession specialty practiceName } } } } }"""
PRO = """query Pro($first: Int!) { professionalAppointments(first: $first) {
  edges { node { id start reason patient { patientId birthName firstNames }
    professional { id rpps } } } } }"""
RECORD = """query Rec($p: ID!, $first: Int!) { patientRecord(patientId: $p) {
  appointments(first: $first) { edges { node { id start reason professional { rpps } } } } } }"""
START = datetime(2031, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_response_cache(app):
    cache = app.state.response_cache
    budget, cache.budget = cache.budget, 0
    yield
    cache.budget = budget


def _software(start: datetime, n: int) -> services.SoftwareAppointment:
    return services.SoftwareAppointment(
        data=services.AppointmentInput(start_at=start, end_at=start + timedelta(minutes=30),
                                       reason=f"Motif {n}", place=f"{n} rue Test"),
        status=AppointmentStatus.BOOKED)


@pytest.fixture
async def agenda(app, gql, notifier, clean):
    await seed_matrix()
    rt = app.state.runtime
    patient = await create_patient(email="statements-patient@example.fr")
    doctors = [await make_professional(email=f"statements-doctor{i}@example.fr")
               for i in range(3)]
    for n in range(60):
        start = START + timedelta(days=n)
        if n % 4 == 0:
            await services.add_own(rt, policy.PatientViewer(patient.id, patient.person_id),
                                   services.AppointmentInput(
                                       start_at=start, end_at=start + timedelta(hours=1),
                                       reason="Perso", practitioner="Dr Libre"))
        else:
            doctor = doctors[n % 3]
            await services.upsert_from_software(
                rt, professional_account_id=doctor.id, professional_id=doctor.professional_id,
                person_id=patient.person_id, incoming=_software(start, n))
    # The first doctor also has 55 other patients (each with their own data key).
    first = doctors[0]
    for n in range(55):
        other = await create_patient(email=f"statements-other{n}@example.fr")
        await services.upsert_from_software(
            rt, professional_account_id=first.id, professional_id=first.professional_id,
            person_id=other.person_id, incoming=_software(START + timedelta(hours=n), n))
    rpps = (await Professional.get(id=first.professional_id)).rpps
    await access.add_to_care_team(policy.PatientViewer(patient.id, patient.person_id), rpps)
    return {
        "patient": await sign_in(gql, notifier, "statements-patient@example.fr", PASSWORD),
        "doctor": await sign_in(gql, notifier, "statements-doctor0@example.fr", PASSWORD),
        "public_id": str((await Person.get(id=patient.person_id)).public_id),
    }


async def _count(gql, query: str, variables: dict, token: str) -> tuple[int, dict]:
    with count_queries() as counter:
        body = await gql(query, variables, token=token)
    assert not body.get("errors"), body
    return counter.count, body["data"]


async def test_patient_agenda_constant_for_page_sizes_1_and_50(gql, agenda):
    small, one = await _count(gql, AGENDA, {"first": 1}, agenda["patient"])
    large, fifty = await _count(gql, AGENDA, {"first": 50}, agenda["patient"])
    assert len(one["appointments"]["edges"]) == 1 and len(fifty["appointments"]["edges"]) == 50
    nodes = [e["node"] for e in fifty["appointments"]["edges"]]
    assert {n["professional"]["rpps"] for n in nodes if n["professional"]} and any(
        n["professional"] is None for n in nodes)
    assert small == large <= 2, (small, large)
    # The next page too.
    after = fifty["appointments"]["pageInfo"]["endCursor"]
    more, _ = await _count(gql, AGENDA, {"first": 50, "after": after}, agenda["patient"])
    assert more == large


async def test_professional_bookings_constant_for_1_and_50_patients(gql, agenda):
    small, one = await _count(gql, PRO, {"first": 1}, agenda["doctor"])
    large, fifty = await _count(gql, PRO, {"first": 50}, agenda["doctor"])
    patients = {e["node"]["patient"]["patientId"]
                for e in fifty["professionalAppointments"]["edges"]}
    assert len(patients) >= 40  # many patients, many data keys: still one read of keys
    assert small == large <= 2, (small, large)


async def test_record_agenda_constant_and_logged_once_per_read(gql, agenda):
    variables = {"p": agenda["public_id"]}
    # (The first 4 hold one of this doctor's own, whose texts need a data key.)
    small, _ = await _count(gql, RECORD, {**variables, "first": 4}, agenda["doctor"])
    large, data = await _count(gql, RECORD, {**variables, "first": 50}, agenda["doctor"])
    assert len(data["patientRecord"]["appointments"]["edges"]) == 50
    assert small == large, (small, large)
    assert await AccessLogEntry.filter(kind=AccessKind.AGENDA).count() == 2
