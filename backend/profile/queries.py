from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.access import policy
from backend.audit.models import AccessKind
from backend.permissions import IsPatient
from backend.profile import fhir_export, services
from backend.profile.models import AdvanceDirective as AdvanceDirectiveModel
from backend.profile.models import OrganDonation as OrganDonationModel
from backend.profile.types import (
    AdvanceDirective,
    Allergy,
    EmergencyContact,
    FamilyHistoryEntry,
    Measurement,
    MeasurementSeries,
    MeasurementSeriesKind,
    MeasurementTrend,
    MedicalHistoryEntry,
    OrganDonation,
    Treatment,
    Vaccination,
)


@strawberry.type(description="A medical profile (mine, or a patient's as the access policy "
                              "lets me read it: a section I may not read is empty). Each list "
                              "costs one query whatever its size.")
class Profile:
    fhir_patient_id: str = strawberry.field(
        description="The patient's id in the FHIR API: GET /fhir/r4/Patient/{id}/$everything.")
    _access: strawberry.Private[policy.Access]
    _ring: strawberry.Private[services.KeyRing]

    def _log(self, kind: str) -> None:
        """Access log: a section actually read (readable, even if empty: "no allergy" is
        information); a section the access excludes answers empty unread and unlogged."""
        section = services.SECTIONS[kind]
        if self._access.may_read_section(section):
            policy.log_read(self._access, AccessKind.PROFILE, section=section)

    async def _list(self, kind: type[services.EntryInput]) -> list[services.Entry]:
        entries = await services.list_entries(self._ring, kind, self._access)
        self._log(kind.KIND)
        return entries

    @strawberry.field(description="Allergies and intolerances, newest first.")
    async def allergies(self) -> list[Allergy]:
        return [Allergy.from_entry(e) for e in await self._list(services.AllergyInput)]

    @strawberry.field(description="Vaccinations, most recent first.")
    async def vaccinations(self) -> list[Vaccination]:
        return [Vaccination.from_entry(e) for e in await self._list(services.VaccinationInput)]

    @strawberry.field(description="Personal medical and surgical history, most recent first.")
    async def medical_history(self) -> list[MedicalHistoryEntry]:
        return [MedicalHistoryEntry.from_entry(e)
                for e in await self._list(services.MedicalHistoryInput)]

    @strawberry.field(description="Family history, newest first.")
    async def family_history(self) -> list[FamilyHistoryEntry]:
        return [FamilyHistoryEntry.from_entry(e)
                for e in await self._list(services.FamilyHistoryInput)]

    @strawberry.field(description="Treatments: current ones first, then by start date.")
    async def treatments(self) -> list[Treatment]:
        return [Treatment.from_entry(e) for e in await self._list(services.TreatmentInput)]

    @strawberry.field(description="Measurements, most recent first (weights carry their BMI).")
    async def measurements(self) -> list[Measurement]:
        entries = await self._list(services.MeasurementInput)
        derived = services.bmi_by_weight([e.row for e in entries])
        return [Measurement.from_entry(e, derived.get(e.row.id, (None,))[0]) for e in entries]

    @strawberry.field(description="Emergency contacts, in the order they were added.")
    async def emergency_contacts(self) -> list[EmergencyContact]:
        return [EmergencyContact.from_entry(e)
                for e in await self._list(services.EmergencyContactInput)]

    @strawberry.field
    async def advance_directive(self) -> AdvanceDirective | None:
        entry = await services.get_single(self._ring, AdvanceDirectiveModel,
                                          services.DIRECTIVE_KIND, self._access)
        self._log(services.DIRECTIVE_KIND)
        return AdvanceDirective.from_entry(entry) if entry else None

    @strawberry.field
    async def organ_donation(self) -> OrganDonation | None:
        entry = await services.get_single(self._ring, OrganDonationModel, services.ORGAN_KIND,
                                          self._access)
        self._log(services.ORGAN_KIND)
        return OrganDonation.from_entry(entry) if entry else None


