"""FHIR R4 search and read for professional software, through the access policy.

    GET /fhir/r4/Patient?identifier=<INS system>|<matricule>
    GET /fhir/r4/DocumentReference?patient=<id> | patient.identifier=<system>|<value>
        [&type=http://loinc.org|<code>[,...]] [&date=ge2026-01-01] [&period=le2026-02]
        [&status=current] [&_count=20]
    GET /fhir/r4/DocumentReference/{id}
    GET /fhir/r4/AllergyIntolerance | Immunization | MedicationStatement | Observation
        ?patient=<id> | patient.identifier=<system>|<value>  [&code=...] (Observation) [&_count=]

Rules:
- Professionals only (bearer token, through the authentication middleware): no token answers
  401, a patient's or another account's token 403 (as the FHIR deposit does; a patient reads
  their own record with `Patient/{id}/$everything` and GraphQL).
- The patient is named by their FHIR id (Person.public_id: `patient=<id>` or
  `patient=Patient/<id>`) or by their INS (`identifier` / `patient.identifier`, systems
  urn:oid:1.2.250.1.213.1.4.8 NIR, .9 NIA, .10 test NIR). Searches never span patients.
- Anything the policy does not allow answers exactly like something that does not exist: an
  empty searchset (total 0) for a patient without a ground (unknown, unrelated, blocked,
  profession excluded by the matrix), a type or a profile section the access lacks; a 404
  OperationOutcome, the same as for a missing id, for a DocumentReference read.
- Unknown parameters, modifiers and malformed values answer 400 with an OperationOutcome (FHIR
  lets servers ignore them; professional software is better told). Only LOINC codes are
  searchable (`type`, `code`).
- Every answer that carries patient data is written to the patient's access log, in one
  statement at the end of the request (`access_log.recording()`): the Patient search as
  SEARCH; a DocumentReference search as DOCUMENT_LIST plus one DOCUMENT entry per
  DocumentReference returned (its description is a read of that document; the content stays a
  separate DOCUMENT_CONTENT read through `/documents/{id}/content`); a read as DOCUMENT; a
  profile search as PROFILE with the section. A search without any ground logs nothing (it
  read nothing). The relationship is kept alive (`policy.touch`) like every read path.
- Paging: `_count` (default 20, at most 100; 0 gives the total only) and a `next` link. The
  DocumentReference search pages with a keyset cursor and runs a constant number of SQL
  statements whatever `_count` (tests/test_fhir_read.py).

References inside resources are RESTful (`Patient/<id>`); a professional author is a logical
reference by national id (RPPS), since Practitioners are not served here. `fullUrl` is the
absolute URL of the resource.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise.expressions import Q

from backend.access import policy
from backend.access.authentication import SignedIn, route_scope, signed_in
from backend.app_scopes import DOCUMENTS_READ, PROFILE_READ
from backend.audit import access_log
from backend.audit.models import AccessKind
from backend.identity import lookup
from backend.identity.ins import OID_INS_NIA, OID_INS_NIR, OID_INS_TEST_NIR
from backend.identity.models import Person, Professional
from backend.profile import services
from backend.profile.catalog import LOINC
from backend.profile.fhir_export import RPPS_SYSTEM, _Builder, _instant
from backend.records import services as records
from backend.records.fhir import FHIR_JSON, operation_outcome
from backend.records.models import Document

INS_SYSTEMS = {f"urn:oid:{oid}" for oid in (OID_INS_NIR, OID_INS_NIA, OID_INS_TEST_NIR)}
DEFAULT_COUNT = 20
MAX_COUNT = records.MAX_PAGE
NO_STORE = {"Cache-Control": "no-store"}
JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
PATIENT_PARAMS = ("patient", "patient.identifier")
_DATE = re.compile(r"^(eq|ge|gt|le|lt)?(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class SearchError(Exception):
    """A request the server refuses to run (400), whatever the data."""

    def __init__(self, code: str, diagnostics: str, expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.code, self.diagnostics, self.expression = code, diagnostics, expression


def _issue(code: str, diagnostics: str, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def _refusal(status: int, code: str, diagnostics: str, expression: str | None = None
             ) -> Response:
    response = operation_outcome([_issue(code, diagnostics, expression)], status)
    response.headers.update(NO_STORE)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def not_found() -> Response:
    # The same answer for missing, malformed, another patient's and not allowed.
    return _refusal(404, "not-found", "Resource not found")


# --- parameters ----------------------------------------------------------------------------


class Params:
    """The query parameters of one search, checked against the ones it supports."""

    def __init__(self, request: Request, allowed: Sequence[str], repeatable: Sequence[str] = ()
                 ) -> None:
        self.items = list(request.query_params.multi_items())
        names = [name for name, _ in self.items]
        for name in names:
            if name not in allowed:
                base = name.split(":", 1)[0]
                what = "modifier" if base in allowed else "parameter"
                raise SearchError("not-supported", f"Unsupported search {what} '{name}' "
                                  f"(supported: {', '.join(sorted(allowed))})", name)
            if name not in repeatable and names.count(name) > 1:
                raise SearchError("invalid", f"'{name}' may be given only once", name)
        for name, value in self.items:
            if value == "":
                raise SearchError("invalid", f"'{name}' has no value", name)
        fmt = self.one("_format")
        if fmt is not None and fmt not in JSON_FORMATS:
            raise SearchError("not-supported", "Only JSON is served (_format=json)", "_format")

    def one(self, name: str) -> str | None:
        return next((value for key, value in self.items if key == name), None)

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]

    def count(self) -> int:
        raw = self.one("_count")
        if raw is None:
            return DEFAULT_COUNT
        if not raw.isdigit() or len(raw) > 6:
            raise SearchError("invalid", "_count must be a whole number", "_count")
        return min(int(raw), MAX_COUNT)

    def offset(self) -> int:
        raw = self.one("_offset")
        if raw is None:
            return 0
        if not raw.isdigit() or len(raw) > 6:
            raise SearchError("invalid", "_offset is a paging parameter given by the next link",
                              "_offset")
        return int(raw)


def _token(value: str, name: str) -> tuple[str | None, str]:
    """`system|code` or `code` (any system)."""
    system, bar, code = value.partition("|")
    if not bar:
        system, code = None, value  # type: ignore[assignment]
    if not code:
        raise SearchError("invalid", f"{name}: a code is required (system|code)", name)
    return system, code


def _loinc_codes(raw: Sequence[str], name: str) -> set[str]:
    codes: set[str] = set()
    for value in raw:
        for part in value.split(","):
            system, code = _token(part, name)
            if system not in (None, LOINC):
                raise SearchError("not-supported", f"{name}: only LOINC codes ({LOINC}) are "
                                  "searchable", name)
            codes.add(code)
    return codes


def _ins(value: str, name: str) -> tuple[str, str]:
    system, code = _token(value, name)
    if system not in INS_SYSTEMS:
        raise SearchError("not-supported", f"{name}: an INS identifier is required "
                          "(system urn:oid:1.2.250.1.213.1.4.8 NIR, .9 NIA or .10 test NIR, "
                          "as system|value)", name)
    return system, code


# --- the patient and the access ------------------------------------------------------------


@dataclass
class Reading:
    """One request's decision: the caller, their access, and what the log needs."""

    user: SignedIn
    access: policy.Access
    professional: Professional | None = None
    person: Person | None = None

    def record(self, kind: AccessKind, *, document_id: uuid.UUID | None = None,
               section: str | None = None) -> None:
        assert self.access.ground is not None
        # The policy's one logging call: a professional's profession, an app's id and name.
        policy.log_read(self.access, kind, document_id=document_id, section=section)


