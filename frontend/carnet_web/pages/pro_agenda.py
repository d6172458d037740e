"""Espace professionnel, "Mon agenda" (/pro/agenda): publish bookable slots (a recurrence), see
my slots and the appointments patients booked, cancel or move one. Updates live.

Patients' names and reasons are plain text only.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from carnet_web.components.agenda import appointment_card, appointment_list, live_status
from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    confirm_dialog,
    error_callout,
    form_field,
    loading_state,
    page_body,
    section,
    success_callout,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import PRO_AGENDA_ROUTE as ROUTE
from carnet_web.state.agenda_common import WEEKDAY_NAMES
from carnet_web.state.pro_agenda import (
    MAX_ADDRESS,
    PRO_CANCEL_PREFIX,
    PRO_MOVE_PREFIX,
    ProAgendaState,
    SlotItem,
)

TITLE = N_("Mon agenda")
_WRAP = {"overflow_wrap": "anywhere", "min_width": "0"}


def _error(field: str) -> rx.Var:
    return rx.cond(ProAgendaState.publish_error_field == field, ProAgendaState.publish_error, "")


def _invalid(field: str) -> rx.Var:
    return rx.cond(ProAgendaState.publish_error_field == field, "true", "false")


def _input(label: Any, field: str, *, type: str, **props: Any) -> rx.Component:
    return form_field(label, rx.input(id=f"publish-{field}", name=field, type=type, size="3",
                                      width="100%", aria_invalid=_invalid(field), **props),
                      id=f"publish-{field}", error=_error(field))


def _weekdays() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(t("Jours de la semaine"), style={"font_weight": "500"}),
        rx.flex(
            *[rx.el.label(
                rx.el.input(type="checkbox", name=f"weekday-{n}", id=f"publish-weekday-{n}",
                            default_checked=n < 5),
                t(name),
                style={"display": "flex", "gap": "0.4em", "align_items": "center"},
            ) for n, name in enumerate(WEEKDAY_NAMES)],
            spacing="4",
            wrap="wrap",
        ),
        rx.cond(_error("weekdays") != "",
                rx.text(_error("weekdays"), color_scheme="red", size="2", role="alert",
                        id="publish-weekdays-error")),
        style={"border": "0", "padding": "0", "margin": "0", "min_width": "0"},
    )


def _place_choice() -> rx.Component:
    def place_option(value: str, label: Any, checked: bool) -> rx.Component:
        return rx.el.label(
            rx.el.input(type="radio", name="placeKind", value=value, default_checked=checked,
                        id=f"publish-kind-{value.lower()}",
                        on_change=ProAgendaState.set_publish_place(value)),
            label,
            style={"display": "flex", "gap": "0.4em", "align_items": "center"},
        )

    return rx.el.fieldset(
        rx.el.legend(t("Lieu"), style={"font_weight": "500"}),
        rx.flex(place_option("ADDRESS", t("Au cabinet"), True),
                place_option("TELECONSULTATION", t("Téléconsultation"), False),
                spacing="4", wrap="wrap"),
        style={"border": "0", "padding": "0", "margin": "0", "min_width": "0"},
    )


def _publish_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.grid(
                    _input(t("Du"), "startDate", type="date"),
                    _input(t("Au"), "endDate", type="date"),
                    columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%",
                ),
                _weekdays(),
                rx.grid(
                    _input(t("De"), "dayStart", type="time", default_value="09:00"),
                    _input(t("À"), "dayEnd", type="time", default_value="12:00"),
                    _input(t("Durée d'un créneau (minutes)"), "duration", type="number",
                           default_value="30", min="5", max="480", step="5"),
                    columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%",
                ),
                _place_choice(),
                rx.cond(~ProAgendaState.publish_teleconsultation,
                        _input(t("Adresse du cabinet"), "placeAddress", type="text",
                               max_length=MAX_ADDRESS)),
                rx.cond((ProAgendaState.publish_error != "")
                        & (ProAgendaState.publish_error_field == ""),
                        error_callout(ProAgendaState.publish_error, id="publish-error")),
                success_callout(ProAgendaState.publish_info, id="publish-info"),
                rx.button(t("Publier les créneaux"), type="submit", size="3",
                          loading=ProAgendaState.publishing, id="publish-submit",
                          disabled=~ProAgendaState.is_hydrated),
                spacing="3",
                width="100%",
            ),
            on_submit=ProAgendaState.publish,
            reset_on_submit=False,
            no_validate=True,
            aria_label=t("Publier des créneaux"),
            width="100%",
        ),
        width="100%",
    )


def _move_form(item: Any) -> rx.Component:
    return rx.form(
        rx.flex(
            rx.box(form_field(t("Nouvelle date"), rx.input(id="move-date", name="date",
                                                            type="date", size="2"),
                              id="move-date"), flex="1 1 9em"),
            rx.box(form_field(t("Nouvelle heure"), rx.input(id="move-time", name="time",
                                                             type="time", size="2"),
                              id="move-time"), flex="1 1 7em"),
            rx.box(form_field(t("Durée (minutes)"),
                              rx.input(id="move-duration", name="duration", type="number",
                                       size="2", default_value=item.minutes.to_string()),
                              id="move-duration"), flex="1 1 7em"),
            rx.flex(
                rx.button(t("Déplacer"), type="submit", size="2",
                          loading=ProAgendaState.busy_id == item.id),
                rx.button(t("Annuler"), type="button", size="2", variant="soft",
                          color_scheme="gray", on_click=ProAgendaState.stop_move),
                spacing="2",
            ),
            spacing="2",
            align="end",
            wrap="wrap",
            width="100%",
        ),
        rx.cond(ProAgendaState.move_error != "",
                rx.text(ProAgendaState.move_error, color_scheme="red", size="2",
                        role="alert", id="move-error")),
        on_submit=ProAgendaState.move,
        reset_on_submit=False,
        no_validate=True,
        aria_label=t("Déplacer le rendez-vous"),
        width="100%",
    )


def _booking(item: Any) -> rx.Component:
    return appointment_card(
        item,
        rx.cond(
            item.cancellable,
            rx.fragment(
                rx.button(t("Déplacer"), size="2", variant="soft",
                          on_click=ProAgendaState.start_move(item.id),
                          id=PRO_MOVE_PREFIX + item.id,
                          aria_label=tf("Déplacer le rendez-vous du {when}", when=item.when)),
                rx.button(t("Annuler le rendez-vous"), size="2", variant="soft",
                          color_scheme="red", on_click=ProAgendaState.ask_cancel(item.id),
                          loading=ProAgendaState.busy_id == item.id,
                          id=PRO_CANCEL_PREFIX + item.id,
                          aria_label=tf("Annuler le rendez-vous du {when}", when=item.when)),
            ),
        ),
        rx.cond(ProAgendaState.moving_id == item.id, _move_form(item)),
        show_patient=True,
    )


def _slot(slot: SlotItem) -> rx.Component:
    return rx.el.li(
        rx.text(slot.when, " (", slot.hours, ")", size="2", style=_WRAP),
        rx.badge(slot.status_label, color_scheme=rx.cond(slot.free, "green", "blue")),
        rx.cond(slot.place != "", rx.text(slot.place, size="1", color_scheme="gray",
                                          style=_WRAP)),
        class_name="my-slot",
        style={"display": "flex", "gap": "0.5em", "align_items": "center",
               "flex_wrap": "wrap", "list_style": "none"},
    )


def _content() -> rx.Component:
    return page_body(
        rx.vstack(
            rx.text(t("Espace professionnel"), size="2", color_scheme="gray", weight="medium"),
            rx.heading(t(TITLE), as_="h1", size="7"),
            rx.text(t("Publiez des créneaux que les patients qui vous ont ajouté à leur "
                      "équipe de soins peuvent réserver ; suivez leurs réservations."),
                    color_scheme="gray"),
            spacing="2",
        ),
        section(t("Publier des créneaux"), _publish_form(), id="publish"),
        section(
            t("Rendez-vous à venir"),
            live_status(ProAgendaState),
            error_callout(ProAgendaState.error, retry=ProAgendaState.load, id="pro-agenda-error"),
            success_callout(ProAgendaState.info, id="pro-agenda-info"),
            rx.cond(
                ProAgendaState.loading,
                rx.box(loading_state(), id="pro-agenda-loading"),
                appointment_list(ProAgendaState.bookings, _booking, id="bookings",
                                 empty=t("Aucun rendez-vous dans les 8 prochaines semaines.")),
            ),
            id="bookings-section",
        ),
        section(
            t("Mes créneaux des 8 prochaines semaines"),
            rx.text(tf("{n} créneaux libres.", n=ProAgendaState.free_count.to_string()),
                    id="free-count", size="2"),
            rx.cond(
                ProAgendaState.slots.length() > 0,
                rx.el.ul(rx.foreach(ProAgendaState.slots, _slot), id="my-slots", padding="0",
                         margin="0", display="flex", flex_direction="column", gap="0.5em"),
                rx.text(t("Aucun créneau publié."), color_scheme="gray", id="my-slots-empty"),
            ),
            id="slots",
        ),
        confirm_dialog(
            open=ProAgendaState.cancelling,
            on_open_change=ProAgendaState.cancel_dialog_changed,
            title=t("Annuler ce rendez-vous ?"),
            description=tf("Le rendez-vous du {when} sera annulé et le patient prévenu.",
                           when=ProAgendaState.cancel_when),
            confirm_label=t("Annuler le rendez-vous"),
            cancel_label=t("Garder le rendez-vous"),
            on_confirm=ProAgendaState.confirm_cancel,
            id="pro-cancel-dialog",
        ),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=ProAgendaState.load)
def pro_agenda() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
