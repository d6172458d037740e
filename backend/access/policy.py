"""The access policy: the ONE place that decides what a viewer may read of a patient's record.

Read services never take a bare person id. A caller turns whoever is signed in into a
*viewer* (`viewer_of`), asks the policy for that viewer's `Access` to one patient
(`access_for`, `access_by_public_id`, `own_access`), and hands the `Access` to the read
services, which apply it as query filters:

- `Access.documents(now)`: a tortoise `Q` over `Document` (records), always including the
  patient and "not deleted";
- `Access.sections`: the profile sections that may be read (profile answers the others as
  empty, without a query);
- `Access.granted` False: nothing. A viewer without access sees exactly what a missing object
  shows (null, an empty list, a 404), never a "forbidden".

The decision is made once per request and reused by every field of a screen (a constant number
of SQL statements, see tests/test_access_record.py).

Rules:

- A patient reads their own record as today: every document except those a professional
  deposited "not yet visible to the patient" before their release time, and every section.
- A professional reads a patient's record only on a *ground*: an active care relationship
  (the patient added them: `care_team`; they declared it and the patient was told:
  `declared`; the patient named them médecin traitant: `treating_doctor`) or an open
  emergency access (`emergency`). A relationship ended by the patient, or without access for
  CARE_RELATIONSHIP_EXPIRY_DAYS, is no ground. An emergency access counts only while open,
  only for a profession/specialty the matrix flags for emergencies, and only if the patient did
  not refuse emergency access.
- On a ground, the matrix (`AccessRule`, by profession and specialty) gives the document types
  and sections; the patient's restriction for this professional narrows both; documents the
  patient hid from professionals are read only by their médecin traitant; the author of a
  document always reads it (whatever the matrix, restriction or hiding), as long as they have a
  ground. A profession the matrix does not list reads nothing.
- A block (messaging: the patient blocked the professional) wins over every ground: nothing.
  The professional can still deposit documents (deposits are writes, outside this policy).
- Soft-deleted documents are read by nobody.

Access log: every read path of someone other than the patient calls `log_read(access, kind,
...)` once it has data to return (no SQL; the request's entries are written in one statement),
with `access.ground` and the profession the decision loaded (`access.profession`):
`patientRecord.documents` one DOCUMENT_LIST entry plus one DOCUMENT entry per document
returned; `patientRecord.document` one DOCUMENT entry when found; each profile section field
read (allowed, even if empty) one PROFILE entry naming the section, the measurement series
and `latestMeasurements` PROFILE "measurements"; the download DOCUMENT_CONTENT; `$everything`
EXPORT plus one DOCUMENT per document in the Bundle; an emergency opening EMERGENCY_ACCESS
(access/services.py); `patientRecord.appointments` one AGENDA entry (agenda/queries.py). Not
logged: a read not granted (nothing was read), the patient's own reads, the record summary
(identity, ground, what the access includes), `patients` (the professional's own patient list:
identities, no record data) and a professional's own bookings (`professionalAppointments`,
`appointment(id)`, `agendaChanged`: appointments with them, booked by or told to the patient).

An app (issue 14): `AppViewer`, built by `viewer_of` from an app's caller (an OAuth access
token, backend/oauth/bearer.py), reads its own patient's record only, as the patient would,
narrowed by its scopes (`app_access`); its reads are logged under ground APP with the app's id
and name (the patient sees which app read what), unlike the patient's own reads.

Adding a viewer kind (a proxy such as a parent): add a frozen dataclass with its `kind` below,
teach `viewer_of` to build it and `access_for` to decide for it; nothing else changes, since
every reader goes through `Access`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from tortoise.expressions import Q

from backend.access.models import (
    AccessRule,
    CareRelationship,
    EmergencyAccess,
    PatientAccessSettings,
    RelationshipOrigin,
    rule_key,
)
from backend.app_scopes import DOCUMENTS_READ, PROFILE_READ
from backend.audit import access_log
from backend.audit.models import AccessGround, AccessKind
from backend.identity.models import Account, AccountStatus, Person, Professional
from backend.records.models import Visibility

# A relationship's last access is written at most this often (reads stay read-only otherwise).
TOUCH_INTERVAL = timedelta(days=1)


class Section(StrEnum):
    """The profile sections, as the matrix and the patient's restrictions name them."""

    ALLERGIES = "allergies"
    VACCINATIONS = "vaccinations"
    MEDICAL_HISTORY = "medical_history"
    FAMILY_HISTORY = "family_history"
    TREATMENTS = "treatments"
    MEASUREMENTS = "measurements"
    EMERGENCY_CONTACTS = "emergency_contacts"
    ADVANCE_DIRECTIVE = "advance_directive"
    ORGAN_DONATION = "organ_donation"


