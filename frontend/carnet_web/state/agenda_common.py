"""What the patient's agenda (state/agenda.py) and the professional's (state/pro_agenda.py)
share: the appointment as a page shows it, the calendar arithmetic of the week and month views,
the checks of a date and a time typed in a form, and the messages of the API's typed errors.

Moments come from the API as ISO 8601 date-times; they are shown and typed in Paris time (the
time zone of every appointment made in France), whatever the server's zone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from babel.dates import format_date as _babel_date

from carnet_web import api
from carnet_web.i18n import BABEL_LOCALES, N_, gettext, normalise
from carnet_web.state.formatting import display_zone, parse_moment

#: The API's appointment fields every page of the agenda asks for.
APPOINTMENT_FIELDS: Final = """
fragment AppointmentFields on Appointment {
  id start end status source placeKind place reason practitioner canCancel cancelDeadline slotId
  professional { id profession specialty practiceName }
}
"""

STATUS_LABELS: Final = {
    "PROPOSED": N_("Proposé"),
    "BOOKED": N_("Confirmé"),
    "CANCELLED": N_("Annulé"),
    "DONE": N_("Passé"),
    "NO_SHOW": N_("Absence"),
}
SOURCE_LABELS: Final = {
    "PATIENT": N_("Ajouté par moi"),
    "PROFESSIONAL": N_("Ajouté par le professionnel"),
    "PROFESSIONAL_SOFTWARE": N_("Logiciel du professionnel"),
    "BOOKED_SLOT": N_("Réservé en ligne"),
}
TELECONSULTATION: Final = N_("Téléconsultation")
A_PROFESSIONAL: Final = N_("Professionnel de santé")
WEEKDAY_NAMES: Final = (N_("Lundi"), N_("Mardi"), N_("Mercredi"), N_("Jeudi"),
                        N_("Vendredi"), N_("Samedi"), N_("Dimanche"))
WEEKDAY_SHORT: Final = (N_("lun."), N_("mar."), N_("mer."), N_("jeu."), N_("ven."),
                        N_("sam."), N_("dim."))

# --- the API's typed errors ---------------------------------------------------------------

SLOT_TAKEN: Final = N_("Ce créneau vient d'être réservé par quelqu'un d'autre. Choisissez-en "
                       "un autre.")
SLOT_IN_PAST: Final = N_("Ce créneau est déjà passé. Choisissez-en un autre.")
SLOT_GONE: Final = N_("Ce créneau n'existe plus. Choisissez-en un autre.")
TOO_LATE: Final = N_("Il est trop tard pour annuler ce rendez-vous en ligne (possible "
                     "jusqu'au {deadline}). Contactez directement le professionnel.")
TOO_LATE_NO_DATE: Final = N_("Il est trop tard pour annuler ce rendez-vous en ligne. "
                             "Contactez directement le professionnel.")
CANCEL_UNTIL: Final = N_("Annulation en ligne possible jusqu'au {deadline}.")
APPOINTMENT_GONE: Final = N_("Ce rendez-vous n'existe plus : il a peut-être été supprimé.")
INVALID_INPUT: Final = N_("Vérifiez les informations saisies.")

# --- form checks --------------------------------------------------------------------------

DATE_REQUIRED: Final = N_("Indiquez la date.")
DATE_INVALID: Final = N_("Date invalide.")
TIME_REQUIRED: Final = N_("Indiquez l'heure.")
TIME_INVALID: Final = N_("Heure invalide (hh:mm).")
DURATION_INVALID: Final = N_("Indiquez une durée entre 5 minutes et 8 heures.")
IN_THE_PAST: Final = N_("Ce moment est déjà passé.")

MIN_DURATION: Final = 5
MAX_DURATION: Final = 8 * 60


def error_message(result: Mapping[str, Any], lang: str) -> str:
    """The French (or English) message for an error member of an agenda result union."""
    kind = str(result.get("__typename") or "")
    if kind == "SlotTaken":
        return gettext(lang, SLOT_TAKEN)
    if kind == "SlotInPast":
        return gettext(lang, SLOT_IN_PAST)
    if kind == "SlotNotFound":
        return gettext(lang, SLOT_GONE)
    if kind == "TooLateToCancel":
        deadline = moment_text(str(result.get("deadline") or ""), lang)
        return (gettext(lang, TOO_LATE, deadline=deadline) if deadline
                else gettext(lang, TOO_LATE_NO_DATE))
    if kind == "AppointmentNotFound":
        return gettext(lang, APPOINTMENT_GONE)
    message = result.get("message")
    if isinstance(message, str) and message:
        return message  # the API's own message, in the tab's language
    return gettext(lang, INVALID_INPUT if kind.startswith("Invalid") else api.UNEXPECTED_MESSAGE)


# --- dates --------------------------------------------------------------------------------


def _locale(lang: str) -> str:
    return BABEL_LOCALES[normalise(lang)]


def local(moment: datetime) -> datetime:
    return moment.astimezone(display_zone())


def long_day(day: date, lang: str, *, capital: bool = True) -> str:
    """'Lundi 7 décembre 2026' (a title) or, inside a sentence, 'lundi 7 décembre 2026' /
    'Monday 7 December 2026'."""
    text = _babel_date(day, "EEEE d MMMM y", locale=_locale(lang))
    if normalise(lang) == "fr" and day.day == 1:
        text = text.replace(" 1 ", " 1er ", 1)
    return text[:1].upper() + text[1:] if capital else text


def month_title(day: date, lang: str) -> str:
    """'Décembre 2026' / 'December 2026'."""
    text = _babel_date(day, "LLLL y", locale=_locale(lang))
    return text[:1].upper() + text[1:]


def moment_text(iso: str, lang: str) -> str:
    """'lundi 7 décembre 2026 à 09:30' (Paris time, to go inside a sentence); '' if
    unreadable."""
    moment = parse_moment(iso)
    if moment is None:
        return ""
    here = local(moment)
    return gettext(lang, "{date} à {time}", date=long_day(here.date(), lang, capital=False),
                   time=here.strftime("%H:%M"))


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_grid(anchor: date) -> list[date]:
    """The days a month view shows: whole weeks (Monday first) around the month of `anchor`."""
    first = month_start(anchor)
    start = week_start(first)
    end = add_months(first, 1)
    days: list[date] = []
    day = start
    while day < end or day.weekday() != 0:
        days.append(day)
        day += timedelta(days=1)
    return days


def day_bounds(first: date, last: date) -> tuple[str, str]:
    """The API's `from`/`to` for the days first..last (Paris time), as ISO date-times."""
    zone = display_zone()
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()


