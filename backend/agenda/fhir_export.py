"""The agenda's part of the whole-record FHIR export (`Patient/{id}/$everything`, GraphQL
`fhirEverything`): one FHIR R4 `Appointment` per appointment.

Registered by the composition root (backend/schema.py) into backend/profile/fhir_export.py,
which calls `appointment_resources(context)` with the export's access, the Patient's reference
and a way to reference a professional's Practitioner (with its RPPS identifier).

- id: the appointment's own UUID (stable); `meta.lastUpdated` its update time.
- status: proposed -> proposed, booked -> booked, cancelled -> cancelled, done -> fulfilled,
  no_show -> noshow.
- start / end: instants in UTC (`2026-07-01T08:30:00Z`); `minutesDuration`; `created`.
- participant: the Patient; the professional as a Practitioner (RPPS identifier, in the
  reference and in the Practitioner resource) or, for the patient's own entries, the
  practitioner they wrote as a display; the place as a display (an address or
  "Téléconsultation"). Participant status: needs-action while proposed, declined once
  cancelled, accepted otherwise.
- What each reader gets:
  - the patient: every appointment, with the reason (`description`) and notes (`comment`);
  - a professional (reading on a ground the access policy gave): ONLY the appointments with
    THEM, with the reason (the patient gave it to them when booking, or they wrote it), never
    the notes; none of the appointments with other professionals nor the patient's own entries:
    who else a patient sees, and when, is health data the access policy's sections do not
    cover.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.agenda.models import Appointment, AppointmentStatus, PlaceKind
from backend.agenda.sealing import DetailsReader

STATUS = {
    AppointmentStatus.PROPOSED: "proposed",
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.DONE: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
}
PARTICIPANT_STATUS = {
    AppointmentStatus.PROPOSED: "needs-action",
    AppointmentStatus.CANCELLED: "declined",
}
TELECONSULTATION = "Téléconsultation"  # the export is in French, like its other texts


def instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _reader_professional_id(access: Any) -> int | None:
    return getattr(access.viewer, "professional_id", None)


def appointment_resource(context: Any, appointment: Appointment, details: dict[str, str], *,
                         with_notes: bool) -> dict[str, Any]:
    status = AppointmentStatus(appointment.status)
    participant_status = PARTICIPANT_STATUS.get(status, "accepted")
    participants: list[dict[str, Any]] = [
        {"actor": context.patient_ref, "required": "required", "status": participant_status}]
    if appointment.professional is not None:
        participants.append({"actor": context.practitioner_ref(appointment.professional),
                             "required": "required", "status": participant_status})
    elif details.get("practitioner"):
        participants.append({"actor": {"display": details["practitioner"]},
                             "required": "required", "status": participant_status})
    place = (TELECONSULTATION if appointment.place_kind == PlaceKind.TELECONSULTATION
             else details.get("place")
             or getattr(appointment.professional, "practice_address", None))
    if place:
        participants.append({"actor": {"type": "Location", "display": place},
                             "required": "information-only", "status": participant_status})
    minutes = int((appointment.end_at - appointment.start_at).total_seconds() // 60)
    resource: dict[str, Any] = {
        "resourceType": "Appointment", "id": str(appointment.id),
        "meta": {"lastUpdated": instant(appointment.updated_at)},
        "status": STATUS[status],
        "description": details.get("reason"),
        "start": instant(appointment.start_at),
        "end": instant(appointment.end_at),
        "minutesDuration": minutes if minutes > 0 else None,
        "created": instant(appointment.created_at),
        "comment": details.get("notes") if with_notes else None,
        "participant": participants,
    }
    return {k: v for k, v in resource.items() if v not in (None, "", [])}


async def appointment_resources(context: Any) -> list[dict[str, Any]]:
    access = context.access
    if not access.granted:
        return []
    query = Appointment.filter(person_id=access.patient_id)
    if not access.is_patient_self:
        professional_id = _reader_professional_id(access)
        if professional_id is None:
            return []
        query = query.filter(professional_id=professional_id)
    appointments = await query.select_related("professional").order_by("start_at", "id")
    reader = DetailsReader(context.settings)
    return [appointment_resource(context, a, await reader.details(a),
                                 with_notes=access.is_patient_self)
            for a in appointments]
