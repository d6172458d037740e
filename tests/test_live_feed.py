"""messageAdded frames written past Strawberry (backend/messaging/subscriptions.py's
ConversationFeed, backend/live_frames.py's LiveMember): the same encoded payload for every
socket of a (operation, variables, visibility), only the subscription id differing; both
protocols; resumption from a cursor while others are live; a socket that cannot keep up is
closed with SLOW_CONSUMER without stalling the others; errors masked."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from backend import live_frames
from backend.live_frames import FRAME_FAILED, SLOW_CONSUMER, FrameTarget, LiveMember
from backend.messaging import services, subscriptions
from tests.attack_matrix import AsgiWebSocket
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in
from tests.messaging_helpers import START, patient_identity

ADDED = """subscription Added($c: ID!, $after: String) {
  messageAdded(conversationId: $c, after: $after) { body cursor isMine authorName } }"""
SEND = """mutation Send($c: ID!, $body: String!) { sendMessage(conversationId: $c, body: $body) {
  __typename ... on MessageSent { sentMessage { cursor } } } }"""


async def _setup(gql, notifier) -> tuple[str, str, str, str]:
    patient = await create_patient(email="feed-patient@example.fr")
    await create_professional(email="feed-doctor@example.fr")
    p_token = await sign_in(gql, notifier, "feed-patient@example.fr", PASSWORD)
    d_token = await sign_in(gql, notifier, "feed-doctor@example.fr", PASSWORD)
    started = await gql(START, {"input": {"subject": "Suivi", "body": "m0",
                                          "patient": await patient_identity(patient)}},
                        token=d_token)
    body = started["data"]["startConversation"]
    return body["conversation"]["id"], p_token, d_token, body["firstMessage"]["cursor"]


async def _send(gql, conv_id: str, body: str, token: str) -> str:
    sent = await gql(SEND, {"c": conv_id, "body": body}, token=token)
    assert sent["data"]["sendMessage"]["__typename"] == "MessageSent", sent
    return sent["data"]["sendMessage"]["sentMessage"]["cursor"]


class RawSocket(AsgiWebSocket):
    """AsgiWebSocket giving the raw text frames; `max_frames` bounds what the app may hand
    over before the test reads (a client that does not read: the app's send blocks)."""

    def __init__(self, app, subprotocol: str = "graphql-transport-ws",
                 max_frames: int = 0) -> None:
        super().__init__(app, subprotocol=subprotocol)
        self._from_app = asyncio.Queue(maxsize=max_frames)

    async def raw(self, timeout: float = 10.0) -> dict:
        """The next event from the app ({"type": "websocket.send", "text": ...} or a close)."""
        return await asyncio.wait_for(self._from_app.get(), timeout)

    async def next_text(self, timeout: float = 10.0) -> str:
        while True:
            event = await self.raw(timeout)
            assert event["type"] == "websocket.send", event
            message = json.loads(event["text"])
            if message["type"] in ("next", "data", "error", "complete"):
                return event["text"]


async def _open(app, token: str, variables: dict, op_id: str,
                subprotocol: str = "graphql-transport-ws", max_frames: int = 0) -> RawSocket:
    ws = RawSocket(app, subprotocol, max_frames)
    await ws.__aenter__()
    await ws.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    ack = json.loads((await ws.raw())["text"])
    assert ack["type"] == "connection_ack", ack
    kind = "start" if subprotocol == "graphql-ws" else "subscribe"
    await ws.send({"id": op_id, "type": kind, "payload": {"query": ADDED,
                                                          "variables": variables}})
    return ws


async def _members(conv_id: str, count: int) -> None:
    """Until `count` sockets have joined this process's feed of the conversation (joining
    happens in the operation's task after the access check: no protocol acknowledgement)."""
    async with asyncio.timeout(10):
        while True:
            feed = subscriptions._feeds.get(uuid.UUID(conv_id))
            if feed is not None and len(feed.members) >= count:
                return
            await asyncio.sleep(0.01)


@pytest.fixture
def renders(monkeypatch):
    calls: list[tuple] = []
    original = LiveMember.render

    async def counting(self, value):
        calls.append((self.account_id, self.static_key[1]))
        return await original(self, value)

    monkeypatch.setattr(LiveMember, "render", counting)
    return calls


async def test_one_execution_per_visibility_and_the_same_bytes_to_every_socket(
    app, gql, notifier, clean, renders
):
    conv_id, p_token, d_token, _ = await _setup(gql, notifier)
    sockets = [await _open(app, p_token, {"c": conv_id}, f"p{i}") for i in range(3)]
    sockets += [await _open(app, d_token, {"c": conv_id}, f'd"{i}') for i in range(2)]
    sockets.append(await _open(app, p_token, {"c": conv_id}, "legacy", "graphql-ws"))
    try:
        await _members(conv_id, len(sockets))
        renders.clear()
        await _send(gql, conv_id, "bonjour", d_token)
        texts = [await ws.next_text() for ws in sockets]
        # Two visibilities (the author, the reader), whatever the number of sockets.
        assert len(renders) == 2
        for text, op_id in zip(texts[:3], ["p0", "p1", "p2"], strict=True):
            message = json.loads(text)
            assert (message["id"], message["type"]) == (op_id, "next")
            added = message["payload"]["data"]["messageAdded"]
            assert (added["body"], added["isMine"]) == ("bonjour", False)
        patient_frames = {t.replace(f'"id":"p{i}"', '"id":""') for i, t in enumerate(texts[:3])}
        assert len(patient_frames) == 1, "the same bytes, only the id differs"
        doctor = [json.loads(t) for t in texts[3:5]]
        assert [m["id"] for m in doctor] == ['d"0', 'd"1']  # ids with quotes stay JSON
        assert all(m["payload"]["data"]["messageAdded"]["isMine"] for m in doctor)
        legacy = json.loads(texts[5])
        assert legacy["type"] == "data" and legacy["id"] == "legacy"
        assert legacy["payload"] == json.loads(texts[0])["payload"]
        for ws in sockets:  # nothing else: no duplicate
            with pytest.raises(TimeoutError):
                await ws.next_text(timeout=0.3)
    finally:
        for ws in sockets:
            await ws.__aexit__(None, None, None)
    await asyncio.sleep(0)
    assert uuid.UUID(conv_id) not in subscriptions._feeds  # the last one out stops the feed


async def test_a_socket_resuming_from_a_cursor_catches_up_while_others_stay_live(
    app, gql, notifier, clean
):
    conv_id, p_token, d_token, first_cursor = await _setup(gql, notifier)
    live = await _open(app, p_token, {"c": conv_id}, "1")
    try:
        await _members(conv_id, 1)
        for body in ("m1", "m2", "m3"):
            await _send(gql, conv_id, body, d_token)
        got = [json.loads(await live.next_text())["payload"]["data"]["messageAdded"]
               for _ in range(3)]
        assert [m["body"] for m in got] == ["m1", "m2", "m3"]
        # Resumed from m1's cursor: exactly m2, m3, then live ones; the live socket gets the
        # live ones once.
        late = await _open(app, d_token, {"c": conv_id, "after": got[0]["cursor"]}, "2")
        try:
            caught = [json.loads(await late.next_text())["payload"]["data"]["messageAdded"]
                      for _ in range(2)]
            assert [m["body"] for m in caught] == ["m2", "m3"]
            assert all(m["isMine"] for m in caught)
            await _send(gql, conv_id, "m4", p_token)
            for ws in (live, late):
                message = json.loads(await ws.next_text())
                assert message["payload"]["data"]["messageAdded"]["body"] == "m4"
                with pytest.raises(TimeoutError):
                    await ws.next_text(timeout=0.3)
        finally:
            await late.__aexit__(None, None, None)
        # Resumed from the conversation's first message on the same feed: m1..m4, in order.
        again = await _open(app, p_token, {"c": conv_id, "after": first_cursor}, "3")
        try:
            bodies = [json.loads(await again.next_text())["payload"]["data"]["messageAdded"]
                      ["body"] for _ in range(4)]
            assert bodies == ["m1", "m2", "m3", "m4"]
        finally:
            await again.__aexit__(None, None, None)
    finally:
        await live.__aexit__(None, None, None)


async def test_a_socket_that_cannot_keep_up_is_closed_and_the_others_get_everything(
    app, gql, notifier, clean, monkeypatch
):
    monkeypatch.setattr(live_frames, "SOCKET_QUEUE_FRAMES", 2)
    conv_id, p_token, d_token, _ = await _setup(gql, notifier)
    fast = await _open(app, p_token, {"c": conv_id}, "fast")
    # A client that reads nothing: once the ack is taken, the app's second frame blocks.
    slow = await _open(app, p_token, {"c": conv_id}, "slow", max_frames=1)
    try:
        await _members(conv_id, 2)
        sent = [f"n{i}" for i in range(6)]
        for body in sent:
            await _send(gql, conv_id, body, d_token)
        # The fast socket gets all six, in order, while the slow one is still blocked.
        bodies = [json.loads(await fast.next_text())["payload"]["data"]["messageAdded"]["body"]
                  for _ in sent]
        assert bodies == sent
        # The slow one: what it could take, then closed with SLOW_CONSUMER (the client
        # resumes from its last cursor).
        events = []
        while not events or events[-1]["type"] != "websocket.close":
            events.append(await slow.raw())
        frames = [json.loads(e["text"]) for e in events if e["type"] == "websocket.send"]
        assert [f["payload"]["data"]["messageAdded"]["body"] for f in frames] == sent[:len(frames)]
        assert len(frames) < len(sent)
        assert events[-1]["code"] == SLOW_CONSUMER
    finally:
        await fast.__aexit__(None, None, None)
        await slow.__aexit__(None, None, None)


async def test_an_error_is_masked_per_socket(app, gql, notifier, clean, monkeypatch):
    conv_id, p_token, d_token, _ = await _setup(gql, notifier)
    ws = await _open(app, p_token, {"c": conv_id}, "1")
    try:
        await _members(conv_id, 1)

        def broken(account):
            raise RuntimeError("secret health data")

        monkeypatch.setattr(services, "display_name", broken)
        await _send(gql, conv_id, "boom", d_token)
        text = await ws.next_text()
        assert "secret" not in text
        [error] = json.loads(text)["payload"]["errors"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["requestId"]
    finally:
        await ws.__aexit__(None, None, None)


def test_frame_templates_of_both_protocols():
    modern = FrameTarget(None, 'a"b', None, legacy=False)
    legacy = FrameTarget(None, "7", None, legacy=True)
    payload = '{"data":{"x":1}}'
    assert json.loads(modern.frame(payload)) == {"id": 'a"b', "type": "next",
                                                 "payload": {"data": {"x": 1}}}
    assert json.loads(legacy.frame(payload)) == {"type": "data", "id": "7",
                                                 "payload": {"data": {"x": 1}}}


def test_payloads_orjson_refuses_still_make_a_utf8_text_frame():
    for value in ({"n": 2**70}, {"s": "lone \ud800 surrogate"}):
        text = live_frames.encode_json(value)
        text.encode()  # a text frame must encode as UTF-8
        assert json.loads(text).keys() == value.keys()


class _Refusing:
    """A socket whose writes fail while it stays open."""

    def __init__(self) -> None:
        self.closed: list[int] = []

    async def send(self, message: dict) -> None:
        raise RuntimeError("cannot write")

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed.append(code)


async def test_a_frame_that_cannot_be_written_closes_the_socket():
    class Executor:
        fragment_definitions: dict = {}
        operation = None
        variable_values: dict = {}

    socket = _Refusing()
    target = FrameTarget(socket, "1", None, legacy=False)
    import unittest.mock

    with unittest.mock.patch.object(live_frames, "static_key", lambda _e: ("op", "vars")):
        member = LiveMember(target, Executor(), account_id=1, locale="fr", seq=0)
    task = asyncio.ensure_future(member.run())
    assert member.offer('{"data":null}')
    async with asyncio.timeout(5):
        while not socket.closed:
            await asyncio.sleep(0)
    assert socket.closed == [FRAME_FAILED] and member.closed
    assert not member.offer('{"data":null}')  # takes nothing more
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
