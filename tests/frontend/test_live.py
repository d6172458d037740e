"""carnet_web.live: the reconnect loop (with a fake connection; cursors are opaque to it: it
only passes back the last one received), then the real thing against `carnet serve`: catch-up
from a cursor, live messages, resuming after the API restarted, and the end of a revoked
session."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import websockets
from carnet_web import live
from gql import GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportQueryError,
    TransportServerError,
)

from tests.factories import create_patient, create_professional
from tests.messaging_helpers import patient_identity
from tests.servers import carnet_server, free_port
from tests.test_messaging_live import START, Api, mint_session

MESSAGE_ADDED = GraphQLRequest(
    """subscription Added($c: ID!, $after: String) {
      messageAdded(conversationId: $c, after: $after) { body cursor isMine }
    }"""
)


def cursor(seq: int) -> str:
    """A cursor as the fake API hands it out: opaque to `follow`, which only passes it back."""
    return f"opaque-{seq:x}"


# --- backoff, addresses, close codes ------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    backoff = live.Backoff(first=0.5, cap=5.0, jitter=0.5)
    assert [backoff.delay(n, rand=lambda: 0.0) for n in range(6)] == [0.5, 1, 2, 4, 5, 5]
    assert backoff.delay(3, rand=lambda: 1.0) == 2.0  # at most half taken off
    assert backoff.delay(10_000, rand=lambda: 0.0) == 5.0


def test_ws_url_follows_the_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert live.ws_url("http://127.0.0.1:8000/graphql") == "ws://127.0.0.1:8000/graphql"
    assert live.ws_url("https://api.carnet.fr/graphql") == "wss://api.carnet.fr/graphql"
    monkeypatch.setenv("CARNET_API_URL", "http://api:9000/graphql")
    assert live.ws_url() == "ws://api:9000/graphql"


def test_close_code_is_found_behind_gql_errors() -> None:
    closed = websockets.exceptions.ConnectionClosedError(
        websockets.frames.Close(4403, "Session revoked"), None)
    try:
        try:
            raise closed
        except websockets.exceptions.ConnectionClosed as exc:
            raise TransportConnectionFailed("Error trying to receive data") from exc
    except TransportConnectionFailed as wrapped:
        assert live.close_code(wrapped) == 4403
    assert live.close_code(TransportServerError("4403: Forbidden", 4403)) == 4403
    assert live.close_code(TransportConnectionFailed("Connect failed")) is None


def test_the_space_goes_in_connection_init() -> None:
    """While the tab is in someone else's space, its headers carry `Carnet-Space`: the API
    reads a socket's space in connection_init, so it goes there (any spelling of the key)."""
    assert live.init_payload("jeton", {"Accept-Language": "fr"}) == {
        "Authorization": "Bearer jeton"}
    for key in ("Carnet-Space", "carnet-space"):
        assert live.init_payload("jeton", {key: "6f1c2b7e", "User-Agent": "x"}) == {
            "Authorization": "Bearer jeton", "Carnet-Space": "6f1c2b7e"}
    assert live.init_payload("jeton", {"Carnet-Space": ""}) == {"Authorization": "Bearer jeton"}


# --- the reconnect loop, with a fake connection ----------------------------------------------


class FakeApi:
    """Stands in for `gql_subscribe_once`: each connection plays the next script.

    A script is a list of steps: a dict (the `data` of one result), an exception to raise, or
    "hang" (wait until cancelled). Every connection's variables are recorded.
    """

    def __init__(self, *scripts: list[Any]) -> None:
        self.scripts = list(scripts)
        self.variables: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.closed = 0

    async def __call__(self, request: GraphQLRequest, *, url: str, token: str,
                       headers: Mapping[str, str]) -> AsyncIterator[Mapping[str, Any] | None]:
        self.variables.append(dict(request.variable_values or {}))
        self.tokens.append(token)
        script = self.scripts.pop(0) if self.scripts else ["hang"]
        try:
            if script and isinstance(script[0], BaseException):
                raise script[0]  # could not connect
            yield None
            for step in script:
                if isinstance(step, BaseException):
                    raise step
                if step == "hang":
                    await asyncio.Event().wait()
                yield step
        finally:
            self.closed += 1


def message(seq: int, body: str) -> dict[str, Any]:
    return {"messageAdded": {"cursor": cursor(seq), "body": body}}


