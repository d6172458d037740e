"""GraphQL queries of the agenda.

`appointments` (the patient's own agenda) and `professionalAppointments` (a professional's
bookings) are Relay connections by start time; `appointment(id)` reads one for either; slots:
`freeSlots` (any signed-in user: see services' module doc) and `mySlots` (professionals).
`PatientRecordAgenda` is the agenda part of `patientRecord` (assembled in backend/schema.py):
a professional with a ground reads the patient's appointments, with the free texts of only
their own; each such read is one AGENDA entry in the patient's access log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.access import policy
from backend.agenda import services
from backend.agenda.errors import InvalidAppointmentInput
from backend.agenda.loaders import key_ring
from backend.agenda.types import Appointment, AppointmentConnection, Slot
from backend.app_scopes import AGENDA_READ, app_scope
from backend.audit.models import AccessKind
from backend.errors import PublicError
from backend.permissions import IsAuthenticated, IsPatient, IsProfessional

# `from` is a Python keyword: the argument is named in the schema.
FROM = strawberry.argument(name="from")


def _now(info: Info) -> datetime:
    return services.clock()


def scope_of(info: Info) -> services.Scope:
    viewer = policy.viewer_of(info.context.viewer)
    if isinstance(viewer, policy.PatientViewer | policy.AppViewer):
        return services.Scope.patient(viewer.person_id)
    if isinstance(viewer, policy.ProxyViewer):  # a carer in the patient's space
        return services.Scope.patient(viewer.patient_id)
    if isinstance(viewer, policy.ProfessionalViewer):
        return services.Scope.professional(viewer.professional_id)
    return services.Scope()


def log_app_read(info: Info) -> None:
    """An app or a carer read the patient's agenda: the patient's access log says so (the
    patient's own reads, and a professional's own bookings, are not logged)."""
    viewer = policy.viewer_of(info.context.viewer)
    if isinstance(viewer, policy.AppViewer | policy.ProxyViewer):
        policy.log_read(policy.own_access(viewer), AccessKind.AGENDA)


def _input_error(exc: InvalidAppointmentInput) -> PublicError:
    # A query has no result union: a bad argument (range, cursor) is a public error.
    return PublicError(exc.translatable, code="BAD_USER_INPUT")


async def connection(info: Info, scope: services.Scope, from_: datetime | None,
                     to: datetime | None, first: int, after: str | None
                     ) -> AppointmentConnection:
    try:
        page = await services.list_appointments(
            info.context.settings, scope, start=from_, end=to, first=first, after=after,
            ring=key_ring(info.context), now=_now(info),
            with_patient=not scope.is_patient)
    except InvalidAppointmentInput as exc:
        raise _input_error(exc) from None
    return AppointmentConnection.from_page(page)


@strawberry.type
class AgendaQueries:
    @strawberry.field(description="My agenda: my appointments overlapping [from, to) (either "
                                  "may be omitted), by start time; every source and status.",
                      permission_classes=[IsPatient], directives=[app_scope(AGENDA_READ)])
    async def appointments(self, info: Info,
                           from_: Annotated[datetime | None, FROM] = None,
                           to: datetime | None = None, first: int = 20,
                           after: str | None = None) -> AppointmentConnection:
        result = await connection(info, scope_of(info), from_, to, first, after)
        log_app_read(info)
        return result

    @strawberry.field(description="My bookings as a professional (appointments with me, "
                                  "whoever made them), overlapping [from, to), by start time.",
                      permission_classes=[IsProfessional])
    async def professional_appointments(self, info: Info,
                                        from_: Annotated[datetime | None, FROM] = None,
                                        to: datetime | None = None, first: int = 20,
                                        after: str | None = None) -> AppointmentConnection:
        return await connection(info, scope_of(info), from_, to, first, after)

    @strawberry.field(description="One appointment of my agenda (patient) or with me "
                                  "(professional); null for a missing one and for one I may "
                                  "not see, alike.", permission_classes=[IsAuthenticated],
                      directives=[app_scope(AGENDA_READ)])
    async def appointment(self, info: Info, id: strawberry.ID) -> Appointment | None:
        scope = scope_of(info)
        item = await services.readable(info.context.settings, scope, str(id),
                                       ring=key_ring(info.context), now=_now(info),
                                       with_patient=not scope.is_patient)
        if item is None:
            return None
        log_app_read(info)
        return Appointment.from_item(item)

    @strawberry.field(description="A professional's free slots in [from, to) that have not "
                                  "begun (at most 400 days). Any signed-in user may search any "
                                  "professional's free slots: they name no patient.",
                      permission_classes=[IsAuthenticated], directives=[app_scope(AGENDA_READ)])
    async def free_slots(self, info: Info, professional_id: strawberry.ID,
                         from_: Annotated[datetime, FROM], to: datetime) -> list[Slot]:
        try:
            rows = await services.free_slots(str(professional_id), from_, to, now=_now(info))
        except InvalidAppointmentInput as exc:
            raise _input_error(exc) from None
        return [Slot.from_model(r) for r in rows]

    @strawberry.field(description="My published slots (free and booked) starting in "
                                  "[from, to).", permission_classes=[IsProfessional])
    async def my_slots(self, info: Info, from_: Annotated[datetime, FROM],
                       to: datetime) -> list[Slot]:
        viewer = policy.viewer_of(info.context.viewer)
        assert isinstance(viewer, policy.ProfessionalViewer)  # IsProfessional
        try:
            rows = await services.my_slots(viewer, from_, to)
        except InvalidAppointmentInput as exc:
            raise _input_error(exc) from None
        return [Slot.from_model(r) for r in rows]


@strawberry.type
class PatientRecordAgenda:
    """The agenda part of `PatientRecord` (backend/schema.py)."""

    _access: strawberry.Private[policy.Access]

    @strawberry.field(description="The patient's appointments overlapping [from, to), by start "
                                  "time. Free texts (reason, notes, place) only for those with "
                                  "me. Recorded in the patient's access log.")
    async def appointments(self, info: Info,
                           from_: Annotated[datetime | None, FROM] = None,
                           to: datetime | None = None, first: int = 20,
                           after: str | None = None) -> AppointmentConnection:
        result = await connection(info, services.Scope.record(self._access), from_, to, first,
                                  after)
        policy.log_read(self._access, AccessKind.AGENDA)
        return result