ALL_SECTIONS = frozenset(Section)


# Why a viewer may read: one vocabulary with the access log (shown to the professional, and to
# the patient in their access history).
Ground = AccessGround


# --- viewers -------------------------------------------------------------------------------


class ViewerKind(StrEnum):
    PATIENT = "patient"
    PROFESSIONAL = "professional"
    APP = "app"
    PROXY = "proxy"


@dataclass(frozen=True)
class PatientViewer:
    """The patient themselves."""

    account_id: int
    person_id: int
    kind: ClassVar[ViewerKind] = ViewerKind.PATIENT


@dataclass(frozen=True)
class ProfessionalViewer:
    """A health professional (RPPS), signed in."""

    account_id: int
    professional_id: int
    kind: ClassVar[ViewerKind] = ViewerKind.PROFESSIONAL


@dataclass(frozen=True)
class AppViewer:
    """A catalogue app acting for the patient who authorised it (an OAuth access token,
    backend/oauth/bearer.py), within the scopes the patient granted. It reads at most what the
    patient reads, narrowed by its scopes, and every read is logged (ground APP, the app named),
    unlike the patient's own."""

    account_id: int
    person_id: int
    app_id: UUID
    app_name: str
    scopes: frozenset[str]
    kind: ClassVar[ViewerKind] = ViewerKind.APP


@dataclass(frozen=True)
class ProxyViewer:
    """A carer acting in a patient's space (backend/access/carers.py): reads the parts the
    patient gave them, every read logged (ground PROXY, the carer's account). No `person_id`:
    the carer is not the patient (the access log skips only the patient's own reads)."""

    account_id: int  # the carer's
    patient_id: int
    grant_id: int
    parts: frozenset[str]
    representative: bool = False  # a minor's legal representative (not a carer)
    kind: ClassVar[ViewerKind] = ViewerKind.PROXY


RecordViewer = PatientViewer | ProfessionalViewer | AppViewer | ProxyViewer



def acting_patient(viewer: RecordViewer | None) -> PatientViewer | None:
    """Who writes in the patient's own space: the patient, or an app or a carer acting for
    them (the patient's person, the caller's account as the writer). None for anyone else."""
    if isinstance(viewer, PatientViewer):
        return viewer
    if isinstance(viewer, AppViewer):
        return PatientViewer(viewer.account_id, viewer.person_id)
    if isinstance(viewer, ProxyViewer) and viewer.patient_id:
        return PatientViewer(viewer.account_id, viewer.patient_id)
    return None


def viewer_of(session: Any) -> RecordViewer | None:
    """The viewer for a signed-in caller (identity's session `Viewer`, or an app's caller),
    or None (anonymous, or an account of no kind that reads records)."""
    if session is None:
        return None
    if getattr(session, "carer_grant_id", None) is not None:
        return ProxyViewer(session.account_id, session.person_id, session.carer_grant_id,
                           frozenset(session.carer_parts),
                           representative=bool(getattr(session, "representative", False)))
    if getattr(session, "app_id", None) is not None:
        return AppViewer(session.account_id, session.person_id, session.app_id,
                         session.app_name, frozenset(session.app_scopes))
    if getattr(session, "is_patient", False):
        return PatientViewer(session.account_id, session.person_id)
    if getattr(session, "is_professional", False):
        return ProfessionalViewer(session.account_id, session.professional_id)
    return None


