"""GraphQL types of the agenda: appointments, slots, the typed errors and result unions."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import Enum
from typing import Annotated

import strawberry

from backend.agenda import errors, services
from backend.agenda.models import AppointmentSource as SourceModel
from backend.agenda.models import AppointmentStatus as StatusModel
from backend.agenda.models import PlaceKind as PlaceKindModel
from backend.agenda.models import Slot as SlotModel
from backend.agenda.models import SlotStatus as SlotStatusModel
from backend.app_scopes import SAME_AS_PARENT, app_scope
from backend.graphql_errors import Error, PatientNotFound, translates
from backend.graphql_types import ProfessionalSummary
from backend.identity.models import Professional


@strawberry.enum(description="Where an appointment takes place.")
class PlaceKind(Enum):
    ADDRESS = PlaceKindModel.ADDRESS.value
    TELECONSULTATION = PlaceKindModel.TELECONSULTATION.value


@strawberry.enum
class AppointmentStatus(Enum):
    PROPOSED = StatusModel.PROPOSED.value
    BOOKED = StatusModel.BOOKED.value
    CANCELLED = StatusModel.CANCELLED.value
    DONE = StatusModel.DONE.value
    NO_SHOW = StatusModel.NO_SHOW.value


@strawberry.enum(description="Who put the appointment in the agenda.")
class AppointmentSource(Enum):
    PATIENT = SourceModel.PATIENT.value
    PROFESSIONAL = SourceModel.PROFESSIONAL.value
    PROFESSIONAL_SOFTWARE = SourceModel.PROFESSIONAL_SOFTWARE.value
    BOOKED_SLOT = SourceModel.BOOKED_SLOT.value


@strawberry.enum
class SlotStatus(Enum):
    FREE = SlotStatusModel.FREE.value
    BOOKED = SlotStatusModel.BOOKED.value


def professional_summary(row: Professional | None) -> ProfessionalSummary | None:
    if row is None:
        return None
    return ProfessionalSummary(id=strawberry.ID(str(row.id)), rpps=row.rpps,
                               profession=row.profession, specialty=row.specialty,
                               practice_name=row.practice_name)


@strawberry.type(description="The patient of an appointment, for the professional it is with.",
                 directives=[app_scope(SAME_AS_PARENT)])
class AppointmentPatient:
    patient_id: strawberry.ID = strawberry.field(description="Public id (patientRecord).")
    birth_name: str
    first_names: str
    birth_date: date


@strawberry.type(description="An appointment. Free texts (reason, notes, practitioner, place) "
                              "are null for a reader they are not for (another professional's "
                              "appointment read through patientRecord).",
                 directives=[app_scope(SAME_AS_PARENT)])
class Appointment:
    id: strawberry.ID
    start: datetime
    end: datetime
    time_zone: str = strawberry.field(description="IANA zone the times are shown in.")
    place_kind: PlaceKind
    place: str | None = strawberry.field(description="Address (null for a teleconsultation).")
    reason: str | None
    notes: str | None
    practitioner: str | None = strawberry.field(
        description="Free-text practitioner of the patient's own entry.")
    professional: ProfessionalSummary | None = strawberry.field(
        description="The professional it is with, when known to Carnet (built by the parent "
                    "resolver: no extra statement).")
    patient: AppointmentPatient | None = strawberry.field(
        description="Who it is for: only in a professional's views.")
    status: AppointmentStatus
    source: AppointmentSource
    sequence: int = strawberry.field(description="Incremented by every change of time, place "
                                                 "or status (the .ics SEQUENCE).")
    can_cancel: bool = strawberry.field(description="Whether I may cancel (or move) it now.")
    cancel_deadline: datetime | None = strawberry.field(
        description="For the patient: until when it may be cancelled or moved online (null: "
                    "anytime, an own entry).")
    slot_id: strawberry.ID | None
    ics_url: str = strawberry.field(description="GET with the bearer token: one VEVENT.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_item(cls, item: services.Item) -> Appointment:
        row, d = item.row, item.details
        person = item.patient
        patient = AppointmentPatient(
            patient_id=strawberry.ID(str(person.public_id)), birth_name=person.birth_name,
            first_names=person.first_names, birth_date=person.birth_date,
        ) if person is not None else None
        return cls(
            id=strawberry.ID(str(row.id)), start=row.start_at, end=row.end_at,
            time_zone=row.time_zone, place_kind=PlaceKind(row.place_kind.value),
            place=d.get("place"), reason=d.get("reason"), notes=d.get("notes"),
            practitioner=d.get("practitioner"),
            professional=professional_summary(item.professional), patient=patient,
            status=AppointmentStatus(row.status.value), source=AppointmentSource(row.source.value),
            sequence=row.sequence, can_cancel=item.can_cancel,
            cancel_deadline=item.cancel_deadline,
            slot_id=strawberry.ID(str(row.slot_id)) if row.slot_id else None,
            ics_url=f"/agenda/{row.id}.ics", created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class AppointmentEdge:
    cursor: str
    node: Appointment


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class AppointmentPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Appointments by start time (Relay connection).",
                 directives=[app_scope(SAME_AS_PARENT)])
class AppointmentConnection:
    edges: list[AppointmentEdge]
    page_info: AppointmentPageInfo

    @classmethod
    def from_page(cls, page: services.Page) -> AppointmentConnection:
        edges = [AppointmentEdge(cursor=services.encode_cursor(i.row),
                                 node=Appointment.from_item(i)) for i in page.items]
        return cls(edges=edges, page_info=AppointmentPageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None))


@strawberry.type(description="A bookable slot a professional published.",
                 directives=[app_scope(SAME_AS_PARENT)])
class Slot:
    id: strawberry.ID
    professional_id: strawberry.ID
    start: datetime
    end: datetime
    time_zone: str
    place_kind: PlaceKind
    place: str | None
    status: SlotStatus

    @classmethod
    def from_model(cls, row: SlotModel) -> Slot:
        return cls(id=strawberry.ID(str(row.id)),
                   professional_id=strawberry.ID(str(row.professional_id)), start=row.start_at,
                   end=row.end_at, time_zone=row.time_zone,
                   place_kind=PlaceKind(row.place_kind.value), place=row.place_address,
                   status=SlotStatus(row.status.value))


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input(description="My own appointment (any practitioner, in free text).")
class AppointmentInput:
    start: datetime
    end: datetime
    time_zone: str = services.PARIS
    place_kind: PlaceKind = PlaceKind.ADDRESS
    place: str | None = None
    reason: str | None = None
    notes: str | None = None
    practitioner: str | None = None

    def to_service(self) -> services.AppointmentInput:
        return services.AppointmentInput(
            start_at=self.start, end_at=self.end, time_zone=self.time_zone,
            place_kind=PlaceKindModel(self.place_kind.value), place=self.place,
            reason=self.reason, notes=self.notes, practitioner=self.practitioner)


@strawberry.input(description="An appointment a professional sets for a patient of theirs.")
class ScheduleAppointmentInput:
    start: datetime
    end: datetime
    time_zone: str = services.PARIS
    place_kind: PlaceKind = PlaceKind.ADDRESS
    place: str | None = None
    reason: str | None = None
    notes: str | None = None

    def to_service(self) -> services.AppointmentInput:
        return services.AppointmentInput(
            start_at=self.start, end_at=self.end, time_zone=self.time_zone,
            place_kind=PlaceKindModel(self.place_kind.value), place=self.place,
            reason=self.reason, notes=self.notes)


@strawberry.input(description="Slots to publish: every chosen weekday from startDate to endDate "
                               "(inclusive), slots of durationMinutes from dayStart to dayEnd, "
                               "wall-clock times in timeZone (Europe/Paris: 09:00 stays 09:00 "
                               "across daylight saving changes). Publishing again adds nothing "
                               "already there.")
class SlotRecurrenceInput:
    start_date: date
    end_date: date
    weekdays: list[int] = strawberry.field(description="0 = Monday ... 6 = Sunday.")
    day_start: time
    day_end: time
    duration_minutes: int
    place_kind: PlaceKind = PlaceKind.ADDRESS
    place_address: str | None = None
    time_zone: str = services.PARIS

    def to_service(self) -> services.Recurrence:
        return services.Recurrence(
            start_date=self.start_date, end_date=self.end_date, weekdays=list(self.weekdays),
            day_start=self.day_start, day_end=self.day_end,
            duration_minutes=self.duration_minutes,
            place_kind=PlaceKindModel(self.place_kind.value), place_address=self.place_address,
            time_zone=self.time_zone)


# --- typed errors ----------------------------------------------------------------------------


@translates(errors.AppointmentNotFound)
@strawberry.type(description="No such appointment, or not one I may see (the same answer).")
class AppointmentNotFound(Error):
    pass


@translates(errors.SlotNotFound)
@strawberry.type(description="No such slot (or it was withdrawn).")
class SlotNotFound(Error):
    pass


@translates(errors.SlotTaken)
@strawberry.type(description="Someone booked this slot first.")
class SlotTaken(Error):
    pass


@translates(errors.SlotInPast)
@strawberry.type(description="The slot has begun or is past.")
class SlotInPast(Error):
    pass


@translates(errors.TooLateToCancel)
@strawberry.type(description="Past the online cancellation deadline "
                              "(AGENDA_CANCEL_DEADLINE_HOURS before the start).")
class TooLateToCancel(Error):
    deadline: datetime


@translates(errors.InvalidAppointmentInput)
@strawberry.type(description="A field is missing or wrong (`field` names it).")
class InvalidAppointmentInput(Error):
    field: str


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class AppointmentCancelled:
    appointment: Appointment


@strawberry.type
class SlotsPublished:
    created: int = strawberry.field(description="New slots (those already there are kept).")
    slots: list[Slot] = strawberry.field(description="Every slot of the recurrence.")


@strawberry.type
class SlotCancelled:
    slot_id: strawberry.ID


AppointmentResult = Annotated[
    Appointment | AppointmentNotFound | InvalidAppointmentInput,
    strawberry.union("AppointmentResult")]
ScheduleAppointmentResult = Annotated[
    Appointment | PatientNotFound | InvalidAppointmentInput,
    strawberry.union("ScheduleAppointmentResult")]
BookSlotResult = Annotated[
    Appointment | SlotNotFound | SlotTaken | SlotInPast | InvalidAppointmentInput,
    strawberry.union("BookSlotResult")]
CancelAppointmentResult = Annotated[
    AppointmentCancelled | AppointmentNotFound | TooLateToCancel | InvalidAppointmentInput,
    strawberry.union("CancelAppointmentResult")]
RescheduleAppointmentResult = Annotated[
    Appointment | AppointmentNotFound | SlotNotFound | SlotTaken | SlotInPast | TooLateToCancel
    | InvalidAppointmentInput,
    strawberry.union("RescheduleAppointmentResult")]
MoveAppointmentResult = Annotated[
    Appointment | AppointmentNotFound | InvalidAppointmentInput,
    strawberry.union("MoveAppointmentResult")]
PublishSlotsResult = Annotated[
    SlotsPublished | InvalidAppointmentInput, strawberry.union("PublishSlotsResult")]
CancelSlotResult = Annotated[SlotCancelled | SlotNotFound, strawberry.union("CancelSlotResult")]


@strawberry.enum
class AgendaChangeKind(Enum):
    CREATED = "created"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    RESYNC = "resync"


@strawberry.type(description="Something changed in my agenda. `appointment` is read as I may "
                              "read it (null if I no longer may); RESYNC: updates may have "
                              "been missed (a reconnection): read the agenda again.",
                 directives=[app_scope(SAME_AS_PARENT)])
class AgendaChange:
    kind: AgendaChangeKind
    appointment_id: strawberry.ID | None
    appointment: Appointment | None
