"""Live messages over WebSocket, resumable from a cursor, with no loss and no duplicates.

Each subscription registers with the broker BEFORE reading the database, then reads everything
after its cursor whenever the broker wakes it (a message, or a resync after Redis came back),
so an announcement lost or raced never loses a message. A revoked session's sockets are closed
by backend/live_sockets.py (announced revocations, and a periodic sweep as a fallback), which
ends these subscriptions too.

Fan-out cost: the local subscribers of a conversation share one catch-up read, one decryption
per message, and one execution of their selection per (operation, variables, visibility)
(backend/live_frames.py); each socket then only gets the frame written.

`messageAdded` over our websocket handlers goes further (`ConversationFeed`): one feed per
conversation in this process holds the one broker subscription, reads once per wake-up from
the lowest position of its members, executes and encodes once per (operation, variables,
visibility) and hands the same payload to every member, whose operation task only writes its
frame (no per-subscriber Strawberry pipeline). Each member gets exactly the messages past its
own position, in order; the access check stays the subscription's start (participants only,
refusals answered like a missing conversation, through Strawberry as before).

An app with `messages:read` (its access token in connection_init; without the scope the
schema's gate refuses with INSUFFICIENT_SCOPE) follows its patient's conversations as the
patient does; each message it is sent is in the patient's access log (ground APP, the app's id
and name), as its `conversations` reads are. Its `messageAdded` takes the generator path, not
the feed's frames (which are written without passing through here), so that each is logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

import strawberry
from strawberry.types import Info
from tortoise.exceptions import OperationalError

from backend import live_frames
from backend.access import policy
from backend.app_scopes import MESSAGES_READ, app_scope
from backend.audit import access_log
from backend.audit.models import AccessKind
from backend.db import DATABASE_UNAVAILABLE_ERRORS
from backend.errors import NotAuthenticated, PublicError
from backend.i18n import N_
from backend.live_frames import LiveMember, SharedEvent, SharedResults
from backend.messaging import services
from backend.messaging.models import Message as MessageModel
from backend.messaging.types import Message

log = logging.getLogger(__name__)

# A quiet subscription re-reads the database this often anyway: a safety net for a wake-up
# lost some other way (pub/sub is at-most-once; the broker's resync covers reconnections).
SAFETY_READ_SECONDS = 30.0
# Members offered a payload between two returns to the event loop (ConversationFeed).
OFFER_SLICE = 64


class ConversationPosition:
    """`messageAdded`'s place: the seq of the last message delivered in its conversation."""

    def __init__(self, conversation_id: uuid.UUID, seq: int) -> None:
        self.conversation_id = conversation_id
        self.seq = seq

    def read_key(self) -> tuple:
        return ("conversation", self.conversation_id, self.seq)

    async def read(self) -> list[MessageModel]:
        return await services.messages_after(self.conversation_id, self.seq,
                                             limit=services.CATCH_UP_BATCH)

    def advance(self, row: MessageModel) -> str:
        self.seq = row.seq
        return services.encode_cursor(row.seq)


class InboxPosition:
    """`inbox`'s place: one seq per conversation (conversations have no common order)."""

    def __init__(self, account_id: int, positions: dict[uuid.UUID, int]) -> None:
        self.account_id = account_id
        self.positions = dict(positions)

    def read_key(self) -> tuple:
        return ("inbox", self.account_id, services.encode_inbox_cursor(self.positions))

    async def read(self) -> list[MessageModel]:
        return await services.inbox_after(self.account_id, dict(self.positions),
                                          limit=services.CATCH_UP_BATCH)

    def advance(self, row: MessageModel) -> str:
        self.positions[row.conversation_id] = row.seq
        return services.encode_inbox_cursor(self.positions)


Position = ConversationPosition | InboxPosition


