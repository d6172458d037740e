"""Agenda: my appointments, upcoming and past, as a list or in a week or month view; adding my
own; booking a slot of a professional of my care team; cancelling; adding one to my calendar
(.ics); my private subscription link for a calendar app. Updates live.

Reasons, practitioners and places are health data typed by people: plain text always. Every
text goes through the catalogue (French and English).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from carnet_web.components.agenda import (
    appointment_card,
    appointment_list,
    calendar,
    live_status,
    view_switch,
)
from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    confirm_dialog,
    error_callout,
    form_field,
    loading_state,
    page_body,
    page_header,
    section,
    success_callout,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import AGENDA_ROUTE as ROUTE
from carnet_web.state.agenda import (
    CANCEL_BUTTON_PREFIX,
    MAX_REASON,
    MAX_TEXT,
    MOVE_BUTTON_PREFIX,
    AgendaState,
    SlotOption,
)

TITLE = N_("Agenda")

_SELECT_STYLE = {
    "width": "100%", "min_height": "var(--space-7)", "padding": "0 var(--space-2)",
    "border": "1px solid var(--gray-a8)", "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)", "color": "var(--gray-12)",
    "font_size": "var(--font-size-3)",
}


def _actions(item: Any) -> list[rx.Component]:
    return [
        rx.button(t("Ajouter à mon calendrier (.ics)"), size="2", variant="soft",
                  on_click=AgendaState.download_ics(item.id),
                  aria_label=tf("Ajouter à mon calendrier (.ics) : rendez-vous du {when}",
                                when=item.when),
                  class_name="appointment-ics"),
        rx.cond(
            item.movable,
            rx.button(t("Changer de créneau"), size="2", variant="soft",
                      on_click=AgendaState.start_move(item.id),
                      aria_label=tf("Changer de créneau pour le rendez-vous du {when}",
                                    when=item.when),
                      id=MOVE_BUTTON_PREFIX + item.id, class_name="appointment-move"),
        ),
        rx.cond(
            item.cancellable,
            rx.button(t("Annuler le rendez-vous"), size="2", variant="soft", color_scheme="red",
                      on_click=AgendaState.ask_cancel(item.id),
                      loading=AgendaState.busy_id == item.id,
                      aria_label=tf("Annuler le rendez-vous du {when}", when=item.when),
                      id=CANCEL_BUTTON_PREFIX + item.id, class_name="appointment-cancel"),
        ),
    ]


def _move_slot(slot: SlotOption) -> rx.Component:
    return rx.el.li(
        rx.el.label(
            rx.el.input(type="radio", name="slot", value=slot.id,
                        style={"width": "1.1em", "height": "1.1em"}),
            rx.text.span(slot.when, ", ", slot.hours),
            style={"display": "flex", "gap": "0.5em", "align_items": "baseline",
                   "cursor": "pointer", "overflow_wrap": "anywhere"},
        ),
        list_style="none",
        class_name="move-slot",
    )


def _move_form() -> rx.Component:
    """Another free slot of the same professional, for the booking being moved."""
    return rx.form(
        rx.vstack(
            rx.cond(AgendaState.move_loading,
                    loading_state(t("Recherche des créneaux libres…"))),
            rx.cond(
                AgendaState.move_slots.length() > 0,
                rx.el.fieldset(
                    rx.el.legend(t("Nouveau créneau"), style={"font_weight": "500"}),
                    rx.el.ul(rx.foreach(AgendaState.move_slots, _move_slot), padding="0",
                             margin="0", display="flex", flex_direction="column",
                             gap="0.5em"),
                    id="move-slots",
                    tab_index=-1,
                    style={"border": "1px solid var(--gray-a6)", "padding": "0.75em",
                           "border_radius": "var(--radius-2)", "margin": "0",
                           "min_width": "0", "width": "100%"},
                ),
                rx.cond(~AgendaState.move_loading,
                        rx.text(t("Aucun créneau libre dans les 4 prochaines semaines."),
                                color_scheme="gray")),
            ),
            rx.cond(AgendaState.move_error != "",
                    rx.text(AgendaState.move_error, color_scheme="red", size="2",
                            role="alert", id="move-error")),
            rx.flex(
                rx.cond(AgendaState.move_slots.length() > 0,
                        rx.button(t("Choisir ce créneau"), type="submit", size="2",
                                  loading=AgendaState.move_busy, id="move-submit")),
                rx.button(t("Garder ce créneau"), type="button", size="2", variant="soft",
                          color_scheme="gray", on_click=AgendaState.stop_move,
                          id="move-cancel"),
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=AgendaState.move_to,
        reset_on_submit=False,
        no_validate=True,
        aria_label=t("Changer de créneau"),
        width="100%",
    )


def _card(item: Any) -> rx.Component:
    return appointment_card(
        item, *_actions(item),
        rx.cond(AgendaState.moving_id == item.id, _move_form()),
    )


def _lists() -> rx.Component:
    return rx.vstack(
        rx.heading(t("À venir"), as_="h3", size="4", id="upcoming-title"),
        appointment_list(AgendaState.upcoming, _card, id="upcoming",
                         empty=t("Aucun rendez-vous à venir.")),
        rx.heading(t("Passés"), as_="h3", size="4", id="past-title", margin_top="0.5em"),
        appointment_list(AgendaState.past, _card, id="past",
                         empty=t("Aucun rendez-vous passé.")),
        spacing="3",
        width="100%",
    )


def _calendar_view() -> rx.Component:
    return rx.vstack(
        calendar(AgendaState),
        rx.heading(AgendaState.selected_title, as_="h3", size="4", id="selected-day-title"),
        appointment_list(AgendaState.selected_items, _card, id="selected-day",
                         empty=t("Aucun rendez-vous ce jour-là.")),
        spacing="3",
        width="100%",
    )


def _my_appointments() -> rx.Component:
    return section(
        t("Mes rendez-vous"),
        rx.flex(view_switch(AgendaState), live_status(AgendaState), spacing="4",
                align="center", wrap="wrap", justify="between", width="100%"),
        error_callout(AgendaState.error, retry=AgendaState.load, id="agenda-error"),
        success_callout(AgendaState.info, id="agenda-info"),
        rx.cond(
            AgendaState.loading,
            rx.box(loading_state(), id="agenda-loading"),
            rx.cond(AgendaState.view == "list", _lists(), _calendar_view()),
        ),
        id="my-appointments",
    )


# --- booking ------------------------------------------------------------------------------


def _slot(slot: SlotOption) -> rx.Component:
    return rx.el.li(
        rx.el.label(
            # Uncontrolled (the form's value is read on submit): a controlled radio would wait
            # for the server's round trip before showing as chosen.
            rx.el.input(type="radio", name="slot", value=slot.id,
                        on_change=AgendaState.choose_slot(slot.id),
                        style={"width": "1.1em", "height": "1.1em"}),
            rx.text.span(
                rx.text.span(slot.when, ", ", slot.hours, font_weight="500"),
                rx.cond(slot.place != "",
                        rx.text.span(" · ", slot.place, color="var(--gray-11)")),
            ),
            style={"display": "flex", "gap": "0.5em", "align_items": "baseline",
                   "cursor": "pointer", "overflow_wrap": "anywhere"},
        ),
        list_style="none",
        class_name="free-slot",
    )


def _booking() -> rx.Component:
    return section(
        t("Prendre rendez-vous"),
        rx.cond(
            AgendaState.professionals.length() > 0,
            rx.form(
                rx.vstack(
                    form_field(
                        t("Professionnel de mon équipe de soins"),
                        rx.el.select(
                            rx.el.option(t("Choisissez un professionnel…"), value=""),
                            rx.foreach(AgendaState.professionals,
                                       lambda pair: rx.el.option(pair[1], value=pair[0])),
                            id="book-professional", name="professional",
                            value=AgendaState.book_professional,
                            on_change=AgendaState.choose_professional,
                            class_name="carnet-select", style=_SELECT_STYLE,
                        ),
                        id="book-professional",
                    ),
                    rx.cond(AgendaState.slots_loading,
                            loading_state(t("Recherche des créneaux libres…"))),
                    rx.cond(
                        AgendaState.slots.length() > 0,
                        rx.el.fieldset(
                            rx.el.legend(t("Créneaux libres"), style={"font_weight": "500"}),
                            rx.el.ul(rx.foreach(AgendaState.slots, _slot), id="free-slots",
                                     key=AgendaState.slots_key.to_string(),
                                     padding="0", margin="0", display="flex",
                                     flex_direction="column", gap="0.5em"),
                            style={"border": "1px solid var(--gray-a6)",
                                   "border_radius": "var(--radius-2)", "padding": "0.75em",
                                   "width": "100%", "margin": "0", "min_width": "0"},
                        ),
                        rx.cond(AgendaState.slots_searched & ~AgendaState.slots_loading,
                                rx.text(t("Aucun créneau libre dans les 4 prochaines "
                                          "semaines."), id="free-slots-empty",
                                        color_scheme="gray")),
                    ),
                    form_field(
                        t("Motif (facultatif)"),
                        rx.text_area(id="book-reason", name="reason", max_length=MAX_REASON,
                                     width="100%", rows="2"),
                        id="book-reason",
                        hint=t("Visible par vous et par le professionnel ; jamais dans les "
                               "rappels."),
                    ),
                    error_callout(AgendaState.book_error, id="book-error"),
                    success_callout(AgendaState.book_info, id="book-info"),
                    rx.button(t("Réserver ce créneau"), type="submit", size="3",
                              loading=AgendaState.booking, id="book-submit",
                              disabled=~AgendaState.is_hydrated),
                    spacing="3",
                    width="100%",
                ),
                on_submit=AgendaState.book,
                reset_on_submit=False,
                no_validate=True,
                aria_label=t("Prendre rendez-vous"),
                width="100%",
            ),
            rx.text(t("Ajoutez un professionnel à votre équipe de soins pour réserver les "
                      "créneaux qu'il publie."), color_scheme="gray", id="book-no-team"),
        ),
        id="book",
    )


# --- my own appointment -------------------------------------------------------------------


def _add_error(field: str) -> rx.Var:
    return rx.cond(AgendaState.add_error_field == field, AgendaState.add_error, "")


def _invalid(field: str) -> rx.Var:
    return rx.cond(AgendaState.add_error_field == field, "true", "false")


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.grid(
                form_field(t("Date"), rx.input(id="add-date", name="date", type="date",
                                               size="3", width="100%",
                                               aria_invalid=_invalid("date")),
                           id="add-date", error=_add_error("date")),
                form_field(t("Heure"), rx.input(id="add-time", name="time", type="time",
                                                size="3", width="100%",
                                                aria_invalid=_invalid("time")),
                           id="add-time", error=_add_error("time")),
                form_field(t("Durée (minutes)"),
                           rx.input(id="add-duration", name="duration", type="number",
                                    min="5", max="480", step="5", default_value="30",
                                    size="3", width="100%", aria_invalid=_invalid("duration")),
                           id="add-duration", error=_add_error("duration")),
                columns=rx.breakpoints(initial="1", sm="3"),
                spacing="3",
                width="100%",
            ),
            rx.cond(
                AgendaState.professionals.length() > 0,
                form_field(
                    t("Professionnel de mon équipe de soins (facultatif)"),
                    rx.el.select(
                        rx.el.option(t("Aucun : je l'indique ci-dessous"), value=""),
                        rx.foreach(AgendaState.professionals,
                                   lambda pair: rx.el.option(pair[1], value=pair[0])),
                        id="add-professional", name="professionalId",
                        class_name="carnet-select", style=_SELECT_STYLE,
                    ),
                    id="add-professional",
                ),
            ),
            form_field(t("Praticien"),
                       rx.input(id="add-practitioner", name="practitioner", size="3",
                                max_length=MAX_TEXT, width="100%",
                                placeholder=t("Ex. : Dr Martin, dentiste"),
                                aria_invalid=_invalid("practitioner")),
                       id="add-practitioner", error=_add_error("practitioner")),
            rx.el.fieldset(
                rx.el.legend(t("Lieu"), style={"font_weight": "500"}),
                rx.flex(
                    rx.el.label(
                        rx.el.input(type="radio", name="placeKind", value="ADDRESS",
                                    default_checked=True, id="add-kind-address",
                                    on_change=AgendaState.set_add_teleconsultation("ADDRESS")),
                        t("À une adresse"),
                        style={"display": "flex", "gap": "0.4em", "align_items": "center"},
                    ),
                    rx.el.label(
                        rx.el.input(type="radio", name="placeKind", value="TELECONSULTATION",
                                    id="add-kind-tele",
                                    on_change=AgendaState.set_add_teleconsultation(
                                        "TELECONSULTATION")),
                        t("Téléconsultation"),
                        style={"display": "flex", "gap": "0.4em", "align_items": "center"},
                    ),
                    spacing="4",
                    wrap="wrap",
                ),
                style={"border": "0", "padding": "0", "margin": "0", "min_width": "0"},
            ),
            rx.cond(
                ~AgendaState.add_teleconsultation,
                form_field(t("Adresse"),
                           rx.input(id="add-place", name="place", size="3", width="100%",
                                    max_length=MAX_TEXT, aria_invalid=_invalid("place")),
                           id="add-place", error=_add_error("place")),
            ),
            form_field(t("Motif (facultatif)"),
                       rx.text_area(id="add-reason", name="reason", max_length=MAX_REASON,
                                    width="100%", rows="2", aria_invalid=_invalid("reason")),
                       id="add-reason", error=_add_error("reason")),
            rx.cond((AgendaState.add_error != "") & (AgendaState.add_error_field == ""),
                    error_callout(AgendaState.add_error, id="add-error")),
            rx.flex(
                rx.button(t("Ajouter à mon agenda"), type="submit", size="3",
                          loading=AgendaState.adding, id="add-submit",
                          disabled=~AgendaState.is_hydrated),
                rx.button(t("Annuler"), type="button", size="3", variant="soft",
                          color_scheme="gray", on_click=AgendaState.toggle_add),
                spacing="2",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=AgendaState.add,
        reset_on_submit=False,
        no_validate=True,
        key=AgendaState.add_form_key.to_string(),
        aria_label=t("Ajouter un rendez-vous"),
        width="100%",
    )


def _add() -> rx.Component:
    return section(
        t("Ajouter un rendez-vous"),
        rx.text(t("Un rendez-vous pris ailleurs (par téléphone, sur un autre site) : notez-le "
                  "ici pour tout retrouver au même endroit."), color_scheme="gray"),
        rx.cond(
            AgendaState.add_open,
            rx.card(_add_form(), width="100%"),
            rx.button(t("Ajouter un rendez-vous"), on_click=AgendaState.toggle_add,
                      variant="soft", id="add-toggle", aria_expanded="false"),
        ),
        id="add",
    )


# --- my calendar feed ---------------------------------------------------------------------


def _feed() -> rx.Component:
    return section(
        t("Abonnement depuis mon calendrier"),
        rx.text(t("Un lien privé, en lecture seule, que votre application de calendrier "
                  "(téléphone, messagerie) consulte pour afficher vos rendez-vous. Toute "
                  "personne qui a ce lien voit vos rendez-vous : ne le partagez pas, "
                  "révoquez-le en cas de doute."), color_scheme="gray"),
        rx.cond(
            AgendaState.feed_active,
            rx.text(
                tf("Un lien est actif depuis le {date}.", date=AgendaState.feed_since),
                " ",
                rx.cond(AgendaState.feed_include_reason,
                        t("Il inclut les motifs des rendez-vous."),
                        t("Il n'inclut pas les motifs des rendez-vous.")),
                id="feed-status",
            ),
            rx.text(t("Aucun lien actif."), id="feed-status"),
        ),
        rx.cond(
            AgendaState.feed_url != "",
            rx.vstack(
                form_field(t("Lien d'abonnement"),
                           rx.input(id="feed-url", value=AgendaState.feed_url, read_only=True,
                                    size="3", width="100%"),
                           id="feed-url"),
                rx.button(t("Copier le lien"), on_click=AgendaState.copy_feed, variant="soft",
                          id="feed-copy"),
                spacing="2",
                width="100%",
            ),
        ),
        rx.el.label(
            rx.el.input(type="checkbox", id="feed-include-reason",
                        checked=AgendaState.feed_opt_in,
                        on_change=AgendaState.set_feed_opt_in),
            t("Inclure les motifs des rendez-vous dans le lien (ils seront visibles par "
              "l'application de calendrier)"),
            style={"display": "flex", "gap": "0.5em", "align_items": "baseline"},
        ),
        rx.flex(
            rx.button(rx.cond(AgendaState.feed_active, t("Remplacer par un nouveau lien"),
                              t("Créer mon lien d'abonnement")),
                      on_click=AgendaState.create_feed, loading=AgendaState.feed_busy,
                      id="feed-create", disabled=~AgendaState.is_hydrated),
            rx.cond(AgendaState.feed_active,
                    rx.button(t("Révoquer le lien"), on_click=AgendaState.ask_revoke,
                              variant="soft", color_scheme="red", id="feed-revoke")),
            spacing="2",
            wrap="wrap",
        ),
        error_callout(AgendaState.feed_error, id="feed-error"),
        success_callout(AgendaState.feed_info, id="feed-info"),
        id="feed",
    )


def _dialogs() -> rx.Component:
    return rx.fragment(
        confirm_dialog(
            open=AgendaState.cancelling,
            on_open_change=AgendaState.cancel_dialog_changed,
            title=t("Annuler ce rendez-vous ?"),
            description=tf("Le rendez-vous du {when} sera annulé ; le professionnel en est "
                           "informé.", when=AgendaState.cancel_when),
            confirm_label=t("Annuler le rendez-vous"),
            cancel_label=t("Garder le rendez-vous"),
            on_confirm=AgendaState.confirm_cancel,
            id="cancel-dialog",
        ),
        confirm_dialog(
            open=AgendaState.revoke_open,
            on_open_change=AgendaState.revoke_dialog_changed,
            title=t("Révoquer le lien d'abonnement ?"),
            description=t("Les calendriers abonnés à ce lien ne recevront plus vos "
                          "rendez-vous. Vous pourrez en créer un nouveau."),
            confirm_label=t("Révoquer le lien"),
            on_confirm=AgendaState.revoke_feed,
            id="revoke-dialog",
        ),
    )


def _content() -> rx.Component:
    return page_body(
        page_header(t(TITLE), t("Tous vos rendez-vous médicaux au même endroit, quel que soit "
                                "le professionnel.")),
        _my_appointments(),
        _booking(),
        _add(),
        _feed(),
        _dialogs(),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=AgendaState.load)
def agenda() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
