"""State of the Messagerie: my conversations (/messagerie), one conversation
(/messagerie/<id>), which updates live, and, for professionals, writing to a patient (a new
conversation, on /messagerie).

Needs a session: without one (or when the API says it is no longer valid) the tab goes to the
login page, which comes back here.

Live updates (see `carnet_web.live`): each page's `on_load` chains a background event that
follows a subscription: `messageAdded` for the open conversation (new messages appear, and are
marked read), `inbox` for the list (refreshed when a message arrives anywhere). The handler
applies what arrives inside `async with self:` and stops when a newer one started
(`_live_generation`) or the tab left the page.

Cursors are the API's opaque strings: they are passed back to it (to resume a subscription,
page back, mark read) and never decoded nor compared here. What is already shown is told by
message id; the order is the API's (pages come oldest first, subscriptions in the order the
messages were stored). My own reply, shown from the mutation's answer before the subscription
brings it, stays last until then (`merge_live`).

Every text computed here is in the tab's language (`self.lang`; switching language reloads the
page, so `on_load` computes them again). What a finished action said (an error, "Vous avez
bloqué…") is cleared when a page loads: it does not survive navigation or a reload.

Message bodies, subjects and names are shown as plain text only, never as HTML or Markdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple
from urllib.parse import unquote

import reflex as rx
from gql import GraphQLRequest
from reflex.event import EventSpec

from carnet_web import api, live
from carnet_web.i18n import N_, gettext
from carnet_web.routes import (  # noqa: F401  (re-exported)
    CONVERSATION_ROUTE,
    MESSAGING_ROUTE,
    conversation_path,
)
from carnet_web.state.focus import focus
from carnet_web.state.formatting import datetime_text, day_text, size_text
from carnet_web.state.pro_common import parse_traits
from carnet_web.state.session import PROFESSIONAL_ROLE, SessionState, api_errors

log = logging.getLogger("carnet_web.messaging")

CONVERSATIONS_PAGE: Final = 30
MAX_REFRESH: Final = 100  # the API's maximum page
MESSAGES_PAGE: Final = 50
DOCUMENTS_PAGE: Final = 100  # the API's maximum page
MAX_BODY: Final = 10_000  # as the API
MAX_SUBJECT: Final = 200  # as the API
MAX_ATTACHMENTS: Final = 10  # as the API
PREVIEW_CHARS: Final = 140
MARK_READ_WAIT_SECONDS: Final = 2.0
REPLY_ID: Final = "reply-body"
COMPOSE_PREFIX: Final = "compose-"
COMPOSE_TOGGLE_ID: Final = "compose-toggle"

CONVERSATION_GONE: Final = N_("Cette conversation n'existe pas ou vous n'y participez pas.")
EMPTY_REPLY: Final = N_("Écrivez votre message avant de l'envoyer.")
REPLY_TOO_LONG: Final = N_("Votre message dépasse la limite de {max} caractères.")
TOO_MANY_ATTACHMENTS: Final = N_("Vous pouvez joindre au plus {max} documents.")
LIVE_ENDED: Final = N_(
    "Les nouveaux messages ne s'affichent plus automatiquement. Rechargez la page."
)
MISSING_SUBJECT: Final = N_("Donnez un objet à la conversation.")
SUBJECT_TOO_LONG: Final = N_("L'objet dépasse la limite de {max} caractères.")
BAD_RPPS: Final = N_("Un numéro RPPS compte 11 chiffres : {value} n'en est pas un.")
NOBODY_ELSE: Final = N_(
    "Ajoutez le patient à la conversation, ou au moins un autre professionnel (RPPS)."
)
YOU: Final = N_("Vous")
SOMEONE: Final = N_("Ce professionnel")

_MESSAGE_FIELDS: Final = """
fragment MessageFields on Message {
  id cursor body sentAt authorName isMine
  attachments { documentId typeLabel contentType size }
}
"""

CONVERSATIONS: Final = api.operation(
    """
    query MessagingConversations($first: Int!, $after: String, $withLatest: Boolean!) {
      conversations(first: $first, after: $after) {
        edges {
          node {
            id subject unreadCount patientParticipates createdAt
            lastMessage { body sentAt authorName isMine }
            participants { accountId displayName isPatient isMe }
          }
        }
        pageInfo { hasNextPage endCursor }
        latestCursor @include(if: $withLatest)
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

# Professionals only: writing to a patient.
START_CONVERSATION: Final = api.operation(
    """
    mutation MessagingStartConversation($input: StartConversationInput!) {
      startConversation(input: $input) {
        __typename
        ... on ConversationStarted { conversation { id } }
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
    "image/jpeg": N_("Image JPEG"),
    "image/png": N_("Image PNG"),
    "text/plain": N_("Texte"),
    "application/hl7-cda+xml": N_("Document CDA (XML)"),
}

# Which field of the new-conversation form a refusal of the API is about.
_START_ERROR_FIELDS: Final = {
    "PatientNotFound": "insMatricule",
    "TooManyFailedIdentityMatches": "insMatricule",
    "BlockedByPatient": "insMatricule",
    "ProfessionalNotFound": "professionalRpps",
}
_API_FIELDS: Final = {"subject": "subject", "body": "body", "participants": "professionalRpps"}


# --- what the pages show -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConversationItem:
    id: str
    href: str
    subject: str
    unread: int
    unread_label: str  # '2 non lus' / '2 unread'
    with_label: str  # 'Avec Médecin généraliste (Cabinet du Parc)'
    preview_author: str  # 'Vous' or the author's name
    preview: str  # the last message, on one line, shortened
    last_activity: str  # '28 novembre 2026 à 18:54' / '28 November 2026 at 18:54'


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
    cursor: str  # the API's, opaque
    body: str
    author: str
    is_mine: bool
    sent_at: str  # '28 novembre 2026 à 18:54'
    attachments: list[AttachmentItem]


@dataclasses.dataclass(frozen=True)
class DocumentOption:
    id: str
    label: str  # 'Prise de sang (7 mars 2025)'


def unread_label(count: int, language: str = "fr") -> str:
    return gettext(language, N_("{n} non lu") if count <= 1 else N_("{n} non lus"), n=count)


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """A message on one line, shortened to `limit` characters (with an ellipsis)."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def conversation_href(conversation_id: str) -> str:
    return conversation_path(conversation_id)


def others_label(participants: Sequence[Mapping[str, Any]], language: str = "fr") -> str:
    names = [str(p.get("displayName") or "") for p in participants if not p.get("isMe")]
    names = [name for name in names if name]
    return gettext(language, "Avec {names}", names=", ".join(names)) if names else ""


def conversation_item(node: Mapping[str, Any], language: str = "fr") -> ConversationItem:
    last = node.get("lastMessage") or {}
    unread = int(node.get("unreadCount") or 0)
    author = (gettext(language, YOU) if last.get("isMine") else str(last.get("authorName") or ""))
    return ConversationItem(
        id=str(node["id"]),
        href=conversation_href(str(node["id"])),
        subject=str(node.get("subject") or ""),
        unread=unread,
        unread_label=unread_label(unread, language),
        with_label=others_label(node.get("participants") or [], language),
        preview_author=author if last else "",
        preview=one_line(str(last.get("body") or "")) if last else "",
        last_activity=datetime_text(str(last.get("sentAt") or node.get("createdAt") or ""),
                                    language),
    )


def content_kind(content_type: str, language: str = "fr") -> str:
    kind = _CONTENT_KINDS.get(content_type.split(";")[0].strip().lower(), N_("Fichier"))
    return gettext(language, kind)


def attachment_item(node: Mapping[str, Any], titles: Mapping[str, str], language: str = "fr"
                    ) -> AttachmentItem:
    document_id = str(node["documentId"])
    type_label = str(node.get("typeLabel") or gettext(language, "Document"))
    return AttachmentItem(
        document_id=document_id,
        label=titles.get(document_id) or type_label,
        details=f"{content_kind(str(node.get('contentType') or ''), language)} · "
                f"{size_text(int(node.get('size') or 0), language)}",
    )


def message_item(node: Mapping[str, Any], titles: Mapping[str, str], language: str = "fr"
                 ) -> MessageItem:
    return MessageItem(
        id=str(node["id"]),
        cursor=str(node.get("cursor") or ""),
        body=str(node.get("body") or ""),
        author=gettext(language, YOU) if node.get("isMine") else str(node.get("authorName")
                                                                       or ""),
        is_mine=bool(node.get("isMine")),
        sent_at=datetime_text(str(node.get("sentAt") or ""), language),
        attachments=[attachment_item(a, titles, language) for a in node.get("attachments") or []],
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


def document_option(node: Mapping[str, Any], language: str = "fr") -> DocumentOption:
    title = str(node.get("title") or node.get("typeLabel") or gettext(language, "Document"))
    day = day_text(str(node.get("clinicalDate") or ""), language)
    label = f"{title} ({day})" if day else title
    if node.get("visibility") == "HIDDEN_FROM_PROFESSIONALS":
        # Attaching it shows it to the conversation's professionals: say so.
        label = gettext(language, "{label} — masqué aux professionnels", label=label)
    return DocumentOption(id=str(node["id"]), label=label)


def refusal_message(result: Mapping[str, Any], language: str = "fr") -> str:
    """The API's own message for a refused action (already in the tab's language: the API is
    told it), or a generic one."""
    message = str(result.get("message") or "").strip()
    return message or gettext(language, api.UNEXPECTED_MESSAGE)


def blocked_message(name: str, blocked: bool, language: str = "fr") -> str:
    if blocked:
        return gettext(language, "Vous avez bloqué {name} : ce professionnel ne peut plus vous "
                                 "écrire.", name=name)
    return gettext(language, "Vous avez débloqué {name} : ce professionnel peut de nouveau vous "
                             "écrire.", name=name)


def _route_conversation_id(path: str) -> str:
    """'/messagerie/<id>' -> '<id>' ('' for any other path)."""
    prefix = MESSAGING_ROUTE + "/"
    if not path.startswith(prefix):
        return ""
    return unquote(path[len(prefix):].strip("/"))


def merge_live(shown: Sequence[MessageItem], incoming: Iterable[MessageItem],
               pending: Sequence[str]) -> tuple[list[MessageItem], list[str]]:
    """Messages from the subscription (in the order they were stored) added to those shown.

    `pending`: ids of my own messages shown from the mutation's answer that the subscription
    has not brought yet; they stay last. A message already shown (a replay after a
    reconnection) is skipped; one of mine the subscription now brings takes its place among
    the others. Returns (messages, ids still pending)."""
    waiting = set(pending)
    confirmed = [m for m in shown if m.id not in waiting]
    mine = {m.id: m for m in shown if m.id in waiting}
    seen = {m.id for m in confirmed}
    for message in incoming:
        if message.id in seen:
            continue
        seen.add(message.id)
        confirmed.append(message)
        mine.pop(message.id, None)
    still = [i for i in pending if i in mine]
    return confirmed + [mine[i] for i in still], still


def prepend_earlier(shown: Sequence[MessageItem], earlier: Iterable[MessageItem]
                    ) -> list[MessageItem]:
    """An earlier page (oldest first) before what is shown, without what is already there."""
    ids = {m.id for m in shown}
    return [m for m in earlier if m.id not in ids] + list(shown)


def read_cursor(events: Sequence[live.Event]) -> str:
    """The cursor to mark read up to after these subscription events: that of the last message
    written by someone else ('' if none)."""
    theirs = [e.cursor for e in events
              if isinstance(e, live.Received) and not e.item.get("isMine") and e.cursor]
    return theirs[-1] if theirs else ""


def rpps_list(text: str) -> list[str] | str:
    """'10000000001, 10000000002' -> the RPPS numbers; or the first entry that is not one."""
    numbers = [part for part in re.split(r"[\s,;]+", text) if part]
    for number in numbers:
        if not re.fullmatch(r"\d{11}", number):
            return number
    return list(dict.fromkeys(numbers))


# --- calls made outside the state lock ------------------------------------------------------


class Answer(NamedTuple):
    data: dict[str, Any] | None  # None when the call failed
    expired: bool  # the session is over (the page goes to the login page)


async def quiet_call(document: GraphQLRequest, variables: Mapping[str, Any], *, token: str,
                     headers: Mapping[str, str], what: str) -> Answer:
    """An API call whose failure is not shown (a live handler's refresh, marking read): it is
    logged (its code only), and the next live event tries again. The one place such calls
    handle API errors; an ended session is told to the caller."""
    try:
        return Answer(await api.execute(document, variables, token=token, headers=headers),
                      False)
    except api.ApiUnauthenticated:
        return Answer(None, True)
    except api.ApiError as exc:
        log.info("messaging: %s failed (%s)", what, exc.code)
        return Answer(None, False)


async def mark_read_soon(conversation_id: str, up_to: str, *, token: str,
                         headers: Mapping[str, str], wait: float = MARK_READ_WAIT_SECONDS
                         ) -> None:
    """Mark read (best effort: a failure only leaves the conversation unread), waiting at most
    `wait` seconds: a slow API must not hold back live messages. The call goes on to the end
    in any case, even if the caller is cancelled (the tab left the page just then)."""
    task = asyncio.ensure_future(quiet_call(MARK_READ, {"id": conversation_id,
                                                        "upTo": up_to or None},
                                            token=token, headers=headers, what="mark read"))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), wait)


_PENDING: set[asyncio.Future[Answer]] = set()  # keeps shielded calls alive until they end


# --- the state -----------------------------------------------------------------------------


class MessagingState(SessionState):
    # My conversations.
    conversations: list[ConversationItem] = []
    list_loading: bool = True
    list_error: str = ""
    has_more_conversations: bool = False
    loading_more_conversations: bool = False
    _conversations_end: str = ""
    _inbox_after: str = ""  # where the inbox subscription starts (the API's latestCursor)

    # Writing to a patient (professionals).
    compose_open: bool = False
    composing: bool = False
    compose_error: str = ""
    compose_field: str = ""  # the form field the error is about

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
    _pending_ids: list[str] = []  # my replies not brought by the subscription yet
    info: str = ""
    error: str = ""
    blocking: bool = False
    block_target: str = ""  # the professional id being blocked or unblocked

    # The reply box (its text is read on "Envoyer", and emptied once sent).
    sending: bool = False
    reply_error: str = ""
    is_patient: bool = False  # can attach documents and block professionals
    documents: list[DocumentOption] = []
    attached: list[DocumentOption] = []
    _titles: dict[str, str] = {}

    # Live updates: 'connecting', 'live', 'reconnecting', 'ended' or '' (not following).
    live_status: str = ""
    _live_generation: int = 0
    _live_cursor: str = ""  # the last message shown, to resume from (opaque)

    @rx.var
    def can_attach_more(self) -> bool:
        return len(self.attached) < MAX_ATTACHMENTS

    @rx.var
    def attachable(self) -> list[DocumentOption]:
        """My documents not attached yet (for the picker)."""
        chosen = {option.id for option in self.attached}
        return [option for option in self.documents if option.id not in chosen]

    @rx.var
    def attach_options(self) -> list[list[str]]:
        """The picker's choices: a first line saying what to do, then my documents not
        attached yet, as [id, label]."""
        chosen = {option.id for option in self.attached}
        first = (N_("Choisissez un document…") if self.documents
                 else N_("Aucun document dans votre dossier"))
        return [["", self._t(first)]] + [[option.id, option.label] for option in self.documents
                                         if option.id not in chosen]

    # --- helpers ------------------------------------------------------------------------

    def _expired(self) -> EventSpec:
        """The session is over: forget what was shown, stop live updates, go to the login
        page (which comes back here)."""
        self.conversations = []
        self.messages = []
        self.participants = []
        self.documents = []
        self.attached = []
        self._titles = {}
        self.live_status = ""
        self._live_generation += 1  # stop any live handler
        return super()._expired()

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
        items = [conversation_item(edge["node"], self.lang) for edge in connection["edges"]]
        if more:
            known = {item.id for item in self.conversations}
            items = self.conversations + [item for item in items if item.id not in known]
        if "latestCursor" in connection:
            # Where the inbox subscription resumes: the latest message of all my
            # conversations, as the API says (asked on loading the list only).
            self._inbox_after = str(connection["latestCursor"] or "")
        self.conversations = items
        page_info = connection.get("pageInfo") or {}
        self.has_more_conversations = bool(page_info.get("hasNextPage"))
        self._conversations_end = str(page_info.get("endCursor") or "")

    def _messages_of(self, connection: Mapping[str, Any]) -> list[MessageItem]:
        return [message_item(edge["node"], self._titles, self.lang)
                for edge in connection["edges"]]

    def _apply_live(self, events: Sequence[live.Event]) -> EventSpec | None:
        """Apply what the conversation's subscription delivered (under the state lock).
        Returns a redirect if the session ended."""
        fresh: list[MessageItem] = []
        for event in events:
            if isinstance(event, live.Connected):
                self.live_status = "live"
            elif isinstance(event, live.Disconnected):
                self.live_status = "reconnecting"
            elif isinstance(event, live.Ended):
                if event.reason == live.ENDED_UNAUTHENTICATED:
                    return self._expired()
                self.live_status = "ended"
                self.error = self._t(LIVE_ENDED)
            elif isinstance(event, live.Received):
                fresh.append(message_item(event.item, self._titles, self.lang))
                self._live_cursor = event.cursor or self._live_cursor
        if fresh:
            self.messages, self._pending_ids = merge_live(self.messages, fresh,
                                                          self._pending_ids)
        return None

    async def _fetch_conversations(self, *, more: bool = False) -> None:
        variables: dict[str, Any] = {"first": CONVERSATIONS_PAGE, "withLatest": not more}
        if more and self._conversations_end:
            variables["after"] = self._conversations_end
        data = await self._query(CONVERSATIONS, variables)
        self._apply_conversations(data["conversations"], more=more)

    async def _fetch_patient_extras(self) -> None:
        """My documents (to attach) and the professionals I blocked. A professional has
        neither (and the API refuses them these queries): no attachments nor block buttons,
        the rest of the page works."""
        self.is_patient = False
        self.documents = []
        if self.account_role == PROFESSIONAL_ROLE:
            return
        try:
            data = await self._query(PATIENT_EXTRAS, {"first": DOCUMENTS_PAGE})
        except api.ApiUnauthenticated:
            raise
        except api.ApiError as exc:  # not a patient after all, or not now: degrade
            log.info("messaging: no patient extras (%s)", exc.code)
            return
        nodes = [edge["node"] for edge in data["documents"]["edges"]]
        self.is_patient = True
        self.documents = [document_option(node, self.lang) for node in nodes]
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
        self._pending_ids = []
        self.info = ""
        self.error = ""
        self.blocking = False
        self.block_target = ""
        self.sending = False
        self.reply_error = ""
        self.attached = []
        self.live_status = ""
        self._live_cursor = ""

    def _reset_compose(self) -> None:
        self.compose_open = False
        self.composing = False
        self.compose_error = ""
        self.compose_field = ""

    # --- my conversations (/messagerie) -------------------------------------------------

    @rx.event
    @api_errors(error="list_error", busy="list_loading")
    async def load_list(self) -> AsyncIterator[EventSpec | None]:
        """On loading /messagerie (and "Réessayer"): my conversations, then live updates."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._live_generation += 1  # a conversation's live handler stops
        self._reset_conversation("")
        self._reset_compose()
        self.list_loading = True
        self.list_error = ""
        self._inbox_after = ""
        yield
        await self._fetch_conversations()
        self.list_loading = False
        yield MessagingState.follow_inbox

    @rx.event
    @api_errors(error="list_error", busy="loading_more_conversations")
    async def load_more_conversations(self) -> AsyncIterator[EventSpec | None]:
        if self.loading_more_conversations or not self.has_more_conversations:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading_more_conversations = True
        self.list_error = ""
        yield
        await self._fetch_conversations(more=True)

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

    @rx.event(background=True)
    async def follow_inbox(self) -> AsyncIterator[EventSpec | None]:
        """While /messagerie is open: refresh the list whenever a message arrives in any of
        my conversations (the subscription resumes from the latest message listed, so what
        came between loading the list and subscribing is not missed)."""
        async with self:
            self._live_generation += 1
            generation = self._live_generation
            token = self._api_token
            headers = self._forwarded_headers()
            after = self._inbox_after
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
                answer = await quiet_call(
                    CONVERSATIONS, {"first": min(MAX_REFRESH, max(CONVERSATIONS_PAGE, shown)),
                                    "withLatest": False},
                    token=token, headers=headers, what="list refresh")
                async with self:
                    if not self._still_on_list(generation):
                        return
                    if answer.expired:
                        redirect = self._expired()
                    elif answer.data is not None:
                        self._apply_conversations(answer.data["conversations"], more=False)
                if redirect is not None:
                    yield redirect
                    return

    # --- writing to a patient (professionals, on /messagerie) ---------------------------

    @rx.event
    def toggle_compose(self) -> EventSpec | None:
        """"Écrire à un patient": shows the new-conversation form (its first field takes the
        focus); "Annuler" hides it, and the focus goes back to the button that opens it."""
        self.compose_open = not self.compose_open
        self.compose_error = ""
        self.compose_field = ""
        return None if self.compose_open else focus(COMPOSE_TOGGLE_ID)

    def _start_input(self, form: Mapping[str, Any]) -> dict[str, Any] | tuple[str, str]:
        """The `StartConversationInput` from the form, or (field, message) to fix first."""
        subject = " ".join(str(form.get("subject") or "").split())
        if not subject:
            return "subject", self._t(MISSING_SUBJECT)
        if len(subject) > MAX_SUBJECT:
            return "subject", self._t(SUBJECT_TOO_LONG, max=MAX_SUBJECT)
        traits = parse_traits(form)
        if not isinstance(traits, dict):
            return traits.field, self._t(traits.message)
        include_patient = bool(form.get("includePatient"))
        rpps = rpps_list(str(form.get("professionalRpps") or ""))
        if isinstance(rpps, str):
            return "professionalRpps", self._t(BAD_RPPS, value=rpps)
        if not include_patient and not rpps:
            return "professionalRpps", self._t(NOBODY_ELSE)
        body = str(form.get("body") or "").strip()
        if not body:
            return "body", self._t(EMPTY_REPLY)
        if len(body) > MAX_BODY:
            return "body", self._t(REPLY_TOO_LONG, max=MAX_BODY)
        return {"subject": subject, "patient": traits, "includePatient": include_patient,
                "professionalRpps": rpps, "body": body}

    @rx.event
    @api_errors(error="compose_error", busy="composing")
    async def start_conversation(self, form: dict[str, Any]
                                 ) -> AsyncIterator[EventSpec | None]:
        """"Envoyer" on the new-conversation form: the conversation is opened on success;
        otherwise the field to fix gets the focus, what was typed stays."""
        if self.composing:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.compose_error = ""
        self.compose_field = ""
        checked = self._start_input(form)
        if isinstance(checked, tuple):
            self.compose_field, self.compose_error = checked
            yield focus(COMPOSE_PREFIX + self.compose_field)
            return
        self.composing = True
        yield
        data = await self._query(START_CONVERSATION, {"input": checked})
        result = data["startConversation"]
        if result.get("__typename") != "ConversationStarted":
            kind = str(result.get("__typename") or "")
            self.compose_field = _START_ERROR_FIELDS.get(
                kind, _API_FIELDS.get(str(result.get("field") or ""), "subject"))
            self.compose_error = refusal_message(result, self.lang)
            yield focus(COMPOSE_PREFIX + self.compose_field)
            return
        self._reset_compose()
        yield rx.redirect(conversation_path(str(result["conversation"]["id"])))

    # --- one conversation (/messagerie/<id>) --------------------------------------------

    @rx.event
    @api_errors(error="conversation_error", busy="conversation_loading")
    async def load_conversation(self) -> AsyncIterator[EventSpec | None]:
        """On loading /messagerie/<id>: the conversation, its latest messages, marked read;
        then live updates."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        conversation_id = self._path_conversation_id()
        self._live_generation += 1  # whatever followed before stops
        self._reset_conversation(conversation_id)
        self._reset_compose()
        yield
        data = await self._query(CONVERSATION, {"id": conversation_id, "last": MESSAGES_PAGE})
        conversation = data.get("conversation")
        if conversation is None or data.get("messages") is None:
            self.not_found = True
            self.conversation_error = self._t(CONVERSATION_GONE)
            return
        self.subject = str(conversation.get("subject") or "")
        self.participants = [participant_item(p, set())
                             for p in conversation.get("participants") or []]
        await self._fetch_patient_extras()
        connection = data["messages"]
        self.messages = self._messages_of(connection)
        page_info = connection.get("pageInfo") or {}
        self.has_earlier = bool(page_info.get("hasPreviousPage"))
        self._earlier_before = str(page_info.get("startCursor") or "")
        self._live_cursor = str(page_info.get("endCursor") or "")
        if int(conversation.get("unreadCount") or 0) > 0:
            await mark_read_soon(conversation_id, self._live_cursor, token=self._api_token,
                                 headers=self._forwarded_headers())
        self.conversation_loading = False
        yield MessagingState.follow_conversation

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
    @api_errors(error="error", busy="loading_earlier")
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
        data = await self._query(EARLIER_MESSAGES, {
            "id": self.open_id, "before": self._earlier_before, "last": MESSAGES_PAGE})
        connection = data.get("messages")
        if connection is None:
            self.error = self._t(CONVERSATION_GONE)
            return
        self.messages = prepend_earlier(self.messages, self._messages_of(connection))
        page_info = connection.get("pageInfo") or {}
        self.has_earlier = bool(page_info.get("hasPreviousPage"))
        self._earlier_before = str(page_info.get("startCursor") or "")

    # --- replying -----------------------------------------------------------------------

    @rx.event
    def attach_document(self, document_id: str) -> None:
        """The document picker: add one of my documents to the message being written."""
        self.reply_error = ""
        if not document_id or any(option.id == document_id for option in self.attached):
            return
        if len(self.attached) >= MAX_ATTACHMENTS:
            self.reply_error = self._t(TOO_MANY_ATTACHMENTS, max=MAX_ATTACHMENTS)
            return
        option = next((o for o in self.documents if o.id == document_id), None)
        if option is not None:
            self.attached = [*self.attached, option]

    @rx.event
    def detach_document(self, document_id: str) -> EventSpec:
        """"Retirer": the chip goes; the focus goes back to the picker (not to the page)."""
        self.attached = [option for option in self.attached if option.id != document_id]
        return focus("attach-select")

    @rx.event
    @api_errors(error="reply_error", busy="sending")
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
            self.reply_error = self._t(EMPTY_REPLY)
            yield focus(REPLY_ID)
            return
        if len(body) > MAX_BODY:
            self.reply_error = self._t(REPLY_TOO_LONG, max=MAX_BODY)
            yield focus(REPLY_ID)
            return
        self.sending = True
        yield
        data = await self._query(SEND_MESSAGE, {
            "id": self.open_id, "body": body,
            "attachmentIds": [option.id for option in self.attached],
        })
        result = data["sendMessage"]
        if result.get("__typename") != "MessageSent":
            self.reply_error = refusal_message(result, self.lang)
            return
        # Shown at once, last; the subscription brings it too (then skipped: same id).
        sent = message_item(result["sentMessage"], self._titles, self.lang)
        if all(m.id != sent.id for m in self.messages):
            self.messages = [*self.messages, sent]
            self._pending_ids = [*self._pending_ids, sent.id]
        self.attached = []
        # Sent: the text box is emptied, and has the focus for the next message.
        yield rx.set_value(REPLY_ID, "")
        yield focus(REPLY_ID)

    # --- blocking -----------------------------------------------------------------------

    @rx.event
    @api_errors(error="error", busy="blocking")
    async def set_blocked(self, professional_id: str, blocked: bool
                          ) -> AsyncIterator[EventSpec | None]:
        """"Bloquer" / "Débloquer" a professional of this conversation."""
        if self.blocking or not professional_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.blocking = True
        self.block_target = professional_id
        self.info = ""
        self.error = ""
        yield
        data = await self._query(BLOCK if blocked else UNBLOCK,
                                 {"professionalId": professional_id})
        result = data["blockProfessional" if blocked else "unblockProfessional"]
        if result.get("__typename") != "BlockChanged":
            self.error = refusal_message(result, self.lang)
            return
        now_blocked = bool(result.get("blocked"))
        name = next((p.name for p in self.participants if p.professional_id == professional_id),
                    self._t(SOMEONE))
        self.participants = [
            dataclasses.replace(p, blocked=now_blocked) if p.professional_id == professional_id
            else p
            for p in self.participants
        ]
        self.info = blocked_message(name, now_blocked, self.lang)
