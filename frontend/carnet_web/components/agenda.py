"""What the patient's agenda and the professional's share: an appointment's card, the
calendar (week and month views: one keyboard stop, arrow keys to move, Enter shows the day),
the view switch and the live status.

Texts from people (reasons, practitioners, places, names) are shown as plain text only.
"""

from __future__ import annotations

import json
from typing import Any, Final

import reflex as rx
from reflex.event import EventHandler, key_event
from reflex_components_core.el.elements.forms import Button

from carnet_web.components.layout import visually_hidden
from carnet_web.i18n import t
from carnet_web.state.agenda_common import WEEKDAY_SHORT

#: Keys the calendar uses: the browser must not scroll the page with them as well.
CALENDAR_KEYS: Final = ("ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End",
                        "PageUp", "PageDown")
#: Once per tab: those keys do not scroll the page inside the calendar, and the focus moves at
#: once to the day the key leads to when it is shown (the server then selects it and lists its
#: appointments; a day outside the shown period comes with the server's answer).
KEYS_SCRIPT: Final = (
    "(() => { if (window.__carnetCalendarKeys) return; window.__carnetCalendarKeys = true;"
    " const keys = " + json.dumps(list(CALENDAR_KEYS)) + ";"
    " const steps = {ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7};"
    " document.addEventListener('keydown', (e) => {"
    "   const day = e.target && e.target.closest && e.target.closest('.agenda-day');"
    "   if (!keys.includes(e.key) || !day || !day.closest('.agenda-calendar')) return;"
    "   e.preventDefault();"
    "   const m = /^day-(\\d{4})-(\\d{2})-(\\d{2})$/.exec(day.id); if (!m) return;"
    "   const when = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));"
    "   const weekday = (when.getUTCDay() + 6) % 7;"
    "   let step = steps[e.key];"
    "   if (e.key === 'Home') step = -weekday; if (e.key === 'End') step = 6 - weekday;"
    "   if (step === undefined) return;"
    "   when.setUTCDate(when.getUTCDate() + step);"
    "   const next = document.getElementById('day-' + when.toISOString().slice(0, 10));"
    "   if (next) next.focus(); }, true); })()"
)
_WRAP: Final = {"overflow_wrap": "anywhere", "min_width": "0"}


class DayButton(Button):
    """A plain <button> that also tells the server which key was pressed on it (Reflex's
    own button has no key trigger)."""

    on_key_down: EventHandler[key_event]


def status_badge(item: Any) -> rx.Component:
    return rx.badge(
        item.status_label,
        color_scheme=rx.match(item.status, ("CANCELLED", "red"), ("PROPOSED", "amber"),
                              ("BOOKED", "green"), "gray"),
        class_name="appointment-status",
    )


def appointment_card(item: Any, *actions: rx.Component, show_patient: bool = False
                     ) -> rx.Component:
    """One appointment: when, with whom, where, why, its status; the actions given."""
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.text(item.when, weight="bold", class_name="appointment-when",
                            # 'lundi 7 décembre…' is written for sentences: a capital here.
                            style={**_WRAP, "&::first-letter": {"text_transform": "uppercase"}}),
                    status_badge(item),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(item.hours, size="2", class_name="appointment-hours"),
                *([rx.cond(item.patient != "",
                           rx.text(t("Patient : "), rx.text.strong(item.patient), size="2",
                                   class_name="appointment-patient", style=_WRAP))]
                  if show_patient else []),
                rx.text(item.who, size="2", class_name="appointment-who", style=_WRAP),
                rx.cond(item.place != "",
                        rx.text(t("Lieu : "), item.place, size="2",
                                class_name="appointment-place", style=_WRAP)),
                rx.cond(item.reason != "",
                        rx.text(t("Motif : "), item.reason, size="2", color_scheme="gray",
                                class_name="appointment-reason", style=_WRAP)),
                rx.cond(item.source_label != "",
                        rx.text(item.source_label, size="1", color_scheme="gray",
                                class_name="appointment-source")),
                rx.cond(item.cancel_note != "",
                        rx.text(item.cancel_note, size="1", color_scheme="gray",
                                class_name="appointment-cancel-note")),
                *([rx.flex(*actions, spacing="2", wrap="wrap")] if actions else []),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
        id="appointment-" + item.id,
        class_name="appointment",
        list_style="none",
    )


def appointment_list(items: Any, render: Any, *, id: str, empty: Any) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.el.ul(rx.foreach(items, render), id=id, padding="0", margin="0", width="100%",
                 display="flex", flex_direction="column", gap="var(--space-3)"),
        rx.text(empty, color_scheme="gray", id=id + "-empty"),
    )


