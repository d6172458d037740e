"""Access rules that change things: the matrix, care teams, the médecin traitant, the patient's
restrictions and emergency setting, and emergency (break-glass) access.

- A patient adds a professional by RPPS (`add_to_care_team`), removes them, names a médecin
  traitant, narrows what one professional reads, refuses or allows emergency access.
- A professional declares treating a patient named by INS traits (`declare_care_relationship`,
  through backend/identity/matching.py: every trait must match, the same anti-oracle rules as
  deposits); the patient is told at once and can end it.
- An emergency professional (the matrix flag) opens a record for EMERGENCY_ACCESS_HOURS with a
  reason (stored encrypted); the patient is told at once.
- Notices to the patient are safety notices (sent whatever their notice switches, on a
  verified contact only); they carry no health detail and do not name the professional (a
  specialty alone can reveal a condition): they say what happened and invite to sign in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.access.errors import (
    EmergencyAccessNotAllowed,
    EmergencyAccessRefused,
    InvalidAccessInput,
    NotADoctor,
    NotInCareTeam,
    UnknownProfessional,
)
from backend.access.models import (
    AccessRule,
    CareRelationship,
    EmergencyAccess,
    PatientAccessSettings,
    RelationshipOrigin,
    rule_key,
)
from backend.access.policy import (
    Ground,
    PatientViewer,
    ProfessionalViewer,
    Section,
    is_blocked,
    matrix_for,
    relationship_active,
)
from backend.audit import access_log
from backend.audit.models import AccessKind
from backend.document_types import DocumentType
from backend.i18n import N_
from backend.identity import matching, notices
from backend.identity.models import Account, AccountStatus, Person, Professional
from backend.keys import services as keys
from backend.runtime import Runtime
from backend.text import clean_text

MAX_REASON = 1000
MAX_LIST = 200
DOCTOR = rule_key("Médecin")


# --- the matrix ----------------------------------------------------------------------------


def checked_document_types(values: Iterable[str]) -> list[str]:
    """LOINC codes (or DocumentType names) of the DMP list, deduplicated, in list order."""
    found: set[str] = set()
    for value in values:
        value = value.strip()
        if not value:
            continue
        known = DocumentType.from_loinc(value)
        if known is None and value.upper() in DocumentType.__members__:
            known = DocumentType[value.upper()]
        if known is None:
            raise InvalidAccessInput("documents", N_("Type de document inconnu : {value}"),
                                     value=value[:40])
        found.add(known.value)
    return [t.value for t in DocumentType if t.value in found]


def checked_sections(values: Iterable[str]) -> list[str]:
    found: set[str] = set()
    for value in values:
        value = value.strip().lower()
        if not value:
            continue
        if value not in {s.value for s in Section}:
            raise InvalidAccessInput("sections", N_("Section de profil inconnue : {value}"),
                                     value=value[:40])
        found.add(value)
    return [s.value for s in Section if s.value in found]


async def set_rule(*, profession: str, specialty: str | None, document_types: Sequence[str],
                   sections: Sequence[str], emergency: bool) -> AccessRule:
    """Create or replace the matrix row of a profession (or one of its specialties)."""
    profession = " ".join((profession or "").split())
    specialty = " ".join((specialty or "").split())
    if not profession or len(profession) > 100:
        raise InvalidAccessInput("profession", N_("Profession invalide."))
    if len(specialty) > 100:
        raise InvalidAccessInput("specialty", N_("Spécialité invalide."))
    types = checked_document_types(document_types)
    chosen = checked_sections(sections)
    values = {"profession": profession, "specialty": specialty, "document_types": types,
              "sections": chosen, "emergency": emergency}
    rule = await AccessRule.get_or_none(profession_key=rule_key(profession),
                                        specialty_key=rule_key(specialty))
    if rule is None:
        return await AccessRule.create(profession_key=rule_key(profession),
                                       specialty_key=rule_key(specialty), **values)
    rule.update_from_dict(values)
    await rule.save()
    return rule


async def matrix() -> list[AccessRule]:
    return await AccessRule.all().order_by("profession_key", "specialty_key")


# --- notifications -------------------------------------------------------------------------


# Safety notices: sent WHATEVER the patient's "which events" switches say (those choose the
# news they want; nobody may read their record without them learning it), through
# notices.warn_patient: their chosen channel, else their other verified contact (never an
# unverified phone or address), in their account's language (English:
# backend/locales/en/LC_MESSAGES/access_notices.po), in the background once the change has
# committed, and never failing the action (a failed delivery is logged with its type only).
DECLARED = notices.Text(
    N_("Carnet : un professionnel suit votre dossier"),
    N_("Un professionnel de santé a indiqué vous suivre et peut désormais consulter "
       "votre dossier Carnet selon vos réglages. Connectez-vous pour voir votre "
       "équipe de soins et, si vous le souhaitez, mettre fin à cet accès."),
)
EMERGENCY = notices.Text(
    N_("Carnet : accès en urgence à votre dossier"),
    N_("Votre dossier Carnet vient d'être ouvert en urgence par un professionnel "
       "de santé. Connectez-vous pour voir le détail de cet accès et vos réglages."),
)
SAFETY_NOTICES = (DECLARED, EMERGENCY)


def _warn_patient_later(rt: Runtime, person_id: int, text: notices.Text, what: str) -> None:
    """Schedule a safety notice; call it once the change has committed (outside any
    transaction: notices.later refuses otherwise)."""
    notices.later(notices.warn_patient(rt, person_id, text, what=what), what=what)


# --- the patient's side --------------------------------------------------------------------


async def _professional_by_rpps(rpps: str) -> Professional:
    digits = "".join((rpps or "").split())
    if not digits.isdigit() or len(digits) != 11:
        raise InvalidAccessInput("rpps", N_("Le numéro RPPS compte 11 chiffres."))
    professional = await Professional.get_or_none(rpps=digits)
    if professional is None:
        raise UnknownProfessional()
    return professional


async def _start_or_renew(patient_id: int, professional_id: int, origin: RelationshipOrigin,
                          now: datetime) -> tuple[CareRelationship, bool]:
    """The relationship, active from now; True when it was not active before."""
    relationship = await CareRelationship.get_or_none(patient_id=patient_id,
                                                      professional_id=professional_id)
    if relationship is None:
        try:
            async with in_transaction():
                created = await CareRelationship.create(
                    patient_id=patient_id, professional_id=professional_id, origin=origin,
                    started_at=now, last_access_at=now)
            return created, True
        except IntegrityError:  # created concurrently
            relationship = await CareRelationship.get(patient_id=patient_id,
                                                      professional_id=professional_id)
    was_ended = relationship.ended_at is not None
    relationship.last_access_at = now
    fields = ["last_access_at"]
    if was_ended:
        relationship.ended_at = None
        relationship.origin = origin
        relationship.started_at = now
        fields += ["ended_at", "origin", "started_at"]
    elif origin is RelationshipOrigin.CARE_TEAM:
        # The patient's own choice outranks a declaration.
        relationship.origin = origin
        fields.append("origin")
    await relationship.save(update_fields=fields)
    return relationship, was_ended


async def add_to_care_team(viewer: PatientViewer, rpps: str) -> CareRelationship:
    professional = await _professional_by_rpps(rpps)
    relationship, _ = await _start_or_renew(viewer.person_id, professional.id,
                                            RelationshipOrigin.CARE_TEAM, datetime.now(UTC))
    return relationship


async def _member(viewer: PatientViewer, professional_id: int | str) -> CareRelationship:
    try:
        pid = int(str(professional_id))
    except ValueError:
        raise NotInCareTeam() from None
    relationship = await CareRelationship.get_or_none(
        patient_id=viewer.person_id, professional_id=pid, ended_at__isnull=True)
    if relationship is None:
        raise NotInCareTeam()
    return relationship


async def remove_from_care_team(viewer: PatientViewer, professional_id: int | str) -> int:
    """End the relationship at once (the professional reads nothing more); they stop being
    médecin traitant too. Returns the professional's id."""
    relationship = await _member(viewer, professional_id)
    async with in_transaction():
        await CareRelationship.filter(id=relationship.id).update(ended_at=datetime.now(UTC))
        await PatientAccessSettings.filter(
            patient_id=viewer.person_id, treating_doctor_id=relationship.professional_id,
        ).update(treating_doctor_id=None)
    return relationship.professional_id


