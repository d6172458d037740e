"""FHIR R4 intake of appointments from professional software.

`POST /fhir/r4/Appointment` creates an appointment in a patient's agenda (source
PROFESSIONAL_SOFTWARE), the patient identified by INS traits exactly as the DocumentReference
intake does (backend/records/fhir.py, `matching.find_patient`: a contained Patient with the INS
identifier, the official family name and `birthDate`, referenced by a participant's `actor`);
the practitioner by RPPS (a contained Practitioner or a logical reference by identifier), which
must be the signed-in professional's. An `identifier` (system + value) makes a repeated POST
of the same appointment update it (200) instead of adding a copy (201): it is kept as
`source_key` = SHA-256 of "system|value".

`PUT /fhir/r4/Appointment/{id}` moves it (start, end, place) or cancels it (`status`
cancelled; fulfilled and noshow are recorded too). Only the professional it is with (the one
who created it: one Professional per RPPS) may: any other answers 404, as for a missing id.
Moves and cancellations by software insert the patient's notice in the same transaction
(services), like the professional's own.

Mapping: `description` is the reason, `comment` the notes; `status` proposed / pending /
waitlist -> PROPOSED, booked / arrived / checked-in -> BOOKED, fulfilled -> DONE, noshow ->
NO_SHOW, cancelled / entered-in-error -> CANCELLED. The place: a contained Location referenced
by a participant, its `address` (text, or lines, postal code and city) or `name`; a Location
whose `physicalType` is `vi` (virtual, http://terminology.hl7.org/CodeSystem/
location-physical-type) is a teleconsultation. Times are instants (with offsets); the time zone
shown is Europe/Paris. Validated with fhir.resources' R4B models (identical to R4 for
Appointment, Patient, Practitioner and Location as used here). Errors: OperationOutcome.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend import jsonbody
from backend.access.authentication import signed_in
from backend.agenda import services
from backend.agenda.errors import AppointmentNotFound, InvalidAppointmentInput
from backend.agenda.models import AppointmentStatus, PlaceKind
from backend.identity import matching
from backend.identity.models import Professional
from backend.records.fhir import (
    FHIR_JSON,
    INS_SYSTEMS,
    RPPS_SYSTEMS,
    FhirInputError,
    operation_outcome,
)

PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
STATUSES = {
    "proposed": AppointmentStatus.PROPOSED, "pending": AppointmentStatus.PROPOSED,
    "waitlist": AppointmentStatus.PROPOSED, "booked": AppointmentStatus.BOOKED,
    "arrived": AppointmentStatus.BOOKED, "checked-in": AppointmentStatus.BOOKED,
    "fulfilled": AppointmentStatus.DONE, "noshow": AppointmentStatus.NO_SHOW,
    "cancelled": AppointmentStatus.CANCELLED, "entered-in-error": AppointmentStatus.CANCELLED,
}
FHIR_STATUS = {
    AppointmentStatus.PROPOSED: "proposed", AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.DONE: "fulfilled", AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.CANCELLED: "cancelled",
}


def _issue(code: str, diagnostics: str, expression: str | None = None,
           severity: str = "error") -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def _contained(resource: FhirAppointment, reference: str, kind: str) -> Any | None:
    for item in resource.contained or []:
        if item.get_resource_type() == kind and item.id == reference[1:]:
            return item
    return None


def _actors(resource: FhirAppointment, kind: str) -> list[tuple[int, Any, Any]]:
    """(index, participant actor reference, contained resource or None) of `kind`."""
    found = []
    for index, participant in enumerate(resource.participant or []):
        actor = participant.actor
        if actor is None:
            continue
        reference = actor.reference or ""
        if reference.startswith("#"):
            item = _contained(resource, reference, kind)
            if item is not None:
                found.append((index, actor, item))
            elif actor.type == kind:
                raise FhirInputError("not-found", f"Appointment.participant[{index}].actor: no "
                                     f"contained {kind} '{reference}'",
                                     f"Appointment.participant[{index}]")
        elif actor.type == kind or (kind == "Practitioner" and actor.identifier is not None
                                    and actor.identifier.system in RPPS_SYSTEMS):
            found.append((index, actor, None))
    return found


def _patient_claim(resource: FhirAppointment) -> matching.PatientClaim:
    patients = [item for _, _, item in _actors(resource, "Patient") if item is not None]
    if not patients:
        raise FhirInputError("required", "Appointment.participant: a participant whose actor "
                             "references a contained Patient (INS identifier, official name, "
                             "birthDate) is required", "Appointment.participant")
    patient = patients[0]
    matricule = next((i.value for i in patient.identifier or []
                      if i.system in INS_SYSTEMS and i.value), None)
    if not matricule:
        raise FhirInputError("required", "Patient.identifier: an INS identifier (system "
                             "urn:oid:1.2.250.1.213.1.4.8) is required", "Patient.identifier")
    names = patient.name or []
    official = next((n for n in names if n.use == "official"), names[0] if names else None)
    if official is None or not official.family:
        raise FhirInputError("required", "Patient.name: the official (birth) family name is "
                             "required", "Patient.name")
    if patient.birthDate is None:
        raise FhirInputError("required", "Patient.birthDate is required", "Patient.birthDate")
    return matching.PatientClaim(matricule, official.family, patient.birthDate)


def _rpps_of(identifiers: list[Any]) -> str | None:
    for ident in identifiers:
        if ident is not None and ident.system in RPPS_SYSTEMS and ident.value:
            value = ident.value.strip()
            return value[1:] if len(value) == 12 and value.startswith("8") else value
    return None


def _practitioner_rpps(resource: FhirAppointment) -> str | None:
    for _, actor, item in _actors(resource, "Practitioner"):
        rpps = _rpps_of(list(item.identifier or [])) if item is not None else _rpps_of(
            [actor.identifier])
        if rpps is not None:
            return rpps
    return None


def _place(resource: FhirAppointment) -> tuple[PlaceKind, str | None]:
    for _, _, location in _actors(resource, "Location"):
        if location is None:
            continue
        codings = location.physicalType.coding if location.physicalType else None
        if any(c.system == PHYSICAL_TYPE and c.code == "vi" for c in codings or []):
            return PlaceKind.TELECONSULTATION, None
        address = location.address
        text = None
        if address is not None:
            text = address.text or ", ".join(
                part for part in (" ".join(address.line or []),
                                  " ".join(p for p in (address.postalCode, address.city) if p))
                if part) or None
        return PlaceKind.ADDRESS, text or location.name
    return PlaceKind.ADDRESS, None


def _source_key(resource: FhirAppointment) -> str | None:
    for ident in resource.identifier or []:
        if ident.system and ident.value:
            return services.source_key(ident.system, ident.value)
    return None


def _incoming(resource: FhirAppointment) -> services.SoftwareAppointment:
    status = STATUSES.get(resource.status or "")
    if status is None:
        raise FhirInputError("value", f"status '{resource.status}' is not supported",
                             "Appointment.status")
    if resource.start is None:
        raise FhirInputError("required", "start is required", "Appointment.start")
    end = resource.end
    if end is None and resource.minutesDuration:
        end = resource.start + timedelta(minutes=int(resource.minutesDuration))
    if end is None:
        raise FhirInputError("required", "end (or minutesDuration) is required",
                             "Appointment.end")
    kind, place = _place(resource)
    return services.SoftwareAppointment(
        data=services.AppointmentInput(
            start_at=resource.start, end_at=end, time_zone=services.PARIS, place_kind=kind,
            place=place, reason=resource.description, notes=resource.comment),
        status=status, source_key=_source_key(resource))


def _validation_issues(exc: ValidationError) -> list[dict[str, Any]]:
    return [_issue("structure", error["msg"],
                   "Appointment." + ".".join(str(p) for p in error["loc"] if p != "__root__"))
            for error in exc.errors()[:20]]


def _body(item: services.Item) -> dict[str, Any]:
    row = item.row
    body: dict[str, Any] = {
        "resourceType": "Appointment", "id": str(row.id),
        "meta": {"versionId": str(row.sequence)},
        "status": FHIR_STATUS[row.status],
        "start": row.start_at.isoformat(), "end": row.end_at.isoformat(),
    }
    return body


def _location(item: services.Item) -> str:
    return f"/fhir/r4/Appointment/{item.row.id}"


async def _parse(request: Request) -> tuple[Any, FhirAppointment] | Response:
    user = signed_in(request)
    viewer = user.session if user is not None else None
    if viewer is None:
        return operation_outcome([_issue("login", "A professional's bearer token is required")],
                                 401)
    if not viewer.is_professional:
        return operation_outcome([_issue("forbidden", "Only professionals may post "
                                         "appointments")], 403)
    try:
        payload = jsonbody.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return operation_outcome([_issue("structure", "The body is not JSON")], 400)
    if not isinstance(payload, dict) or payload.get("resourceType") != "Appointment":
        return operation_outcome([_issue("structure", "Expected an Appointment")], 400)
    try:
        return viewer, FhirAppointment.model_validate(payload)
    except ValidationError as exc:
        return operation_outcome(_validation_issues(exc), 400)


async def _check_rpps(resource: FhirAppointment, professional_id: int) -> None:
    rpps = _practitioner_rpps(resource)
    if rpps is None:
        return
    professional = await Professional.get(id=professional_id)
    if rpps != professional.rpps:
        raise FhirInputError("forbidden", "the practitioner does not match the signed-in "
                             "professional", "Appointment.participant", status=403)


def _input_error(exc: InvalidAppointmentInput) -> Response:
    return operation_outcome([_issue("value", exc.translated(), f"Appointment.{exc.field}")],
                             422)


async def create_appointment(request: Request) -> Response:
    runtime = request.app.state.runtime
    parsed = await _parse(request)
    if isinstance(parsed, Response):
        return parsed
    viewer, resource = parsed
    try:
        incoming = _incoming(resource)
        claim = _patient_claim(resource)
        await _check_rpps(resource, viewer.professional_id)
        incoming.data.checked()  # every input error before the identity match
        if incoming.status is AppointmentStatus.CANCELLED and incoming.source_key is None:
            raise FhirInputError("value", "a new appointment cannot be cancelled",
                                 "Appointment.status")
        match = await matching.find_patient(
            runtime, matching.Requester(viewer.account_id, viewer.professional_id, "agenda",
                                        request.client.host if request.client else None),
            claim)
        try:
            item, created = await services.upsert_from_software(
                runtime, professional_account_id=viewer.account_id,
                professional_id=viewer.professional_id, person_id=match.person.id,
                incoming=incoming)
        except AppointmentNotFound:
            # The identifier names another professional's appointment of this patient:
            # refused exactly like an identity that does not match (nothing is told).
            await match.refuse()
        await match.confirm()
    except FhirInputError as exc:
        return operation_outcome([_issue(exc.code, exc.diagnostics, exc.expression)],
                                 exc.status)
    except InvalidAppointmentInput as exc:
        return _input_error(exc)
    except matching.PatientNotFound as exc:
        return operation_outcome([_issue("not-found", exc.translated(), "Patient")], 422)
    except matching.TooManyFailedMatches as exc:
        response = operation_outcome([_issue("throttled", exc.translated())], 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return JSONResponse(_body(item), status_code=201 if created else 200,
                        media_type=FHIR_JSON, headers={"Location": _location(item)})


def _not_found() -> Response:
    return operation_outcome([_issue("not-found", "No such Appointment")], 404)


async def update_appointment(request: Request) -> Response:
    runtime = request.app.state.runtime
    parsed = await _parse(request)
    if isinstance(parsed, Response):
        return parsed
    viewer, resource = parsed
    appointment_id = request.path_params["id"]
    if resource.id is not None and resource.id != appointment_id:
        return operation_outcome([_issue("invariant", "the resource id differs from the URL's",
                                         "Appointment.id")], 400)
    try:
        incoming = _incoming(resource)
        await _check_rpps(resource, viewer.professional_id)
        item = await services.update_from_software(
            runtime, professional_account_id=viewer.account_id,
            professional_id=viewer.professional_id, appointment_id=appointment_id,
            incoming=incoming)
    except FhirInputError as exc:
        return operation_outcome([_issue(exc.code, exc.diagnostics, exc.expression)],
                                 exc.status)
    except AppointmentNotFound:
        return _not_found()
    except InvalidAppointmentInput as exc:
        return _input_error(exc)
    return JSONResponse(_body(item), status_code=200, media_type=FHIR_JSON,
                        headers={"Location": _location(item)})
