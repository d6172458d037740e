"""FHIR R4 import: a patient brings a Bundle (another service, a legacy record, an export).

- Entries are handled one by one: an invalid resource is reported (index, resourceType,
  message) and the others are still imported.
- Idempotent: every imported entry keeps `source_key`, a SHA-256 of the resource's source
  identity (its `fullUrl`, else type/id and `meta.source`, else its canonical content), unique
  per patient; importing the same Bundle again creates nothing. A resource carrying the id of one
  of the patient's own entries (Carnet's own export) is also recognised as already there.
- Supported: AllergyIntolerance, Immunization, Condition, FamilyMemberHistory,
  MedicationStatement, Observation (LOINC-coded measurements, units converted to the canonical
  UCUM unit; BMI is derived, so it is skipped), DocumentReference with inline base64 content
  (stored as a LEGACY_IMPORT document; the same content twice is skipped), and the two Consents
  Carnet exports: advance directives (LOINC 42348-3; text inline, or one of the patient's own
  documents) and the organ-donation position. There is one of each per patient: the same one
  (same id, or same content) is skipped, and one that would replace a different decision already
  in Carnet is reported, never applied silently. Patient, Practitioner, Organization,
  RelatedPerson and other Consents are context: counted as ignored.
- A Bundle whose Patient carries a different INS matricule is refused as a whole.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from backend.access.policy import owner_access
from backend.document_types import DocumentType
from backend.errors import DomainError
from backend.i18n import N_, Message
from backend.identity.models import Person
from backend.profile import services
from backend.profile.catalog import (
    BLOOD_PRESSURE_PANEL,
    BMI_LOINC,
    BY_LOINC,
    CONVERSIONS,
    DIASTOLIC,
    LOINC,
    LOINC_ALIASES,
    SPECS,
    SYSTOLIC,
)
from backend.profile.fhir_export import (
    ADVANCE_DIRECTIVE_LOINC,
    HISTORY_CATEGORY,
    ORGAN_DONATION_CODE,
    PRESCRIBER_EXTENSION,
)
from backend.profile.models import (
    AdvanceDirective,
    AllergyCategory,
    AllergyKind,
    HistoryCategory,
    MeasurementKind,
    OrganDonation,
    OrganDonationPosition,
    Relative,
    Severity,
)
from backend.records import services as records
from backend.records.models import Document, DocumentSource
from backend.runtime import Runtime

MAX_ENTRIES = 2000
IGNORED_TYPES = {"Patient", "Practitioner", "PractitionerRole", "Organization",
                 "RelatedPerson", "Provenance"}
WITHDRAWN_CONSENT = {"entered-in-error", "rejected", "inactive"}
INS_SYSTEMS = {"urn:oid:1.2.250.1.213.1.4.8", "urn:oid:1.2.250.1.213.1.4.9",
               "urn:oid:1.2.250.1.213.1.4.10"}


class InvalidBundle(DomainError):
    pass


class _Skip(Exception):
    """Resource not an error but nothing to import (e.g. a derived BMI)."""


class _Invalid(Exception):
    """A resource that cannot be imported: `text` is a French msgid and its values."""

    def __init__(self, message: str | Message, **values: object) -> None:
        self.text = message if isinstance(message, Message) else Message(message, **values)
        super().__init__(str(self.text))


@dataclass
class ImportIssue:
    index: int
    resource_type: str | None
    text: Message  # translated where the report is answered (GraphQL, FHIR)

    @property
    def message(self) -> str:
        """In French."""
        return str(self.text)


@dataclass
class ImportReport:
    created: int = 0
    skipped: int = 0  # already imported (or already in the record)
    ignored: int = 0  # context or derived resources, nothing to import
    errors: list[ImportIssue] = field(default_factory=list)


# --- small readers ---------------------------------------------------------------------------


def _concept_text(concept: Any) -> str | None:
    if concept is None:
        return None
    if concept.text:
        return concept.text
    for coding in concept.coding or []:
        if coding.display:
            return coding.display
    for coding in concept.coding or []:
        if coding.code:
            return coding.code
    return None


def _codings(concept: Any) -> list[dict[str, str]]:
    if concept is None:
        return []
    found = []
    for coding in concept.coding or []:
        if coding.code:
            found.append({k: v for k, v in (("system", coding.system), ("code", coding.code),
                                            ("display", coding.display)) if v})
    return found[:10]


def _codes(concept: Any, system: str | None = None) -> list[str]:
    if concept is None:
        return []
    return [c.code for c in concept.coding or []
            if c.code and (system is None or c.system == system)]


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        parts = [int(p) for p in text[:10].split("-")]
        return date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        return None


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    day = _day(value)
    return datetime.combine(day, time(12, 0), tzinfo=UTC) if day else None


def _notes(resource: Any) -> str | None:
    texts = [n.text for n in getattr(resource, "note", None) or [] if n.text]
    return "\n".join(texts) or None


def _require(value: Any, message: str) -> Any:
    if value in (None, ""):
        raise _Invalid(message)
    return value


def _source_key(raw: dict[str, Any], full_url: str | None) -> str:
    if full_url:
        identity = f"url|{full_url}"
    elif raw.get("id"):
        source = (raw.get("meta") or {}).get("source") or ""
        identity = f"id|{raw['resourceType']}/{raw['id']}|{source}"
    else:
        content = {k: v for k, v in raw.items() if k not in ("meta", "id", "text")}
        identity = "content|" + json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(identity.encode()).hexdigest()


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"] if p != "__root__")
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


# --- mapping each resource type ------------------------------------------------------------------


def _allergy(r: Any) -> list[services.EntryInput]:
    substance = _require(_concept_text(r.code), N_("AllergyIntolerance.code : substance absente."))
    category = None
    for value in r.category or []:
        if value in AllergyCategory._value2member_map_:
            category = AllergyCategory(value)
            break
    reaction = severity = None
    for item in r.reaction or []:
        texts = [_concept_text(m) for m in item.manifestation or []]
        reaction = ", ".join(t for t in texts if t) or None
        if item.severity in Severity._value2member_map_:
            severity = Severity(item.severity)
        break
    if severity is None and r.criticality == "high":
        severity = Severity.SEVERE
    kind = AllergyKind.INTOLERANCE if r.type == "intolerance" else AllergyKind.ALLERGY
    return [services.AllergyInput(
        substance=substance, reaction=reaction, severity=severity,
        since=_day(r.onsetDateTime), kind=kind, category=category, notes=_notes(r),
        codings=_codings(r.code))]


def _immunization(r: Any) -> list[services.EntryInput]:
    if r.status != "completed":
        raise _Invalid(N_("Immunization.status « {status} » : seules les vaccinations "
                          "réalisées (completed) sont importées."), status=r.status)
    vaccine = _require(_concept_text(r.vaccineCode),
                       N_("Immunization.vaccineCode : vaccin absent."))
    when = _require(_day(r.occurrenceDateTime),
                    N_("Immunization.occurrenceDateTime : date de vaccination absente."))
    dose = None
    for protocol in r.protocolApplied or []:
        dose = protocol.doseNumberPositiveInt
        break
    vaccinator = next((p.actor.display for p in r.performer or []
                       if p.actor is not None and p.actor.display), None)
    return [services.VaccinationInput(
        vaccine=vaccine, vaccinated_on=when, dose_number=dose, batch=r.lotNumber,
        vaccinator=vaccinator, notes=_notes(r), codings=_codings(r.vaccineCode))]


def _condition(r: Any) -> list[services.EntryInput]:
    status = _codes(r.verificationStatus)
    if "entered-in-error" in status or "refuted" in status:
        raise _Invalid(N_("Condition.verificationStatus : antécédent annulé ou réfuté."))
    condition = _require(_concept_text(r.code), N_("Condition.code : antécédent absent."))
    category = HistoryCategory.MEDICAL
    for concept in r.category or []:
        if HistoryCategory.SURGICAL.value in _codes(concept, HISTORY_CATEGORY):
            category = HistoryCategory.SURGICAL
    onset = _day(r.onsetDateTime)
    resolved = _day(r.abatementDateTime)
    return [services.MedicalHistoryInput(
        condition=condition, category=category, onset=onset, resolved=resolved,
        notes=_notes(r), codings=_codings(r.code))]


def _family(r: Any) -> list[services.EntryInput]:
    if r.status == "entered-in-error":
        raise _Invalid(N_("FamilyMemberHistory.status : saisie annulée."))
    relative = Relative.FAMILY_MEMBER
    for code in _codes(r.relationship):
        if code in Relative._value2member_map_:
            relative = Relative(code)
            break
    conditions = r.condition or []
    if not conditions:
        raise _Invalid(N_("FamilyMemberHistory.condition : aucune maladie indiquée."))
    entries: list[services.EntryInput] = []
    for item in conditions:
        text = _require(_concept_text(item.code),
                        N_("FamilyMemberHistory.condition.code : maladie absente."))
        age = None
        if item.onsetAge is not None and item.onsetAge.value is not None:
            unit = item.onsetAge.code or item.onsetAge.unit or "a"
            if unit not in ("a", "year", "years", "an", "ans"):
                raise _Invalid(
                    N_("FamilyMemberHistory.condition.onsetAge : âge attendu en années."))
            age = int(item.onsetAge.value)
        entries.append(services.FamilyHistoryInput(
            relative=relative, condition=text, age_at_onset=age, notes=_notes(r),
            codings=_codings(item.code)))
    return entries


def _medication(r: Any) -> list[services.EntryInput]:
    if r.status == "entered-in-error":
        raise _Invalid(N_("MedicationStatement.status : saisie annulée."))
    concept = r.medicationCodeableConcept
    medication = _concept_text(concept)
    if medication is None and r.medicationReference is not None:
        medication = r.medicationReference.display
    medication = _require(medication, N_("MedicationStatement.medication : médicament absent."))
    dose = frequency = None
    for dosage in r.dosage or []:
        dose = dosage.text
        if dosage.timing is not None and dosage.timing.code is not None:
            frequency = _concept_text(dosage.timing.code)
        break
    start = end = None
    if r.effectivePeriod is not None:
        start, end = _day(r.effectivePeriod.start), _day(r.effectivePeriod.end)
    elif r.effectiveDateTime is not None:
        start = _day(r.effectiveDateTime)
    prescriber = next((e.valueString for e in r.extension or []
                       if e.url == PRESCRIBER_EXTENSION and e.valueString), None)
    return [services.TreatmentInput(
        medication=medication, dose=dose, frequency=frequency, start_date=start, end_date=end,
        prescriber=prescriber, notes=_notes(r), codings=_codings(concept))]


def _quantity(kind: MeasurementKind, quantity: Any, where: str) -> Decimal:
    if quantity is None or quantity.value is None:
        raise _Invalid(N_("{where} : valeur absente."), where=where)
    unit = quantity.code or quantity.unit
    if unit is None:
        raise _Invalid(N_("{where} : unité absente (attendu {expected})."), where=where,
                       expected=SPECS[kind].unit)
    factor = CONVERSIONS.get((kind, unit))
    if factor is None:
        raise _Invalid(N_("{where} : unité « {unit} » non prise en charge (attendu {expected})."),
                       where=where, unit=unit, expected=SPECS[kind].unit)
    return Decimal(str(quantity.value)) * factor


def _observation(r: Any) -> list[services.EntryInput]:
    if r.status in ("entered-in-error", "cancelled"):
        raise _Invalid(N_("Observation.status « {status} » : mesure annulée."), status=r.status)
    codes = _codes(r.code, LOINC)
    if BMI_LOINC in codes:
        raise _Skip()  # derived from weight and height
    kind = next((BY_LOINC[c].kind for c in codes if c in BY_LOINC), None) or next(
        (LOINC_ALIASES[c] for c in codes if c in LOINC_ALIASES), None)
    if kind is None:
        if SYSTOLIC in codes or DIASTOLIC in codes:
            raise _Invalid(N_("Observation : pression systolique ou diastolique seule ; attendu "
                              "un panel {panel} avec les deux composantes."),
                           panel=BLOOD_PRESSURE_PANEL)
        raise _Invalid(N_("Observation.code : mesure non prise en charge (codes LOINC acceptés : "
                          "{codes})."), codes=", ".join(sorted(BY_LOINC)))
    when = _moment(r.effectiveDateTime)
    if when is None and r.effectivePeriod is not None:
        when = _moment(r.effectivePeriod.start)
    when = when or _moment(r.issued)
    when = _require(when, N_("Observation.effective : date de mesure absente."))
    value2 = None
    if kind is MeasurementKind.BLOOD_PRESSURE:
        parts = {}
        for component in r.component or []:
            for code in _codes(component.code, LOINC):
                if code in (SYSTOLIC, DIASTOLIC):
                    parts[code] = _quantity(kind, component.valueQuantity,
                                            f"Observation.component[{code}]")
        if SYSTOLIC not in parts or DIASTOLIC not in parts:
            raise _Invalid(N_("Observation.component : pressions systolique (8480-6) et "
                           "diastolique (8462-4) attendues."))
        value, value2 = parts[SYSTOLIC], parts[DIASTOLIC]
    else:
        value = _quantity(kind, r.valueQuantity, "Observation.valueQuantity")
    return [services.MeasurementInput(kind=kind, value=value, value2=value2, measured_at=when,
                                      notes=_notes(r))]


MAPPERS = {
    "AllergyIntolerance": (_allergy, services.AllergyInput),
    "Immunization": (_immunization, services.VaccinationInput),
    "Condition": (_condition, services.MedicalHistoryInput),
    "FamilyMemberHistory": (_family, services.FamilyHistoryInput),
    "MedicationStatement": (_medication, services.TreatmentInput),
    "Observation": (_observation, services.MeasurementInput),
}


# --- the import ----------------------------------------------------------------------------------


def _check_patient(entries: list[Any], person: Person) -> None:
    for item in entries:
        resource = item.get("resource") if isinstance(item, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
            continue
        for ident in resource.get("identifier") or []:
            if not isinstance(ident, dict):
                continue
            value = str(ident.get("value") or "").replace(" ", "").upper()
            if ident.get("system") in INS_SYSTEMS and value and value != person.matricule:
                raise InvalidBundle(N_("Ce fichier concerne un autre patient (matricule INS "
                                    "différent du vôtre) : rien n'a été importé."))


async def _own_id(model: Any, person_id: int, raw_id: Any) -> bool:
    try:
        parsed = uuid.UUID(str(raw_id))
    except ValueError:
        return False
    return await model.filter(id=parsed, person_id=person_id).exists()


async def _document(rt: Runtime, person_id: int, author: services.Author, r: Any,
                    raw_id: Any) -> bool:
    """Store a DocumentReference's inline content; False if it is already in the record."""
    if raw_id is not None:
        try:
            if await Document.filter(id=uuid.UUID(str(raw_id)), person_id=person_id,
                                     deleted_at__isnull=True).exists():
                return False
        except ValueError:
            pass
    if r.status == "entered-in-error":
        raise _Invalid(N_("DocumentReference.status : document annulé."))
    codes = _codes(r.type, LOINC)
    type_code = next((c for c in codes if DocumentType.from_loinc(c) is not None), None)
    if type_code is None:
        raise _Invalid(N_("DocumentReference.type : type de document inconnu (liste DMP, LOINC)."))
    attachment = r.content[0].attachment if r.content else None
    if attachment is None or attachment.data is None:
        raise _Invalid(N_("DocumentReference.content : contenu absent (seules les pièces jointes "
                       "en base64 sont importées)."))
    data = attachment.data
    if not isinstance(data, bytes):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise _Invalid(N_("DocumentReference.content : base64 invalide.")) from None
    clinical = None
    if r.context is not None and r.context.period is not None:
        clinical = _day(r.context.period.start)
    clinical = clinical or _day(attachment.creation) or _day(r.date) or date.today()
    label = DocumentType.from_loinc(type_code)
    title = (r.description or attachment.title or (label.label if label else "Document"))
    try:
        await records.store_document(
            rt, person_id=person_id,
            author=records.Author(account_id=author.account_id, professional_id=None),
            source=DocumentSource.LEGACY_IMPORT,
            data=records.DocumentInput(title[:records.MAX_TITLE], type_code, clinical),
            chunks=records.bytes_chunks(data),
        )
    except records.DuplicateDocument:
        return False
    except records.RecordsError as exc:
        raise _Invalid(exc.translatable) from None
    return True


