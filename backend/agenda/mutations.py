"""GraphQL mutations of the agenda: resolvers translate, services decide (backend/agenda/
services.py); every refusal is a typed member of the result union."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from backend.access import policy
from backend.agenda import services
from backend.agenda.models import PlaceKind as PlaceKindModel
from backend.agenda.types import (
    Appointment,
    AppointmentCancelled,
    AppointmentInput,
    AppointmentResult,
    BookSlotResult,
    CancelAppointmentResult,
    CancelSlotResult,
    MoveAppointmentResult,
    PlaceKind,
    PublishSlotsResult,
    RescheduleAppointmentResult,
    ScheduleAppointmentInput,
    ScheduleAppointmentResult,
    Slot,
    SlotCancelled,
    SlotRecurrenceInput,
    SlotsPublished,
)
from backend.app_scopes import AGENDA_WRITE, app_scope
from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.permissions import IsAuthenticated, IsPatient, IsProfessional


def _patient(info: Info) -> policy.PatientViewer:
    # IsPatient: the patient, or an app or a carer writing in their space (agenda:write).
    viewer = policy.acting_patient(policy.viewer_of(info.context.viewer))
    assert viewer is not None
    return viewer


def _professional(info: Info) -> policy.ProfessionalViewer:
    viewer = policy.viewer_of(info.context.viewer)
    assert isinstance(viewer, policy.ProfessionalViewer)  # IsProfessional
    return viewer


@strawberry.type
class AgendaMutations:
    @strawberry.mutation(description="Add my own appointment (any practitioner, in free text).",
                         permission_classes=[IsPatient], directives=[app_scope(AGENDA_WRITE)])
    async def add_appointment(self, info: Info, input: AppointmentInput) -> AppointmentResult:
        try:
            item = await services.add_own(info.context.runtime, _patient(info),
                                          input.to_service())
        except DomainError as exc:
            return to_graphql_error(exc)
        return Appointment.from_item(item)

    @strawberry.mutation(description="Change one of my own appointments (not one made with or "
                                     "by a professional: reschedule or cancel those).",
                         permission_classes=[IsPatient], directives=[app_scope(AGENDA_WRITE)])
    async def update_appointment(self, info: Info, id: strawberry.ID, input: AppointmentInput
                                 ) -> AppointmentResult:
        try:
            item = await services.update_own(info.context.runtime, _patient(info), str(id),
                                             input.to_service())
        except DomainError as exc:
            return to_graphql_error(exc)
        return Appointment.from_item(item)

    @strawberry.mutation(description="Cancel an appointment: a patient, one of theirs (until "
                                     "the online deadline for those with a professional; the "
                                     "slot is freed); a professional, one with them (the "
                                     "patient is told).", permission_classes=[IsAuthenticated],
                         directives=[app_scope(AGENDA_WRITE)])
    async def cancel_appointment(self, info: Info, id: strawberry.ID
                                 ) -> CancelAppointmentResult:
        viewer = policy.viewer_of(info.context.viewer)
        rt = info.context.runtime
        try:
            if isinstance(viewer, policy.PatientViewer):
                item = await services.cancel_by_patient(rt, viewer, str(id))
            elif isinstance(viewer, policy.ProfessionalViewer):
                item = await services.cancel_by_professional(rt, viewer, str(id))
            else:
                raise services.AppointmentNotFound()
        except DomainError as exc:
            return to_graphql_error(exc)
        return AppointmentCancelled(appointment=Appointment.from_item(item))

    @strawberry.mutation(description="Move my booking to another free slot of the same "
                                     "professional (until the online deadline).",
                         permission_classes=[IsPatient], directives=[app_scope(AGENDA_WRITE)])
    async def reschedule_appointment(self, info: Info, id: strawberry.ID,
                                     slot_id: strawberry.ID) -> RescheduleAppointmentResult:
        try:
            item = await services.reschedule_by_patient(info.context.runtime, _patient(info),
                                                        str(id), str(slot_id))
        except DomainError as exc:
            return to_graphql_error(exc)
        return Appointment.from_item(item)

    @strawberry.mutation(description="Book a professional's free slot (the reason is for the "
                                     "professional). Never two bookings of one slot.",
                         permission_classes=[IsPatient], directives=[app_scope(AGENDA_WRITE)])
    async def book_slot(self, info: Info, slot_id: strawberry.ID, reason: str | None = None
                        ) -> BookSlotResult:
        try:
            item = await services.book_slot(info.context.runtime, _patient(info), str(slot_id),
                                            reason)
        except DomainError as exc:
            return to_graphql_error(exc)
        return Appointment.from_item(item)

    @strawberry.mutation(description="Schedule an appointment for a patient of mine (an "
                                     "active care relationship; otherwise PatientNotFound, as "
                                     "for an unknown id). `patientId` is the patient's public "
                                     "id.",
                         permission_classes=[IsProfessional])
    async def schedule_appointment(self, info: Info, patient_id: strawberry.ID,
                                   input: ScheduleAppointmentInput) -> ScheduleAppointmentResult:
        try:
            item = await services.schedule(info.context.runtime, _professional(info),
                                           str(patient_id), input.to_service())
        except DomainError as exc:
            return to_graphql_error(exc)
        return Appointment.from_item(item)

    @strawberry.mutation(description="Move an appointment with me (and optionally change its "
                                     "place); the patient is told.",
                         permission_classes=[IsProfessional])
    async def move_appointment(self, info: Info, id: strawberry.ID, start: datetime,
                               end: datetime, place_kind: PlaceKind | None = None,
                               place: str | None = None) -> MoveAppointmentResult:
        try:
            item = await services.move_by_professional(
                info.context.runtime, _professional(info), str(id), start, end,
                place_kind=PlaceKindModel(place_kind.value) if place_kind else None,
                place=place)
        except DomainError as exc:
            return to_graphql_error(exc)
        return Appointment.from_item(item)

    @strawberry.mutation(description="Publish bookable slots from a recurrence (idempotent).",
                         permission_classes=[IsProfessional])
    async def publish_slots(self, info: Info, input: SlotRecurrenceInput) -> PublishSlotsResult:
        try:
            published = await services.publish_slots(info.context.runtime, _professional(info),
                                                     input.to_service())
        except DomainError as exc:
            return to_graphql_error(exc)
        return SlotsPublished(created=published.created,
                              slots=[Slot.from_model(s) for s in published.slots])

    @strawberry.mutation(description="Withdraw one of my slots; a booking on it is cancelled "
                                     "(the patient is told).",
                         permission_classes=[IsProfessional])
    async def cancel_slot(self, info: Info, slot_id: strawberry.ID) -> CancelSlotResult:
        try:
            removed = await services.cancel_slot(info.context.runtime, _professional(info),
                                                 str(slot_id))
        except DomainError as exc:
            return to_graphql_error(exc)
        return SlotCancelled(slot_id=strawberry.ID(str(removed)))
