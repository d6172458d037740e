"""Profile mutations. Each list kind gets add/update/delete for the patient, and the clinical
kinds an add-for-patient for professionals; they are built by small factories so that every
kind follows exactly the same rules (no `from __future__ import annotations` here: the factories'
annotations must be real types)."""

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.app_scopes import PROFILE_MEASUREMENTS_WRITE, app_scope
from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error

# The same INS traits as starting a conversation: one GraphQL input type for both.
from backend.graphql_types import PatientIdentityInput
from backend.identity import matching
from backend.permissions import IsPatient, IsProfessional
from backend.profile import fhir_import, services
from backend.profile.models import AdvanceDirective as AdvanceDirectiveModel
from backend.profile.models import OrganDonation as OrganDonationModel
from backend.profile.types import (
    AdvanceDirective,
    AdvanceDirectiveInput,
    AdvanceDirectiveResult,
    Allergy,
    AllergyInput,
    AllergyResult,
    DeleteEntryResult,
    EmergencyContact,
    EmergencyContactInput,
    EmergencyContactResult,
    EntryDeleted,
    FamilyHistoryEntry,
    FamilyHistoryInput,
    FamilyHistoryResult,
    ImportFhirBundleResult,
    ImportReport,
    Measurement,
    MeasurementInput,
    MeasurementResult,
    MedicalHistoryEntry,
    MedicalHistoryInput,
    MedicalHistoryResult,
    OrganDonation,
    OrganDonationInput,
    OrganDonationResult,
    ProfessionalEntryResult,
    ProfileEntryAdded,
    Treatment,
    TreatmentInput,
    TreatmentResult,
    Vaccination,
    VaccinationInput,
    VaccinationResult,
    with_authors,
)


def _patient(info: Info) -> services.Author:
    return services.Author(account_id=info.context.viewer.account_id, professional_id=None)


async def _shown(info: Info, output: Any, entry: services.Entry) -> Any:
    await with_authors(info, [entry])
    if output is Measurement:
        bmi = await services.bmi_of(info.context.viewer.person_id, entry.row)
        return Measurement.from_entry(entry, bmi)
    return output.from_entry(entry)


def _add(label: str, gql_input: Any, output: Any, result: Any,
         directives: tuple[Any, ...] = ()) -> Any:
    async def resolver(info: Info, input: gql_input) -> result:  # type: ignore[valid-type]
        try:
            entry = await services.add_entry(
                info.context.settings, person_id=info.context.viewer.person_id,
                author=_patient(info), data=input.to_service())
        except DomainError as exc:
            return to_graphql_error(exc)
        return await _shown(info, output, entry)

    return strawberry.mutation(resolver=resolver, description=f"Add {label} to my profile.",
                               permission_classes=[IsPatient], directives=list(directives))


def _update(label: str, gql_input: Any, output: Any, result: Any) -> Any:
    async def resolver(info: Info, id: strawberry.ID, input: gql_input  # type: ignore[valid-type]
                       ) -> result:  # type: ignore[valid-type]
        try:
            entry = await services.update_entry(
                info.context.settings, person_id=info.context.viewer.person_id,
                entry_id=str(id), data=input.to_service())
        except DomainError as exc:
            return to_graphql_error(exc)
        return await _shown(info, output, entry)

    return strawberry.mutation(resolver=resolver,
                               description=f"Replace the fields of {label} of my profile.",
                               permission_classes=[IsPatient])


def _delete(label: str, kind: type[services.EntryInput]) -> Any:
    async def resolver(info: Info, id: strawberry.ID) -> DeleteEntryResult:
        try:
            deleted = await services.delete_entry(
                kind.MODEL, person_id=info.context.viewer.person_id, entry_id=str(id))
        except DomainError as exc:
            return to_graphql_error(exc)
        return EntryDeleted(id=strawberry.ID(str(deleted)))

    return strawberry.mutation(resolver=resolver, description=f"Delete {label} of my profile.",
                               permission_classes=[IsPatient])


def _add_for_patient(label: str, gql_input: Any) -> Any:
    async def resolver(info: Info, patient: PatientIdentityInput,
                       input: gql_input) -> ProfessionalEntryResult:  # type: ignore[valid-type]
        viewer = info.context.viewer
        try:
            entry = await services.professional_add_entry(
                info.context.runtime, professional_account_id=viewer.account_id,
                professional_id=viewer.professional_id,
                patient=matching.PatientClaim(patient.ins_matricule, patient.birth_name,
                                              patient.birth_date),
                data=input.to_service(), address=info.context.client_address)
        except DomainError as exc:
            return to_graphql_error(exc)
        return ProfileEntryAdded(id=strawberry.ID(str(entry.id)),
                                 recorded_at=entry.row.created_at)

    return strawberry.mutation(
        resolver=resolver,
        description=f"Add {label} to a patient's profile (professionals; the patient sees it "
                    "with me as its author). INS matricule, birth name and date of birth must "
                    "all match.",
        permission_classes=[IsProfessional])