# --- the decision --------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What `viewer` may read of patient `patient_id`'s record (decided by `access_for`)."""

    viewer: RecordViewer | None
    patient_id: int
    ground: Ground | None = None
    # LOINC codes readable by type (None: every type); the author's own documents are
    # readable whatever their type.
    document_types: frozenset[str] | None = frozenset()
    sections: frozenset[Section] = frozenset()
    # Reads documents the patient hid from professionals (the médecin traitant).
    sees_hidden: bool = False
    # Documents deposited "not yet visible to the patient" stay hidden until their release
    # (the patient only; professionals read them).
    hides_unreleased: bool = False
    # A minor's legal representative: documents flagged INVISIBLE_REPRESENTANTS_LEGAUX stay out.
    hides_from_representatives: bool = False
    author_professional_id: int | None = None
    relationship_id: int | None = None
    relationship_last_access_at: datetime | None = None
    emergency_access_id: UUID | None = None
    expires_at: datetime | None = None
    patient_public_id: UUID | None = field(default=None, compare=False)
    # The professional's profession and specialty, loaded once by the decision: every access
    # log entry of the request carries the profession without another query.
    profession: str | None = field(default=None, compare=False)
    specialty: str | None = field(default=None, compare=False)

    @property
    def granted(self) -> bool:
        return self.ground is not None

    @property
    def is_patient_self(self) -> bool:
        return self.ground is Ground.SELF

    def may_read_section(self, section: Section) -> bool:
        return self.granted and section in self.sections

    def documents(self, now: datetime | None = None) -> Q:
        """The filter of the documents this access reads (on `Document`)."""
        if not self.granted:
            return Q(id__in=[])  # "1=0": no row, whatever else is combined with it
        now = now or datetime.now(UTC)
        base = Q(person_id=self.patient_id) & Q(deleted_at__isnull=True)
        if self.hides_unreleased:
            base &= (~Q(visibility=Visibility.NOT_YET_VISIBLE_TO_PATIENT)
                     | Q(release_at__lte=now))
        if self.hides_from_representatives:
            base &= Q(hidden_from_representatives=False)
        conditions = []
        if self.document_types is not None:
            conditions.append(Q(type_code__in=sorted(self.document_types)))
        if not self.sees_hidden:
            conditions.append(~Q(visibility=Visibility.HIDDEN_FROM_PROFESSIONALS))
        if not conditions:
            return base
        readable = Q(*conditions)  # AND
        if self.author_professional_id is not None:
            readable = readable | Q(author_professional_id=self.author_professional_id)
        return base & readable


def nothing(viewer: RecordViewer | None, patient_id: int = 0) -> Access:
    return Access(viewer=viewer, patient_id=patient_id)


def own_access(viewer: PatientViewer | AppViewer | ProxyViewer) -> Access:
    """The patient reading their own record, or an app or a carer reading it for them (no
    query needed: the delegation was checked when the caller was built)."""
    if isinstance(viewer, AppViewer):
        return app_access(viewer)
    if isinstance(viewer, ProxyViewer):
        return proxy_access(viewer)
    return replace(owner_access(viewer.person_id), viewer=viewer)


def app_access(viewer: AppViewer) -> Access:
    """What an app reads of its patient's record: what the patient reads (released documents
    only), narrowed by its scopes: every document with documents:read, none without; every
    profile section with profile:read, none without. Granted (ground APP) either way: the
    GraphQL fields and FHIR routes it may call are decided by their declared scopes
    (backend/app_scopes.py), this is the second lock on the data itself."""
    reads_documents = DOCUMENTS_READ in viewer.scopes
    return Access(viewer=viewer, patient_id=viewer.person_id, ground=Ground.APP,
                  document_types=None if reads_documents else frozenset(),
                  sections=ALL_SECTIONS if PROFILE_READ in viewer.scopes else frozenset(),
                  sees_hidden=True, hides_unreleased=True)


