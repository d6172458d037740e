"""GraphQL queries of the access domain.

`patientRecord` returns `PatientRecord`, whose fields come from three domains (this one's
summary, records' documents, profile's sections): backend/schema.py assembles the type and
passes it to `patient_record_queries` (no domain imports another's GraphQL modules).
"""

# No `from __future__ import annotations`: `patient_record_queries` annotates its resolver with
# the class it is given, which must be a real object, not a string, when Strawberry reads it.


import strawberry
from strawberry.types import Info

from backend.access import carers, policy, services
from backend.access.models import CarerKind
from backend.access.models import CarerPart as CarerPartModel
from backend.access.types import (
    AccessRule,
    AccessSettings,
    Carer,
    CarerSpace,
    CareTeamMember,
    MyPatient,
    settings_of,
)
from backend.permissions import IsPatient, IsProfessional


def _patient(info: Info) -> policy.PatientViewer:
    viewer = policy.viewer_of(info.context.viewer)
    assert isinstance(viewer, policy.PatientViewer)  # IsPatient
    return viewer


def _professional(info: Info) -> policy.ProfessionalViewer:
    viewer = policy.viewer_of(info.context.viewer)
    assert isinstance(viewer, policy.ProfessionalViewer)  # IsProfessional
    return viewer


async def open_patient_record(info: Info, patient_id: str) -> policy.Access | None:
    """The professional's access to a patient's record by public id, or None (unknown,
    malformed and not allowed alike). Keeps the relationship alive."""
    settings = info.context.settings
    access = await policy.access_by_public_id(
        _professional(info), patient_id, expiry_days=settings.care_relationship_expiry_days)
    if not access.granted:
        return None
    await policy.touch(access)
    return access


@strawberry.type
class AccessQueries:
    @strawberry.field(description="Who I let help with my space (carers), active grants.",
                      permission_classes=[IsPatient])
    async def carers(self, info: Info) -> list[Carer]:
        rows = await carers.carers_of(_patient(info).person_id, info.context.runtime.clock())
        return [Carer.from_model(r) for r in rows]

    @strawberry.field(description="The spaces I may help with as a carer (besides my own).",
                      permission_classes=[IsPatient])
    async def my_spaces(self, info: Info) -> list[CarerSpace]:
        spaces = await carers.spaces_of(_patient(info).account_id,
                                        info.context.runtime.clock())
        return [CarerSpace(space_id=strawberry.ID(str(s.patient.public_id)),
                           first_names=s.patient.first_names, birth_name=s.patient.birth_name,
                           parts=[CarerPartModel(p) for p in s.grant.parts],
                           can_write=s.grant.can_write, ends_at=s.grant.ends_at,
                           legal_representative=s.grant.kind is CarerKind.REPRESENTATIVE)
                for s in spaces]

    @strawberry.field(description="The access matrix: what each profession (and specialty) "
                                  "may read of a record it has a ground to open. Public.")
    async def access_matrix(self) -> list[AccessRule]:
        return [AccessRule.from_model(row) for row in await services.matrix()]

    @strawberry.field(description="My care team (relationships not ended; expired ones are "
                                  "inactive).", permission_classes=[IsPatient])
    async def care_team(self, info: Info) -> list[CareTeamMember]:
        members = await services.care_team(
            _patient(info), expiry_days=info.context.settings.care_relationship_expiry_days)
        return [CareTeamMember.build(m) for m in members]

    @strawberry.field(description="My access settings: médecin traitant, emergency access.",
                      permission_classes=[IsPatient])
    async def access_settings(self, info: Info) -> AccessSettings:
        return await settings_of(_patient(info).person_id)

    @strawberry.field(description="The patients I may read now (active relationships and open "
                                  "emergency accesses), with the ground.",
                      permission_classes=[IsProfessional])
    async def patients(self, info: Info, first: int = 50) -> list[MyPatient]:
        rows = await services.my_patients(
            _professional(info), first=first,
            expiry_days=info.context.settings.care_relationship_expiry_days)
        return [MyPatient.build(row) for row in rows]


def patient_record_queries(record_type: type) -> type:
    """The `patientRecord` query, returning `record_type` (backend/schema.py's PatientRecord,
    built with `record_type(_access=access)`)."""

    @strawberry.type
    class PatientRecordQueries:
        @strawberry.field(description="A patient's record as the access policy lets me read "
                                      "it; null for an unknown id and for a record I may not "
                                      "read, alike. `patientId` is the patient's public id.",
                          permission_classes=[IsProfessional])
        async def patient_record(self, info: Info,
                                 patient_id: strawberry.ID) -> record_type | None:  # type: ignore[valid-type]
            access = await open_patient_record(info, str(patient_id))
            return None if access is None else record_type(_access=access)

    return PatientRecordQueries
