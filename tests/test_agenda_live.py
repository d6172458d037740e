"""`agendaChanged` against a real server: the patient and the professional concerned see a
booking and a cancellation live (announced by another process, through Redis), read as each
may read it; nobody else hears of it; what crosses the broker is an id and a kind only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
import websockets

from backend.access import policy
from backend.agenda import services
from tests.access_helpers import make_professional
from tests.factories import create_patient
from tests.servers import carnet_server
from tests.test_messaging_live import mint_session

CHANGED = """subscription { agendaChanged { kind appointmentId
  appointment { id status reason professional { id } patient { birthName } } } }"""


@pytest.fixture(scope="module")
def server(migrated, server_env) -> Iterator[str]:
    with carnet_server(server_env) as base:
        yield base.replace("http://", "ws://") + "/graphql"


async def _next(ws, timeout: float = 15.0) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "next":
            return message["payload"]["data"]["agendaChanged"]
        assert message["type"] in ("ping", "pong", "ka"), message


async def _subscribe(server: str, token: str):
    ws = await websockets.connect(server, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init",
                              "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": CHANGED}}))
    # The first event says the subscription is live.
    assert (await _next(ws))["kind"] == "RESYNC"
    return ws


async def _quiet(ws, seconds: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        await _next(ws, seconds)


async def test_booking_and_cancelling_reach_both_sides_live(server, app, redis_url, clean):
    rt = app.state.runtime
    patient = await create_patient(email="live-agenda-patient@example.fr")
    other = await create_patient(email="live-agenda-other@example.fr")
    doctor = await make_professional(email="live-agenda-doctor@example.fr")
    stranger = await make_professional(email="live-agenda-stranger@example.fr")
    day = (datetime.now(UTC) + timedelta(days=9)).date()
    pro = policy.ProfessionalViewer(doctor.id, doctor.professional_id)
    published = await services.publish_slots(rt, pro, services.Recurrence(
        start_date=day, end_date=day, weekdays=range(7), day_start=time(9),
        day_end=time(10), duration_minutes=30, place_address="2 rue Test, Paris"))
    sockets = {name: await _subscribe(server, await mint_session(redis_url, account))
               for name, account in (("patient", patient), ("other", other),
                                     ("doctor", doctor), ("stranger", stranger))}
    try:
        booked = await services.book_slot(
            rt, policy.PatientViewer(patient.id, patient.person_id),
            str(published.slots[0].id), "Entorse")
        mine = await _next(sockets["patient"])
        assert mine["kind"] == "CREATED" and mine["appointmentId"] == str(booked.row.id)
        assert mine["appointment"]["reason"] == "Entorse"
        assert mine["appointment"]["patient"] is None  # the patient's view
        theirs = await _next(sockets["doctor"])
        assert theirs["kind"] == "CREATED"
        assert theirs["appointment"]["patient"]["birthName"] == "DUPONT"
        await services.cancel_by_professional(rt, pro, str(booked.row.id))
        for name in ("patient", "doctor"):
            change = await _next(sockets[name])
            assert change["kind"] == "CANCELLED"
            assert change["appointment"]["status"] == "CANCELLED"
        await _quiet(sockets["other"])
        await _quiet(sockets["stranger"])
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_the_broker_carries_ids_and_kinds_only(app, clean):
    rt = app.state.runtime
    patient = await create_patient(email="live-agenda-patient@example.fr")
    start = datetime.now(UTC) + timedelta(days=3)
    async with rt.broker.subscribe(services.patient_channel(patient.person_id)) as sub:
        await asyncio.sleep(0.2)  # the Redis subscription registered
        item = await services.add_own(
            rt, policy.PatientViewer(patient.id, patient.person_id),
            services.AppointmentInput(start_at=start, end_at=start + timedelta(hours=1),
                                      reason="Gynécologie", practitioner="Dr Y"))
        while True:
            delivery = await asyncio.wait_for(sub.get(), 10)
            if not delivery.resync:
                break
    assert json.loads(delivery.data) == {"id": str(item.row.id), "kind": "created"}


async def test_an_anonymous_subscription_is_refused(server):
    async with websockets.connect(server, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": CHANGED}}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] not in ("ping", "pong", "ka"):
                break
        assert message["type"] in ("error", "next"), message
        errors = (message["payload"] if message["type"] == "error"
                  else message["payload"].get("errors"))
        assert errors and errors[0]["extensions"]["code"] == "NOT_AUTHENTICATED", message
