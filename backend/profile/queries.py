from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

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
    MedicalHistoryEntry,
    OrganDonation,
    Treatment,
    Vaccination,
)


@strawberry.type(description="My medical profile. Each list costs one query whatever its size.")
class Profile:
    fhir_patient_id: str = strawberry.field(
        description="My id in the FHIR API: GET /fhir/r4/Patient/{id}/$everything.")
    _person_id: strawberry.Private[int]
    _ring: strawberry.Private[services.KeyRing]

    async def _list(self, kind: type[services.EntryInput]) -> list[services.Entry]:
        return await services.list_entries(self._ring, kind, self._person_id)

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
                                          services.DIRECTIVE_KIND, self._person_id)
        return AdvanceDirective.from_entry(entry) if entry else None

    @strawberry.field
    async def organ_donation(self) -> OrganDonation | None:
        entry = await services.get_single(self._ring, OrganDonationModel, services.ORGAN_KIND,
                                          self._person_id)
        return OrganDonation.from_entry(entry) if entry else None


@strawberry.type
class ProfileQueries:
    @strawberry.field(description="My medical profile.", permission_classes=[IsPatient])
    async def profile(self, info: Info) -> Profile:
        person_id = info.context.viewer.person_id
        return Profile(fhir_patient_id=await fhir_export.patient_fhir_id(person_id),
                       _person_id=person_id, _ring=services.KeyRing(info.context.settings))

    @strawberry.field(description="One measurement series for a chart, oldest first, within "
                                  "[from, to] (both optional; empty when to < from). BMI uses "
                                  "the latest height measured at or before each weight.",
                      permission_classes=[IsPatient])
    async def measurements(
        self, info: Info, kind: MeasurementSeriesKind,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> MeasurementSeries:
        try:
            points = await services.series(info.context.viewer.person_id, kind.value,
                                           start=from_, end=to)
        except services.InvalidProfileInput:
            points = []
        return MeasurementSeries.build(kind, points)

    @strawberry.field(description="My whole record as a FHIR R4 Bundle (the same as GET "
                                  "/fhir/r4/Patient/{fhirPatientId}/$everything).",
                      permission_classes=[IsPatient])
    async def fhir_everything(self, info: Info) -> JSON:
        return await fhir_export.everything(info.context.settings, info.context.viewer.person_id)
