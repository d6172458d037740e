"""GraphQL types of the access domain: the matrix, care teams, access settings, professionals'
patient lists and the summary part of `PatientRecord` (assembled in backend/schema.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from backend.access import errors, labels, policy, services
from backend.access.models import AccessRule as AccessRuleModel
from backend.access.models import CarerGrant as CarerGrantModel
from backend.access.models import CarerPart as CarerPartModel
from backend.access.models import RelationshipOrigin as RelationshipOriginModel
from backend.access.services import MyPatient as MyPatientRow
from backend.access.services import TeamMember
from backend.app_scopes import SAME_AS_PARENT, app_scope
from backend.document_types import DocumentType as DocumentTypeModel
from backend.graphql_errors import Error, PatientNotFound, TooManyFailedIdentityMatches, translates
from backend.graphql_types import Choice, DocumentType, ProfessionalSummary
from backend.i18n import gettext
from backend.identity.models import Person, Professional

ProfileSection = strawberry.enum(policy.Section, name="ProfileSection",
                                 description="A section of the medical profile.")
# The same Python enum as the access log's (backend.audit.types): one GraphQL type.
AccessGround = strawberry.enum(policy.Ground, name="AccessGround",
                               description="On which ground the reader could read.")
CareRelationshipOrigin = strawberry.enum(
    RelationshipOriginModel, name="CareRelationshipOrigin",
    description="Who started a care relationship: the patient (care team) or the professional "
                "(declared).")


def _types(codes: list[str] | frozenset[str] | None) -> list[DocumentTypeModel]:
    wanted = set(codes or ())
    return [t for t in DocumentTypeModel if t.value in wanted]


def _sections(values: list[str] | frozenset[policy.Section] | None) -> list[policy.Section]:
    wanted = {str(v) for v in values or ()}
    return [s for s in policy.Section if s.value in wanted]


def professional_summary(pro: Professional) -> ProfessionalSummary:
    return ProfessionalSummary(id=strawberry.ID(str(pro.id)), rpps=pro.rpps,
                               profession=pro.profession, specialty=pro.specialty,
                               practice_name=pro.practice_name)


@strawberry.type(description="One row of the access matrix: what a profession (or one of its "
                              "specialties) may read of a record it has a ground to open.")
class AccessRule:
    profession: str
    specialty: str | None = strawberry.field(description="null: the whole profession.")
    document_types: list[DocumentType]
    sections: list[ProfileSection]
    emergency: bool = strawberry.field(description="May open a record in an emergency.")

    @classmethod
    def from_model(cls, row: AccessRuleModel) -> AccessRule:
        return cls(profession=row.profession, specialty=row.specialty or None,
                   document_types=_types(row.document_types), sections=_sections(row.sections),
                   emergency=row.emergency)


@strawberry.type(description="A professional of my care team.")
class CareTeamMember:
    professional: ProfessionalSummary
    origin: CareRelationshipOrigin
    active: bool = strawberry.field(description="False once expired (no access for too long).")
    treating_doctor: bool = strawberry.field(description="My médecin traitant.")
    since: datetime
    last_access_at: datetime
    expires_at: datetime = strawberry.field(description="Ends without an access before this.")
    allowed_document_types: list[DocumentType] | None = strawberry.field(
        description="My restriction on document types (null: the matrix as is).")
    allowed_sections: list[ProfileSection] | None = strawberry.field(
        description="My restriction on profile sections (null: the matrix as is).")

    @classmethod
    def build(cls, member: TeamMember) -> CareTeamMember:
        row = member.relationship
        return cls(
            professional=professional_summary(member.professional), origin=row.origin,
            active=member.active, treating_doctor=member.treating_doctor, since=row.started_at,
            last_access_at=row.last_access_at, expires_at=member.expires_at,
            allowed_document_types=(None if row.allowed_document_types is None
                                    else _types(row.allowed_document_types)),
            allowed_sections=(None if row.allowed_sections is None
                              else _sections(row.allowed_sections)),
        )


@strawberry.type(description="My access settings.")
class AccessSettings:
    emergency_access_allowed: bool
    treating_doctor: ProfessionalSummary | None


@strawberry.type(description="Someone left my care team.")
class CareTeamMemberRemoved:
    professional_id: strawberry.ID


@strawberry.type(description="A patient I may read now, and on which ground.")
class MyPatient:
    patient_id: strawberry.ID = strawberry.field(description="For patientRecord(patientId).")
    birth_name: str
    first_names: str
    birth_date: date
    ground: AccessGround
    since: datetime
    expires_at: datetime

    @classmethod
    def build(cls, row: MyPatientRow) -> MyPatient:
        person = row.person
        return cls(patient_id=strawberry.ID(str(person.public_id)), birth_name=person.birth_name,
                   first_names=person.first_names, birth_date=person.birth_date,
                   ground=row.ground, since=row.since, expires_at=row.expires_at)


@strawberry.type(description="The patient a record is about.")
class RecordPatient:
    birth_name: str
    first_names: str
    birth_date: date


@strawberry.type
class PatientRecordSummary:
    """The access part of `PatientRecord`: whose record, on which ground, what it includes."""

    _access: strawberry.Private[policy.Access]

    @strawberry.field(description="The patient's public id.")
    def patient_id(self) -> strawberry.ID:
        return strawberry.ID(str(self._access.patient_public_id))

    @strawberry.field
    async def patient(self) -> RecordPatient:
        person = await Person.get(id=self._access.patient_id)
        return RecordPatient(birth_name=person.birth_name, first_names=person.first_names,
                             birth_date=person.birth_date)

    @strawberry.field(description="Why I may read this record.")
    def ground(self) -> AccessGround:
        assert self._access.ground is not None
        return self._access.ground

    @strawberry.field(description="When this ground ends unless renewed (an emergency access "
                                  "ends then; a relationship without access expires then).")
    def expires_at(self) -> datetime | None:
        return self._access.expires_at

    @strawberry.field(description="The document types I may read (besides my own documents).")
    def document_types(self) -> list[DocumentType]:
        return _types(self._access.document_types)

    @strawberry.field(description="The profile sections I may read.")
    def sections(self) -> list[ProfileSection]:
        return _sections(self._access.sections)


@strawberry.type(description="A relationship I declared with a patient (they were told).")
class CareRelationshipDeclared:
    patient_id: strawberry.ID


@strawberry.type(description="An emergency access I opened.")
class EmergencyAccessOpened:
    patient_id: strawberry.ID
    expires_at: datetime


# --- errors --------------------------------------------------------------------------------


@translates(errors.InvalidAccessInput)
@strawberry.type
class InvalidAccessInput(Error):
    field: str


@translates(errors.UnknownProfessional)
@strawberry.type(description="No professional with this RPPS on Carnet.")
class UnknownProfessional(Error):
    pass


@translates(errors.NotInCareTeam)
@strawberry.type(description="This professional is not in my care team.")
class NotInCareTeam(Error):
    pass


@translates(errors.NotADoctor)
@strawberry.type(description="A médecin traitant must be a physician.")
class NotADoctor(Error):
    pass


@translates(errors.EmergencyAccessNotAllowed)
@strawberry.type(description="My profession/specialty is not flagged for emergency access.")
class EmergencyAccessNotAllowed(Error):
    pass


@translates(errors.EmergencyAccessRefused)
@strawberry.type(description="The patient refused emergency access.")
class EmergencyAccessRefused(Error):
    pass


CareTeamResult = Annotated[CareTeamMember | InvalidAccessInput | UnknownProfessional,
                           strawberry.union("CareTeamResult")]
RemoveFromCareTeamResult = Annotated[CareTeamMemberRemoved | NotInCareTeam,
                                     strawberry.union("RemoveFromCareTeamResult")]
RestrictAccessResult = Annotated[CareTeamMember | NotInCareTeam | InvalidAccessInput,
                                 strawberry.union("RestrictAccessResult")]
TreatingDoctorResult = Annotated[
    AccessSettings | InvalidAccessInput | UnknownProfessional | NotADoctor,
    strawberry.union("TreatingDoctorResult")]
DeclareCareRelationshipResult = Annotated[
    CareRelationshipDeclared | PatientNotFound | TooManyFailedIdentityMatches,
    strawberry.union("DeclareCareRelationshipResult")]
EmergencyAccessResult = Annotated[
    EmergencyAccessOpened | InvalidAccessInput | EmergencyAccessNotAllowed | PatientNotFound
    | TooManyFailedIdentityMatches | EmergencyAccessRefused,
    strawberry.union("EmergencyAccessResult")]


async def settings_of(person_id: int) -> AccessSettings:
    row = await services.access_settings(person_id)
    doctor = None
    if row is not None and row.treating_doctor_id is not None:
        pro = await Professional.get_or_none(id=row.treating_doctor_id)
        doctor = professional_summary(pro) if pro else None
    return AccessSettings(emergency_access_allowed=row.emergency_access_allowed if row else True,
                          treating_doctor=doctor)



# --- reference data (backend/schema.py's ReferenceData) --------------------------------------


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class AccessLimits:
    max_emergency_reason_length: int


@strawberry.type
class AccessReferenceData:
    """The access domain's part of `ReferenceData` (assembled in backend/schema.py)."""

    @strawberry.field(description="The profile sections, in profile order.")
    def profile_sections(self) -> list[Choice[ProfileSection]]:
        return [Choice(value=s, label=gettext(labels.SECTIONS[s])) for s in policy.Section]

    @strawberry.field(description="Who started a care relationship, as the patient reads it.")
    def care_relationship_origins(self) -> list[Choice[CareRelationshipOrigin]]:
        return [Choice(value=o, label=gettext(labels.RELATIONSHIP_ORIGINS[o]))
                for o in RelationshipOriginModel]

    @strawberry.field
    def access_limits(self) -> AccessLimits:
        return AccessLimits(max_emergency_reason_length=services.MAX_REASON)


