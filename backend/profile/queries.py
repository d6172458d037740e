from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.access import policy
from backend.app_scopes import PROFILE_READ, SAME_AS_PARENT, app_scope
from backend.audit.models import AccessKind
from backend.permissions import IsPatient
from backend.profile import fhir_export, services
from backend.profile.loaders import load_sections
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
    with_authors,
)


@strawberry.type(description="A medical profile (mine, or a patient's as the access policy "
                              "lets me read it: a section I may not read is empty). The lists "
                              "and chart series asked together cost one statement.",
                 directives=[app_scope(SAME_AS_PARENT)])
class Profile:
    _access: strawberry.Private[policy.Access]
    _ring: strawberry.Private[services.KeyRing]

    @strawberry.field(description="The patient's id in the FHIR API: "
                                  "GET /fhir/r4/Patient/{id}/$everything.")
    async def fhir_patient_id(self) -> str:
        # Only when asked: the profile screen itself does not need it (one query less).
        public_id = self._access.patient_public_id
        if public_id:
            return str(public_id)
        return await fhir_export.patient_fhir_id(self._access.patient_id)

    async def _rows(self, info: Info, kind: str) -> list:
        """This section's rows, read with every other section and chart the request asks for
        in one statement (loaders.load_sections)."""
        return await info.context.loaders.get(load_sections).load((self._access, kind))

    def _log(self, kind: str) -> None:
        """Access log: a section actually read (readable, even if empty: "no allergy" is
        information); a section the access excludes answers empty unread and unlogged."""
        section = services.SECTIONS[kind]
        if self._access.may_read_section(section):
            policy.log_read(self._access, AccessKind.PROFILE, section=section)

    async def _list(self, info: Info, kind: type[services.EntryInput]) -> list[services.Entry]:
        entries = await with_authors(info, await services.list_entries(
            self._ring, kind, self._access, await self._rows(info, kind.KIND)))
        self._log(kind.KIND)
        return entries

    @strawberry.field(description="Allergies and intolerances, newest first.")
    async def allergies(self, info: Info) -> list[Allergy]:
        return [Allergy.from_entry(e) for e in await self._list(info, services.AllergyInput)]

    @strawberry.field(description="Vaccinations, most recent first.")
    async def vaccinations(self, info: Info) -> list[Vaccination]:
        return [Vaccination.from_entry(e)
                for e in await self._list(info, services.VaccinationInput)]

    @strawberry.field(description="Personal medical and surgical history, most recent first.")
    async def medical_history(self, info: Info) -> list[MedicalHistoryEntry]:
        return [MedicalHistoryEntry.from_entry(e)
                for e in await self._list(info, services.MedicalHistoryInput)]

    @strawberry.field(description="Family history, newest first.")
    async def family_history(self, info: Info) -> list[FamilyHistoryEntry]:
        return [FamilyHistoryEntry.from_entry(e)
                for e in await self._list(info, services.FamilyHistoryInput)]

    @strawberry.field(description="Treatments: current ones first, then by start date.")
    async def treatments(self, info: Info) -> list[Treatment]:
        return [Treatment.from_entry(e) for e in await self._list(info, services.TreatmentInput)]

    @strawberry.field(description="Measurements, most recent first (weights carry their BMI).")
    async def measurements(self, info: Info) -> list[Measurement]:
        entries = await self._list(info, services.MeasurementInput)
        derived = services.bmi_by_weight([e.row for e in entries])
        return [Measurement.from_entry(e, derived.get(e.row.id, (None,))[0]) for e in entries]

    @strawberry.field(description="Emergency contacts, in the order they were added.")
    async def emergency_contacts(self, info: Info) -> list[EmergencyContact]:
        return [EmergencyContact.from_entry(e)
                for e in await self._list(info, services.EmergencyContactInput)]

    async def _single(self, info: Info, model: type, kind: str) -> services.Entry | None:
        rows = await self._rows(info, kind)
        entry = await services.get_single(self._ring, model, kind, self._access,
                                          rows[0] if rows else None)
        return (await with_authors(info, [entry]))[0] if entry else None

    @strawberry.field
    async def advance_directive(self, info: Info) -> AdvanceDirective | None:
        entry = await self._single(info, AdvanceDirectiveModel, services.DIRECTIVE_KIND)
        self._log(services.DIRECTIVE_KIND)
        return AdvanceDirective.from_entry(entry) if entry else None

    @strawberry.field
    async def organ_donation(self, info: Info) -> OrganDonation | None:
        entry = await self._single(info, OrganDonationModel, services.ORGAN_KIND)
        self._log(services.ORGAN_KIND)
        return OrganDonation.from_entry(entry) if entry else None


