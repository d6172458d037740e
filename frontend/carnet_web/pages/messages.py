"""Messagerie (patient side): my conversations (/messagerie) and one conversation
(/messagerie/<id>), which updates live; replying, attaching documents of my record, blocking
a professional.

Message bodies, subjects and names come from other people: shown as plain text only (text
nodes, never rx.html or rx.markdown); line breaks are kept with CSS.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.state.messaging import (
    CONVERSATION_ROUTE,
    MAX_BODY,
    MESSAGING_ROUTE,
    AttachmentItem,
    ConversationItem,
    DocumentOption,
    MessageItem,
    MessagingState,
    ParticipantItem,
)

ROUTE = MESSAGING_ROUTE

_SELECT_STYLE = {
    "height": "var(--space-6)",
    "padding": "0 var(--space-2)",
    "border": "1px solid var(--gray-a7)",
    "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)",
    "color": "var(--gray-12)",
    "font_size": "var(--font-size-2)",
    "width": "100%",
}


def _live_status() -> rx.Component:
    """Whether new messages show up by themselves right now."""
    return rx.box(
        rx.match(
            MessagingState.live_status,
            ("live", rx.badge("En direct", color_scheme="green", variant="soft")),
            ("connecting", rx.badge("Connexion…", color_scheme="gray", variant="soft")),
            ("reconnecting", rx.badge("Reconnexion…", color_scheme="amber", variant="soft")),
            ("ended", rx.badge("Hors ligne", color_scheme="red", variant="soft")),
            rx.fragment(),
        ),
        id="live-status",
        role="status",
        aria_label="Mise à jour automatique",
    )


def _plain_text(text: rx.Var, **props: object) -> rx.Component:
    """User text as a text node; line breaks kept, long words wrapped."""
    return rx.text(text, white_space="pre-wrap", overflow_wrap="anywhere", **props)


# --- /messagerie -----------------------------------------------------------------------------


def _conversation_card(item: ConversationItem) -> rx.Component:
    return rx.el.li(
        rx.link(
            rx.card(
                rx.vstack(
                    rx.flex(
                        rx.text(item.subject, weight="bold", size="4", class_name="subject"),
                        rx.cond(
                            item.unread > 0,
                            rx.badge(item.unread_label, color_scheme="red", variant="solid",
                                     class_name="unread-badge"),
                        ),
                        justify="between",
                        align="center",
                        spacing="3",
                        width="100%",
                    ),
                    rx.text(item.with_label, size="2", color_scheme="gray",
                            class_name="participants"),
                    rx.cond(
                        item.preview != "",
                        rx.text(
                            rx.text.strong(item.preview_author), " : ", item.preview,
                            size="2", class_name="preview", overflow_wrap="anywhere",
                        ),
                    ),
                    rx.text(item.last_activity, size="1", color_scheme="gray"),
                    spacing="1",
                    width="100%",
                ),
                width="100%",
            ),
            href=item.href,
            underline="none",
            high_contrast=True,
            class_name="conversation-link",
        ),
        class_name=rx.cond(item.unread > 0, "conversation unread", "conversation"),
        list_style="none",
    )


def _list_content() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading("Messagerie", as_="h1", size="7"),
            _live_status(),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.text(
            "Vos échanges sécurisés avec vos soignants. Ils vous écrivent à propos de votre "
            "suivi ; vous pouvez leur répondre et joindre des documents de votre dossier.",
            color_scheme="gray",
        ),
        rx.cond(
            MessagingState.list_error != "",
            rx.vstack(
                rx.callout(MessagingState.list_error, icon="triangle_alert", color_scheme="red",
                           role="alert", id="messaging-error"),
                rx.button("Réessayer", on_click=MessagingState.load_list, variant="soft",
                          size="1"),
                spacing="2",
                align="start",
            ),
        ),
        rx.cond(
            MessagingState.list_loading,
            rx.hstack(rx.spinner(), rx.text("Chargement…"), id="messaging-loading"),
            rx.cond(
                MessagingState.conversations.length() > 0,
                rx.el.ul(
                    rx.foreach(MessagingState.conversations, _conversation_card),
                    id="conversations",
                    aria_label="Mes conversations",
                    padding="0",
                    margin="0",
                    display="flex",
                    flex_direction="column",
                    gap="var(--space-3)",
                    width="100%",
                ),
                rx.cond(
                    MessagingState.list_error == "",
                    rx.text("Vous n'avez encore aucune conversation.", id="no-conversation"),
                ),
            ),
        ),
        rx.cond(
            MessagingState.has_more_conversations,
            rx.button("Afficher plus de conversations",
                      on_click=MessagingState.load_more_conversations,
                      loading=MessagingState.loading_more_conversations, variant="soft"),
        ),
        spacing="4",
        width="100%",
    )


@rx.page(route=ROUTE, title=page_title("Messagerie"), on_load=MessagingState.load_list)
def messages() -> rx.Component:
    return layout(_list_content(), current_route=ROUTE)


# --- /messagerie/<id> ------------------------------------------------------------------------


def _participant(person: ParticipantItem) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.text(person.name, weight="medium", class_name="participant-name"),
            rx.cond(person.is_me, rx.text("(vous)", size="2", color_scheme="gray")),
            rx.cond(
                person.blocked,
                rx.badge("Bloqué", color_scheme="red", class_name="blocked-badge"),
            ),
            rx.cond(
                MessagingState.is_patient & (person.professional_id != "") & ~person.is_me,
                rx.button(
                    rx.cond(person.blocked, "Débloquer", "Bloquer"),
                    on_click=MessagingState.set_blocked(person.professional_id,
                                                        ~person.blocked),
                    loading=MessagingState.block_busy == person.professional_id,
                    disabled=MessagingState.block_busy != "",
                    aria_label=rx.cond(person.blocked, f"Débloquer {person.name}",
                                       f"Bloquer {person.name}"),
                    color_scheme=rx.cond(person.blocked, "gray", "red"),
                    variant="soft",
                    size="1",
                ),
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        class_name="participant",
        list_style="none",
    )


def _attachment(attachment: AttachmentItem) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.icon("paperclip", size=14, aria_hidden="true"),
            rx.text(attachment.label, size="2", weight="medium",
                    class_name="attachment-label"),
            rx.text(attachment.details, size="1", color_scheme="gray"),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        class_name="attachment",
        list_style="none",
    )


def _message(message: MessageItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.text(message.author, weight="bold", size="2", class_name="author"),
                    rx.text(message.sent_at, size="1", color_scheme="gray"),
                    justify="between",
                    spacing="3",
                    wrap="wrap",
                    width="100%",
                ),
                _plain_text(message.body, class_name="message-body", size="3"),
                rx.cond(
                    message.attachments.length() > 0,
                    rx.el.ul(
                        rx.foreach(message.attachments, _attachment),
                        aria_label="Pièces jointes",
                        class_name="attachments",
                        padding="0",
                        margin="0",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            background=rx.cond(message.is_mine, "var(--accent-a3)", "var(--color-panel)"),
        ),
        class_name=rx.cond(message.is_mine, "message mine", "message"),
        list_style="none",
        max_width="85%",
        align_self=rx.cond(message.is_mine, "flex-end", "flex-start"),
        width="100%",
    )


def _attached_chip(option: DocumentOption) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.icon("paperclip", size=14, aria_hidden="true"),
            rx.text(option.label, size="2"),
            rx.button(
                "Retirer",
                type="button",
                on_click=MessagingState.detach_document(option.id),
                aria_label=f"Retirer {option.label}",
                variant="ghost",
                size="1",
            ),
            align="center",
            spacing="2",
        ),
        class_name="attached",
        list_style="none",
    )


def _attachment_picker() -> rx.Component:
    return rx.cond(
        MessagingState.is_patient,
        rx.vstack(
            rx.el.label(
                rx.text("Joindre un document de mon dossier", as_="span", size="2",
                        weight="medium"),
                html_for="attach-select",
            ),
            rx.el.select(
                rx.el.option(
                    rx.cond(MessagingState.documents.length() > 0,
                            "Choisissez un document…", "Aucun document dans votre dossier"),
                    value="",
                ),
                rx.foreach(
                    MessagingState.attachable,
                    lambda option: rx.el.option(option.label, value=option.id),
                ),
                id="attach-select",
                value="",
                on_change=MessagingState.attach_document,
                disabled=~MessagingState.can_attach_more
                | (MessagingState.documents.length() == 0),
                style=_SELECT_STYLE,
            ),
            rx.cond(
                MessagingState.attached.length() > 0,
                rx.el.ul(
                    rx.foreach(MessagingState.attached, _attached_chip),
                    aria_label="Documents joints",
                    id="attached-documents",
                    padding="0",
                    margin="0",
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )


def _reply_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label(
                rx.text("Votre réponse", as_="span", size="2", weight="medium"),
                html_for="reply-body",
            ),
            rx.text_area(
                id="reply-body",
                name="body",
                rows="4",
                max_length=MAX_BODY,
                placeholder="Écrivez votre message…",
                width="100%",
                aria_invalid=rx.cond(MessagingState.reply_error != "", "true", "false"),
                aria_describedby="reply-error",
            ),
            _attachment_picker(),
            rx.cond(
                MessagingState.reply_error != "",
                rx.callout(MessagingState.reply_error, icon="triangle_alert",
                           color_scheme="red", role="alert", id="reply-error"),
            ),
            rx.button(
                "Envoyer",
                type="submit",
                loading=MessagingState.sending,
                # Enabled once the tab is connected to the server.
                disabled=~MessagingState.is_hydrated,
                id="reply-submit",
            ),
            spacing="3",
            width="100%",
            align="start",
        ),
        on_submit=MessagingState.send_reply,
        reset_on_submit=False,
        key=MessagingState.reply_form_key.to_string(),
        aria_label="Répondre",
        width="100%",
    )


def _conversation_body() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading(MessagingState.subject, as_="h1", size="6", id="conversation-subject"),
            _live_status(),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.el.section(
            rx.heading("Participants", as_="h2", size="3"),
            rx.el.ul(
                rx.foreach(MessagingState.participants, _participant),
                id="participants",
                padding="0",
                margin="0",
            ),
            rx.cond(
                MessagingState.is_patient,
                rx.text(
                    "Un professionnel bloqué ne peut plus vous écrire. Vous pouvez le "
                    "débloquer à tout moment.",
                    size="1",
                    color_scheme="gray",
                ),
            ),
            aria_label="Participants",
            width="100%",
        ),
        rx.cond(
            MessagingState.info != "",
            rx.callout(MessagingState.info, icon="info", role="status", id="messaging-info"),
        ),
        rx.cond(
            MessagingState.error != "",
            rx.callout(MessagingState.error, icon="triangle_alert", color_scheme="red",
                       role="alert", id="messaging-error"),
        ),
        rx.cond(
            MessagingState.has_earlier,
            rx.button("Afficher les messages précédents", on_click=MessagingState.load_earlier,
                      loading=MessagingState.loading_earlier, variant="soft", size="1"),
        ),
        rx.el.ol(
            rx.foreach(MessagingState.messages, _message),
            id="messages",
            role="log",
            aria_live="polite",
            aria_label="Messages",
            padding="0",
            margin="0",
            display="flex",
            flex_direction="column",
            gap="var(--space-3)",
            width="100%",
        ),
        rx.card(_reply_form(), width="100%"),
        spacing="4",
        width="100%",
    )


def _conversation_content() -> rx.Component:
    return rx.vstack(
        rx.link("← Toutes mes conversations", href=ROUTE, size="2", id="back-to-list"),
        rx.cond(
            MessagingState.conversation_loading,
            rx.hstack(rx.spinner(), rx.text("Chargement…"), id="conversation-loading"),
            rx.cond(
                MessagingState.conversation_error != "",
                rx.vstack(
                    rx.callout(MessagingState.conversation_error, icon="triangle_alert",
                               color_scheme="red", role="alert", id="conversation-error"),
                    rx.cond(
                        ~MessagingState.not_found,
                        rx.button("Réessayer", on_click=MessagingState.load_conversation,
                                  variant="soft", size="1"),
                    ),
                    spacing="2",
                    align="start",
                ),
                _conversation_body(),
            ),
        ),
        spacing="4",
        width="100%",
    )


@rx.page(route=CONVERSATION_ROUTE, title=page_title("Messagerie"),
         on_load=MessagingState.load_conversation)
def conversation() -> rx.Component:
    return layout(_conversation_content(), current_route=ROUTE)
