"""State of the professional's agenda (/pro/agenda): publishing bookable slots with a
recurrence (date range, weekdays, hours, duration, place), my slots of the coming weeks, and
the appointments patients booked or I set, which I can cancel or move. Updates live
(`agendaChanged`: a patient booking or cancelling shows at once). Professionals only.

Patients' names and appointments' reasons are health and identity data: plain text only,
never logged.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import PRO_AGENDA_ROUTE
from carnet_web.state import agenda_live
from carnet_web.state.agenda_common import (
    APPOINTMENT_FIELDS,
    DATE_INVALID,
    DATE_REQUIRED,
    DURATION_INVALID,
    TIME_INVALID,
    TIME_REQUIRED,
    TOO_LATE_NO_DATE,
    AppointmentItem,
    appointment_item,
    by_start,
    error_message,
    moment_text,
    parse_duration,
    parse_local,
)
from carnet_web.state.focus import focus
from carnet_web.state.formatting import display_zone
from carnet_web.state.pro_common import require_professional
from carnet_web.state.pro_patients import patient_name
from carnet_web.state.session import SessionState, api_errors

log = logging.getLogger("carnet_web.pro_agenda")

AHEAD_DAYS: Final = 56  # my slots and bookings shown: the coming eight weeks
BOOKINGS_SHOWN: Final = 100
MAX_RANGE_DAYS: Final = 366
MAX_ADDRESS: Final = 300
PRO_CANCEL_PREFIX: Final = "pro-cancel-"
PRO_MOVE_PREFIX: Final = "pro-move-"

_PRO_FIELDS: Final = APPOINTMENT_FIELDS.replace(
    "professional { id profession specialty practiceName }",
    "professional { id profession specialty practiceName }\n"
    "  patient { patientId birthName firstNames birthDate }")

PRO_AGENDA: Final = api.operation(
    """
    query ProAgenda($from: DateTime!, $to: DateTime!, $first: Int!) {
      professionalAppointments(from: $from, to: $to, first: $first) {
        edges { node { ...AppointmentFields } }
      }
      mySlots(from: $from, to: $to) { id start end placeKind place status }
    }
    """ + _PRO_FIELDS
)

PUBLISH_SLOTS: Final = api.operation(
    """
    mutation PublishSlots($input: SlotRecurrenceInput!) {
      publishSlots(input: $input) {
        __typename
        ... on SlotsPublished { created slots { id } }
        ... on InvalidAppointmentInput { message field }
        ... on Error { message }
      }
    }
    """
)

PRO_CANCEL: Final = api.operation(
    """
    mutation ProCancelAppointment($id: ID!) {
      cancelAppointment(id: $id) {
        __typename
        ... on AppointmentCancelled { appointment { id } }
        ... on TooLateToCancel { message deadline }
        ... on Error { message }
      }
    }
    """
)

MOVE_APPOINTMENT: Final = api.operation(
    """
    mutation MoveAppointment($id: ID!, $start: DateTime!, $end: DateTime!) {
      moveAppointment(id: $id, start: $start, end: $end) {
        __typename
        ... on Appointment { id start }
        ... on InvalidAppointmentInput { message field }
        ... on Error { message }
      }
    }
    """
)

PRO_AGENDA_CHANGED: Final = api.operation(
    """
    subscription ProAgendaChanged {
      agendaChanged { kind appointmentId }
    }
    """
)

# --- messages -----------------------------------------------------------------------------

PUBLISHED: Final = N_("{n} nouveaux créneaux publiés.")
PUBLISHED_ONE: Final = N_("1 nouveau créneau publié.")
PUBLISHED_NONE: Final = N_("Aucun nouveau créneau : ils étaient déjà tous publiés.")
NO_WEEKDAY: Final = N_("Cochez au moins un jour de la semaine.")
RANGE_REVERSED: Final = N_("La date de fin doit suivre la date de début.")
RANGE_TOO_LONG: Final = N_("Publiez au plus un an de créneaux à la fois.")
HOURS_REVERSED: Final = N_("L'heure de fin doit suivre l'heure de début.")
ADDRESS_REQUIRED: Final = N_("Indiquez l'adresse du cabinet, ou choisissez « Téléconsultation ».")
ADDRESS_TOO_LONG: Final = N_("L'adresse dépasse {max} caractères.")
PRO_CANCELLED: Final = N_("Le rendez-vous du {when} est annulé ; le patient en est informé.")
MOVED: Final = N_("Le rendez-vous est déplacé au {when} ; le patient en est informé.")
FREE: Final = N_("Libre")
TAKEN: Final = N_("Réservé")


def now_utc() -> datetime:
    return datetime.now(UTC)


def _day(value: Any) -> date | str:
    text = str(value or "").strip()
    if not text:
        return DATE_REQUIRED
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return DATE_INVALID
    return day if day.year >= 1900 else DATE_INVALID


def _clock(value: Any) -> time | str:
    text = str(value or "").strip()
    if not text:
        return TIME_REQUIRED
    try:
        return time.fromisoformat(text).replace(second=0, microsecond=0)
    except ValueError:
        return TIME_INVALID


def check_recurrence(form: Mapping[str, Any]
                     ) -> dict[str, Any] | tuple[str, str, dict[str, Any]]:
    """The `SlotRecurrenceInput` from the publish form, or (field, French message, values).
    Weekdays come as checkboxes `weekday-0` (Monday) ... `weekday-6`."""
    first = _day(form.get("startDate"))
    if isinstance(first, str):
        return "startDate", first, {}
    last = _day(form.get("endDate"))
    if isinstance(last, str):
        return "endDate", last, {}
    if last < first:
        return "endDate", RANGE_REVERSED, {}
    if (last - first).days > MAX_RANGE_DAYS:
        return "endDate", RANGE_TOO_LONG, {}
    weekdays = [n for n in range(7) if form.get(f"weekday-{n}") not in (None, "", False, "false")]
    if not weekdays:
        return "weekdays", NO_WEEKDAY, {}
    day_start = _clock(form.get("dayStart"))
    if isinstance(day_start, str):
        return "dayStart", day_start, {}
    day_end = _clock(form.get("dayEnd"))
    if isinstance(day_end, str):
        return "dayEnd", day_end, {}
    if day_end <= day_start:
        return "dayEnd", HOURS_REVERSED, {}
    duration = parse_duration(form.get("duration"))
    if duration is None:
        return "duration", DURATION_INVALID, {}
    teleconsultation = str(form.get("placeKind") or "") == "TELECONSULTATION"
    address = " ".join(str(form.get("placeAddress") or "").split())
    if not teleconsultation and not address:
        return "placeAddress", ADDRESS_REQUIRED, {}
    if len(address) > MAX_ADDRESS:
        return "placeAddress", ADDRESS_TOO_LONG, {"max": MAX_ADDRESS}
    return {
        "startDate": first.isoformat(), "endDate": last.isoformat(), "weekdays": weekdays,
        "dayStart": day_start.strftime("%H:%M:00"), "dayEnd": day_end.strftime("%H:%M:00"),
        "durationMinutes": duration,
        "placeKind": "TELECONSULTATION" if teleconsultation else "ADDRESS",
        "placeAddress": None if teleconsultation else address,
        "timeZone": "Europe/Paris",
    }


@dataclasses.dataclass(frozen=True)
class SlotItem:
    id: str
    when: str
    hours: str
    place: str
    free: bool
    status_label: str


def slot_item(node: Mapping[str, Any], lang: str, now: datetime) -> SlotItem:
    item = appointment_item({**node, "status": "PROPOSED"}, lang, now=now)
    free = node.get("status") == "FREE"
    return SlotItem(id=str(node["id"]), when=item.when, hours=item.hours, place=item.place,
                    free=free, status_label=gettext(lang, FREE if free else TAKEN))


class ProAgendaState(SessionState):
    loading: bool = True
    error: str = ""
    info: str = ""
    bookings: list[AppointmentItem] = []
    slots: list[SlotItem] = []
    free_count: int = 0
    live_status: str = ""
    _live_generation: int = 0
    # Publishing.
    publishing: bool = False
    publish_error: str = ""
    publish_error_field: str = ""
    publish_info: str = ""
    publish_teleconsultation: bool = False
    # One booking's actions.
    busy_id: str = ""
    cancel_id: str = ""
    cancel_when: str = ""
    moving_id: str = ""
    move_error: str = ""

    @rx.var
    def cancelling(self) -> bool:
        return self.cancel_id != ""

    def _now(self) -> datetime:
        return now_utc()

    def _variables(self) -> dict[str, Any]:
        now = self._now()
        start = datetime.combine(now.astimezone(display_zone()).date(), time(0), display_zone())
        return {"from": start.astimezone(UTC).isoformat(),
                "to": (now + timedelta(days=AHEAD_DAYS)).isoformat(),
                "first": BOOKINGS_SHOWN}

    def _apply(self, data: Mapping[str, Any]) -> None:
        now = self._now()
        items = []
        for edge in (data.get("professionalAppointments") or {}).get("edges") or []:
            node = edge["node"]
            patient = node.get("patient") or {}
            items.append(appointment_item(
                node, self.lang, now=now,
                patient=patient_name(patient.get("birthName"), patient.get("firstNames"),
                                     self.lang) if patient else ""))
        self.bookings = by_start(items)
        self.slots = [slot_item(node, self.lang, now) for node in data.get("mySlots") or []]
        self.free_count = sum(1 for slot in self.slots if slot.free)

    async def _fetch(self) -> None:
        self._apply(await self._query(PRO_AGENDA, self._variables()))

    def _expired(self) -> EventSpec:
        self.bookings = []
        self.slots = []
        self.live_status = ""
        self._live_generation += 1
        return super()._expired()

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        self._live_generation += 1
        self.error = self.info = ""
        self.publish_error = self.publish_error_field = self.publish_info = ""
        self.cancel_id = self.cancel_when = self.moving_id = self.move_error = ""
        self.loading = True
        yield
        await self._fetch()
        self.loading = False
        yield ProAgendaState.follow_agenda

    async def _refresh(self) -> AsyncIterator[EventSpec | None]:
        yield
        await self._fetch()

    # --- live ---------------------------------------------------------------------------

    @rx.event(background=True)
    async def follow_agenda(self) -> AsyncIterator[EventSpec | None]:
        """While /pro/agenda is open: read it again whenever a booking changes.
        (carnet_web/state/agenda_live.py)"""
        async for event in agenda_live.follow(
                self, route=PRO_AGENDA_ROUTE, subscription=PRO_AGENDA_CHANGED, query=PRO_AGENDA,
                what="pro agenda refresh"):
            yield event

    # --- publishing ---------------------------------------------------------------------

    @rx.event
    def set_publish_place(self, value: str) -> None:
        self.publish_teleconsultation = value == "TELECONSULTATION"

    @rx.event
    @api_errors(error="publish_error", busy="publishing")
    async def publish(self, form: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Publier les créneaux"."""
        if self.publishing:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        self.publish_info = ""
        checked = check_recurrence(form)
        if isinstance(checked, tuple):
            field, message, values = checked
            self.publish_error = self._t(message, **values)
            self.publish_error_field = field
            yield focus("publish-" + ("weekday-0" if field == "weekdays" else field))
            return
        self.publishing = True
        self.publish_error = self.publish_error_field = ""
        yield
        data = await self._query(PUBLISH_SLOTS, {"input": checked})
        result = data["publishSlots"]
        if result.get("__typename") != "SlotsPublished":
            self.publish_error = error_message(result, self.lang)
            self.publish_error_field = str(result.get("field") or "")
            return
        created = int(result.get("created") or 0)
        self.publish_info = (self._t(PUBLISHED_NONE) if created == 0 else
                             self._t(PUBLISHED_ONE) if created == 1 else
                             self._t(PUBLISHED, n=created))
        self.publishing = False
        async for event in self._refresh():
            yield event

    # --- a booking: cancel, move --------------------------------------------------------

    def _find(self, appointment_id: str) -> AppointmentItem | None:
        return next((item for item in self.bookings if item.id == appointment_id), None)

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
        button = PRO_CANCEL_PREFIX + self.cancel_id
        self.cancel_id = self.cancel_when = ""
        return focus(button)

    @rx.event
    @api_errors(error="error")
    async def confirm_cancel(self) -> AsyncIterator[EventSpec | None]:
        appointment_id = self.cancel_id
        if not appointment_id or self.busy_id:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        when = self.cancel_when
        self.cancel_id = self.cancel_when = ""
        self.busy_id = appointment_id
        self.error = self.info = ""
        yield
        try:
            data = await self._query(PRO_CANCEL, {"id": appointment_id})
        finally:
            self.busy_id = ""
        result = data["cancelAppointment"]
        if result.get("__typename") != "AppointmentCancelled":
            self.error = error_message(result, self.lang) if result.get(
                "__typename") != "TooLateToCancel" else self._t(TOO_LATE_NO_DATE)
            return
        self.info = self._t(PRO_CANCELLED, when=when)
        async for event in self._refresh():
            yield event

    @rx.event
    def start_move(self, appointment_id: str) -> EventSpec:
        self.moving_id = appointment_id
        self.move_error = ""
        self.info = ""
        return focus("move-date")

    @rx.event
    def stop_move(self) -> EventSpec:
        appointment_id, self.moving_id = self.moving_id, ""
        self.move_error = ""
        return focus(PRO_MOVE_PREFIX + appointment_id)

    @rx.event
    @api_errors(error="move_error")
    async def move(self, form: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Déplacer": a new date and time, the same duration."""
        appointment_id = self.moving_id
        item = self._find(appointment_id)
        if item is None or self.busy_id:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        start = parse_local(str(form.get("date") or ""), str(form.get("time") or ""))
        if isinstance(start, str):
            self.move_error = self._t(start)
            return
        if start <= self._now():
            self.move_error = self._t("Ce moment est déjà passé.")
            return
        duration = parse_duration(form.get("duration"))
        if duration is None:
            self.move_error = self._t(DURATION_INVALID)
            return
        self.busy_id = appointment_id
        self.move_error = ""
        yield
        try:
            data = await self._query(MOVE_APPOINTMENT, {
                "id": appointment_id, "start": start.astimezone(UTC).isoformat(),
                "end": (start + timedelta(minutes=duration)).astimezone(UTC).isoformat()})
        finally:
            self.busy_id = ""
        result = data["moveAppointment"]
        if result.get("__typename") != "Appointment":
            self.move_error = error_message(result, self.lang)
            return
        self.moving_id = ""
        self.info = self._t(MOVED, when=moment_text(str(result.get("start") or ""), self.lang))
        async for event in self._refresh():
            yield event