@strawberry.type
class ProfileMutations:
    add_allergy = _add("an allergy or intolerance", AllergyInput, Allergy, AllergyResult)
    update_allergy = _update("an allergy", AllergyInput, Allergy, AllergyResult)
    delete_allergy = _delete("an allergy", services.AllergyInput)
    add_allergy_for_patient = _add_for_patient("an allergy", AllergyInput)

    add_vaccination = _add("a vaccination", VaccinationInput, Vaccination, VaccinationResult)
    update_vaccination = _update("a vaccination", VaccinationInput, Vaccination,
                                 VaccinationResult)
    delete_vaccination = _delete("a vaccination", services.VaccinationInput)
    add_vaccination_for_patient = _add_for_patient("a vaccination", VaccinationInput)

    add_medical_history = _add("a medical or surgical history entry", MedicalHistoryInput,
                               MedicalHistoryEntry, MedicalHistoryResult)
    update_medical_history = _update("a history entry", MedicalHistoryInput,
                                     MedicalHistoryEntry, MedicalHistoryResult)
    delete_medical_history = _delete("a history entry", services.MedicalHistoryInput)
    add_medical_history_for_patient = _add_for_patient("a history entry", MedicalHistoryInput)

    add_family_history = _add("a family history entry", FamilyHistoryInput,
                              FamilyHistoryEntry, FamilyHistoryResult)
    update_family_history = _update("a family history entry", FamilyHistoryInput,
                                    FamilyHistoryEntry, FamilyHistoryResult)
    delete_family_history = _delete("a family history entry", services.FamilyHistoryInput)
    add_family_history_for_patient = _add_for_patient("a family history entry",
                                                      FamilyHistoryInput)

    add_treatment = _add("a treatment", TreatmentInput, Treatment, TreatmentResult)
    update_treatment = _update("a treatment", TreatmentInput, Treatment, TreatmentResult)
    delete_treatment = _delete("a treatment", services.TreatmentInput)
    add_treatment_for_patient = _add_for_patient("a treatment", TreatmentInput)

    # The one profile write open to apps (scope profile.measurements:write: "add measurements").
    add_measurement = _add("a measurement", MeasurementInput, Measurement, MeasurementResult,
                           directives=(app_scope(PROFILE_MEASUREMENTS_WRITE),))
    update_measurement = _update("a measurement", MeasurementInput, Measurement,
                                 MeasurementResult)
    delete_measurement = _delete("a measurement", services.MeasurementInput)
    add_measurement_for_patient = _add_for_patient("a measurement", MeasurementInput)

    add_emergency_contact = _add("an emergency contact", EmergencyContactInput,
                                 EmergencyContact, EmergencyContactResult)
    update_emergency_contact = _update("an emergency contact", EmergencyContactInput,
                                       EmergencyContact, EmergencyContactResult)
    delete_emergency_contact = _delete("an emergency contact", services.EmergencyContactInput)

    @strawberry.mutation(description="Write (or replace) my advance directives: a text and/or "
                                     "one of my documents.", permission_classes=[IsPatient])
    async def set_advance_directive(self, info: Info, input: AdvanceDirectiveInput
                                    ) -> AdvanceDirectiveResult:
        try:
            entry = await services.set_advance_directive(
                info.context.settings, person_id=info.context.viewer.person_id,
                author=_patient(info), text=input.text,
                document_id=str(input.document_id) if input.document_id else None)
        except DomainError as exc:
            return to_graphql_error(exc)
        return AdvanceDirective.from_entry((await with_authors(info, [entry]))[0])

    @strawberry.mutation(description="Delete my advance directives.",
                         permission_classes=[IsPatient])
    async def delete_advance_directive(self, info: Info) -> DeleteEntryResult:
        try:
            deleted = await services.delete_single(AdvanceDirectiveModel,
                                                   person_id=info.context.viewer.person_id)
        except DomainError as exc:
            return to_graphql_error(exc)
        return EntryDeleted(id=strawberry.ID(str(deleted)))

    @strawberry.mutation(description="State (or change) my position on organ donation.",
                         permission_classes=[IsPatient])
    async def set_organ_donation(self, info: Info, input: OrganDonationInput
                                 ) -> OrganDonationResult:
        try:
            entry = await services.set_organ_donation(
                info.context.settings, person_id=info.context.viewer.person_id,
                author=_patient(info), position=input.position, note=input.note)
        except DomainError as exc:
            return to_graphql_error(exc)
        return OrganDonation.from_entry((await with_authors(info, [entry]))[0])

    @strawberry.mutation(description="Withdraw my stated position on organ donation.",
                         permission_classes=[IsPatient])
    async def delete_organ_donation(self, info: Info) -> DeleteEntryResult:
        try:
            deleted = await services.delete_single(OrganDonationModel,
                                                   person_id=info.context.viewer.person_id)
        except DomainError as exc:
            return to_graphql_error(exc)
        return EntryDeleted(id=strawberry.ID(str(deleted)))

    @strawberry.mutation(description="Import a FHIR R4 Bundle into my profile (and documents "
                                     "with inline content). Importing twice creates nothing "
                                     "new; invalid resources are reported one by one.",
                         permission_classes=[IsPatient])
    async def import_fhir_bundle(self, info: Info, bundle: JSON) -> ImportFhirBundleResult:
        try:
            report = await fhir_import.import_bundle(
                info.context.runtime, person_id=info.context.viewer.person_id,
                author=_patient(info), bundle=bundle)
        except DomainError as exc:
            return to_graphql_error(exc)
        return ImportReport.from_report(report)