def _consent_kind(r: Any) -> str | None:
    for concept in r.category or []:
        for coding in concept.coding or []:
            if coding.system == LOINC and coding.code == ADVANCE_DIRECTIVE_LOINC:
                return services.DIRECTIVE_KIND
            if coding.system == ORGAN_DONATION_CODE and coding.code == "organ-donation":
                return services.ORGAN_KIND
    return None


def _extension(r: Any, url: str) -> Any:
    for extension in r.extension or []:
        if extension.url == url:
            return extension
    return None


async def _directive(rt: Runtime, person_id: int, author: services.Author, r: Any) -> bool:
    """Import an advance directive; False if the same one is already in Carnet."""
    attachment = r.sourceAttachment
    text = document_id = None
    if attachment is not None and attachment.data is not None:
        data = attachment.data
        try:
            raw = data if isinstance(data, bytes) else base64.b64decode(data, validate=True)
            text = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            raise _Invalid(N_("Consent.sourceAttachment : texte des directives illisible "
                           "(base64 UTF-8 attendu).")) from None
    elif attachment is not None and attachment.url:
        parts = attachment.url.rstrip("/").split("/")
        document = None
        if len(parts) >= 3 and parts[-3] == "documents" and parts[-1] == "content":
            document = await records.patient_document(person_id, parts[-2])
        if document is None:
            raise _Invalid(N_("Consent.sourceAttachment : le document des directives anticipées "
                           "n'est pas dans votre dossier."))
        document_id = str(document.id)
    clean = services._text(text, "text", N_("Directives anticipées"),
                           limit=services.MAX_DIRECTIVE, multiline=True)
    if clean is None and document_id is None:
        raise _Invalid(N_("Consent.sourceAttachment : directives anticipées absentes."))
    existing = await services.get_single(services.KeyRing(rt.settings), AdvanceDirective,
                                         services.DIRECTIVE_KIND, owner_access(person_id))
    if existing is not None:
        same_document = (str(existing.row.document_id) if existing.row.document_id else None
                         ) == document_id
        if existing.text.get("text") == clean and same_document:
            return False
        raise _Invalid(N_("Vous avez déjà des directives anticipées dans Carnet, différentes de "
                       "celles du fichier : elles n'ont pas été remplacées (modifiez-les "
                       "depuis votre profil)."))
    await services.set_advance_directive(rt.settings, person_id=person_id, author=author,
                                         text=clean, document_id=document_id)
    return True


