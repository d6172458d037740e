"""Sessions: bearer tokens, listing and revoking, logout, idle/absolute expiry, sensitive
changes (password, contact) with the current password and a fresh code, WebSocket auth."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import httpx
import pytest
import websockets

from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import LOGIN, ME, code_from, sign_in

SESSIONS = "query { mySessions { id current address userAgent } }"
REVOKE = """mutation R($id: ID!) { revokeSession(id: $id) { __typename
  ... on SessionRevoked { id } ... on Error { message } } }"""


async def test_tokens_are_new_at_every_login_and_listed(gql, notifier, clean):
    await create_patient(email="multi@example.fr")
    first = await sign_in(gql, notifier, "multi@example.fr", PASSWORD)
    second = await sign_in(gql, notifier, "multi@example.fr", PASSWORD)
    assert first != second
    sessions = (await gql(SESSIONS, token=second))["data"]["mySessions"]
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1


async def test_revoke_one_of_my_sessions_but_not_someone_elses(gql, notifier, clean):
    await create_patient(email="me@example.fr")
    await create_patient(email="other@example.fr")
    mine_a = await sign_in(gql, notifier, "me@example.fr", PASSWORD)
    mine_b = await sign_in(gql, notifier, "me@example.fr", PASSWORD)
    theirs = await sign_in(gql, notifier, "other@example.fr", PASSWORD)
    their_id = (await gql(SESSIONS, token=theirs))["data"]["mySessions"][0]["id"]
    refused = await gql(REVOKE, {"id": their_id}, token=mine_a)
    assert refused["data"]["revokeSession"]["__typename"] == "SessionNotFound"
    assert (await gql(ME, token=theirs))["data"]["me"] is not None

    b_id = next(s["id"] for s in (await gql(SESSIONS, token=mine_b))["data"]["mySessions"]
                if s["current"])
    done = await gql(REVOKE, {"id": b_id}, token=mine_a)
    assert done["data"]["revokeSession"] == {"__typename": "SessionRevoked", "id": b_id}
    assert (await gql(ME, token=mine_b))["data"]["me"] is None
    assert (await gql(ME, token=mine_a))["data"]["me"] is not None


async def test_logout_and_logout_everywhere(gql, notifier, clean):
    await create_patient(email="bye@example.fr")
    a = await sign_in(gql, notifier, "bye@example.fr", PASSWORD)
    b = await sign_in(gql, notifier, "bye@example.fr", PASSWORD)
    c = await sign_in(gql, notifier, "bye@example.fr", PASSWORD)
    out = await gql("mutation { logout { sessionsClosed } }", token=a)
    assert out["data"]["logout"]["sessionsClosed"] == 1
    assert (await gql(ME, token=a))["data"]["me"] is None
    everywhere = await gql("mutation { logoutEverywhere { sessionsClosed } }", token=b)
    assert everywhere["data"]["logoutEverywhere"]["sessionsClosed"] == 2
    for token in (b, c):
        assert (await gql(ME, token=token))["data"]["me"] is None


async def test_protected_fields_need_a_session(gql, clean):
    body = await gql(SESSIONS)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    bogus = await gql(SESSIONS, token="not-a-real-token")
    assert bogus["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_mutations_over_get_are_refused_and_not_executed(client, gql, notifier, clean):
    await create_patient(email="get@example.fr")
    token = await sign_in(gql, notifier, "get@example.fr", PASSWORD)
    query = "mutation { logout { sessionsClosed } }"
    response = await client.get("/graphql", params={"query": query},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (400, 405)
    assert "mutations are not allowed" in response.text
    assert (await gql(ME, token=token))["data"]["me"] is not None


async def test_idle_and_absolute_expiry(app, notifier, clean):
    from backend.identity import services
    from backend.identity.sessions import SessionStore

    kv = app.state.runtime.kv
    key = app.state.runtime.settings.master_key()
    idle = SessionStore(kv, key, idle=1, absolute=60)
    token, _ = await idle.create(account_id=1, role="patient", address="a", user_agent="u")
    await asyncio.sleep(0.6)
    assert await idle.resolve(token) is not None  # use refreshes the idle timer
    await asyncio.sleep(0.6)
    assert await idle.resolve(token) is not None
    await asyncio.sleep(1.2)
    assert await idle.resolve(token) is None

    absolute = SessionStore(kv, key, idle=60, absolute=1)
    token, _ = await absolute.create(account_id=1, role="patient", address="a", user_agent="u")
    for _ in range(3):
        await asyncio.sleep(0.45)
        resolved = await absolute.resolve(token)
    assert resolved is None, "activity must not extend a session past its absolute expiry"
    assert services.bearer_token("Bearer abc") == "abc"
    assert services.bearer_token("Basic abc") is None


class CountingKV:
    """The app's key-value store, counting the commands sent through it."""

    def __init__(self, kv) -> None:
        self.kv, self.calls = kv, []

    def __getattr__(self, name):
        method = getattr(self.kv, name)

        async def counted(*args, **kwargs):
            self.calls.append(name)
            return await method(*args, **kwargs)
        return counted