def owner_access(person_id: int) -> Access:
    """The patient's own access, for services of the patient's own writes, which take the
    person id from the patient's session (rename, delete, attach a document...)."""
    return Access(viewer=None, patient_id=person_id, ground=Ground.SELF, document_types=None,
                  sections=ALL_SECTIONS, sees_hidden=True, hides_unreleased=True)


def proxy_access(viewer: ProxyViewer) -> Access:
    """What a carer reads of the patient's space: the parts given ("documents": released
    documents, except those the patient hid from professionals; "profile": every section),
    nothing of a space not granted (patient_id 0)."""
    if not viewer.patient_id:
        return nothing(viewer)
    return Access(viewer=viewer, patient_id=viewer.patient_id, ground=Ground.PROXY,
                  document_types=None if "documents" in viewer.parts else frozenset(),
                  sections=ALL_SECTIONS if "profile" in viewer.parts else frozenset(),
                  sees_hidden=False, hides_unreleased=True,
                  hides_from_representatives=viewer.representative)


@dataclass(frozen=True)
class MatrixEntry:
    """The matrix for one professional: what their profession (and specialty) may read."""

    document_types: frozenset[str]
    sections: frozenset[Section]
    emergency: bool


def _entry(rule: AccessRule) -> MatrixEntry:
    return MatrixEntry(frozenset(rule.document_types or ()),
                       frozenset(Section(s) for s in rule.sections or () if s in _SECTION_VALUES),
                       rule.emergency)


_SECTION_VALUES = {s.value for s in Section}


async def matrix_for(profession: str, specialty: str | None) -> MatrixEntry | None:
    """The rule of a specialty if the matrix has one, else of the whole profession; None for a
    profession the matrix does not list (it reads nothing). One query."""
    rules = await AccessRule.filter(profession_key=rule_key(profession),
                                    specialty_key__in=sorted({rule_key(specialty), ""}))
    by_specialty = {r.specialty_key: r for r in rules}
    rule = by_specialty.get(rule_key(specialty)) or by_specialty.get("")
    return _entry(rule) if rule is not None else None


def relationship_active(relationship: CareRelationship | None, expiry_days: int,
                        now: datetime) -> bool:
    if relationship is None or relationship.ended_at is not None:
        return False
    return relationship.last_access_at > now - timedelta(days=expiry_days)


async def is_blocked(patient_id: int, professional_id: int) -> bool:
    """The patient blocked this professional (messaging's block, read through the patient's
    account: `messaging_block.patient_account` -> `account.person`)."""
    return await Account.filter(person_id=patient_id,
                                blocks__professional_id=professional_id).exists()


