"""Carers' live subscriptions (issue 15 part 8) against a real server: a websocket's
connection_init names the space (`Carnet-Space`, as the HTTP header), resolved by the same
function as a request's; a carer given the agenda hears the patient's `agendaChanged`, not
their own space's; a part not given, a space never granted or unknown are refused exactly alike
(as over HTTP); a revoked or ended delegation stops the next operation and closes the socket
(4410: the session lives on), and revoking through the API closes it at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
import websockets

from backend.access import carers, policy
from backend.access.models import CarerGrant
from backend.agenda import services
from backend.identity.models import Person
from backend.live_sockets import SESSION_CLOSED, SPACE_CLOSED
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.servers import carnet_server

GRANT = """mutation G($e: String!, $p: [CarerPart!]!) {
  grantCarer(email: $e, parts: $p) { ... on Carer { id } } }"""
REVOKE = """mutation R($id: ID!) { revokeCarer(id: $id) { __typename } }"""
CHANGED = """subscription { agendaChanged { kind appointmentId appointment { reason } } }"""
INBOX = """subscription { inbox { id } }"""
APPOINTMENTS = """query { appointments(first: 5) { edges { node { reason } } } }"""
LOG = """query { accessLog(first: 50) { edges { node { kind ground reader { accountId } } } } }"""
UNKNOWN_SPACE = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def server(migrated, server_env) -> Iterator[str]:
    # The fallback sweep is pushed out of the way: what these tests see comes from the
    # per-operation check or from the revocation's announcement.
    with carnet_server({**server_env, "WS_SESSION_CHECK_SECONDS": "300"}) as base:
        yield base.replace("http://", "ws://") + "/graphql"


@pytest.fixture
async def family(clean, gql, notifier):
    alice = await create_patient(email="alice-live@example.fr")
    bob = await create_patient(email="bob-live@example.fr")
    return {"alice": alice, "bob": bob,
            "alice_token": await sign_in(gql, notifier, "alice-live@example.fr", PASSWORD),
            "bob_token": await sign_in(gql, notifier, "bob-live@example.fr", PASSWORD),
            "space": str((await Person.get(id=alice.person_id)).public_id)}


async def _grant(gql, family, parts: list[str]) -> str:
    body = await gql(GRANT, {"e": "bob-live@example.fr", "p": parts}, token=family["alice_token"])
    return body["data"]["grantCarer"]["id"]


async def _recv(ws, timeout: float = 10.0) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] not in ("ping", "pong", "ka"):
            return message


@asynccontextmanager
async def _socket(server: str, token: str, space: str | None = None,
                  space_key: str = "Carnet-Space", protocol: str = "graphql-transport-ws"):
    payload = {"Authorization": f"Bearer {token}"}
    if space is not None:
        payload[space_key] = space
    async with websockets.connect(server, subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert (await _recv(ws))["type"] == "connection_ack"
        yield ws


async def _start(ws, op_id: str, query: str) -> None:
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))


async def _subscribed(ws, op_id: str = "1") -> None:
    await _start(ws, op_id, CHANGED)
    first = await _recv(ws, 15)
    assert first["type"] == "next", first
    assert first["payload"]["data"]["agendaChanged"]["kind"] == "RESYNC"


async def _change(ws, timeout: float = 15.0) -> dict:
    message = await _recv(ws, timeout)
    assert message["type"] == "next", message
    return message["payload"]["data"]["agendaChanged"]


async def _quiet(ws, seconds: float = 1.0) -> None:
    with pytest.raises(TimeoutError):
        await _recv(ws, seconds)


async def _refusal(ws, op_id: str, query: str) -> list[dict]:
    """The errors an operation is answered with (an `error` message, or `next` + errors)."""
    await _start(ws, op_id, query)
    message = await _recv(ws)
    assert message["type"] in ("error", "next") and message["id"] == op_id, message
    if message["type"] == "error":
        return message["payload"]
    assert message["payload"].get("data") is None, message
    return message["payload"]["errors"]


async def _closed_with(ws, code: int, timeout: float = 10.0) -> None:
    """The server closes the socket with `code`, having answered nothing more."""
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        while True:
            message = await _recv(ws, timeout)
            assert message["type"] not in ("next", "data", "error"), message
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def _appointment(app, account, reason: str) -> str:
    start = datetime.now(UTC) + timedelta(days=4)
    item = await services.add_own(
        app.state.runtime, policy.PatientViewer(account.id, account.person_id),
        services.AppointmentInput(start_at=start, end_at=start + timedelta(hours=1),
                                  reason=reason, practitioner="Dr Martin"))
    return str(item.row.id)


async def test_a_carer_given_the_agenda_hears_the_patients_changes_in_the_space(
        server, app, gql, family):
    await _grant(gql, family, ["AGENDA"])
    bob = family["bob_token"]
    # The key's case does not matter (as for Authorization); the legacy protocol too.
    async with _socket(server, bob, family["space"]) as in_space, \
            _socket(server, bob, family["space"], space_key="carnet-space") as lower, \
            _socket(server, bob) as own:
        for ws in (in_space, lower, own):
            await _subscribed(ws)
        alices = await _appointment(app, family["alice"], "Cardiologie")
        for ws in (in_space, lower):
            change = await _change(ws)
            assert change == {"kind": "CREATED", "appointmentId": alices,
                              "appointment": {"reason": "Cardiologie"}}
        await _quiet(own)  # Bob's own space: not Alice's appointments
        bobs = await _appointment(app, family["bob"], "Dentiste")
        assert (await _change(own))["appointmentId"] == bobs
        await _quiet(in_space)  # Alice's space: not Bob's own appointments
    # What the carer heard is in Alice's access log, with his account (ground PROXY).
    entries = [e["node"] for e in (await gql(LOG, token=family["alice_token"])
                                   )["data"]["accessLog"]["edges"]]
    assert {"kind": "AGENDA", "ground": "PROXY",
            "reader": {"accountId": str(family["bob"].id)}} in entries


async def test_the_legacy_protocol_honours_the_space(server, app, gql, family):
    await _grant(gql, family, ["AGENDA"])
    async with _socket(server, family["bob_token"], family["space"],
                       protocol="graphql-ws") as ws:
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": CHANGED}}))
        first = await _recv(ws, 15)
        assert first["type"] == "data", first
        assert first["payload"]["data"]["agendaChanged"]["kind"] == "RESYNC"
        alices = await _appointment(app, family["alice"], "Ophtalmologie")
        data = await _recv(ws, 15)
        assert data["payload"]["data"]["agendaChanged"]["appointmentId"] == alices


async def test_a_part_not_given_an_ungranted_or_unknown_space_are_refused_alike(
        server, app, gql, family):
    await _grant(gql, family, ["DOCUMENTS"])
    bob = family["bob_token"]
    async with _socket(server, bob, family["space"]) as in_space:
        not_given = await _refusal(in_space, "1", CHANGED)
        assert not_given[0]["extensions"] == {"code": "INSUFFICIENT_SCOPE",
                                              "missingScopes": ["agenda:read"]}
        # Messages are never a carer's part.
        inbox = await _refusal(in_space, "2", INBOX)
        assert inbox[0]["extensions"]["missingScopes"] == ["messages:read"]
    await CarerGrant.all().delete()
    answers = []
    for space in (family["space"], UNKNOWN_SPACE, "pas-un-identifiant"):
        # Accepted alike (a caller that reaches nothing), refused alike.
        async with _socket(server, bob, space) as ws:
            answers.append(await _refusal(ws, "1", CHANGED))
            await _appointment(app, family["alice"], "Rien")
            await _quiet(ws)
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"


async def test_a_revoked_or_ended_delegation_stops_the_next_operation(server, app, gql, family):
    grant_id = await _grant(gql, family, ["AGENDA"])
    bob = family["bob_token"]
    async with _socket(server, bob, family["space"]) as in_space, _socket(server, bob) as own:
        await _start(in_space, "1", APPOINTMENTS)
        assert (await _recv(in_space))["type"] == "next"
        assert (await _recv(in_space))["type"] == "complete"
        # Revoked without any announcement: the next operation notices, answers nothing and
        # closes the socket; Bob's session (and his own socket) lives on.
        await CarerGrant.filter(id=int(grant_id)).update(revoked_at=datetime.now(UTC))
        await _start(in_space, "2", APPOINTMENTS)
        await _closed_with(in_space, SPACE_CLOSED)
        await _start(own, "1", APPOINTMENTS)
        assert (await _recv(own))["type"] == "next"

    # An end date that has passed: the same.
    await _grant(gql, family, ["AGENDA"])
    async with _socket(server, bob, family["space"]) as in_space:
        await CarerGrant.filter(revoked_at__isnull=True).update(
            ends_at=datetime.now(UTC) - timedelta(seconds=1))
        await _start(in_space, "1", CHANGED)
        await _closed_with(in_space, SPACE_CLOSED)

    # A new grant since connection_init (another delegation): the socket starts over.
    async with _socket(server, bob, family["space"]) as in_space:
        await _grant(gql, family, ["AGENDA"])
        await _start(in_space, "1", APPOINTMENTS)
        await _closed_with(in_space, SPACE_CLOSED)


async def test_revoking_through_the_api_closes_a_running_subscription_at_once(
        server, app, gql, family):
    grant_id = await _grant(gql, family, ["AGENDA"])
    async with _socket(server, family["bob_token"], family["space"]) as ws:
        await _subscribed(ws)
        revoked = await gql(REVOKE, {"id": grant_id}, token=family["alice_token"])
        assert revoked["data"]["revokeCarer"]["__typename"] == "CarerRevoked"
        await _appointment(app, family["alice"], "Après la révocation")
        await _closed_with(ws, SPACE_CLOSED)


async def test_signing_out_closes_the_carers_sockets_in_the_space(server, gql, family):
    await _grant(gql, family, ["AGENDA"])
    async with _socket(server, family["bob_token"], family["space"]) as ws:
        await _subscribed(ws)
        done = await gql("mutation { logout { sessionsClosed } }", token=family["bob_token"])
        assert "errors" not in done, done
        await _closed_with(ws, SESSION_CLOSED)


async def test_the_sweep_closes_the_sockets_of_a_delegation_that_ended(app, gql, family):
    from backend.oauth.bearer import socket_liveness

    grant_id = int(await _grant(gql, family, ["AGENDA"]))

    async def no_session(session_id: str) -> bool:
        raise AssertionError(f"not a session: {session_id}")

    is_alive = socket_liveness(app.state.runtime, no_session)
    assert await is_alive(carers.socket_key(grant_id))
    assert not await is_alive(carers.socket_key(grant_id + 1000))
    assert not await is_alive(carers.SOCKET_PREFIX + "x")
    await CarerGrant.filter(id=grant_id).update(ends_at=datetime.now(UTC) - timedelta(seconds=1))
    assert not await is_alive(carers.socket_key(grant_id))