def _own_access(info: Info) -> policy.Access:
    viewer = policy.viewer_of(info.context.viewer)
    assert isinstance(viewer, policy.PatientViewer)  # IsPatient
    return policy.own_access(viewer)


async def build_profile(info: Info, access: policy.Access) -> Profile:
    public_id = access.patient_public_id
    fhir_id = str(public_id) if public_id else await fhir_export.patient_fhir_id(
        access.patient_id)
    return Profile(fhir_patient_id=fhir_id, _access=access,
                   _ring=services.KeyRing(info.context.settings))


async def measurement_series(access: policy.Access, kind: MeasurementSeriesKind,
                             start: datetime | None, end: datetime | None) -> MeasurementSeries:
    try:
        points = await services.series(access, kind.value, start=start, end=end)
    except services.InvalidProfileInput:
        points = []
    if access.may_read_section(policy.Section.MEASUREMENTS):
        policy.log_read(access, AccessKind.PROFILE, section=policy.Section.MEASUREMENTS)
    return MeasurementSeries.build(kind, points)


async def latest_measurements(access: policy.Access, points: int) -> list[MeasurementTrend]:
    trends = await services.latest_measurements(access, points=points)
    if access.may_read_section(policy.Section.MEASUREMENTS):
        policy.log_read(access, AccessKind.PROFILE, section=policy.Section.MEASUREMENTS)
    return [MeasurementTrend.build(t) for t in trends]


LATEST_DESCRIPTION = ("For each kind of measurement recorded, its latest `points` values (1 to "
                      f"{services.MAX_TREND_POINTS}, oldest first) for a small trend line; the "
                      "most recently measured kind first. One query for all kinds.")


SERIES_DESCRIPTION = ("One measurement series for a chart, oldest first, within [from, to] "
                      "(both optional; empty when to < from). BMI uses the latest height "
                      "measured at or before each weight.")


@strawberry.type
class ProfileQueries:
    @strawberry.field(description="My medical profile.", permission_classes=[IsPatient])
    async def profile(self, info: Info) -> Profile:
        return await build_profile(info, _own_access(info))

    @strawberry.field(description=SERIES_DESCRIPTION, permission_classes=[IsPatient])
    async def measurements(
        self, info: Info, kind: MeasurementSeriesKind,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> MeasurementSeries:
        return await measurement_series(_own_access(info), kind, from_, to)

    @strawberry.field(description=LATEST_DESCRIPTION, permission_classes=[IsPatient])
    async def latest_measurements(self, info: Info, points: int = 6) -> list[MeasurementTrend]:
        return await latest_measurements(_own_access(info), points)

    @strawberry.field(description="My whole record as a FHIR R4 Bundle (the same as GET "
                                  "/fhir/r4/Patient/{fhirPatientId}/$everything).",
                      permission_classes=[IsPatient])
    async def fhir_everything(self, info: Info) -> JSON:
        return await fhir_export.everything(info.context.settings, _own_access(info))


@strawberry.type
class PatientRecordProfile:
    """The profile part of `PatientRecord` (assembled in backend/schema.py): the sections the
    policy lets the professional read; the others are empty."""

    _access: strawberry.Private[policy.Access]

    @strawberry.field(description="The patient's profile as I may read it (sections I may not "
                                  "read are empty).")
    async def profile(self, info: Info) -> Profile:
        return await build_profile(info, self._access)

    @strawberry.field(description=SERIES_DESCRIPTION + " Empty if I may not read measurements.")
    async def measurements(
        self, info: Info, kind: MeasurementSeriesKind,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> MeasurementSeries:
        return await measurement_series(self._access, kind, from_, to)

    @strawberry.field(description=LATEST_DESCRIPTION + " Empty if I may not read "
                                                       "measurements.")
    async def latest_measurements(self, points: int = 6) -> list[MeasurementTrend]:
        return await latest_measurements(self._access, points)
