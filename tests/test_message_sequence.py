"""Messages are numbered per conversation (no global lock): gap-free and in commit order within
a conversation, inserts into different conversations never wait on each other, and readers
resuming from a cursor (pages, `messageAdded`, `inbox`) get exactly what they missed.

No timing assertions: a transaction is held open explicitly (the real insert paused inside
its transaction), and bounded waits only guard against a hang."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from backend.messaging import services
from backend.messaging.models import Conversation, Message
from tests.conftest import PG_ADMIN_URL
from tests.messaging_helpers import people, start

# Generous: a bound on a wait that must succeed, never a speed goal.
BOUND = 60.0


@pytest.fixture
async def cast(gql, notifier, clean):
    return await people(gql, notifier)


@pytest.fixture
def key():
    return b"\x01" * 32  # bodies are encrypted with it; nothing here decrypts them


async def _conversation(gql, cast, subject: str) -> Conversation:
    patient, _ = cast["patient"]
    _, d_token = cast["doctor"]
    started = await start(gql, d_token, patient, subject=subject, body=f"{subject} 0")
    return await Conversation.get(id=started["conversation"]["id"])


async def _insert(conversation_id: uuid.UUID, author: int, body: str, key: bytes) -> Message:
    # A fresh row each time, as each request reads its own.
    conversation = await Conversation.get(id=conversation_id)
    return await services._insert_message(conversation, author, body, [], key)


class Gate:
    """Pauses the real insert into one conversation inside its transaction, right after it
    took the conversation's next position (so its row lock is held), until opened."""

    def __init__(self, monkeypatch, conversation_id: uuid.UUID) -> None:
        self.entered = asyncio.Event()
        self.open = asyncio.Event()
        original = services.Message.create

        async def create(**values):
            if values.get("conversation_id") == conversation_id and not self.open.is_set():
                self.entered.set()
                await self.open.wait()
            return await original(**values)

        monkeypatch.setattr(services.Message, "create", create)


async def _waiting_on_a_lock(admin: asyncpg.Connection, database: str) -> int:
    return await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        database)


async def test_concurrent_inserts_into_one_conversation_are_gap_free_and_ordered(
    gql, cast, key, settings
):
    conversation = await _conversation(gql, cast, "Un")
    author = cast["doctor"][0].id
    # 20 concurrent sends through the service (its pool's connections)...
    sent = await asyncio.wait_for(asyncio.gather(
        *(_insert(conversation.id, author, f"s{i}", key) for i in range(20))), BOUND)
    # ...and 20 more on 20 separate connections, released together, each taking its position
    # with the same statement inside its own transaction.
    dsn = settings.database_url.replace("postgres://", "postgresql://").split("?")[0]
    conns = [await asyncpg.connect(dsn) for _ in range(20)]
    go = asyncio.Event()

    async def raw_insert(conn: asyncpg.Connection, i: int) -> int:
        await go.wait()
        async with conn.transaction():
            seq = await conn.fetchval("UPDATE conversation SET last_seq = last_seq + 1 "
                                      "WHERE id = $1 RETURNING last_seq", conversation.id)
            await conn.execute(
                "INSERT INTO message (id, conversation_id, seq, author_account_id, "
                "body_encrypted, sent_at) VALUES ($1, $2, $3, $4, $5, now())",
                uuid.uuid4(), conversation.id, seq, author, b"x")
            return seq

    try:
        tasks = [asyncio.ensure_future(raw_insert(c, i)) for i, c in enumerate(conns)]
        go.set()
        raw = await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
    finally:
        for conn in conns:
            await conn.close()
    seqs = sorted([m.seq for m in sent] + raw)
    assert seqs == list(range(2, 42))  # the first message is 1: no gap, no duplicate
    stored = await Message.filter(conversation_id=conversation.id).order_by("seq").values_list(
        "seq", flat=True)
    assert stored == list(range(1, 42))
    refreshed = await Conversation.get(id=conversation.id)
    assert refreshed.last_seq == 41
    # Each conversation counts on its own.
    other = await _conversation(gql, cast, "Deux")
    assert other.last_seq == 1


