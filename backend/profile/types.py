"""GraphQL types of the medical profile."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from backend.app_scopes import SAME_AS_PARENT, app_scope
from backend.graphql_errors import Error, PatientNotFound, TooManyFailedIdentityMatches, translates
from backend.graphql_types import Choice, ProfessionalSummary
from backend.i18n import gettext
from backend.profile import fhir_import, labels, services
from backend.profile.catalog import (
    BMI_LABEL,
    BMI_LOINC,
    BMI_UNIT,
    BMI_UNIT_LABEL,
    DIASTOLIC_LABEL,
    SPECS,
)
from backend.profile.models import AllergyCategory as AllergyCategoryModel
from backend.profile.models import AllergyKind as AllergyKindModel
from backend.profile.models import HistoryCategory as HistoryCategoryModel
from backend.profile.models import MeasurementKind as MeasurementKindModel
from backend.profile.models import OrganDonationPosition as OrganDonationPositionModel
from backend.profile.models import Relative as RelativeModel
from backend.profile.models import Severity as SeverityModel
from backend.records.loaders import load_professionals

AllergyKind = strawberry.enum(AllergyKindModel, description="Allergy or intolerance.")
AllergyCategory = strawberry.enum(AllergyCategoryModel,
                                  description="What the substance is (FHIR categories).")
Severity = strawberry.enum(SeverityModel, description="Severity of the reaction.")
HistoryCategory = strawberry.enum(HistoryCategoryModel,
                                  description="Medical or surgical history.")
Relative = strawberry.enum(RelativeModel,
                           description="Family member (HL7 v3 RoleCode: MTH, FTH, SIS...).")
MeasurementKind = strawberry.enum(
    MeasurementKindModel,
    description="What was measured (entered values; BMI is derived, see MeasurementSeriesKind).")
OrganDonationPosition = strawberry.enum(OrganDonationPositionModel,
                                        description="My position on organ donation.")


@strawberry.enum(description="A measurement series: every measured kind, plus the derived BMI.")
class MeasurementSeriesKind(enum.Enum):
    WEIGHT = "weight"
    HEIGHT = "height"
    BLOOD_PRESSURE = "blood_pressure"
    HEART_RATE = "heart_rate"
    BLOOD_GLUCOSE = "blood_glucose"
    TEMPERATURE = "temperature"
    WAIST = "waist"
    BMI = "bmi"


def _float(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


# --- entries -------------------------------------------------------------------------------


@strawberry.type(description="Who wrote an entry: me, or a professional.",
                 directives=[app_scope(SAME_AS_PARENT)])
class EntryAuthor:
    is_patient: bool
    professional: ProfessionalSummary | None


def _author(entry: services.Entry) -> EntryAuthor:
    professional_id = entry.row.author_professional_id
    if professional_id is None:
        return EntryAuthor(is_patient=True, professional=None)
    if not entry.authors_loaded:
        raise RuntimeError("profile entry built before its author was loaded (with_authors)")
    pro = entry.professional
    summary = ProfessionalSummary(
        id=strawberry.ID(str(pro.id)), rpps=pro.rpps, profession=pro.profession,
        specialty=pro.specialty, practice_name=pro.practice_name,
    ) if pro else None
    return EntryAuthor(is_patient=False, professional=summary)


async def with_authors(info: Info, entries: list[services.Entry]) -> list[services.Entry]:
    """Load the entries' author professionals in one batch (the request's professional
    loader, shared with the documents), so that each entry's `author` is a plain value built
    by its parent resolver, not a resolver per entry."""
    ids = sorted({e.row.author_professional_id for e in entries
                  if e.row.author_professional_id is not None})
    found = dict(zip(ids, await info.context.loaders.get(load_professionals).load_many(ids),
                     strict=True)) if ids else {}
    for entry in entries:
        entry.professional = found.get(entry.row.author_professional_id)
        entry.authors_loaded = True
    return entries


@strawberry.interface(description="An entry of my medical profile.")
class ProfileEntry:
    id: strawberry.ID
    recorded_at: datetime = strawberry.field(description="When it was written.")
    updated_at: datetime
    imported: bool = strawberry.field(description="Imported from a FHIR Bundle.")
    author: EntryAuthor = strawberry.field(
        description="Who wrote it (the patient or a professional).")


def _base(entry: services.Entry) -> dict[str, Any]:
    row = entry.row
    return {
        "id": strawberry.ID(str(row.id)), "recorded_at": row.created_at,
        "updated_at": row.updated_at, "imported": getattr(row, "source_key", None) is not None,
        "author": _author(entry),
    }


@strawberry.type(description="An allergy or intolerance.", directives=[app_scope(SAME_AS_PARENT)])
class Allergy(ProfileEntry):
    substance: str
    reaction: str | None
    severity: Severity | None
    since: date | None
    kind: AllergyKind
    category: AllergyCategory | None
    notes: str | None

    @classmethod
    def from_entry(cls, entry: services.Entry) -> Allergy:
        row, text = entry.row, entry.text
        return cls(**_base(entry), substance=text["substance"], reaction=text.get("reaction"),
                   severity=row.severity, since=row.since, kind=row.kind, category=row.category,
                   notes=text.get("notes"))


@strawberry.type(description="A vaccination.", directives=[app_scope(SAME_AS_PARENT)])
class Vaccination(ProfileEntry):
    vaccine: str
    vaccinated_on: date = strawberry.field(name="date")
    dose_number: int | None
    batch: str | None
    vaccinator: str | None = strawberry.field(description="Who vaccinated (free text).")
    notes: str | None

    @classmethod
    def from_entry(cls, entry: services.Entry) -> Vaccination:
        row, text = entry.row, entry.text
        return cls(**_base(entry), vaccine=text["vaccine"], vaccinated_on=row.vaccinated_on,
                   dose_number=row.dose_number, batch=text.get("batch"),
                   vaccinator=text.get("vaccinator"), notes=text.get("notes"))


@strawberry.type(description="Personal medical or surgical history.",
                 directives=[app_scope(SAME_AS_PARENT)])
class MedicalHistoryEntry(ProfileEntry):
    condition: str
    category: HistoryCategory
    onset: date | None
    resolved: date | None
    active: bool
    notes: str | None

    @classmethod
    def from_entry(cls, entry: services.Entry) -> MedicalHistoryEntry:
        row, text = entry.row, entry.text
        return cls(**_base(entry), condition=text["condition"], category=row.category,
                   onset=row.onset, resolved=row.resolved, active=row.resolved is None,
                   notes=text.get("notes"))


@strawberry.type(description="A condition of a relative.", directives=[app_scope(SAME_AS_PARENT)])
class FamilyHistoryEntry(ProfileEntry):
    relative: Relative
    condition: str
    age_at_onset: int | None
    notes: str | None

    @classmethod
    def from_entry(cls, entry: services.Entry) -> FamilyHistoryEntry:
        row, text = entry.row, entry.text
        return cls(**_base(entry), relative=row.relative, condition=text["condition"],
                   age_at_onset=row.age_at_onset, notes=text.get("notes"))


@strawberry.type(description="A current or past treatment.", directives=[app_scope(SAME_AS_PARENT)])
class Treatment(ProfileEntry):
    medication: str
    dose: str | None
    frequency: str | None
    start_date: date | None
    end_date: date | None
    prescriber: str | None
    current: bool = strawberry.field(description="No end date, or an end date not yet past.")
    notes: str | None

    @classmethod
    def from_entry(cls, entry: services.Entry) -> Treatment:
        row, text = entry.row, entry.text
        return cls(**_base(entry), medication=text["medication"], dose=text.get("dose"),
                   frequency=text.get("frequency"), start_date=row.start_date,
                   end_date=row.end_date, prescriber=text.get("prescriber"),
                   current=services.is_current(row), notes=text.get("notes"))


@strawberry.type(description="A measurement, coded with LOINC, in a UCUM unit.",
                 directives=[app_scope(SAME_AS_PARENT)])
class Measurement(ProfileEntry):
    kind: MeasurementKind
    label: str
    value: float = strawberry.field(description="Systolic pressure for a blood pressure.")
    diastolic: float | None
    unit: str = strawberry.field(description="UCUM code (kg, cm, mm[Hg], /min, g/L, Cel).")
    unit_label: str
    loinc: str
    measured_at: datetime
    notes: str | None
    bmi: float | None = strawberry.field(
        description="For a weight: BMI with the latest height measured at or before it.")

    @classmethod
    def from_entry(cls, entry: services.Entry, bmi: Decimal | None = None) -> Measurement:
        row, text = entry.row, entry.text
        spec = SPECS[MeasurementKindModel(row.kind)]
        return cls(**_base(entry), kind=row.kind, label=gettext(spec.label),
                   value=_float(row.value), diastolic=_float(row.value2), unit=spec.unit,
                   unit_label=gettext(spec.unit_label),
                   loinc=spec.loinc, measured_at=row.measured_at, notes=text.get("notes"),
                   bmi=_float(bmi))


@strawberry.type(description="Someone to call in an emergency.",
                 directives=[app_scope(SAME_AS_PARENT)])
class EmergencyContact(ProfileEntry):
    name: str
    relationship: str | None
    phone: str | None
    email: str | None
    notes: str | None

    @classmethod
    def from_entry(cls, entry: services.Entry) -> EmergencyContact:
        text = entry.text
        return cls(**_base(entry), name=text["name"], relationship=text.get("relationship"),
                   phone=text.get("phone"), email=text.get("email"), notes=text.get("notes"))


@strawberry.type(description="My advance directives: a text and/or a document of my record.",
                 directives=[app_scope(SAME_AS_PARENT)])
class AdvanceDirective(ProfileEntry):
    text: str | None
    document_id: strawberry.ID | None
    document_url: str | None = strawberry.field(description="GET with the bearer token.")

    @classmethod
    def from_entry(cls, entry: services.Entry) -> AdvanceDirective:
        document_id = entry.row.document_id
        return cls(**_base(entry), text=entry.text.get("text"),
                   document_id=strawberry.ID(str(document_id)) if document_id else None,
                   document_url=f"/documents/{document_id}/content" if document_id else None)


@strawberry.type(description="My position on organ donation.",
                 directives=[app_scope(SAME_AS_PARENT)])
class OrganDonation(ProfileEntry):
    position: OrganDonationPosition
    note: str | None

    @classmethod
    def from_entry(cls, entry: services.Entry) -> OrganDonation:
        return cls(**_base(entry), position=entry.row.position, note=entry.text.get("note"))


# --- series --------------------------------------------------------------------------------


@strawberry.type(description="One point of a chart.", directives=[app_scope(SAME_AS_PARENT)])
class MeasurementPoint:
    at: datetime
    value: float
    diastolic: float | None
    measurement_id: strawberry.ID = strawberry.field(
        description="The measurement (for BMI: the weight it derives from).")


@strawberry.type(description="A measurement series, oldest first, ready for a chart.",
                 directives=[app_scope(SAME_AS_PARENT)])
class MeasurementSeries:
    kind: MeasurementSeriesKind
    label: str
    loinc: str
    unit: str
    unit_label: str
    points: list[MeasurementPoint]

    @classmethod
    def build(cls, kind: MeasurementSeriesKind, points: list[services.SeriesPoint]
              ) -> MeasurementSeries:
        if kind is MeasurementSeriesKind.BMI:
            label, loinc, unit, unit_label = BMI_LABEL, BMI_LOINC, BMI_UNIT, BMI_UNIT_LABEL
        else:
            spec = SPECS[MeasurementKindModel(kind.value)]
            label, loinc, unit, unit_label = spec.label, spec.loinc, spec.unit, spec.unit_label
        return cls(kind=kind, label=gettext(label), loinc=loinc, unit=unit,
                   unit_label=gettext(unit_label),
                   points=[MeasurementPoint(at=p.at, value=float(p.value),
                                            diastolic=_float(p.value2),
                                            measurement_id=strawberry.ID(str(p.measurement_id)))
                           for p in points])


@strawberry.type(description="The latest measurements of one kind, for a small trend line "
                              "(the home screen).", directives=[app_scope(SAME_AS_PARENT)])
class MeasurementTrend:
    kind: MeasurementKind
    label: str
    loinc: str
    unit: str
    unit_label: str
    latest: MeasurementPoint
    points: list[MeasurementPoint] = strawberry.field(
        description="Oldest first, the latest last (at most the number asked for).")
    change: float | None = strawberry.field(
        description="The latest value minus the one before it (systolic for a blood "
                    "pressure); null with a single measurement.")

    @classmethod
    def build(cls, trend: services.Trend) -> MeasurementTrend:
        spec = SPECS[MeasurementKindModel(trend.kind)]
        points = [MeasurementPoint(at=r.measured_at, value=float(Decimal(r.value)),
                                   diastolic=_float(r.value2),
                                   measurement_id=strawberry.ID(str(r.id)))
                  for r in trend.rows]
        change = (float(Decimal(trend.rows[-1].value) - Decimal(trend.rows[-2].value))
                  if len(trend.rows) > 1 else None)
        return cls(kind=trend.kind, label=spec.label, loinc=spec.loinc, unit=spec.unit,
                   unit_label=spec.unit_label, latest=points[-1], points=points, change=change)


# --- inputs --------------------------------------------------------------------------------


@strawberry.input
class AllergyInput:
    substance: str
    reaction: str | None = None
    severity: Severity | None = None
    since: date | None = None
    kind: AllergyKind = AllergyKindModel.ALLERGY
    category: AllergyCategory | None = None
    notes: str | None = None

    def to_service(self) -> services.AllergyInput:
        return services.AllergyInput(
            substance=self.substance, reaction=self.reaction, severity=self.severity,
            since=self.since, kind=self.kind, category=self.category, notes=self.notes)


@strawberry.input
class VaccinationInput:
    vaccine: str
    vaccinated_on: date = strawberry.field(name="date")
    dose_number: int | None = None
    batch: str | None = None
    vaccinator: str | None = None
    notes: str | None = None

    def to_service(self) -> services.VaccinationInput:
        return services.VaccinationInput(
            vaccine=self.vaccine, vaccinated_on=self.vaccinated_on, dose_number=self.dose_number,
            batch=self.batch, vaccinator=self.vaccinator, notes=self.notes)


@strawberry.input
class MedicalHistoryInput:
    condition: str
    category: HistoryCategory = HistoryCategoryModel.MEDICAL
    onset: date | None = None
    resolved: date | None = None
    notes: str | None = None

    def to_service(self) -> services.MedicalHistoryInput:
        return services.MedicalHistoryInput(
            condition=self.condition, category=self.category, onset=self.onset,
            resolved=self.resolved, notes=self.notes)


@strawberry.input
class FamilyHistoryInput:
    relative: Relative
    condition: str
    age_at_onset: int | None = None
    notes: str | None = None

    def to_service(self) -> services.FamilyHistoryInput:
        return services.FamilyHistoryInput(
            relative=self.relative, condition=self.condition, age_at_onset=self.age_at_onset,
            notes=self.notes)


@strawberry.input
class TreatmentInput:
    medication: str
    dose: str | None = None
    frequency: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    prescriber: str | None = None
    notes: str | None = None

    def to_service(self) -> services.TreatmentInput:
        return services.TreatmentInput(
            medication=self.medication, dose=self.dose, frequency=self.frequency,
            start_date=self.start_date, end_date=self.end_date, prescriber=self.prescriber,
            notes=self.notes)


@strawberry.input(description="A measurement; for a blood pressure, `value` is the systolic "
                              "pressure and `diastolic` is required. Units are fixed per kind "
                              "(kg, cm, mm[Hg], /min, g/L, Cel).")
class MeasurementInput:
    kind: MeasurementKind
    value: float
    measured_at: datetime
    diastolic: float | None = None
    notes: str | None = None

    def to_service(self) -> services.MeasurementInput:
        return services.MeasurementInput(
            kind=self.kind, value=Decimal(str(self.value)), measured_at=self.measured_at,
            value2=Decimal(str(self.diastolic)) if self.diastolic is not None else None,
            notes=self.notes)


@strawberry.input
class EmergencyContactInput:
    name: str
    relationship: str | None = None
    phone: str | None = None
    email: str | None = None
    notes: str | None = None

    def to_service(self) -> services.EmergencyContactInput:
        return services.EmergencyContactInput(
            name=self.name, relationship=self.relationship, phone=self.phone, email=self.email,
            notes=self.notes)


@strawberry.input(description="A text, a document of my record, or both.")
class AdvanceDirectiveInput:
    text: str | None = None
    document_id: strawberry.ID | None = None


@strawberry.input
class OrganDonationInput:
    position: OrganDonationPosition
    note: str | None = None


# --- errors and results ----------------------------------------------------------------------


@translates(services.InvalidProfileInput)
@strawberry.type
class InvalidProfileInput(Error):
    field: str


@translates(services.MeasurementOutOfRange)
@strawberry.type(description="A value outside physiological bounds (a typing mistake?).")
class MeasurementOutOfRange(Error):
    field: str
    minimum: float
    maximum: float
    unit: str

    @classmethod
    def from_error(cls, exc: services.MeasurementOutOfRange) -> MeasurementOutOfRange:
        return cls(message=exc.message, field=exc.field, minimum=float(exc.minimum),
                   maximum=float(exc.maximum), unit=gettext(exc.unit))


@translates(services.EntryNotFound)
@strawberry.type(description="No such entry in my profile.")
class EntryNotFound(Error):
    pass


@translates(fhir_import.InvalidBundle)
@strawberry.type(description="The Bundle as a whole cannot be imported.")
class InvalidBundle(Error):
    pass


@strawberry.type
class EntryDeleted:
    id: strawberry.ID


@strawberry.type(description="An entry a professional added to a patient's profile.")
class ProfileEntryAdded:
    id: strawberry.ID
    recorded_at: datetime


@strawberry.type
class ImportIssue:
    index: int = strawberry.field(description="Position in Bundle.entry (from 0).")
    resource_type: str | None
    message: str


@strawberry.type(description="What an import did: nothing is created twice.")
class ImportReport:
    created: int
    skipped: int = strawberry.field(description="Already imported (or already in my record).")
    ignored: int = strawberry.field(
        description="Context resources (Patient, Practitioner...) and derived BMIs.")
    errors: list[ImportIssue]

    @classmethod
    def from_report(cls, report: fhir_import.ImportReport) -> ImportReport:
        return cls(created=report.created, skipped=report.skipped, ignored=report.ignored,
                   errors=[ImportIssue(index=e.index, resource_type=e.resource_type,
                                       message=e.text.render()) for e in report.errors])


AllergyResult = Annotated[Allergy | InvalidProfileInput | EntryNotFound,
                          strawberry.union("AllergyResult")]
VaccinationResult = Annotated[Vaccination | InvalidProfileInput | EntryNotFound,
                              strawberry.union("VaccinationResult")]
MedicalHistoryResult = Annotated[MedicalHistoryEntry | InvalidProfileInput | EntryNotFound,
                                 strawberry.union("MedicalHistoryResult")]
FamilyHistoryResult = Annotated[FamilyHistoryEntry | InvalidProfileInput | EntryNotFound,
                                strawberry.union("FamilyHistoryResult")]
TreatmentResult = Annotated[Treatment | InvalidProfileInput | EntryNotFound,
                            strawberry.union("TreatmentResult")]
MeasurementResult = Annotated[
    Measurement | MeasurementOutOfRange | InvalidProfileInput | EntryNotFound,
    strawberry.union("MeasurementResult")]
EmergencyContactResult = Annotated[EmergencyContact | InvalidProfileInput | EntryNotFound,
                                   strawberry.union("EmergencyContactResult")]
AdvanceDirectiveResult = Annotated[AdvanceDirective | InvalidProfileInput,
                                   strawberry.union("AdvanceDirectiveResult")]
OrganDonationResult = Annotated[OrganDonation | InvalidProfileInput,
                                strawberry.union("OrganDonationResult")]
DeleteEntryResult = Annotated[EntryDeleted | EntryNotFound, strawberry.union("DeleteEntryResult")]
ProfessionalEntryResult = Annotated[
    ProfileEntryAdded | PatientNotFound | TooManyFailedIdentityMatches | MeasurementOutOfRange
    | InvalidProfileInput,
    strawberry.union("ProfessionalEntryResult")]
ImportFhirBundleResult = Annotated[ImportReport | InvalidBundle,
                                   strawberry.union("ImportFhirBundleResult")]



# --- reference data (backend/schema.py's ReferenceData) --------------------------------------


@strawberry.type(description="A kind of measurement: its label, unit and the physiological "
                              "bounds the API accepts.", directives=[app_scope(SAME_AS_PARENT)])
class MeasurementKindInfo:
    value: MeasurementKind
    label: str
    loinc: str
    unit: str = strawberry.field(description="UCUM code.")
    unit_label: str
    minimum: float
    maximum: float
    diastolic_minimum: float | None = strawberry.field(
        description="For a blood pressure: the bounds of the diastolic pressure.")
    diastolic_maximum: float | None
    value_label: str = strawberry.field(
        description="What `value` is (for a blood pressure: the systolic pressure).")
    diastolic_label: str | None


@strawberry.type(description="The lengths of the profile's free texts.",
                 directives=[app_scope(SAME_AS_PARENT)])
class ProfileLimits:
    max_short_text: int = strawberry.field(description="Names, substances, doses...")
    max_long_text: int = strawberry.field(description="Notes.")
    max_directive_text: int = strawberry.field(description="Advance directives.")
    future_tolerance_seconds: int = strawberry.field(
        description="How far in the future a measurement time may be (clocks differ).")


def _choices(enum_type: Any, labelled: dict[Any, str]) -> list[Any]:
    return [Choice(value=member, label=gettext(labelled[member])) for member in enum_type]


@strawberry.type
class ProfileReferenceData:
    """The profile's part of `ReferenceData` (assembled in backend/schema.py)."""

    @strawberry.field
    def measurement_kinds(self) -> list[MeasurementKindInfo]:
        return [MeasurementKindInfo(
            value=spec.kind, label=gettext(spec.title), loinc=spec.loinc, unit=spec.unit,
            unit_label=gettext(spec.unit_label), minimum=float(spec.bounds.minimum),
            maximum=float(spec.bounds.maximum),
            diastolic_minimum=float(spec.bounds2.minimum) if spec.bounds2 else None,
            diastolic_maximum=float(spec.bounds2.maximum) if spec.bounds2 else None,
            value_label=gettext(spec.label),
            diastolic_label=gettext(DIASTOLIC_LABEL) if spec.bounds2 else None,
        ) for spec in SPECS.values()]

    @strawberry.field
    def allergy_kinds(self) -> list[Choice[AllergyKind]]:
        return _choices(AllergyKindModel, labels.ALLERGY_KINDS)

    @strawberry.field
    def allergy_categories(self) -> list[Choice[AllergyCategory]]:
        return _choices(AllergyCategoryModel, labels.ALLERGY_CATEGORIES)

    @strawberry.field
    def severities(self) -> list[Choice[Severity]]:
        return _choices(SeverityModel, labels.SEVERITIES)

    @strawberry.field
    def history_categories(self) -> list[Choice[HistoryCategory]]:
        return _choices(HistoryCategoryModel, labels.HISTORY_CATEGORIES)

    @strawberry.field
    def relatives(self) -> list[Choice[Relative]]:
        return _choices(RelativeModel, labels.RELATIVES)

    @strawberry.field
    def organ_donation_positions(self) -> list[Choice[OrganDonationPosition]]:
        return _choices(OrganDonationPositionModel, labels.ORGAN_DONATION_POSITIONS)

    @strawberry.field
    def profile_limits(self) -> ProfileLimits:
        return ProfileLimits(
            max_short_text=services.MAX_SHORT, max_long_text=services.MAX_LONG,
            max_directive_text=services.MAX_DIRECTIVE,
            future_tolerance_seconds=int(services.FUTURE_TOLERANCE.total_seconds()))