async def _by_identifier(user: SignedIn, system: str, value: str, expiry_days: int
                         ) -> policy.Access:
    person = await lookup.person_by_matricule(value)
    if person is not None and f"urn:oid:{person.oid}" != system:
        person = None
    # Unknown identifiers run the same decision (for patient 0) as known ones.
    access = await policy.access_for(user.viewer, person.id if person else 0,
                                     expiry_days=expiry_days)
    if person is None or not access.granted:
        return policy.nothing(user.viewer)
    return access


async def _decide(request: Request, user: SignedIn, params: Params) -> Reading:
    """The access named by `patient` or `patient.identifier` (exactly one)."""
    expiry = request.app.state.runtime.settings.care_relationship_expiry_days
    given = [name for name in PATIENT_PARAMS if params.one(name) is not None]
    if len(given) != 1:
        raise SearchError("required", "Name the patient with either 'patient' (the Patient "
                          "id) or 'patient.identifier' (INS, system|value)", "patient")
    if given[0] == "patient":
        reference = params.one("patient") or ""
        patient_id = reference.removeprefix("Patient/")
        access = await policy.access_by_public_id(user.viewer, patient_id, expiry_days=expiry)
    else:
        system, value = _ins(params.one("patient.identifier") or "", "patient.identifier")
        access = await _by_identifier(user, system, value, expiry)
    return await _reading(user, access)