async def _follow(info: Info, channel: str, position: Position
                  ) -> AsyncGenerator[SharedEvent, None]:
    context = info.context
    viewer = context.viewer
    ring = services.KeyRing(context.settings)
    loop = asyncio.get_running_loop()
    last_read = loop.time()
    must_read = True
    async with context.runtime.broker.subscribe(channel) as subscription:
        while True:
            if must_read:
                last_read = loop.time()
                while True:  # drain everything past the position, in commit order
                    batch = await _read_after(position, ring)
                    for live in batch:
                        cursor = position.advance(live.row)
                        yield live.event_for(viewer.account_id, context.locale, cursor)
                    if len(batch) < services.CATCH_UP_BATCH:
                        break
            # Sleep until a wake-up (message or resync) or the safety read. Only those read
            # the database: idle subscriptions cost few queries. Wake-ups queued meanwhile
            # are coalesced: the read takes everything past the position anyway.
            wait = max(0.05, SAFETY_READ_SECONDS - (loop.time() - last_read))
            try:
                # (asyncio.timeout, not wait_for: no task per wait. A cancelled Queue.get
                # leaves its item queued, so a wake-up is never lost to the timeout.)
                async with asyncio.timeout(wait):
                    await subscription.get()
                subscription.take_pending()
                must_read = True
            except TimeoutError:
                must_read = loop.time() - last_read >= SAFETY_READ_SECONDS


@dataclass(slots=True)
class LiveMessage:
    """One stored message as this process delivers it: read and decrypted once, executed once
    per (operation, variables, visibility) for all its local subscribers."""

    row: MessageModel
    body: str
    shared: SharedResults
    # Encoded payloads by (operation, variables, visibility), for ConversationFeed.
    payloads: dict[tuple, str] = field(default_factory=dict)

    def event_for(self, viewer_account_id: int, locale: str, cursor: str) -> SharedEvent:
        # Visibility: what makes two viewers see this message differently: `isMine` (author
        # or not), the language (authorName of a deleted account, attachments' typeLabel)
        # and the cursor (the same for every `messageAdded` subscriber; an `inbox` cursor
        # holds that subscriber's positions). Attachments are the same for every participant
        # (no per-viewer filtering), and blocking stops writing, not reading. A new
        # viewer-dependent field of Message must be added here.
        is_mine = self.row.author_account_id == viewer_account_id
        value = Message.from_model(self.row, self.body, viewer_account_id)
        value.cursor = cursor
        return SharedEvent(value=value, visibility=("message", is_mine, locale, cursor),
                           shared=self.shared)


# Identical catch-up reads in flight in this process, shared: after a message, every local
# subscriber of the conversation asks for the same rows at the same position.
_inflight: dict[tuple, asyncio.Task] = {}
# Messages recently delivered by this process, by id: subscribers at different positions (one
# was behind) still share one decryption and one execution per visibility.
_recent: OrderedDict[uuid.UUID, LiveMessage] = OrderedDict()
RECENT_MESSAGES = 2048


async def _read_after(position: Position, ring: services.KeyRing) -> list[LiveMessage]:
    key = position.read_key()
    task = _inflight.get(key)
    if task is None:
        task = asyncio.ensure_future(_read_live(position.read, ring))
        _inflight[key] = task
        task.add_done_callback(lambda _t, k=key: _inflight.pop(k, None))
    # shield: one subscriber leaving must not cancel the read the others wait for.
    return await asyncio.shield(task)


async def _read_live(read: Callable[[], Awaitable[list[MessageModel]]],
                     ring: services.KeyRing) -> list[LiveMessage]:
    """The rows past the position, decrypted once with the key ring of the subscriber that
    asked first (every subscriber sharing this read has the same scope: one conversation it
    takes part in, or one account's inbox)."""
    rows = await _read_with_retry(read)
    result = []
    for row in rows:
        live = _recent.get(row.id)
        if live is None:
            body = await ring.body(row, row.conversation.data_key_id)
            live = LiveMessage(row, body, SharedResults())
            _recent[row.id] = live
            if len(_recent) > RECENT_MESSAGES:
                _recent.popitem(last=False)
        result.append(live)
    return result


