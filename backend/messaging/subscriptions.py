"""Live messages over WebSocket, resumable from a cursor, with no loss and no duplicates.

Each subscription registers with the broker BEFORE reading the database, then reads everything
after its cursor whenever the broker wakes it (a message, or a resync after Redis came back),
so an announcement lost or raced never loses a message. A revoked session's sockets are closed
by backend/live_sockets.py (announced revocations, and a periodic sweep as a fallback), which
ends these subscriptions too.

Fan-out cost: the local subscribers of a conversation share one catch-up read, one decryption
per message, and one execution of their selection per (operation, variables, visibility)
(backend/live_frames.py); each socket then only gets the frame written.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import strawberry
from strawberry.types import Info
from tortoise.exceptions import OperationalError

from backend.db import DATABASE_UNAVAILABLE_ERRORS
from backend.errors import NotAuthenticated, PublicError
from backend.i18n import N_
from backend.live_frames import SharedEvent, SharedResults
from backend.messaging import services
from backend.messaging.models import Message as MessageModel
from backend.messaging.types import Message

log = logging.getLogger(__name__)

# A quiet subscription re-reads the database this often anyway: a safety net for a wake-up
# that could be lost between a timeout and a delivery (asyncio.wait_for on Python 3.11).
SAFETY_READ_SECONDS = 30.0


async def _follow(info: Info, channel: str, conversation_ids: list[uuid.UUID] | None,
                  cursor: int) -> AsyncGenerator[SharedEvent, None]:
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
                while True:  # drain everything past the cursor, in commit order
                    batch = await _read_after(conversation_ids, viewer.account_id, cursor,
                                              ring)
                    for live in batch:
                        cursor = live.row.seq
                        yield live.event_for(viewer.account_id, context.locale)
                    if len(batch) < services.CATCH_UP_BATCH:
                        break
            # Sleep until a wake-up (message or resync) or the safety read. Only those read
            # the database: idle subscriptions cost few queries.
            wait = max(0.05, SAFETY_READ_SECONDS - (loop.time() - last_read))
            try:
                await asyncio.wait_for(subscription.get(), timeout=wait)
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

    def event_for(self, viewer_account_id: int, locale: str) -> SharedEvent:
        # Visibility: what makes two viewers see this message differently: `isMine` (author
        # or not) and the language (authorName of a deleted account, attachments'
        # typeLabel). Attachments are the same for every participant (no per-viewer
        # filtering), and blocking stops writing, not reading. A new viewer-dependent field
        # of Message must be added here.
        is_mine = self.row.author_account_id == viewer_account_id
        return SharedEvent(value=Message.from_model(self.row, self.body, viewer_account_id),
                           visibility=("message", is_mine, locale), shared=self.shared)


# Identical catch-up reads in flight in this process, shared: after a message, every local
# subscriber of the conversation asks for the same rows at the same cursor.
_inflight: dict[tuple, asyncio.Task] = {}
# Messages recently delivered by this process, by id: subscribers at different cursors (one
# was behind) still share one decryption and one execution per visibility.
_recent: OrderedDict[uuid.UUID, LiveMessage] = OrderedDict()
RECENT_MESSAGES = 2048


async def _read_after(conversation_ids: list[uuid.UUID] | None, account_id: int, cursor: int,
                      ring: services.KeyRing) -> list[LiveMessage]:
    scope = tuple(conversation_ids) if conversation_ids is not None else ("inbox", account_id)
    key = (scope, cursor)
    task = _inflight.get(key)
    if task is None:
        task = asyncio.ensure_future(_read_live(conversation_ids, account_id, cursor, ring))
        _inflight[key] = task
        task.add_done_callback(lambda _t, k=key: _inflight.pop(k, None))
    # shield: one subscriber leaving must not cancel the read the others wait for.
    return await asyncio.shield(task)


async def _read_live(conversation_ids: list[uuid.UUID] | None, account_id: int, cursor: int,
                     ring: services.KeyRing) -> list[LiveMessage]:
    """The rows past the cursor, decrypted once with the key ring of the subscriber that asked
    first (every subscriber sharing this read was allowed this scope when it subscribed)."""
    rows = await _read_with_retry(conversation_ids, account_id, cursor)
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


async def _read_with_retry(conversation_ids: list[uuid.UUID] | None, account_id: int,
                           cursor: int) -> list:
    """Catch-up read that outlives a PostgreSQL restart or killed connections: reads are
    idempotent, so retrying with backoff is safe (writes are never retried)."""
    delay = 0.1
    while True:
        try:
            return await services.messages_after(conversation_ids, account_id, cursor,
                                                 limit=services.CATCH_UP_BATCH)
        except (OperationalError, *DATABASE_UNAVAILABLE_ERRORS) as exc:
            log.warning("subscription read failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


@strawberry.type
class MessagingSubscriptions:
    @strawberry.subscription(description="New messages of one conversation after `after` (a "
                                          "message cursor), then live ones, without duplicates,"
                                          " in the order they were stored (each strictly after "
                                          "the one before). Without `after`: only messages "
                                          "from now on.")
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
        async for message in _follow(info, services.conversation_channel(conversation.id),
                                     [conversation.id], start):
            yield message

    @strawberry.subscription(description="Every new message in any of my conversations after "
                                          "`after` (a message cursor, e.g. `conversations."
                                          "latestCursor`), then live ones, in the order they "
                                          "were stored. Without `after`: from now on.")
    async def inbox(self, info: Info, after: str | None = None
                    ) -> AsyncGenerator[Message, None]:
        viewer = info.context.viewer
        if viewer is None:
            raise NotAuthenticated()
        cursor = services.decode_cursor(after)
        start = await services.current_seq() if cursor is None else cursor
        async for message in _follow(info, services.inbox_channel(viewer.account_id), None,
                                     start):
            yield message