def _own_access(info: Info) -> policy.Access:
    viewer = policy.viewer_of(info.context.viewer)
    # IsPatient: the patient, or an app or a carer acting for them (narrowed by their scopes).
    assert isinstance(viewer, policy.PatientViewer | policy.AppViewer | policy.ProxyViewer)
    return policy.own_access(viewer)


# The Profile fields that read a section, by GraphQL name.
_SECTION_FIELDS = {
    "allergies": services.AllergyInput.KIND, "vaccinations": services.VaccinationInput.KIND,
    "medicalHistory": services.MedicalHistoryInput.KIND,
    "familyHistory": services.FamilyHistoryInput.KIND,
    "treatments": services.TreatmentInput.KIND, "measurements": services.MeasurementInput.KIND,
    "emergencyContacts": services.EmergencyContactInput.KIND,
    "advanceDirective": services.DIRECTIVE_KIND, "organDonation": services.ORGAN_KIND,
}


async def build_profile(info: Info, access: policy.Access) -> Profile:
    # Ask now for every section this selection reads, so that they join the request's other
    # section loads (the chart series, resolved beside `profile`) in the same batch, hence
    # the same statement; the fields then find their rows in the loader's cache. A section
    # under a fragment is asked for by its own field (correct, one batch later).
    loader = info.context.loaders.get(load_sections)
    for selected in info.selected_fields:
        for child in selected.selections:
            kind = _SECTION_FIELDS.get(getattr(child, "name", ""))
            if kind is not None:
                loader.load((access, kind))
    return Profile(_access=access, _ring=services.KeyRing(info.context.settings))


async def measurement_series(info: Info, access: policy.Access, kind: MeasurementSeriesKind,
                             start: datetime | None, end: datetime | None) -> MeasurementSeries:
    try:
        # Computed from the measurement rows the request reads once (with the profile's other
        # sections, when asked together): no query per chart.
        rows = await info.context.loaders.get(load_sections).load(
            (access, services.MeasurementInput.KIND))
        points = await services.series(access, kind.value, start=start, end=end, rows=rows)
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
    @strawberry.field(description="My medical profile.", permission_classes=[IsPatient],
                      directives=[app_scope(PROFILE_READ)])
    async def profile(self, info: Info) -> Profile:
        return await build_profile(info, _own_access(info))

    @strawberry.field(description=SERIES_DESCRIPTION, permission_classes=[IsPatient],
                      directives=[app_scope(PROFILE_READ)])
    async def measurements(
        self, info: Info, kind: MeasurementSeriesKind,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> MeasurementSeries:
        return await measurement_series(info, _own_access(info), kind, from_, to)

    @strawberry.field(description=LATEST_DESCRIPTION, permission_classes=[IsPatient],
                      directives=[app_scope(PROFILE_READ)])
    async def latest_measurements(self, info: Info, points: int = 6) -> list[MeasurementTrend]:
        return await latest_measurements(_own_access(info), points)

    @strawberry.field(description="My whole record as a FHIR R4 Bundle (the same as GET "
                                  "/fhir/r4/Patient/{fhirPatientId}/$everything).",
                      permission_classes=[IsPatient], directives=[app_scope(PROFILE_READ)])
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
        return await measurement_series(info, self._access, kind, from_, to)

    @strawberry.field(description=LATEST_DESCRIPTION + " Empty if I may not read "
                                                       "measurements.")
    async def latest_measurements(self, points: int = 6) -> list[MeasurementTrend]:
        return await latest_measurements(self._access, points)
