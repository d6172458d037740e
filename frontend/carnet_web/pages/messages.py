"""Messagerie: my conversations (/messagerie) and one conversation (/messagerie/<id>), which
updates live; replying, attaching documents of my record, blocking a professional; for
professionals, writing to a patient (a new conversation).

Message bodies, subjects and names come from other people: shown as plain text only (text
nodes, never rx.html or rx.markdown); line breaks are kept with CSS, long words and addresses
wrap (the global style), so nothing pushes the page sideways on a phone.

The messages are a log (role="log", polite): screen readers say a new message when it comes,
without interrupting.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    empty_state,
    error_callout,
    form_field,
    loading_state,
    page_body,
    page_header,
    section,
    select_field,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.state.messaging import (
    COMPOSE_PREFIX,
    COMPOSE_TOGGLE_ID,
    CONVERSATION_ROUTE,
    MAX_BODY,
    MAX_SUBJECT,
    MESSAGING_ROUTE,
    REPLY_ID,
    AttachmentItem,
    ConversationItem,
    DocumentOption,
    MessageItem,
    MessagingState,
    ParticipantItem,
)

ROUTE = MESSAGING_ROUTE
TITLE = N_("Messagerie")
COMPOSE_ID = "compose-form"

_NATIVE_CONTROL = {
    "width": "100%", "min_height": "var(--space-7)", "padding": "var(--space-2)",
    "border": "1px solid var(--gray-a8)", "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)", "color": "var(--gray-12)",
    "font_size": "var(--font-size-3)", "font_family": "inherit",
}


def _live_status() -> rx.Component:
    """Whether new messages show up by themselves right now (said politely when it changes)."""
    return rx.box(
        rx.match(
            MessagingState.live_status,
            ("live", rx.badge(t("En direct"), color_scheme="green", high_contrast=True)),
            ("connecting", rx.badge(t("Connexion…"), color_scheme="gray", high_contrast=True)),
            ("reconnecting", rx.badge(t("Reconnexion…"), color_scheme="amber",
                                      high_contrast=True)),
            ("ended", rx.badge(t("Hors ligne"), color_scheme="red", high_contrast=True)),
            rx.fragment(),
        ),
        id="live-status",
        role="status",
        aria_label=t("Mise à jour automatique"),
    )


def _done(message: Any, *, id: str) -> rx.Component:
    """What a finished action says (a status: read out politely). Like ui.success_callout, in
    high contrast: Radix's soft green text is 4.3:1 on its background, under AA's 4.5:1."""
    return rx.cond(
        message != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check", aria_hidden="true")),
            rx.callout.text(message),
            color_scheme="green",
            high_contrast=True,
            role="status",
            width="100%",
            id=id,
        ),
    )


def _plain_text(text: rx.Var, **props: Any) -> rx.Component:
    """User text as a text node; line breaks kept, long words wrapped."""
    return rx.text(text, white_space="pre-wrap", overflow_wrap="anywhere", **props)


# --- /messagerie -----------------------------------------------------------------------------


def _conversation_card(item: ConversationItem) -> rx.Component:
    return rx.el.li(
        rx.link(
            rx.card(
                rx.vstack(
                    rx.flex(
                        rx.text(item.subject, weight="bold", size="4", class_name="subject",
                                min_width="0"),
                        rx.cond(
                            item.unread > 0,
                            rx.badge(item.unread_label, color_scheme="red", variant="solid",
                                     class_name="unread-badge", flex_shrink="0"),
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
                            rx.text.strong(item.preview_author), t(" : "), item.preview,
                            size="2", class_name="preview",
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


def _compose_props(name: str, hint: bool = False) -> dict[str, Any]:
    """What ties a field of the new-conversation form to its hint and to the error, when the
    error is about it."""
    field_id = COMPOSE_PREFIX + name
    invalid = MessagingState.compose_field == name
    described = f"{field_id}-hint" if hint else ""
    return {
        "id": field_id,
        "name": name,
        "aria_invalid": rx.cond(invalid, "true", "false"),
        "aria_describedby": rx.cond(invalid, f"{described} {field_id}-error".strip(),
                                    described),
    }


def _compose_error(name: str) -> rx.Component:
    """The error under the field it is about (an alert: said as it appears)."""
    return rx.cond(
        (MessagingState.compose_field == name) & (MessagingState.compose_error != ""),
        rx.text(MessagingState.compose_error, id=f"{COMPOSE_PREFIX}{name}-error",
                color_scheme="red", size="2", role="alert"),
    )


def _compose_input(label: Any, name: str, *, hint: Any | None = None, **props: Any
                   ) -> rx.Component:
    control = rx.input(**_compose_props(name, hint is not None), size="3", width="100%",
                       **props)
    return rx.vstack(
        form_field(label, control, id=COMPOSE_PREFIX + name, hint=hint),
        _compose_error(name),
        spacing="1",
        width="100%",
    )


def _compose_form() -> rx.Component:
    """A professional writes to a patient, named by the INS identity traits (the API says
    alike whichever trait does not match)."""
    return section(
        t("Nouvelle conversation"),
        rx.form(
            rx.vstack(
                _compose_input(t("Objet"), "subject", max_length=MAX_SUBJECT, required=True,
                               auto_focus=True, auto_complete="off"),
                rx.el.fieldset(
                    rx.el.legend(t("Patient (traits d'identité INS)"), font_weight="bold",
                                 margin_bottom="0.5em"),
                    rx.vstack(
                        _compose_input(
                            t("Matricule INS"), "insMatricule",
                            hint=t("15 caractères : numéro de sécurité sociale et clé."),
                            max_length=21, required=True, auto_complete="off",
                            custom_attrs={"spellCheck": "false",
                                          "autoCapitalize": "characters"}),
                        _compose_input(t("Nom de naissance"), "birthName", max_length=100,
                                       required=True, auto_complete="off",
                                       custom_attrs={"spellCheck": "false"}),
                        # Typed (a date input's order of day and month follows the
                        # browser's settings, not the page's language).
                        _compose_input(t("Date de naissance"), "birthDate",
                                       hint=t("Au format jj/mm/aaaa, par exemple 02/03/1985."),
                                       required=True, max_length=10, max_width="14em",
                                       auto_complete="off", input_mode="numeric"),
                        rx.el.label(
                            rx.el.input(type="checkbox", name="includePatient",
                                        id=COMPOSE_PREFIX + "includePatient",
                                        default_checked=True,
                                        style={"width": "1.1em", "height": "1.1em"}),
                            t("Le patient participe à la conversation"),
                            html_for=COMPOSE_PREFIX + "includePatient",
                            display="flex",
                            align_items="center",
                            gap="0.5em",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    border="none",
                    padding="0",
                    margin="0",
                    min_width="0",
                    width="100%",
                ),
                _compose_input(
                    t("Autres professionnels (facultatif)"), "professionalRpps",
                    hint=t("Leurs numéros RPPS (11 chiffres), séparés par des virgules."),
                    auto_complete="off", input_mode="numeric"),
                rx.vstack(
                    form_field(
                        t("Message"),
                        rx.el.textarea(**_compose_props("body"), rows="6",
                                       max_length=MAX_BODY, required=True,
                                       style=_NATIVE_CONTROL),
                        id=COMPOSE_PREFIX + "body",
                    ),
                    _compose_error("body"),
                    spacing="1",
                    width="100%",
                ),
                rx.flex(
                    rx.button(t("Envoyer"), type="submit", loading=MessagingState.composing,
                              disabled=~MessagingState.is_hydrated, id="compose-submit"),
                    rx.button(t("Annuler"), type="button", variant="soft", color_scheme="gray",
                              on_click=MessagingState.toggle_compose),
                    spacing="3",
                    wrap="wrap",
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            on_submit=MessagingState.start_conversation,
            reset_on_submit=False,
            # What to fix is said by the page, in the page's language, on the field (not by
            # the browser's bubbles); `required` still tells screen readers.
            no_validate=True,
            id=COMPOSE_ID,
            width="100%",
        ),
        id="new-conversation",
    )


def _list_content() -> rx.Component:
    return page_body(
        page_header(
            t(TITLE),
            rx.cond(
                MessagingState.is_professional,
                t("Vos échanges sécurisés avec vos patients et d'autres professionnels de "
                  "santé, à propos de leur suivi."),
                t("Vos échanges sécurisés avec vos soignants. Ils vous écrivent à propos de "
                  "votre suivi ; vous pouvez leur répondre et joindre des documents de votre "
                  "dossier."),
            ),
            _live_status(),
            rx.cond(
                MessagingState.is_professional,
                rx.button(
                    rx.icon("pencil", aria_hidden="true"),
                    t("Écrire à un patient"),
                    on_click=MessagingState.toggle_compose,
                    aria_expanded=rx.cond(MessagingState.compose_open, "true", "false"),
                    aria_controls="new-conversation",
                    id=COMPOSE_TOGGLE_ID,
                ),
            ),
        ),
        rx.cond(MessagingState.compose_open, rx.card(_compose_form(), width="100%")),
        error_callout(MessagingState.list_error, retry=MessagingState.load_list,
                      id="messaging-error"),
        rx.cond(
            MessagingState.list_loading,
            rx.box(loading_state(), id="messaging-loading"),
            rx.cond(
                MessagingState.conversations.length() > 0,
                rx.el.ul(
                    rx.foreach(MessagingState.conversations, _conversation_card),
                    id="conversations",
                    aria_label=t("Mes conversations"),
                    padding="0",
                    margin="0",
                    display="flex",
                    flex_direction="column",
                    gap="var(--space-3)",
                    width="100%",
                ),
                rx.cond(
                    MessagingState.list_error == "",
                    rx.box(
                        empty_state(
                            t("Vous n'avez encore aucune conversation."),
                            rx.cond(
                                MessagingState.is_professional,
                                t("Écrivez à un patient pour en commencer une."),
                                t("Vos soignants peuvent vous écrire ici ; vous pourrez alors "
                                  "leur répondre."),
                            ),
                        ),
                        id="no-conversation",
                    ),
                ),
            ),
        ),
        rx.cond(
            MessagingState.has_more_conversations,
            rx.button(t("Afficher plus de conversations"),
                      on_click=MessagingState.load_more_conversations,
                      loading=MessagingState.loading_more_conversations, variant="soft",
                      align_self="start"),
        ),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=MessagingState.load_list)
def messages() -> rx.Component:
    return layout(_list_content(), current_route=ROUTE, title=TITLE)


# --- /messagerie/<id> ------------------------------------------------------------------------


def _participant(person: ParticipantItem) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.text(person.name, weight="medium", class_name="participant-name"),
            rx.cond(person.is_me, rx.text(t("(vous)"), size="2", color_scheme="gray")),
            rx.cond(
                person.blocked,
                rx.badge(t("Bloqué"), color_scheme="red", high_contrast=True,
                         class_name="blocked-badge"),
            ),
            rx.cond(
                MessagingState.is_patient & (person.professional_id != "") & ~person.is_me,
                rx.button(
                    rx.cond(person.blocked, t("Débloquer"), t("Bloquer")),
                    on_click=MessagingState.set_blocked(person.professional_id,
                                                        ~person.blocked),
                    loading=MessagingState.blocking
                    & (MessagingState.block_target == person.professional_id),
                    disabled=MessagingState.blocking,
                    aria_label=rx.cond(person.blocked, tf("Débloquer {name}", name=person.name),
                                       tf("Bloquer {name}", name=person.name)),
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
                    rx.text(message.sent_at, size="1", color_scheme="gray",
                            class_name="sent-at"),
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
                        aria_label=t("Pièces jointes"),
                        class_name="attachments",
                        padding="0",
                        margin="0",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            background=rx.cond(message.is_mine, "var(--accent-2)", "var(--color-panel)"),
        ),
        id="message-" + message.id,
        class_name=rx.cond(message.is_mine, "message mine", "message"),
        list_style="none",
        max_width="85%",
        min_width="0",
        align_self=rx.cond(message.is_mine, "flex-end", "flex-start"),
        width="100%",
    )


def _attached_chip(option: DocumentOption) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.icon("paperclip", size=14, aria_hidden="true"),
            rx.text(option.label, size="2", min_width="0"),
            rx.button(
                t("Retirer"),
                type="button",
                on_click=MessagingState.detach_document(option.id),
                aria_label=tf("Retirer {label}", label=option.label),
                variant="soft",
                color_scheme="gray",
                size="1",
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        class_name="attached",
        list_style="none",
    )


def _attachment_picker() -> rx.Component:
    return rx.cond(
        MessagingState.is_patient,
        rx.vstack(
            select_field(
                t("Joindre un document de mon dossier"),
                id="attach-select",
                name="attachment",  # (not read: the documents attached are in the state)
                options=MessagingState.attach_options,
                value="",
                on_change=MessagingState.attach_document,
                disabled=~MessagingState.can_attach_more
                | (MessagingState.documents.length() == 0),
            ),
            rx.cond(
                MessagingState.attached.length() > 0,
                rx.el.ul(
                    rx.foreach(MessagingState.attached, _attached_chip),
                    aria_label=t("Documents joints"),
                    id="attached-documents",
                    padding="0",
                    margin="0",
                    display="flex",
                    flex_direction="column",
                    gap="var(--space-1)",
                ),
            ),
            spacing="2",
            width="100%",
        ),
    )


def _reply_form() -> rx.Component:
    error = MessagingState.reply_error
    return rx.form(
        rx.vstack(
            form_field(
                t("Votre réponse"),
                rx.el.textarea(
                    id=REPLY_ID,
                    name="body",
                    rows="4",
                    max_length=MAX_BODY,
                    placeholder=t("Écrivez votre message…"),
                    aria_invalid=rx.cond(error != "", "true", "false"),
                    aria_describedby=rx.cond(error != "", f"{REPLY_ID}-error", ""),
                    style=_NATIVE_CONTROL,
                ),
                id=REPLY_ID,
                error=error,
            ),
            _attachment_picker(),
            rx.button(
                t("Envoyer"),
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
        width="100%",
    )


def _conversation_body() -> rx.Component:
    return rx.fragment(
        section(
            t("Participants"),
            rx.el.ul(
                rx.foreach(MessagingState.participants, _participant),
                id="participants",
                padding="0",
                margin="0",
                display="flex",
                flex_direction="column",
                gap="var(--space-2)",
            ),
            rx.cond(
                MessagingState.is_patient,
                rx.text(
                    t("Un professionnel bloqué ne peut plus vous écrire. Vous pouvez le "
                      "débloquer à tout moment."),
                    size="2",
                    color_scheme="gray",
                ),
            ),
            id="participants-section",
        ),
        _done(MessagingState.info, id="messaging-info"),
        error_callout(MessagingState.error, id="messaging-error"),
        section(
            t("Messages"),
            rx.cond(
                MessagingState.has_earlier,
                rx.button(t("Afficher les messages précédents"),
                          on_click=MessagingState.load_earlier,
                          loading=MessagingState.loading_earlier, variant="soft", size="2"),
            ),
            rx.box(
                rx.cond(
                    MessagingState.messages.length() > 0,
                    rx.el.ol(
                        rx.foreach(MessagingState.messages, _message),
                        id="messages",
                        padding="0",
                        margin="0",
                        display="flex",
                        flex_direction="column",
                        gap="var(--space-3)",
                        width="100%",
                    ),
                    rx.text(t("Aucun message dans cette conversation."), color_scheme="gray"),
                ),
                # A log: each new message is said politely, without interrupting.
                role="log",
                aria_live="polite",
                aria_labelledby="messages-section-title",
                id="messages-log",
                width="100%",
            ),
            id="messages-section",
        ),
        rx.card(
            section(t("Répondre"), _reply_form(), id="reply-section"),
            width="100%",
        ),
    )


def _conversation_content() -> rx.Component:
    return page_body(
        rx.link(
            rx.icon("arrow-left", size=16, aria_hidden="true"),
            t("Toutes mes conversations"),
            href=ROUTE,
            size="2",
            id="back-to-list",
            display="inline-flex",
            align_items="center",
            gap="0.25em",
            align_self="start",
        ),
        page_header(
            rx.cond(MessagingState.subject != "", MessagingState.subject, t("Conversation")),
            None,
            _live_status(),
        ),
        rx.cond(
            MessagingState.conversation_loading,
            rx.box(loading_state(), id="conversation-loading"),
            rx.cond(
                MessagingState.conversation_error != "",
                rx.box(
                    rx.cond(
                        MessagingState.not_found,
                        error_callout(MessagingState.conversation_error),
                        error_callout(MessagingState.conversation_error,
                                      retry=MessagingState.load_conversation),
                    ),
                    id="conversation-error",
                    width="100%",
                ),
                _conversation_body(),
            ),
        ),
    )


@rx.page(route=CONVERSATION_ROUTE, title=page_title(TITLE),
         on_load=MessagingState.load_conversation)
def conversation() -> rx.Component:
    return layout(_conversation_content(), current_route=ROUTE, title=TITLE)
