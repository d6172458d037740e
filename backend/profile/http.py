"""FHIR R4 endpoints of the profile (bearer token, through the authentication middleware).

- `GET /fhir/r4/Patient/{id}/$everything`: the record as a Bundle. `{id}` is the patient's
  public FHIR id (`profile { fhirPatientId }`, Person.public_id). The patient gets their whole
  record; a professional gets what the access policy lets them read (backend/access/policy.py).
  Any other id (unknown, malformed, another patient's, not allowed) answers exactly like a
  missing one (404 OperationOutcome).
- `POST /fhir/r4/Bundle`: the patient imports a Bundle into their profile (same rules as
  `importFhirBundle`); answers an OperationOutcome listing what was created, skipped and
  refused.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend import jsonbody
from backend.access import policy
from backend.access.authentication import SignedIn, route_scope, signed_in
from backend.app_scopes import PROFILE_READ
from backend.audit import access_log
from backend.audit.models import AccessKind
from backend.profile import fhir_export, fhir_import, services
from backend.records.fhir import FHIR_JSON, operation_outcome

NO_STORE = {"Cache-Control": "no-store"}


def _issue(code: str, diagnostics: str, severity: str = "error",
           expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def _not_found() -> Response:
    response = operation_outcome([_issue("not-found", "Resource not found")], 404)
    response.headers.update(NO_STORE)
    return response


def _unauthenticated() -> Response:
    response = operation_outcome([_issue("login", "A bearer token is required")], 401)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _patient(request: Request) -> tuple[Any, Response | None]:
    user = signed_in(request)
    if user is None:
        return None, _unauthenticated()
    if not user.session.is_patient:
        return None, _not_found()
    return user.session, None


@route_scope(PROFILE_READ)
async def patient_everything(request: Request) -> Response:
    user: SignedIn | None = signed_in(request)
    if user is None:
        return _unauthenticated()
    settings = request.app.state.runtime.settings
    access = await policy.access_by_public_id(
        user.viewer, request.path_params["id"],
        expiry_days=settings.care_relationship_expiry_days)
    if not access.granted:
        return _not_found()
    # Access log (none for the patient's own export), written before the answer leaves: the
    # export, and each document the Bundle describes (the patient sees which ones).
    async with access_log.recording():
        bundle = await fhir_export.everything(settings, access)
        await policy.touch(access)
        policy.log_read(access, AccessKind.EXPORT)
        for entry in bundle.get("entry", ()):
            resource = entry.get("resource", {})
            if resource.get("resourceType") == "DocumentReference":
                policy.log_read(access, AccessKind.DOCUMENT, document_id=resource["id"])
    return JSONResponse(bundle, media_type=FHIR_JSON, headers=NO_STORE)


async def import_bundle(request: Request) -> Response:
    viewer, refused = await _patient(request)
    if refused is not None:
        return refused
    try:
        payload = jsonbody.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return operation_outcome([_issue("structure", "The body is not JSON")], 400)
    try:
        report = await fhir_import.import_bundle(
            request.app.state.runtime, person_id=viewer.person_id,
            author=services.Author(account_id=viewer.account_id, professional_id=None),
            bundle=payload)
    except fhir_import.InvalidBundle as exc:
        return operation_outcome([_issue("invalid", exc.translated())], 422)
    issues = [_issue("informational",
                     f"created: {report.created}, skipped (already imported): {report.skipped}, "
                     f"ignored: {report.ignored}, errors: {len(report.errors)}",
                     severity="information")]
    issues += [_issue("invalid", error.text.render(), expression=f"Bundle.entry[{error.index}]"
                      + (f".resource.ofType({error.resource_type})"
                         if error.resource_type else ""))
               for error in report.errors]
    return JSONResponse({"resourceType": "OperationOutcome", "issue": issues},
                        status_code=200, media_type=FHIR_JSON, headers=NO_STORE)