async def test_the_idle_timer_is_refreshed_at_most_once_a_minute(app, clean):
    from datetime import UTC, datetime, timedelta

    from backend.identity.sessions import SessionStore

    now = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC)]
    kv = CountingKV(app.state.runtime.kv)
    store = SessionStore(kv, app.state.runtime.settings.master_key(), idle=1800,
                         absolute=43_200, clock=lambda: now[0])
    token, record = await store.create(account_id=1, role="patient", address="a",
                                       user_agent="u")
    kv.calls.clear()
    now[0] += timedelta(seconds=20)
    assert (await store.resolve(token)).id == record.id
    now[0] += timedelta(seconds=39)
    assert (await store.resolve(token)).id == record.id
    assert kv.calls == ["get", "get"]  # two requests within a minute: no SET at all
    now[0] += timedelta(seconds=2)  # 61 s after the last refresh (the login)
    refreshed = await store.resolve(token)
    assert kv.calls.count("set") == 1
    assert refreshed.last_seen_at == now[0].isoformat()
    ttl = await app.state.runtime.kv.client.ttl(
        app.state.runtime.settings.redis_key_prefix + "session:token:" + store._hash(token))
    assert 1790 <= ttl <= 1800
    kv.calls.clear()
    now[0] += timedelta(seconds=30)
    assert await store.resolve(token) is not None
    now[0] += timedelta(seconds=29)
    assert await store.resolve(token) is not None
    assert kv.calls.count("set") == 0  # one SET for the requests of that minute


async def test_a_revoked_session_is_refused_at_once_between_refreshes(app, clean):
    from datetime import UTC, datetime, timedelta

    from backend.identity.sessions import SessionStore

    now = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC)]
    kv = CountingKV(app.state.runtime.kv)
    store = SessionStore(kv, app.state.runtime.settings.master_key(), idle=1800,
                         absolute=43_200, clock=lambda: now[0])
    token, record = await store.create(account_id=7, role="patient", address="a",
                                       user_agent="u")
    other, _ = await store.create(account_id=7, role="patient", address="b", user_agent="u")
    now[0] += timedelta(seconds=5)
    assert await store.resolve(token) is not None  # not refreshed (5 s after login)
    assert await store.revoke(7, record.id)
    now[0] += timedelta(seconds=1)
    assert await store.resolve(token) is None  # the very next request
    assert await store.resolve(other) is not None
    assert await store.revoke_all(7) != []
    assert await store.resolve(other) is None


async def test_tokens_are_stored_only_as_keyed_hashes(app, gql, notifier, clean):
    await create_patient(email="hash@example.fr")
    token = await sign_in(gql, notifier, "hash@example.fr", PASSWORD)
    redis = app.state.runtime.kv.client
    keys = [k async for k in redis.scan_iter("*")]
    values = [await redis.get(k) for k in keys if await redis.type(k) == "string"]
    assert all(token not in k for k in keys)
    assert all(token not in (v or "") for v in values)


PASSWORD_REQUEST = """mutation P($pw: String!) { requestPasswordChange(currentPassword: $pw) {
  __typename ... on LoginChallenge { challengeId } ... on Error { message } } }"""
PASSWORD_CONFIRM = """mutation C($c: String!, $k: String!, $n: String!) {
  confirmPasswordChange(challengeId: $c, code: $k, newPassword: $n) {
    __typename ... on Error { message } } }"""