async def _reading(user: SignedIn, access: policy.Access) -> Reading:
    reading = Reading(user, access)
    if access.granted:
        # The profession is copied into each log entry: loaded once per request.
        if user.session.is_professional:
            reading.professional = await Professional.get(id=user.session.professional_id)
        reading.person = await Person.get(id=access.patient_id)
    return reading


# --- resources and bundles -----------------------------------------------------------------


class _SearchBuilder(_Builder):
    """$everything's resource builders, with RESTful references for a search."""

    def __init__(self, person: Person, professionals: dict[int, Professional], base: str
                 ) -> None:
        super().__init__(person, professionals)
        self.base = base
        self.patient_ref = {"reference": f"Patient/{self.patient_id}"}

    def author(self, row: Any) -> dict[str, Any]:
        pro = self.professionals.get(row.author_professional_id)
        if pro is None:
            return dict(self.patient_ref)
        return {"type": "Practitioner",
                "identifier": {"system": RPPS_SYSTEM, "value": "8" + pro.rpps}}

    def bmi_observation(self, weight: Any, height: Any, value: Any) -> dict[str, Any]:
        resource = super().bmi_observation(weight, height, value)
        resource["derivedFrom"] = [{"reference": f"Observation/{weight.id}"},
                                   {"reference": f"Observation/{height.id}"}]
        return resource

    def document(self, row: Any, title: str) -> dict[str, Any]:
        resource = super().document(row, title)
        attachment = resource["content"][0]["attachment"]
        attachment["url"] = f"{self.base}{attachment['url']}"
        return resource


async def _builder(request: Request, person: Person, rows: Sequence[Any]) -> _SearchBuilder:
    ids = sorted({r.author_professional_id for r in rows if r.author_professional_id})
    professionals = {p.id: p for p in await Professional.filter(id__in=ids)} if ids else {}
    return _SearchBuilder(person, professionals, _base(request))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _full_url(request: Request, resource: dict[str, Any]) -> str:
    return f"{_base(request)}/fhir/r4/{resource['resourceType']}/{resource['id']}"


def _link(request: Request, items: Sequence[tuple[str, str]]) -> str:
    query = urlencode(list(items))
    return f"{_base(request)}{request.url.path}" + (f"?{query}" if query else "")


def searchset(request: Request, resources: Sequence[dict[str, Any]], total: int,
              next_items: Sequence[tuple[str, str]] | None = None) -> Response:
    params = list(request.query_params.multi_items())
    links = [{"relation": "self", "url": _link(request, params)}]
    if next_items is not None:
        links.append({"relation": "next", "url": _link(request, next_items)})
    now = _instant(datetime.now(UTC))
    bundle = {
        "resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"lastUpdated": now},
        "type": "searchset", "timestamp": now, "total": total, "link": links,
        "entry": [{"fullUrl": _full_url(request, r), "resource": r, "search": {"mode": "match"}}
                  for r in resources],
    }
    if not bundle["entry"]:
        del bundle["entry"]
    return JSONResponse(bundle, media_type=FHIR_JSON, headers=NO_STORE)


def _next(params: Params, name: str, value: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params.items if k != name] + [(name, value)]


# --- handlers ------------------------------------------------------------------------------


Handler = Callable[[Request, SignedIn], Awaitable[Response]]


def _professional_endpoint(handler: Handler, app_scope: str
                           ) -> Callable[[Request], Awaitable[Response]]:
    """Authentication, refusals and the access log around a search or read handler. Callers:
    professionals' software, and catalogue apps holding `app_scope` (their own patient only:
    the policy grants an app nothing of anyone else)."""

    @route_scope(app_scope)
    async def endpoint(request: Request) -> Response:
        user = signed_in(request)  # an app without `app_scope`: 403 insufficient_scope
        if user is None:
            return _refusal(401, "login", "A professional's bearer token is required")
        if user.app is None and (not user.session.is_professional or not isinstance(
                user.viewer, policy.ProfessionalViewer)):
            return _refusal(403, "forbidden", "Only professionals may search and read records "
                            "here; patients read theirs with Patient/{id}/$everything")
        async with access_log.recording():
            try:
                return await handler(request, user)
            except SearchError as exc:
                return _refusal(400, exc.code, exc.diagnostics, exc.expression)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _search_patient(request: Request, user: SignedIn) -> Response:
    """`Patient?identifier=<INS system>|<value>`: the patient if the caller has a ground."""
    params = Params(request, ("identifier", "_count", "_format"))
    raw = params.one("identifier")
    if raw is None:
        raise SearchError("required", "identifier (INS, system|value) is required",
                          "identifier")
    system, value = _ins(raw, "identifier")
    count = params.count()
    expiry = request.app.state.runtime.settings.care_relationship_expiry_days
    reading = await _reading(user, await _by_identifier(user, system, value, expiry))
    if reading.person is None:
        return searchset(request, [], 0)
    access = reading.access
    reading.record(AccessKind.SEARCH)
    await policy.touch(access)
    if count == 0:
        return searchset(request, [], 1)
    # Patient.contact: the emergency contacts, when the access reads that section.
    contacts = await services.list_entries(services.KeyRing(request.app.state.runtime.settings),
                                           services.EmergencyContactInput, access)
    if access.may_read_section(policy.Section.EMERGENCY_CONTACTS):
        reading.record(AccessKind.PROFILE, section=policy.Section.EMERGENCY_CONTACTS.value)
    builder = await _builder(request, reading.person, [])
    return searchset(request, [builder.patient(contacts)], 1)


