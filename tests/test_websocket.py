"""GraphQL subscriptions over WebSocket (graphql-transport-ws and legacy graphql-ws), against a
real uvicorn server, with announcements crossing processes through Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import websockets

from backend.announcements import services as announcements
from backend.identity.lookup import accounts_by_email
from backend.identity.services import session_store
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.servers import carnet_server

SUBSCRIPTION = "subscription Added($after: ID) { announcementAdded(after: $after) { id title } }"


@pytest.fixture(scope="module")
def server(migrated, server_env) -> Iterator[str]:
    env = {**server_env, "ALLOWED_ORIGINS": "https://carnet.example",
           "WS_SESSION_CHECK_SECONDS": "0.5"}
    with carnet_server(env) as base:
        yield base.replace("http://", "ws://") + "/graphql"


async def _recv(ws, timeout: float = 10.0) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] not in ("ping", "pong", "ka"):
            return message


async def test_graphql_transport_ws_catches_up_then_goes_live(server, app, clean):
    broker = app.state.runtime.broker
    before = await announcements.publish(broker, title="Avant", body="x")
    async with websockets.connect(server, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIPTION, "variables": {"after": str(before.id - 1)}}}))
        first = await _recv(ws)
        assert first["type"] == "next"
        assert first["payload"]["data"]["announcementAdded"]["title"] == "Avant"
        # Published by this process, delivered to the server process through Redis.
        await announcements.publish(broker, title="En direct", body="y")
        live = await _recv(ws)
        assert live["payload"]["data"]["announcementAdded"]["title"] == "En direct"
        await ws.send(json.dumps({"id": "1", "type": "complete"}))


async def test_legacy_graphql_ws_protocol(server, app, clean):
    broker = app.state.runtime.broker
    async with websockets.connect(server, subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": SUBSCRIPTION}}))
        await asyncio.sleep(0.5)  # legacy protocol has no "subscribed" acknowledgement either
        await announcements.publish(broker, title="Ancien protocole", body="z")
        data = await _recv(ws)
        assert data["type"] == "data"
        assert data["payload"]["data"]["announcementAdded"]["title"] == "Ancien protocole"


async def test_foreign_browser_origins_are_refused(server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(server, subprotocols=["graphql-transport-ws"],
                                      origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(server, subprotocols=["graphql-transport-ws"],
                                  origin="https://carnet.example") as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await _recv(ws))["type"] == "connection_ack"


async def test_a_revocation_whose_announcement_was_lost_still_closes_the_socket(
    server, app, gql, notifier, clean
):
    # Revoked in Redis without any announcement (as if pub/sub had dropped it): the server's
    # periodic sweep (WS_SESSION_CHECK_SECONDS=0.5 here) closes the socket of a running
    # subscription, which starts no new operation that could notice.
    await create_patient(email="sweep@example.fr")
    token = await sign_in(gql, notifier, "sweep@example.fr", PASSWORD)
    [account] = await accounts_by_email("sweep@example.fr")
    store = session_store(app.state.runtime)
    [session] = await store.list(account.id)
    async with websockets.connect(server, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))
        assert (await _recv(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": SUBSCRIPTION}}))
        await asyncio.sleep(0.3)
        assert await store.revoke(account.id, session.id)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await _recv(ws, timeout=10)
        assert closed.value.rcvd.code == 4403


async def test_redis_down_refuses_operations_but_keeps_the_socket(
    migrated, server_env, private_redis, clean
):
    # Sessions live in Redis: while it is down, an operation cannot check its session, so it is
    # refused with a retryable error; the socket is not closed as if the session were revoked.
    from tests.test_messaging_live import mint_session

    account = await create_patient(email="redisdown@example.fr")
    token = await mint_session(private_redis.url, account)
    env = {**server_env, "REDIS_URL": private_redis.url}
    with carnet_server(env) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init",
                                      "payload": {"Authorization": f"Bearer {token}"}}))
            assert (await _recv(ws))["type"] == "connection_ack"
            private_redis.stop()
            await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": "query { me { id } }"}}))
            refused = await _recv(ws, timeout=20)
            assert refused["type"] == "error" and refused["id"] == "1"
            assert refused["payload"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            await ws.send(json.dumps({"type": "ping"}))
            assert (await _recv_any(ws))["type"] == "pong"


async def _recv_any(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))