async def run_follow(fake: FakeApi, *, until: type, start: str | None = None,
                     limit: int = 50) -> tuple[list[live.Event], list[float]]:
    queue: asyncio.Queue[live.Event] = asyncio.Queue()
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    task = asyncio.create_task(live.follow(
        MESSAGE_ADDED, {"c": "conv-1"}, field="messageAdded", token="jeton", queue=queue,
        cursor=start, url="http://api.test/graphql", subscribe_once=fake, sleep=no_sleep,
        backoff=live.Backoff(first=1, cap=4, jitter=0), clock=lambda: 0.0))
    events: list[live.Event] = []
    try:
        while len(events) < limit:
            events.append(await asyncio.wait_for(queue.get(), 5))
            if isinstance(events[-1], until):
                break
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return events, sleeps


def bodies(events: list[live.Event]) -> list[str]:
    return [str(e.item["body"]) for e in events if isinstance(e, live.Received)]


async def test_follow_resumes_from_the_last_cursor_after_each_drop() -> None:
    drop = TransportConnectionFailed("Error trying to receive data")
    fake = FakeApi(
        [message(11, "a"), message(12, "b"), drop],
        [TransportConnectionFailed("Connect failed")],  # API down
        [TransportConnectionFailed("Connect failed")],
        [message(13, "c"), {"messageAdded": None}, message(14, "d"), drop],
        ["hang"],
    )
    events, sleeps = await run_follow(fake, until=type(None), start=cursor(10), limit=11)
    assert bodies(events) == ["a", "b", "c", "d"]
    assert [v["after"] for v in fake.variables] == [
        cursor(10), cursor(12), cursor(12), cursor(12), cursor(14)]
    assert all(v["c"] == "conv-1" for v in fake.variables)
    assert fake.tokens == ["jeton"] * 5
    # Backoff grows while the API stays down, and starts afresh once messages flowed again.
    assert sleeps == [1, 1, 2, 1]
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Connected", "Received", "Received", "Disconnected", "Disconnected",
                     "Disconnected", "Connected", "Received", "Received", "Disconnected",
                     "Connected"]
    assert fake.closed == 5  # every connection closed, the last one by cancellation


async def test_follow_without_a_cursor_starts_from_now() -> None:
    fake = FakeApi([message(3, "x"), "hang"])
    events, _ = await run_follow(fake, until=live.Received)
    assert fake.variables[0]["after"] is None
    assert bodies(events) == ["x"]


async def test_follow_ends_when_the_session_is_closed() -> None:
    revoked = websockets.exceptions.ConnectionClosedError(
        websockets.frames.Close(4403, "Session revoked"), None)
    try:
        raise TransportConnectionFailed("Error trying to receive data") from revoked
    except TransportConnectionFailed as exc:
        failure = exc
    fake = FakeApi([message(5, "a"), failure], ["hang"])
    events, sleeps = await run_follow(fake, until=live.Ended)
    assert events[-1] == live.Ended(live.ENDED_UNAUTHENTICATED, detail="close 4403")
    assert bodies(events) == ["a"]
    assert len(fake.variables) == 1 and sleeps == []


@pytest.mark.parametrize(("code", "reason"), [
    ("NOT_AUTHENTICATED", live.ENDED_UNAUTHENTICATED),
    ("NOT_FOUND", live.ENDED_REFUSED),
])
async def test_follow_ends_when_the_api_refuses_the_subscription(code: str, reason: str) -> None:
    refused = TransportQueryError("refused", errors=[
        {"message": "Conversation introuvable.", "extensions": {"code": code}}])
    fake = FakeApi([refused], ["hang"])
    events, _ = await run_follow(fake, until=live.Ended)
    assert isinstance(events[-1], live.Ended) and events[-1].reason == reason
    assert len(fake.variables) == 1


async def test_follow_keeps_going_after_a_completed_subscription_and_a_bug() -> None:
    fake = FakeApi([message(1, "a")], [RuntimeError("bug")], [message(2, "b"), "hang"])
    queue: asyncio.Queue[live.Event] = asyncio.Queue()

    async def no_sleep(seconds: float) -> None:
        pass

    task = asyncio.create_task(live.follow(
        MESSAGE_ADDED, {"c": "conv-1"}, field="messageAdded", token="t", queue=queue,
        subscribe_once=fake, sleep=no_sleep, url="http://api.test/graphql"))
    received: list[str] = []
    while len(received) < 2:
        event = await asyncio.wait_for(queue.get(), 5)
        if isinstance(event, live.Received):
            received.append(str(event.item["body"]))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert received == ["a", "b"]
    assert [v["after"] for v in fake.variables] == [None, cursor(1), cursor(1)]