async def _organ_donation(rt: Runtime, person_id: int, author: services.Author, r: Any
                          ) -> bool:
    """Import the organ-donation position; False if the same one is already in Carnet."""
    position = None
    coded = _extension(r, ORGAN_DONATION_CODE + ":position")
    if coded is not None and coded.valueCode in OrganDonationPosition._value2member_map_:
        position = OrganDonationPosition(coded.valueCode)
    elif r.status in ("proposed", "draft"):
        position = OrganDonationPosition.UNDECIDED
    elif r.provision is not None and r.provision.type in ("permit", "deny"):
        position = (OrganDonationPosition.CONSENTS if r.provision.type == "permit"
                    else OrganDonationPosition.REFUSES)
    if position is None:
        raise _Invalid(N_("Consent : position sur le don d'organes absente "
                       "(provision.type permit ou deny)."))
    note_extension = _extension(r, ORGAN_DONATION_CODE + ":note")
    note = services._text(note_extension.valueString if note_extension else None, "note",
                          N_("Note"), limit=services.MAX_LONG, multiline=True)
    existing = await services.get_single(services.KeyRing(rt.settings), OrganDonation,
                                         services.ORGAN_KIND, owner_access(person_id))
    if existing is not None:
        if existing.row.position == position and existing.text.get("note") == note:
            return False
        raise _Invalid(N_("Votre position sur le don d'organes est déjà renseignée dans Carnet, "
                       "différente de celle du fichier : elle n'a pas été remplacée (modifiez-la "
                       "depuis votre profil)."))
    await services.set_organ_donation(rt.settings, person_id=person_id, author=author,
                                      position=position, note=note)
    return True


