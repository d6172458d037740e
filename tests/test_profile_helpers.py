"""GraphQL snippets and sign-in steps shared by the profile tests (no tests here)."""

from __future__ import annotations

from backend.identity.models import Person
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in

AUTHOR = "author { isPatient professional { rpps profession } }"
ENTRY = f"id recordedAt updatedAt imported {AUTHOR}"

PROFILE = f"""query {{ profile {{
  fhirPatientId
  allergies {{ {ENTRY} substance reaction severity since kind category notes }}
  vaccinations {{ {ENTRY} vaccine date doseNumber batch vaccinator notes }}
  medicalHistory {{ {ENTRY} condition category onset resolved active notes }}
  familyHistory {{ {ENTRY} relative condition ageAtOnset notes }}
  treatments {{ {ENTRY} medication dose frequency startDate endDate prescriber current notes }}
  measurements {{ {ENTRY} kind label value diastolic unit loinc measuredAt bmi notes }}
  emergencyContacts {{ {ENTRY} name relationship phone email notes }}
  advanceDirective {{ {ENTRY} text documentId documentUrl }}
  organDonation {{ {ENTRY} position note }}
}} }}"""

ERRORS = """... on Error { message }
    ... on InvalidProfileInput { field }"""
RANGE = "... on MeasurementOutOfRange { field minimum maximum unit }"


def errors(kind: str, professional: bool = False) -> str:
    return ERRORS + ("\n    " + RANGE if kind == "measurement" or professional else "")

# (mutation name, input type, fields selected on the entry)
KINDS = {
    "allergy": ("Allergy", "AllergyInput", "id substance reaction severity"),
    "vaccination": ("Vaccination", "VaccinationInput", "id vaccine date doseNumber"),
    "medicalHistory": ("MedicalHistory", "MedicalHistoryInput", "id condition category"),
    "familyHistory": ("FamilyHistory", "FamilyHistoryInput", "id relative condition"),
    "treatment": ("Treatment", "TreatmentInput", "id medication dose current"),
    "measurement": ("Measurement", "MeasurementInput", "id kind value diastolic bmi"),
    "emergencyContact": ("EmergencyContact", "EmergencyContactInput", "id name phone"),
}

SAMPLES = {
    "allergy": {"substance": "Pénicilline", "reaction": "Urticaire géante",
                "severity": "SEVERE", "since": "2001-05-01", "category": "MEDICATION"},
    "vaccination": {"vaccine": "DTPolio", "date": "2020-01-15", "doseNumber": 2,
                    "batch": "X12B", "vaccinator": "Dr Martin"},
    "medicalHistory": {"condition": "Appendicectomie", "category": "SURGICAL",
                       "onset": "1999-07-01"},
    "familyHistory": {"relative": "MOTHER", "condition": "Diabète de type 2",
                      "ageAtOnset": 52},
    "treatment": {"medication": "Metformine", "dose": "500 mg", "frequency": "2 fois par jour",
                  "startDate": "2022-02-01", "prescriber": "Dr Leroy"},
    "measurement": {"kind": "WEIGHT", "value": 72.5, "measuredAt": "2026-01-10T08:00:00Z"},
    "emergencyContact": {"name": "Marie Dupont", "relationship": "Épouse",
                         "phone": "+33 6 12 34 56 78"},
}


def add_mutation(kind: str) -> str:
    name, input_type, fields = KINDS[kind]
    return f"""mutation Add($input: {input_type}!) {{ add{name}(input: $input) {{
    __typename ... on {name if kind not in ("medicalHistory", "familyHistory")
                       else name + "Entry"} {{ {fields} {AUTHOR} }}
    {errors(kind)}
  }} }}"""


def update_mutation(kind: str) -> str:
    name, input_type, fields = KINDS[kind]
    entry_type = name if kind not in ("medicalHistory", "familyHistory") else name + "Entry"
    return f"""mutation Update($id: ID!, $input: {input_type}!) {{
  update{name}(id: $id, input: $input) {{
    __typename ... on {entry_type} {{ {fields} }}
    {errors(kind)}
  }} }}"""


def delete_mutation(kind: str) -> str:
    name = KINDS[kind][0]
    return f"""mutation Delete($id: ID!) {{ delete{name}(id: $id) {{
    __typename ... on EntryDeleted {{ id }} ... on Error {{ message }} }} }}"""


def for_patient_mutation(kind: str) -> str:
    name, input_type, _ = KINDS[kind]
    return f"""mutation Pro($patient: PatientIdentityInput!, $input: {input_type}!) {{
  add{name}ForPatient(patient: $patient, input: $input) {{
    __typename ... on ProfileEntryAdded {{ id recordedAt }}
    {errors(kind, professional=True)}
  }} }}"""


async def add(gql, token: str, kind: str, values: dict | None = None) -> dict:
    body = await gql(add_mutation(kind), {"input": values or SAMPLES[kind]}, token=token)
    assert body.get("data"), body
    return body["data"][f"add{KINDS[kind][0]}"]


def identity(person: Person) -> dict:
    return {"insMatricule": person.matricule, "birthName": person.birth_name,
            "birthDate": person.birth_date.isoformat()}


async def signed_in_patient(gql, notifier, email: str):
    account = await create_patient(email=email)
    return account, await sign_in(gql, notifier, email, PASSWORD)


async def signed_in_professional(gql, notifier, email: str):
    account = await create_professional(email=email)
    return account, await sign_in(gql, notifier, email, PASSWORD)
