"""Never two bookings of one slot, under concurrency, on real PostgreSQL: 50 patients racing
through the booking service at once; the UNIQUE active_slot_id refusing a second holder on its
own, from 50 separate connections; and two real `carnet serve` processes taking bookings of
the same slots from 50 patients at once (slow)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from backend.access import policy
from backend.agenda import services
from backend.agenda.errors import SlotTaken
from backend.agenda.models import Appointment, Slot, SlotStatus
from backend.identity.models import Account
from tests.access_helpers import make_professional
from tests.conftest import ON_SQLITE
from tests.factories import create_patient
from tests.servers import carnet_server
from tests.test_messaging_live import mint_session

pytestmark = pytest.mark.skipif(ON_SQLITE, reason="concurrency is PostgreSQL's")

RACERS = 50
BOOK = """mutation B($s: ID!) { bookSlot(slotId: $s, reason: "Consultation") { __typename
  ... on Appointment { id } } }"""


async def _patients(n: int) -> list[Account]:
    return [await create_patient(email=f"racer{i}@example.fr") for i in range(n)]


async def _slots(rt, professional: Account, count: int) -> list[Slot]:
    day = (datetime.now(UTC) + timedelta(days=7)).date()
    published = await services.publish_slots(
        rt, policy.ProfessionalViewer(professional.id, professional.professional_id),
        services.Recurrence(start_date=day, end_date=day, weekdays=range(7),
                            day_start=datetime.min.time().replace(hour=8),
                            day_end=datetime.min.time().replace(hour=20),
                            duration_minutes=10, place_address="1 rue du Test, Paris"))
    return published.slots[:count]


async def test_fifty_patients_race_for_one_slot_exactly_one_booking(app, clean):
    rt = app.state.runtime
    doctor = await make_professional(email="race-doctor@example.fr")
    [slot] = await _slots(rt, doctor, 1)
    patients = await _patients(RACERS)
    # Each patient's data key first (as a real patient's first write would have done): the
    # race is then on the booking itself.
    for p in patients:
        await services.keys.data_key_for(rt.settings, p.person_id)
    start = asyncio.Event()

    async def attempt(account: Account) -> str:
        await start.wait()
        try:
            await services.book_slot(rt, policy.PatientViewer(account.id, account.person_id),
                                     str(slot.id), "Consultation")
        except SlotTaken:
            return "taken"
        return "booked"

    tasks = [asyncio.ensure_future(attempt(p)) for p in patients]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*tasks)
    assert outcomes.count("booked") == 1 and outcomes.count("taken") == RACERS - 1
    rows = await Appointment.filter(slot_id=slot.id)
    assert len(rows) == 1 and rows[0].active_slot_id == slot.id
    assert (await Slot.get(id=slot.id)).status is SlotStatus.BOOKED


async def test_the_database_alone_refuses_a_second_holder_from_fifty_connections(
        app, settings, clean):
    """Bypass the conditional UPDATE: 50 appointments of 50 patients, each on its own
    PostgreSQL connection, all try to take the slot at once; UNIQUE(active_slot_id) lets one."""
    rt = app.state.runtime
    doctor = await make_professional(email="race-doctor@example.fr")
    [slot] = await _slots(rt, doctor, 1)
    patients = await _patients(RACERS)
    ids = []
    for account in patients:
        start = slot.start_at
        item = await services.add_own(
            rt, policy.PatientViewer(account.id, account.person_id),
            services.AppointmentInput(start_at=start, end_at=slot.end_at))
        ids.append(item.row.id)
    dsn = settings.database_url.replace("postgres://", "postgresql://")
    connections = [await asyncpg.connect(dsn) for _ in range(RACERS)]
    barrier = asyncio.Event()

    async def take(conn: asyncpg.Connection, appointment_id: uuid.UUID) -> bool:
        transaction = conn.transaction()
        await transaction.start()
        await barrier.wait()
        try:
            await conn.execute("UPDATE appointment SET active_slot_id = $1 WHERE id = $2",
                               slot.id, appointment_id)
        except asyncpg.UniqueViolationError:
            await transaction.rollback()
            return False
        await transaction.commit()
        return True

    try:
        tasks = [asyncio.ensure_future(take(c, i)) for c, i in zip(connections, ids,
                                                                    strict=True)]
        await asyncio.sleep(0.2)  # every transaction open
        barrier.set()
        won = await asyncio.gather(*tasks)
    finally:
        for conn in connections:
            await conn.close()
    assert won.count(True) == 1
    assert await Appointment.filter(active_slot_id=slot.id).count() == 1


@pytest.mark.slow
async def test_two_carnet_processes_never_double_book(app, server_env, redis_url, clean):
    """Two real `carnet serve` processes (each its own pool), 50 patients sending bookings of
    the same 5 slots to both at once: exactly 5 bookings, each slot once."""
    env = {**server_env, "DB_POOL_MAX_SIZE": "10"}
    doctor = await make_professional(email="race-doctor@example.fr")
    slots = await _slots(app.state.runtime, doctor, 5)
    patients = await _patients(RACERS)
    tokens = [await mint_session(redis_url, p) for p in patients]
    with carnet_server(env) as first, carnet_server(env) as second:
        bases = [first, second]
        async with httpx.AsyncClient(timeout=60) as http:
            async def book(n: int) -> str:
                slot = slots[n % len(slots)]
                response = await http.post(
                    f"{bases[n % 2]}/graphql",
                    json={"query": BOOK, "variables": {"s": str(slot.id)}},
                    headers={"Authorization": f"Bearer {tokens[n]}"})
                body = response.json()
                assert not body.get("errors"), body
                return body["data"]["bookSlot"]["__typename"]

            outcomes = await asyncio.gather(*(book(n) for n in range(RACERS)))
    assert outcomes.count("Appointment") == len(slots), outcomes
    assert outcomes.count("SlotTaken") == RACERS - len(slots)
    rows = await Appointment.filter(slot_id__in=[s.id for s in slots])
    assert sorted(str(r.active_slot_id) for r in rows) == sorted(str(s.id) for s in slots)

