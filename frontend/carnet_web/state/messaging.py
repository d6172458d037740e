"""State of the Messagerie (patient side): my conversations (/messagerie) and one conversation
(/messagerie/<id>), which updates live.

Needs a session: without one (or when the API says it is no longer valid) the tab goes to the
login page.

Live updates (see `carnet_web.live`): each page's `on_load` chains a background event that
follows a subscription from the cursor of the last message shown: `messageAdded` for the open
conversation (new messages appear, and are marked read), `inbox` for the list (refreshed when
a message arrives anywhere). The handler applies what arrives inside `async with self:`,
skipping what is already shown (by cursor), and stops when a newer one started
(`_live_generation`) or the tab left the page.

Message bodies, subjects and names are shown as plain text only, never as HTML or Markdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import unquote

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api, live
from carnet_web.state.formatting import french_datetime, french_day, french_size
from carnet_web.state.session import SessionState

log = logging.getLogger("carnet_web.messaging")

from carnet_web.routes import CONVERSATION_ROUTE, MESSAGING_ROUTE  # noqa: E402,F401  (re-exported)

CONVERSATIONS_PAGE: Final = 30
MESSAGES_PAGE: Final = 50
DOCUMENTS_PAGE: Final = 100  # the API's maximum page
MAX_BODY: Final = 10_000  # as the API
MAX_ATTACHMENTS: Final = 10  # as the API
PREVIEW_CHARS: Final = 140
MARK_READ_WAIT_SECONDS: Final = 2.0

CONVERSATION_GONE: Final = (
    "Cette conversation n'existe pas ou vous n'y participez pas."
)
EMPTY_REPLY: Final = "Écrivez votre message avant de l'envoyer."
REPLY_TOO_LONG: Final = f"Votre message dépasse la limite de {MAX_BODY} caractères."
TOO_MANY_ATTACHMENTS: Final = f"Vous pouvez joindre au plus {MAX_ATTACHMENTS} documents."
LIVE_ENDED: Final = (
    "Les nouveaux messages ne s'affichent plus automatiquement. Rechargez la page."
)

_MESSAGE_FIELDS: Final = """
fragment MessageFields on Message {
  id cursor body sentAt authorName isMine
  attachments { documentId typeLabel contentType size }
}
"""

CONVERSATIONS: Final = api.operation(
    """
    query MessagingConversations($first: Int!, $after: String) {
      conversations(first: $first, after: $after) {
        edges {
          node {
            id subject unreadCount patientParticipates createdAt cursor
            lastMessage { body sentAt authorName isMine }
            participants { accountId displayName isPatient isMe }
          }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
    """
)

CONVERSATION: Final = api.operation(
    _MESSAGE_FIELDS
    + """
    query MessagingConversation($id: ID!, $last: Int!) {
      conversation(id: $id) {
        id subject unreadCount
        participants { accountId displayName isPatient isMe professionalId }
      }
      messages(conversationId: $id, first: $last) {
        edges { cursor node { ...MessageFields } }
        pageInfo { hasPreviousPage startCursor endCursor }
      }
    }
    """
)

EARLIER_MESSAGES: Final = api.operation(
    _MESSAGE_FIELDS
    + """
    query MessagingEarlierMessages($id: ID!, $before: String!, $last: Int!) {
      messages(conversationId: $id, first: $last, before: $before) {
        edges { cursor node { ...MessageFields } }
        pageInfo { hasPreviousPage startCursor endCursor }
      }
    }
    """
)

# Patients only: what I can attach (my record) and whom I have blocked.
PATIENT_EXTRAS: Final = api.operation(
    """
    query MessagingPatientExtras($first: Int!) {
      documents(first: $first) {
        edges { node { id title typeLabel clinicalDate visibility } }
      }
      blockedProfessionals { id }
    }
    """
)

SEND_MESSAGE: Final = api.operation(
    _MESSAGE_FIELDS
    + """
    mutation MessagingSendMessage($id: ID!, $body: String!, $attachmentIds: [ID!]) {
      sendMessage(conversationId: $id, body: $body, attachmentIds: $attachmentIds) {
        __typename
        ... on MessageSent { sentMessage { ...MessageFields } }
        ... on InvalidMessage { field }
        ... on Error { message }
      }
    }
    """
)

MARK_READ: Final = api.operation(
    """
    mutation MessagingMarkRead($id: ID!, $upTo: String) {
      markRead(conversationId: $id, upTo: $upTo) {
        __typename
        ... on ReadMarked { unreadCount }
      }
    }
    """
)

BLOCK: Final = api.operation(
    """
    mutation MessagingBlock($professionalId: ID!) {
      blockProfessional(professionalId: $professionalId) {
        __typename
        ... on BlockChanged { professionalId blocked }
        ... on Error { message }
      }
    }
    """
)

UNBLOCK: Final = api.operation(
    """
    mutation MessagingUnblock($professionalId: ID!) {
      unblockProfessional(professionalId: $professionalId) {
        __typename
        ... on BlockChanged { professionalId blocked }
        ... on Error { message }
      }
    }
    """
)

MESSAGE_ADDED: Final = api.operation(
    _MESSAGE_FIELDS
    + """
    subscription MessagingMessageAdded($id: ID!, $after: String) {
      messageAdded(conversationId: $id, after: $after) { ...MessageFields }
    }
    """
)

INBOX: Final = api.operation(
    """
    subscription MessagingInbox($after: String) {
      inbox(after: $after) { id cursor }
    }
    """
)

_CONTENT_KINDS: Final = {
    "application/pdf": "PDF",
    "image/jpeg": "Image JPEG",
    "image/png": "Image PNG",
    "text/plain": "Texte",
    "application/hl7-cda+xml": "Document CDA (XML)",
}


# --- what the pages show -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConversationItem:
    id: str
    href: str
    subject: str
    unread: int
    unread_label: str  # '2 non lus'
    with_label: str  # 'Avec Médecin généraliste (Cabinet du Parc)'
    preview_author: str  # 'Vous' or the author's name
    preview: str  # the last message, on one line, shortened
    last_activity: str  # '28 novembre 2026 à 18:54'


@dataclasses.dataclass(frozen=True)
class ParticipantItem:
    account_id: str
    name: str
    is_me: bool
    is_patient: bool
    professional_id: str  # '' for patients (or when the API does not say)
    blocked: bool


@dataclasses.dataclass(frozen=True)
class AttachmentItem:
    document_id: str
    label: str  # the document's title when it is in my record, else its type
    details: str  # 'PDF · 1,5 Ko'


@dataclasses.dataclass(frozen=True)
class MessageItem:
    id: str
    cursor: str
    body: str
    author: str
    is_mine: bool
    sent_at: str  # '28 novembre 2026 à 18:54'
    attachments: list[AttachmentItem]


@dataclasses.dataclass(frozen=True)
class DocumentOption:
    id: str
    label: str  # 'Prise de sang (7 mars 2025)'


def unread_label(count: int) -> str:
    return f"{count} non lu" + ("s" if count > 1 else "")


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """A message on one line, shortened to `limit` characters (with an ellipsis)."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def conversation_href(conversation_id: str) -> str:
    return f"{MESSAGING_ROUTE}/{conversation_id}"


def others_label(participants: Sequence[Mapping[str, Any]]) -> str:
    names = [str(p.get("displayName") or "") for p in participants if not p.get("isMe")]
    names = [name for name in names if name]
    return "Avec " + ", ".join(names) if names else ""


def conversation_item(node: Mapping[str, Any]) -> ConversationItem:
    last = node.get("lastMessage") or {}
    unread = int(node.get("unreadCount") or 0)
    return ConversationItem(
        id=str(node["id"]),
        href=conversation_href(str(node["id"])),
        subject=str(node.get("subject") or ""),
        unread=unread,
        unread_label=unread_label(unread),
        with_label=others_label(node.get("participants") or []),
        preview_author=("Vous" if last.get("isMine") else str(last.get("authorName") or ""))
        if last else "",
        preview=one_line(str(last.get("body") or "")) if last else "",
        last_activity=french_datetime(str(last.get("sentAt") or node.get("createdAt") or "")),
    )


def content_kind(content_type: str) -> str:
    return _CONTENT_KINDS.get(content_type.split(";")[0].strip().lower(), "Fichier")


def attachment_item(node: Mapping[str, Any], titles: Mapping[str, str]) -> AttachmentItem:
    document_id = str(node["documentId"])
    type_label = str(node.get("typeLabel") or "Document")
    return AttachmentItem(
        document_id=document_id,
        label=titles.get(document_id) or type_label,
        details=f"{content_kind(str(node.get('contentType') or ''))} · "
                f"{french_size(int(node.get('size') or 0))}",
    )


def message_item(node: Mapping[str, Any], titles: Mapping[str, str]) -> MessageItem:
    return MessageItem(
        id=str(node["id"]),
        cursor=str(node["cursor"]),
        body=str(node.get("body") or ""),
        author="Vous" if node.get("isMine") else str(node.get("authorName") or ""),
        is_mine=bool(node.get("isMine")),
        sent_at=french_datetime(str(node.get("sentAt") or "")),
        attachments=[attachment_item(a, titles) for a in node.get("attachments") or []],
    )


def participant_item(node: Mapping[str, Any], blocked: set[str]) -> ParticipantItem:
    # `professionalId` is null for patients; older APIs did not have it at all (then no
    # block button: there is no id to block).
    professional_id = str(node.get("professionalId") or "")
    return ParticipantItem(
        account_id=str(node.get("accountId") or ""),
        name=str(node.get("displayName") or ""),
        is_me=bool(node.get("isMe")),
        is_patient=bool(node.get("isPatient")),
        professional_id=professional_id,
        blocked=bool(professional_id) and professional_id in blocked,
    )


def document_option(node: Mapping[str, Any]) -> DocumentOption:
    title = str(node.get("title") or node.get("typeLabel") or "Document")
    day = french_day(str(node.get("clinicalDate") or ""))
    label = f"{title} ({day})" if day else title
    if node.get("visibility") == "HIDDEN_FROM_PROFESSIONALS":
        # Attaching it shows it to the conversation's professionals: say so.
        label += " — masqué aux professionnels"
    return DocumentOption(id=str(node["id"]), label=label)


def send_error_message(result: Mapping[str, Any]) -> str:
    """The API's own French message for a refused message, or a generic one."""
    message = str(result.get("message") or "").strip()
    return message or api.UNEXPECTED_MESSAGE


def blocked_message(name: str, blocked: bool) -> str:
    if blocked:
        return f"Vous avez bloqué {name} : ce professionnel ne peut plus vous écrire."
    return f"Vous avez débloqué {name} : ce professionnel peut de nouveau vous écrire."


def _route_conversation_id(path: str) -> str:
    """'/messagerie/<id>' -> '<id>' ('' for any other path)."""
    prefix = MESSAGING_ROUTE + "/"
    if not path.startswith(prefix):
        return ""
    return unquote(path[len(prefix):].strip("/"))


def read_cursor(events: Sequence[live.Event]) -> str:
    """The cursor to mark read up to after these subscription events: the last message
    written by someone else ('' if none)."""
    theirs = [e.cursor for e in events
              if isinstance(e, live.Received) and not e.item.get("isMine") and e.cursor]
    return theirs[-1] if theirs else ""


async def _mark_read(conversation_id: str, up_to: str, *, token: str,
                     headers: Mapping[str, str]) -> None:
    try:
        await api.execute(MARK_READ, {"id": conversation_id, "upTo": up_to},
                          token=token, headers=headers)
    except api.ApiError as exc:  # the subscription says it if the session ended
        log.info("messaging: mark read failed (%s)", exc.code)


async def mark_read_soon(conversation_id: str, up_to: str, *, token: str,
                         headers: Mapping[str, str], wait: float = MARK_READ_WAIT_SECONDS
                         ) -> None:
    """Mark read, waiting at most `wait` seconds: a slow API must not hold back live
    messages. The call goes on to the end in any case, even if the caller is cancelled (the
    tab left the page just then)."""
    task = asyncio.ensure_future(_mark_read(conversation_id, up_to, token=token,
                                            headers=headers))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), wait)


_PENDING: set[asyncio.Future[None]] = set()  # keeps shielded calls alive until they end


# --- the state -----------------------------------------------------------------------------


class MessagingState(SessionState):
    # My conversations.
    conversations: list[ConversationItem] = []
    list_loading: bool = True
    list_error: str = ""
    has_more_conversations: bool = False
    loading_more_conversations: bool = False
    _conversations_end: str = ""
    _list_cursors: list[str] = []  # each listed conversation's latest message cursor

    # The open conversation.
    open_id: str = ""
    subject: str = ""
    participants: list[ParticipantItem] = []
    messages: list[MessageItem] = []
    conversation_loading: bool = True
    conversation_error: str = ""
    not_found: bool = False
    has_earlier: bool = False
    loading_earlier: bool = False
    _earlier_before: str = ""
    info: str = ""
    error: str = ""
    block_busy: str = ""  # the professional id being blocked or unblocked

    # The reply box; a new key empties the form after a message is sent.
    sending: bool = False
    reply_error: str = ""
    reply_form_key: int = 0
    is_patient: bool = False  # can attach documents and block professionals
    documents: list[DocumentOption] = []
    attached: list[DocumentOption] = []
    _titles: dict[str, str] = {}

    # Live updates: 'connecting', 'live', 'reconnecting', 'ended' or '' (not following).
    live_status: str = ""
    _live_generation: int = 0
    _live_cursor: str = ""

    @rx.var
    def can_attach_more(self) -> bool:
        return len(self.attached) < MAX_ATTACHMENTS

    @rx.var
    def attachable(self) -> list[DocumentOption]:
        """My documents not attached yet (for the picker)."""
        chosen = {option.id for option in self.attached}
        return [option for option in self.documents if option.id not in chosen]

    # --- helpers ------------------------------------------------------------------------

    def _expired(self) -> EventSpec:
        self.conversations = []
        self.messages = []
        self.participants = []
        self.live_status = ""
        self._live_generation += 1  # stop any live handler
        return self._to_login(api.UNAUTHENTICATED_MESSAGE)

    def _path_conversation_id(self) -> str:
        return _route_conversation_id(str(self.router.url.path or ""))

    def _still_on_list(self, generation: int) -> bool:
        """For the inbox handler: not superseded, and the tab still shows the list (Reflex
        cancels a page's on_load work on navigation; this also covers the rest)."""
        return (self._live_generation == generation and not self.open_id
                and str(self.router.url.path or "").rstrip("/") == MESSAGING_ROUTE)

    def _still_on_conversation(self, generation: int, conversation_id: str) -> bool:
        return (self._live_generation == generation and self.open_id == conversation_id
                and self._path_conversation_id() == conversation_id)

    def _apply_conversations(self, connection: Mapping[str, Any], *, more: bool) -> None:
        nodes = [edge["node"] for edge in connection["edges"]]
        items = [conversation_item(node) for node in nodes]
        cursors = [str(node.get("cursor") or "") for node in nodes]
        if more:
            known = {item.id for item in self.conversations}
            items = self.conversations + [item for item in items if item.id not in known]
            cursors = self._list_cursors + cursors
        self.conversations = items
        self._list_cursors = cursors
        page_info = connection.get("pageInfo") or {}
        self.has_more_conversations = bool(page_info.get("hasNextPage"))
        self._conversations_end = str(page_info.get("endCursor") or "")

    def _merge_messages(self, nodes: Sequence[Mapping[str, Any]]) -> list[MessageItem]:
        """Show these messages (from a query, a mutation or the subscription) where they
        belong; those already shown (same cursor) are skipped. Returns the new ones."""
        merged, added = live.merge_by_cursor(
            self.messages, [message_item(node, self._titles) for node in nodes],
            lambda item: item.cursor,
        )
        if added:
            self.messages = merged
        return added

    def _apply_live(self, events: Sequence[live.Event]) -> EventSpec | None:
        """Apply what the conversation's subscription delivered (under the state lock).
        Returns a redirect if the session ended."""
        fresh: list[Mapping[str, Any]] = []
        for event in events:
            if isinstance(event, live.Connected):
                self.live_status = "live"
            elif isinstance(event, live.Disconnected):
                self.live_status = "reconnecting"
            elif isinstance(event, live.Ended):
                if event.reason == live.ENDED_UNAUTHENTICATED:
                    return self._expired()
                self.live_status = "ended"
                self.error = LIVE_ENDED
            elif isinstance(event, live.Received):
                if not live.is_after(event.cursor, self._live_cursor):
                    continue  # already applied (a replay)
                self._live_cursor = event.cursor
                fresh.append(event.item)
        self._merge_messages(fresh)
        return None

    async def _fetch_conversations(self, *, more: bool = False) -> None:
        variables: dict[str, Any] = {"first": CONVERSATIONS_PAGE}
        if more and self._conversations_end:
            variables["after"] = self._conversations_end
        data = await self._query(CONVERSATIONS, variables)
        self._apply_conversations(data["conversations"], more=more)

    async def _fetch_patient_extras(self) -> None:
        """My documents (to attach) and the professionals I blocked. Not a patient, or not
        available now: no attachments and no block buttons (the rest of the page works)."""
        try:
            data = await self._query(PATIENT_EXTRAS, {"first": DOCUMENTS_PAGE})
        except api.ApiUnauthenticated:
            raise
        except api.ApiError as exc:
            log.info("messaging: no patient extras (%s)", exc.code)
            self.is_patient = False
            self.documents = []
            return
        nodes = [edge["node"] for edge in data["documents"]["edges"]]
        self.is_patient = True
        self.documents = [document_option(node) for node in nodes]
        self._titles = {str(node["id"]): str(node.get("title") or "") for node in nodes}
        blocked = {str(row["id"]) for row in data["blockedProfessionals"]}
        self.participants = [
            dataclasses.replace(p, blocked=bool(p.professional_id) and p.professional_id
                                in blocked)
            for p in self.participants
        ]

    def _reset_conversation(self, conversation_id: str) -> None:
        self.open_id = conversation_id
        self.subject = ""
        self.participants = []
        self.messages = []
        self.conversation_loading = True
        self.conversation_error = ""
        self.not_found = False
        self.has_earlier = False
        self.loading_earlier = False
        self._earlier_before = ""
        self.info = ""
        self.error = ""
        self.block_busy = ""
        self.sending = False
        self.reply_error = ""
        self.attached = []
        self.live_status = ""
        self._live_cursor = ""

    # --- my conversations (/messagerie) -------------------------------------------------

    @rx.event
    async def load_list(self) -> AsyncIterator[EventSpec | None]:
        """On loading /messagerie (and "Réessayer"): my conversations, then live updates."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.open_id = ""
        self.live_status = ""
        self._live_generation += 1  # a conversation's live handler stops
        self.list_loading = True
        self.list_error = ""
        yield
        try:
            await self._fetch_conversations()
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.list_error = exc.message
            return
        finally:
            self.list_loading = False
        yield MessagingState.follow_inbox

    @rx.event
    async def load_more_conversations(self) -> AsyncIterator[EventSpec | None]:
        if self.loading_more_conversations or not self.has_more_conversations:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading_more_conversations = True
        yield
        try:
            await self._fetch_conversations(more=True)
        except api.ApiUnauthenticated:
            yield self._expired()
        except api.ApiError as exc:
            self.list_error = exc.message
        finally:
            self.loading_more_conversations = False

    def _apply_inbox(self, events: Sequence[live.Event], *, cursor_known: bool
                     ) -> tuple[bool, EventSpec | None]:
        """Apply the inbox subscription's news (under the state lock). Returns whether to
        refresh the list, and a redirect if the session ended."""
        refresh = False
        for event in events:
            if isinstance(event, live.Received):
                refresh = True
            elif isinstance(event, live.Connected):
                self.live_status = "live"
                # Started from now (no cursor): what came before subscribing is not replayed.
                refresh = refresh or not cursor_known
            elif isinstance(event, live.Disconnected):
                self.live_status = "reconnecting"
            elif isinstance(event, live.Ended):
                if event.reason == live.ENDED_UNAUTHENTICATED:
                    return False, self._expired()
                self.live_status = "ended"
        return refresh, None

    def _newest_cursor(self) -> str:
        """The cursor of the latest message in my conversations as listed ('' if none)."""
        cursors = [c for c in self._list_cursors if live.cursor_position(c) is not None]
        return max(cursors, key=lambda c: live.cursor_position(c) or 0, default="")

    @rx.event(background=True)
    async def follow_inbox(self) -> AsyncIterator[EventSpec | None]:
        """While /messagerie is open: refresh the list whenever a message arrives in any of
        my conversations (the subscription resumes from the newest message listed, so what
        came between loading the list and subscribing is not missed)."""
        async with self:
            self._live_generation += 1
            generation = self._live_generation
            token = self._api_token
            headers = self._forwarded_headers()
            after = self._newest_cursor()
            if not token or self.open_id:
                return
            self.live_status = "connecting"
        async with live.listening(INBOX, {}, field="inbox", token=token, cursor=after or None,
                                  headers=headers) as feed:
            while not feed.ended:
                events = await feed.next_batch()
                async with self:
                    if not self._still_on_list(generation):
                        return
                    refresh, redirect = self._apply_inbox(events, cursor_known=bool(after))
                    shown = len(self.conversations)
                if redirect is not None:
                    yield redirect
                    return
                if not refresh:
                    continue
                try:
                    data = await api.execute(
                        CONVERSATIONS, {"first": min(100, max(CONVERSATIONS_PAGE, shown))},
                        token=token, headers=headers)
                except api.ApiUnauthenticated:
                    async with self:
                        redirect = self._expired()
                    yield redirect
                    return
                except api.ApiError as exc:
                    log.info("messaging: list refresh failed (%s)", exc.code)
                    continue
                async with self:
                    if not self._still_on_list(generation):
                        return
                    self._apply_conversations(data["conversations"], more=False)

    # --- one conversation (/messagerie/<id>) --------------------------------------------

    @rx.event
    async def load_conversation(self) -> AsyncIterator[EventSpec | None]:
        """On loading /messagerie/<id>: the conversation, its latest messages, marked read;
        then live updates."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        conversation_id = self._path_conversation_id()
        self._live_generation += 1  # whatever followed before stops
        self._reset_conversation(conversation_id)
        yield
        try:
            data = await self._query(
                CONVERSATION, {"id": conversation_id, "last": MESSAGES_PAGE})
            conversation = data.get("conversation")
            if conversation is None or data.get("messages") is None:
                self.not_found = True
                self.conversation_error = CONVERSATION_GONE
                return
            self.subject = str(conversation.get("subject") or "")
            self.participants = [participant_item(p, set())
                                 for p in conversation.get("participants") or []]
            await self._fetch_patient_extras()
            connection = data["messages"]
            self.messages = []
            self._merge_messages([edge["node"] for edge in connection["edges"]])
            page_info = connection.get("pageInfo") or {}
            self.has_earlier = bool(page_info.get("hasPreviousPage"))
            self._earlier_before = str(page_info.get("startCursor") or "")
            self._live_cursor = str(page_info.get("endCursor") or "")
            if int(conversation.get("unreadCount") or 0) > 0:
                await self._mark_read(self._live_cursor)
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.conversation_error = exc.message
            return
        finally:
            self.conversation_loading = False
        yield MessagingState.follow_conversation

    async def _mark_read(self, up_to: str) -> None:
        """Best effort: a failure only leaves the conversation marked unread."""
        if not self.open_id:
            return
        try:
            await self._query(MARK_READ, {"id": self.open_id, "upTo": up_to or None})
        except api.ApiUnauthenticated:
            raise
        except api.ApiError as exc:
            log.info("messaging: mark read failed (%s)", exc.code)

    @rx.event(background=True)
    async def follow_conversation(self) -> AsyncIterator[EventSpec | None]:
        """While the conversation is open: its new messages appear as they are sent, and
        those from others are marked read."""
        async with self:
            self._live_generation += 1
            generation = self._live_generation
            conversation_id = self.open_id
            token = self._api_token
            headers = self._forwarded_headers()
            cursor = self._live_cursor
            if not (token and conversation_id) or self.not_found:
                return
            self.live_status = "connecting"
        async with live.listening(MESSAGE_ADDED, {"id": conversation_id},
                                  field="messageAdded", token=token, cursor=cursor or None,
                                  headers=headers) as feed:
            while not feed.ended:
                events = await feed.next_batch()
                # Marked read before being shown: what I see is read, even if I leave at once.
                if up_to := read_cursor(events):
                    await mark_read_soon(conversation_id, up_to, token=token, headers=headers)
                async with self:
                    if not self._still_on_conversation(generation, conversation_id):
                        return
                    redirect = self._apply_live(events)
                if redirect is not None:
                    yield redirect
                    return

    @rx.event
    async def load_earlier(self) -> AsyncIterator[EventSpec | None]:
        """"Messages précédents": the page of messages before the oldest one shown."""
        if self.loading_earlier or not self.has_earlier or not self._earlier_before:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading_earlier = True
        self.error = ""
        yield
        try:
            data = await self._query(EARLIER_MESSAGES, {
                "id": self.open_id, "before": self._earlier_before, "last": MESSAGES_PAGE})
            connection = data.get("messages")
            if connection is None:
                self.error = CONVERSATION_GONE
                return
            self._merge_messages([edge["node"] for edge in connection["edges"]])
            page_info = connection.get("pageInfo") or {}
            self.has_earlier = bool(page_info.get("hasPreviousPage"))
            self._earlier_before = str(page_info.get("startCursor") or "")
        except api.ApiUnauthenticated:
            yield self._expired()
        except api.ApiError as exc:
            self.error = exc.message
        finally:
            self.loading_earlier = False

    # --- replying -----------------------------------------------------------------------

    @rx.event
    def attach_document(self, document_id: str) -> None:
        """The document picker: add one of my documents to the message being written."""
        self.reply_error = ""
        if not document_id or any(option.id == document_id for option in self.attached):
            return
        if len(self.attached) >= MAX_ATTACHMENTS:
            self.reply_error = TOO_MANY_ATTACHMENTS
            return
        option = next((o for o in self.documents if o.id == document_id), None)
        if option is not None:
            self.attached = [*self.attached, option]

    @rx.event
    def detach_document(self, document_id: str) -> None:
        self.attached = [option for option in self.attached if option.id != document_id]

    @rx.event
    async def send_reply(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Envoyer": my message (plain text) and the documents attached."""
        if self.sending:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        body = str(form_data.get("body") or "").strip()
        self.reply_error = ""
        self.info = ""
        if not body:
            self.reply_error = EMPTY_REPLY
            return
        if len(body) > MAX_BODY:
            self.reply_error = REPLY_TOO_LONG
            return
        self.sending = True
        yield
        try:
            data = await self._query(SEND_MESSAGE, {
                "id": self.open_id, "body": body,
                "attachmentIds": [option.id for option in self.attached],
            })
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.reply_error = exc.message
            return
        finally:
            self.sending = False
        result = data["sendMessage"]
        if result.get("__typename") != "MessageSent":
            self.reply_error = send_error_message(result)
            return
        # Shown at once; the subscription brings it too, and is skipped then (same cursor).
        self._merge_messages([result["sentMessage"]])
        self.attached = []
        self.reply_form_key += 1

    # --- blocking -----------------------------------------------------------------------

    @rx.event
    async def set_blocked(self, professional_id: str, blocked: bool
                          ) -> AsyncIterator[EventSpec | None]:
        """"Bloquer" / "Débloquer" a professional of this conversation."""
        if self.block_busy or not professional_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.block_busy = professional_id
        self.info = ""
        self.error = ""
        yield
        try:
            data = await self._query(BLOCK if blocked else UNBLOCK,
                                     {"professionalId": professional_id})
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        finally:
            self.block_busy = ""
        result = data["blockProfessional" if blocked else "unblockProfessional"]
        if result.get("__typename") != "BlockChanged":
            self.error = send_error_message(result)
            return
        now_blocked = bool(result.get("blocked"))
        name = next((p.name for p in self.participants if p.professional_id == professional_id),
                    "Ce professionnel")
        self.participants = [
            dataclasses.replace(p, blocked=now_blocked) if p.professional_id == professional_id
            else p
            for p in self.participants
        ]
        self.info = blocked_message(name, now_blocked)