async def access_for(viewer: RecordViewer | None, patient_id: int, *, expiry_days: int,
                     now: datetime | None = None) -> Access:
    """The viewer's access to patient `patient_id`'s record. Reads only (see `touch`)."""
    now = now or datetime.now(UTC)
    if isinstance(viewer, PatientViewer | AppViewer):
        return own_access(viewer) if viewer.person_id == patient_id else nothing(viewer,
                                                                                 patient_id)
    if isinstance(viewer, ProxyViewer):
        return own_access(viewer) if viewer.patient_id == patient_id else nothing(viewer,
                                                                                  patient_id)
    if not isinstance(viewer, ProfessionalViewer):
        return nothing(viewer, patient_id)
    professional = await Professional.get_or_none(id=viewer.professional_id)
    # A block, or a closed space (issue 15 part 6: professionals lose access at once): one query.
    if professional is None or await Account.filter(
            Q(status=AccountStatus.CLOSED) | Q(blocks__professional_id=professional.id),
            person_id=patient_id).exists():
        return nothing(viewer, patient_id)
    matrix = await matrix_for(professional.profession, professional.specialty)
    if matrix is None:
        return nothing(viewer, patient_id)
    relationship = await CareRelationship.get_or_none(patient_id=patient_id,
                                                      professional_id=professional.id)
    settings = await PatientAccessSettings.get_or_none(patient_id=patient_id)
    ground: Ground | None = None
    emergency_id = None
    expires_at = None
    if relationship_active(relationship, expiry_days, now):
        assert relationship is not None
        if settings is not None and settings.treating_doctor_id == professional.id:
            ground = Ground.TREATING_DOCTOR
        elif relationship.origin is RelationshipOrigin.CARE_TEAM:
            ground = Ground.CARE_TEAM
        else:
            ground = Ground.DECLARED
        expires_at = relationship.last_access_at + timedelta(days=expiry_days)
    elif matrix.emergency and (settings is None or settings.emergency_access_allowed):
        opened = await EmergencyAccess.filter(
            patient_id=patient_id, professional_id=professional.id, expires_at__gt=now,
        ).order_by("-expires_at").first()
        if opened is not None:
            ground, emergency_id, expires_at = Ground.EMERGENCY, opened.id, opened.expires_at
    if ground is None:
        return nothing(viewer, patient_id)
    on_relationship = relationship if ground is not Ground.EMERGENCY else None
    types: frozenset[str] = matrix.document_types
    sections: frozenset[Section] = matrix.sections
    if relationship is not None and relationship.allowed_document_types is not None:
        types = types & frozenset(relationship.allowed_document_types)
    if relationship is not None and relationship.allowed_sections is not None:
        sections = sections & frozenset(Section(s) for s in relationship.allowed_sections
                                        if s in _SECTION_VALUES)
    return Access(
        viewer=viewer, patient_id=patient_id, ground=ground, document_types=types,
        sections=sections, sees_hidden=ground is Ground.TREATING_DOCTOR,
        author_professional_id=professional.id,
        relationship_id=on_relationship.id if on_relationship is not None else None,
        relationship_last_access_at=(on_relationship.last_access_at
                                     if on_relationship is not None else None),
        emergency_access_id=emergency_id, expires_at=expires_at,
        profession=professional.profession, specialty=professional.specialty or None,
    )


def parse_public_id(value: str | UUID | None) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (TypeError, ValueError):
        return None


async def access_by_public_id(viewer: RecordViewer | None, public_id: str | UUID | None, *,
                              expiry_days: int, now: datetime | None = None) -> Access:
    """The viewer's access to the patient whose public id (Person.public_id, the FHIR Patient
    id) is given. Unknown, malformed and not allowed answer alike (not granted); an unknown id
    runs the same decision queries as a known one."""
    parsed = parse_public_id(public_id)
    ids = await Person.filter(public_id=parsed).values_list("id", flat=True) if parsed else []
    patient_id = int(ids[0]) if ids else 0
    access = await access_for(viewer, patient_id, expiry_days=expiry_days, now=now)
    if not ids or not access.granted:
        return nothing(viewer, patient_id if ids else 0)
    return replace(access, patient_public_id=parsed)


def log_read(access: Access, kind: AccessKind, *, document_id: UUID | str | None = None,
             section: Section | str | None = None) -> None:
    """Append the read of `kind` through `access` to the patient's access log (buffered: no
    SQL; the GraphQL extension or `access_log.recording()` writes the request's entries in one
    statement). Nothing for the patient's own reads, nor for an access not granted (nothing
    was read). Every read path of someone other than the patient calls it once it has data to
    return, with the document id or the profile section read."""
    if not access.granted or access.is_patient_self or access.viewer is None:
        return
    assert access.ground is not None
    app = access.viewer if isinstance(access.viewer, AppViewer) else None
    access_log.record(patient_id=access.patient_id, reader=access.viewer, kind=kind,
                      ground=access.ground, document_id=document_id,
                      section=str(section) if section is not None else None,
                      profession=access.profession,
                      app_id=app.app_id if app else None, app_name=app.app_name if app else None)


async def touch(access: Access, now: datetime | None = None) -> None:
    """A professional read the record: keep their relationship alive (at most one UPDATE a
    day; relationships expire after CARE_RELATIONSHIP_EXPIRY_DAYS without access)."""
    if access.relationship_id is None or access.relationship_last_access_at is None:
        return
    now = now or datetime.now(UTC)
    if access.relationship_last_access_at > now - TOUCH_INTERVAL:
        return
    await CareRelationship.filter(id=access.relationship_id).update(last_access_at=now)