def view_switch(state: Any) -> rx.Component:
    """"Liste", "Semaine", "Mois": toggle buttons (the one pressed says so)."""
    def view_button(view: str, label: Any) -> rx.Component:
        pressed = state.view == view
        return rx.button(label, on_click=state.set_view(view), size="2",
                         variant=rx.cond(pressed, "solid", "soft"),
                         aria_pressed=rx.cond(pressed, "true", "false"),
                         id=f"view-{view}")

    return rx.flex(
        view_button("list", t("Liste")),
        view_button("week", t("Semaine")),
        view_button("month", t("Mois")),
        spacing="2",
        wrap="wrap",
        role="group",
        aria_label=t("Affichage de l'agenda"),
    )


def live_status(state: Any) -> rx.Component:
    return rx.text(
        rx.match(state.live_status, ("live", t("En direct")),
                 ("reconnecting", t("Reconnexion…")), ("connecting", t("Connexion…")), ""),
        id="live-status",
        size="2",
        color_scheme="gray",
        role="status",
    )


def _day_button(state: Any, day: Any, *, week: bool) -> rx.Component:
    return DayButton.create(
        rx.text.span(rx.cond(week, day.short, day.number), aria_hidden="true",
                     font_weight=rx.cond(day.today, "700", "400")),
        rx.cond(day.count > 0,
                rx.text.span(day.count.to_string(), aria_hidden="true",
                             class_name="agenda-count",
                             style={"display": "block", "font_size": "var(--font-size-1)",
                                    "color": "var(--accent-11)", "font_weight": "700"})),
        visually_hidden(day.label),
        id="day-" + day.iso,
        type="button",
        tab_index=rx.cond(day.selected, 0, -1),
        aria_pressed=rx.cond(day.selected, "true", "false"),
        **{"aria-current": rx.cond(day.today, "date", "false")},
        on_click=state.select_day(day.iso),
        on_key_down=lambda key, _info: state.day_key(key, day.iso),
        class_name="agenda-day",
        style={
            "width": "100%", "min_height": "2.75em", "padding": "0.25em",
            "border": rx.cond(day.selected, "2px solid var(--accent-9)",
                              "1px solid var(--gray-a6)"),
            "border_radius": "var(--radius-2)",
            "background": rx.cond(day.today, "var(--accent-3)", "var(--color-surface)"),
            "color": rx.cond(day.in_month, "var(--gray-12)", "var(--gray-11)"),
            "cursor": "pointer", "font_size": "var(--font-size-2)",
            "position": "relative",
        },
    )


def _week_day(state: Any, day: Any) -> rx.Component:
    return rx.vstack(
        _day_button(state, day, week=True),
        rx.foreach(day.appointments, lambda item: rx.text(
            item.hours, " · ", item.who, size="1", style=_WRAP,
            text_decoration=rx.cond(item.cancelled, "line-through", "none"),
            class_name="agenda-week-item")),
        spacing="1",
        width="100%",
        min_width="0",
    )


def calendar(state: Any) -> rx.Component:
    """The week or month view of `state.days`, with its own navigation; the chosen day's
    appointments are shown under it by the page."""
    week = state.view == "week"
    headers = rx.grid(
        *[rx.text(t(name), size="1", color_scheme="gray", text_align="center",
                  aria_hidden="true")
          for name in WEEKDAY_SHORT],
        columns="7", spacing="1", width="100%",
    )
    return rx.vstack(
        rx.flex(
            rx.button(rx.icon("chevron-left", aria_hidden="true"),
                      rx.cond(week, t("Semaine précédente"), t("Mois précédent")),
                      on_click=state.move(-1), variant="soft", size="2", id="period-previous"),
            rx.button(t("Aujourd'hui"), on_click=state.go_today, variant="soft", size="2",
                      id="period-today"),
            rx.button(rx.cond(week, t("Semaine suivante"), t("Mois suivant")),
                      rx.icon("chevron-right", aria_hidden="true"),
                      on_click=state.move(1), variant="soft", size="2", id="period-next"),
            spacing="2",
            wrap="wrap",
        ),
        rx.heading(state.period_title, as_="h3", size="4", id="period-title",
                   aria_live="polite"),
        rx.text(t("Flèches : changer de jour ; Début et Fin : début et fin de semaine ; "
                  "Page précédente et suivante : changer de période."),
                size="1", color_scheme="gray", id="calendar-help"),
        rx.cond(week, rx.fragment(), headers),
        rx.box(
            rx.cond(
                week,
                rx.grid(rx.foreach(state.days, lambda day: _week_day(state, day)),
                        columns=rx.breakpoints(initial="1", sm="7"), spacing="2",
                        width="100%"),
                rx.grid(rx.foreach(state.days, lambda day: _day_button(state, day, week=False)),
                        columns="7", spacing="1", width="100%"),
            ),
            class_name="agenda-calendar",
            role="group",
            aria_labelledby="period-title",
            aria_describedby="calendar-help",
            id="agenda-calendar",
            width="100%",
        ),
        spacing="3",
        width="100%",
        on_mount=rx.call_script(KEYS_SCRIPT),
    )