async def _settings_row(person_id: int) -> PatientAccessSettings:
    row = await PatientAccessSettings.get_or_none(patient_id=person_id)
    if row is not None:
        return row
    try:
        async with in_transaction():
            return await PatientAccessSettings.create(patient_id=person_id)
    except IntegrityError:
        return await PatientAccessSettings.get(patient_id=person_id)


async def set_treating_doctor(viewer: PatientViewer, rpps: str | None
                              ) -> PatientAccessSettings:
    """Name a médecin traitant by RPPS (added to the care team if needed), or none."""
    row = await _settings_row(viewer.person_id)
    if rpps is None or not rpps.strip():
        row.treating_doctor_id = None
        await row.save(update_fields=["treating_doctor_id", "updated_at"])
        return row
    professional = await _professional_by_rpps(rpps)
    if rule_key(professional.profession) != DOCTOR:
        raise NotADoctor()
    await _start_or_renew(viewer.person_id, professional.id, RelationshipOrigin.CARE_TEAM,
                          datetime.now(UTC))
    row.treating_doctor_id = professional.id
    await row.save(update_fields=["treating_doctor_id", "updated_at"])
    return row


async def set_emergency_access(viewer: PatientViewer, allowed: bool) -> PatientAccessSettings:
    row = await _settings_row(viewer.person_id)
    row.emergency_access_allowed = bool(allowed)
    await row.save(update_fields=["emergency_access_allowed", "updated_at"])
    return row