# --- carers (issue 15 part 8) -------------------------------------------------------------------

CarerPart = strawberry.enum(CarerPartModel, name="CarerPart",
                            description="A part of my space a carer may be given.")


@strawberry.type(description="Someone I let help with my space.")
class Carer:
    id: strawberry.ID
    email_hint: str = strawberry.field(description="Their address, masked (j***t@example.fr).")
    parts: list[CarerPart]  # type: ignore[valid-type]
    can_write: bool
    created_at: datetime
    ends_at: datetime | None
    linked: bool = strawberry.field(description="Whether an account with that address already "
                                                "took up the invitation.")

    @classmethod
    def from_model(cls, row: CarerGrantModel) -> Carer:
        return cls(id=strawberry.ID(str(row.id)), email_hint=row.email_hint,
                   parts=[CarerPartModel(p) for p in row.parts], can_write=row.can_write,
                   created_at=row.created_at, ends_at=row.ends_at,
                   linked=row.carer_account_id is not None)


@strawberry.type(description="A space I may help with as a carer: send its `spaceId` in the "
                              "Carnet-Space header to act in it.")
class CarerSpace:
    space_id: strawberry.ID = strawberry.field(description="The patient's public id.")
    first_names: str
    birth_name: str
    parts: list[CarerPart]  # type: ignore[valid-type]
    can_write: bool
    ends_at: datetime | None
    legal_representative: bool = strawberry.field(
        description="I am this minor's legal representative (until their 18th birthday).")


@strawberry.type(description="A carer I revoked: they lost access at once.")
class CarerRevoked:
    id: strawberry.ID


@translates(errors.InvalidCarerGrant)
@strawberry.type(description="A carer grant I can fix (`field`: email, parts or endsAt).")
class InvalidCarerGrant(Error):
    field: str


@translates(errors.CarerNotFound)
@strawberry.type(description="No such carer of mine (or already revoked).")
class CarerNotFound(Error):
    pass


GrantCarerResult = Annotated[Carer | InvalidCarerGrant,
                             strawberry.union("GrantCarerResult")]
RevokeCarerResult = Annotated[CarerRevoked | CarerNotFound,
                              strawberry.union("RevokeCarerResult")]
