"""FHIR R4 export of a patient's whole record: `Patient/{id}/$everything` as a Bundle.

- Ids are stable: profile entries and documents keep their own UUIDs; the Patient, the
  Practitioners and the derived BMI Observations get name-based UUIDs (uuid5), so exporting
  twice gives the same ids.
- Every entry has `fullUrl = urn:uuid:<id>` and every reference is such a urn, so references
  resolve inside the Bundle whatever server base it is read from (HTTP and GraphQL return the
  same Bundle).
- Profile authors: the patient (reference to the Patient) or a professional (a Practitioner with
  the RPPS identifier). Emergency contacts are `Patient.contact`; the advance directive and the
  organ-donation position are `Consent` resources.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from backend.access.policy import Access
from backend.identity.models import IdentityStatus, Person, Professional
from backend.profile import services
from backend.profile.catalog import (
    BMI_LOINC,
    BMI_UNIT,
    DIASTOLIC,
    LOINC,
    SPECS,
    SYSTOLIC,
    UCUM,
)
from backend.profile.models import (
    AdvanceDirective,
    HistoryCategory,
    MeasurementKind,
    OrganDonation,
    OrganDonationPosition,
)
from backend.records import services as records
from backend.settings import Settings

NAMESPACE = uuid.UUID("4f3c1f1e-8a59-5c8e-9d3a-6b1e2c0a7d41")
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"  # national id of professionals: "8" + RPPS
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
# Carnet's own small vocabularies (round-tripped by the import).
HISTORY_CATEGORY = "urn:carnet:fhir:history-category"
PRESCRIBER_EXTENSION = "urn:carnet:fhir:prescriber"
ORGAN_DONATION_CODE = "urn:carnet:fhir:consent"
ADVANCE_DIRECTIVE_LOINC = "42348-3"
# Public-health law articles the two Consents rest on (Code de la santé publique).
ADVANCE_DIRECTIVE_POLICY = "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000031972277"
ORGAN_DONATION_POLICY = "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000031972291"

GENDER = {"M": "male", "F": "female", "U": "unknown"}


async def patient_fhir_id(person_id: int) -> str:
    """The Patient's FHIR id: the person's random public UUID (never derived from its row id)."""
    ids = await Person.filter(id=person_id).values_list("public_id", flat=True)
    return str(ids[0])


def practitioner_fhir_id(professional_id: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"professional:{professional_id}"))


def bmi_fhir_id(weight_id: uuid.UUID) -> str:
    return str(uuid.uuid5(NAMESPACE, f"bmi:{weight_id}"))


def urn(resource_id: str | uuid.UUID) -> str:
    return f"urn:uuid:{resource_id}"


def _number(value: Decimal | float | int) -> int | float:
    number = Decimal(str(value)).normalize()
    return int(number) if number == number.to_integral_value() else float(number)


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _day(value: date) -> str:
    return value.isoformat()


def _concept(text: str, codings: Iterable[dict[str, str]] | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    clean = [{k: v for k, v in c.items() if k in ("system", "code", "display") and v}
             for c in codings or []]
    clean = [c for c in clean if c.get("code")]
    if clean:
        concept["coding"] = clean
    return concept


def _notes(text: str | None) -> list[dict[str, str]] | None:
    return [{"text": text}] if text else None


def _drop_empty(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v not in (None, [], {}, "")}


@dataclass
class ExportContext:
    """What another domain's resources need from the export: the access (whose record, read by
    whom), the Patient's reference, and the Practitioner of a professional (added to the
    Bundle, with the RPPS identifier, when referenced)."""

    settings: Settings
    access: Access
    builder: _Builder

    @property
    def patient_ref(self) -> dict[str, str]:
        return dict(self.builder.patient_ref)

    def practitioner_ref(self, professional: Professional) -> dict[str, Any]:
        return self.builder.practitioner_ref(professional)


# Resources of other domains in the export (the agenda's Appointments): profile imports no
# sibling domain, so the composition root (backend/schema.py) registers them, by name.
ResourceSource = Callable[[ExportContext], Awaitable[list[dict[str, Any]]]]
RESOURCE_SOURCES: dict[str, ResourceSource] = {}


def add_resource_source(name: str, source: ResourceSource) -> None:
    RESOURCE_SOURCES[name] = source


class _Builder:
    def __init__(self, person: Person, professionals: dict[int, Professional]) -> None:
        self.person = person
        self.patient_id = str(person.public_id)
        self.patient_ref = {"reference": urn(self.patient_id)}
        self.professionals = professionals
        self.used_practitioners: set[int] = set()

    def author(self, row: Any) -> dict[str, str]:
        pro_id = row.author_professional_id
        if pro_id is None or pro_id not in self.professionals:
            return dict(self.patient_ref)
        self.used_practitioners.add(pro_id)
        return {"reference": urn(practitioner_fhir_id(pro_id))}

    def meta(self, row: Any) -> dict[str, str]:
        return {"lastUpdated": _instant(row.updated_at)}

    def practitioner_ref(self, pro: Professional) -> dict[str, Any]:
        """A reference to `pro`'s Practitioner (added to the Bundle), with the RPPS."""
        self.professionals.setdefault(pro.id, pro)
        self.used_practitioners.add(pro.id)
        return {"reference": urn(practitioner_fhir_id(pro.id)),
                "identifier": {"system": RPPS_SYSTEM, "value": "8" + pro.rpps}}

    # --- resources ---------------------------------------------------------------------

    def patient(self, contacts: list[services.Entry]) -> dict[str, Any]:
        person = self.person
        # Only a qualified identity (QUAL) may carry the INS matricule in exchanges.
        identifier = None
        if person.identity_status == IdentityStatus.QUALIFIED:
            identifier = [{"use": "official", "system": f"urn:oid:{person.oid}",
                           "value": person.matricule}]
        resource: dict[str, Any] = {
            "resourceType": "Patient", "id": self.patient_id,
            "identifier": identifier,
            "name": [{"use": "official", "family": person.birth_name,
                      "given": person.first_names.split() or None}],
            "gender": GENDER.get(person.sex.value if hasattr(person.sex, "value")
                                 else str(person.sex), "unknown"),
            "birthDate": _day(person.birth_date),
        }
        resource["name"] = [_drop_empty(n) for n in resource["name"]]
        if identifier is None:
            del resource["identifier"]
        contact_list = []
        for entry in contacts:
            text = entry.text
            telecom = []
            if text.get("phone"):
                telecom.append({"system": "phone", "value": text["phone"]})
            if text.get("email"):
                telecom.append({"system": "email", "value": text["email"]})
            relationship = [{"coding": [{"system": CONTACT_ROLE, "code": "C",
                                         "display": "Emergency Contact"}]}]
            if text.get("relationship"):
                relationship.append({"text": text["relationship"]})
            contact_list.append(_drop_empty({
                "relationship": relationship, "name": {"text": text.get("name")},
                "telecom": telecom,
            }))
        if contact_list:
            resource["contact"] = contact_list
        return resource

    def practitioner(self, pro: Professional) -> dict[str, Any]:
        qualification = pro.specialty or pro.profession
        return _drop_empty({
            "resourceType": "Practitioner", "id": practitioner_fhir_id(pro.id),
            "identifier": [{"system": RPPS_SYSTEM, "value": "8" + pro.rpps}],
            "qualification": [{"code": {"text": qualification}}] if qualification else None,
        })

    def allergy(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        severity = row.severity.value if row.severity else None
        reaction = None
        if text.get("reaction"):
            reaction = [_drop_empty({"manifestation": [{"text": text["reaction"]}],
                                     "severity": severity})]
        return _drop_empty({
            "resourceType": "AllergyIntolerance", "id": str(row.id), "meta": self.meta(row),
            "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
            "type": row.kind.value,
            "category": [row.category.value] if row.category else None,
            "criticality": {"severe": "high", "moderate": "low", "mild": "low"}.get(
                severity or ""),
            "code": _concept(text["substance"], text.get("codings")),
            "patient": self.patient_ref,
            "onsetDateTime": _day(row.since) if row.since else None,
            "recordedDate": _instant(row.created_at),
            "recorder": self.author(row),
            "reaction": reaction,
            "note": _notes(text.get("notes")),
        })

    def immunization(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        performers = []
        if row.author_professional_id is not None:
            performers.append({"actor": self.author(row)})
        elif text.get("vaccinator"):
            performers.append({"actor": {"display": text["vaccinator"]}})
        if text.get("vaccinator") and row.author_professional_id is not None:
            performers.append({"actor": {"display": text["vaccinator"]}})
        return _drop_empty({
            "resourceType": "Immunization", "id": str(row.id), "meta": self.meta(row),
            "status": "completed",
            "vaccineCode": _concept(text["vaccine"], text.get("codings")),
            "patient": self.patient_ref,
            "occurrenceDateTime": _day(row.vaccinated_on),
            "recorded": _instant(row.created_at),
            "primarySource": row.author_professional_id is not None,
            "lotNumber": text.get("batch"),
            "performer": performers,
            "protocolApplied": ([{"doseNumberPositiveInt": row.dose_number}]
                                if row.dose_number else None),
            "note": _notes(text.get("notes")),
        })

    def condition(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        category = row.category.value
        return _drop_empty({
            "resourceType": "Condition", "id": str(row.id), "meta": self.meta(row),
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL,
                                           "code": "resolved" if row.resolved else "active"}]},
            "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION,
                                               "code": "confirmed"}]},
            "category": [
                {"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]},
                {"coding": [{"system": HISTORY_CATEGORY, "code": category,
                             "display": "Surgical" if category == HistoryCategory.SURGICAL
                             else "Medical"}]},
            ],
            "code": _concept(text["condition"], text.get("codings")),
            "subject": self.patient_ref,
            "onsetDateTime": _day(row.onset) if row.onset else None,
            "abatementDateTime": _day(row.resolved) if row.resolved else None,
            "recordedDate": _instant(row.created_at),
            "recorder": self.author(row),
            "note": _notes(text.get("notes")),
        })

    def family_history(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        condition: dict[str, Any] = {"code": _concept(text["condition"], text.get("codings"))}
        if row.age_at_onset is not None:
            condition["onsetAge"] = {"value": row.age_at_onset, "unit": "a", "system": UCUM,
                                     "code": "a"}
        return _drop_empty({
            "resourceType": "FamilyMemberHistory", "id": str(row.id), "meta": self.meta(row),
            "status": "completed",
            "patient": self.patient_ref,
            "date": _instant(row.created_at),
            "relationship": {"coding": [{"system": ROLE_CODE, "code": row.relative.value}]},
            "condition": [condition],
            "note": _notes(text.get("notes")),
        })

    def medication(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        dosage: dict[str, Any] = {}
        if text.get("dose"):
            dosage["text"] = text["dose"]
        if text.get("frequency"):
            dosage["timing"] = {"code": {"text": text["frequency"]}}
        period = _drop_empty({"start": _day(row.start_date) if row.start_date else None,
                              "end": _day(row.end_date) if row.end_date else None})
        return _drop_empty({
            "resourceType": "MedicationStatement", "id": str(row.id), "meta": self.meta(row),
            "extension": ([{"url": PRESCRIBER_EXTENSION, "valueString": text["prescriber"]}]
                          if text.get("prescriber") else None),
            "status": "active" if services.is_current(row) else "completed",
            "medicationCodeableConcept": _concept(text["medication"], text.get("codings")),
            "subject": self.patient_ref,
            "effectivePeriod": period or None,
            "dateAsserted": _instant(row.created_at),
            "informationSource": self.author(row),
            "dosage": [dosage] if dosage else None,
            "note": _notes(text.get("notes")),
        })

    def observation(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        kind = MeasurementKind(row.kind)
        spec = SPECS[kind]
        resource: dict[str, Any] = {
            "resourceType": "Observation", "id": str(row.id), "meta": self.meta(row),
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": spec.category}]}],
            "code": {"coding": [{"system": LOINC, "code": spec.loinc,
                                 "display": spec.display}], "text": spec.label},
            "subject": self.patient_ref,
            "effectiveDateTime": _instant(row.measured_at),
            "issued": _instant(row.created_at),
            "performer": [self.author(row)],
            "note": _notes(text.get("notes")),
        }
        if kind is MeasurementKind.BLOOD_PRESSURE:
            resource["code"]["text"] = "Tension artérielle"
            resource["component"] = [
                self._component(SYSTOLIC, "Systolic blood pressure", row.value, spec.unit),
                self._component(DIASTOLIC, "Diastolic blood pressure", row.value2, spec.unit),
            ]
        else:
            resource["valueQuantity"] = self._quantity(row.value, spec.unit)
        return _drop_empty(resource)

    def bmi_observation(self, weight: Any, height: Any, value: Decimal) -> dict[str, Any]:
        return {
            "resourceType": "Observation", "id": bmi_fhir_id(weight.id),
            "meta": self.meta(weight),
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": BMI_LOINC,
                                 "display": "Body mass index (BMI) [Ratio]"}],
                     "text": "Indice de masse corporelle"},
            "subject": self.patient_ref,
            "effectiveDateTime": _instant(weight.measured_at),
            "valueQuantity": self._quantity(value, BMI_UNIT),
            "derivedFrom": [{"reference": urn(weight.id)}, {"reference": urn(height.id)}],
        }

    @staticmethod
    def _quantity(value: Any, unit: str) -> dict[str, Any]:
        return {"value": _number(value), "unit": unit, "system": UCUM, "code": unit}

    def _component(self, code: str, display: str, value: Any, unit: str) -> dict[str, Any]:
        return {"code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "valueQuantity": self._quantity(value, unit)}

    def document(self, row: Any, title: str) -> dict[str, Any]:
        return _drop_empty({
            "resourceType": "DocumentReference", "id": str(row.id),
            "meta": {"lastUpdated": _instant(row.updated_at)},
            "status": "current",
            "type": {"coding": [{"system": LOINC, "code": row.type_code}]},
            "subject": self.patient_ref,
            "date": _instant(row.created_at),
            "author": [self.author(row)],
            "description": title,
            "content": [{"attachment": {
                "contentType": row.content_type, "url": f"/documents/{row.id}/content",
                "size": row.size, "title": title, "creation": _day(row.clinical_date)}}],
            "context": {"period": {"start": _day(row.clinical_date)}},
        })

    def advance_directive(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        source = None
        if row.document_id is not None:
            source = {"url": f"/documents/{row.document_id}/content",
                      "title": "Directives anticipées"}
        elif text.get("text"):
            source = {"contentType": "text/plain; charset=utf-8",
                      "data": base64.b64encode(text["text"].encode()).decode(),
                      "title": "Directives anticipées"}
        resource = self._consent(row, "adr", "Advance directive", ADVANCE_DIRECTIVE_LOINC,
                                 "Advance directives", ADVANCE_DIRECTIVE_POLICY, "permit")
        resource["sourceAttachment"] = source
        return _drop_empty(resource)

    def organ_donation(self, entry: services.Entry) -> dict[str, Any]:
        row, text = entry.row, entry.text
        position = OrganDonationPosition(row.position)
        resource = self._consent(
            row, "treatment", "Treatment", "organ-donation", "Organ donation",
            ORGAN_DONATION_POLICY, "deny" if position is OrganDonationPosition.REFUSES
            else "permit", category_system=ORGAN_DONATION_CODE)
        if position is OrganDonationPosition.UNDECIDED:
            resource["status"] = "proposed"
        resource["extension"] = [{"url": ORGAN_DONATION_CODE + ":position",
                                  "valueCode": position.value}]
        if text.get("note"):
            resource["extension"].append({"url": ORGAN_DONATION_CODE + ":note",
                                          "valueString": text["note"]})
        return _drop_empty(resource)

    def _consent(self, row: Any, scope: str, scope_display: str, category: str,
                 category_display: str, policy: str, provision: str,
                 category_system: str = LOINC) -> dict[str, Any]:
        return {
            "resourceType": "Consent", "id": str(row.id), "meta": self.meta(row),
            "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": scope,
                                  "display": scope_display}]},
            "category": [{"coding": [{"system": category_system, "code": category,
                                      "display": category_display}]}],
            "patient": self.patient_ref,
            "dateTime": _instant(row.updated_at),
            "performer": [self.author(row)],
            "policy": [{"uri": policy}],
            "provision": {"type": provision},
        }