def _day_range(match: re.Match[str]) -> tuple[date, date]:
    """The days a FHIR date value covers: [start, end)."""
    year, month, day = match.group(2), match.group(3), match.group(4)
    if day:
        start = date(int(year), int(month), int(day))
        return start, start + timedelta(days=1)
    if month:
        start = date(int(year), int(month), 1)
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return start, end
    return date(int(year), 1, 1), date(int(year) + 1, 1, 1)


def _date_filter(values: Sequence[str], name: str, field: str, as_instant: bool) -> Q:
    """`date=ge2026-01-01&date=lt2026-02` (AND of the values); days, months or years."""
    condition = Q()
    for value in values:
        match = _DATE.match(value)
        if match is None:
            raise SearchError("invalid", f"{name}: expected [eq|ge|gt|le|lt]YYYY[-MM[-DD]]",
                              name)
        try:
            start, end = _day_range(match)
        except ValueError:
            raise SearchError("invalid", f"{name}: not a calendar date", name) from None
        lo: date | datetime = start
        hi: date | datetime = end
        if as_instant:
            lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
            hi = datetime(end.year, end.month, end.day, tzinfo=UTC)
        prefix = match.group(1) or "eq"
        parts = {"eq": {f"{field}__gte": lo, f"{field}__lt": hi}, "ge": {f"{field}__gte": lo},
                 "gt": {f"{field}__gte": hi}, "le": {f"{field}__lt": hi},
                 "lt": {f"{field}__lt": lo}}[prefix]
        condition &= Q(**parts)
    return condition


async def _search_documents(request: Request, user: SignedIn) -> Response:
    """DocumentReference search: the documents the policy lets the caller read."""
    params = Params(request, (*PATIENT_PARAMS, "type", "date", "period", "status", "_count",
                              "_cursor", "_format"), repeatable=("type", "date", "period"))
    types = _loinc_codes(params.all("type"), "type") if params.all("type") else None
    dates = _date_filter(params.all("date"), "date", "created_at", as_instant=True)
    periods = _date_filter(params.all("period"), "period", "clinical_date", as_instant=False)
    status = params.one("status")
    statuses = set(status.split(",")) if status else {"current"}
    count = params.count()
    cursor = params.one("_cursor")
    position = records.decode_cursor(cursor) if cursor else None
    if cursor and position is None:
        raise SearchError("invalid", "_cursor is a paging parameter given by the next link",
                          "_cursor")
    reading = await _decide(request, user, params)
    if reading.person is None:
        return searchset(request, [], 0)
    access = reading.access
    reading.record(AccessKind.DOCUMENT_LIST)
    await policy.touch(access)
    if "current" not in statuses:  # superseded / entered-in-error: none are served
        return searchset(request, [], 0)
    query = Document.filter(access.documents()).filter(dates).filter(periods)
    if types is not None:
        query = query.filter(type_code__in=sorted(types))
    total = await query.count()
    if count == 0:
        return searchset(request, [], total)
    if position is not None:
        created, doc_id = position
        query = query.filter(Q(created_at__lt=created)
                             | (Q(created_at=created) & Q(id__lt=doc_id)))
    rows = await query.order_by("-created_at", "-id").limit(count + 1)
    page = rows[:count]
    titles = await records.decrypt_titles(request.app.state.runtime.settings, page)
    builder = await _builder(request, reading.person, page)
    for row in page:
        reading.record(AccessKind.DOCUMENT, document_id=row.id)
    next_items = (_next(params, "_cursor", records.encode_cursor(page[-1]))
                  if len(rows) > count else None)
    return searchset(request, [builder.document(row, titles[row.id]) for row in page], total,
                     next_items)


