"""Live messaging against real servers: catch-up from a cursor without loss or duplicates,
two workers, Redis restarted, PostgreSQL connections killed, revoked sessions."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
import websockets

from backend.identity.models import Account
from backend.identity.sessions import SessionStore
from backend.kv import RedisKeyValueStore, redis_client
from backend.settings import decode_master_key
from tests.conftest import MASTER_KEY, PG_ADMIN_URL, REDIS_PREFIX
from tests.factories import create_patient, create_professional
from tests.messaging_helpers import patient_identity
from tests.servers import PrivateRedis, carnet_server

ADDED = """subscription Added($c: ID!, $after: String) {
  messageAdded(conversationId: $c, after: $after) { body cursor isMine } }"""
INBOX = "subscription Inbox($after: String) { inbox(after: $after) { body cursor } }"
LATEST = "query Latest { messagingSummary { latestCursor } }"
SEND = """mutation Send($c: ID!, $body: String!) { sendMessage(conversationId: $c, body: $body) {
  __typename ... on MessageSent { sentMessage { cursor } } } }"""
START = """mutation Start($input: StartConversationInput!) { startConversation(input: $input) {
  __typename ... on ConversationStarted { conversation { id } firstMessage { cursor } } } }"""


async def mint_session(redis_url: str, account: Account) -> str:
    """A real session in the server's Redis (what a login would create)."""
    client = redis_client(redis_url)
    store = SessionStore(RedisKeyValueStore(client, prefix=REDIS_PREFIX),
                         decode_master_key(MASTER_KEY), idle=1800, absolute=43200)
    token, _ = await store.create(account_id=account.id, role=account.role.value,
                                  address="127.0.0.1", user_agent="tests",
                                  person_id=account.person_id,
                                  professional_id=account.professional_id)
    await client.aclose()
    return token


class Api:
    def __init__(self, base: str) -> None:
        self.base = base

    async def __call__(self, query: str, variables: dict, token: str, *, retry_for: float = 0
                       ) -> dict:
        deadline = time.monotonic() + retry_for
        async with httpx.AsyncClient(base_url=self.base, timeout=20) as http:
            while True:
                body = (await http.post("/graphql", json={"query": query, "variables": variables},
                                        headers={"Authorization": f"Bearer {token}"})).json()
                if not body.get("errors") or time.monotonic() > deadline:
                    return body
                await asyncio.sleep(0.2)

    async def send(self, conversation_id: str, body: str, token: str, retry_for: float = 0
                   ) -> str:
        result = await self(SEND, {"c": conversation_id, "body": body}, token,
                            retry_for=retry_for)
        assert result["data"]["sendMessage"]["__typename"] == "MessageSent", result
        return result["data"]["sendMessage"]["sentMessage"]["cursor"]


@asynccontextmanager
async def subscription(base: str, token: str, query: str, variables: dict):
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": query, "variables": variables}}))
        yield ws


async def receive_items(ws, count: int, timeout: float = 45.0) -> list[dict]:
    items: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(items) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"got only {items}"
        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if message["type"] == "next":
            assert "errors" not in message["payload"], message
            data = message["payload"]["data"]
            items.append(next(iter(data.values())))
        elif message["type"] in ("error", "complete"):
            raise AssertionError(message)
    return items


async def receive(ws, count: int, timeout: float = 45.0) -> list[str]:
    return [item["body"] for item in await receive_items(ws, count, timeout)]


async def quiet(ws, seconds: float = 0.7) -> None:
    """Nothing more arrives (no duplicates)."""
    with pytest.raises(TimeoutError):
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), seconds))
            if message["type"] == "next":
                raise AssertionError(f"unexpected extra message {message}")


async def setup_conversation(api: Api, redis_url: str) -> tuple[str, str, str, str]:
    patient = await create_patient(email="live-patient@example.fr")
    doctor = await create_professional(email="live-doctor@example.fr")
    p_token = await mint_session(redis_url, patient)
    d_token = await mint_session(redis_url, doctor)
    started = await api(START, {"input": {"subject": "Suivi", "body": "m0",
                                          "patient": await patient_identity(patient)}}, d_token)
    conv_id = started["data"]["startConversation"]["conversation"]["id"]
    return conv_id, p_token, d_token, started["data"]["startConversation"]["firstMessage"][
        "cursor"]


@pytest.fixture
def live_env(server_env):
    return {**server_env, "WS_SESSION_CHECK_SECONDS": "0.5"}


async def test_resume_from_cursor_exactly_the_missed_ones_then_live(migrated, live_env,
                                                                    redis_url, clean):
    with carnet_server(live_env) as base:
        api = Api(base)
        conv_id, p_token, d_token, _ = await setup_conversation(api, redis_url)
        latest = await api(LATEST, {}, d_token)
        inbox_cursor = latest["data"]["messagingSummary"]["latestCursor"]
        seen_cursor = await api.send(conv_id, "m1", d_token)
        for body in ("m2", "m3", "m4"):
            await api.send(conv_id, body, d_token)
        async with subscription(base, p_token, ADDED, {"c": conv_id, "after": seen_cursor}) as ws:
            assert await receive(ws, 3) == ["m2", "m3", "m4"]
            await api.send(conv_id, "m5", d_token)
            await api.send(conv_id, "m6", p_token)
            assert await receive(ws, 2) == ["m5", "m6"]
            await quiet(ws)
        async with subscription(base, d_token, INBOX, {"after": inbox_cursor}) as ws:
            got = await receive_items(ws, 6)
            assert [m["body"] for m in got] == ["m1", "m2", "m3", "m4", "m5", "m6"]
            await quiet(ws)
        # Resuming from the cursor of an item the inbox gave: exactly what came after it.
        async with subscription(base, d_token, INBOX, {"after": got[3]["cursor"]}) as ws:
            assert await receive(ws, 2) == ["m5", "m6"]
            await api.send(conv_id, "m7", p_token)
            assert await receive(ws, 1) == ["m7"]
            await quiet(ws)


