"""FHIR R4 intake: `POST /fhir/r4/DocumentReference` for professional software.

The patient travels as in the French profiles: `subject` references a contained Patient that
carries the INS identifier (system urn:oid:1.2.250.1.213.1.4.8 for an NIR), the official
(birth) family name and `birthDate`; `type` carries the LOINC code; `author` the professional
(RPPS identifier), as a contained Practitioner or as a logical reference
(`{"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "8" + RPPS}}`); an RPPS given
must be the signed-in professional's. The content is inline (`attachment.data`, base64) or a
reference to a contained Binary (`attachment.url = "#id"`).

Resources are validated with fhir.resources' R4B models (the pydantic-2 line closest to R4;
identical to R4 for DocumentReference, Patient, Practitioner and Binary as used here).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from typing import Any

from fhir.resources.R4B.documentreference import DocumentReference
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend import jsonbody
from backend.access.authentication import signed_in
from backend.document_types import DocumentType
from backend.identity import matching
from backend.identity.ins import OID_INS_NIA, OID_INS_NIR, OID_INS_TEST_NIR
from backend.identity.models import Professional
from backend.records import services

INS_SYSTEMS = {f"urn:oid:{oid}" for oid in (OID_INS_NIR, OID_INS_NIA, OID_INS_TEST_NIR)}
RPPS_SYSTEMS = {"urn:oid:1.2.250.1.71.4.2.1", "https://rpps.esante.gouv.fr"}
LOINC = "http://loinc.org"
FHIR_JSON = "application/fhir+json"


class FhirInputError(Exception):
    def __init__(self, code: str, diagnostics: str, expression: str | None = None,
                 status: int = 400) -> None:
        super().__init__(diagnostics)
        self.code, self.diagnostics, self.expression, self.status = (
            code, diagnostics, expression, status)


def operation_outcome(issues: list[dict[str, Any]], status: int) -> JSONResponse:
    return JSONResponse({"resourceType": "OperationOutcome", "issue": issues},
                        status_code=status, media_type=FHIR_JSON)


def _issue(code: str, diagnostics: str, expression: str | None = None,
           severity: str = "error") -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def _contained(resource: DocumentReference, reference: str | None, kind: str,
               expression: str) -> Any:
    if not reference or not reference.startswith("#"):
        raise FhirInputError("required", f"{expression} must reference a contained {kind}",
                             expression)
    for item in resource.contained or []:
        if item.get_resource_type() == kind and item.id == reference[1:]:
            return item
    raise FhirInputError("not-found", f"{expression}: no contained {kind} '{reference}'",
                         expression)


def _patient_traits(resource: DocumentReference) -> tuple[str, str, date]:
    subject = resource.subject
    patient = _contained(resource, subject.reference if subject else None, "Patient",
                         "DocumentReference.subject")
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
    return matricule, official.family, patient.birthDate


def _type_code(resource: DocumentReference) -> str:
    codings = resource.type.coding if resource.type and resource.type.coding else []
    code = next((c.code for c in codings if c.system == LOINC and c.code), None)
    if not code:
        raise FhirInputError("required", "DocumentReference.type: a LOINC coding is required",
                             "DocumentReference.type")
    return code


def _rpps(identifiers: list[Any]) -> str | None:
    for ident in identifiers:
        if ident is not None and ident.system in RPPS_SYSTEMS and ident.value:
            value = ident.value.strip()
            # The national id is "8" + RPPS; accept either form.
            return value[1:] if len(value) == 12 and value.startswith("8") else value
    return None


def _author_rpps(resource: DocumentReference) -> str | None:
    """The RPPS of the first author that gives one: a contained Practitioner (`#id`) or a
    logical reference by identifier, as FHIR allows both."""
    for index, ref in enumerate(resource.author or []):
        expression = f"DocumentReference.author[{index}]"
        if ref.identifier is not None and not (ref.reference or "").startswith("#"):
            if ref.type not in (None, "Practitioner", "PractitionerRole"):
                raise FhirInputError("value", f"{expression}: a logical author reference must "
                                     "identify a Practitioner (RPPS)", expression)
            rpps = _rpps([ref.identifier])
        else:
            item = _contained(resource, ref.reference, "Practitioner", expression)
            rpps = _rpps(list(item.identifier or []))
        if rpps is not None:
            return rpps
    return None


def _content(resource: DocumentReference) -> bytes:
    attachment = resource.content[0].attachment
    data = attachment.data
    if data is None and attachment.url:
        binary = _contained(resource, attachment.url, "Binary",
                            "DocumentReference.content[0].attachment.url")
        data = binary.data
    if data is None:
        raise FhirInputError("required", "content[0].attachment needs data (base64) or a "
                             "contained Binary reference", "DocumentReference.content[0]")
    if isinstance(data, bytes):
        return data
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise FhirInputError("value", "attachment data is not valid base64",
                             "DocumentReference.content[0].attachment.data") from None


# DMP confidentiality code: a minor's document their legal representatives never read.
HIDDEN_FROM_REPRESENTATIVES = "INVISIBLE_REPRESENTANTS_LEGAUX"


def _hidden_from_representatives(resource: DocumentReference) -> bool:
    """`securityLabel` carries the DMP's INVISIBLE_REPRESENTANTS_LEGAUX code (any system)."""
    for label in resource.securityLabel or ():
        for coding in label.coding or ():
            if coding.code == HIDDEN_FROM_REPRESENTATIVES:
                return True
    return False


