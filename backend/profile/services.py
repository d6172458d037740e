"""Medical profile rules: adding, changing, deleting and listing a patient's profile entries.

- Free text is encrypted with the patient's data key, one JSON object per row, bound to the
  kind and the row id (a ciphertext copied onto another row does not decrypt).
- An entry someone may not change (another patient's, or a malformed id) answers exactly like a
  missing one.
- The patient adds and changes everything; a professional may ADD clinical entries (allergy,
  vaccination, history, treatment, measurement) for a patient identified by INS matricule, birth
  name and birth date. The entry then shows its professional author.
- Reads take an `Access` (backend/access/policy.py), never a bare person id: a section the
  access does not include reads as empty (no query), exactly like an empty section.
- Measurements have a LOINC code, a UCUM unit and physiological bounds; BMI is derived from a
  weight and the latest height measured at or before it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from pypika_tortoise import Order
from pypika_tortoise.analytics import RowNumber
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from backend import errors
from backend.access.policy import Access, Section
from backend.i18n import N_, Message
from backend.identity import matching
from backend.keys import services as keys
from backend.profile.catalog import DIASTOLIC_LABEL, SPECS
from backend.profile.models import (
    AdvanceDirective,
    Allergy,
    AllergyCategory,
    AllergyKind,
    EmergencyContact,
    FamilyHistory,
    HistoryCategory,
    MeasurementKind,
    MedicalHistory,
    OrganDonation,
    OrganDonationPosition,
    Relative,
    Severity,
    Treatment,
    Vaccination,
)
from backend.profile.models import Measurement as MeasurementRow
from backend.records import services as records
from backend.runtime import Runtime
from backend.settings import Settings

MAX_SHORT = 200
MAX_LONG = 2000
MAX_DIRECTIVE = 20000
FUTURE_TOLERANCE = timedelta(minutes=10)


# --- errors a client can fix -------------------------------------------------------------


class ProfileError(errors.DomainError):
    pass


class InvalidProfileInput(ProfileError):
    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class MeasurementOutOfRange(ProfileError):
    """`label` and `unit_label` are msgids (catalog.SPECS), translated with the message."""

    message = N_("{label} hors des limites physiologiques : {value} {unit} (valeurs acceptées "
                 "de {minimum} à {maximum} {unit}).")

    def __init__(self, field: str, label: str, value: Decimal, minimum: Decimal,
                 maximum: Decimal, unit_label: str) -> None:
        super().__init__(label=Message(label), value=value, minimum=minimum, maximum=maximum,
                         unit=Message(unit_label))
        self.field, self.value, self.minimum, self.maximum = field, value, minimum, maximum
        self.unit = unit_label


class EntryNotFound(ProfileError):
    message = N_("Élément introuvable.")


class AlreadyImported(Exception):
    """Raised by `add_entry` when a source key is already present (imports only; not a
    DomainError: the import counts it as skipped, no client ever sees it)."""

    message = "Déjà importé."  # never shown (see above)

    def __init__(self, existing_id: uuid.UUID | None = None) -> None:
        super().__init__()
        self.existing_id = existing_id


# --- field checks --------------------------------------------------------------------------


def _text(value: str | None, field: str, label: str, *, required: bool = False,
          limit: int = MAX_SHORT, multiline: bool = False) -> str | None:
    if value is None:
        text = ""
    elif multiline:
        text = "\n".join(" ".join(line.split()) for line in value.strip().splitlines()).strip()
    else:
        text = " ".join(value.split())
    if not text:
        if required:
            raise InvalidProfileInput(field, N_("{label} : ce champ est obligatoire."),
                                      label=Message(label))
        return None
    if len(text) > limit:
        raise InvalidProfileInput(field, N_("{label} : {limit} caractères au maximum."),
                                  label=Message(label), limit=limit)
    return text


def _past_date(value: date | None, field: str, label: str) -> date | None:
    if value is None:
        return None
    if value > date.today() + timedelta(days=1):
        raise InvalidProfileInput(field, N_("{label} : la date est dans le futur."),
                                  label=Message(label))
    if value.year < 1900:
        raise InvalidProfileInput(field, N_("{label} : date invalide."), label=Message(label))
    return value


def _int(value: int | None, field: str, label: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise InvalidProfileInput(field, N_("{label} : valeur attendue entre {low} et {high}."),
                                  label=Message(label), low=low, high=high)
    return value


def _decimal(value: float | Decimal | str | None, field: str, label: str) -> Decimal:
    if value is None:
        raise InvalidProfileInput(field, N_("{label} : valeur obligatoire."),
                                  label=Message(label))
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidProfileInput(field, N_("{label} : nombre invalide."),
                                  label=Message(label)) from None
    if not number.is_finite():
        raise InvalidProfileInput(field, N_("{label} : nombre invalide."), label=Message(label))
    return number.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- inputs --------------------------------------------------------------------------------


Coding = dict[str, str]  # {"system", "code", "display"}: codes kept from an imported resource


@dataclass
class EntryInput:
    """An entry kind: `text()` is encrypted, `columns()` is stored clear."""

    KIND: ClassVar[str]
    MODEL: ClassVar[type[Model]]
    TEXT: ClassVar[tuple[str, ...]]

    def checked(self) -> EntryInput:
        raise NotImplementedError

    def text(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.TEXT
                if getattr(self, name) not in (None, [], "")}

    def columns(self) -> dict[str, Any]:
        skip = set(self.TEXT)
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


@dataclass
class AllergyInput(EntryInput):
    KIND = "allergy"
    MODEL = Allergy
    TEXT = ("substance", "reaction", "notes", "codings")

    substance: str
    reaction: str | None = None
    severity: Severity | None = None
    since: date | None = None
    kind: AllergyKind = AllergyKind.ALLERGY
    category: AllergyCategory | None = None
    notes: str | None = None
    codings: list[Coding] = field(default_factory=list)

    def checked(self) -> AllergyInput:
        return replace(
            self, substance=_text(self.substance, "substance", N_("Substance"), required=True),
            reaction=_text(self.reaction, "reaction", N_("Réaction"), limit=500),
            since=_past_date(self.since, "since", N_("Depuis")),
            notes=_text(self.notes, "notes", N_("Notes"), limit=MAX_LONG, multiline=True),
        )


@dataclass
class VaccinationInput(EntryInput):
    KIND = "vaccination"
    MODEL = Vaccination
    TEXT = ("vaccine", "batch", "vaccinator", "notes", "codings")

    vaccine: str
    vaccinated_on: date
    dose_number: int | None = None
    batch: str | None = None
    vaccinator: str | None = None
    notes: str | None = None
    codings: list[Coding] = field(default_factory=list)

    def checked(self) -> VaccinationInput:
        if self.vaccinated_on is None:
            raise InvalidProfileInput("date", N_("Date de vaccination : ce champ est obligatoire."))
        return replace(
            self, vaccine=_text(self.vaccine, "vaccine", N_("Vaccin"), required=True),
            vaccinated_on=_past_date(self.vaccinated_on, "date", N_("Date de vaccination")),
            dose_number=_int(self.dose_number, "doseNumber", N_("Numéro de dose"), 1, 30),
            batch=_text(self.batch, "batch", N_("Numéro de lot"), limit=60),
            vaccinator=_text(self.vaccinator, "vaccinator", N_("Vaccinateur")),
            notes=_text(self.notes, "notes", N_("Notes"), limit=MAX_LONG, multiline=True),
        )


@dataclass
class MedicalHistoryInput(EntryInput):
    KIND = "medical_history"
    MODEL = MedicalHistory
    TEXT = ("condition", "notes", "codings")

    condition: str
    category: HistoryCategory = HistoryCategory.MEDICAL
    onset: date | None = None
    resolved: date | None = None
    notes: str | None = None
    codings: list[Coding] = field(default_factory=list)

    def checked(self) -> MedicalHistoryInput:
        onset = _past_date(self.onset, "onset", N_("Début"))
        resolved = _past_date(self.resolved, "resolved", N_("Guérison"))
        if onset and resolved and resolved < onset:
            raise InvalidProfileInput("resolved", N_("La date de guérison précède le début."))
        return replace(
            self, condition=_text(self.condition, "condition", N_("Antécédent"), required=True),
            onset=onset, resolved=resolved,
            notes=_text(self.notes, "notes", N_("Notes"), limit=MAX_LONG, multiline=True),
        )


@dataclass
class FamilyHistoryInput(EntryInput):
    KIND = "family_history"
    MODEL = FamilyHistory
    TEXT = ("condition", "notes", "codings")

    relative: Relative
    condition: str
    age_at_onset: int | None = None
    notes: str | None = None
    codings: list[Coding] = field(default_factory=list)

    def checked(self) -> FamilyHistoryInput:
        if self.relative is None:
            raise InvalidProfileInput("relative", N_("Lien de parenté : ce champ est obligatoire."))
        return replace(
            self, condition=_text(self.condition, "condition", N_("Maladie"), required=True),
            age_at_onset=_int(self.age_at_onset, "ageAtOnset", N_("Âge au début"), 0, 130),
            notes=_text(self.notes, "notes", N_("Notes"), limit=MAX_LONG, multiline=True),
        )


@dataclass
class TreatmentInput(EntryInput):
    KIND = "treatment"
    MODEL = Treatment
    TEXT = ("medication", "dose", "frequency", "prescriber", "notes", "codings")

    medication: str
    dose: str | None = None
    frequency: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    prescriber: str | None = None
    notes: str | None = None
    codings: list[Coding] = field(default_factory=list)

    def checked(self) -> TreatmentInput:
        start = _past_date(self.start_date, "startDate", N_("Début"))
        end = self.end_date
        if end is not None and end.year < 1900:
            raise InvalidProfileInput("endDate", N_("Fin : date invalide."))
        if start and end and end < start:
            raise InvalidProfileInput("endDate", N_("La date de fin précède le début."))
        return replace(
            self, medication=_text(self.medication, "medication", N_("Médicament"), required=True),
            dose=_text(self.dose, "dose", N_("Dose")),
            frequency=_text(self.frequency, "frequency", N_("Fréquence")),
            start_date=start, end_date=end,
            prescriber=_text(self.prescriber, "prescriber", N_("Prescripteur")),
            notes=_text(self.notes, "notes", N_("Notes"), limit=MAX_LONG, multiline=True),
        )


@dataclass
class MeasurementInput(EntryInput):
    KIND = "measurement"
    MODEL = MeasurementRow
    TEXT = ("notes",)

    kind: MeasurementKind
    value: Decimal
    measured_at: datetime
    value2: Decimal | None = None  # diastolic, for blood pressure only
    notes: str | None = None

    def checked(self) -> MeasurementInput:
        if self.kind not in SPECS:
            raise InvalidProfileInput("kind", N_("Type de mesure inconnu."))
        spec = SPECS[self.kind]
        if self.measured_at is None:
            raise InvalidProfileInput("measuredAt",
                                      N_("Date de mesure : ce champ est obligatoire."))
        measured_at = _aware(self.measured_at)
        if measured_at > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise InvalidProfileInput("measuredAt", N_("La date de mesure est dans le futur."))
        if measured_at.year < 1900:
            raise InvalidProfileInput("measuredAt", N_("Date de mesure invalide."))
        value = _decimal(self.value, "value", spec.label)
        _check_bounds("value", spec.label, value, spec.bounds, spec.unit_label)
        value2 = None
        if spec.bounds2 is not None:
            value2 = _decimal(self.value2, "diastolic", DIASTOLIC_LABEL)
            _check_bounds("diastolic", DIASTOLIC_LABEL, value2, spec.bounds2, spec.unit_label)
            if value2 >= value:
                raise InvalidProfileInput("diastolic", N_("La pression diastolique doit être "
                                                       "inférieure à la systolique."))
        elif self.value2 is not None:
            raise InvalidProfileInput("diastolic", N_("Une seule valeur pour cette mesure."))
        return replace(self, value=value, value2=value2, measured_at=measured_at,
                       notes=_text(self.notes, "notes", N_("Notes"), limit=500))


def _check_bounds(field: str, label: str, value: Decimal, bounds: Any, unit_label: str) -> None:
    if not bounds.minimum <= value <= bounds.maximum:
        raise MeasurementOutOfRange(field, label, value, bounds.minimum, bounds.maximum,
                                    unit_label)


@dataclass
class EmergencyContactInput(EntryInput):
    KIND = "emergency_contact"
    MODEL = EmergencyContact
    TEXT = ("name", "relationship", "phone", "email", "notes")

    name: str
    relationship: str | None = None
    phone: str | None = None
    email: str | None = None
    notes: str | None = None

    def checked(self) -> EmergencyContactInput:
        phone = _text(self.phone, "phone", N_("Téléphone"), limit=30)
        if phone and not all(c.isdigit() or c in "+ .-()" for c in phone):
            raise InvalidProfileInput("phone", N_("Téléphone : chiffres, espaces et + seulement."))
        if phone and sum(c.isdigit() for c in phone) < 4:
            raise InvalidProfileInput("phone", N_("Téléphone : numéro trop court."))
        email = _text(self.email, "email", N_("Courriel"), limit=254)
        if email and ("@" not in email or " " in email or email.startswith("@")
                      or email.endswith("@")):
            raise InvalidProfileInput("email", N_("Courriel invalide."))
        if not phone and not email:
            raise InvalidProfileInput("phone", N_("Indiquez un téléphone ou un courriel."))
        return replace(
            self, name=_text(self.name, "name", N_("Nom"), required=True),
            relationship=_text(self.relationship, "relationship", N_("Lien")),
            phone=phone, email=email,
            notes=_text(self.notes, "notes", N_("Notes"), limit=500, multiline=True),
        )


# Kinds a professional may add (personal decisions stay the patient's).
PROFESSIONAL_KINDS = (AllergyInput, VaccinationInput, MedicalHistoryInput, FamilyHistoryInput,
                      TreatmentInput, MeasurementInput)
LIST_KINDS: dict[str, type[EntryInput]] = {
    k.KIND: k for k in (*PROFESSIONAL_KINDS, EmergencyContactInput)
}


@dataclass
class Author:
    account_id: int
    professional_id: int | None  # None: the patient themselves


# --- encryption ----------------------------------------------------------------------------


def _associated(kind: str, entry_id: uuid.UUID) -> bytes:
    return f"carnet:profile:{kind}:".encode() + entry_id.bytes


def seal(data_key: bytes, kind: str, entry_id: uuid.UUID, text: dict[str, Any]) -> bytes:
    payload = json.dumps(text, ensure_ascii=False, separators=(",", ":"), default=str)
    return keys.encrypt_bytes(data_key, payload.encode(), associated=_associated(kind, entry_id))


def unseal(data_key: bytes, kind: str, entry_id: uuid.UUID, blob: bytes) -> dict[str, Any]:
    plain = keys.decrypt_bytes(data_key, bytes(blob), associated=_associated(kind, entry_id))
    return json.loads(plain.decode())


class KeyRing:
    """Unwrapped data keys by id, loaded once per key (concurrent callers share a load)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: dict[int, bytes] = {}
        self._loading: dict[int, asyncio.Future[bytes]] = {}

    async def get(self, key_id: int) -> bytes:
        key = self._keys.get(key_id)
        if key is not None:
            return key
        pending = self._loading.get(key_id)
        if pending is None:
            pending = asyncio.ensure_future(keys.data_key_by_id(self.settings, key_id))
            self._loading[key_id] = pending
            pending.add_done_callback(lambda done: self._settle(key_id, done))
        return await asyncio.shield(pending)

    def _settle(self, key_id: int, done: asyncio.Future[bytes]) -> None:
        self._loading.pop(key_id, None)
        if not done.cancelled() and done.exception() is None:
            self._keys[key_id] = done.result()

    async def load(self, rows: Sequence[Any]) -> dict[int, bytes]:
        return {key_id: await self.get(key_id)
                for key_id in sorted({row.data_key_id for row in rows})}