async def test_a_message_sent_through_one_worker_reaches_subscribers_on_another(
    migrated, live_env, redis_url, clean
):
    # Two server processes sharing PostgreSQL and Redis, as two workers would; the second
    # test below uses `--workers 2` itself.
    with carnet_server(live_env) as first, carnet_server(live_env) as second:
        conv_id, p_token, d_token, _ = await setup_conversation(Api(first), redis_url)
        async with subscription(first, p_token, ADDED, {"c": conv_id}) as ws:
            await asyncio.sleep(0.3)
            for i in range(5):
                await Api(second).send(conv_id, f"via second {i}", d_token)
            assert await receive(ws, 5) == [f"via second {i}" for i in range(5)]
            await quiet(ws)


async def test_carnet_serve_with_two_workers(migrated, live_env, redis_url, clean):
    with carnet_server(live_env, workers=2) as base:
        api = Api(base)
        conv_id, p_token, d_token, _ = await setup_conversation(api, redis_url)
        subscribers = []
        try:
            for _ in range(4):  # several connections: they land on both workers
                cm = subscription(base, p_token, ADDED, {"c": conv_id})
                subscribers.append((cm, await cm.__aenter__()))
            await asyncio.sleep(0.5)
            expected = [f"w{i}" for i in range(10)]
            for body in expected:
                await api.send(conv_id, body, d_token)
            for _, ws in subscribers:
                assert await receive(ws, 10) == expected
        finally:
            for cm, _ in subscribers:
                await cm.__aexit__(None, None, None)


async def test_redis_restarted_mid_conversation_loses_nothing(migrated, live_env, clean):
    redis = PrivateRedis(persistent=True)
    redis.start()
    try:
        env = {**live_env, "REDIS_URL": redis.url}
        with carnet_server(env) as base:
            api = Api(base)
            conv_id, p_token, d_token, _ = await setup_conversation(api, redis.url)
            async with subscription(base, p_token, ADDED, {"c": conv_id}) as ws:
                await asyncio.sleep(0.3)
                await api.send(conv_id, "before", d_token)
                assert await receive(ws, 1) == ["before"]
                redis.stop()
                redis.start()
                # Right after the restart, before the server's pub/sub has reconnected:
                # these announcements may be lost; catch-up must deliver the messages.
                await api.send(conv_id, "after 1", d_token, retry_for=10)
                await api.send(conv_id, "after 2", d_token, retry_for=10)
                assert await receive(ws, 2, timeout=45) == ["after 1", "after 2"]
                await api.send(conv_id, "live again", d_token)
                assert await receive(ws, 1) == ["live again"]
                await quiet(ws)
    finally:
        redis.close()


async def test_postgres_connections_killed_mid_stream(migrated, live_env, redis_url, clean):
    with carnet_server(live_env) as base:
        api = Api(base)
        conv_id, p_token, d_token, _ = await setup_conversation(api, redis_url)
        async with subscription(base, p_token, ADDED, {"c": conv_id}) as ws:
            await asyncio.sleep(0.3)
            await api.send(conv_id, "one", d_token)
            assert await receive(ws, 1) == ["one"]
            admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"))
            database = live_env["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()", database)
            await admin.close()
            assert killed >= 1
            # The API recovers by itself: the first write may fail, later ones go through.
            await api.send(conv_id, "two", d_token, retry_for=10)
            await api.send(conv_id, "three", d_token, retry_for=10)
            assert await receive(ws, 2, timeout=45) == ["two", "three"]
            await quiet(ws)
    # Our own pool lost its connections too: make sure it is usable for the next tests.
    for _ in range(20):
        try:
            await Account.all().count()
            break
        except Exception:
            await asyncio.sleep(0.2)


async def test_a_revoked_session_closes_its_sockets(migrated, live_env, redis_url, clean):
    with carnet_server(live_env) as base:
        api = Api(base)
        conv_id, p_token, _, _ = await setup_conversation(api, redis_url)
        async with subscription(base, p_token, ADDED, {"c": conv_id}) as ws:
            await asyncio.sleep(0.3)
            out = await api("mutation { logout { sessionsClosed } }", {}, p_token)
            assert out["data"]["logout"]["sessionsClosed"] == 1
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 4403


async def test_subscriptions_need_a_participant(migrated, live_env, redis_url, clean):
    with carnet_server(live_env) as base:
        conv_id, _, _, _ = await setup_conversation(Api(base), redis_url)
        outsider = await create_professional(email="outsider@example.fr")
        token = await mint_session(redis_url, outsider)
        async with subscription(base, token, ADDED, {"c": conv_id}) as ws:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] in ("error", "next")
            text = json.dumps(message)
            assert "introuvable" in text