async def _consent(rt: Runtime, person_id: int, author: services.Author, r: Any,
                   raw_id: Any) -> bool | None:
    """Import one of the two Consents Carnet knows: True created, False already there, None
    another kind of Consent (context)."""
    kind = _consent_kind(r)
    if kind is None:
        return None
    model = AdvanceDirective if kind == services.DIRECTIVE_KIND else OrganDonation
    if raw_id is not None and await _own_id(model, person_id, raw_id):
        return False  # Carnet's own export, re-imported
    if r.status in WITHDRAWN_CONSENT:
        raise _Invalid(N_("Consent.status « {status} » : consentement annulé ou retiré, "
                          "non importé."), status=r.status)
    if kind == services.DIRECTIVE_KIND:
        return await _directive(rt, person_id, author, r)
    return await _organ_donation(rt, person_id, author, r)


async def import_bundle(rt: Runtime, *, person_id: int, author: services.Author,
                        bundle: Any) -> ImportReport:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidBundle(N_("Un Bundle FHIR est attendu (resourceType « Bundle »)."))
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidBundle(N_("Bundle.entry doit être une liste."))
    if len(entries) > MAX_ENTRIES:
        raise InvalidBundle(N_("Bundle trop volumineux : {limit} entrées au maximum."),
                            limit=MAX_ENTRIES)
    person = await Person.get(id=person_id)
    _check_patient(entries, person)

    report = ImportReport()
    for index, item in enumerate(entries):
        raw = item.get("resource") if isinstance(item, dict) else None
        resource_type = raw.get("resourceType") if isinstance(raw, dict) else None
        resource_type = resource_type if isinstance(resource_type, str) else None

        def fail(text: Message, index: int = index, resource_type: str | None = resource_type
                 ) -> None:
            report.errors.append(ImportIssue(index, resource_type, text))

        if not isinstance(raw, dict):
            fail(Message(N_("Bundle.entry.resource absent.")))
            continue
        if resource_type in IGNORED_TYPES:
            report.ignored += 1
            continue
        if resource_type not in MAPPERS and resource_type not in ("DocumentReference",
                                                                  "Consent"):
            fail(Message(N_("Type de ressource non pris en charge : {type}."),
                         type=resource_type or Message(N_("inconnu"))))
            continue
        try:
            resource = get_fhir_model_class(resource_type).model_validate(raw)
        except ValidationError as exc:
            fail(Message(N_("Ressource FHIR invalide : {details}"),
                         details=_validation_message(exc)))
            continue
        full_url = item.get("fullUrl") if isinstance(item.get("fullUrl"), str) else None
        try:
            if resource_type == "Consent":
                outcome = await _consent(rt, person_id, author, resource, raw.get("id"))
                if outcome is None:
                    report.ignored += 1
                elif outcome:
                    report.created += 1
                else:
                    report.skipped += 1
                continue
            if resource_type == "DocumentReference":
                if await _document(rt, person_id, author, resource, raw.get("id")):
                    report.created += 1
                else:
                    report.skipped += 1
                continue
            mapper, kind = MAPPERS[resource_type]
            if raw.get("id") and await _own_id(kind.MODEL, person_id, raw["id"]):
                report.skipped += 1
                continue
            inputs = mapper(resource)
            checked = [data.checked() for data in inputs]  # all or nothing per resource
            key = _source_key(raw, full_url)
            for position, data in enumerate(checked):
                source_key = key if len(checked) == 1 else hashlib.sha256(
                    f"{key}#{position}".encode()).hexdigest()
                try:
                    await services.add_entry(rt.settings, person_id=person_id, author=author,
                                             data=data, source_key=source_key)
                    report.created += 1
                except services.AlreadyImported:
                    report.skipped += 1
        except _Skip:
            report.ignored += 1
        except _Invalid as exc:
            fail(exc.text)
        except services.ProfileError as exc:
            fail(exc.translatable)
    return report