def _clinical_date(resource: DocumentReference) -> date:
    period = resource.context.period if resource.context else None
    if period and period.start:
        return period.start.date() if hasattr(period.start, "date") else period.start
    if resource.date:
        return resource.date.date()
    return date.today()


def _validation_issues(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        _issue("structure", error["msg"],
               "DocumentReference." + ".".join(str(p) for p in error["loc"] if p != "__root__"))
        for error in exc.errors()[:20]
    ]


async def create_document_reference(request: Request) -> Response:
    runtime = request.app.state.runtime
    user = signed_in(request)
    viewer = user.session if user is not None else None
    if viewer is None:
        return operation_outcome([_issue("login", "A professional's bearer token is required")],
                                 401)
    if not viewer.is_professional:
        return operation_outcome([_issue("forbidden", "Only professionals may deposit")], 403)
    try:
        payload = jsonbody.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return operation_outcome([_issue("structure", "The body is not JSON")], 400)
    if not isinstance(payload, dict) or payload.get("resourceType") != "DocumentReference":
        return operation_outcome([_issue("structure", "Expected a DocumentReference")], 400)
    try:
        resource = DocumentReference.model_validate(payload)
        # The models check structure and types, not bound value sets: check the ones we use.
        if resource.status != "current":
            raise FhirInputError("value", "status must be 'current' for a new document "
                                 "(superseded / entered-in-error are not deposits)",
                                 "DocumentReference.status")
        if not resource.content:
            raise FhirInputError("required", "content is required", "DocumentReference.content")
        matricule, birth_name, birth_date = _patient_traits(resource)
        type_code = _type_code(resource)
        rpps = _author_rpps(resource)
        professional = await Professional.get(id=viewer.professional_id)
        if rpps is not None and rpps != professional.rpps:
            raise FhirInputError("forbidden", "author does not match the signed-in professional",
                                 "DocumentReference.author", status=403)
        content = _content(resource)
        known_type = DocumentType.from_loinc(type_code)
        title = (resource.description or resource.content[0].attachment.title
                 or (known_type.label if known_type else "Document"))
        # Everything above and the content checks inside come before the identity match.
        document = await services.deposit_document(
            runtime, professional_account_id=viewer.account_id,
            professional_id=viewer.professional_id,
            patient=matching.PatientClaim(matricule, birth_name, birth_date),
            data=services.DocumentInput(
                title[:services.MAX_TITLE], type_code, _clinical_date(resource),
                hidden_from_representatives=_hidden_from_representatives(resource)),
            chunks=services.bytes_chunks(content), size=len(content),
            address=request.client.host if request.client else None,
        )
    except ValidationError as exc:
        return operation_outcome(_validation_issues(exc), 400)
    except FhirInputError as exc:
        return operation_outcome([_issue(exc.code, exc.diagnostics, exc.expression)],
                                 exc.status)
    except matching.PatientNotFound as exc:
        return operation_outcome([_issue("not-found", exc.translated(), "Patient")], 422)
    except matching.TooManyFailedMatches as exc:
        response = operation_outcome([_issue("throttled", exc.translated())], 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except services.FileTooLarge as exc:
        return operation_outcome([_issue("too-long", exc.translated())], 413)
    except services.UnsupportedContent as exc:
        return operation_outcome([_issue("not-supported", exc.translated())], 415)
    except services.InvalidDocumentInput as exc:
        return operation_outcome([_issue("value", exc.translated(), exc.field)], 422)
    except services.DuplicateDocument as exc:
        location = f"/fhir/r4/DocumentReference/{exc.existing_id}"
        response = operation_outcome(
            [_issue("duplicate", exc.translated(), severity="information")], 200)
        response.headers["Location"] = location
        return response
    body = {
        "resourceType": "DocumentReference",
        "id": str(document.id),
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": document.type_code}]},
        # (Attachment.hash is SHA-1 in R4; our SHA-256 is available through GraphQL.)
        "content": [{"attachment": {"contentType": document.content_type,
                                    "size": document.size}}],
    }
    return JSONResponse(body, status_code=201, media_type=FHIR_JSON,
                        headers={"Location": f"/fhir/r4/DocumentReference/{document.id}"})
