"""Demo data for `carnet dev`: complete enough to explore, and idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.agenda import services as agenda
from backend.agenda.models import Appointment, AppointmentSource, AppointmentStatus, Slot
from backend.catalogue.models import AppStatus, CatalogueApp, CatalogueStatusChange, Criterion
from backend.demo import DEMO_APPS, DEMO_LOGINS, DEMO_PASSWORD, DEMO_SUBMITTED_APP, seed_demo
from backend.identity.lookup import account_by_identifier
from backend.identity.models import Account
from backend.messaging.models import Conversation
from backend.records.models import Document
from tests.access_helpers import seed_matrix
from tests.identity_helpers import sign_in

# A fixed "now" (a Wednesday, 08:00 UTC): nothing depends on the day the tests run.
NOW = datetime(2026, 3, 11, 8, 0, tzinfo=UTC)

APPOINTMENTS = """query A($from: DateTime) { appointments(from: $from, first: 20) {
  edges { node { id start end status source reason practitioner place
                 professional { id rpps } } } } }"""
FREE = """query F($p: ID!, $from: DateTime!, $to: DateTime!) {
  freeSlots(professionalId: $p, from: $from, to: $to) { id start end status place } }"""
BOOK = """mutation B($s: ID!, $r: String) { bookSlot(slotId: $s, reason: $r) { __typename
  ... on Appointment { id status } ... on Error { message } } }"""
CATALOGUE = """query { catalogue(first: 50) { edges { node { name } } } }"""


@pytest.fixture
def fixed_clock():
    """The agenda's clock (GraphQL reads it) at NOW."""
    previous = agenda.clock
    agenda.clock = lambda: NOW
    yield NOW
    agenda.clock = previous


async def test_seed_demo_twice_creates_everything_once(migrated, clean):
    await seed_matrix()  # the access matrix, as migration 0011 leaves it (`clean` empties it)
    first = await seed_demo(migrated, now=NOW)
    assert first["accountsCreated"] == 2 and first["documentsCreated"] == 1
    assert first["conversationsCreated"] == 1 and first["announcementsCreated"] == 2
    assert first["slotsCreated"] == 10 * 10  # 10 weekdays, 08:40-12:00 in 20 min
    assert first["appointmentsCreated"] == 5 and first["catalogueAppsCreated"] == 4
    counts = (await Slot.all().count(), await Appointment.all().count(),
              await CatalogueApp.all().count(), await CatalogueStatusChange.all().count())
    second = await seed_demo(migrated, now=NOW)
    assert {k: v for k, v in second.items() if k != "logins"} == {
        "announcementsCreated": 0, "accountsCreated": 0, "documentsCreated": 0,
        "conversationsCreated": 0, "slotsCreated": 0, "appointmentsCreated": 0,
        "catalogueAppsCreated": 0}
    assert all([await account_by_identifier(login) for login in DEMO_LOGINS])
    assert await Account.all().count() == 2
    assert await Document.all().count() == 1 and await Conversation.all().count() == 1
    assert counts == (await Slot.all().count(), await Appointment.all().count(),
                      await CatalogueApp.all().count(),
                      await CatalogueStatusChange.all().count())
    assert counts == (100, 5, 4, 3 * 2 + 1)