async def test_change_password_needs_current_password_and_a_fresh_code(gql, notifier, clean):
    await create_patient(email="pw@example.fr")
    here = await sign_in(gql, notifier, "pw@example.fr", PASSWORD)
    elsewhere = await sign_in(gql, notifier, "pw@example.fr", PASSWORD)

    wrong = await gql(PASSWORD_REQUEST, {"pw": "not my password"}, token=here)
    assert wrong["data"]["requestPasswordChange"]["__typename"] == "InvalidCredentials"

    asked = await gql(PASSWORD_REQUEST, {"pw": PASSWORD}, token=here)
    challenge_id = asked["data"]["requestPasswordChange"]["challengeId"]
    code = code_from(notifier.last(to="pw@example.fr").text)
    weak = await gql(PASSWORD_CONFIRM, {"c": challenge_id, "k": code, "n": "short"}, token=here)
    assert weak["data"]["confirmPasswordChange"]["__typename"] == "WeakPassword"
    # A login challenge's code cannot be used to change the password.
    login_body = await gql(LOGIN, {"identifier": "pw@example.fr", "password": PASSWORD})
    login_id = login_body["data"]["login"]["challengeId"]
    mixed = await gql(PASSWORD_CONFIRM, {"c": login_id, "k": code_from(notifier.last().text),
                                         "n": "a brand new passphrase"}, token=here)
    assert mixed["data"]["confirmPasswordChange"]["__typename"] == "CodeExpired"

    done = await gql(PASSWORD_CONFIRM, {"c": challenge_id, "k": code,
                                        "n": "a brand new passphrase"}, token=here)
    assert done["data"]["confirmPasswordChange"]["__typename"] == "PasswordChanged"
    assert (await gql(ME, token=here))["data"]["me"] is not None
    assert (await gql(ME, token=elsewhere))["data"]["me"] is None
    old = await gql(LOGIN, {"identifier": "pw@example.fr", "password": PASSWORD})
    assert old["data"]["login"]["__typename"] == "InvalidCredentials"
    await sign_in(gql, notifier, "pw@example.fr", "a brand new passphrase")


async def test_change_email_sends_the_code_to_the_new_address(gql, notifier, clean):
    account = await create_patient(email="old@example.fr")
    token = await sign_in(gql, notifier, "old@example.fr", PASSWORD)
    request = """mutation R($pw: String!, $e: String) {
      requestContactChange(currentPassword: $pw, email: $e) {
        __typename ... on LoginChallenge { challengeId maskedDestination }
        ... on InvalidInput { field } } }"""
    bad = await gql(request, {"pw": PASSWORD, "e": "not-an-email"}, token=token)
    assert bad["data"]["requestContactChange"] == {"__typename": "InvalidInput",
                                                   "field": "email"}
    asked = await gql(request, {"pw": PASSWORD, "e": "new@example.fr"}, token=token)
    challenge_id = asked["data"]["requestContactChange"]["challengeId"]
    code = code_from(notifier.last(to="new@example.fr").text)
    confirm = """mutation C($c: String!, $k: String!) { confirmContactChange(challengeId: $c,
      code: $k) { __typename ... on Me { email } } }"""
    done = await gql(confirm, {"c": challenge_id, "k": code}, token=token)
    assert done["data"]["confirmContactChange"] == {"__typename": "Me",
                                                    "email": "new@example.fr"}
    await account.refresh_from_db()
    assert account.email == "new@example.fr" and account.email_verified


@pytest.fixture(scope="module")
def ws_server(migrated, server_env):
    from tests.servers import carnet_server

    # The fallback sweep is pushed out of the way: what these tests see comes from the
    # per-operation check or from the revocation announcement, never from polling.
    with carnet_server({**server_env, "WS_SESSION_CHECK_SECONDS": "300"}) as base:
        yield base


async def test_websocket_authenticates_in_connection_init(ws_server, gql, notifier, clean):
    # The in-process app and the server share PostgreSQL, Redis and the master key, so a
    # session opened here is valid there.
    await create_patient(email="ws@example.fr")
    token = await sign_in(gql, notifier, "ws@example.fr", PASSWORD)
    url = ws_server.replace("http://", "ws://") + "/graphql"

    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"

    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": "Bearer forged-token"}}))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4403