async def _all_documents(settings: Settings, access: Access) -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    after = None
    while True:
        page = await records.list_documents(settings, access, first=records.MAX_PAGE,
                                            after=after, filter=records.DocumentFilter())
        found.extend((row, page.titles[row.id]) for row in page.rows)
        if not page.has_next or not page.rows:
            return found
        after = records.encode_cursor(page.rows[-1])


async def everything(settings: Settings, access: Access) -> dict[str, Any]:
    """The record `access` reads, as a FHIR R4 Bundle (JSON-ready dict): the whole record for
    the patient, the allowed sections and documents for a professional."""
    person = await Person.get(id=access.patient_id)
    ring = services.KeyRing(settings)
    # Every section the access reads, in one statement (UNION ALL).
    sections = await services.section_rows(access, list(services.SECTION_MODELS))
    lists = {kind: await services.list_entries(ring, kind, access, sections[kind.KIND])
             for kind in services.LIST_KINDS.values()}

    def single(kind: str) -> Any:
        return sections[kind][0] if sections[kind] else None

    directive = await services.get_single(ring, AdvanceDirective, services.DIRECTIVE_KIND,
                                          access, single(services.DIRECTIVE_KIND))
    organ = await services.get_single(ring, OrganDonation, services.ORGAN_KIND, access,
                                      single(services.ORGAN_KIND))
    documents = await _all_documents(settings, access)

    rows: list[Any] = [e.row for entries in lists.values() for e in entries]
    rows += [e.row for e in (directive, organ) if e is not None]
    rows += [row for row, _ in documents]
    pro_ids = {r.author_professional_id for r in rows if r.author_professional_id is not None}
    professionals = {p.id: p for p in await Professional.filter(id__in=sorted(pro_ids))} \
        if pro_ids else {}

    b = _Builder(person, professionals)
    resources: list[dict[str, Any]] = []
    resources += [b.allergy(e) for e in lists[services.AllergyInput]]
    resources += [b.immunization(e) for e in lists[services.VaccinationInput]]
    resources += [b.condition(e) for e in lists[services.MedicalHistoryInput]]
    resources += [b.family_history(e) for e in lists[services.FamilyHistoryInput]]
    resources += [b.medication(e) for e in lists[services.TreatmentInput]]
    measurements = lists[services.MeasurementInput]
    derived = services.bmi_by_weight([e.row for e in measurements])
    for entry in sorted(measurements, key=lambda e: (e.row.measured_at, str(e.row.id))):
        resources.append(b.observation(entry))
        if entry.row.id in derived:
            value, height = derived[entry.row.id]
            resources.append(b.bmi_observation(entry.row, height, value))
    resources += [b.document(row, title) for row, title in documents]
    if directive is not None:
        resources.append(b.advance_directive(directive))
    if organ is not None:
        resources.append(b.organ_donation(organ))
    context = ExportContext(settings, access, b)
    for name in sorted(RESOURCE_SOURCES):
        resources += await RESOURCE_SOURCES[name](context)

    head = [b.patient(lists[services.EmergencyContactInput])]
    head += [b.practitioner(professionals[i]) for i in sorted(b.used_practitioners)]
    everything = head + resources
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _instant(datetime.now(UTC))},
        "type": "searchset",
        "timestamp": _instant(datetime.now(UTC)),
        "total": len(everything),
        "link": [{"relation": "self",
                  "url": f"/fhir/r4/Patient/{b.patient_id}/$everything"}],
        "entry": [{"fullUrl": urn(r["id"]), "resource": r, "search": {"mode": "match"}}
                  for r in everything],
    }
