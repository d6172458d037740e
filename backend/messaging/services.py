"""Messaging rules.

- A professional opens a conversation about one patient: with the patient taking part, or
  between professionals only. A patient replies within conversations opened with them.
- A patient may block a professional, who then can no longer write to them. Blocking answers
  alike whether the id names a professional or not.
- Starting a conversation checks the whole request (texts, participants, attachments) before
  the patient's INS traits are matched, and answers any refusal that depends on the matched
  patient exactly like a mismatch: the answers never confirm an identity short of success.
- A non-participant gets exactly what a missing conversation gives.
- A message is committed first, then announced through the broker (payload: its sequence
  number only, never content). Subscribers catch up from the database from their cursor.
- Each conversation numbers its own messages (`Conversation.last_seq`, taken under that row's
  lock by the inserting transaction): no global lock, so inserts into different conversations
  never wait on each other. A message cursor is a position in its conversation; the `inbox`
  cursor (across conversations, which have no common order) is one position per conversation.
- The patient is told at once of a message someone else wrote to them (if they want to know,
  on their channel, in their language, with no content: backend/identity/notices.py), once per
  unread streak; professionals get a reminder for a message left unread a while.
"""

from __future__ import annotations

import base64
import heapq
import logging
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from backend.access import policy
from backend.errors import DomainError
from backend.i18n import N_, gettext
from backend.identity import matching, notices
from backend.identity.models import Account, AccountStatus, Professional, Role
from backend.identity.services import Viewer
from backend.keys import services as keys
from backend.messaging.models import Block, Conversation, Message, MessageAttachment, Participant
from backend.records.models import Document
from backend.runtime import Runtime
from backend.settings import Settings
from backend.text import clean_label, clean_text

log = logging.getLogger(__name__)

MAX_BODY = 10_000
MAX_SUBJECT = 200
MAX_ATTACHMENTS = 10
MAX_PAGE = 100
CATCH_UP_BATCH = 500


class MessagingError(DomainError):
    pass


class ConversationNotFound(MessagingError):
    message = N_("Conversation introuvable.")


class BlockedByPatient(MessagingError):
    message = N_("Ce patient ne souhaite plus recevoir vos messages.")


class NotAllowed(MessagingError):
    message = N_("Seul un professionnel peut ouvrir une conversation.")


class InvalidMessage(MessagingError):
    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class AttachmentNotFound(MessagingError):
    message = N_("Pièce jointe introuvable dans le dossier du patient.")


class ProfessionalNotFound(MessagingError):
    message = N_("Professionnel introuvable (RPPS).")


# --- cursors -------------------------------------------------------------------------------