async def restrict_professional(viewer: PatientViewer, professional_id: int | str, *,
                                document_types: Sequence[str] | None,
                                sections: Sequence[str] | None) -> CareRelationship:
    """What this professional may read, within the matrix (None: no restriction on it)."""
    relationship = await _member(viewer, professional_id)
    relationship.allowed_document_types = (None if document_types is None
                                           else checked_document_types(document_types))
    relationship.allowed_sections = None if sections is None else checked_sections(sections)
    await relationship.save(update_fields=["allowed_document_types", "allowed_sections"])
    return relationship


async def access_settings(person_id: int) -> PatientAccessSettings | None:
    return await PatientAccessSettings.get_or_none(patient_id=person_id)


@dataclass
class TeamMember:
    relationship: CareRelationship
    professional: Professional
    active: bool
    treating_doctor: bool
    expires_at: datetime


async def care_team(viewer: PatientViewer, *, expiry_days: int) -> list[TeamMember]:
    """The patient's relationships not ended (expired ones too, marked inactive)."""
    now = datetime.now(UTC)
    settings = await access_settings(viewer.person_id)
    rows = await CareRelationship.filter(patient_id=viewer.person_id, ended_at__isnull=True
                                         ).order_by("started_at", "id").prefetch_related(
        "professional")
    treating = settings.treating_doctor_id if settings else None
    return [TeamMember(row, row.professional, relationship_active(row, expiry_days, now),
                       row.professional_id == treating,
                       row.last_access_at + timedelta(days=expiry_days)) for row in rows]


# --- the professional's side ---------------------------------------------------------------


async def declare_care_relationship(rt: Runtime, viewer: ProfessionalViewer,
                                    patient: matching.PatientClaim, *,
                                    address: str | None = None) -> Person:
    """The professional declares treating the patient. Every INS trait must match (the match
    is the only thing that depends on the patient); the patient is told when the relationship
    starts (not when an active one is merely confirmed)."""
    match = await matching.find_patient(
        rt, matching.Requester(viewer.account_id, viewer.professional_id, "care-relationship",
                               address), patient)
    person = match.person
    _, started = await _start_or_renew(person.id, viewer.professional_id,
                                       RelationshipOrigin.DECLARED, datetime.now(UTC))
    await match.confirm()
    if started:
        _warn_patient_later(rt, person.id, DECLARED, "care relationship declared")
    return person


def _clean_reason(reason: str) -> str:
    text = clean_text(reason or "").strip()
    if not text:
        raise InvalidAccessInput("reason", N_("Indiquez le motif de l'accès en urgence."))
    if len(text) > MAX_REASON:
        raise InvalidAccessInput("reason", N_("Le motif dépasse {limit} caractères."),
                                 limit=MAX_REASON)
    return text


def _reason_associated(access_id: uuid.UUID) -> bytes:
    return b"carnet:emergency-reason:" + access_id.bytes


@dataclass
class EmergencyOpened:
    person: Person
    access: EmergencyAccess