async def _read_document(request: Request, user: SignedIn) -> Response:
    """`DocumentReference/{id}`: one document the policy lets the caller read, else 404."""
    Params(request, ("_format",))
    runtime = request.app.state.runtime
    document, access = await records.document_for_viewer(
        user.viewer, request.path_params["id"],
        expiry_days=runtime.settings.care_relationship_expiry_days)
    if document is None or not access.granted:
        return not_found()
    reading = await _reading(user, access)
    assert reading.person is not None
    reading.record(AccessKind.DOCUMENT, document_id=document.id)
    await policy.touch(access)
    titles = await records.decrypt_titles(runtime.settings, [document])
    builder = await _builder(request, reading.person, [document])
    return JSONResponse(builder.document(document, titles[document.id]), media_type=FHIR_JSON,
                        headers=NO_STORE)


@dataclass(frozen=True)
class _ProfileSearch:
    kind: type[services.EntryInput]
    section: policy.Section
    build: Callable[[_SearchBuilder, list[services.Entry]], list[dict[str, Any]]]
    extra: tuple[str, ...] = ()


def _observations(b: _SearchBuilder, entries: list[services.Entry]) -> list[dict[str, Any]]:
    derived = services.bmi_by_weight([e.row for e in entries])
    resources = []
    for entry in entries:  # newest first
        resources.append(b.observation(entry))
        if entry.row.id in derived:
            value, height = derived[entry.row.id]
            resources.append(b.bmi_observation(entry.row, height, value))
    return resources


PROFILE_SEARCHES = {
    "AllergyIntolerance": _ProfileSearch(services.AllergyInput, policy.Section.ALLERGIES,
                                         lambda b, es: [b.allergy(e) for e in es]),
    "Immunization": _ProfileSearch(services.VaccinationInput, policy.Section.VACCINATIONS,
                                   lambda b, es: [b.immunization(e) for e in es]),
    "MedicationStatement": _ProfileSearch(services.TreatmentInput, policy.Section.TREATMENTS,
                                          lambda b, es: [b.medication(e) for e in es]),
    "Observation": _ProfileSearch(services.MeasurementInput, policy.Section.MEASUREMENTS,
                                  _observations, extra=("code",)),
}


def _codes_of(resource: dict[str, Any]) -> set[str]:
    return {c.get("code") for c in resource.get("code", {}).get("coding", [])
            if c.get("system") == LOINC}


def _profile_search(resource_type: str) -> Handler:
    search = PROFILE_SEARCHES[resource_type]

    async def handler(request: Request, user: SignedIn) -> Response:
        params = Params(request, (*PATIENT_PARAMS, *search.extra, "_count", "_offset",
                                  "_format"), repeatable=search.extra)
        codes = _loinc_codes(params.all("code"), "code") if params.all("code") else None
        count, offset = params.count(), params.offset()
        reading = await _decide(request, user, params)
        if reading.person is None:
            return searchset(request, [], 0)
        access = reading.access
        # A section the access lacks reads nothing (no query) and answers like no data.
        entries = await services.list_entries(
            services.KeyRing(request.app.state.runtime.settings), search.kind, access)
        if access.may_read_section(search.section):
            reading.record(AccessKind.PROFILE, section=search.section.value)
        await policy.touch(access)
        builder = await _builder(request, reading.person, [e.row for e in entries])
        resources = search.build(builder, entries)
        if codes is not None:
            resources = [r for r in resources if _codes_of(r) & codes]
        page = resources[offset:offset + count]
        next_items = (_next(params, "_offset", str(offset + count))
                      if count and offset + count < len(resources) else None)
        return searchset(request, page, len(resources), next_items)

    handler.__name__ = f"search_{resource_type}"
    return handler


search_patient = _professional_endpoint(_search_patient, PROFILE_READ)
search_document_references = _professional_endpoint(_search_documents, DOCUMENTS_READ)
read_document_reference = _professional_endpoint(_read_document, DOCUMENTS_READ)
search_allergies = _professional_endpoint(_profile_search("AllergyIntolerance"), PROFILE_READ)
search_immunizations = _professional_endpoint(_profile_search("Immunization"), PROFILE_READ)
search_medications = _professional_endpoint(_profile_search("MedicationStatement"),
                                            PROFILE_READ)
search_observations = _professional_endpoint(_profile_search("Observation"), PROFILE_READ)
