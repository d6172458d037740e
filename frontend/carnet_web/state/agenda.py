"""State of the patient's "Agenda" (/agenda): upcoming and past appointments, a week and a
month view, adding my own appointment, booking a slot a professional of my care team publishes,
cancelling, downloading one appointment as `.ics`, my private calendar feed (create, copy,
revoke), and live updates (`agendaChanged`).

Needs a session: without one (or when the API says it is no longer valid) the tab goes to the
login page, which comes back here.

Live updates (see `carnet_web.live`): `load` chains `follow_agenda`, a background event that
follows `agendaChanged` and reads the agenda again whenever something changed (an appointment
booked, moved or cancelled, here, in another tab, by a professional or their software). A
generation counter stops an older handler.

Downloads: `download_ics` issues a one-time ticket for the web app's download route
(`carnet_web.documents_http`), which streams `GET <API>/agenda/{id}.ics` with the tab's token:
the token never reaches the browser.

Free texts (reason, practitioner, place) are health data: shown as plain text only, never
logged.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_
from carnet_web.routes import AGENDA_ROUTE
from carnet_web.state import agenda_live
from carnet_web.state.agenda_common import (
    APPOINTMENT_FIELDS,
    DURATION_INVALID,
    TIME_INVALID,
    TIME_REQUIRED,
    AppointmentItem,
    CalendarDay,
    add_months,
    appointment_item,
    by_start,
    calendar_days,
    day_bounds,
    error_message,
    long_day,
    moment_text,
    month_grid,
    month_start,
    month_title,
    parse_duration,
    parse_local,
    professional_label,
    week_start,
)
from carnet_web.state.documents import download_event
from carnet_web.state.focus import focus
from carnet_web.state.formatting import date_text, display_zone
from carnet_web.state.session import SessionState, api_errors

log = logging.getLogger("carnet_web.agenda")

UPCOMING_SHOWN: Final = 50
PAST_SHOWN: Final = 50  # the latest ones, newest first
#: The API gives a period's appointments oldest first, at most 100 a page: the past ones are
#: read over this window, whole page, and the latest PAST_SHOWN shown.
PAST_DAYS: Final = 365
PAST_READ: Final = 100
SLOT_DAYS: Final = 28  # how far ahead free slots are searched
MAX_REASON: Final = 500
MAX_TEXT: Final = 200
CANCEL_BUTTON_PREFIX: Final = "cancel-appointment-"
MOVE_BUTTON_PREFIX: Final = "move-appointment-"

VIEWS: Final = ("list", "week", "month")

AGENDA: Final = api.operation(
    """
    query Agenda($upcomingFrom: DateTime!, $pastFrom: DateTime!, $now: DateTime!,
                 $rangeFrom: DateTime!, $rangeTo: DateTime!, $first: Int!, $firstPast: Int!) {
      upcoming: appointments(from: $upcomingFrom, first: $first) {
        edges { node { ...AppointmentFields } }
      }
      past: appointments(from: $pastFrom, to: $now, first: $firstPast) {
        edges { node { ...AppointmentFields } }
      }
      range: appointments(from: $rangeFrom, to: $rangeTo, first: 100) {
        edges { node { ...AppointmentFields } }
      }
    }
    """ + APPOINTMENT_FIELDS
)

AGENDA_EXTRAS: Final = api.operation(
    """
    query AgendaExtras {
      careTeam { active professional { id profession specialty practiceName } }
      calendarFeed { active includeReason createdAt lastUsedAt }
    }
    """
)

FREE_SLOTS: Final = api.operation(
    """
    query FreeSlots($professionalId: ID!, $from: DateTime!, $to: DateTime!) {
      freeSlots(professionalId: $professionalId, from: $from, to: $to) {
        id start end placeKind place
      }
    }
    """
)

BOOK_SLOT: Final = api.operation(
    """
    mutation BookSlot($slotId: ID!, $reason: String) {
      bookSlot(slotId: $slotId, reason: $reason) {
        __typename
        ... on Appointment { ...AppointmentFields }
        ... on Error { message }
      }
    }
    """ + APPOINTMENT_FIELDS
)

ADD_APPOINTMENT: Final = api.operation(
    """
    mutation AddAppointment($input: AppointmentInput!) {
      addAppointment(input: $input) {
        __typename
        ... on Appointment { ...AppointmentFields }
        ... on Error { message }
      }
    }
    """ + APPOINTMENT_FIELDS
)

CANCEL_APPOINTMENT: Final = api.operation(
    """
    mutation CancelAppointment($id: ID!) {
      cancelAppointment(id: $id) {
        __typename
        ... on AppointmentCancelled { appointment { ...AppointmentFields } }
        ... on TooLateToCancel { message deadline }
        ... on Error { message }
      }
    }
    """ + APPOINTMENT_FIELDS
)

RESCHEDULE: Final = api.operation(
    """
    mutation RescheduleAppointment($id: ID!, $slotId: ID!) {
      rescheduleAppointment(id: $id, slotId: $slotId) {
        __typename
        ... on Appointment { ...AppointmentFields }
        ... on TooLateToCancel { message deadline }
        ... on Error { message }
      }
    }
    """ + APPOINTMENT_FIELDS
)

CREATE_FEED: Final = api.operation(
    """
    mutation CreateCalendarFeed($includeReason: Boolean!) {
      createCalendarFeed(includeReason: $includeReason) {
        url path feed { active includeReason createdAt lastUsedAt }
      }
    }
    """
)

REVOKE_FEED: Final = api.operation(
    """
    mutation RevokeCalendarFeed {
      revokeCalendarFeed { active includeReason createdAt lastUsedAt }
    }
    """
)

AGENDA_CHANGED: Final = api.operation(
    """
    subscription AgendaChanged {
      agendaChanged { kind appointmentId }
    }
    """
)

# --- messages -----------------------------------------------------------------------------

ADDED: Final = N_("Le rendez-vous du {when} a été ajouté à votre agenda.")
BOOKED: Final = N_("Rendez-vous réservé : {when}.")
CANCELLED: Final = N_("Le rendez-vous du {when} est annulé.")
CHOOSE_PROFESSIONAL: Final = N_("Choisissez un professionnel de votre équipe de soins.")
CHOOSE_SLOT: Final = N_("Choisissez un créneau.")
WHO_REQUIRED: Final = N_("Indiquez avec qui est le rendez-vous.")
PLACE_REQUIRED: Final = N_("Indiquez l'adresse, ou choisissez « Téléconsultation ».")
TEXT_TOO_LONG: Final = N_("{max} caractères au maximum.")
FEED_CREATED: Final = N_("Votre lien d'abonnement est prêt : copiez-le maintenant, il ne "
                         "sera plus affiché ensuite.")
FEED_REVOKED: Final = N_("Le lien d'abonnement est révoqué : les agendas abonnés ne "
                         "recevront plus vos rendez-vous.")
FEED_COPIED: Final = N_("Lien copié.")
MOVED: Final = N_("Rendez-vous déplacé : {when}.")


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass(frozen=True)
class SlotOption:
    id: str
    when: str  # 'Lundi 7 décembre 2026 à 09:30'
    hours: str
    place: str


def slot_option(node: Mapping[str, Any], lang: str) -> SlotOption:
    """A free slot as the lists show it: 'Lundi 7 décembre 2026', '09:00 – 09:30', place."""
    item = appointment_item({**node, "status": "PROPOSED"}, lang, now=now_utc())
    return SlotOption(id=str(node["id"]), when=long_day(date.fromisoformat(item.day), lang),
                      hours=item.hours, place=item.place)


def check_own(form: Mapping[str, Any], professionals: Mapping[str, str] | None = None
              ) -> dict[str, Any] | tuple[str, str, dict[str, Any]]:
    """The `AppointmentInput` from the form, or (field, French message, values).

    `professionals`: id -> label of my care team. The API's own entries name their
    practitioner in free text only (no professional id): a professional picked from the care
    team is written there by their label, before what was typed."""
    start = parse_local(str(form.get("date") or ""), str(form.get("time") or ""))
    if isinstance(start, str):
        return ("time" if start in (TIME_REQUIRED, TIME_INVALID) else "date"), start, {}
    duration = parse_duration(form.get("duration"))
    if duration is None:
        return "duration", DURATION_INVALID, {}
    professional = (professionals or {}).get(str(form.get("professionalId") or "").strip(), "")
    practitioner = " ".join(str(form.get("practitioner") or "").split())
    if professional:
        practitioner = f"{practitioner} · {professional}" if practitioner else professional
    if not practitioner:
        return "practitioner", WHO_REQUIRED, {}
    if len(practitioner) > MAX_TEXT:
        return "practitioner", TEXT_TOO_LONG, {"max": MAX_TEXT}
    teleconsultation = str(form.get("placeKind") or "") == "TELECONSULTATION"
    place = " ".join(str(form.get("place") or "").split())
    if not teleconsultation and not place:
        return "place", PLACE_REQUIRED, {}
    if len(place) > MAX_TEXT:
        return "place", TEXT_TOO_LONG, {"max": MAX_TEXT}
    reason = str(form.get("reason") or "").strip()
    if len(reason) > MAX_REASON:
        return "reason", TEXT_TOO_LONG, {"max": MAX_REASON}
    end = start + timedelta(minutes=duration)
    value: dict[str, Any] = {
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
        "timeZone": "Europe/Paris",
        "placeKind": "TELECONSULTATION" if teleconsultation else "ADDRESS",
        "place": None if teleconsultation else place,
        "reason": reason or None,
    }
    value["practitioner"] = practitioner
    return value


class AgendaState(SessionState):
    loading: bool = True
    error: str = ""
    info: str = ""
    upcoming: list[AppointmentItem] = []
    past: list[AppointmentItem] = []
    _range_nodes: list[dict[str, Any]] = []
    # The calendar views.
    view: str = "list"
    anchor: str = ""  # ISO date: the shown week/month contains it; the selected day
    days: list[CalendarDay] = []
    period_title: str = ""
    selected_title: str = ""
    selected_items: list[AppointmentItem] = []
    # Live updates.
    live_status: str = ""
    _live_generation: int = 0
    # The care team (to book, or to name in my own appointment): [id, label].
    professionals: list[list[str]] = []
    # Booking.
    book_professional: str = ""
    slots: list[SlotOption] = []
    slots_loading: bool = False
    slots_searched: bool = False
    slots_key: int = 0  # a new one resets the slot radios (uncontrolled)
    book_slot: str = ""
    booking: bool = False
    book_error: str = ""
    book_info: str = ""
    # My own appointment.
    add_open: bool = False
    adding: bool = False
    add_error: str = ""
    add_error_field: str = ""
    add_teleconsultation: bool = False
    add_form_key: int = 0
    # Moving a booking to another slot of the same professional.
    moving_id: str = ""
    move_slots: list[SlotOption] = []
    move_loading: bool = False
    move_busy: bool = False
    move_error: str = ""
    # Cancelling.
    cancel_id: str = ""
    cancel_when: str = ""
    busy_id: str = ""
    # My calendar feed.
    feed_active: bool = False
    feed_include_reason: bool = False
    feed_since: str = ""
    feed_url: str = ""  # shown once, right after it was made
    feed_busy: bool = False
    feed_error: str = ""
    feed_info: str = ""
    feed_opt_in: bool = False
    revoke_open: bool = False

    @rx.var
    def cancelling(self) -> bool:
        return self.cancel_id != ""

    # --- reading ------------------------------------------------------------------------

    def _clock(self) -> datetime:
        return now_utc()  # a test replaces the module's function

    def _anchor(self) -> date:
        try:
            return date.fromisoformat(self.anchor)
        except ValueError:
            return self._clock().astimezone(display_zone()).date()

    def _period(self) -> tuple[date, date]:
        anchor = self._anchor()
        if self.view == "month":
            grid = month_grid(anchor)
            return grid[0], grid[-1]
        start = week_start(anchor)
        return start, start + timedelta(days=6)

    def _variables(self) -> dict[str, Any]:
        now = self._clock()
        first, last = self._period()
        range_from, range_to = day_bounds(first, last)
        return {"upcomingFrom": now.isoformat(),
                "pastFrom": (now - timedelta(days=PAST_DAYS)).isoformat(),
                "now": now.isoformat(), "rangeFrom": range_from, "rangeTo": range_to,
                "first": UPCOMING_SHOWN, "firstPast": PAST_READ}

    def _apply(self, data: Mapping[str, Any]) -> None:
        now = self._clock()

        def items(key: str) -> list[AppointmentItem]:
            return [appointment_item(edge["node"], self.lang, now=now)
                    for edge in (data.get(key) or {}).get("edges") or []]

        self.upcoming = [item for item in by_start(items("upcoming")) if not item.is_past]
        self.past = list(reversed([item for item in by_start(items("past"))
                                   if item.is_past]))[:PAST_SHOWN]
        self._range_nodes = [dict(edge["node"]) for edge in
                             (data.get("range") or {}).get("edges") or []]
        self._layout()

    def _layout(self) -> None:
        """The calendar cells of the view shown, from the appointments read for its period."""
        now = self._clock()
        anchor = self._anchor()
        self.anchor = anchor.isoformat()
        today = now.astimezone(display_zone()).date()
        items = [appointment_item(node, self.lang, now=now) for node in self._range_nodes]
        if self.view == "month":
            self.days = calendar_days(month_grid(anchor), items, month=anchor.month,
                                      today=today, selected=anchor, lang=self.lang)
            self.period_title = month_title(anchor, self.lang)
        else:
            start = week_start(anchor)
            self.days = calendar_days([start + timedelta(days=n) for n in range(7)], items,
                                      month=None, today=today, selected=anchor, lang=self.lang)
            self.period_title = self._t(
                "Semaine du {first} au {last}", first=long_day(start, self.lang, capital=False),
                last=long_day(start + timedelta(days=6), self.lang, capital=False))
        chosen = next((day for day in self.days if day.iso == self.anchor), None)
        self.selected_title = chosen.title if chosen else ""
        self.selected_items = chosen.appointments if chosen else []

    async def _fetch(self) -> None:
        self._apply(await self._query(AGENDA, self._variables()))

    def _use_extras(self, data: Mapping[str, Any]) -> None:
        self.professionals = [
            [str(member["professional"]["id"]),
             professional_label(member["professional"], self.lang)]
            for member in data.get("careTeam") or [] if member.get("active")
        ]
        self._use_feed(data.get("calendarFeed"))

    def _use_feed(self, feed: Mapping[str, Any] | None) -> None:
        self.feed_active = bool((feed or {}).get("active"))
        self.feed_include_reason = bool((feed or {}).get("includeReason"))
        self.feed_since = date_text(str((feed or {}).get("createdAt") or ""), self.lang)

    def _expired(self) -> EventSpec:
        self.upcoming = []
        self.past = []
        self._range_nodes = []
        self.days = []
        self.selected_items = []
        self.slots = []
        self.feed_url = ""
        self.live_status = ""
        self._live_generation += 1
        return super()._expired()

    def _clear(self) -> None:
        self.error = self.info = ""
        self.book_error = self.book_info = ""
        self.add_error = self.add_error_field = ""
        self.feed_error = self.feed_info = ""
        self.feed_url = ""
        self.cancel_id = self.cancel_when = ""
        self.moving_id = self.move_error = ""
        self.move_slots = []
        self.revoke_open = False
        self.slots = []
        self.slots_searched = False
        self.book_professional = self.book_slot = ""

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load (each visit, each reload) and on "Réessayer"; then live updates."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._live_generation += 1
        self._clear()
        self.loading = True
        self.anchor = ""
        yield
        await self._fetch()
        try:
            self._use_extras(await self._query(AGENDA_EXTRAS))
        except api.ApiUnauthenticated:
            raise
        except api.ApiError as exc:  # the rest of the page works without them
            log.info("agenda: no care team or feed (%s)", exc.code)
        self.loading = False
        yield AgendaState.follow_agenda

    async def _refresh(self) -> AsyncIterator[EventSpec | None]:
        yield
        await self._fetch()

    # --- the calendar views -------------------------------------------------------------

    @rx.event
    @api_errors(error="error")
    async def set_view(self, view: str) -> AsyncIterator[EventSpec | None]:
        if view not in VIEWS or view == self.view:
            return
        self.view = view
        self._layout()
        if view != "list":
            async for event in self._refresh():
                yield event

    @rx.event
    @api_errors(error="error")
    async def move(self, step: int) -> AsyncIterator[EventSpec | None]:
        """"Précédent"/"Suivant": a week or a month back or forth."""
        anchor = self._anchor()
        if self.view == "month":
            target = add_months(month_start(anchor), int(step))
            day = min(anchor.day, (add_months(target, 1) - timedelta(days=1)).day)
            self.anchor = target.replace(day=day).isoformat()
        else:
            self.anchor = (anchor + timedelta(days=7 * int(step))).isoformat()
        self._layout()
        async for event in self._refresh():
            yield event

    @rx.event
    @api_errors(error="error")
    async def go_today(self) -> AsyncIterator[EventSpec | None]:
        self.anchor = self._clock().astimezone(display_zone()).date().isoformat()
        self._layout()
        async for event in self._refresh():
            yield event

    @rx.event
    @api_errors(error="error")
    async def select_day(self, iso: str) -> AsyncIterator[EventSpec | None]:
        """A day of the calendar chosen (click, Enter, or the arrow keys)."""
        try:
            day = date.fromisoformat(iso)
        except ValueError:
            return
        first, last = self._period()
        self.anchor = day.isoformat()
        self._layout()
        if not first <= day <= last:
            async for event in self._refresh():
                yield event
            # A day of another period had no button yet: focus it once it is drawn. A day
            # already shown has the focus (the click, or KEYS_SCRIPT at the key press): focusing
            # it again from here would pull the focus back from a day reached by later key
            # presses while this answer was on its way.
            yield focus("day-" + day.isoformat())

    @rx.event
    @api_errors(error="error")
    async def day_key(self, key: str, iso: str) -> AsyncIterator[EventSpec | None]:
        """Arrow keys in the calendar: a day (←/→), a week (↑/↓), Home/End of the week,
        PageUp/PageDown a month (or a week in the week view)."""
        try:
            day = date.fromisoformat(iso)
        except ValueError:
            return
        page = 7 if self.view == "week" else None
        steps = {"ArrowLeft": -1, "ArrowRight": 1, "ArrowUp": -7, "ArrowDown": 7,
                 "Home": -day.weekday(), "End": 6 - day.weekday()}
        if key in steps:
            target = day + timedelta(days=steps[key])
        elif key in ("PageUp", "PageDown"):
            sign = -1 if key == "PageUp" else 1
            if page:
                target = day + timedelta(days=sign * page)
            else:
                month = add_months(month_start(day), sign)
                last = (add_months(month, 1) - timedelta(days=1)).day
                target = month.replace(day=min(day.day, last))
        else:
            return
        async for event in self.select_day(target.isoformat()):
            yield event

    # --- live updates -------------------------------------------------------------------

    @rx.event(background=True)
    async def follow_agenda(self) -> AsyncIterator[EventSpec | None]:
        """While /agenda is open: read the agenda again whenever it changes.
        (carnet_web/state/agenda_live.py)"""
        async for event in agenda_live.follow(
                self, route=AGENDA_ROUTE, subscription=AGENDA_CHANGED, query=AGENDA,
                what="agenda refresh"):
            yield event

    # --- booking a slot -----------------------------------------------------------------

    @rx.event
    @api_errors(error="book_error", busy="slots_loading")
    async def choose_professional(self, professional_id: str
                                  ) -> AsyncIterator[EventSpec | None]:
        """The professional picked: their free slots in the coming weeks."""
        self.book_professional = professional_id
        self.book_slot = ""
        self.slots = []
        self.slots_key += 1
        self.slots_searched = False
        self.book_error = self.book_info = ""
        if not professional_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.slots_loading = True
        yield
        now = self._clock()
        data = await self._query(FREE_SLOTS, {
            "professionalId": professional_id, "from": now.isoformat(),
            "to": (now + timedelta(days=SLOT_DAYS)).isoformat()})
        self.slots = [slot_option(node, self.lang) for node in data["freeSlots"]]
        self.slots_searched = True

    @rx.event
    def choose_slot(self, slot_id: str) -> None:
        self.book_slot = slot_id
        self.book_error = ""

    @rx.event
    @api_errors(error="book_error", busy="booking")
    async def book(self, form: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Réserver ce créneau"."""
        if self.booking:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.book_info = ""
        if not self.book_professional:
            self.book_error = self._t(CHOOSE_PROFESSIONAL)
            return
        slot_id = str(form.get("slot") or self.book_slot or "")
        if not slot_id or slot_id not in {slot.id for slot in self.slots}:
            self.book_error = self._t(CHOOSE_SLOT)
            return
        reason = str(form.get("reason") or "").strip()
        if len(reason) > MAX_REASON:
            self.book_error = self._t(TEXT_TOO_LONG, max=MAX_REASON)
            return
        self.booking = True
        self.book_error = ""
        yield
        data = await self._query(BOOK_SLOT, {"slotId": slot_id, "reason": reason or None})
        self.slots_key += 1  # whatever happened, no slot stays chosen
        result = data["bookSlot"]
        if result.get("__typename") != "Appointment":
            self.book_error = error_message(result, self.lang)
            if result.get("__typename") in ("SlotTaken", "SlotInPast", "SlotNotFound"):
                self.slots = [slot for slot in self.slots if slot.id != slot_id]
                self.book_slot = ""
            return
        item = appointment_item(result, self.lang, now=self._clock())
        self.book_info = self._t(BOOKED, when=item.when)
        self.slots = [slot for slot in self.slots if slot.id != slot_id]
        self.book_slot = ""
        self.booking = False
        async for event in self._refresh():
            yield event

    # --- my own appointment -------------------------------------------------------------

    @rx.event
    def toggle_add(self) -> EventSpec | None:
        self.add_open = not self.add_open
        self.add_error = self.add_error_field = ""
        return focus("add-date" if self.add_open else "add-toggle")

    @rx.event
    def set_add_teleconsultation(self, value: str) -> None:
        self.add_teleconsultation = value == "TELECONSULTATION"

    @rx.event
    @api_errors(error="add_error", busy="adding")
    async def add(self, form: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Ajouter à mon agenda"."""
        if self.adding:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.info = ""
        checked = check_own(form, {pid: label for pid, label in self.professionals})
        if isinstance(checked, tuple):
            field, message, values = checked
            self.add_error = self._t(message, **values)
            self.add_error_field = field
            yield focus("add-" + field)
            return
        self.adding = True
        self.add_error = self.add_error_field = ""
        yield
        data = await self._query(ADD_APPOINTMENT, {"input": checked})
        result = data["addAppointment"]
        if result.get("__typename") != "Appointment":
            self.add_error = error_message(result, self.lang)
            self.add_error_field = str(result.get("field") or "")
            return
        item = appointment_item(result, self.lang, now=self._clock())
        self.info = self._t(ADDED, when=item.when)
        self.add_open = False
        self.add_teleconsultation = False
        self.add_form_key += 1
        self.adding = False
        async for event in self._refresh():
            yield event
        yield focus("add-toggle")

    # --- cancelling ---------------------------------------------------------------------

    def _find(self, appointment_id: str) -> AppointmentItem | None:
        for item in [*self.upcoming, *self.past, *self.selected_items]:
            if item.id == appointment_id:
                return item
        return None

    @rx.event
    def ask_cancel(self, appointment_id: str) -> None:
        item = self._find(appointment_id)
        self.cancel_id = appointment_id
        self.cancel_when = item.when if item else ""
        self.info = self.error = ""

    @rx.event
    def cancel_dialog_changed(self, is_open: bool) -> EventSpec | None:
        if is_open or not self.cancel_id:
            return None
        button = CANCEL_BUTTON_PREFIX + self.cancel_id
        self.cancel_id = self.cancel_when = ""
        return focus(button)

    @rx.event
    @api_errors(error="error")
    async def confirm_cancel(self) -> AsyncIterator[EventSpec | None]:
        appointment_id = self.cancel_id
        if not appointment_id or self.busy_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        when = self.cancel_when
        self.cancel_id = self.cancel_when = ""
        self.busy_id = appointment_id
        self.error = self.info = ""
        yield
        try:
            data = await self._query(CANCEL_APPOINTMENT, {"id": appointment_id})
        finally:
            self.busy_id = ""
        result = data["cancelAppointment"]
        if result.get("__typename") != "AppointmentCancelled":
            self.error = error_message(result, self.lang)
            return
        self.info = self._t(CANCELLED, when=when or moment_text(
            str((result.get("appointment") or {}).get("start") or ""), self.lang))
        async for event in self._refresh():
            yield event

    # --- moving a booking --------------------------------------------------------------

    @rx.event
    @api_errors(error="move_error", busy="move_loading")
    async def start_move(self, appointment_id: str) -> AsyncIterator[EventSpec | None]:
        """"Changer de créneau": the professional's other free slots."""
        item = self._find(appointment_id)
        if item is None or not item.movable:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.moving_id = appointment_id
        self.move_slots = []
        self.move_error = ""
        self.info = self.error = ""
        self.move_loading = True
        yield
        now = self._clock()
        data = await self._query(FREE_SLOTS, {
            "professionalId": item.professional_id, "from": now.isoformat(),
            "to": (now + timedelta(days=SLOT_DAYS)).isoformat()})
        self.move_slots = [slot_option(node, self.lang) for node in data["freeSlots"]]
        self.move_loading = False
        yield focus("move-slots" if self.move_slots else "move-cancel")

    @rx.event
    def stop_move(self) -> EventSpec:
        appointment_id, self.moving_id = self.moving_id, ""
        self.move_slots = []
        self.move_error = ""
        return focus(MOVE_BUTTON_PREFIX + appointment_id)

    @rx.event
    @api_errors(error="move_error", busy="move_busy")
    async def move_to(self, form: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Choisir ce créneau"."""
        appointment_id = self.moving_id
        slot_id = str(form.get("slot") or "")
        if not appointment_id or self.move_busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        if slot_id not in {slot.id for slot in self.move_slots}:
            self.move_error = self._t(CHOOSE_SLOT)
            return
        self.move_busy = True
        self.move_error = ""
        yield
        data = await self._query(RESCHEDULE, {"id": appointment_id, "slotId": slot_id})
        result = data["rescheduleAppointment"]
        if result.get("__typename") != "Appointment":
            self.move_error = error_message(result, self.lang)
            if result.get("__typename") in ("SlotTaken", "SlotInPast", "SlotNotFound"):
                self.move_slots = [slot for slot in self.move_slots if slot.id != slot_id]
            return
        item = appointment_item(result, self.lang, now=self._clock())
        self.moving_id = ""
        self.move_slots = []
        self.info = self._t(MOVED, when=item.when)
        self.move_busy = False
        async for event in self._refresh():
            yield event

    # --- .ics ---------------------------------------------------------------------------

    @rx.event
    def download_ics(self, appointment_id: str) -> EventSpec | None:
        """"Ajouter à mon calendrier (.ics)": through the web app's download route."""
        if (redirect := self._require_session()) is not None:
            return redirect
        if self._find(appointment_id) is None:
            return None
        return download_event(self, f"/agenda/{appointment_id}.ics")

    # --- my calendar feed ---------------------------------------------------------------

    @rx.event
    def set_feed_opt_in(self, value: bool) -> None:
        self.feed_opt_in = bool(value)

    @rx.event
    @api_errors(error="feed_error", busy="feed_busy")
    async def create_feed(self) -> AsyncIterator[EventSpec | None]:
        """"Créer mon lien d'abonnement" (a new one replaces the old, which stops working)."""
        if self.feed_busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.feed_busy = True
        self.feed_error = self.feed_info = ""
        yield
        data = await self._query(CREATE_FEED, {"includeReason": self.feed_opt_in})
        result = data["createCalendarFeed"]
        url = str(result.get("url") or "")
        if not url.startswith(("http://", "https://")):
            url = api.api_base_url() + str(result.get("path") or url)
        self.feed_url = url
        self._use_feed(result.get("feed"))
        self.feed_info = self._t(FEED_CREATED)
        yield focus("feed-url")

    @rx.event
    def copy_feed(self) -> list[EventSpec]:
        self.feed_info = self._t(FEED_COPIED)
        return [rx.set_clipboard(self.feed_url)]

    @rx.event
    def revoke_dialog_changed(self, is_open: bool) -> EventSpec | None:
        self.revoke_open = bool(is_open)
        return None if is_open else focus("feed-revoke")

    @rx.event
    def ask_revoke(self) -> None:
        self.revoke_open = True

    @rx.event
    @api_errors(error="feed_error", busy="feed_busy")
    async def revoke_feed(self) -> AsyncIterator[EventSpec | None]:
        self.revoke_open = False
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.feed_busy = True
        self.feed_error = self.feed_info = ""
        yield
        data = await self._query(REVOKE_FEED)
        self.feed_url = ""
        self._use_feed(data["revokeCalendarFeed"])
        self.feed_info = self._t(FEED_REVOKED)
        yield focus("feed-create")


