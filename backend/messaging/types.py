"""GraphQL types of secure messaging."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.app_scopes import SAME_AS_PARENT, app_scope
from backend.document_types import DocumentType
from backend.graphql_errors import Error, PatientNotFound, TooManyFailedIdentityMatches, translates
from backend.graphql_types import PatientIdentityInput
from backend.i18n import gettext
from backend.messaging import services
from backend.messaging.loaders import load_accounts, load_attachments, load_participants
from backend.messaging.models import Conversation as ConversationModel
from backend.messaging.models import Message as MessageModel


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class ConversationParticipant:
    account_id: strawberry.ID
    display_name: str
    is_patient: bool
    is_me: bool
    professional_id: strawberry.ID | None = strawberry.field(
        description="For professionals: the id to block or unblock them.")


@strawberry.type(description="A document of the patient's record attached to a message.",
                 directives=[app_scope(SAME_AS_PARENT)])
class MessageAttachment:
    document_id: strawberry.ID
    type_label: str
    content_type: str
    size: int


@strawberry.type(description="A message; `cursor` resumes what gave it: the conversation's "
                              "pages and `messageAdded`, or the `inbox` subscription. Cursors "
                              "are opaque: pass them back, never decode or compare them "
                              "(lists and subscriptions already come in order).",
                 directives=[app_scope(SAME_AS_PARENT)])
class Message:
    id: strawberry.ID
    conversation_id: strawberry.ID
    cursor: str
    body: str = strawberry.field(description="Plain text: never render it as HTML.")
    sent_at: datetime
    author_account_id: strawberry.ID
    is_mine: bool

    @strawberry.field
    async def author_name(self, info: Info) -> str:
        account = await info.context.loaders.get(load_accounts).load(int(self.author_account_id))
        return services.display_name(account)

    @strawberry.field
    async def attachments(self, info: Info) -> list[MessageAttachment]:
        import uuid

        documents = await info.context.loaders.get(load_attachments).load(uuid.UUID(self.id))
        return [
            MessageAttachment(document_id=strawberry.ID(str(d.id)),
                              type_label=gettext(DocumentType(d.type_code).label),
                              content_type=d.content_type, size=d.size)
            for d in documents
        ]

    @classmethod
    def from_model(cls, row: MessageModel, body: str, viewer_account_id: int) -> Message:
        return cls(
            id=strawberry.ID(str(row.id)), conversation_id=strawberry.ID(str(row.conversation_id)),
            cursor=services.encode_cursor(row.seq), body=body, sent_at=row.sent_at,
            author_account_id=strawberry.ID(str(row.author_account_id)),
            is_mine=row.author_account_id == viewer_account_id,
        )


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class Conversation:
    id: strawberry.ID
    subject: str
    created_at: datetime
    patient_participates: bool
    unread_count: int
    last_message: Message | None
    cursor: str

    @strawberry.field
    async def participants(self, info: Info) -> list[ConversationParticipant]:
        import uuid

        rows = await info.context.loaders.get(load_participants).load(uuid.UUID(self.id))
        accounts = await info.context.loaders.get(load_accounts).load_many(
            [r.account_id for r in rows])
        me = info.context.viewer.account_id
        return [
            ConversationParticipant(
                account_id=strawberry.ID(str(r.account_id)),
                display_name=services.display_name(a),
                is_patient=bool(a and a.person_id), is_me=r.account_id == me,
                professional_id=strawberry.ID(str(a.professional_id))
                if a and a.professional_id else None)
            for r, a in zip(rows, accounts, strict=True)
        ]

    @classmethod
    def build(cls, row: ConversationModel, subject: str, unread: int,
              last: Message | None) -> Conversation:
        return cls(id=strawberry.ID(str(row.id)), subject=subject, created_at=row.created_at,
                   patient_participates=row.patient_participates, unread_count=unread,
                   last_message=last, cursor=services.encode_conversation_cursor(row))


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class ConversationEdge:
    cursor: str
    node: Conversation


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class ConversationPageInfo:
    has_next_page: bool
    end_cursor: str | None


async def _latest_cursor(info: Info) -> str | None:
    return await services.latest_cursor(info.context.viewer)


LATEST_CURSOR = ("Resume the `inbox` subscription from here: past the latest message of "
                 "every one of my conversations, whatever the page (null without any). "
                 "Cursors are opaque: pass them back, never read or compare them. One "
                 "query, only when asked.")


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class ConversationConnection:
    edges: list[ConversationEdge]
    page_info: ConversationPageInfo

    @strawberry.field(description=LATEST_CURSOR)
    async def latest_cursor(self, info: Info) -> str | None:
        return await _latest_cursor(info)


@strawberry.type(description="My messaging at a glance (the home screen).",
                 directives=[app_scope(SAME_AS_PARENT)])
class MessagingSummary:
    unread_count: int = strawberry.field(
        description="Messages from others I have not read, across all my conversations.")
    unread_conversations: int = strawberry.field(
        description="How many of my conversations hold unread messages.")

    @strawberry.field(description=LATEST_CURSOR)
    async def latest_cursor(self, info: Info) -> str | None:
        return await _latest_cursor(info)


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class MessagePageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class MessageConnection:
    edges: list[MessageEdge]
    page_info: MessagePageInfo


@strawberry.type
class BlockedProfessional:
    id: strawberry.ID
    rpps: str
    profession: str
    practice_name: str | None


@strawberry.input
class StartConversationInput:
    subject: str
    patient: PatientIdentityInput
    include_patient: bool = True
    professional_rpps: list[str] = strawberry.field(default_factory=list)
    body: str
    attachment_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@translates(services.ConversationNotFound)
@strawberry.type
class ConversationNotFound(Error):
    pass


@translates(services.BlockedByPatient)
@strawberry.type
class BlockedByPatient(Error):
    pass


@translates(services.NotAllowed)
@strawberry.type
class NotAllowed(Error):
    pass


@translates(services.InvalidMessage)
@strawberry.type
class InvalidMessage(Error):
    field: str


@translates(services.AttachmentNotFound)
@strawberry.type
class AttachmentNotFound(Error):
    pass


@translates(services.ProfessionalNotFound)
@strawberry.type
class ProfessionalNotFound(Error):
    pass


# (Not "message": every error type has a `message: String!`, and a client selecting both in
# one union would get a field conflict.)
@strawberry.type
class MessageSent:
    sent_message: Message
    conversation_id: strawberry.ID


@strawberry.type
class ConversationStarted:
    conversation: Conversation
    first_message: Message


@strawberry.type
class ReadMarked:
    conversation_id: strawberry.ID
    unread_count: int


@strawberry.type
class BlockChanged:
    professional_id: strawberry.ID
    blocked: bool


SendMessageResult = Annotated[
    MessageSent | ConversationNotFound | BlockedByPatient | InvalidMessage | AttachmentNotFound,
    strawberry.union("SendMessageResult"),
]
StartConversationResult = Annotated[
    ConversationStarted | PatientNotFound | TooManyFailedIdentityMatches | BlockedByPatient
    | InvalidMessage | AttachmentNotFound | ProfessionalNotFound | NotAllowed,
    strawberry.union("StartConversationResult"),
]
MarkReadResult = Annotated[ReadMarked | ConversationNotFound, strawberry.union("MarkReadResult")]
BlockResult = Annotated[BlockChanged | NotAllowed, strawberry.union("BlockResult")]



# --- reference data (backend/schema.py's ReferenceData) --------------------------------------


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class MessagingLimits:
    max_body_length: int
    max_subject_length: int
    max_attachments: int
    max_page_size: int = strawberry.field(description="The largest `first` of the lists.")


@strawberry.type
class MessagingReferenceData:
    """Messaging's part of `ReferenceData` (assembled in backend/schema.py)."""

    @strawberry.field
    def messaging_limits(self) -> MessagingLimits:
        return MessagingLimits(max_body_length=services.MAX_BODY,
                               max_subject_length=services.MAX_SUBJECT,
                               max_attachments=services.MAX_ATTACHMENTS,
                               max_page_size=services.MAX_PAGE)