async def test_inserts_into_another_conversation_do_not_wait(gql, cast, key, settings,
                                                             monkeypatch):
    a = await _conversation(gql, cast, "A")
    b = await _conversation(gql, cast, "B")
    author = cast["doctor"][0].id
    gate = Gate(monkeypatch, a.id)
    held = asyncio.ensure_future(_insert(a.id, author, "a1", key))
    queued = None
    await asyncio.wait_for(gate.entered.wait(), BOUND)  # a1's transaction holds A's row
    admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"))
    database = settings.database_url.rsplit("/", 1)[1].split("?")[0]
    try:
        # B commits while A's transaction is open: it must not wait for it.
        in_b = await asyncio.wait_for(_insert(b.id, author, "b1", key), BOUND)
        assert in_b.seq == 2
        assert not held.done()
        # Another insert into A does wait (on A's row, not on a global lock).
        queued = asyncio.ensure_future(_insert(a.id, author, "a2", key))
        async with asyncio.timeout(BOUND):
            while not await _waiting_on_a_lock(admin, database):
                await asyncio.sleep(0.05)
        assert not queued.done()
        # B can still commit meanwhile.
        again = await asyncio.wait_for(_insert(b.id, author, "b2", key), BOUND)
        assert again.seq == 3
    finally:
        gate.open.set()
        done = await asyncio.wait_for(asyncio.gather(
            *(t for t in (held, queued) if t is not None)), BOUND)
        await admin.close()
    assert [m.seq for m in done] == [2, 3]


async def test_resuming_after_a_cursor_misses_nothing_committed_later(gql, cast, key,
                                                                      monkeypatch):
    """A reader never skips a message that commits after it read past a later one, nor gets
    one twice: per conversation (pages, `messageAdded`) and across conversations (`inbox`)."""
    a = await _conversation(gql, cast, "A")
    b = await _conversation(gql, cast, "B")
    patient_id = cast["patient"][0].id
    doctor = cast["doctor"][0].id
    # Where the patient's inbox and A's subscribers stand now.
    inbox = await services.inbox_positions(patient_id)
    assert inbox == {a.id: 1, b.id: 1}
    a_position = 1
    gate = Gate(monkeypatch, a.id)
    held = asyncio.ensure_future(_insert(a.id, doctor, "a1", key))
    await asyncio.wait_for(gate.entered.wait(), BOUND)
    await _insert(b.id, doctor, "b1", key)  # commits while a1 is still open
    # Read now: a1 is not visible yet, b1 is.
    assert await services.messages_after(a.id, a_position) == []
    seen = await services.inbox_after(patient_id, inbox)
    assert [(m.conversation_id, m.seq) for m in seen] == [(b.id, 2)]
    for m in seen:
        inbox[m.conversation_id] = m.seq
    # a1 commits late (A's next position, 2, below the ones read since in B).
    gate.open.set()
    late = await asyncio.wait_for(held, BOUND)
    await _insert(a.id, doctor, "a2", key)
    missed = await services.messages_after(a.id, a_position)
    assert [m.seq for m in missed] == [late.seq, late.seq + 1] == [2, 3]
    again = await services.inbox_after(patient_id, inbox)
    assert [(m.conversation_id, m.seq) for m in again] == [(a.id, 2), (a.id, 3)]
    for m in again:
        inbox[m.conversation_id] = m.seq
    assert await services.inbox_after(patient_id, inbox) == []  # no duplicate
    # The cursor round-trips, opaque.
    cursor = services.encode_inbox_cursor(inbox)
    assert services.decode_inbox_cursor(cursor) == inbox
    assert str(a.id) not in cursor and str(a.id.hex) not in cursor


async def test_inbox_positions_never_reach_conversations_i_am_not_in(gql, cast, key):
    """A cursor naming someone else's conversation answers like one naming nothing: the
    positions are only ever applied to my own conversations."""
    patient, _ = cast["patient"]
    _, d_token = cast["doctor"]
    from backend.identity.models import Professional

    nurse_rpps = (await Professional.get(id=cast["nurse"][0].professional_id)).rpps
    between = await start(gql, d_token, patient, subject="Entre nous", include_patient=False,
                          rpps=[nurse_rpps])
    theirs = uuid.UUID(between["conversation"]["id"])
    mine = await _conversation(gql, cast, "Mien")
    await _insert(theirs, cast["doctor"][0].id, "pas pour elle", key)
    patient_id = patient.id
    for positions in ({}, {theirs: 0}, {theirs: 0, uuid.uuid4(): 0}):
        got = await services.inbox_after(patient_id, positions)
        assert {m.conversation_id for m in got} == {mine.id}
    assert services.decode_inbox_cursor(services.encode_cursor(3)) is None  # another kind
    assert services.decode_inbox_cursor("not a cursor") is None


def test_conversation_list_cursor_round_trips_exactly():
    """The list is ordered by (last message time, id): its cursor keeps every microsecond (a
    float would round some, and a page boundary could then skip or repeat a conversation)."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    for micro in (0, 1, 308703, 999999):
        at = datetime(2026, 12, 3, 7, 43, 0, micro, tzinfo=UTC)
        row = SimpleNamespace(last_message_at=at, created_at=None, id=uuid.uuid4())
        cursor = services.encode_conversation_cursor(row)
        assert services.decode_conversation_cursor(cursor) == (at, row.id)
    assert services.decode_conversation_cursor(services.encode_cursor(3)) is None
