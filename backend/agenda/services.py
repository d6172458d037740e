"""The agenda's rules: who adds, books, moves and cancels appointments, and who reads them.

Sources (`AppointmentSource`): the patient's own entries (free-text practitioner and place);
a professional's `schedule` for a patient of theirs (an active care relationship: care team,
declared, médecin traitant; an emergency access is no ground to book); professional software
(FHIR, backend/agenda/fhir.py, through `upsert_from_software`); and the patient's booking of a
published slot (`book_slot`).

Never two bookings of one slot, by the database: in ONE transaction a conditional
`UPDATE agenda_slot SET status='booked' WHERE id=… AND status='free' AND start_at > now`
(0 rows: taken, past or missing) and the appointment's INSERT with `active_slot_id` = the slot
(UNIQUE). PostgreSQL serialises two such transactions on the slot's row: the second UPDATE
re-reads the committed row and matches nothing. Cancelling (or moving off the slot) clears
`active_slot_id` and frees the slot in the same transaction.

Every change of time, place or status increments `sequence`. When a professional (or their
software) moves or cancels, an `AppointmentNotice` (moved / cancelled, the new sequence, due
now) is inserted in the SAME transaction; the notices sender (another module) sends it once.
The patient's own changes send nothing.

Reads: the patient reads their own agenda (`Scope.patient`); a professional reads the
appointments they are the professional of (`Scope.professional`: their bookings, whoever
created them, never the patient's own entries); through `patientRecord.appointments`, a
professional with a ground (access policy) reads the patient's agenda, with the free texts of
only their own appointments (`Scope.record`; the access log records it as AGENDA). An
appointment outside the scope answers exactly like a missing one.

Free slots: any signed-in user may search any professional's FREE future slots
(`free_slots`): a slot names no patient and its place is the practice's; a professional who
publishes slots offers them to be booked, as on a booking site. Booking one does not open the
patient's record to the professional (no care relationship is created); it makes the
appointment theirs to see, move and cancel.

Free texts {reason, notes, practitioner, place} are sealed with the patient's data key
(associated data: the appointment id). Services never import strawberry; times are aware UTC
datetimes; `now` is injectable everywhere (tests never depend on the time of day).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend import errors, jobs
from backend.access import policy
from backend.agenda import jobs as agenda_jobs
from backend.agenda import reminders
from backend.agenda.errors import (
    AppointmentNotFound,
    InvalidAppointmentInput,
    SlotInPast,
    SlotNotFound,
    SlotTaken,
    TooLateToCancel,
)
from backend.agenda.models import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    NoticeKind,
    PlaceKind,
    Slot,
    SlotStatus,
)
from backend.agenda.sealing import seal_details as seal
from backend.agenda.sealing import unseal_details as unseal
from backend.i18n import N_
from backend.identity.models import Professional
from backend.keys import services as keys
from backend.keys.models import DataKey
from backend.runtime import Runtime
from backend.settings import Settings
from backend.text import clean_label

PARIS = "Europe/Paris"
MAX_REASON = 300
MAX_NOTES = 2000
MAX_PRACTITIONER = 200
MAX_PLACE = 300
MAX_DURATION = timedelta(hours=24)
MAX_PAGE = 100
MAX_RANGE = timedelta(days=400)  # freeSlots / mySlots / recurrence ranges
MAX_SLOT_MINUTES = 8 * 60
# Statuses that hold a slot (active_slot_id set) and that a viewer may still cancel.
OPEN_STATUSES = (AppointmentStatus.PROPOSED, AppointmentStatus.BOOKED)
# Grounds on which a professional may schedule for a patient: an active care relationship.
SCHEDULING_GROUNDS = (policy.Ground.CARE_TEAM, policy.Ground.DECLARED,
                      policy.Ground.TREATING_DOCTOR)


def clock() -> datetime:
    """The agenda's "now" (booking in the past, the cancellation deadline): tests replace it
    (not the runtime's clock, which also ages sessions and codes)."""
    return datetime.now(UTC)


# --- live channels (the subscriptions module listens, the writers announce after commit) ---


def patient_channel(person_id: int) -> str:
    return f"agenda:person:{person_id}"


def professional_channel(professional_id: int) -> str:
    return f"agenda:professional:{professional_id}"


@dataclass(frozen=True)
class Change:
    """What changed, as announced (ids and a kind only: no health data leaves the process)."""

    appointment_id: uuid.UUID
    person_id: int
    professional_id: int | None
    kind: str  # created | updated | cancelled

    def payload(self) -> str:
        return json.dumps({"id": str(self.appointment_id), "kind": self.kind})


async def announce(rt: Runtime, change: Change) -> None:
    """Wake the live subscribers of both sides (after the commit: they re-read the row)."""
    await rt.broker.publish(patient_channel(change.person_id), change.payload())
    if change.professional_id is not None:
        await rt.broker.publish(professional_channel(change.professional_id), change.payload())


def _change(row: Appointment, kind: str) -> Change:
    return Change(row.id, row.person_id, row.professional_id, kind)


# --- input -----------------------------------------------------------------------------------


def _aware(value: datetime, field_name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidAppointmentInput(field_name, N_("Indiquez l'heure avec son fuseau "
                                                     "horaire."))
    return value.astimezone(UTC)


def _zone(name: str | None) -> str:
    name = (name or PARIS).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidAppointmentInput("timeZone", N_("Fuseau horaire inconnu.")) from None
    return name


def _text(value: str | None, field_name: str, limit: int, *, multiline: bool = False
          ) -> str | None:
    if value is None:
        return None
    cleaned = value.strip() if multiline else clean_label(value)
    if multiline:
        cleaned = "".join(c for c in cleaned if c in "\n\t" or c.isprintable())
    if not cleaned:
        return None
    if len(cleaned) > limit:
        raise InvalidAppointmentInput(field_name, N_("Ce texte dépasse {limit} caractères."),
                                      limit=limit)
    return cleaned


@dataclass
class AppointmentInput:
    """A patient's own entry, or what a professional schedules."""

    start_at: datetime
    end_at: datetime
    time_zone: str | None = PARIS
    place_kind: PlaceKind = PlaceKind.ADDRESS
    place: str | None = None
    reason: str | None = None
    notes: str | None = None
    practitioner: str | None = None

    def checked(self) -> AppointmentInput:
        start = _aware(self.start_at, "startAt")
        end = _aware(self.end_at, "endAt")
        if end <= start:
            raise InvalidAppointmentInput("endAt", N_("La fin doit suivre le début."))
        if end - start > MAX_DURATION:
            raise InvalidAppointmentInput("endAt", N_("Un rendez-vous dure au plus 24 heures."))
        kind = PlaceKind(self.place_kind)
        place = _text(self.place, "place", MAX_PLACE)
        return AppointmentInput(
            start_at=start, end_at=end, time_zone=_zone(self.time_zone), place_kind=kind,
            place=place if kind is PlaceKind.ADDRESS else None,
            reason=_text(self.reason, "reason", MAX_REASON),
            notes=_text(self.notes, "notes", MAX_NOTES, multiline=True),
            practitioner=_text(self.practitioner, "practitioner", MAX_PRACTITIONER),
        )

    def details(self) -> dict[str, Any]:
        return {k: v for k, v in (("reason", self.reason), ("notes", self.notes),
                                  ("practitioner", self.practitioner), ("place", self.place))
                if v is not None}


@dataclass
class Recurrence:
    """publishSlots' helper: every `weekdays` (0 = Monday) from `start_date` to `end_date`
    (inclusive), slots of `duration_minutes` from `day_start` to `day_end`, wall-clock times
    in `time_zone` (Europe/Paris): 09:00 stays 09:00 across daylight saving changes."""

    start_date: date
    end_date: date
    weekdays: Sequence[int]
    day_start: time
    day_end: time
    duration_minutes: int
    place_kind: PlaceKind = PlaceKind.ADDRESS
    place_address: str | None = None
    time_zone: str = PARIS

    def starts(self, limit: int) -> list[tuple[datetime, datetime]]:
        """(start, end) in UTC of every slot, in order."""
        zone_name = _zone(self.time_zone)
        zone = ZoneInfo(zone_name)
        if self.end_date < self.start_date:
            raise InvalidAppointmentInput("endDate", N_("La fin doit suivre le début."))
        if self.end_date - self.start_date > MAX_RANGE:
            raise InvalidAppointmentInput("endDate", N_("Une période de plus de 400 jours ne "
                                                        "peut être publiée en une fois."))
        days = sorted(set(self.weekdays))
        if not days or any(d < 0 or d > 6 for d in days):
            raise InvalidAppointmentInput("weekdays", N_("Choisissez au moins un jour."))
        if not 5 <= self.duration_minutes <= MAX_SLOT_MINUTES:
            raise InvalidAppointmentInput("durationMinutes", N_("Durée entre 5 minutes et 8 "
                                                                "heures."))
        if self.day_end <= self.day_start:
            raise InvalidAppointmentInput("dayEnd", N_("La fin doit suivre le début."))
        step = timedelta(minutes=self.duration_minutes)
        out: list[tuple[datetime, datetime]] = []
        day = self.start_date
        while day <= self.end_date:
            if day.weekday() in days:
                # Wall-clock arithmetic in the zone, each instant converted on its own: a slot
                # at 09:00 is 08:00 UTC in winter and 07:00 UTC in summer.
                local = datetime.combine(day, self.day_start)
                end_of_day = datetime.combine(day, self.day_end)
                while local + step <= end_of_day:
                    start_utc = _to_utc(local, zone)
                    end_utc = _to_utc(local + step, zone)
                    # A slot in the spring gap (a local time that does not exist) is skipped.
                    if start_utc is not None and end_utc is not None and end_utc > start_utc:
                        out.append((start_utc, end_utc))
                        if len(out) > limit:
                            raise InvalidAppointmentInput(
                                "endDate", N_("Au plus {limit} créneaux par publication."),
                                limit=limit)
                    local += step
            day += timedelta(days=1)
        return out


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime | None:
    """A wall-clock time in `zone` as UTC; None for a time that does not exist (the spring
    gap). A time that exists twice (the autumn overlap) takes its first reading (fold=0)."""
    aware = local.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local:
        return None
    return utc


# --- encryption ------------------------------------------------------------------------------


class KeyRing:
    """Data keys by id for one request: the keys of a page are read in ONE statement."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: dict[int, bytes] = {}

    async def load(self, key_ids: Sequence[int]) -> dict[int, bytes]:
        missing = sorted({k for k in key_ids if k not in self._keys})
        if missing:
            for row in await DataKey.filter(id__in=missing):
                self._keys[row.id] = keys.unwrap_joined(
                    self.settings, data_key_id=row.id, person_id=row.person_id,  # type: ignore[attr-defined]
                    master_key_id=row.master_key_id, wrapped_key=row.wrapped_key)
        return {k: self._keys[k] for k in key_ids if k in self._keys}


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which appointments a viewer reads, and whose free texts."""

    person_id: int | None = None  # the patient's agenda
    professional_id: int | None = None  # a professional's bookings (never patient entries)
    # patientRecord: the patient's agenda read by a professional with a ground; free texts
    # of only their own appointments.
    reader_professional_id: int | None = None
    is_patient: bool = False

    @classmethod
    def patient(cls, person_id: int) -> Scope:
        return cls(person_id=person_id, is_patient=True)

    @classmethod
    def professional(cls, professional_id: int) -> Scope:
        return cls(professional_id=professional_id, reader_professional_id=professional_id)

    @classmethod
    def record(cls, access: policy.Access) -> Scope:
        if not access.granted:
            return cls(person_id=0)  # nobody's: no row
        reader = (access.viewer.professional_id
                  if isinstance(access.viewer, policy.ProfessionalViewer) else None)
        if access.is_patient_self:
            return cls.patient(access.patient_id)
        return cls(person_id=access.patient_id, reader_professional_id=reader)

    def filter(self) -> Q:
        q = Q()
        if self.person_id is not None:
            q &= Q(person_id=self.person_id)
        if self.professional_id is not None:
            q &= Q(professional_id=self.professional_id) & ~Q(source=AppointmentSource.PATIENT)
        if self.person_id is None and self.professional_id is None:
            return Q(id__in=[])
        return q

    def reads_details(self, row: Appointment) -> bool:
        if self.is_patient:
            return True
        return (self.reader_professional_id is not None
                and row.professional_id == self.reader_professional_id)


@dataclass
class Item:
    """An appointment as a viewer reads it: the row, its free texts (empty when not theirs to
    read), its professional (joined) and what the viewer may still do."""

    row: Appointment
    details: dict[str, Any]
    professional: Professional | None = None
    can_cancel: bool = False
    cancel_deadline: datetime | None = None
    patient: Any = field(default=None, compare=False)  # Person, for a professional's views


def cancel_deadline(settings: Settings, row: Appointment) -> datetime | None:
    """Until when the patient may cancel or move online (None: anytime, their own entry)."""
    if row.source is AppointmentSource.PATIENT:
        return None
    return row.start_at - timedelta(hours=settings.agenda_cancel_deadline_hours)


def _can_cancel(settings: Settings, scope: Scope, row: Appointment, now: datetime) -> bool:
    if row.status not in OPEN_STATUSES or row.end_at <= now:
        return False
    if scope.is_patient:
        deadline = cancel_deadline(settings, row)
        return deadline is None or now <= deadline
    return (scope.reader_professional_id is not None
            and row.professional_id == scope.reader_professional_id
            and row.source is not AppointmentSource.PATIENT)


async def build_items(settings: Settings, scope: Scope, rows: Sequence[Appointment], *,
                      ring: KeyRing | None = None, now: datetime | None = None) -> list[Item]:
    now = now or clock()
    ring = ring or KeyRing(settings)
    readable = [r for r in rows if scope.reads_details(r)]
    loaded = await ring.load([r.data_key_id for r in readable])
    items = []
    for row in rows:
        details = (unseal(loaded[row.data_key_id], row.id, row.details_encrypted)
                   if scope.reads_details(row) else {})
        professional = row.professional if row.professional_id is not None else None
        items.append(Item(row, details, professional, _can_cancel(settings, scope, row, now),
                          cancel_deadline(settings, row) if scope.is_patient else None,
                          patient=getattr(row, "person", None) if not scope.is_patient
                          else None))
    return items


def encode_cursor(row: Appointment) -> str:
    raw = f"{row.start_at.astimezone(UTC).isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, ident = raw.split("|", 1)
        return datetime.fromisoformat(start), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise InvalidAppointmentInput("after", N_("Curseur invalide.")) from None


@dataclass
class Page:
    items: list[Item]
    has_next: bool


async def list_appointments(settings: Settings, scope: Scope, *, start: datetime | None = None,
                            end: datetime | None = None, first: int = 20,
                            after: str | None = None, ring: KeyRing | None = None,
                            now: datetime | None = None, with_patient: bool = False) -> Page:
    """The scope's appointments overlapping [start, end), by start time. Two statements: the
    page (its professionals and patients joined) and the data keys of its free texts."""
    first = max(1, min(first, MAX_PAGE))
    query = Appointment.filter(scope.filter())
    if start is not None:
        query = query.filter(end_at__gt=_aware(start, "from"))
    if end is not None:
        query = query.filter(start_at__lt=_aware(end, "to"))
    position = decode_cursor(after)
    if position is not None:
        at, ident = position
        query = query.filter(Q(start_at__gt=at) | (Q(start_at=at) & Q(id__gt=ident)))
    related = ["professional", "person"] if with_patient else ["professional"]
    rows = await query.select_related(*related).order_by("start_at", "id").limit(first + 1)
    has_next = len(rows) > first
    rows = rows[:first]
    return Page(await build_items(settings, scope, rows, ring=ring, now=now), has_next)


async def readable(settings: Settings, scope: Scope, appointment_id: str | uuid.UUID | None, *,
                   ring: KeyRing | None = None, now: datetime | None = None,
                   with_patient: bool = False) -> Item | None:
    parsed = policy.parse_public_id(appointment_id)  # a UUID parser
    if parsed is None:
        return None
    related = ["professional", "person"] if with_patient else ["professional"]
    row = await Appointment.filter(scope.filter(), id=parsed).select_related(*related).first()
    if row is None:
        return None
    return (await build_items(settings, scope, [row], ring=ring, now=now))[0]


# --- the patient's own entries --------------------------------------------------------------


async def _new_row(settings: Settings, *, person_id: int, data: AppointmentInput,
                   source: AppointmentSource, account_id: int, professional_id: int | None,
                   status: AppointmentStatus = AppointmentStatus.BOOKED,
                   slot: Slot | None = None, source_key: str | None = None,
                   appointment_id: uuid.UUID | None = None) -> Appointment:
    """An unsaved appointment with its sealed free texts (the key is fetched or created
    before any transaction the caller opens)."""
    data_key_id, data_key = await keys.data_key_for(settings, person_id)
    appointment_id = appointment_id or uuid.uuid4()
    return Appointment(
        id=appointment_id, person_id=person_id, professional_id=professional_id,
        start_at=data.start_at, end_at=data.end_at, time_zone=data.time_zone or PARIS,
        place_kind=data.place_kind, status=status, source=source,
        details_encrypted=seal(data_key, appointment_id, data.details()),
        data_key_id=data_key_id, slot_id=slot.id if slot else None,
        active_slot_id=slot.id if slot else None, source_key=source_key,
        created_by_account_id=account_id,
    )


async def add_own(rt: Runtime, viewer: policy.PatientViewer, data: AppointmentInput) -> Item:
    data = data.checked()
    row = await _new_row(rt.settings, person_id=viewer.person_id, data=data,
                         source=AppointmentSource.PATIENT, account_id=viewer.account_id,
                         professional_id=None)
    await row.save(force_create=True)
    await announce(rt, _change(row, "created"))
    return Item(row, data.details(), None, True, None)


async def _patient_row(person_id: int, appointment_id: str | uuid.UUID, conn: Any = None,
                       *, lock: bool = False) -> Appointment:
    parsed = policy.parse_public_id(appointment_id)
    row = None
    if parsed is not None:
        query = Appointment.filter(id=parsed, person_id=person_id)
        if conn is not None:
            query = query.using_db(conn)
            if lock:
                query = query.select_for_update()
        row = await query.first()
    if row is None:
        raise AppointmentNotFound()
    return row


async def update_own(rt: Runtime, viewer: policy.PatientViewer, appointment_id: str,
                     data: AppointmentInput) -> Item:
    """Change one of the patient's OWN entries (those with a professional are moved by
    `reschedule` or by the professional)."""
    data = data.checked()
    data_key_id, data_key = await keys.data_key_for(rt.settings, viewer.person_id)
    async with in_transaction() as conn:
        row = await _patient_row(viewer.person_id, appointment_id, conn, lock=True)
        if row.source is not AppointmentSource.PATIENT:
            raise InvalidAppointmentInput(
                "id", N_("Ce rendez-vous a été fixé avec un professionnel : vous pouvez le "
                         "déplacer sur un autre créneau ou l'annuler."))
        if row.status is AppointmentStatus.CANCELLED:
            raise InvalidAppointmentInput("id", N_("Ce rendez-vous est annulé."))
        changed = (row.start_at != data.start_at or row.end_at != data.end_at
                   or row.place_kind is not data.place_kind)
        old = unseal(await keys.data_key_by_id(rt.settings, row.data_key_id), row.id,
                     row.details_encrypted)
        if changed or old.get("place") != data.place:
            row.sequence += 1
        row.start_at, row.end_at, row.time_zone = data.start_at, data.end_at, data.time_zone
        row.place_kind = data.place_kind
        row.details_encrypted = seal(data_key, row.id, data.details())
        row.data_key_id = data_key_id
        row.updated_by_account_id = viewer.account_id
        await row.save(using_db=conn)
    await announce(rt, _change(row, "updated"))
    return Item(row, data.details(), None, True, None)


def _check_patient_deadline(settings: Settings, row: Appointment, now: datetime) -> None:
    deadline = cancel_deadline(settings, row)
    if deadline is not None and now > deadline:
        raise TooLateToCancel(deadline)


async def _free_slot(conn: Any, row: Appointment) -> None:
    """Give the appointment's slot back (it may be booked again at once)."""
    if row.active_slot_id is not None:
        slot_id = row.active_slot_id
        row.active_slot_id = None
        await Appointment.filter(id=row.id).using_db(conn).update(active_slot_id=None)
        await Slot.filter(id=slot_id).using_db(conn).update(status=SlotStatus.FREE)


async def cancel_by_patient(rt: Runtime, viewer: policy.PatientViewer, appointment_id: str, *,
                            now: datetime | None = None) -> Item:
    now = now or clock()
    async with in_transaction() as conn:
        row = await _patient_row(viewer.person_id, appointment_id, conn, lock=True)
        if row.status is AppointmentStatus.CANCELLED:
            raise InvalidAppointmentInput("id", N_("Ce rendez-vous est déjà annulé."))
        if row.status not in OPEN_STATUSES or row.end_at <= now:
            raise InvalidAppointmentInput("id", N_("Ce rendez-vous est passé."))
        _check_patient_deadline(rt.settings, row, now)
        await _free_slot(conn, row)
        row.status = AppointmentStatus.CANCELLED
        row.sequence += 1
        row.updated_by_account_id = viewer.account_id
        await row.save(using_db=conn, update_fields=["status", "sequence",
                                                     "updated_by_account_id", "updated_at"])
    await announce(rt, _change(row, "cancelled"))
    return await _reread(rt.settings, Scope.patient(viewer.person_id), row.id, now)


async def _reread(settings: Settings, scope: Scope, appointment_id: uuid.UUID,
                  now: datetime) -> Item:
    item = await readable(settings, scope, appointment_id, now=now,
                          with_patient=not scope.is_patient)
    assert item is not None
    return item


async def _claim_slot(conn: Any, slot_id: uuid.UUID, now: datetime, *,
                      professional_id: int | None = None) -> Slot:
    """The conditional UPDATE that books a slot, or the refusal saying why it did not."""
    query = Slot.filter(id=slot_id, status=SlotStatus.FREE, start_at__gt=now)
    if professional_id is not None:
        query = query.filter(professional_id=professional_id)
    claimed = await query.using_db(conn).update(status=SlotStatus.BOOKED, updated_at=now)
    slot = await Slot.filter(id=slot_id).using_db(conn).first()
    if slot is None or (professional_id is not None and slot.professional_id != professional_id):
        raise SlotNotFound()
    if not claimed:
        raise SlotInPast() if slot.start_at <= now else SlotTaken()
    return slot


def _slot_input(slot: Slot, reason: str | None) -> AppointmentInput:
    return AppointmentInput(start_at=slot.start_at, end_at=slot.end_at, time_zone=slot.time_zone,
                            place_kind=slot.place_kind, place=slot.place_address,
                            reason=reason).checked()


async def book_slot(rt: Runtime, viewer: policy.PatientViewer, slot_id: str,
                    reason: str | None, *, now: datetime | None = None) -> Item:
    now = now or clock()
    parsed = policy.parse_public_id(slot_id)
    if parsed is None:
        raise SlotNotFound()
    reason = _text(reason, "reason", MAX_REASON)
    # The key first (its creation has its own transaction), then the booking's one.
    data_key_id, data_key = await keys.data_key_for(rt.settings, viewer.person_id)
    appointment_id = uuid.uuid4()
    try:
        async with in_transaction() as conn:
            slot = await _claim_slot(conn, parsed, now)
            data = _slot_input(slot, reason)
            row = Appointment(
                id=appointment_id, person_id=viewer.person_id,
                professional_id=slot.professional_id, start_at=slot.start_at,
                end_at=slot.end_at, time_zone=slot.time_zone, place_kind=slot.place_kind,
                status=AppointmentStatus.BOOKED, source=AppointmentSource.BOOKED_SLOT,
                details_encrypted=seal(data_key, appointment_id, data.details()),
                data_key_id=data_key_id, slot_id=slot.id, active_slot_id=slot.id,
                created_by_account_id=viewer.account_id)
            await row.save(using_db=conn, force_create=True)
    except IntegrityError:
        # active_slot_id is UNIQUE: another booking holds this slot (the database said so).
        raise SlotTaken() from None
    await announce(rt, _change(row, "created"))
    return await _reread(rt.settings, Scope.patient(viewer.person_id), row.id, now)


async def reschedule_by_patient(rt: Runtime, viewer: policy.PatientViewer, appointment_id: str,
                                slot_id: str, *, now: datetime | None = None) -> Item:
    """Move a booking to another free slot of the same professional, in one transaction: the
    new slot is claimed (conditional UPDATE, UNIQUE active_slot_id), the old one freed."""
    now = now or clock()
    parsed_slot = policy.parse_public_id(slot_id)
    if parsed_slot is None:
        raise SlotNotFound()
    try:
        async with in_transaction() as conn:
            row = await _patient_row(viewer.person_id, appointment_id, conn, lock=True)
            if row.professional_id is None or row.source is AppointmentSource.PATIENT:
                raise InvalidAppointmentInput("id", N_("Modifiez plutôt votre rendez-vous."))
            if row.status not in OPEN_STATUSES:
                raise InvalidAppointmentInput("id", N_("Ce rendez-vous ne peut plus être "
                                                       "déplacé."))
            _check_patient_deadline(rt.settings, row, now)
            slot = await _claim_slot(conn, parsed_slot, now,
                                     professional_id=row.professional_id)
            await _free_slot(conn, row)
            row.slot_id = slot.id
            row.active_slot_id = slot.id
            row.start_at, row.end_at, row.time_zone = slot.start_at, slot.end_at, slot.time_zone
            row.place_kind = slot.place_kind
            details = unseal(await keys.data_key_by_id(rt.settings, row.data_key_id), row.id,
                             row.details_encrypted)
            place = slot.place_address if slot.place_kind is PlaceKind.ADDRESS else None
            if place:
                details["place"] = place
            else:
                details.pop("place", None)
            row.details_encrypted = seal(await keys.data_key_by_id(rt.settings, row.data_key_id),
                                         row.id, details)
            row.sequence += 1
            row.updated_by_account_id = viewer.account_id
            await row.save(using_db=conn)
    except IntegrityError:
        raise SlotTaken() from None
    await announce(rt, _change(row, "updated"))
    return await _reread(rt.settings, Scope.patient(viewer.person_id), row.id, now)


# --- professionals ---------------------------------------------------------------------------


async def schedule(rt: Runtime, viewer: policy.ProfessionalViewer, patient_id: str,
                   data: AppointmentInput, *, now: datetime | None = None) -> Item:
    """A professional sets an appointment for a patient of theirs (an active care relationship);
    an unknown patient, one they have no such relationship with, or who blocked them: one
    answer, `PatientNotFound`."""
    data = data.checked()
    now = now or clock()
    access = await policy.access_by_public_id(
        viewer, patient_id, expiry_days=rt.settings.care_relationship_expiry_days, now=now)
    if not access.granted or access.ground not in SCHEDULING_GROUNDS:
        raise errors.PatientNotFound()
    row = await _new_row(rt.settings, person_id=access.patient_id, data=data,
                         source=AppointmentSource.PROFESSIONAL, account_id=viewer.account_id,
                         professional_id=viewer.professional_id)
    await row.save(force_create=True)
    await announce(rt, _change(row, "created"))
    return await _reread(rt.settings, Scope.professional(viewer.professional_id), row.id, now)


async def _professional_row(professional_id: int, appointment_id: str | uuid.UUID,
                            conn: Any) -> Appointment:
    parsed = policy.parse_public_id(appointment_id)
    row = None
    if parsed is not None:
        row = await (Appointment.filter(Scope.professional(professional_id).filter(), id=parsed)
                     .using_db(conn).select_for_update().first())
    if row is None:
        raise AppointmentNotFound()
    return row


async def _notice(conn: Any, row: Appointment, kind: NoticeKind, now: datetime) -> None:
    # The outbox row of this change, in its transaction (backend/agenda/reminders.py sends
    # it), and the job that sends it, in the same transaction (none while one is waiting).
    if await reminders.notice_change(row, kind, now=now, using_db=conn):
        await jobs.enqueue(agenda_jobs.SEND_NOTICES, conn=conn,
                           queueing_lock=agenda_jobs.SEND_NOTICES)


async def cancel_by_professional(rt: Runtime, viewer: policy.ProfessionalViewer,
                                 appointment_id: str, *, now: datetime | None = None
                                 ) -> Item:
    now = now or clock()
    async with in_transaction() as conn:
        row = await _professional_row(viewer.professional_id, appointment_id, conn)
        await _cancel_row(conn, row, viewer.account_id, now)
    await announce(rt, _change(row, "cancelled"))
    return await _reread(rt.settings, Scope.professional(viewer.professional_id), row.id, now)


async def _cancel_row(conn: Any, row: Appointment, account_id: int, now: datetime, *,
                      past_allowed: bool = False) -> None:
    if row.status not in OPEN_STATUSES:
        raise InvalidAppointmentInput("id", N_("Ce rendez-vous n'est plus actif."))
    if row.end_at <= now and not past_allowed:
        raise InvalidAppointmentInput("id", N_("Ce rendez-vous est passé."))
    await _free_slot(conn, row)
    row.status = AppointmentStatus.CANCELLED
    row.sequence += 1
    row.updated_by_account_id = account_id
    await row.save(using_db=conn, update_fields=["status", "sequence", "updated_by_account_id",
                                                 "updated_at"])
    await _notice(conn, row, NoticeKind.CANCELLED, now)


async def _move_row(conn: Any, settings: Settings, row: Appointment, account_id: int,
                    start_at: datetime, end_at: datetime, now: datetime, *,
                    place_kind: PlaceKind | None = None, place: str | None = None,
                    set_place: bool = False) -> bool:
    """Move (and/or change the place of) an open appointment; False when nothing changed."""
    if row.status not in OPEN_STATUSES:
        raise InvalidAppointmentInput("id", N_("Ce rendez-vous n'est plus actif."))
    start_at, end_at = _aware(start_at, "startAt"), _aware(end_at, "endAt")
    if end_at <= start_at:
        raise InvalidAppointmentInput("endAt", N_("La fin doit suivre le début."))
    if end_at - start_at > MAX_DURATION:
        raise InvalidAppointmentInput("endAt", N_("Un rendez-vous dure au plus 24 heures."))
    details = None
    if set_place:
        key = await keys.data_key_by_id(settings, row.data_key_id)
        details = unseal(key, row.id, row.details_encrypted)
        kind = place_kind or row.place_kind
        new_place = _text(place, "place", MAX_PLACE) if kind is PlaceKind.ADDRESS else None
        place_changed = kind is not row.place_kind or details.get("place") != new_place
        if new_place:
            details["place"] = new_place
        else:
            details.pop("place", None)
    else:
        place_changed = False
    if start_at == row.start_at and end_at == row.end_at and not place_changed:
        return False
    if start_at != row.start_at or end_at != row.end_at:
        await _free_slot(conn, row)  # off its slot: the slot can be booked again
    row.start_at, row.end_at = start_at, end_at
    if details is not None:
        row.place_kind = place_kind or row.place_kind
        row.details_encrypted = seal(await keys.data_key_by_id(settings, row.data_key_id),
                                     row.id, details)
    row.sequence += 1
    row.updated_by_account_id = account_id
    await row.save(using_db=conn)
    await _notice(conn, row, NoticeKind.MOVED, now)
    return True


async def move_by_professional(rt: Runtime, viewer: policy.ProfessionalViewer,
                               appointment_id: str, start_at: datetime, end_at: datetime, *,
                               place_kind: PlaceKind | None = None, place: str | None = None,
                               now: datetime | None = None) -> Item:
    now = now or clock()
    async with in_transaction() as conn:
        row = await _professional_row(viewer.professional_id, appointment_id, conn)
        moved = await _move_row(conn, rt.settings, row, viewer.account_id, start_at, end_at,
                                now, place_kind=place_kind, place=place,
                                set_place=place_kind is not None or place is not None)
    if moved:
        await announce(rt, _change(row, "updated"))
    return await _reread(rt.settings, Scope.professional(viewer.professional_id), row.id, now)


# --- slots -----------------------------------------------------------------------------------


@dataclass
class Published:
    created: int
    slots: list[Slot]


async def publish_slots(rt: Runtime, viewer: policy.ProfessionalViewer,
                        recurrence: Recurrence) -> Published:
    """Idempotent: a slot at a start this professional already has is left as it is (unique
    (professional, start_at)); answers every slot of the recurrence."""
    place = _text(recurrence.place_address, "placeAddress", MAX_PLACE)
    kind = PlaceKind(recurrence.place_kind)
    if kind is PlaceKind.ADDRESS and not place:
        raise InvalidAppointmentInput("placeAddress", N_("Indiquez l'adresse du cabinet."))
    times = recurrence.starts(rt.settings.agenda_max_slots_per_publish)
    if not times:
        return Published(0, [])
    starts = [s for s, _ in times]
    before = await Slot.filter(professional_id=viewer.professional_id,
                               start_at__in=starts).count()
    await Slot.bulk_create(
        [Slot(id=uuid.uuid4(), professional_id=viewer.professional_id, start_at=s, end_at=e,
              time_zone=_zone(recurrence.time_zone), place_kind=kind,
              place_address=place if kind is PlaceKind.ADDRESS else None)
         for s, e in times],
        ignore_conflicts=True, batch_size=500)
    slots = await Slot.filter(professional_id=viewer.professional_id,
                              start_at__in=starts).order_by("start_at")
    return Published(max(0, len(slots) - before), slots)


async def cancel_slot(rt: Runtime, viewer: policy.ProfessionalViewer, slot_id: str, *,
                      now: datetime | None = None) -> uuid.UUID:
    """Withdraw a slot. A booked slot's appointment is cancelled with it (a notice to the
    patient, in the same transaction); past appointments keep their time but no longer name
    the withdrawn slot."""
    now = now or clock()
    parsed = policy.parse_public_id(slot_id)
    if parsed is None:
        raise SlotNotFound()
    cancelled: Appointment | None = None
    async with in_transaction() as conn:
        slot = await (Slot.filter(id=parsed, professional_id=viewer.professional_id)
                      .using_db(conn).select_for_update().first())
        if slot is None:
            raise SlotNotFound()
        holder = await (Appointment.filter(active_slot_id=slot.id).using_db(conn)
                        .select_for_update().first())
        if holder is not None:
            await _cancel_row(conn, holder, viewer.account_id, now, past_allowed=True)
            cancelled = holder
        await Appointment.filter(slot_id=slot.id).using_db(conn).update(slot_id=None)
        await Slot.filter(id=slot.id).using_db(conn).delete()
    if cancelled is not None:
        await announce(rt, _change(cancelled, "cancelled"))
    return parsed


def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = _aware(start, "from"), _aware(end, "to")
    if end <= start:
        raise InvalidAppointmentInput("to", N_("La fin doit suivre le début."))
    if end - start > MAX_RANGE:
        raise InvalidAppointmentInput("to", N_("Une période de plus de 400 jours ne peut être "
                                               "affichée en une fois."))
    return start, end


async def free_slots(professional_id: str | int, start: datetime, end: datetime, *,
                     now: datetime, limit: int = 500) -> list[Slot]:
    """A professional's free slots in [start, end) that have not begun (see the module doc:
    searchable by any signed-in user)."""
    start, end = _range(start, end)
    try:
        pid = int(str(professional_id))
    except ValueError:
        return []
    return await Slot.filter(professional_id=pid, status=SlotStatus.FREE,
                             start_at__gte=max(start, now), start_at__lt=end
                             ).order_by("start_at").limit(limit)


async def my_slots(viewer: policy.ProfessionalViewer, start: datetime, end: datetime, *,
                   limit: int = 1000) -> list[Slot]:
    start, end = _range(start, end)
    return await Slot.filter(professional_id=viewer.professional_id, start_at__gte=start,
                             start_at__lt=end).order_by("start_at").limit(limit)


# --- professional software (FHIR Appointment, backend/agenda/fhir.py) ------------------------


def source_key(system: str, value: str) -> str:
    return hashlib.sha256(f"{system}|{value}".encode()).hexdigest()


@dataclass
class SoftwareAppointment:
    data: AppointmentInput
    status: AppointmentStatus
    source_key: str | None = None


async def upsert_from_software(rt: Runtime, *, professional_account_id: int,
                               professional_id: int, person_id: int,
                               incoming: SoftwareAppointment, now: datetime | None = None
                               ) -> tuple[Item, bool]:
    """Create (True) or, for an identifier already posted for this patient, update (False)."""
    now = now or clock()
    data = incoming.data.checked()
    if incoming.source_key is not None:
        existing = await Appointment.filter(person_id=person_id,
                                            source_key=incoming.source_key).first()
        if existing is not None:
            if existing.professional_id != professional_id:
                raise AppointmentNotFound()
            item = await update_from_software(rt, professional_account_id=professional_account_id,
                                              professional_id=professional_id,
                                              appointment_id=existing.id, incoming=incoming,
                                              now=now)
            return item, False
    row = await _new_row(rt.settings, person_id=person_id, data=data,
                         source=AppointmentSource.PROFESSIONAL_SOFTWARE,
                         account_id=professional_account_id, professional_id=professional_id,
                         status=incoming.status, source_key=incoming.source_key)
    try:
        await row.save(force_create=True)
    except IntegrityError:
        # The same identifier posted twice at once: the other request created it.
        return await upsert_from_software(rt, professional_account_id=professional_account_id,
                                          professional_id=professional_id, person_id=person_id,
                                          incoming=incoming, now=now)
    await announce(rt, _change(row, "created"))
    return await _reread(rt.settings, Scope.professional(professional_id), row.id, now), True


async def update_from_software(rt: Runtime, *, professional_account_id: int,
                               professional_id: int, appointment_id: str | uuid.UUID,
                               incoming: SoftwareAppointment, now: datetime | None = None
                               ) -> Item:
    """PUT: move, change the place, or cancel (status cancelled) an appointment this
    professional holds (others: AppointmentNotFound)."""
    now = now or clock()
    data = incoming.data.checked()
    kind = "updated"
    async with in_transaction() as conn:
        row = await _professional_row(professional_id, appointment_id, conn)
        if incoming.status is AppointmentStatus.CANCELLED:
            if row.status is not AppointmentStatus.CANCELLED:
                await _cancel_row(conn, row, professional_account_id, now, past_allowed=True)
                kind = "cancelled"
            else:
                kind = ""
        elif incoming.status in (AppointmentStatus.DONE, AppointmentStatus.NO_SHOW):
            if row.status is not incoming.status:
                row.status = incoming.status
                await _free_slot(conn, row)
                row.sequence += 1
                row.updated_by_account_id = professional_account_id
                await row.save(using_db=conn)
            else:
                kind = ""
        else:
            if row.status is AppointmentStatus.CANCELLED:
                raise InvalidAppointmentInput("status", N_("Ce rendez-vous est annulé."))
            moved = await _move_row(conn, rt.settings, row, professional_account_id,
                                    data.start_at, data.end_at, now, place_kind=data.place_kind,
                                    place=data.place, set_place=True)
            details = unseal(await keys.data_key_by_id(rt.settings, row.data_key_id), row.id,
                             row.details_encrypted)
            # A PUT replaces the resource: the texts are the new ones, the place as just set.
            wanted = {k: v for k, v in data.details().items() if k != "place"}
            if "place" in details:
                wanted["place"] = details["place"]
            status_changed = row.status is not incoming.status
            if wanted != details or status_changed:
                row.details_encrypted = seal(
                    await keys.data_key_by_id(rt.settings, row.data_key_id), row.id, wanted)
                if status_changed:
                    row.status = incoming.status
                    if not moved:
                        row.sequence += 1
                row.updated_by_account_id = professional_account_id
                await row.save(using_db=conn)
            elif not moved:
                kind = ""
    if kind:
        await announce(rt, _change(row, kind))
    return await _reread(rt.settings, Scope.professional(professional_id), row.id, now)
