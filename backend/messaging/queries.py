from __future__ import annotations

import uuid

import strawberry
from strawberry.types import Info

from backend.access import policy
from backend.app_scopes import MESSAGES_READ, app_scope
from backend.audit.models import AccessKind
from backend.messaging import services
from backend.messaging.types import (
    BlockedProfessional,
    Conversation,
    ConversationConnection,
    ConversationEdge,
    ConversationPageInfo,
    Message,
    MessageConnection,
    MessageEdge,
    MessagePageInfo,
    MessagingSummary,
)
from backend.permissions import IsAuthenticated, IsPatient


def keyring(info: Info) -> services.KeyRing:
    """One key ring per request (or per WebSocket connection)."""
    context = info.context
    ring = getattr(context, "_messaging_keyring", None)
    if ring is None:
        ring = services.KeyRing(context.settings)
        context._messaging_keyring = ring
    return ring


async def build_summaries(info: Info, summaries: list[services.ConversationSummary]
                          ) -> list[Conversation]:
    """Conversations from `services.conversation_summaries` (their statement read it all)."""
    viewer = info.context.viewer
    ring = keyring(info)
    result = []
    for summary in summaries:
        row = summary.conversation
        ring.add(row.data_key_id, summary.data_key)
        last_message = None
        if summary.last is not None:
            body = await ring.body(summary.last, row.data_key_id)
            last_message = Message.from_model(summary.last, body, viewer.account_id)
        result.append(Conversation.build(row, await ring.subject(row), summary.unread,
                                         last_message))
    return result


async def build_conversations(info: Info, rows: list) -> list[Conversation]:
    viewer = info.context.viewer
    ring = keyring(info)
    unread = await services.unread_counts(viewer.account_id, [r.id for r in rows])
    lasts = await services.last_messages(rows)
    result = []
    for row, count, last in zip(rows, unread, lasts, strict=True):
        last_message = None
        if last is not None:
            body = await ring.body(last, row.data_key_id)
            last_message = Message.from_model(last, body, viewer.account_id)
        result.append(Conversation.build(row, await ring.subject(row), count, last_message))
    return result


def log_app_read(info: Info) -> None:
    """An app read the patient's messaging: the patient's access log says so (the patient's
    and professionals' own reads of their conversations are not record reads)."""
    viewer = policy.viewer_of(info.context.viewer)
    if isinstance(viewer, policy.AppViewer):
        policy.log_read(policy.own_access(viewer), AccessKind.MESSAGES)


@strawberry.type
class MessagingQueries:
    @strawberry.field(description="My conversations, most recent activity first.",
                      permission_classes=[IsAuthenticated], directives=[app_scope(MESSAGES_READ)])
    async def conversations(self, info: Info, first: int = 20, after: str | None = None
                            ) -> ConversationConnection:
        # One statement: the conversations, their unread counts, latest messages and keys.
        summaries, has_next = await services.conversation_summaries(
            info.context.settings, info.context.viewer, first=first, after=after)
        nodes = await build_summaries(info, summaries)
        log_app_read(info)
        edges = [ConversationEdge(cursor=n.cursor, node=n) for n in nodes]
        return ConversationConnection(
            edges=edges,
            page_info=ConversationPageInfo(has_next_page=has_next,
                                           end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="My unread messages across all my conversations (one "
                                  "query).", permission_classes=[IsAuthenticated],
                      directives=[app_scope(MESSAGES_READ)])
    async def messaging_summary(self, info: Info) -> MessagingSummary:
        summary = await services.unread_summary(info.context.viewer.account_id)
        return MessagingSummary(unread_count=summary.messages,
                                unread_conversations=summary.conversations)

    @strawberry.field(description="One of my conversations, or null.",
                      permission_classes=[IsAuthenticated], directives=[app_scope(MESSAGES_READ)])
    async def conversation(self, info: Info, id: strawberry.ID) -> Conversation | None:
        try:
            conversation_id = uuid.UUID(str(id))
        except ValueError:
            return None  # like a conversation I am not in
        summaries, _ = await services.conversation_summaries(
            info.context.settings, info.context.viewer, first=1,
            conversation_id=conversation_id)
        if not summaries:
            return None
        log_app_read(info)
        return (await build_summaries(info, summaries))[0]

    @strawberry.field(description="Messages of one of my conversations, oldest first. "
                                  "Without after/before: the latest ones.",
                      permission_classes=[IsAuthenticated], directives=[app_scope(MESSAGES_READ)])
    async def messages(self, info: Info, conversation_id: strawberry.ID, first: int = 50,
                       after: str | None = None, before: str | None = None
                       ) -> MessageConnection | None:
        viewer = info.context.viewer
        try:
            conversation, page = await services.list_messages(
                viewer, str(conversation_id), first=first, after=after, before=before)
        except services.ConversationNotFound:
            return None
        log_app_read(info)
        ring = keyring(info)
        edges = []
        for row in page.rows:
            body = await ring.body(row, conversation.data_key_id)
            node = Message.from_model(row, body, viewer.account_id)
            edges.append(MessageEdge(cursor=node.cursor, node=node))
        return MessageConnection(edges=edges, page_info=MessagePageInfo(
            has_next_page=page.has_next, has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="Professionals I have blocked.",
                      permission_classes=[IsPatient])
    async def blocked_professionals(self, info: Info) -> list[BlockedProfessional]:
        return [BlockedProfessional(id=strawberry.ID(str(p.id)), rpps=p.rpps,
                                    profession=p.profession, practice_name=p.practice_name)
                for p in await services.blocked_professionals(info.context.viewer)]
