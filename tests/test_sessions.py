"""Sessions: bearer tokens, listing and revoking, logout, idle/absolute expiry, sensitive
changes (password, contact) with the current password and a fresh code, WebSocket auth."""

from __future__ import annotations

import asyncio
import json

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

    with carnet_server(server_env) as base:
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