async def test_listening_batches_and_stops_its_task() -> None:
    fake = FakeApi([message(1, "a"), message(2, "b"), "hang"])
    async with live.listening(MESSAGE_ADDED, {"c": "conv-1"}, field="messageAdded",
                              token="t", url="http://api.test/graphql",
                              subscribe_once=fake) as feed:
        batch: list[live.Event] = []
        while len(bodies(batch)) < 2:
            batch += await feed.next_batch(wait=2)
        assert bodies(batch) == ["a", "b"]
        assert await feed.next_batch(wait=0.05) == []
        assert not feed.ended
        task = feed.task
    assert task.cancelled()
    assert fake.closed == 1


async def test_listening_reports_the_end() -> None:
    refused = TransportQueryError("refused", errors=[{"extensions": {"code": "NOT_FOUND"}}])
    async with live.listening(MESSAGE_ADDED, {"c": "x"}, field="messageAdded", token="t",
                              url="http://api.test/graphql",
                              subscribe_once=FakeApi([refused])) as feed:
        events: list[live.Event] = []
        while not feed.ended:
            events += await feed.next_batch(wait=2)
    assert events == [live.Ended(live.ENDED_REFUSED, detail="refused")]


# --- against the real API ------------------------------------------------------------------


@pytest.fixture
def live_env(server_env: dict[str, str]) -> dict[str, str]:
    return {**server_env, "WS_SESSION_CHECK_SECONDS": "0.5"}


async def _conversation(api: Api, redis_url: str) -> tuple[str, str, str, str]:
    patient = await create_patient()
    doctor = await create_professional()
    p_token = await mint_session(redis_url, patient)
    d_token = await mint_session(redis_url, doctor)
    started = await api(START, {"input": {"subject": "Suivi", "body": "m0",
                                          "patient": await patient_identity(patient)}}, d_token)
    result = started["data"]["startConversation"]
    return result["conversation"]["id"], p_token, d_token, result["firstMessage"]["cursor"]


async def _take(feed: live.Feed, count: int, timeout: float = 20.0) -> list[live.Event]:
    events: list[live.Event] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len([e for e in events if isinstance(e, live.Received)]) < count:
        assert loop.time() < deadline, f"got only {events}"
        events += await feed.next_batch(wait=0.5)
        assert not feed.ended, events
    return events


async def test_real_api_catch_up_live_restart_and_revocation(
    migrated: object, live_env: dict[str, str], redis_url: str, clean: None
) -> None:
    port = free_port()
    loop = asyncio.get_running_loop()
    # The subscription goes to the server on `port`, which is stopped and started again; a
    # second server on the same database and Redis keeps taking messages meanwhile.
    with carnet_server(live_env) as other:
        sender = Api(other)
        first_server = carnet_server(live_env, port=port)
        base = first_server.__enter__()
        try:
            conv_id, p_token, d_token, first = await _conversation(sender, redis_url)
            await sender.send(conv_id, "missed 1", d_token)
            await sender.send(conv_id, "missed 2", d_token)
            async with live.listening(MESSAGE_ADDED, {"c": conv_id}, field="messageAdded",
                                      token=p_token, cursor=first, url=f"{base}/graphql",
                                      backoff=live.Backoff(first=0.2, cap=1)) as feed:
                # Catch-up from the cursor, then live.
                events = await _take(feed, 2)
                assert isinstance(events[0], live.Connected)
                assert bodies(events) == ["missed 1", "missed 2"]
                await sender.send(conv_id, "live", d_token)
                assert bodies(await _take(feed, 1)) == ["live"]

                # The API goes away: the feed says so and keeps retrying.
                first_server.__exit__(None, None, None)
                down: list[live.Event] = []
                while not any(isinstance(e, live.Disconnected) for e in down):
                    down += await feed.next_batch(wait=0.5)
                await sender.send(conv_id, "while down 1", d_token)
                await sender.send(conv_id, "while down 2", d_token)
                await asyncio.sleep(1.5)  # a few failed attempts

                # Back: exactly the missed messages, in order, then live ones again.
                first_server = carnet_server(live_env, port=port)
                first_server.__enter__()
                events = await _take(feed, 2)
                assert bodies(events) == ["while down 1", "while down 2"]
                assert any(isinstance(e, live.Connected) for e in events)
                await sender.send(conv_id, "after restart", d_token)
                assert bodies(await _take(feed, 1)) == ["after restart"]
                assert bodies(await feed.next_batch(wait=0.7)) == []  # no duplicates

                # Logging out closes the socket with 4403: the feed ends, it does not retry.
                out = await sender("mutation { logout { sessionsClosed } }", {}, p_token)
                assert out["data"]["logout"]["sessionsClosed"] == 1
                ended: list[live.Event] = []
                deadline = loop.time() + 15
                while not feed.ended:
                    assert loop.time() < deadline, ended
                    ended += await feed.next_batch(wait=0.5)
                assert ended[-1].__class__ is live.Ended
                assert ended[-1].reason == live.ENDED_UNAUTHENTICATED  # type: ignore[union-attr]
                assert bodies(ended) == []
        finally:
            first_server.__exit__(None, None, None)