def encode_cursor(seq: int) -> str:
    """A message's position in its conversation (unchanged format: cursors taken before the
    per-conversation sequences still resume the same messages)."""
    return base64.urlsafe_b64encode(f"msg:{seq}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(value) if kind == "msg" and int(value) >= 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


_INBOX_PREFIX = b"inbox1:"
_INBOX_ENTRY = struct.Struct(">16sQ")
# A cursor naming more positions than this is refused (read as no cursor).
MAX_INBOX_POSITIONS = 10_000


def encode_inbox_cursor(positions: dict[uuid.UUID, int]) -> str:
    """The `inbox` position: for each conversation, the seq of the last message delivered.
    A conversation absent from it is read from its first message."""
    raw = b"".join(_INBOX_ENTRY.pack(c.bytes, s) for c, s in sorted(positions.items()) if s)
    return base64.urlsafe_b64encode(_INBOX_PREFIX + raw).decode()


def decode_inbox_cursor(cursor: str | None) -> dict[uuid.UUID, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode())
    except ValueError:
        return None
    if not raw.startswith(_INBOX_PREFIX):
        return None
    raw = raw[len(_INBOX_PREFIX):]
    if len(raw) % _INBOX_ENTRY.size or len(raw) // _INBOX_ENTRY.size > MAX_INBOX_POSITIONS:
        return None
    return {uuid.UUID(bytes=c): s for c, s in _INBOX_ENTRY.iter_unpack(raw)}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_conversation_cursor(conversation: Conversation) -> str:
    """A place in the conversation list (most recent activity first)."""
    at = conversation.last_message_at or conversation.created_at
    micros = (at - _EPOCH) // _MICROSECOND if at else 0  # exact (no float)
    return base64.urlsafe_b64encode(f"conv:{micros}:{conversation.id}".encode()).decode()


def decode_conversation_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        kind, micros, conversation_id = (
            base64.urlsafe_b64decode(cursor.encode()).decode().split(":"))
        if kind != "conv":
            return None
        return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(conversation_id)
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        return None


def conversation_channel(conversation_id: uuid.UUID) -> str:
    return f"conversation:{conversation_id}"


def inbox_channel(account_id: int) -> str:
    return f"inbox:{account_id}"


# --- encryption ----------------------------------------------------------------------------


def _subject_ad(conversation_id: uuid.UUID) -> bytes:
    return b"carnet:conversation-subject:" + conversation_id.bytes


def _body_ad(message_id: uuid.UUID) -> bytes:
    return b"carnet:message-body:" + message_id.bytes


class KeyRing:
    """Unwrapped data keys for one request or one subscription (never shared between)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: dict[int, bytes] = {}

    def add(self, data_key_id: int, key: bytes) -> None:
        """A key the caller's own statement read and unwrapped (joined to its rows)."""
        self._keys.setdefault(data_key_id, key)

    async def get(self, data_key_id: int) -> bytes:
        if data_key_id not in self._keys:
            self._keys[data_key_id] = await keys.data_key_by_id(self.settings, data_key_id)
        return self._keys[data_key_id]

    async def subject(self, conversation: Conversation) -> str:
        key = await self.get(conversation.data_key_id)
        return keys.decrypt_bytes(key, conversation.subject_encrypted,
                                  associated=_subject_ad(conversation.id)).decode()

    async def body(self, message: Message, data_key_id: int) -> str:
        key = await self.get(data_key_id)
        return keys.decrypt_bytes(key, message.body_encrypted,
                                  associated=_body_ad(message.id)).decode()


# --- validation ----------------------------------------------------------------------------


def _clean_text(value: str, field: str, limit: int) -> str:
    # Plain text only, never HTML-rendered: control and format characters (bidirectional
    # overrides included) are stripped; a body keeps its newlines and tabs, a subject is one line.
    text = clean_text(value) if field == "body" else clean_label(value)
    if not text:
        raise InvalidMessage(field, N_("Le message est vide.") if field == "body"
                             else N_("L'objet est obligatoire."))
    if len(text) > limit:
        raise InvalidMessage(field, N_("Limite de {limit} caractères dépassée."), limit=limit)
    return text


def _attachment_uuids(attachment_ids: Sequence[str]) -> list[uuid.UUID]:
    """The attachment ids as UUIDs (at most MAX_ATTACHMENTS); a malformed id is answered like
    a missing document."""
    if len(attachment_ids) > MAX_ATTACHMENTS:
        raise InvalidMessage("attachmentIds", N_("Au plus {limit} pièces jointes."),
                             limit=MAX_ATTACHMENTS)
    try:
        return [uuid.UUID(str(raw)) for raw in attachment_ids]
    except ValueError:
        raise AttachmentNotFound() from None


async def _check_attachments(settings: Settings, viewer: Viewer, conversation: Conversation,
                             attachment_ids: Sequence[str]) -> list[uuid.UUID]:
    """Documents of the conversation's patient that the author may share: for the patient,
    their own visible documents; for a professional, the documents they deposited and those
    the access policy lets them read (backend/access/policy.py)."""
    ids = _attachment_uuids(attachment_ids)
    if not ids:
        return []
    reader = policy.viewer_of(viewer)
    access = await policy.access_for(reader, conversation.patient_id,
                                     expiry_days=settings.care_relationship_expiry_days)
    query = Document.filter(id__in=ids, person_id=conversation.patient_id,
                            deleted_at__isnull=True)
    if isinstance(reader, policy.ProfessionalViewer):
        query = query.filter(Q(author_professional_id=reader.professional_id)
                             | access.documents())
    else:
        query = query.filter(access.documents())
    if await query.count() != len(set(ids)):
        raise AttachmentNotFound()
    return list(dict.fromkeys(ids))


async def _own_attachments(viewer: Viewer, attachment_ids: Sequence[str]
                           ) -> tuple[list[uuid.UUID], int | None]:
    """Before a conversation exists: documents this professional deposited, all in one
    patient's record. Returns their ids and that patient (None without attachments). Checked
    before any identity match, so the answer does not depend on the patient named."""
    ids = _attachment_uuids(attachment_ids)
    ids = list(dict.fromkeys(ids))
    if not ids:
        return [], None
    owners = await Document.filter(
        id__in=ids, author_professional_id=viewer.professional_id, deleted_at__isnull=True,
    ).values_list("person_id", flat=True)
    if len(owners) != len(ids) or len(set(owners)) != 1:
        raise AttachmentNotFound()
    return ids, int(owners[0])


async def _is_blocked(patient_person_id: int, professional_id: int) -> bool:
    return await Block.filter(patient_account__person_id=patient_person_id,
                              professional_id=professional_id).exists()


# --- writing -------------------------------------------------------------------------------


_NEXT_SEQ_POSTGRES = ("UPDATE conversation SET last_seq = last_seq + 1 WHERE id = $1 "
                      "RETURNING last_seq")
_NEXT_SEQ_SQLITE = "UPDATE conversation SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq"


async def _next_seq(conn, conversation_id: uuid.UUID) -> int:  # noqa: ANN001
    """The conversation's next message position. One statement, atomic: the conversation row
    stays locked until our transaction commits, so within a conversation sequence order is
    commit order; other conversations' rows, hence their inserts, are untouched."""
    # (execute_query_dict: Tortoise's execute_query drops rows of UPDATE ... RETURNING.)
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict(_NEXT_SEQ_POSTGRES, [conversation_id])
    else:  # SQLite (3.35+ has RETURNING; it serialises writers anyway); UUIDs stored as text
        rows = await conn.execute_query_dict(_NEXT_SEQ_SQLITE, [str(conversation_id)])
    return int(rows[0]["last_seq"])


async def _insert_message(conversation: Conversation, author_account_id: int, body: str,
                          attachment_ids: Sequence[uuid.UUID], data_key: bytes,
                          client_message_id: str | None = None) -> Message:
    message_id = uuid.uuid4()
    encrypted = keys.encrypt_bytes(data_key, body.encode(), associated=_body_ad(message_id))
    async with in_transaction() as conn:
        seq = await _next_seq(conn, conversation.id)  # first: the lock is held from here
        message = await Message.create(
            id=message_id, conversation_id=conversation.id, seq=seq,
            author_account_id=author_account_id, body_encrypted=encrypted,
            client_message_id=client_message_id, using_db=conn)
        for document_id in attachment_ids:
            await MessageAttachment.create(message_id=message_id, document_id=document_id,
                                           using_db=conn)
        await Conversation.filter(id=conversation.id).using_db(conn).update(
            last_message_id=message_id, last_message_at=message.sent_at)
        # The author has read their own message.
        await Participant.filter(conversation_id=conversation.id,
                                 account_id=author_account_id).using_db(conn).update(
            read_seq=seq)
    conversation.last_seq = seq
    conversation.last_message_id = message_id
    conversation.last_message_at = message.sent_at
    return message


async def _announce(rt: Runtime, conversation: Conversation, seq: int) -> None:
    """After commit. A lost announcement is caught up by subscribers (store first)."""
    account_ids = await Participant.filter(conversation_id=conversation.id).values_list(
        "account_id", flat=True)
    await rt.broker.publish(conversation_channel(conversation.id), str(seq))
    for account_id in account_ids:
        await rt.broker.publish(inbox_channel(account_id), str(seq))


async def start_conversation(
    rt: Runtime, viewer: Viewer, *, subject: str, patient: matching.PatientClaim,
    include_patient: bool, professional_rpps: Sequence[str], body: str,
    attachment_ids: Sequence[str] = (), address: str | None = None,
) -> tuple[Conversation, Message]:
    if not viewer.is_professional:
        raise NotAllowed()
    # 1. Everything that does not depend on the patient, before matching the identity.
    subject = _clean_text(subject, "subject", MAX_SUBJECT)
    body = _clean_text(body, "body", MAX_BODY)
    account_ids = {viewer.account_id}
    for rpps in professional_rpps:
        pro_account = await Account.filter(professional__rpps=str(rpps).strip(),
                                           status=AccountStatus.ACTIVE).first()
        if pro_account is None:
            raise ProfessionalNotFound()
        account_ids.add(pro_account.id)
    if not include_patient and len(account_ids) < 2:
        raise InvalidMessage("participants",
                             N_("Ajoutez le patient ou un autre professionnel."))
    attachments, attachments_patient = await _own_attachments(viewer, attachment_ids)
    # 2. The identity; from here on a refusal tied to the patient answers like a mismatch.
    match = await matching.find_patient(
        rt, matching.Requester(viewer.account_id, viewer.professional_id, "conversation",
                               address), patient)
    person = match.person
    if attachments_patient is not None and attachments_patient != person.id:
        await match.refuse()  # documents of another patient
    if include_patient:
        patient_account = await Account.filter(person_id=person.id,
                                               status=AccountStatus.ACTIVE).first()
        if patient_account is None:
            await match.refuse()  # no account to write to: like no such patient
        if await _is_blocked(person.id, viewer.professional_id):
            # Only a professional this patient blocked can get this answer: it tells them
            # nothing they did not know.
            await match.confirm()
            raise BlockedByPatient()
        account_ids.add(patient_account.id)
    await match.confirm()
    data_key_id, data_key = await keys.data_key_for(rt.settings, person.id)
    conversation_id = uuid.uuid4()
    conversation = Conversation(
        id=conversation_id, patient_id=person.id, patient_participates=include_patient,
        subject_encrypted=keys.encrypt_bytes(data_key, subject.encode(),
                                             associated=_subject_ad(conversation_id)),
        data_key_id=data_key_id, created_by_account_id=viewer.account_id,
        last_message_at=datetime.now(UTC),
    )
    async with in_transaction():
        await conversation.save(force_create=True)
        for account_id in sorted(account_ids):
            await Participant.create(conversation_id=conversation_id, account_id=account_id)
    message = await _insert_message(conversation, viewer.account_id, body, attachments,
                                    data_key)
    await _announce(rt, conversation, message.seq)
    if include_patient:
        _notify_patient_later(rt, conversation, message)
    return conversation, message


async def conversation_for(viewer: Viewer, conversation_id: str) -> Conversation | None:
    """The conversation if the viewer takes part in it; None otherwise (alike)."""
    try:
        conv_uuid = uuid.UUID(str(conversation_id))
    except ValueError:
        return None
    # Not in a closed space (issue 15 part 6): its professionals no longer read or write it.
    return await Conversation.filter(
        id=conv_uuid, participants__account_id=viewer.account_id).exclude(
        patient_id__in=Subquery(Account.filter(status=AccountStatus.CLOSED,
                                               person_id__isnull=False).values("person_id")),
    ).first()


async def send_message(rt: Runtime, viewer: Viewer, *, conversation_id: str, body: str,
                       attachment_ids: Sequence[str] = (),
                       client_message_id: str | None = None) -> tuple[Conversation, Message]:
    """Store then announce a message. With `client_message_id`, sending again (a retry after
    a timeout) returns the message already stored: exactly one copy."""
    conversation = await conversation_for(viewer, conversation_id)
    if conversation is None:
        raise ConversationNotFound()
    if client_message_id is not None:
        client_message_id = client_message_id.strip()[:64] or None
        if client_message_id:
            existing = await _sent_before(viewer, conversation, client_message_id)
            if existing is not None:
                return conversation, existing
    body = _clean_text(body, "body", MAX_BODY)
    if (viewer.is_professional and conversation.patient_participates
            and await _is_blocked(conversation.patient_id, viewer.professional_id)):
        raise BlockedByPatient()
    attachments = await _check_attachments(rt.settings, viewer, conversation, attachment_ids)
    data_key = await keys.data_key_by_id(rt.settings, conversation.data_key_id)
    try:
        message = await _insert_message(conversation, viewer.account_id, body, attachments,
                                        data_key, client_message_id)
    except IntegrityError:
        # The same retry raced us to the insert: answer with the stored copy.
        existing = await _sent_before(viewer, conversation, client_message_id or "")
        if existing is None:
            raise
        return conversation, existing
    await _announce(rt, conversation, message.seq)
    if conversation.patient_participates and not viewer.is_patient:
        _notify_patient_later(rt, conversation, message)
    return conversation, message


async def _sent_before(viewer: Viewer, conversation: Conversation, client_message_id: str
                       ) -> Message | None:
    existing = await Message.get_or_none(author_account_id=viewer.account_id,
                                         client_message_id=client_message_id)
    if existing is not None and existing.conversation_id != conversation.id:
        raise InvalidMessage("clientMessageId", N_("Identifiant de message déjà utilisé."))
    return existing


async def mark_read(viewer: Viewer, conversation_id: str, up_to: str | None = None) -> int:
    """Move my read position forward (never back); returns my unread count afterwards."""
    conversation = await conversation_for(viewer, conversation_id)
    if conversation is None:
        raise ConversationNotFound()
    target = decode_cursor(up_to) if up_to else conversation.last_seq
    target = min(target if target is not None else conversation.last_seq,
                 conversation.last_seq)
    await Participant.filter(conversation_id=conversation.id, account_id=viewer.account_id,
                             read_seq__lt=target).update(read_seq=target)
    counts = await unread_counts(viewer.account_id, [conversation.id])
    return counts[0]


# --- blocking ------------------------------------------------------------------------------


MAX_ID = 2**31 - 1


async def block(viewer: Viewer, professional_id: int) -> None:
    """Block a professional. The same answer (and the same single INSERT) whether the id
    names a professional or not, so that ids cannot be probed; a missing one blocks nothing."""
    if not viewer.is_patient:
        raise NotAllowed(N_("Seul un patient peut bloquer un professionnel."))
    if not 0 < professional_id <= MAX_ID:
        return
    try:
        async with in_transaction():
            await Block.create(patient_account_id=viewer.account_id,
                               professional_id=professional_id)
    except IntegrityError:
        pass  # already blocked, or no such professional


async def unblock(viewer: Viewer, professional_id: int) -> None:
    await Block.filter(patient_account_id=viewer.account_id,
                       professional_id=professional_id).delete()


async def blocked_professionals(viewer: Viewer) -> list[Professional]:
    return await Professional.filter(blocked_by__patient_account_id=viewer.account_id)


# --- reading -------------------------------------------------------------------------------


@dataclass
class ConversationSummary:
    """A conversation as my conversation list shows it."""

    conversation: Conversation
    unread: int  # others' messages past my read position
    last: Message | None  # its latest message
    data_key: bytes  # its patient's data key, unwrapped (subject and bodies)


def _columns(model: type, alias: str) -> list[str]:
    return [f'"{alias}"."{c}" "{alias}__{c}"' for c in sorted(model._meta.db_fields)]


def _of(model: type, alias: str, row: dict) -> object:
    return model._init_from_db(**{c: row[f"{alias}__{c}"] for c in model._meta.db_fields})


async def conversation_summaries(settings: Settings, viewer: Viewer, *, first: int,
                                 after: str | None = None,
                                 conversation_id: uuid.UUID | None = None
                                 ) -> tuple[list[ConversationSummary], bool]:
    """My conversations, most recent activity first (or the one `conversation_id` if I take
    part in it), each with its unread count, its latest message and its data key: ONE
    statement, set-based. My participation row gives my read position (the join also keeps
    out every conversation I am not in); the unread count is a correlated COUNT over the
    (conversation_id, seq) index; the latest message and the data key are joined (one row each
    at most). Returns (summaries, has_next). Portable: PostgreSQL and SQLite."""
    first = max(1, min(first, MAX_PAGE))
    db = Conversation._meta.db
    postgres = db.capabilities.dialect == "postgres"
    values: list[object] = []

    def param(value: object) -> str:
        values.append(value)
        return f"${len(values)}" if postgres else "?"

    me = viewer.account_id
    unread = (f'(SELECT COUNT(*) FROM "message" "u" '  # noqa: S608 (names and placeholders)
              f'WHERE "u"."conversation_id"="c"."id" AND "u"."seq">"p"."read_seq" '
              f'AND "u"."author_account_id"<>{param(me)})')
    selected = ",".join([*_columns(Conversation, "c"), *_columns(Message, "m"),
                         '"k"."person_id" "k__person_id"', '"k"."master_key_id" "k__master"',
                         '"k"."wrapped_key" "k__wrapped"', f'{unread} "unread"'])
    where: list[str] = []
    joined = (f'FROM "conversation" "c" JOIN "conversation_participant" "p" '
              f'ON "p"."conversation_id"="c"."id" AND "p"."account_id"={param(me)} '
              f'LEFT JOIN "message" "m" ON "m"."seq"="c"."last_seq" '
              f'AND "m"."conversation_id"="c"."id" '
              f'LEFT JOIN "data_key" "k" ON "k"."id"="c"."data_key_id"')
    # Not those of a closed space (issue 15 part 6): their professionals no longer read them.
    # (Placeholders in the order of the text: SQLite's are positional.)
    closed = param(AccountStatus.CLOSED.value)
    where.append('NOT EXISTS (SELECT 1 FROM "account" "x" '  # noqa: S608 (a placeholder)
                 f'WHERE "x"."person_id"="c"."patient_id" AND "x"."status"={closed})')
    if conversation_id is not None:
        where.append(f'"c"."id"={param(conversation_id if postgres else str(conversation_id))}')
    position = decode_conversation_cursor(after)
    if position is not None:  # after (last_message_at, id) in the list's order
        at, last_id = position
        at_value, id_value = (at, last_id) if postgres else (at, str(last_id))
        where.append(f'("c"."last_message_at"<{param(at_value)} OR ("c"."last_message_at"='
                     f'{param(at_value)} AND "c"."id"<{param(id_value)}))')
    condition = f' WHERE {" AND ".join(where)}' if where else ""
    # Only table and column names from the models and placeholders go into the text.
    sql = (f'SELECT {selected} {joined}{condition} '  # noqa: S608
           f'ORDER BY "c"."last_message_at" DESC, "c"."id" DESC LIMIT {param(first + 1)}')
    rows = await db.execute_query_dict(sql, values)
    summaries = []
    for row in rows[:first]:
        conversation = _of(Conversation, "c", row)
        last = _of(Message, "m", row) if row["m__id"] is not None else None
        key = keys.unwrap_joined(settings, data_key_id=conversation.data_key_id,
                                 person_id=row["k__person_id"], master_key_id=row["k__master"],
                                 wrapped_key=row["k__wrapped"])
        summaries.append(ConversationSummary(conversation, int(row["unread"]), last, key))
    return summaries, len(rows) > first


def _unread(account_id: int) -> QuerySet[Message]:
    """Others' messages past my read position, in the conversations I take part in (one
    join: my participation rows give the read positions)."""
    return (Message.filter(conversation__participants__account_id=account_id,
                           seq__gt=F("conversation__participants__read_seq"))
            .exclude(author_account_id=account_id))


async def unread_counts(account_id: int, conversation_ids: Sequence[uuid.UUID]) -> list[int]:
    """Unread messages per conversation (others' messages past my read position), batched:
    one statement."""
    ids = list(conversation_ids)
    if not ids:
        return []
    rows = await (_unread(account_id).filter(conversation_id__in=ids)
                  .annotate(n=Count("id")).group_by("conversation_id")
                  .values("conversation_id", "n"))
    counts = {r["conversation_id"]: r["n"] for r in rows}
    return [counts.get(i, 0) for i in ids]


@dataclass(frozen=True)
class UnreadSummary:
    messages: int  # unread messages, across all my conversations
    conversations: int  # conversations holding at least one of them


async def unread_summary(account_id: int) -> UnreadSummary:
    """What I have not read yet, across all my conversations: one statement answering one
    row, set-based: my participation rows (index by account) joined to the messages past each
    read position (index conversation_id, seq), counted in SQL."""
    db = Message._meta.db
    postgres = db.capabilities.dialect == "postgres"
    me, author = ("$1", "$2") if postgres else ("?", "?")
    sql = ('SELECT COUNT("m"."id") "messages",'  # noqa: S608 (placeholders only)
           'COUNT(DISTINCT "m"."conversation_id") "conversations" '
           'FROM "conversation_participant" "p" JOIN "message" "m" '
           'ON "m"."conversation_id"="p"."conversation_id" AND "m"."seq">"p"."read_seq" '
           f'WHERE "p"."account_id"={me} AND "m"."author_account_id"<>{author}')
    rows = await db.execute_query_dict(sql, [account_id, account_id])
    row = rows[0] if rows else {"messages": 0, "conversations": 0}
    return UnreadSummary(messages=int(row["messages"] or 0),
                         conversations=int(row["conversations"] or 0))


async def inbox_positions(account_id: int) -> dict[uuid.UUID, int]:
    """Where each of my conversations stands now (its latest message). One statement."""
    rows = await Conversation.filter(participants__account_id=account_id,
                                     last_seq__gt=0).values_list("id", "last_seq")
    return {conversation_id: int(seq) for conversation_id, seq in rows}


async def latest_cursor(viewer: Viewer) -> str | None:
    """The `inbox` cursor of now: past the latest message of every one of my conversations
    (None without any). One statement."""
    positions = await inbox_positions(viewer.account_id)
    return encode_inbox_cursor(positions) if positions else None


async def last_messages(conversations: Sequence[Conversation]) -> list[Message | None]:
    ids = [c.last_message_id for c in conversations if c.last_message_id]
    found = {m.id: m for m in await Message.filter(id__in=ids)} if ids else {}
    return [found.get(c.last_message_id) for c in conversations]


async def participants_of(conversation_ids: Sequence[uuid.UUID]) -> list[list[Participant]]:
    rows = await Participant.filter(conversation_id__in=list(conversation_ids))
    by_conversation: dict[uuid.UUID, list[Participant]] = {}
    for row in rows:
        by_conversation.setdefault(row.conversation_id, []).append(row)
    return [sorted(by_conversation.get(i, []), key=lambda p: p.account_id)
            for i in conversation_ids]


async def attachments_of(message_ids: Sequence[uuid.UUID]) -> list[list[Document]]:
    rows = await MessageAttachment.filter(message_id__in=list(message_ids)).prefetch_related(
        "document")
    by_message: dict[uuid.UUID, list[Document]] = {}
    for row in rows:
        by_message.setdefault(row.message_id, []).append(row.document)
    return [by_message.get(i, []) for i in message_ids]


@dataclass
class MessagePage:
    rows: list[Message]
    has_next: bool
    has_previous: bool


async def list_messages(viewer: Viewer, conversation_id: str, *, first: int,
                        after: str | None, before: str | None) -> tuple[Conversation, MessagePage]:
    """Oldest first. `after`: the next ones; `before`: the ones just before; neither: the
    latest `first` messages."""
    conversation = await conversation_for(viewer, conversation_id)
    if conversation is None:
        raise ConversationNotFound()
    first = max(1, min(first, MAX_PAGE))
    query = Message.filter(conversation_id=conversation.id)
    after_seq, before_seq = decode_cursor(after), decode_cursor(before)
    if after_seq is not None:
        rows = await query.filter(seq__gt=after_seq).order_by("seq").limit(first + 1)
        return conversation, MessagePage(rows[:first], len(rows) > first, True)
    if before_seq is not None:
        query = query.filter(seq__lt=before_seq)
    rows = list(reversed(await query.order_by("-seq").limit(first + 1)))
    has_previous = len(rows) > first
    return conversation, MessagePage(rows[-first:], before_seq is not None, has_previous)


async def messages_after(conversation_id: uuid.UUID, seq: int, limit: int = CATCH_UP_BATCH
                         ) -> list[Message]:
    """For `messageAdded`: the conversation's messages past a position, in commit order (the
    caller checked it takes part)."""
    return await (Message.filter(conversation_id=conversation_id, seq__gt=seq)
                  .order_by("seq").limit(limit).prefetch_related("conversation"))


async def inbox_after(account_id: int, positions: dict[uuid.UUID, int],
                      limit: int = CATCH_UP_BATCH) -> list[Message]:
    """For `inbox`: the messages of my conversations past their position in `positions` (a
    conversation absent from it: from its first message), each conversation's in commit
    order, conversations interleaved by sending time. Positions of conversations I do not
    take part in are ignored, as if they did not exist. At most `limit` messages."""
    behind = [(conversation_id, positions.get(conversation_id, 0)) for conversation_id, last
              in await Conversation.filter(participants__account_id=account_id)
              .values_list("id", "last_seq")
              if int(last) > positions.get(conversation_id, 0)]
    if not behind:
        return []
    condition = Q(*(Q(conversation_id=conversation_id, seq__gt=seq)
                    for conversation_id, seq in behind), join_type="OR")
    rows = await (Message.filter(condition).order_by("conversation_id", "seq")
                  .limit(limit).prefetch_related("conversation"))
    streams: dict[uuid.UUID, list[Message]] = {}
    for row in rows:
        streams.setdefault(row.conversation_id, []).append(row)
    # Each stream is a prefix of its conversation's missing messages (ordered by conversation
    # then seq, cut by the limit): merging keeps every conversation's own order.
    return list(heapq.merge(*streams.values(), key=lambda m: (m.sent_at, m.conversation_id)))


async def accounts_by_ids(ids: Sequence[int]) -> list[Account | None]:
    found = {a.id: a for a in await Account.filter(id__in=list(ids)).prefetch_related(
        "professional", "person")}
    return [found.get(i) for i in ids]


# --- notifications -------------------------------------------------------------------------


def _notify_patient_later(rt: Runtime, conversation: Conversation, message: Message) -> None:
    # The message is committed (_insert_message's transaction): in the background, the
    # notice can neither slow nor fail the sending.
    notices.later(notify_patient_of_message(rt, conversation.id, conversation.patient_id,
                                            message.seq, message.author_account_id),
                  what="new message")


async def notify_patient_of_message(rt: Runtime, conversation_id: uuid.UUID, patient_id: int,
                                    seq: int, author_account_id: int) -> bool:
    """Tell the patient a message is waiting for them in a conversation (no subject, no body,
    no sender). Once per unread streak: not again while they have not read up to the message
    they were last told about. Claimed atomically (`notified_seq`). True if a notice went."""
    participant = await Participant.filter(
        conversation_id=conversation_id, account__person_id=patient_id,
    ).prefetch_related("account").first()
    if participant is None or participant.account_id == author_account_id:
        return False
    if participant.read_seq >= seq or participant.notified_seq > participant.read_seq:
        return False  # read already, or told of an earlier message still unread
    claimed = await Participant.filter(
        id=participant.id, notified_seq=participant.notified_seq).update(notified_seq=seq)
    if not claimed:
        return False
    return await notices.tell(rt, participant.account, notices.Event.NEW_MESSAGE)


async def notify_waiting_messages(rt: Runtime, *, delay_seconds: int) -> int:
    """One "a message is waiting" email/SMS per professional who has not read a message for
    `delay_seconds` (and has not switched message notices off); at most once per message,
    even with several workers running this. Patients are told at once instead
    (`notify_patient_of_message`)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=delay_seconds)
    candidates = await Participant.filter(
        conversation__last_seq__gt=0, account__role=Role.PROFESSIONAL,
    ).prefetch_related("conversation", "account")
    sent = 0
    for participant in candidates:
        conversation = participant.conversation
        threshold = max(participant.read_seq, participant.notified_seq)
        waiting = await Message.filter(
            conversation_id=conversation.id, seq__gt=threshold, sent_at__lte=cutoff
        ).exclude(author_account_id=participant.account_id).order_by("-seq").first()
        if waiting is None:
            continue
        # Claim atomically: only the worker whose update matches sends.
        claimed = await Participant.filter(
            id=participant.id, notified_seq=participant.notified_seq).update(
            notified_seq=waiting.seq)
        if not claimed:
            continue
        account = participant.account
        if account.status is not AccountStatus.ACTIVE or not account.notify_new_message:
            continue
        if await notices.send(rt, account, notices.WAITING_MESSAGE, what="waiting message"):
            sent += 1
    return sent


def display_name(account: Account | None) -> str:
    """How an author is named to the reader (in the request's language)."""
    if account is None:
        return gettext(N_("Compte supprimé"))
    if account.role == Role.PROFESSIONAL and account.professional:
        pro = account.professional
        return f"{pro.profession} ({pro.practice_name or 'RPPS ' + pro.rpps})"
    if account.person:
        return f"{account.person.first_names.split(' ')[0]} {account.person.birth_name}"
    return gettext(N_("Patient"))