async def test_demo_agenda_rows(migrated, clean):
    await seed_matrix()
    await seed_demo(migrated, now=NOW)
    rows = await Appointment.all().order_by("start_at")
    by_source = {}
    for row in rows:
        by_source.setdefault(row.source, []).append(row)
    # Two past consultations, done, from the practice's software.
    past = by_source[AppointmentSource.PROFESSIONAL_SOFTWARE]
    assert len(past) == 2 and all(r.status is AppointmentStatus.DONE and r.end_at < NOW
                                  for r in past)
    upcoming = [r for r in rows if r.end_at > NOW]
    assert sorted(r.source.value for r in upcoming) == sorted(
        s.value for s in (AppointmentSource.BOOKED_SLOT, AppointmentSource.PROFESSIONAL,
                          AppointmentSource.PATIENT))
    assert all(r.status is AppointmentStatus.BOOKED for r in upcoming)
    booked = by_source[AppointmentSource.BOOKED_SLOT][0]
    slot = await Slot.get(id=booked.slot_id)
    assert slot.status.value == "booked" and booked.active_slot_id == slot.id
    own = by_source[AppointmentSource.PATIENT][0]
    assert own.professional_id is None
    # Free texts sealed with Camille's data key, as in real use.
    for row in rows:
        assert row.data_key_id is not None
        assert b"ordonnance" not in row.details_encrypted
        assert b"Lef" not in row.details_encrypted and b"Caen" not in row.details_encrypted
    # Every slot on a weekday morning (Paris), 20 minutes, within the coming two weeks.
    for slot in await Slot.all():
        local = slot.start_at.astimezone(ZoneInfo(agenda.PARIS))
        assert local.weekday() < 5 and (8, 40) <= (local.hour, local.minute) <= (11, 40)
        assert slot.end_at - slot.start_at == timedelta(minutes=20)
        assert NOW < slot.start_at < NOW + timedelta(days=15)


async def test_seeding_again_the_next_day_adds_only_that_days_slots(migrated, clean):
    """`carnet dev` seeds at every start: the window of slots moves on, the appointments stay
    (those still upcoming are not made again)."""
    await seed_matrix()
    await seed_demo(migrated, now=NOW)
    again = await seed_demo(migrated, now=NOW + timedelta(days=1))
    assert again["slotsCreated"] == 10 and again["appointmentsCreated"] == 0
    assert again["catalogueAppsCreated"] == 0
    assert await Appointment.all().count() == 5


async def test_demo_through_graphql_as_the_patient(migrated, clean, gql, notifier, fixed_clock):
    await seed_matrix()
    await seed_demo(migrated, now=NOW)
    token = await sign_in(gql, notifier, "camille.martin@demo.carnet.fr", DEMO_PASSWORD)
    body = await gql(APPOINTMENTS, {"from": NOW.isoformat()}, token=token)
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["appointments"]["edges"]]
    assert len(nodes) == 3 and {n["status"] for n in nodes} == {"BOOKED"}
    assert {n["reason"] for n in nodes} == {"Renouvellement d'ordonnance",
                                            "Résultats du bilan sanguin",
                                            "Contrôle annuel de la vue"}
    own = next(n for n in nodes if n["professional"] is None)
    assert own["practitioner"] == "Dr Claire Lefèvre, ophtalmologue"
    doctor = await account_by_identifier("dr.durand@demo.carnet.fr")
    assert {n["professional"]["id"] for n in nodes if n["professional"]} == {
        str(doctor.professional_id)}
    everything = await gql(APPOINTMENTS, {"from": None}, token=token)
    assert len(everything["data"]["appointments"]["edges"]) == 5

    free = await gql(FREE, {"p": str(doctor.professional_id), "from": NOW.isoformat(),
                            "to": (NOW + timedelta(days=15)).isoformat()}, token=token)
    slots = free["data"]["freeSlots"]
    assert len(slots) == 100 - 1  # one booked by the demo
    # The patient can book one right away.
    booked = await gql(BOOK, {"s": slots[0]["id"], "r": "Certificat de sport"}, token=token)
    assert booked["data"]["bookSlot"]["__typename"] == "Appointment", booked

    catalogue = await gql(CATALOGUE)
    names = sorted(e["node"]["name"] for e in catalogue["data"]["catalogue"]["edges"])
    assert names == sorted(app["name"] for app in DEMO_APPS)
    assert DEMO_SUBMITTED_APP["name"] not in names
    submitted = await CatalogueApp.get(name=DEMO_SUBMITTED_APP["name"])
    assert submitted.status is AppStatus.SUBMITTED
    for app in await CatalogueApp.filter(status=AppStatus.REFERENCED):
        assert app.criteria == [c.value for c in Criterion]
        assert any(s["optional"] for s in app.scopes) and app.description