async def _read_with_retry(read: Callable[[], Awaitable[list[MessageModel]]]
                           ) -> list[MessageModel]:
    """Catch-up read that outlives a PostgreSQL restart or killed connections: reads are
    idempotent, so retrying with backoff is safe (writes are never retried)."""
    delay = 0.1
    while True:
        try:
            return await read()
        except (OperationalError, *DATABASE_UNAVAILABLE_ERRORS) as exc:
            log.warning("subscription read failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class ConversationFeed:
    """This process's `messageAdded` subscribers of one conversation (see the module doc)."""

    def __init__(self, conversation_id: uuid.UUID, runtime: object, ring: services.KeyRing
                 ) -> None:
        self.conversation_id = conversation_id
        self.channel = services.conversation_channel(conversation_id)
        self.members: set[LiveMember] = set()
        self.ring = ring
        self.reads = 0
        self._wake = asyncio.Event()
        # A context of its own: nothing of the first member's task (its language, its
        # operation) leaks into the feed, which serves them all.
        self._task = asyncio.get_running_loop().create_task(
            self._run(runtime.broker), context=contextvars.Context())  # type: ignore[attr-defined]

    @property
    def stopped(self) -> bool:
        return self._task.done()

    def join(self, member: LiveMember) -> None:
        self.members.add(member)
        # Read from its position (coalesced with other wake-ups): whatever this feed already
        # read past it, or was committed before the broker subscription, is caught up now.
        self._wake.set()

    def leave(self, member: LiveMember) -> bool:
        """True if the feed is now empty (and stopped)."""
        self.members.discard(member)
        if self.members:
            return False
        self._task.cancel()
        return True

    async def _run(self, broker: object) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with broker.subscribe(self.channel) as subscription:  # type: ignore[attr-defined]
                pump = asyncio.ensure_future(self._pump(subscription))
                try:
                    last_read = loop.time()
                    while True:
                        wait = max(0.05, SAFETY_READ_SECONDS - (loop.time() - last_read))
                        try:
                            async with asyncio.timeout(wait):
                                await self._wake.wait()
                        except TimeoutError:
                            if loop.time() - last_read < SAFETY_READ_SECONDS:
                                continue
                        self._wake.clear()
                        last_read = loop.time()
                        await self._read_and_deliver()
                finally:
                    pump.cancel()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: the members' sockets must not wait forever in silence
            log.exception("conversation feed failed; closing its sockets")
            if _feeds.get(self.conversation_id) is self:
                del _feeds[self.conversation_id]
            for member in list(self.members):
                member.closed = member.overflowed = True
                member._wake()

    async def _pump(self, subscription: object) -> None:
        # Every delivery (a message, or a resync) means: read past the positions.
        while True:
            await subscription.get()  # type: ignore[attr-defined]
            subscription.take_pending()  # type: ignore[attr-defined]
            self._wake.set()

    async def _read_and_deliver(self) -> None:
        while True:
            # Members that join during this pass are read for in the next one (join wakes).
            members = [m for m in self.members if not m.closed]
            if not members:
                return
            start = min(m.seq for m in members)
            self.reads += 1
            batch = await _read_after(ConversationPosition(self.conversation_id, start),
                                      self.ring)
            audiences: dict[tuple, list[LiveMember]] = {}
            for member in members:
                audiences.setdefault(member.audience, []).append(member)
            for live in batch:
                await self._deliver(live, audiences)
            if len(batch) < services.CATCH_UP_BATCH:
                return

    async def _deliver(self, live: LiveMessage, audiences: dict[tuple, list[LiveMember]]
                       ) -> None:
        seq = live.row.seq
        cursor = services.encode_cursor(seq)
        for members in audiences.values():
            behind = [m for m in members if m.seq < seq and not m.closed]
            if not behind:
                continue
            first = behind[0]
            event = live.event_for(first.account_id, first.locale, cursor)
            key = (first.static_key, event.visibility)
            payload = live.payloads.get(key)
            if payload is None:
                payload, shareable = await first.render(event.value)
                if shareable:
                    live.payloads[key] = payload
                else:  # errors: each member executes and is masked on its own
                    first.seq = seq
                    first.offer(payload)
                    for member in behind[1:]:
                        own, _ = await member.render(event.value)
                        if member.seq < seq:
                            member.seq = seq
                            member.offer(own)
                    continue
            for index, member in enumerate(behind, 1):
                if member.seq < seq:
                    member.seq = seq
                    member.offer(payload)
                if index % OFFER_SLICE == 0:
                    # Let the loop poll I/O between slices: a burst of hundreds of woken
                    # writers would otherwise delay every database answer behind it (among
                    # them those of the sendMessage transactions holding the conversation).
                    await asyncio.sleep(0)


# conversation id -> its feed in this process (while it has members).
_feeds: dict[uuid.UUID, ConversationFeed] = {}


async def _follow_frames(info: Info, conversation_id: uuid.UUID, start: int,
                         target: live_frames.FrameTarget,
                         executor: live_frames.SharedEventExecutor) -> None:
    context = info.context
    member = LiveMember(target, executor, account_id=context.viewer.account_id,
                        locale=context.locale, seq=start)
    feed = _feeds.get(conversation_id)
    if feed is None or feed.stopped:
        feed = _feeds[conversation_id] = ConversationFeed(
            conversation_id, context.runtime, services.KeyRing(context.settings))
    feed.join(member)
    try:
        await member.run()
    finally:
        if feed.leave(member) and _feeds.get(conversation_id) is feed:
            del _feeds[conversation_id]


def _app_viewer(info: Info) -> policy.AppViewer | None:
    viewer = policy.viewer_of(info.context.viewer)
    return viewer if isinstance(viewer, policy.AppViewer) else None


async def _logged(app: policy.AppViewer | None, events: AsyncGenerator[SharedEvent, None]
                  ) -> AsyncGenerator[SharedEvent, None]:
    """`events`, each one sent to an app written in the patient's access log first."""
    try:
        async for event in events:
            if app is not None:
                async with access_log.recording():
                    policy.log_read(policy.own_access(app), AccessKind.MESSAGES)
            yield event
    finally:
        await events.aclose()


@strawberry.type
class MessagingSubscriptions:
    @strawberry.subscription(description="New messages of one conversation after `after` (a "
                                          "message cursor), then live ones, without duplicates,"
                                          " in the order they were stored (each strictly after "
                                          "the one before). Without `after`: only messages "
                                          "from now on.", directives=[app_scope(MESSAGES_READ)])
    async def message_added(self, info: Info, conversation_id: strawberry.ID,
                            after: str | None = None) -> AsyncGenerator[Message, None]:
        viewer = info.context.viewer
        if viewer is None:
            raise NotAuthenticated()
        conversation = await services.conversation_for(viewer, str(conversation_id))
        if conversation is None:
            raise PublicError(N_("Conversation introuvable."), code="NOT_FOUND")
        cursor = services.decode_cursor(after)
        start = conversation.last_seq if cursor is None else cursor
        app = _app_viewer(info)
        target = live_frames.current_target.get()
        executor = live_frames.subscription_executor()
        if app is None and target is not None and executor is not None:
            # Over our websocket handlers: frames are written by this process's feed of the
            # conversation, never yielded (Strawberry sends "complete" if this ever returns).
            await _follow_frames(info, conversation.id, start, target, executor)
            return
        async for message in _logged(app, _follow(
                info, services.conversation_channel(conversation.id),
                ConversationPosition(conversation.id, start))):
            yield message

    @strawberry.subscription(description="Every new message in any of my conversations after "
                                          "`after` (an inbox cursor: `latestCursor`, or the "
                                          "`cursor` of a message this subscription gave), "
                                          "then live ones, without duplicates; each "
                                          "conversation's in the order they were stored. "
                                          "Without `after` (or with another kind of cursor): "
                                          "from now on.", directives=[app_scope(MESSAGES_READ)])
    async def inbox(self, info: Info, after: str | None = None
                    ) -> AsyncGenerator[Message, None]:
        viewer = info.context.viewer
        if viewer is None:
            raise NotAuthenticated()
        positions = services.decode_inbox_cursor(after)
        if positions is None:
            positions = await services.inbox_positions(viewer.account_id)
        async for message in _logged(_app_viewer(info), _follow(
                info, services.inbox_channel(viewer.account_id),
                InboxPosition(viewer.account_id, positions))):
            yield message