CHANGED = GraphQLRequest("subscription { agendaChanged { kind appointment { reason } } }")
GRANT = """mutation G($e: String!) { grantCarer(email: $e, parts: [AGENDA]) { ... on Carer { id }
  } }"""
REVOKE = """mutation R($id: ID!) { revokeCarer(id: $id) { __typename } }"""


async def test_real_api_a_carers_feed_in_a_space_until_the_grant_is_revoked(
    migrated: object, live_env: dict[str, str], redis_url: str, clean: None
) -> None:
    """A carer's tab in the patient's space (given the agenda) hears the patient's agenda
    live; once the patient revokes them, the socket closes, the reconnection is refused like
    a part not given (the feed ends as refused, the carer is not signed out)."""
    from datetime import UTC, datetime, timedelta

    from backend.identity.models import Person

    alice = await create_patient(email="alice-feed@example.fr")
    bob = await create_patient(email="bob-feed@example.fr")
    alice_token, bob_token = (await mint_session(redis_url, alice),
                              await mint_session(redis_url, bob))
    space = str((await Person.get(id=alice.person_id)).public_id)
    start = datetime.now(UTC) + timedelta(days=5)
    add = """mutation A($s: DateTime!, $e: DateTime!) { addAppointment(input: {start: $s,
      end: $e, reason: "Kiné", practitioner: "Dr Y"}) { __typename } }"""
    with carnet_server(live_env) as base:
        api = Api(base)
        granted = await api(GRANT, {"e": "bob-feed@example.fr"}, alice_token)
        grant_id = granted["data"]["grantCarer"]["id"]
        async with live.listening(CHANGED, {}, field="agendaChanged", token=bob_token,
                                  headers={"Carnet-Space": space, "Accept-Language": "fr"},
                                  url=f"{base}/graphql",
                                  backoff=live.Backoff(first=0.2, cap=1)) as feed:
            events: list[live.Event] = []
            while not any(isinstance(e, live.Received) for e in events):  # the RESYNC
                events += await feed.next_batch(wait=0.5)
                assert not feed.ended, events
            added = await api(add, {"s": start.isoformat(),
                                    "e": (start + timedelta(hours=1)).isoformat()}, alice_token)
            assert "errors" not in added, added
            heard = await _take(feed, 1)
            assert [e.item for e in heard if isinstance(e, live.Received)] == [
                {"kind": "CREATED", "appointment": {"reason": "Kiné"}}]

            revoked = await api(REVOKE, {"id": grant_id}, alice_token)
            assert revoked["data"]["revokeCarer"]["__typename"] == "CarerRevoked"
            ended: list[live.Event] = []
            deadline = asyncio.get_running_loop().time() + 20
            while not feed.ended:
                assert asyncio.get_running_loop().time() < deadline, ended
                ended += await feed.next_batch(wait=0.5)
            assert any(isinstance(e, live.Disconnected) for e in ended), ended
            last = ended[-1]
            assert isinstance(last, live.Ended) and last.reason == live.ENDED_REFUSED, ended
            assert "agenda:read" in last.detail