async def emergency_access(rt: Runtime, viewer: ProfessionalViewer,
                           patient: matching.PatientClaim, reason: str, *,
                           address: str | None = None) -> EmergencyOpened:
    """Open a record in an emergency. The reason and the caller's emergency flag are checked
    before the identity match; after it, a patient who refused (or blocked this professional)
    gets `EmergencyAccessRefused`."""
    text = _clean_reason(reason)
    professional = await Professional.get(id=viewer.professional_id)
    entry = await matrix_for(professional.profession, professional.specialty)
    if entry is None or not entry.emergency:
        raise EmergencyAccessNotAllowed()
    match = await matching.find_patient(
        rt, matching.Requester(viewer.account_id, viewer.professional_id, "emergency", address),
        patient)
    person = match.person
    await match.confirm()
    settings = await access_settings(person.id)
    if ((settings is not None and not settings.emergency_access_allowed)
            or await is_blocked(person.id, professional.id)):
        raise EmergencyAccessRefused()
    now = datetime.now(UTC)
    data_key_id, data_key = await keys.data_key_for(rt.settings, person.id)
    access_id = uuid.uuid4()
    opened = await EmergencyAccess.create(
        id=access_id, patient_id=person.id, professional_id=professional.id,
        reason_encrypted=keys.encrypt_bytes(data_key, text.encode(),
                                            associated=_reason_associated(access_id)),
        data_key_id=data_key_id, opened_at=now,
        expires_at=now + timedelta(hours=rt.settings.emergency_access_hours))
    # The opening itself is an access the patient sees in their log (the reads that follow
    # are logged one by one, on the same EMERGENCY ground). Written here, whoever calls (one
    # statement; the caller's request buffer stays empty): no emergency access stays open
    # without its entry, a failed write closes it again.
    try:
        async with access_log.recording():
            access_log.record(patient_id=person.id, reader=viewer,
                              kind=AccessKind.EMERGENCY_ACCESS, ground=Ground.EMERGENCY,
                              profession=professional.profession)
    except Exception:
        await EmergencyAccess.filter(id=access_id).delete()
        raise
    _warn_patient_later(rt, person.id, EMERGENCY, "emergency access")
    return EmergencyOpened(person, opened)


async def emergency_reason(rt: Runtime, access: EmergencyAccess) -> str:
    data_key = await keys.data_key_by_id(rt.settings, access.data_key_id)
    return keys.decrypt_bytes(data_key, access.reason_encrypted,
                              associated=_reason_associated(access.id)).decode()


@dataclass
class MyPatient:
    person: Person
    ground: Ground
    since: datetime
    expires_at: datetime


async def my_patients(viewer: ProfessionalViewer, *, expiry_days: int, first: int = 50
                      ) -> list[MyPatient]:
    """The patients this professional may read now, with the ground: active relationships and
    open emergency accesses, without those who blocked them; nobody for a profession the
    matrix does not list. A constant number of queries whatever the count."""
    first = max(1, min(first, MAX_LIST))
    now = datetime.now(UTC)
    professional = await Professional.get_or_none(id=viewer.professional_id)
    if professional is None:
        return []
    entry = await matrix_for(professional.profession, professional.specialty)
    if entry is None:
        return []
    relationships = await CareRelationship.filter(
        professional_id=professional.id, ended_at__isnull=True,
        last_access_at__gt=now - timedelta(days=expiry_days),
    ).order_by("-last_access_at", "-id").limit(first)
    emergencies = []
    if entry.emergency:
        emergencies = await EmergencyAccess.filter(
            professional_id=professional.id, expires_at__gt=now).order_by("-expires_at")
    ids = {r.patient_id for r in relationships} | {e.patient_id for e in emergencies}
    if not ids:
        return []
    # Who blocked them, or closed their space (issue 15 part 6): left out.
    blocked = set(await Account.filter(
        Q(status=AccountStatus.CLOSED) | Q(blocks__professional_id=professional.id),
        person_id__in=sorted(ids),
    ).values_list("person_id", flat=True))
    settings = {s.patient_id: s for s in await PatientAccessSettings.filter(
        patient_id__in=sorted(ids))}
    people = {p.id: p for p in await Person.filter(id__in=sorted(ids))}
    found: dict[int, MyPatient] = {}
    for row in relationships:
        setting = settings.get(row.patient_id)
        if setting is not None and setting.treating_doctor_id == professional.id:
            ground = Ground.TREATING_DOCTOR
        elif row.origin is RelationshipOrigin.CARE_TEAM:
            ground = Ground.CARE_TEAM
        else:
            ground = Ground.DECLARED
        found[row.patient_id] = MyPatient(people[row.patient_id], ground, row.started_at,
                                          row.last_access_at + timedelta(days=expiry_days))
    for opened in emergencies:
        setting = settings.get(opened.patient_id)
        if opened.patient_id in found or (setting is not None
                                          and not setting.emergency_access_allowed):
            continue
        found[opened.patient_id] = MyPatient(people[opened.patient_id], Ground.EMERGENCY,
                                             opened.opened_at, opened.expires_at)
    return [p for pid, p in found.items() if pid not in blocked and pid in people][:first]
