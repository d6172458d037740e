"""A live event is executed once per (operation, variables, visibility), and a subscriber never
gets a result computed for another visibility (backend/live_frames.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from types import SimpleNamespace

import strawberry
from strawberry.types import Info

from backend.live_frames import SharedEvent, SharedEventExecutor, SharedResults
from backend.messaging.subscriptions import LiveMessage

EXECUTED: list[str] = []


@strawberry.type
class Item:
    text: str

    @strawberry.field
    def seen_by(self, info: Info) -> str:
        EXECUTED.append(info.context["viewer"])
        return f"{self.text} for {info.context['viewer']}"

    @strawberry.field
    def shout(self, times: int) -> str:
        return self.text.upper() * times


@strawberry.type
class Query:
    ok: bool = True


def _events(queue: asyncio.Queue) -> AsyncGenerator[SharedEvent, None]:
    async def gen():
        while True:
            yield await queue.get()
    return gen()


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def items(self, info: Info) -> AsyncGenerator[Item, None]:
        async for event in _events(info.context["queue"]):
            # Visibility is the viewer's "group": equal groups see equal data.
            yield SharedEvent(Item(text=event), visibility=info.context["group"],
                              shared=info.context["shared"][event])

    @strawberry.subscription
    async def items_after(self, info: Info, after: str | None = None
                          ) -> AsyncGenerator[Item, None]:
        # `after` only feeds the source stream (like a resume cursor).
        async for event in _events(info.context["queue"]):
            yield SharedEvent(Item(text=event), visibility=info.context["group"],
                              shared=info.context["shared"][event])


schema = strawberry.Schema(query=Query, subscription=Subscription,
                           execution_context_class=SharedEventExecutor)
SEEN = "subscription { items { text seenBy } }"
SHOUT = "subscription S($n: Int!) { items { shout(times: $n) } }"


async def _first(query: str, viewer: str, group: str, shared: dict, event: str,
                 variables: dict | None = None) -> dict:
    queue: asyncio.Queue = asyncio.Queue()
    stream = await schema.subscribe(query, variable_values=variables, context_value={
        "viewer": viewer, "group": group, "queue": queue, "shared": shared})
    await queue.put(event)
    result = await stream.__anext__()
    await stream.aclose()
    assert result.errors is None, result.errors
    return result.data


async def test_equal_visibility_shares_one_execution_and_different_gets_its_own():
    EXECUTED.clear()
    shared = {"hello": SharedResults()}
    # Same parsed document for every subscriber, as the parser cache gives the server.
    document = SEEN
    a, b, c = await asyncio.gather(
        _first(document, "alice", "patients", shared, "hello"),
        _first(document, "bob", "patients", shared, "hello"),
        _first(document, "carol", "professionals", shared, "hello"),
    )
    assert shared["hello"].executions == 2
    assert len(EXECUTED) == 2
    # alice and bob share one result; carol has hers, never theirs.
    assert a == b
    assert a["items"]["seenBy"] in ("hello for alice", "hello for bob")
    assert c == {"items": {"text": "hello", "seenBy": "hello for carol"}}


async def test_a_new_event_is_executed_again():
    EXECUTED.clear()
    shared = {"one": SharedResults(), "two": SharedResults()}
    first = await _first(SEEN, "alice", "patients", shared, "one")
    second = await _first(SEEN, "bob", "patients", shared, "two")
    assert first["items"]["text"] == "one"
    assert second == {"items": {"text": "two", "seenBy": "two for bob"}}
    assert EXECUTED == ["alice", "bob"]


async def test_different_variables_are_executed_apart():
    shared = {"hi": SharedResults()}
    two, three, two_again = await asyncio.gather(
        _first(SHOUT, "alice", "patients", shared, "hi", {"n": 2}),
        _first(SHOUT, "bob", "patients", shared, "hi", {"n": 3}),
        _first(SHOUT, "carol", "patients", shared, "hi", {"n": 2}),
    )
    assert two == two_again == {"items": {"shout": "HIHI"}}
    assert three == {"items": {"shout": "HIHIHI"}}
    assert shared["hi"].executions == 2


AFTER = """subscription A($after: String, $n: Int!) {
  itemsAfter(after: $after) { ...Loud } }
fragment Loud on Item { shout(times: $n) }"""


async def test_a_root_argument_does_not_split_executions_but_a_selection_variable_does():
    """Subscribers resumed from different cursors (a root field argument, read by the source
    stream only) share; a variable read by the selection (here through a fragment) splits."""
    shared = {"hey": SharedResults()}
    one, two, three = await asyncio.gather(
        _first(AFTER, "alice", "patients", shared, "hey", {"after": "c1", "n": 1}),
        _first(AFTER, "bob", "patients", shared, "hey", {"after": "c2", "n": 1}),
        _first(AFTER, "carol", "patients", shared, "hey", {"after": "c1", "n": 2}),
    )
    assert one == two == {"itemsAfter": {"shout": "HEY"}}
    assert three == {"itemsAfter": {"shout": "HEYHEY"}}
    assert shared["hey"].executions == 2


def _live(author: int) -> LiveMessage:
    row = SimpleNamespace(id=uuid.uuid4(), conversation_id=uuid.uuid4(), seq=7,
                          sent_at=datetime.now(UTC), author_account_id=author)
    return LiveMessage(row, "bonjour", SharedResults())  # type: ignore[arg-type]


def test_a_message_visibility_tells_the_author_and_the_language_apart():
    live = _live(author=1)
    author = live.event_for(1, "fr", "c7")
    reader, other_reader = live.event_for(2, "fr", "c7"), live.event_for(3, "fr", "c7")
    english_reader = live.event_for(2, "en", "c7")
    assert author.visibility != reader.visibility
    assert reader.visibility == other_reader.visibility
    assert english_reader.visibility != reader.visibility
    assert author.value.is_mine and not reader.value.is_mine
    assert author.shared is reader.shared  # one cache per message
    # An inbox cursor holds one subscriber's positions: another cursor, another frame.
    elsewhere = live.event_for(3, "fr", "inbox of 3")
    assert elsewhere.visibility != other_reader.visibility
    assert elsewhere.value.cursor == "inbox of 3" and reader.value.cursor == "c7"