TRANSPORT_WS = ("graphql-transport-ws", "subscribe", "next")
LEGACY_WS = ("graphql-ws", "start", "data")
ANNOUNCEMENTS = "subscription { announcementAdded { id } }"


async def _ws_recv(ws, timeout: float = 10.0) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] not in ("ping", "pong", "ka"):
            return message


@asynccontextmanager
async def _socket(base: str, token: str, protocol: tuple[str, str, str] = TRANSPORT_WS):
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[protocol[0]]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))
        assert (await _ws_recv(ws))["type"] == "connection_ack"
        yield ws


async def _operation(ws, op_id: str, query: str, protocol=TRANSPORT_WS) -> None:
    await ws.send(json.dumps({"id": op_id, "type": protocol[1], "payload": {"query": query}}))


async def _closed_for_session(ws, timeout: float = 10.0) -> None:
    """The server closes the socket with 4403, having answered nothing more."""
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        while True:
            message = await _ws_recv(ws, timeout)
            assert message["type"] not in ("next", "data"), message
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def _session_id(gql, token: str) -> str:
    sessions = (await gql(SESSIONS, token=token))["data"]["mySessions"]
    return next(s["id"] for s in sessions if s["current"])


async def _revoke_silently(app, account_email: str, session_id: str) -> None:
    """Revoke in Redis without announcing it, as if the announcement were lost: only the
    per-operation check (or the slow fallback sweep) can notice."""
    from backend.identity.lookup import accounts_by_email
    from backend.identity.services import session_store

    [account] = await accounts_by_email(account_email)
    assert await session_store(app.state.runtime).revoke(account.id, session_id)


@pytest.mark.parametrize(("protocol", "operation"), [
    (TRANSPORT_WS, ME),
    (TRANSPORT_WS, "mutation { logout { sessionsClosed } }"),
    (TRANSPORT_WS, ANNOUNCEMENTS),
    (LEGACY_WS, ANNOUNCEMENTS),  # the legacy protocol runs subscriptions only
], ids=["transport-query", "transport-mutation", "transport-subscription",
        "legacy-subscription"])
async def test_every_operation_on_a_socket_checks_its_session(
    ws_server, app, gql, notifier, clean, protocol, operation
):
    await create_patient(email="wsop@example.fr")
    token = await sign_in(gql, notifier, "wsop@example.fr", PASSWORD)
    session_id = await _session_id(gql, token)
    async with _socket(ws_server, token, protocol) as ws:
        if protocol is TRANSPORT_WS:
            await _operation(ws, "1", ME, protocol)
            answer = await _ws_recv(ws)
            assert answer["type"] == "next"
            assert answer["payload"]["data"]["me"]["identifier"] == "wsop@example.fr"
        await _revoke_silently(app, "wsop@example.fr", session_id)
        await _operation(ws, "2", operation, protocol)
        await _closed_for_session(ws)


async def test_logout_closes_that_sessions_sockets_at_once(ws_server, gql, notifier, clean):
    # Announced on the broker by this (in-process) app, received by the server process, which
    # closes its sockets of that session; other sessions' sockets stay open.
    await create_patient(email="wsout@example.fr")
    here = await sign_in(gql, notifier, "wsout@example.fr", PASSWORD)
    there = await sign_in(gql, notifier, "wsout@example.fr", PASSWORD)
    async with _socket(ws_server, here) as mine, _socket(ws_server, there) as other, \
            _socket(ws_server, there, LEGACY_WS) as other_legacy:
        await _operation(mine, "1", ANNOUNCEMENTS)
        await _operation(other, "1", ANNOUNCEMENTS)
        await _operation(other_legacy, "1", ANNOUNCEMENTS, LEGACY_WS)
        assert (await gql("mutation { logout { sessionsClosed } }", token=here))[
            "data"]["logout"]["sessionsClosed"] == 1
        await _closed_for_session(mine, timeout=5)
        await _operation(other, "2", ME)
        assert (await _ws_recv(other))["payload"]["data"]["me"] is not None

        everywhere = await gql("mutation { logoutEverywhere { sessionsClosed } }", token=there)
        assert everywhere["data"]["logoutEverywhere"]["sessionsClosed"] == 1
        await _closed_for_session(other, timeout=5)
        await _closed_for_session(other_legacy, timeout=5)


