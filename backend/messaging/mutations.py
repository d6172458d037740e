from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.identity import matching
from backend.messaging import services
from backend.messaging.queries import build_conversations, keyring
from backend.messaging.types import (
    BlockChanged,
    BlockResult,
    ConversationStarted,
    MarkReadResult,
    Message,
    MessageSent,
    ReadMarked,
    SendMessageResult,
    StartConversationInput,
    StartConversationResult,
)
from backend.permissions import IsAuthenticated, IsPatient, IsProfessional


def _professional_id(value: strawberry.ID) -> int:
    return int(value) if str(value).isdigit() else -1


@strawberry.type
class MessagingMutations:
    @strawberry.mutation(description="Open a conversation about a patient (professionals).",
                         permission_classes=[IsProfessional])
    async def start_conversation(self, info: Info, input: StartConversationInput
                                 ) -> StartConversationResult:
        viewer = info.context.viewer
        try:
            conversation, message = await services.start_conversation(
                info.context.runtime, viewer, subject=input.subject,
                patient=matching.PatientClaim(input.patient.ins_matricule,
                                              input.patient.birth_name,
                                              input.patient.birth_date),
                include_patient=input.include_patient,
                professional_rpps=input.professional_rpps, body=input.body,
                attachment_ids=[str(a) for a in input.attachment_ids],
                address=info.context.client_address)
        except DomainError as exc:
            return to_graphql_error(exc)
        node = (await build_conversations(info, [conversation]))[0]
        body = await keyring(info).body(message, conversation.data_key_id)
        return ConversationStarted(
            conversation=node, first_message=Message.from_model(message, body, viewer.account_id))

    @strawberry.mutation(description="Write in one of my conversations (plain text).",
                         permission_classes=[IsAuthenticated])
    async def send_message(
        self, info: Info, conversation_id: strawberry.ID, body: str,
        attachment_ids: list[strawberry.ID] | None = None,
        client_message_id: Annotated[str | None, strawberry.argument(
            description="Your own id for this message (e.g. a UUID): a retry with the same "
                        "id returns the stored message.")] = None,
    ) -> SendMessageResult:
        viewer = info.context.viewer
        try:
            conversation, message = await services.send_message(
                info.context.runtime, viewer, conversation_id=str(conversation_id),
                body=body[:services.MAX_BODY + 1],
                attachment_ids=[str(a) for a in attachment_ids or []],
                client_message_id=client_message_id)
        except DomainError as exc:
            return to_graphql_error(exc)
        text = await keyring(info).body(message, conversation.data_key_id)
        return MessageSent(sent_message=Message.from_model(message, text, viewer.account_id),
                           conversation_id=strawberry.ID(str(conversation.id)))

    @strawberry.mutation(description="Mark a conversation read, up to a message cursor "
                                     "(default: everything).",
                         permission_classes=[IsAuthenticated])
    async def mark_read(self, info: Info, conversation_id: strawberry.ID,
                        up_to: str | None = None) -> MarkReadResult:
        try:
            unread = await services.mark_read(info.context.viewer, str(conversation_id), up_to)
        except DomainError as exc:
            return to_graphql_error(exc)
        return ReadMarked(conversation_id=conversation_id, unread_count=unread)

    @strawberry.mutation(description="Stop a professional from writing to me. The answer is "
                                     "the same whether the id names a professional or not.",
                         permission_classes=[IsPatient])
    async def block_professional(self, info: Info, professional_id: strawberry.ID
                                 ) -> BlockResult:
        try:
            await services.block(info.context.viewer, _professional_id(professional_id))
        except DomainError as exc:
            return to_graphql_error(exc)
        return BlockChanged(professional_id=professional_id, blocked=True)

    @strawberry.mutation(permission_classes=[IsPatient])
    async def unblock_professional(self, info: Info, professional_id: strawberry.ID
                                   ) -> BlockResult:
        await services.unblock(info.context.viewer, _professional_id(professional_id))
        return BlockChanged(professional_id=professional_id, blocked=False)
