"""The agenda through GraphQL: own entries, a professional's scheduling within a care
relationship, slots (recurrence, DST, idempotence), booking, cancelling and rescheduling on both
sides with their typed errors, notices in the writing transaction, and that an appointment is
never readable by another patient or a professional without a ground (answered as missing)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from backend.access import policy
from backend.access import services as access
from backend.agenda import services
from backend.agenda.models import Appointment, AppointmentNotice, NoticeKind, PlaceKind, Slot
from backend.audit.models import AccessKind, AccessLogEntry
from backend.identity.models import Person, Professional
from tests.access_helpers import make_professional, seed_matrix
from tests.conftest import ON_SQLITE
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in

FIELDS = """id start end timeZone placeKind place reason notes practitioner status source
  sequence canCancel cancelDeadline icsUrl slotId
  professional { id rpps profession } patient { patientId birthName }"""
ADD = f"""mutation Add($input: AppointmentInput!) {{ addAppointment(input: $input) {{ __typename
  ... on Appointment {{ {FIELDS} }} ... on InvalidAppointmentInput {{ field message }} }} }}"""
UPDATE = f"""mutation Up($id: ID!, $input: AppointmentInput!) {{
  updateAppointment(id: $id, input: $input) {{ __typename ... on Appointment {{ {FIELDS} }}
  ... on Error {{ message }} ... on InvalidAppointmentInput {{ field }} }} }}"""
CANCEL = f"""mutation C($id: ID!) {{ cancelAppointment(id: $id) {{ __typename
  ... on AppointmentCancelled {{ appointment {{ {FIELDS} }} }}
  ... on TooLateToCancel {{ deadline message }} ... on Error {{ message }} }} }}"""
SCHEDULE = f"""mutation S($p: ID!, $input: ScheduleAppointmentInput!) {{
  scheduleAppointment(patientId: $p, input: $input) {{ __typename
  ... on Appointment {{ {FIELDS} }} ... on Error {{ message }} }} }}"""
PUBLISH = """mutation P($input: SlotRecurrenceInput!) { publishSlots(input: $input) { __typename
  ... on SlotsPublished { created slots { id start end status place placeKind timeZone } }
  ... on InvalidAppointmentInput { field message } } }"""
FREE = """query F($p: ID!, $from: DateTime!, $to: DateTime!) {
  freeSlots(professionalId: $p, from: $from, to: $to) { id start status } }"""
MY_SLOTS = """query M($from: DateTime!, $to: DateTime!) { mySlots(from: $from, to: $to) {
  id status } }"""
BOOK = f"""mutation B($s: ID!, $r: String) {{ bookSlot(slotId: $s, reason: $r) {{ __typename
  ... on Appointment {{ {FIELDS} }} ... on Error {{ message }} }} }}"""
RESCHEDULE = f"""mutation R($id: ID!, $s: ID!) {{ rescheduleAppointment(id: $id, slotId: $s) {{
  __typename ... on Appointment {{ {FIELDS} }} ... on Error {{ message }} }} }}"""
MOVE = f"""mutation Mv($id: ID!, $start: DateTime!, $end: DateTime!, $k: PlaceKind) {{
  moveAppointment(id: $id, start: $start, end: $end, placeKind: $k) {{ __typename
  ... on Appointment {{ {FIELDS} }} ... on Error {{ message }} }} }}"""
CANCEL_SLOT = """mutation CS($s: ID!) { cancelSlot(slotId: $s) { __typename
  ... on SlotCancelled { slotId } ... on Error { message } } }"""
LIST = f"""query L($from: DateTime, $to: DateTime, $first: Int!, $after: String) {{
  appointments(from: $from, to: $to, first: $first, after: $after) {{
    pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {FIELDS} }} }} }} }}"""
PRO_LIST = f"""query PL($first: Int!) {{ professionalAppointments(first: $first) {{
  edges {{ node {{ {FIELDS} }} }} }} }}"""
ONE = f"""query One($id: ID!) {{ appointment(id: $id) {{ {FIELDS} }} }}"""
RECORD = f"""query Rec($p: ID!) {{ patientRecord(patientId: $p) {{
  appointments(first: 50) {{ edges {{ node {{ {FIELDS} }} }} }} }} }}"""


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


@pytest.fixture
async def world(app, gql, notifier, clean):
    await seed_matrix()
    rt = app.state.runtime
    patient = await create_patient(email="agenda-patient@example.fr")
    other = await create_patient(email="agenda-other@example.fr")
    gp = await make_professional("Médecin", "Médecine générale", email="agenda-gp@example.fr")
    stranger = await make_professional("Médecin", None, email="agenda-stranger@example.fr")
    gp_rpps = (await Professional.get(id=gp.professional_id)).rpps
    await access.add_to_care_team(policy.PatientViewer(patient.id, patient.person_id), gp_rpps)
    tokens = {name: await sign_in(gql, notifier, f"agenda-{name}@example.fr", PASSWORD)
              for name in ("patient", "other", "gp", "stranger")}
    person = await Person.get(id=patient.person_id)
    previous_clock = services.clock
    yield {"rt": rt, "patient": patient, "other": other, "gp": gp, "stranger": stranger,
           "tokens": tokens, "public_id": str(person.public_id)}
    services.clock = previous_clock


def later(days: int, hour: int = 9) -> datetime:
    base = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)


async def _publish(gql, token, start: date, end: date, *, weekdays=(0, 1, 2, 3, 4, 5, 6),
                   day_start="09:00:00", day_end="10:00:00", minutes=30):
    body = await gql(PUBLISH, {"input": {
        "startDate": start.isoformat(), "endDate": end.isoformat(), "weekdays": list(weekdays),
        "dayStart": day_start, "dayEnd": day_end, "durationMinutes": minutes,
        "placeKind": "ADDRESS", "placeAddress": "12 rue de la Paix, 75002 Paris"}},
        token=token)
    return body["data"]["publishSlots"]


async def test_patient_own_entries_add_update_cancel(gql, world):
    token = world["tokens"]["patient"]
    start = later(3)
    created = (await gql(ADD, {"input": {
        "start": iso(start), "end": iso(start + timedelta(minutes=45)),
        "reason": "Contrôle annuel", "practitioner": "Dr Martin (dentiste)",
        "place": "3 place du Marché, Lyon", "notes": "Apporter la radio"}}, token=token)
    )["data"]["addAppointment"]
    assert created["__typename"] == "Appointment", created
    assert created["source"] == "PATIENT" and created["status"] == "BOOKED"
    assert created["practitioner"] == "Dr Martin (dentiste)" and created["professional"] is None
    assert created["reason"] == "Contrôle annuel" and created["notes"] == "Apporter la radio"
    assert created["canCancel"] and created["cancelDeadline"] is None
    assert created["icsUrl"] == f"/agenda/{created['id']}.ics"
    assert created["timeZone"] == "Europe/Paris" and created["patient"] is None
    # Sealed at rest: no free text in the row.
    row = await Appointment.get(id=created["id"])
    assert b"Martin" not in bytes(row.details_encrypted)
    assert b"annuel" not in bytes(row.details_encrypted)

    moved = (await gql(UPDATE, {"id": created["id"], "input": {
        "start": iso(start + timedelta(hours=1)), "end": iso(start + timedelta(hours=2)),
        "placeKind": "TELECONSULTATION", "reason": "Contrôle"}}, token=token)
    )["data"]["updateAppointment"]
    assert moved["placeKind"] == "TELECONSULTATION" and moved["place"] is None
    assert moved["sequence"] == 1 and moved["reason"] == "Contrôle"

    bad = (await gql(ADD, {"input": {"start": iso(start), "end": iso(start)}}, token=token)
           )["data"]["addAppointment"]
    assert bad == {"__typename": "InvalidAppointmentInput", "field": "endAt",
                   "message": bad["message"]}
    cancelled = (await gql(CANCEL, {"id": created["id"]}, token=token)
                 )["data"]["cancelAppointment"]
    assert cancelled["appointment"]["status"] == "CANCELLED"
    assert cancelled["appointment"]["sequence"] == 2
    assert not cancelled["appointment"]["canCancel"]
    # The patient's own changes tell nobody.
    assert await AppointmentNotice.all().count() == 0


async def test_schedule_needs_an_active_care_relationship(gql, world):
    start = later(5)
    variables = {"p": world["public_id"], "input": {
        "start": iso(start), "end": iso(start + timedelta(minutes=20)),
        "reason": "Suivi tension", "placeKind": "TELECONSULTATION"}}
    made = (await gql(SCHEDULE, variables, token=world["tokens"]["gp"])
            )["data"]["scheduleAppointment"]
    assert made["__typename"] == "Appointment", made
    assert made["source"] == "PROFESSIONAL" and made["patient"]["patientId"] == world["public_id"]
    assert made["professional"]["id"] == str(world["gp"].professional_id)
    # A professional without a ground, and an unknown patient: the same answer.
    refused = (await gql(SCHEDULE, variables, token=world["tokens"]["stranger"])
               )["data"]["scheduleAppointment"]
    unknown = (await gql(SCHEDULE, {**variables, "p": "00000000-0000-4000-8000-000000000000"},
                         token=world["tokens"]["stranger"]))["data"]["scheduleAppointment"]
    assert refused["__typename"] == unknown["__typename"] == "PatientNotFound"
    assert refused["message"] == unknown["message"]
    # A patient cannot schedule for someone.
    body = await gql(SCHEDULE, variables, token=world["tokens"]["patient"])
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The patient sees it with the professional's summary and its deadline.
    mine = (await gql(ONE, {"id": made["id"]}, token=world["tokens"]["patient"])
            )["data"]["appointment"]
    assert mine["reason"] == "Suivi tension" and mine["professional"]["rpps"]
    deadline = datetime.fromisoformat(mine["cancelDeadline"])
    assert deadline == datetime.fromisoformat(mine["start"]) - timedelta(hours=24)


async def test_nobody_else_reads_an_appointment(gql, world):
    start = later(4)
    own = (await gql(ADD, {"input": {"start": iso(start), "end": iso(start + timedelta(hours=1)),
                                     "reason": "Psychiatre"}}, token=world["tokens"]["patient"])
           )["data"]["addAppointment"]
    made = (await gql(SCHEDULE, {"p": world["public_id"], "input": {
        "start": iso(start), "end": iso(start + timedelta(hours=1)), "reason": "Bilan"}},
        token=world["tokens"]["gp"]))["data"]["scheduleAppointment"]
    for name in ("other", "stranger"):
        for ident in (own["id"], made["id"], "not-a-uuid"):
            body = await gql(ONE, {"id": ident}, token=world["tokens"][name])
            assert body["data"]["appointment"] is None, (name, body)
        cancel = (await gql(CANCEL, {"id": made["id"]}, token=world["tokens"][name])
                  )["data"]["cancelAppointment"]
        assert cancel["__typename"] == "AppointmentNotFound"
    listed = (await gql(LIST, {"first": 50}, token=world["tokens"]["other"])
              )["data"]["appointments"]["edges"]
    assert listed == []
    # The professional sees the booking with them, never the patient's own entry.
    pro = (await gql(PRO_LIST, {"first": 50}, token=world["tokens"]["gp"])
           )["data"]["professionalAppointments"]["edges"]
    assert [e["node"]["id"] for e in pro] == [made["id"]]
    assert (await gql(ONE, {"id": own["id"]}, token=world["tokens"]["gp"])
            )["data"]["appointment"] is None
    # No ground, no record: patientRecord is null for the stranger (nothing logged).
    assert (await gql(RECORD, {"p": world["public_id"]}, token=world["tokens"]["stranger"])
            )["data"]["patientRecord"] is None
    assert await AccessLogEntry.filter(kind=AccessKind.AGENDA).count() == 0


async def test_professional_reads_the_patients_agenda_through_the_record_and_it_is_logged(
        gql, world):
    start = later(6)
    await gql(ADD, {"input": {"start": iso(start), "end": iso(start + timedelta(hours=1)),
                              "reason": "Oncologie", "practitioner": "Dr X"}},
              token=world["tokens"]["patient"])
    made = (await gql(SCHEDULE, {"p": world["public_id"], "input": {
        "start": iso(start + timedelta(days=1)), "end": iso(start + timedelta(days=1, hours=1)),
        "reason": "Bilan"}}, token=world["tokens"]["gp"]))["data"]["scheduleAppointment"]
    record = (await gql(RECORD, {"p": world["public_id"]}, token=world["tokens"]["gp"])
              )["data"]["patientRecord"]["appointments"]["edges"]
    nodes = [e["node"] for e in record]
    assert len(nodes) == 2
    theirs = next(n for n in nodes if n["source"] == "PATIENT")
    mine = next(n for n in nodes if n["id"] == made["id"])
    # Another's appointment: time and status, no free text.
    assert theirs["reason"] is None and theirs["practitioner"] is None
    assert mine["reason"] == "Bilan"
    entries = await AccessLogEntry.filter(kind=AccessKind.AGENDA)
    assert len(entries) == 1
    assert entries[0].patient_id == world["patient"].person_id
    assert entries[0].professional_id == world["gp"].professional_id


async def test_slots_recurrence_is_idempotent_and_keeps_wall_clock_across_dst(gql, world):
    token = world["tokens"]["gp"]
    # Europe/Paris leaves summer time on Sunday 25 October 2026 (03:00 -> 02:00).
    this_year = datetime.now(UTC).year + 1
    last_sunday = max(date(this_year, 10, d) for d in range(25, 32)
                      if date(this_year, 10, d).weekday() == 6)
    start, end = last_sunday - timedelta(days=1), last_sunday + timedelta(days=1)
    first = await _publish(gql, token, start, end)
    assert first["__typename"] == "SlotsPublished", first
    assert first["created"] == 6 and len(first["slots"]) == 6
    starts = [datetime.fromisoformat(s["start"]) for s in first["slots"]]
    # 09:00 Paris: 07:00 UTC in summer (the Saturday), 08:00 UTC in winter (Sunday, Monday).
    assert [s.astimezone(UTC).hour for s in starts[::2]] == [7, 8, 8]
    assert all(s["timeZone"] == "Europe/Paris" and s["status"] == "FREE"
               for s in first["slots"])
    again = await _publish(gql, token, start, end)
    assert again["created"] == 0 and len(again["slots"]) == 6
    assert await Slot.all().count() == 6
    # A longer range: only the new ones are created.
    more = await _publish(gql, token, start, end + timedelta(days=1))
    assert more["created"] == 2
    bad = await _publish(gql, token, start, end, minutes=2)
    assert bad["__typename"] == "InvalidAppointmentInput" and bad["field"] == "durationMinutes"


def test_recurrence_skips_the_spring_gap_and_takes_weekdays():
    recurrence = services.Recurrence(
        start_date=date(2027, 3, 27), end_date=date(2027, 3, 29), weekdays=[5, 6],
        day_start=time(1, 30), day_end=time(3, 30), duration_minutes=30)
    slots = recurrence.starts(100)
    local = [s.astimezone(services.ZoneInfo("Europe/Paris")).strftime("%d %H:%M")
             for s, _ in slots]
    # 28 March 2027, Europe/Paris jumps from 02:00 to 03:00: 02:00 and 02:30 do not exist, so
    # the slots starting or ending then (01:30-02:00, 02:00, 02:30) are skipped.
    assert local[:4] == ["27 01:30", "27 02:00", "27 02:30", "27 03:00"]
    assert [t for t in local if t.startswith("28")] == ["28 03:00"]
    assert "29 01:30" not in local  # Monday is not asked for
    assert all(e - s == timedelta(minutes=30) for s, e in slots)


async def test_book_free_slots_cancel_and_rebook(gql, world):
    pro_token, token = world["tokens"]["gp"], world["tokens"]["patient"]
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    slots = (await _publish(gql, pro_token, day, day))["slots"]
    pid = str(world["gp"].professional_id)
    window = {"p": pid, "from": iso(datetime.now(UTC)), "to": iso(datetime.now(UTC)
                                                                   + timedelta(days=30))}
    # Any signed-in user may search a professional's free slots (the other patient too).
    free = (await gql(FREE, window, token=world["tokens"]["other"]))["data"]["freeSlots"]
    assert [s["id"] for s in free] == [s["id"] for s in slots]
    booked = (await gql(BOOK, {"s": slots[0]["id"], "r": "Douleur au genou"}, token=token)
              )["data"]["bookSlot"]
    assert booked["__typename"] == "Appointment", booked
    assert booked["source"] == "BOOKED_SLOT" and booked["slotId"] == slots[0]["id"]
    assert booked["place"] == "12 rue de la Paix, 75002 Paris"
    assert booked["professional"]["id"] == pid and booked["reason"] == "Douleur au genou"
    taken = (await gql(BOOK, {"s": slots[0]["id"]}, token=world["tokens"]["other"])
             )["data"]["bookSlot"]
    assert taken["__typename"] == "SlotTaken"
    free = (await gql(FREE, window, token=token))["data"]["freeSlots"]
    assert slots[0]["id"] not in [s["id"] for s in free]
    mine = (await gql(MY_SLOTS, {"from": window["from"], "to": window["to"]}, token=pro_token)
            )["data"]["mySlots"]
    assert {s["id"]: s["status"] for s in mine}[slots[0]["id"]] == "BOOKED"
    # The professional sees the booking, with the patient and the reason.
    pro = (await gql(PRO_LIST, {"first": 10}, token=pro_token)
           )["data"]["professionalAppointments"]["edges"]
    assert pro[0]["node"]["reason"] == "Douleur au genou"
    assert pro[0]["node"]["patient"]["patientId"] == world["public_id"]
    # Cancelled by the patient: the slot is free again, and someone else books it.
    cancelled = (await gql(CANCEL, {"id": booked["id"]}, token=token))["data"]
    assert cancelled["cancelAppointment"]["appointment"]["status"] == "CANCELLED"
    assert (await Slot.get(id=slots[0]["id"])).status.value == "free"
    again = (await gql(BOOK, {"s": slots[0]["id"]}, token=world["tokens"]["other"])
             )["data"]["bookSlot"]
    assert again["__typename"] == "Appointment"
    rows = await Appointment.filter(slot_id=slots[0]["id"]).order_by("created_at")
    assert [r.active_slot_id is not None for r in rows] == [False, True]
    missing = (await gql(BOOK, {"s": "00000000-0000-4000-8000-000000000000"}, token=token)
               )["data"]["bookSlot"]
    assert missing["__typename"] == "SlotNotFound"


async def test_slot_in_past_and_too_late_to_cancel(gql, world):
    pro_token, token = world["tokens"]["gp"], world["tokens"]["patient"]
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    slots = (await _publish(gql, pro_token, day, day))["slots"]
    booked = (await gql(BOOK, {"s": slots[0]["id"]}, token=token))["data"]["bookSlot"]
    start = datetime.fromisoformat(slots[0]["start"])
    # 23 hours before: past the 24-hour deadline.
    services.clock = lambda: start - timedelta(hours=23)
    late = (await gql(CANCEL, {"id": booked["id"]}, token=token))["data"]["cancelAppointment"]
    assert late["__typename"] == "TooLateToCancel"
    assert datetime.fromisoformat(late["deadline"]) == start - timedelta(hours=24)
    listed = (await gql(ONE, {"id": booked["id"]}, token=token))["data"]["appointment"]
    assert listed["canCancel"] is False
    late_move = (await gql(RESCHEDULE, {"id": booked["id"], "s": slots[1]["id"]}, token=token)
                 )["data"]["rescheduleAppointment"]
    assert late_move["__typename"] == "TooLateToCancel"
    # The slot has begun: it cannot be booked.
    services.clock = lambda: start + timedelta(minutes=45)
    past = (await gql(BOOK, {"s": slots[1]["id"]}, token=world["tokens"]["other"])
            )["data"]["bookSlot"]
    assert past["__typename"] == "SlotInPast"
    # The professional may still cancel (no deadline for them).
    services.clock = lambda: start - timedelta(hours=1)
    by_pro = (await gql(CANCEL, {"id": booked["id"]}, token=pro_token)
              )["data"]["cancelAppointment"]
    assert by_pro["__typename"] == "AppointmentCancelled"


async def test_reschedule_by_patient_to_another_slot_of_the_same_professional(gql, world):
    pro_token, token = world["tokens"]["gp"], world["tokens"]["patient"]
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    slots = (await _publish(gql, pro_token, day, day))["slots"]
    other_day = (datetime.now(UTC) + timedelta(days=12)).date()
    stranger_slots = (await _publish(gql, world["tokens"]["stranger"], other_day, other_day)
                      )["slots"]
    booked = (await gql(BOOK, {"s": slots[0]["id"], "r": "Vaccin"}, token=token)
              )["data"]["bookSlot"]
    moved = (await gql(RESCHEDULE, {"id": booked["id"], "s": slots[1]["id"]}, token=token)
             )["data"]["rescheduleAppointment"]
    assert moved["__typename"] == "Appointment", moved
    assert moved["slotId"] == slots[1]["id"] and moved["start"] == slots[1]["start"]
    assert moved["sequence"] == 1 and moved["reason"] == "Vaccin"
    assert (await Slot.get(id=slots[0]["id"])).status.value == "free"
    assert (await Slot.get(id=slots[1]["id"])).status.value == "booked"
    # Another professional's slot: not found.
    wrong = (await gql(RESCHEDULE, {"id": booked["id"], "s": stranger_slots[0]["id"]},
                       token=token))["data"]["rescheduleAppointment"]
    assert wrong["__typename"] == "SlotNotFound"
    # A taken slot: SlotTaken, and nothing changed.
    other = (await gql(BOOK, {"s": slots[0]["id"]}, token=world["tokens"]["other"])
             )["data"]["bookSlot"]
    assert other["__typename"] == "Appointment"
    taken = (await gql(RESCHEDULE, {"id": booked["id"], "s": slots[0]["id"]}, token=token)
             )["data"]["rescheduleAppointment"]
    assert taken["__typename"] == "SlotTaken"
    row = await Appointment.get(id=booked["id"])
    assert str(row.active_slot_id) == slots[1]["id"] and row.sequence == 1
    assert await AppointmentNotice.all().count() == 0  # the patient's own moves tell nobody


async def test_professional_moves_and_cancels_with_a_notice_in_the_same_transaction(gql, world):
    pro_token, token = world["tokens"]["gp"], world["tokens"]["patient"]
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    slots = (await _publish(gql, pro_token, day, day))["slots"]
    booked = (await gql(BOOK, {"s": slots[0]["id"]}, token=token))["data"]["bookSlot"]
    new_start = datetime.fromisoformat(slots[0]["start"]) + timedelta(days=1)
    moved = (await gql(MOVE, {"id": booked["id"], "start": iso(new_start),
                              "end": iso(new_start + timedelta(minutes=30)),
                              "k": "TELECONSULTATION"}, token=pro_token)
             )["data"]["moveAppointment"]
    assert moved["__typename"] == "Appointment", moved
    assert moved["sequence"] == 1 and moved["placeKind"] == "TELECONSULTATION"
    assert moved["place"] is None
    # Off its slot: the slot is free for others.
    assert (await Slot.get(id=slots[0]["id"])).status.value == "free"
    notices = await AppointmentNotice.filter(appointment_id=booked["id"]).order_by("id")
    assert [(n.kind, n.appointment_sequence) for n in notices] == [(NoticeKind.MOVED, 1)]
    assert notices[0].person_id == world["patient"].person_id
    # Unsent: on PostgreSQL its job waits in the queue (no worker runs here, tests/test_jobs.py
    # runs it); on SQLite the API process's in-process runner may have sent it already.
    assert notices[0].sent_at is None or ON_SQLITE
    # The stranger cannot move it (not found).
    stranger = (await gql(MOVE, {"id": booked["id"], "start": iso(new_start),
                                 "end": iso(new_start + timedelta(hours=1))},
                          token=world["tokens"]["stranger"]))["data"]["moveAppointment"]
    assert stranger["__typename"] == "AppointmentNotFound"
    cancelled = (await gql(CANCEL, {"id": booked["id"]}, token=pro_token)
                 )["data"]["cancelAppointment"]
    assert cancelled["appointment"]["status"] == "CANCELLED"
    notices = await AppointmentNotice.filter(appointment_id=booked["id"]).order_by("id")
    assert [(n.kind, n.appointment_sequence) for n in notices] == [
        (NoticeKind.MOVED, 1), (NoticeKind.CANCELLED, 2)]


async def test_a_failed_move_leaves_neither_the_change_nor_its_notice(world, monkeypatch):
    rt = world["rt"]
    pro = policy.ProfessionalViewer(world["gp"].id, world["gp"].professional_id)
    start = later(8)
    item = await services.schedule(rt, pro, world["public_id"], services.AppointmentInput(
        start_at=start, end_at=start + timedelta(hours=1)))

    async def broken(*args, **kwargs):
        raise RuntimeError("the notice insert fails")

    monkeypatch.setattr(services, "_notice", broken)
    with pytest.raises(RuntimeError):
        await services.move_by_professional(rt, pro, str(item.row.id),
                                            start + timedelta(days=1),
                                            start + timedelta(days=1, hours=1))
    row = await Appointment.get(id=item.row.id)
    assert row.start_at == start and row.sequence == 0


async def test_cancel_slot_cancels_its_booking_and_tells_the_patient(gql, world):
    pro_token, token = world["tokens"]["gp"], world["tokens"]["patient"]
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    slots = (await _publish(gql, pro_token, day, day))["slots"]
    booked = (await gql(BOOK, {"s": slots[0]["id"]}, token=token))["data"]["bookSlot"]
    foreign = (await gql(CANCEL_SLOT, {"s": slots[0]["id"]}, token=world["tokens"]["stranger"])
               )["data"]["cancelSlot"]
    assert foreign["__typename"] == "SlotNotFound"
    done = (await gql(CANCEL_SLOT, {"s": slots[0]["id"]}, token=pro_token))["data"]["cancelSlot"]
    assert done == {"__typename": "SlotCancelled", "slotId": slots[0]["id"]}
    row = await Appointment.get(id=booked["id"])
    assert row.status.value == "cancelled" and row.active_slot_id is None and row.slot_id is None
    assert [n.kind for n in await AppointmentNotice.filter(appointment_id=row.id)] == [
        NoticeKind.CANCELLED]
    assert not await Slot.filter(id=slots[0]["id"]).exists()
    # A free slot just goes.
    free = (await gql(CANCEL_SLOT, {"s": slots[1]["id"]}, token=pro_token))["data"]["cancelSlot"]
    assert free["__typename"] == "SlotCancelled"


async def test_agenda_pages_by_start_time_within_a_range(gql, world):
    token = world["tokens"]["patient"]
    base = later(2)
    ids = []
    for n in range(5):
        start = base + timedelta(days=n)
        body = await gql(ADD, {"input": {"start": iso(start),
                                         "end": iso(start + timedelta(hours=1)),
                                         "reason": f"R{n}"}}, token=token)
        ids.append(body["data"]["addAppointment"]["id"])
    seen, after = [], None
    while True:
        page = (await gql(LIST, {"first": 2, "after": after}, token=token))["data"]["appointments"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids
    ranged = (await gql(LIST, {"first": 10, "from": iso(base + timedelta(days=1)),
                               "to": iso(base + timedelta(days=3))}, token=token)
              )["data"]["appointments"]["edges"]
    assert [e["node"]["reason"] for e in ranged] == ["R1", "R2"]
    bad = await gql(LIST, {"first": 2, "after": "!!"}, token=token)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_patient_cannot_edit_a_professionals_appointment(gql, world):
    start = later(5)
    made = (await gql(SCHEDULE, {"p": world["public_id"], "input": {
        "start": iso(start), "end": iso(start + timedelta(minutes=20))}},
        token=world["tokens"]["gp"]))["data"]["scheduleAppointment"]
    refused = (await gql(UPDATE, {"id": made["id"], "input": {
        "start": iso(start), "end": iso(start + timedelta(hours=1))}},
        token=world["tokens"]["patient"]))["data"]["updateAppointment"]
    assert refused["__typename"] == "InvalidAppointmentInput" and refused["field"] == "id"
    assert PlaceKind.ADDRESS.value == "address"


async def test_the_cancellation_deadline_follows_its_setting(world):
    rt = world["rt"]
    settings = rt.settings.model_copy(update={"agenda_cancel_deadline_hours": 2})
    pro = policy.ProfessionalViewer(world["gp"].id, world["gp"].professional_id)
    me = policy.PatientViewer(world["patient"].id, world["patient"].person_id)
    start = later(1)
    item = await services.schedule(rt, pro, world["public_id"], services.AppointmentInput(
        start_at=start, end_at=start + timedelta(hours=1)))
    assert services.cancel_deadline(settings, item.row) == start - timedelta(hours=2)
    assert services.cancel_deadline(rt.settings, item.row) == start - timedelta(hours=24)
    # Three hours before: too late with the default (24 h), in time with 2 h.
    three_before = start - timedelta(hours=3)
    with pytest.raises(services.TooLateToCancel) as refused:
        await services.cancel_by_patient(rt, me, str(item.row.id), now=three_before)
    assert refused.value.deadline == start - timedelta(hours=24)
    rt_two = type(rt)(settings=settings, kv=rt.kv, broker=rt.broker, notifier=rt.notifier)
    done = await services.cancel_by_patient(rt_two, me, str(item.row.id), now=three_before)
    assert done.row.status.value == "cancelled"


async def test_an_appointment_that_has_ended_cannot_be_cancelled(gql, world):
    start = later(2)
    made = (await gql(SCHEDULE, {"p": world["public_id"], "input": {
        "start": iso(start), "end": iso(start + timedelta(hours=1))}},
        token=world["tokens"]["gp"]))["data"]["scheduleAppointment"]
    own = (await gql(ADD, {"input": {"start": iso(start), "end": iso(start + timedelta(hours=1))}},
                     token=world["tokens"]["patient"]))["data"]["addAppointment"]
    services.clock = lambda: start + timedelta(hours=2)
    for token, ident in ((world["tokens"]["patient"], own["id"]),
                         (world["tokens"]["gp"], made["id"])):
        seen = (await gql(ONE, {"id": ident}, token=token))["data"]["appointment"]
        assert seen["canCancel"] is False
        refused = (await gql(CANCEL, {"id": ident}, token=token))["data"]["cancelAppointment"]
        assert refused["__typename"] == "InvalidAppointmentInput", refused