async def test_a_password_change_closes_the_other_sessions_sockets(
    ws_server, gql, notifier, clean
):
    await create_patient(email="wspw@example.fr")
    here = await sign_in(gql, notifier, "wspw@example.fr", PASSWORD)
    elsewhere = await sign_in(gql, notifier, "wspw@example.fr", PASSWORD)
    async with _socket(ws_server, here) as mine, _socket(ws_server, elsewhere) as other:
        await _operation(other, "1", ANNOUNCEMENTS)
        asked = await gql(PASSWORD_REQUEST, {"pw": PASSWORD}, token=here)
        challenge_id = asked["data"]["requestPasswordChange"]["challengeId"]
        code = code_from(notifier.last(to="wspw@example.fr").text)
        done = await gql(PASSWORD_CONFIRM, {"c": challenge_id, "k": code,
                                            "n": "a brand new passphrase"}, token=here)
        assert done["data"]["confirmPasswordChange"]["__typename"] == "PasswordChanged"
        await _closed_for_session(other, timeout=5)
        await _operation(mine, "1", ME)
        assert (await _ws_recv(mine))["payload"]["data"]["me"] is not None


@pytest.mark.slow
async def test_revoking_through_one_worker_closes_the_socket_on_another(
    migrated, server_env, gql, notifier, clean
):
    """Two real server processes sharing PostgreSQL and Redis: the socket is on A, the
    revocation goes through B, and A closes the socket within seconds (announced, not polled:
    the fallback sweep is set to 300 s)."""
    from tests.servers import carnet_server

    env = {**server_env, "WS_SESSION_CHECK_SECONDS": "300"}
    await create_patient(email="wsab@example.fr")
    victim = await sign_in(gql, notifier, "wsab@example.fr", PASSWORD)
    revoker = await sign_in(gql, notifier, "wsab@example.fr", PASSWORD)
    victim_id = await _session_id(gql, victim)
    with carnet_server(env) as worker_a, carnet_server(env) as worker_b:
        async with _socket(worker_a, victim) as ws:
            await _operation(ws, "1", ANNOUNCEMENTS)
            await _operation(ws, "2", ME)
            assert (await _ws_recv(ws))["payload"]["data"]["me"] is not None
            async with httpx.AsyncClient(base_url=worker_b, timeout=20) as http:
                body = (await http.post("/graphql", json={
                    "query": REVOKE, "variables": {"id": victim_id}},
                    headers={"Authorization": f"Bearer {revoker}"})).json()
            assert body["data"]["revokeSession"] == {"__typename": "SessionRevoked",
                                                     "id": victim_id}
            await _closed_for_session(ws, timeout=5)


async def test_each_operation_on_a_socket_gets_fresh_data_loaders(ws_server, gql, notifier, clean):
    # A socket keeps one context for its whole life; were its DataLoaders kept too, a second
    # query would answer from the first one's cache (here: a participant added in between
    # would stay invisible for as long as the socket lives).
    from backend.messaging.models import Participant
    from tests.messaging_helpers import CONVERSATIONS, people, start

    cast = await people(gql, notifier)
    doctor, doctor_token = cast["doctor"]
    started = await start(gql, doctor_token, cast["patient"][0])
    conversation_id = started["conversation"]["id"]
    query = {"query": CONVERSATIONS, "variables": {"first": 5}}

    async def participant_count(ws, op_id: str) -> int:
        await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": query}))
        answer = await _ws_recv(ws)
        while answer["type"] == "complete":  # the previous operation's end
            answer = await _ws_recv(ws)
        assert answer["type"] == "next" and answer["id"] == op_id, answer
        edges = answer["payload"]["data"]["conversations"]["edges"]
        return len(next(e["node"]["participants"] for e in edges
                        if e["node"]["id"] == conversation_id))

    async with _socket(ws_server, doctor_token) as ws:
        assert await participant_count(ws, "1") == 2
        await Participant.create(conversation_id=conversation_id, account=cast["nurse"][0])
        assert await participant_count(ws, "2") == 3
