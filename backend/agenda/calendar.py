"""Appointments as iCalendar (RFC 5545), produced with `icalendar`.

One VCALENDAR (PRODID, VERSION 2.0, CALSCALE GREGORIAN, METHOD PUBLISH) with one VTIMEZONE per
time zone its events use and one VEVENT per appointment:

- UID `<appointment id>@carnet`: stable, so a re-import or a feed refresh updates the event
  instead of adding a copy; SEQUENCE = `Appointment.sequence` (bumped by every move, place or
  status change), so calendar apps take the newer version;
- DTSTAMP and LAST-MODIFIED = the appointment's `updated_at` (UTC), CREATED its `created_at`:
  the same appointment gives the same bytes (no clock in the output);
- DTSTART/DTEND in the appointment's own time zone (`TZID=Europe/Paris`), whose VTIMEZONE is
  in the calendar: for Europe/Paris the EU rules (last Sunday of March 02:00 -> CEST +0200,
  last Sunday of October 03:00 -> CET +0100, as RRULEs, in force since 1996), for any other
  zone the transitions `icalendar` derives from the zone database over the events' years;
- STATUS: proposed -> TENTATIVE, cancelled -> CANCELLED, booked / done / no-show ->
  CONFIRMED; CLASS PRIVATE;
- LOCATION: the address (the appointment's own, else the practice's) or "Téléconsultation".

What the event tells of the appointment's health details (`Detail`):

- `Detail.NONE` (a subscription feed the patient did not opt in for): SUMMARY is only
  "Rendez-vous médical"; no reason, practitioner, specialty or notes anywhere. The feed's URL
  lives in calendar services outside Carnet, so it carries no health detail by default.
- `Detail.REASON` (a feed the patient opted in for: `createCalendarFeed(includeReason: true)`):
  the reason in SUMMARY and DESCRIPTION, and with whom.
- `Detail.FULL` (the patient downloading one appointment, `GET /agenda/{id}.ics`): also the
  notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from backend.agenda.models import AppointmentStatus, PlaceKind
from backend.i18n import N_, Message, gettext

PRODID = "-//Carnet//Agenda//FR"
PARIS = "Europe/Paris"
CONTENT_TYPE = "text/calendar; charset=utf-8"

STATUS = {
    AppointmentStatus.PROPOSED: "TENTATIVE",
    AppointmentStatus.BOOKED: "CONFIRMED",
    AppointmentStatus.DONE: "CONFIRMED",
    AppointmentStatus.NO_SHOW: "CONFIRMED",
    AppointmentStatus.CANCELLED: "CANCELLED",
}

SUMMARY = N_("Rendez-vous médical")
SUMMARY_WITH_REASON = N_("Rendez-vous : {reason}")
TELECONSULTATION = N_("Téléconsultation")
REASON_LINE = N_("Motif : {reason}")
WITH_LINE = N_("Avec : {practitioner}")
NOTES_LINE = N_("Notes : {notes}")
FEED_NAME = N_("Carnet : mes rendez-vous")


class Detail(Enum):
    NONE = 0
    REASON = 1
    FULL = 2


@dataclass(frozen=True)
class Entry:
    """One appointment to write: its row, its opened details (backend/agenda/sealing.py) and
    its professional (or None)."""

    appointment: Any
    details: Mapping[str, str]
    professional: Any = None


def uid(appointment: Any) -> str:
    return f"{appointment.id}@carnet"


# --- time zones ----------------------------------------------------------------------------


def paris_vtimezone() -> Timezone:
    """Europe/Paris with the EU summer-time rules (Directive 2000/84/EC, in force since 1996)."""
    tz = Timezone()
    tz.add("tzid", PARIS)
    tz.add("x-lic-location", PARIS)
    daylight = TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("dtstart", datetime(1996, 3, 31, 2, 0, 0))  # local time, before the change
    daylight.add("rrule", vRecur({"FREQ": "YEARLY", "BYMONTH": 3, "BYDAY": "-1SU"}))
    standard = TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("dtstart", datetime(1996, 10, 27, 3, 0, 0))
    standard.add("rrule", vRecur({"FREQ": "YEARLY", "BYMONTH": 10, "BYDAY": "-1SU"}))
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or PARIS)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(PARIS)


def vtimezone(name: str, years: Sequence[int]) -> Timezone:
    if name == PARIS:
        return paris_vtimezone()
    first, last = min(years), max(years)
    return Timezone.from_tzid(name, first_date=date(first - 1, 1, 1),
                              last_date=date(last + 1, 12, 31))


# --- events --------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def practitioner_of(entry: Entry) -> str | None:
    """With whom, as the patient reads it: the practitioner they wrote, else the professional's
    practice or profession."""
    if entry.details.get("practitioner"):
        return entry.details["practitioner"]
    pro = entry.professional
    if pro is None:
        return None
    parts = [p for p in (pro.profession, pro.specialty) if p]
    text = " – ".join(parts)
    if pro.practice_name:
        text = f"{text} ({pro.practice_name})" if text else pro.practice_name
    return text or None


def location_of(entry: Entry) -> str | None:
    appointment = entry.appointment
    if appointment.place_kind == PlaceKind.TELECONSULTATION:
        return gettext(TELECONSULTATION)
    if entry.details.get("place"):
        return entry.details["place"]
    pro = entry.professional
    return getattr(pro, "practice_address", None) or None


def event(entry: Entry, detail: Detail) -> Event:
    appointment = entry.appointment
    tz = zone(appointment.time_zone)
    reason = entry.details.get("reason") if detail is not Detail.NONE else None
    ev = Event()
    ev.add("uid", uid(appointment))
    ev.add("dtstamp", _utc(appointment.updated_at))
    ev.add("created", _utc(appointment.created_at))
    ev.add("last-modified", _utc(appointment.updated_at))
    ev.add("dtstart", _utc(appointment.start_at).astimezone(tz))
    ev.add("dtend", _utc(appointment.end_at).astimezone(tz))
    ev.add("sequence", int(appointment.sequence))
    ev.add("status", STATUS[AppointmentStatus(appointment.status)])
    ev.add("class", "PRIVATE")
    ev.add("transp", "OPAQUE")
    ev.add("summary", Message(SUMMARY_WITH_REASON, reason=reason).render() if reason
           else gettext(SUMMARY))
    location = location_of(entry)
    if location:
        ev.add("location", location)
    lines = []
    if detail is not Detail.NONE:
        if reason:
            lines.append(Message(REASON_LINE, reason=reason).render())
        practitioner = practitioner_of(entry)
        if practitioner:
            lines.append(Message(WITH_LINE, practitioner=practitioner).render())
    if detail is Detail.FULL and entry.details.get("notes"):
        lines.append(Message(NOTES_LINE, notes=entry.details["notes"]).render())
    if lines:
        ev.add("description", "\n".join(lines))
    return ev


def calendar(entries: Iterable[Entry], detail: Detail, *, feed: bool = False) -> bytes:
    """The iCalendar text of `entries` (UTF-8, CRLF line ends, folded at 75 octets)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if feed:
        cal.add("x-wr-calname", gettext(FEED_NAME))
        cal.add("x-wr-timezone", PARIS)
        # RFC 7986: how often subscribers should fetch again.
        cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", "PT1H")
    events = []
    years: dict[str, set[int]] = {}
    for entry in entries:
        ev = event(entry, detail)
        name = zone(entry.appointment.time_zone).key
        for value in (entry.appointment.start_at, entry.appointment.end_at):
            years.setdefault(name, set()).add(_utc(value).astimezone(zone(name)).year)
        events.append(ev)
    for name in sorted(years):
        cal.add_component(vtimezone(name, sorted(years[name])))
    for ev in events:
        cal.add_component(ev)
    return cal.to_ical()