@dataclass
class Entry:
    """A row with its decrypted free text (and, once loaded, its author professional: see
    profile/types.py `with_authors`)."""

    row: Any
    text: dict[str, Any]
    professional: Any = field(default=None, compare=False)
    authors_loaded: bool = field(default=False, compare=False)

    @property
    def id(self) -> uuid.UUID:
        return self.row.id


async def decrypt(ring: KeyRing, kind: str, rows: Sequence[Any]) -> list[Entry]:
    loaded = await ring.load(rows)
    return [Entry(row, unseal(loaded[row.data_key_id], kind, row.id, row.text_encrypted))
            for row in rows]


# --- writing -------------------------------------------------------------------------------


def _parse_id(entry_id: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(entry_id, uuid.UUID):
        return entry_id
    try:
        return uuid.UUID(str(entry_id))
    except ValueError:
        return None


async def add_entry(settings: Settings, *, person_id: int, author: Author, data: EntryInput,
                    source_key: str | None = None) -> Entry:
    data = data.checked()
    model = data.MODEL
    if source_key is not None:
        existing = await model.filter(person_id=person_id, source_key=source_key).first()
        if existing is not None:
            raise AlreadyImported(existing.id)
    data_key_id, data_key = await keys.data_key_for(settings, person_id)
    entry_id = uuid.uuid4()
    text = data.text()
    extra = {"source_key": source_key} if source_key is not None else {}
    try:
        row = await model.create(
            id=entry_id, person_id=person_id, author_account_id=author.account_id,
            author_professional_id=author.professional_id, data_key_id=data_key_id,
            text_encrypted=seal(data_key, data.KIND, entry_id, text), **extra, **data.columns(),
        )
    except IntegrityError:
        if source_key is None:
            raise
        raise AlreadyImported() from None  # a concurrent import of the same resource
    return Entry(row, text)


async def _own(model: type[Model], person_id: int, entry_id: str | uuid.UUID) -> Any:
    parsed = _parse_id(entry_id)
    row = None if parsed is None else await model.filter(id=parsed, person_id=person_id).first()
    if row is None:
        raise EntryNotFound()
    return row


async def update_entry(settings: Settings, *, person_id: int, entry_id: str,
                       data: EntryInput) -> Entry:
    """Replace an entry's fields (the author and the import identity stay)."""
    data = data.checked()
    row = await _own(data.MODEL, person_id, entry_id)
    data_key_id, data_key = await keys.data_key_for(settings, person_id)
    text = data.text()
    if "codings" in data.TEXT and not text.get("codings"):
        # codes come from imports only; an edit through the form keeps them
        ring = KeyRing(settings)
        previous = (await decrypt(ring, data.KIND, [row]))[0].text
        if previous.get("codings"):
            text["codings"] = previous["codings"]
    for name, value in data.columns().items():
        setattr(row, name, value)
    row.data_key_id = data_key_id
    row.text_encrypted = seal(data_key, data.KIND, row.id, text)
    await row.save()
    return Entry(row, text)


async def delete_entry(model: type[Model], *, person_id: int, entry_id: str) -> uuid.UUID:
    parsed = _parse_id(entry_id)
    deleted = 0 if parsed is None else await model.filter(
        id=parsed, person_id=person_id).delete()
    if not deleted:
        raise EntryNotFound()
    return parsed  # type: ignore[return-value]


async def professional_add_entry(rt: Runtime, *, professional_account_id: int,
                                 professional_id: int, patient: matching.PatientClaim,
                                 data: EntryInput, address: str | None = None) -> Entry:
    """Input errors come first (they reveal nothing about the patient), then the identity
    match (`matching.PatientNotFound` / `TooManyFailedMatches`), then only success."""
    if not isinstance(data, PROFESSIONAL_KINDS):
        raise InvalidProfileInput("kind", N_("Réservé au patient."))
    data = data.checked()
    match = await matching.find_patient(
        rt, matching.Requester(professional_account_id, professional_id, "profile", address),
        patient)
    entry = await add_entry(rt.settings, person_id=match.person.id,
                            author=Author(professional_account_id, professional_id), data=data)
    await match.confirm()
    return entry


# --- advance directive and organ donation (one each per patient) -------------------------------


DIRECTIVE_KIND = "advance_directive"
ORGAN_KIND = "organ_donation"


async def set_advance_directive(settings: Settings, *, person_id: int, author: Author,
                                text: str | None, document_id: str | None) -> Entry:
    clean = _text(text, "text", N_("Directives anticipées"), limit=MAX_DIRECTIVE, multiline=True)
    document = None
    if document_id:
        document = await records.patient_document(person_id, document_id)
        if document is None:
            raise InvalidProfileInput("documentId", N_("Document introuvable dans votre dossier."))
    if clean is None and document is None:
        raise InvalidProfileInput("text", N_("Rédigez vos directives ou choisissez un document."))
    data_key_id, data_key = await keys.data_key_for(settings, person_id)
    payload = {"text": clean} if clean else {}
    row = await AdvanceDirective.filter(person_id=person_id).first()
    if row is None:
        entry_id = uuid.uuid4()
        try:
            row = await AdvanceDirective.create(
                id=entry_id, person_id=person_id, author_account_id=author.account_id,
                author_professional_id=author.professional_id, data_key_id=data_key_id,
                text_encrypted=seal(data_key, DIRECTIVE_KIND, entry_id, payload),
                document_id=document.id if document else None,
            )
            return Entry(row, payload)
        except IntegrityError:  # created concurrently: update it below
            row = await AdvanceDirective.get(person_id=person_id)
    row.author_account_id = author.account_id
    row.author_professional_id = author.professional_id
    row.data_key_id = data_key_id
    row.text_encrypted = seal(data_key, DIRECTIVE_KIND, row.id, payload)
    row.document_id = document.id if document else None
    await row.save()
    return Entry(row, payload)


async def set_organ_donation(settings: Settings, *, person_id: int, author: Author,
                             position: OrganDonationPosition, note: str | None) -> Entry:
    if position is None:
        raise InvalidProfileInput("position", N_("Choisissez une position."))
    clean = _text(note, "note", N_("Note"), limit=MAX_LONG, multiline=True)
    payload = {"note": clean} if clean else {}
    data_key_id, data_key = await keys.data_key_for(settings, person_id)
    row = await OrganDonation.filter(person_id=person_id).first()
    if row is None:
        entry_id = uuid.uuid4()
        try:
            row = await OrganDonation.create(
                id=entry_id, person_id=person_id, author_account_id=author.account_id,
                author_professional_id=author.professional_id, data_key_id=data_key_id,
                text_encrypted=seal(data_key, ORGAN_KIND, entry_id, payload), position=position,
            )
            return Entry(row, payload)
        except IntegrityError:
            row = await OrganDonation.get(person_id=person_id)
    row.author_account_id = author.account_id
    row.author_professional_id = author.professional_id
    row.data_key_id = data_key_id
    row.text_encrypted = seal(data_key, ORGAN_KIND, row.id, payload)
    row.position = position
    await row.save()
    return Entry(row, payload)


async def delete_single(model: type[Model], *, person_id: int) -> uuid.UUID:
    row = await model.filter(person_id=person_id).first()
    if row is None:
        raise EntryNotFound()
    await model.filter(id=row.id).delete()
    return row.id


# --- reading -------------------------------------------------------------------------------


# The profile section of each entry kind (what the matrix and the patient's restrictions name).
SECTIONS: dict[str, Section] = {
    "allergy": Section.ALLERGIES,
    "vaccination": Section.VACCINATIONS,
    "medical_history": Section.MEDICAL_HISTORY,
    "family_history": Section.FAMILY_HISTORY,
    "treatment": Section.TREATMENTS,
    "measurement": Section.MEASUREMENTS,
    "emergency_contact": Section.EMERGENCY_CONTACTS,
    DIRECTIVE_KIND: Section.ADVANCE_DIRECTIVE,
    ORGAN_KIND: Section.ORGAN_DONATION,
}


def _newest_first(entries: list[Entry], key: Any) -> list[Entry]:
    return sorted(entries, key=key, reverse=True)


def _created(entry: Entry) -> datetime:
    return entry.row.created_at


# The model of each section's rows, by entry kind.
SECTION_MODELS: dict[str, type[Model]] = {
    **{kind: spec.MODEL for kind, spec in LIST_KINDS.items()},
    DIRECTIVE_KIND: AdvanceDirective,
    ORGAN_KIND: OrganDonation,
}

# The union's column naming which section a row belongs to (an index into its branch list).
_SECTION_TAG = "carnet_section"


def _null_of(field: Any, dialect: str) -> str:
    """A NULL standing for `field` in a UNION ALL branch of a model that lacks it. PostgreSQL
    types a compound select branch by branch (`(A UNION ALL B) UNION ALL C`): a column NULL in
    both A and B would become text and then clash with C's date, so the NULL is cast to the
    field's own type. SQLite needs no type."""
    if dialect != "postgres":
        return "NULL"
    sql_type = field.get_for_dialect(dialect, "SQL_TYPE")
    return f"CAST(NULL AS {sql_type})"


def _placeholder(dialect: str, n: int) -> str:
    return f"${n}" if dialect == "postgres" else "?"


async def section_rows(access: Access, kinds: Sequence[str]) -> dict[str, list[Model]]:
    """The rows of several profile sections (entry kinds) of one patient in ONE statement: a
    UNION ALL of one branch per section, each branch filling the other sections' columns with
    NULL. Only the sections `access` may read are read; the others answer empty, and no query
    runs when none is readable. Rows are not ordered (each section sorts its own)."""
    result: dict[str, list[Model]] = {kind: [] for kind in kinds}
    readable = [kind for kind in result if access.may_read_section(SECTIONS[kind])]
    if not readable:
        return result
    if len(readable) == 1:
        kind = readable[0]
        result[kind] = list(await SECTION_MODELS[kind].filter(person_id=access.patient_id))
        return result
    db = SECTION_MODELS[readable[0]]._meta.db
    dialect = db.capabilities.dialect
    columns: dict[str, Any] = {}  # every column of every branch, in a stable order
    for kind in readable:
        meta = SECTION_MODELS[kind]._meta
        for column in sorted(meta.db_fields):
            field = meta.fields_map[meta.fields_db_projection_reverse[column]]
            columns.setdefault(column, field)
    branches, values = [], []
    for index, kind in enumerate(readable):
        meta = SECTION_MODELS[kind]._meta
        selected = [f'"{c}"' if c in meta.db_fields else f'{_null_of(field, dialect)} "{c}"'
                    for c, field in columns.items()]
        values.append(access.patient_id)
        # Only the models' own table and column names and integers go into the text; the
        # patient id is a parameter.
        branches.append(
            f'SELECT {index} "{_SECTION_TAG}",{",".join(selected)} '  # noqa: S608
            f'FROM "{meta.db_table}" WHERE "person_id"={_placeholder(dialect, len(values))}')
    for row in await db.execute_query_dict(" UNION ALL ".join(branches), values):
        kind = readable[int(row[_SECTION_TAG])]
        model = SECTION_MODELS[kind]
        result[kind].append(model._init_from_db(
            **{column: row[column] for column in model._meta.db_fields}))
    return result


async def list_entries(ring: KeyRing, kind: type[EntryInput], access: Access,
                       rows: Sequence[Any] | None = None) -> list[Entry]:
    """One section's entries, decrypted and sorted; `rows` when they were read already
    (`section_rows`, the whole profile screen in one statement), else one query."""
    if not access.may_read_section(SECTIONS[kind.KIND]):
        return []
    if rows is None:
        rows = await kind.MODEL.filter(person_id=access.patient_id)
    entries = await decrypt(ring, kind.KIND, rows)
    if kind is VaccinationInput:
        return _newest_first(entries, lambda e: (e.row.vaccinated_on, e.row.created_at))
    if kind is MedicalHistoryInput:
        return _newest_first(entries, lambda e: (e.row.onset or e.row.created_at.date(),
                                                 e.row.created_at))
    if kind is TreatmentInput:
        today = date.today()
        return sorted(entries, key=lambda e: (
            e.row.end_date is not None and e.row.end_date < today,  # current ones first
            -(e.row.start_date or e.row.created_at.date()).toordinal(),
            -e.row.created_at.timestamp()))
    if kind is MeasurementInput:
        return _newest_first(entries, lambda e: (e.row.measured_at, e.row.created_at))
    if kind is EmergencyContactInput:
        return sorted(entries, key=_created)
    return _newest_first(entries, _created)


_NOT_READ: Any = object()


async def get_single(ring: KeyRing, model: type[Model], kind: str, access: Access,
                     row: Any = _NOT_READ) -> Entry | None:
    """A single section's entry (or None); `row` when it was read already (None: there is
    none), else one query."""
    if not access.may_read_section(SECTIONS[kind]):
        return None
    if row is _NOT_READ:
        row = await model.filter(person_id=access.patient_id).first()
    if row is None:
        return None
    return (await decrypt(ring, kind, [row]))[0]


def is_current(row: Treatment, today: date | None = None) -> bool:
    return row.end_date is None or row.end_date >= (today or date.today())


# --- BMI and series ------------------------------------------------------------------------


def bmi(weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    metres = height_cm / Decimal(100)
    return (weight_kg / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def bmi_by_weight(rows: Sequence[MeasurementRow]) -> dict[uuid.UUID, tuple[Decimal, Any]]:
    """For every weight, (BMI, height row) using the latest height measured at or before it."""
    heights = sorted((r for r in rows if r.kind == MeasurementKind.HEIGHT),
                     key=lambda r: (r.measured_at, r.created_at))
    result: dict[uuid.UUID, tuple[Decimal, Any]] = {}
    for weight in rows:
        if weight.kind != MeasurementKind.WEIGHT:
            continue
        height = None
        for candidate in heights:
            if candidate.measured_at <= weight.measured_at:
                height = candidate
            else:
                break
        if height is not None:
            result[weight.id] = (bmi(Decimal(weight.value), Decimal(height.value)), height)
    return result


async def bmi_of(person_id: int, row: MeasurementRow) -> Decimal | None:
    """The BMI of one weight (None for other kinds, or without an earlier height)."""
    if row.kind != MeasurementKind.WEIGHT:
        return None
    height = await MeasurementRow.filter(
        person_id=person_id, kind=MeasurementKind.HEIGHT, measured_at__lte=row.measured_at,
    ).order_by("-measured_at", "-created_at").first()
    return bmi(Decimal(row.value), Decimal(height.value)) if height else None


MAX_TREND_POINTS = 12


@dataclass
class Trend:
    """The latest measurements of one kind: oldest first, the latest last."""

    kind: MeasurementKind
    rows: list[MeasurementRow]

    @property
    def latest(self) -> MeasurementRow:
        return self.rows[-1]


async def _latest_per_kind(person_id: int, points: int) -> list[MeasurementRow]:
    """The `points` latest measurements of each kind of one patient, in ONE statement: a
    window function ranks each kind's rows, latest first (index person_id, kind,
    measured_at), and the outer query keeps the first `points` of each."""
    meta = MeasurementRow._meta
    db = meta.db
    table = meta.basetable
    columns = sorted(meta.db_fields)
    rank = (RowNumber().over(table.kind)
            .orderby(table.measured_at, table.created_at, order=Order.desc))
    ranked = (db.query_class.from_(table).select(*[table[c] for c in columns],
                                                 rank.as_("trend_rank"))
              .where(table.person_id == person_id)).as_("ranked")
    query = (db.query_class.from_(ranked).select(*[ranked[c] for c in columns])
             .where(ranked.trend_rank <= points))
    sql, values = query.get_parameterized_sql()
    return await db.executor_class(model=MeasurementRow, db=db).execute_select(sql, values)


async def latest_measurements(access: Access, *, points: int) -> list[Trend]:
    """For each kind of measurement the patient has, its latest `points` values (1 to
    MAX_TREND_POINTS): the most recently measured kind first. One statement for all kinds;
    nothing (and no query) when the access does not include measurements."""
    if not access.may_read_section(Section.MEASUREMENTS):
        return []
    points = max(1, min(points, MAX_TREND_POINTS))
    by_kind: dict[MeasurementKind, list[MeasurementRow]] = {}
    for row in await _latest_per_kind(access.patient_id, points):
        by_kind.setdefault(MeasurementKind(row.kind), []).append(row)
    order = list(MeasurementKind)
    trends = [Trend(kind, sorted(rows, key=lambda r: (r.measured_at, r.created_at)))
              for kind, rows in by_kind.items()]
    # Most recently measured first; the catalogue order breaks ties.
    trends.sort(key=lambda t: order.index(t.kind))
    trends.sort(key=lambda t: (t.latest.measured_at, t.latest.created_at), reverse=True)
    return trends


@dataclass
class SeriesPoint:
    at: datetime
    value: Decimal
    value2: Decimal | None
    measurement_id: uuid.UUID


BMI = "bmi"


async def series(access: Access, kind: str, *, start: datetime | None, end: datetime | None,
                 rows: Sequence[MeasurementRow] | None = None) -> list[SeriesPoint]:
    """Points of one measurement kind (or "bmi"), oldest first, within [start, end]. Computed
    from the patient's measurement rows: `rows` when they were read already (the profile
    screen reads them once for its list and every chart), else one query."""
    start = _aware(start) if start else None
    end = _aware(end) if end else None
    if start and end and end < start:
        raise InvalidProfileInput("to", N_("La fin de la période précède son début."))
    if not access.may_read_section(Section.MEASUREMENTS):
        return []
    if kind != BMI:
        kind = MeasurementKind(kind)
    if rows is None:
        rows = await MeasurementRow.filter(person_id=access.patient_id)
    rows = sorted((r for r in rows if end is None or r.measured_at <= end),
                  key=lambda r: (r.measured_at, r.created_at))
    if kind == BMI:
        # Heights before `start` still count for later weights.
        weighed = [r for r in rows if r.kind in (MeasurementKind.WEIGHT, MeasurementKind.HEIGHT)]
        derived = bmi_by_weight(weighed)
        return [SeriesPoint(r.measured_at, derived[r.id][0], None, r.id) for r in weighed
                if r.id in derived and (start is None or r.measured_at >= start)]
    return [SeriesPoint(r.measured_at, Decimal(r.value),
                        Decimal(r.value2) if r.value2 is not None else None, r.id)
            for r in rows if r.kind == kind and (start is None or r.measured_at >= start)]