def parse_local(day_text: str, clock: str) -> datetime | str:
    """The moment typed as a date ('2026-12-07') and a time ('09:30'), Paris time, or the
    French message of what is wrong."""
    if not day_text.strip():
        return DATE_REQUIRED
    try:
        day = date.fromisoformat(day_text.strip())
    except ValueError:
        return DATE_INVALID
    if day.year < 1900:
        return DATE_INVALID
    if not clock.strip():
        return TIME_REQUIRED
    try:
        hours = time.fromisoformat(clock.strip())
    except ValueError:
        return TIME_INVALID
    return datetime.combine(day, hours.replace(second=0, microsecond=0), display_zone())


def parse_duration(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if MIN_DURATION <= minutes <= MAX_DURATION else None


# --- an appointment as the pages show it --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AppointmentItem:
    id: str
    day: str  # ISO date in Paris, for the calendar views
    when: str  # 'Lundi 7 décembre 2026 à 09:30'
    hours: str  # '09:30 – 10:00'
    who: str  # the professional, or the practitioner typed by the patient (plain text)
    place: str  # an address, or 'Téléconsultation' (plain text)
    reason: str  # plain text, '' when none (or not shown)
    status: str  # the API's value
    status_label: str
    source_label: str
    cancelled: bool
    cancellable: bool  # not cancelled and not over
    is_past: bool
    start_iso: str
    patient: str = ""  # a professional's view: the patient's name
    minutes: int = 0  # its duration
    cancel_note: str = ""  # until when it may be cancelled online, or that it is too late
    professional_id: str = ""
    movable: bool = False  # a booked slot the patient may move to another of the same


def professional_label(professional: Mapping[str, Any] | None, lang: str) -> str:
    """'Médecin · Cardiologie · Cabinet du Parc' (as the API stores them)."""
    professional = professional or {}
    parts = [str(professional.get(key) or "").strip()
             for key in ("profession", "specialty", "practiceName")]
    return " · ".join(part for part in parts if part) or gettext(lang, A_PROFESSIONAL)


def appointment_item(node: Mapping[str, Any], lang: str, *, now: datetime,
                     patient: str = "") -> AppointmentItem:
    start = parse_moment(str(node.get("start") or "")) or now
    end = parse_moment(str(node.get("end") or "")) or start
    status = str(node.get("status") or "BOOKED")
    professional = node.get("professional")
    practitioner = " ".join(str(node.get("practitioner") or "").split())
    who = (professional_label(professional, lang) if professional
           else practitioner or gettext(lang, A_PROFESSIONAL))
    if professional and practitioner:
        who = f"{practitioner} · {who}"
    place = (gettext(lang, TELECONSULTATION) if node.get("placeKind") == "TELECONSULTATION"
             else " ".join(str(node.get("place") or "").split()))
    cancelled = status == "CANCELLED"
    over = end <= now
    open_status = not cancelled and not over and status in ("PROPOSED", "BOOKED")
    deadline = moment_text(str(node.get("cancelDeadline") or ""), lang)
    note = ""
    if open_status and deadline:
        note = (gettext(lang, CANCEL_UNTIL, deadline=deadline) if node.get("canCancel")
                is not False else gettext(lang, TOO_LATE, deadline=deadline))
    return AppointmentItem(
        id=str(node["id"]),
        day=local(start).date().isoformat(),
        when=moment_text(start.isoformat(), lang),
        hours=f"{local(start):%H:%M} – {local(end):%H:%M}",
        who=who,
        place=place,
        reason=str(node.get("reason") or "").strip(),
        status=status,
        status_label=gettext(lang, STATUS_LABELS.get(status, status)),
        source_label=gettext(lang, SOURCE_LABELS.get(str(node.get("source") or ""), ""))
        if node.get("source") in SOURCE_LABELS else "",
        cancelled=cancelled,
        cancellable=open_status and node.get("canCancel") is not False,
        is_past=over,
        start_iso=start.isoformat(),
        patient=patient,
        minutes=max(0, int((end - start).total_seconds() // 60)),
        cancel_note=note,
        professional_id=str((professional or {}).get("id") or ""),
        movable=(open_status and node.get("canCancel") is not False
                 and bool(node.get("slotId")) and bool(professional)),
    )


def by_start(items: Iterable[AppointmentItem]) -> list[AppointmentItem]:
    return sorted(items, key=lambda item: (item.start_iso, item.id))


@dataclasses.dataclass(frozen=True)
class CalendarDay:
    iso: str  # '2026-12-07'
    number: str  # '7'
    label: str  # 'Lundi 7 décembre 2026, 2 rendez-vous' (for screen readers)
    title: str  # 'Lundi 7 décembre 2026'
    short: str  # 'lun. 7'
    in_month: bool
    today: bool
    selected: bool
    count: int
    appointments: list[AppointmentItem]


def count_text(count: int, lang: str) -> str:
    if count <= 0:
        return gettext(lang, "aucun rendez-vous")
    return gettext(lang, "{n} rendez-vous", n=count)


def calendar_days(days: Sequence[date], items: Sequence[AppointmentItem], *, month: int | None,
                  today: date, selected: date, lang: str) -> list[CalendarDay]:
    """The cells of a week (month=None) or month view, each with its appointments."""
    per_day: dict[str, list[AppointmentItem]] = {}
    for item in by_start(items):
        per_day.setdefault(item.day, []).append(item)
    cells: list[CalendarDay] = []
    for day in days:
        mine = per_day.get(day.isoformat(), [])
        title = long_day(day, lang)
        cells.append(CalendarDay(
            iso=day.isoformat(),
            number=str(day.day),
            label=f"{title}, {count_text(len(mine), lang)}",
            title=title,
            short=f"{gettext(lang, WEEKDAY_SHORT[day.weekday()])} {day.day}",
            in_month=month is None or day.month == month,
            today=day == today,
            selected=day == selected,
            count=len(mine),
            appointments=mine,
        ))
    return cells
