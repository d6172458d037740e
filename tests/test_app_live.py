"""Apps' access tokens on websockets against a real server (issue 14 part 4): an app holding
`agenda:read` hears its patient's `agendaChanged`, read as the patient's agenda, and each event
sent is in the patient's access log (ground APP, the app's id and name); holding
`messages:read`, it follows `messageAdded` and `inbox` (each message logged, kind MESSAGES);
without the scope, the typed refusal (INSUFFICIENT_SCOPE, the scope missing), as over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from backend.audit.models import AccessGround, AccessKind, AccessLogEntry
from backend.identity.models import Person
from backend.live_sockets import SESSION_CLOSED
from tests.access_helpers import make_professional
from tests.catalogue_helpers import referenced
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.messaging_helpers import patient_identity
from tests.servers import carnet_server
from tests.test_app_access import app_token
from tests.test_carers_live import (
    CHANGED,
    INBOX,
    _appointment,
    _change,
    _closed_with,
    _quiet,
    _recv,
    _refusal,
    _socket,
    _subscribed,
)
from tests.test_messaging_live import SEND, START

ADDED = """subscription Added($c: ID!, $after: String) {
  messageAdded(conversationId: $c, after: $after) { body isMine } }"""
INBOX_AFTER = """subscription Inbox($after: String) { inbox(after: $after) { body } }"""
LATEST = "query { messagingSummary { latestCursor } }"
REVOKE_APP = """mutation R($a: ID!) { revokeAppAccess(appId: $a) { __typename } }"""


@pytest.fixture(scope="module")
def server(migrated, server_env) -> Iterator[str]:
    with carnet_server({**server_env, "WS_SESSION_CHECK_SECONDS": "300"}) as base:
        yield base.replace("http://", "ws://") + "/graphql"


@pytest.fixture
async def world(app, client, clean, gql, notifier):
    account = await create_patient(email="alice-app-live@example.fr")
    other = await create_patient(email="bob-app-live@example.fr")
    token = await sign_in(gql, notifier, "alice-app-live@example.fr", PASSWORD)
    scopes = [{"scope": s, "optional": True} for s in
              ("profile:read", "agenda:read", "messages:read")]
    reader = await referenced(name="Carnet Lecteur", scopes=scopes)
    person = await Person.get(id=account.person_id)
    return SimpleNamespace(app=app, client=client, gql=gql, notifier=notifier, token=token,
                           account=account, other=other, person=person,
                           catalogue_app=reader)


async def _app_entries(world) -> list[AccessLogEntry]:
    return await AccessLogEntry.filter(patient_id=world.person.id).order_by("seq")


async def test_an_app_with_agenda_read_hears_its_patients_agenda_each_event_logged(
        server, world):
    bearer = await app_token(world, ["agenda:read"])
    async with _socket(server, bearer) as ws:
        await _subscribed(ws)  # RESYNC: nothing read, nothing logged
        assert await _app_entries(world) == []
        first = await _appointment(world.app, world.account, "Cardiologie")
        assert await _change(ws) == {"kind": "CREATED", "appointmentId": first,
                                     "appointment": {"reason": "Cardiologie"}}
        await _appointment(world.app, world.other, "Dentiste")  # another patient's
        await _quiet(ws)
        second = await _appointment(world.app, world.account, "Ophtalmologie")
        assert (await _change(ws))["appointmentId"] == second
    entries = await _app_entries(world)
    assert [(e.kind, e.ground, e.app_id, e.app_name, e.account_id) for e in entries] == [
        (AccessKind.AGENDA, AccessGround.APP, world.catalogue_app.id, "Carnet Lecteur",
         world.account.id)] * 2


async def test_an_app_without_the_scope_is_refused_with_the_missing_scope(server, world):
    bearer = await app_token(world, ["profile:read"])
    async with _socket(server, bearer) as ws:
        agenda = await _refusal(ws, "1", CHANGED)
        assert agenda[0]["extensions"] == {"code": "INSUFFICIENT_SCOPE",
                                           "missingScopes": ["agenda:read"]}
        inbox = await _refusal(ws, "2", INBOX)
        assert inbox[0]["extensions"] == {"code": "INSUFFICIENT_SCOPE",
                                          "missingScopes": ["messages:read"]}
        added = await _refusal(ws, "3", 'subscription { messageAdded(conversationId: "x") '
                                        "{ body } }")
        assert added[0]["extensions"]["missingScopes"] == ["messages:read"]
        # The socket stays usable for what the app may do: nothing was sent meanwhile.
        await _appointment(world.app, world.account, "Rien")
        await _quiet(ws)
    assert await _app_entries(world) == []


async def test_an_app_with_messages_read_follows_the_conversations_each_logged(server, world):
    await make_professional(email="dr-app-live@example.fr")
    doctor_token = await sign_in(world.gql, world.notifier, "dr-app-live@example.fr", PASSWORD)
    started = await world.gql(START, {"input": {
        "subject": "Suivi", "body": "m0", "patient": await patient_identity(world.account)}},
        token=doctor_token)
    assert started["data"]["startConversation"]["__typename"] == "ConversationStarted", started
    conversation = started["data"]["startConversation"]["conversation"]["id"]
    first_cursor = started["data"]["startConversation"]["firstMessage"]["cursor"]
    latest = (await world.gql(LATEST, token=world.token))["data"]["messagingSummary"][
        "latestCursor"]
    bearer = await app_token(world, ["messages:read"])
    async with _socket(server, bearer) as ws:
        # From the cursors past m0: what is sent next arrives, whenever the subscriptions start.
        for op_id, query, variables in (("1", INBOX_AFTER, {"after": latest}),
                                        ("2", ADDED, {"c": conversation,
                                                      "after": first_cursor})):
            await ws.send(json.dumps({"id": op_id, "type": "subscribe",
                                      "payload": {"query": query, "variables": variables}}))
        sent = await world.gql(SEND, {"c": conversation, "body": "m1"}, token=doctor_token)
        assert sent["data"]["sendMessage"]["__typename"] == "MessageSent", sent
        got = {}
        for _ in range(2):
            message = await _recv(ws, 15)
            assert message["type"] == "next", message
            got[message["id"]] = message["payload"]["data"]
    assert got["1"]["inbox"]["body"] == "m1"
    assert got["2"]["messageAdded"] == {"body": "m1", "isMine": False}
    entries = await _app_entries(world)
    assert [(e.kind, e.ground, e.app_id) for e in entries] == [
        (AccessKind.MESSAGES, AccessGround.APP, world.catalogue_app.id)] * 2


async def test_revoking_the_app_closes_its_open_socket_at_once(server, world):
    """The patient's revocation is announced: the app's socket closes without waiting for an
    event or for the sweep (300 s here)."""
    bearer = await app_token(world, ["agenda:read"])
    async with _socket(server, bearer) as ws:
        await _subscribed(ws)
        revoked = await world.gql(REVOKE_APP, {"a": str(world.catalogue_app.id)},
                                  token=world.token)
        assert revoked["data"]["revokeAppAccess"]["__typename"] == "AppAccessRevoked", revoked
        await _closed_with(ws, SESSION_CLOSED)
