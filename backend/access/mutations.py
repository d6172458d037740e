"""GraphQL mutations of the access domain: the patient's care team and settings, and the
professional's declarations and emergency accesses."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from backend.access import carers, policy, services
from backend.access.types import (
    AccessSettings,
    Carer,
    CareRelationshipDeclared,
    CarerPart,
    CarerRevoked,
    CareTeamMember,
    CareTeamMemberRemoved,
    CareTeamResult,
    DeclareCareRelationshipResult,
    EmergencyAccessOpened,
    EmergencyAccessResult,
    GrantCarerResult,
    ProfileSection,
    RemoveFromCareTeamResult,
    RestrictAccessResult,
    RevokeCarerResult,
    TreatingDoctorResult,
    settings_of,
)
from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.graphql_types import DocumentType, PatientIdentityInput
from backend.identity import matching
from backend.permissions import IsPatient, IsProfessional


def _patient(info: Info) -> policy.PatientViewer:
    viewer = policy.viewer_of(info.context.viewer)
    assert isinstance(viewer, policy.PatientViewer)  # IsPatient
    return viewer


def _professional(info: Info) -> policy.ProfessionalViewer:
    viewer = policy.viewer_of(info.context.viewer)
    assert isinstance(viewer, policy.ProfessionalViewer)  # IsProfessional
    return viewer


def _claim(patient: PatientIdentityInput) -> matching.PatientClaim:
    return matching.PatientClaim(patient.ins_matricule, patient.birth_name, patient.birth_date)


async def _member(info: Info, professional_id: int) -> CareTeamMember:
    expiry = info.context.settings.care_relationship_expiry_days
    members = await services.care_team(_patient(info), expiry_days=expiry)
    return next(CareTeamMember.build(m) for m in members
                if m.relationship.professional_id == professional_id)


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="Let someone help with my space (a carer, named by "
                                     "email): read, or read and write, these parts, until "
                                     "`endsAt` (or until I revoke). The answer is the same "
                                     "whether or not the address has an account yet.",
                         permission_classes=[IsPatient])
    async def grant_carer(self, info: Info, email: str, parts: list[CarerPart],  # type: ignore[valid-type]
                          can_write: bool = False, ends_at: datetime | None = None
                          ) -> GrantCarerResult:
        viewer = _patient(info)
        try:
            row = await carers.grant(
                patient_id=viewer.person_id, patient_account_id=viewer.account_id, email=email,
                parts=[str(p.value) for p in parts], can_write=can_write, ends_at=ends_at,
                now=info.context.runtime.clock())
        except DomainError as exc:
            return to_graphql_error(exc)
        return Carer.from_model(row)

    @strawberry.mutation(description="Revoke a carer: they lose access to my space at once.",
                         permission_classes=[IsPatient])
    async def revoke_carer(self, info: Info, id: strawberry.ID) -> RevokeCarerResult:
        try:
            row = await carers.revoke(patient_id=_patient(info).person_id, grant_id=str(id),
                                      now=info.context.runtime.clock(),
                                      broker=info.context.runtime.broker)
        except DomainError as exc:
            return to_graphql_error(exc)
        return CarerRevoked(id=strawberry.ID(str(row.id)))

    @strawberry.mutation(description="Add a professional to my care team by RPPS: they may "
                                     "read my record as the matrix and my settings allow.",
                         permission_classes=[IsPatient])
    async def add_to_care_team(self, info: Info, rpps: str) -> CareTeamResult:
        try:
            relationship = await services.add_to_care_team(_patient(info), rpps)
        except DomainError as exc:
            return to_graphql_error(exc)
        return await _member(info, relationship.professional_id)

    @strawberry.mutation(description="End a professional's relationship with me at once.",
                         permission_classes=[IsPatient])
    async def remove_from_care_team(self, info: Info, professional_id: strawberry.ID
                                    ) -> RemoveFromCareTeamResult:
        try:
            removed = await services.remove_from_care_team(_patient(info), str(professional_id))
        except DomainError as exc:
            return to_graphql_error(exc)
        return CareTeamMemberRemoved(professional_id=strawberry.ID(str(removed)))

    @strawberry.mutation(description="Name my médecin traitant by RPPS (added to my care team "
                                     "if needed; they also read documents I hid from "
                                     "professionals), or none with null.",
                         permission_classes=[IsPatient])
    async def set_treating_doctor(self, info: Info, rpps: str | None) -> TreatingDoctorResult:
        viewer = _patient(info)
        try:
            await services.set_treating_doctor(viewer, rpps)
        except DomainError as exc:
            return to_graphql_error(exc)
        return await settings_of(viewer.person_id)

    @strawberry.mutation(description="Allow or refuse emergency (break-glass) access to my "
                                     "record. Allowed unless refused.",
                         permission_classes=[IsPatient])
    async def set_emergency_access(self, info: Info, allowed: bool) -> AccessSettings:
        viewer = _patient(info)
        await services.set_emergency_access(viewer, allowed)
        return await settings_of(viewer.person_id)

    @strawberry.mutation(description="Narrow what one professional of my care team reads, within "
                                     "the matrix: only these document types and sections (null: "
                                     "no restriction on that part).",
                         permission_classes=[IsPatient])
    async def restrict_professional_access(
        self, info: Info, professional_id: strawberry.ID,
        document_types: list[DocumentType] | None = None,
        sections: list[ProfileSection] | None = None,
    ) -> RestrictAccessResult:
        try:
            relationship = await services.restrict_professional(
                _patient(info), str(professional_id),
                document_types=None if document_types is None else [t.value
                                                                    for t in document_types],
                sections=None if sections is None else [s.value for s in sections])
        except DomainError as exc:
            return to_graphql_error(exc)
        return await _member(info, relationship.professional_id)

    @strawberry.mutation(description="Declare that I treat a patient named by INS traits (all "
                                     "must match): I may then read their record as the matrix "
                                     "and their settings allow; they are told and can end it.",
                         permission_classes=[IsProfessional])
    async def declare_care_relationship(self, info: Info, patient: PatientIdentityInput
                                        ) -> DeclareCareRelationshipResult:
        try:
            person = await services.declare_care_relationship(
                info.context.runtime, _professional(info), _claim(patient),
                address=info.context.client_address)
        except DomainError as exc:
            return to_graphql_error(exc)
        return CareRelationshipDeclared(patient_id=strawberry.ID(str(person.public_id)))

    @strawberry.mutation(description="Emergency (break-glass) access to a patient's record, for "
                                     "emergency physicians and SAMU regulators, with a reason; "
                                     "open for EMERGENCY_ACCESS_HOURS; the patient is told.",
                         permission_classes=[IsProfessional])
    async def emergency_access(self, info: Info, patient: PatientIdentityInput, reason: str
                               ) -> EmergencyAccessResult:
        try:
            opened = await services.emergency_access(
                info.context.runtime, _professional(info), _claim(patient), reason,
                address=info.context.client_address)
        except DomainError as exc:
            return to_graphql_error(exc)
        return EmergencyAccessOpened(patient_id=strawberry.ID(str(opened.person.public_id)),
                                     expires_at=opened.access.expires_at)
