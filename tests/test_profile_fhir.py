"""FHIR R4 export ($everything) and import of the profile: validity, references, stable ids,
access, idempotent import and per-resource error reporting."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from backend.identity.models import IdentityStatus, Person
from backend.records.models import Document, DocumentSource
from tests.test_profile_helpers import (
    PROFILE,
    SAMPLES,
    add,
    for_patient_mutation,
    identity,
    signed_in_patient,
    signed_in_professional,
)
from tests.test_records import PDF, upload


@pytest.fixture
async def patient(gql, notifier, clean):
    return await signed_in_patient(gql, notifier, "patient@example.fr")


@pytest.fixture
async def other_patient(gql, notifier, clean):
    return await signed_in_patient(gql, notifier, "other@example.fr")


@pytest.fixture
async def doctor(gql, notifier, clean):
    return await signed_in_professional(gql, notifier, "doctor@example.fr")


IMPORT = """mutation Import($bundle: JSON!) { importFhirBundle(bundle: $bundle) {
  __typename
  ... on ImportReport { created skipped ignored errors { index resourceType message } }
  ... on InvalidBundle { message } } }"""


async def fill(client, gql, token, doctor_token, person):
    for kind, values in SAMPLES.items():
        assert (await add(gql, token, kind, values))["__typename"] != "InvalidProfileInput"
    for values in (
        {"kind": "HEIGHT", "value": 175, "measuredAt": "2025-12-01T08:00:00Z"},
        {"kind": "BLOOD_PRESSURE", "value": 128, "diastolic": 82,
         "measuredAt": "2026-01-10T09:00:00+01:00"},
        {"kind": "TEMPERATURE", "value": 37.8, "measuredAt": "2026-01-11T20:00:00Z"},
        {"kind": "BLOOD_GLUCOSE", "value": 0.95, "measuredAt": "2026-01-12T07:00:00Z"},
    ):
        assert (await add(gql, token, "measurement", values))["__typename"] == "Measurement"
    await add(gql, token, "treatment", {"medication": "Amoxicilline", "startDate": "2020-01-01",
                                        "endDate": "2020-01-08"})
    added = (await gql(for_patient_mutation("vaccination"), {
        "patient": identity(person), "input": {"vaccine": "Grippe", "date": "2025-10-20",
                                               "doseNumber": 1}},
        token=doctor_token))["data"]["addVaccinationForPatient"]
    assert added["__typename"] == "ProfileEntryAdded"
    document = (await upload(client, token, PDF, title="Ordonnance")).json()
    await gql("""mutation { setAdvanceDirective(input: {text: "Pas d'acharnement"}) {
        __typename } }""", token=token)
    await gql("""mutation { setOrganDonation(input: {position: REFUSES}) { __typename } }""",
              token=token)
    return document["data"]["uploadDocument"]


async def export(client, gql, token) -> tuple[str, dict]:
    patient_id = (await gql("query { profile { fhirPatientId } }",
                            token=token))["data"]["profile"]["fhirPatientId"]
    response = await client.get(f"/fhir/r4/Patient/{patient_id}/$everything",
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return patient_id, response.json()


def references(value) -> list[str]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(references(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(references(item))
    return found


def by_type(bundle: dict) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        grouped.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return grouped


async def test_everything_is_valid_fhir_with_resolving_references_and_stable_ids(
        client, gql, patient, doctor):
    account, token = patient
    _, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    document = await fill(client, gql, token, doctor_token, person)
    await Person.filter(id=person.id).update(identity_status=IdentityStatus.QUALIFIED)
    patient_id, bundle = await export(client, gql, token)

    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert len(full_urls) == len(bundle["entry"])
    refs = references([e["resource"] for e in bundle["entry"]])
    assert refs and all(ref in full_urls for ref in refs), set(refs) - full_urls

    types = by_type(bundle)
    assert {t: len(v) for t, v in types.items()} == {
        "Patient": 1, "Practitioner": 1, "AllergyIntolerance": 1, "Immunization": 2,
        "Condition": 1, "FamilyMemberHistory": 1, "MedicationStatement": 2,
        "Observation": 6, "DocumentReference": 1, "Consent": 2,
    }
    pat = types["Patient"][0]
    assert pat["id"] == patient_id
    assert pat["identifier"] == [{"use": "official", "system": f"urn:oid:{person.oid}",
                                  "value": person.matricule}]
    assert pat["name"][0] == {"use": "official", "family": person.birth_name,
                           "given": person.first_names.split()}
    assert pat["birthDate"] == "1985-03-02" and pat["gender"] == "male"
    assert pat["contact"][0]["name"]["text"] == "Marie Dupont"

    observations = {o["code"]["coding"][0]["code"]: o for o in types["Observation"]}
    pressure = observations["85354-9"]
    assert "valueQuantity" not in pressure
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"],
             c["valueQuantity"]["code"]) for c in pressure["component"]] == [
        ("8480-6", 128, "mm[Hg]"), ("8462-4", 82, "mm[Hg]")]
    weight = observations["29463-7"]
    assert weight["valueQuantity"] == {"value": 72.5, "unit": "kg",
                                       "system": "http://unitsofmeasure.org", "code": "kg"}
    bmi = observations["39156-5"]
    assert bmi["valueQuantity"]["value"] == 23.7 and bmi["valueQuantity"]["code"] == "kg/m2"
    assert {r["reference"] for r in bmi["derivedFrom"]} == {
        f"urn:uuid:{weight['id']}", f"urn:uuid:{observations['8302-2']['id']}"}
    assert observations["8310-5"]["valueQuantity"]["code"] == "Cel"
    assert observations["2339-0"]["category"][0]["coding"][0]["code"] == "laboratory"

    doc = types["DocumentReference"][0]
    assert doc["id"] == document["id"] and doc["description"] == "Ordonnance"
    assert doc["content"][0]["attachment"]["url"] == f"/documents/{document['id']}/content"
    pro_vaccine = next(i for i in types["Immunization"] if i["vaccineCode"]["text"] == "Grippe")
    practitioner = types["Practitioner"][0]
    assert pro_vaccine["performer"][0]["actor"]["reference"] == f"urn:uuid:{practitioner['id']}"
    assert practitioner["identifier"][0]["system"] == "urn:oid:1.2.250.1.71.4.2.1"
    allergy = types["AllergyIntolerance"][0]
    assert allergy["code"]["text"] == "Pénicilline"
    assert allergy["recorder"]["reference"] == f"urn:uuid:{patient_id}"
    statuses = {m["medicationCodeableConcept"]["text"]: m["status"]
                for m in types["MedicationStatement"]}
    assert statuses == {"Metformine": "active", "Amoxicilline": "completed"}

    # the same ids on a second export, and the same Bundle through GraphQL
    _, again = await export(client, gql, token)
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]
    assert [e["resource"] for e in again["entry"]] == [e["resource"] for e in bundle["entry"]]
    through_graphql = (await gql("query { fhirEverything }",
                                 token=token))["data"]["fhirEverything"]
    assert [e["resource"] for e in through_graphql["entry"]] == [
        e["resource"] for e in bundle["entry"]]


@pytest.mark.parametrize("status", [IdentityStatus.PROVISIONAL, IdentityStatus.RETRIEVED,
                                    IdentityStatus.VALIDATED])
async def test_only_a_qualified_identity_exports_its_matricule(client, gql, patient, status):
    account, token = patient
    person = await Person.get(id=account.person_id)
    await Person.filter(id=person.id).update(identity_status=status)
    _, bundle = await export(client, gql, token)
    pat = by_type(bundle)["Patient"][0]
    assert "identifier" not in pat
    assert person.matricule not in json.dumps(bundle)
    get_fhir_model_class("Patient").model_validate(pat)
    assert pat["name"][0]["family"] == person.birth_name  # the traits still travel

    await Person.filter(id=person.id).update(identity_status=IdentityStatus.QUALIFIED)
    _, bundle = await export(client, gql, token)
    assert by_type(bundle)["Patient"][0]["identifier"][0]["value"] == person.matricule


async def test_everything_answers_only_for_ones_own_id(client, gql, patient, other_patient,
                                                      doctor):
    _, token = patient
    _, other_token = other_patient
    _, doctor_token = doctor
    own_id = (await gql("query { profile { fhirPatientId } }",
                        token=token))["data"]["profile"]["fhirPatientId"]
    other_id = (await gql("query { profile { fhirPatientId } }",
                          token=other_token))["data"]["profile"]["fhirPatientId"]
    assert own_id != other_id

    def get(patient_id, token_=token):
        headers = {"Authorization": f"Bearer {token_}"} if token_ else {}
        return client.get(f"/fhir/r4/Patient/{patient_id}/$everything", headers=headers)

    someone_else = await get(other_id)
    missing = await get("00000000-0000-5000-8000-000000000000")
    assert someone_else.status_code == missing.status_code == 404
    assert someone_else.json() == missing.json()
    assert someone_else.json()["resourceType"] == "OperationOutcome"
    assert (await get(own_id, doctor_token)).status_code == 404
    unauthenticated = await get(own_id, None)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["resourceType"] == "OperationOutcome"
    graphql_pro = await gql("query { fhirEverything }", token=doctor_token)
    assert graphql_pro["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _strip_patient(bundle: dict) -> dict:
    copy_ = copy.deepcopy(bundle)
    copy_["entry"] = [e for e in copy_["entry"] if e["resource"]["resourceType"] != "Patient"]
    return copy_


async def test_import_is_idempotent_and_round_trips(client, gql, patient, other_patient, doctor):
    account, token = patient
    _, other_token = other_patient
    _, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    await fill(client, gql, token, doctor_token, person)
    await Person.filter(id=person.id).update(identity_status=IdentityStatus.QUALIFIED)
    _, bundle = await export(client, gql, token)

    # re-importing one's own export: everything is already there
    own = (await gql(IMPORT, {"bundle": bundle}, token=token))["data"]["importFhirBundle"]
    assert own["created"] == 0 and own["errors"] == [], own
    # DocumentReference without inline content counts as already in the record
    assert own["skipped"] == 15  # 12 profile entries + 1 document + 2 Consents

    # someone else's Bundle (another INS) is refused as a whole
    refused = (await gql(IMPORT, {"bundle": bundle},
                         token=other_token))["data"]["importFhirBundle"]
    assert refused["__typename"] == "InvalidBundle" and "autre patient" in refused["message"]
    assert (await gql(PROFILE, token=other_token))["data"]["profile"]["allergies"] == []

    legacy = _strip_patient(bundle)
    first = (await gql(IMPORT, {"bundle": legacy}, token=other_token))["data"]
    report = first["importFhirBundle"]
    assert report["created"] == 12 + 2, report  # every profile entry (12), the 2 Consents
    assert report["ignored"] == 1 + 1  # Practitioner, derived BMI
    # the document has no inline content: reported, not silently dropped
    assert [(e["resourceType"], "contenu absent" in e["message"]) for e in report["errors"]] \
        == [("DocumentReference", True)]
    second = (await gql(IMPORT, {"bundle": legacy},
                        token=other_token))["data"]["importFhirBundle"]
    assert second["created"] == 0 and second["skipped"] == 12 + 2, second

    original = (await gql(PROFILE, token=token))["data"]["profile"]
    imported = (await gql(PROFILE, token=other_token))["data"]["profile"]
    assert {a["substance"] for a in imported["allergies"]} == {"Pénicilline"}
    assert imported["allergies"][0]["severity"] == "SEVERE"
    assert imported["allergies"][0]["reaction"] == "Urticaire géante"
    assert imported["allergies"][0]["imported"] is True
    assert imported["allergies"][0]["author"]["isPatient"] is True
    assert sorted((v["vaccine"], v["date"], v["doseNumber"]) for v in imported["vaccinations"]) \
        == sorted((v["vaccine"], v["date"], v["doseNumber"]) for v in original["vaccinations"])
    assert imported["medicalHistory"][0]["category"] == "SURGICAL"
    assert imported["familyHistory"][0]["relative"] == "MOTHER"
    assert imported["familyHistory"][0]["ageAtOnset"] == 52
    treatments = {t["medication"]: t for t in imported["treatments"]}
    assert treatments["Metformine"]["prescriber"] == "Dr Leroy"
    assert treatments["Metformine"]["frequency"] == "2 fois par jour"
    assert treatments["Amoxicilline"]["current"] is False

    def measures(profile):
        return sorted((m["kind"], m["value"], m["diastolic"], m["measuredAt"], m["bmi"])
                      for m in profile["measurements"])

    assert measures(imported) == measures(original)
    assert imported["advanceDirective"]["text"] == original["advanceDirective"]["text"] \
        == "Pas d'acharnement"
    assert imported["advanceDirective"]["author"]["isPatient"] is True
    assert imported["organDonation"]["position"] == original["organDonation"]["position"] \
        == "REFUSES"


def _bundle(*resources, patient=None) -> dict:
    entries = [{"resource": r} for r in resources]
    if patient is not None:
        entries.insert(0, {"resource": patient})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _weight(value, unit="kg", **extra):
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "effectiveDateTime": "2024-05-01T10:00:00Z",
            "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org",
                              "code": unit}, **extra}


async def test_invalid_resources_are_reported_one_by_one(gql, patient):
    account, token = patient
    person = await Person.get(id=account.person_id)
    bundle = _bundle(
        {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "#p"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005",
                              "display": "Allergy to penicillin"}]}},
        {"resourceType": "Condition", "subject": {"reference": "#p"},
         "onsetDateTime": "yesterday", "code": {"text": "Asthme"}},
        _weight(900),
        _weight(72000, unit="g"),
        _weight(70, unit="[lb_av]"),
        {"resourceType": "Encounter", "status": "finished"},
        {"resourceType": "Immunization", "status": "not-done", "patient": {"reference": "#p"},
         "vaccineCode": {"text": "BCG"}, "occurrenceDateTime": "2000-01-01"},
        {"resourceType": "Observation", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
         "valueQuantity": {"value": 22, "code": "kg/m2"}},
        "not a resource",
        {"resourceType": "FamilyMemberHistory", "status": "completed",
         "patient": {"reference": "#p"},
         "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                "v3-RoleCode", "code": "FTH"}]},
         "condition": [{"code": {"text": "Diabète"}}, {"code": {"text": "Hypertension"},
                                                         "onsetAge": {"value": 60, "code": "a"}}]},
        patient={"resourceType": "Patient", "identifier": [
            {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": person.matricule}]},
    )
    bundle["entry"][9] = "not an entry"
    report = (await gql(IMPORT, {"bundle": bundle}, token=token))["data"]["importFhirBundle"]
    assert report["__typename"] == "ImportReport", report
    errors = {e["index"]: e for e in report["errors"]}
    assert sorted(errors) == [2, 3, 5, 6, 7, 9], report
    assert errors[2]["resourceType"] == "Condition" and "onsetDateTime" in errors[2]["message"]
    assert errors[3]["resourceType"] == "Observation"
    assert "Poids hors des limites physiologiques : 900 kg" in errors[3]["message"]
    assert "[lb_av]" in errors[5]["message"]
    assert errors[6]["resourceType"] == "Encounter" and "non pris en charge" in \
        errors[6]["message"]
    assert "not-done" in errors[7]["message"]
    assert errors[9]["resourceType"] is None
    assert report["created"] == 1 + 1 + 2  # allergy, 72 kg (from grams), two family conditions
    assert report["ignored"] == 2  # Patient, BMI

    profile = (await gql(PROFILE, token=token))["data"]["profile"]
    assert profile["allergies"][0]["substance"] == "Allergy to penicillin"
    assert [m["value"] for m in profile["measurements"]] == [72.0]
    assert sorted(f["condition"] for f in profile["familyHistory"]) == ["Diabète", "Hypertension"]
    again = (await gql(IMPORT, {"bundle": bundle}, token=token))["data"]["importFhirBundle"]
    assert again["created"] == 0 and again["skipped"] == 4 and len(again["errors"]) == 6

    not_a_bundle = (await gql(IMPORT, {"bundle": {"resourceType": "Patient"}},
                              token=token))["data"]["importFhirBundle"]
    assert not_a_bundle["__typename"] == "InvalidBundle"


async def test_import_over_http_and_documents(client, gql, patient):
    _, token = patient
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    document = {
        "resourceType": "DocumentReference", "id": "legacy-42", "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "description": "Bilan 2019",
        "context": {"period": {"start": "2019-04-02"}},
        "content": [{"attachment": {"contentType": "application/pdf",
                                    "data": base64.b64encode(PDF).decode()}}],
    }
    bundle = _bundle(document, _weight(70))
    bundle["entry"][1]["fullUrl"] = "https://legacy.example/fhir/Observation/7"
    first = await client.post("/fhir/r4/Bundle", content=json.dumps(bundle), headers=headers)
    assert first.status_code == 200, first.text
    outcome = first.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"].startswith("created: 2, skipped")
    second = await client.post("/fhir/r4/Bundle", content=json.dumps(bundle), headers=headers)
    assert second.json()["issue"][0]["diagnostics"].startswith(
        "created: 0, skipped (already imported): 2")
    stored = await Document.all()
    assert len(stored) == 1 and stored[0].source == DocumentSource.LEGACY_IMPORT
    assert stored[0].clinical_date.isoformat() == "2019-04-02"

    invalid = await client.post("/fhir/r4/Bundle", content=b"{", headers=headers)
    assert invalid.status_code == 400
    not_bundle = await client.post("/fhir/r4/Bundle", json={"resourceType": "Patient"},
                                   headers=headers)
    assert not_bundle.status_code == 422
    anonymous = await client.post("/fhir/r4/Bundle", json=bundle)
    assert anonymous.status_code == 401


def _directive_consent(**changes) -> dict:
    consent = {
        "resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "adr"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "42348-3"}]}],
        "policy": [{"uri": "https://www.legifrance.gouv.fr/codes/article_lc/"
                           "LEGIARTI000031972277"}],
        "provision": {"type": "permit"},
        "sourceAttachment": {"contentType": "text/plain; charset=utf-8",
                             "data": base64.b64encode("Pas de réanimation".encode()).decode()},
    }
    consent.update(changes)
    return consent


def _organ_consent(position: str | None, provision: str = "permit", status="active") -> dict:
    consent = {
        "resourceType": "Consent", "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "treatment"}]},
        "category": [{"coding": [{"system": "urn:carnet:fhir:consent",
                                  "code": "organ-donation"}]}],
        "policy": [{"uri": "https://www.legifrance.gouv.fr/codes/article_lc/"
                           "LEGIARTI000031972291"}],
        "provision": {"type": provision},
    }
    if position:
        consent["extension"] = [{"url": "urn:carnet:fhir:consent:position",
                                 "valueCode": position},
                                {"url": "urn:carnet:fhir:consent:note",
                                 "valueString": "En parler à ma famille"}]
    return consent


async def test_consents_are_imported_once_and_never_replace_a_decision(client, gql, patient):
    _, token = patient
    privacy = {**_organ_consent(None), "category": [{"coding": [
        {"system": "http://loinc.org", "code": "59284-0"}]}]}  # another kind: context
    bundle = _bundle(_directive_consent(), _organ_consent("undecided", status="proposed"),
                     privacy)
    first = (await gql(IMPORT, {"bundle": bundle}, token=token))["data"]["importFhirBundle"]
    assert (first["created"], first["ignored"], first["errors"]) == (2, 1, []), first
    profile = (await gql(PROFILE, token=token))["data"]["profile"]
    assert profile["advanceDirective"]["text"] == "Pas de réanimation"
    assert profile["organDonation"] == {**profile["organDonation"], "position": "UNDECIDED",
                                        "note": "En parler à ma famille"}
    again = (await gql(IMPORT, {"bundle": bundle}, token=token))["data"]["importFhirBundle"]
    assert (again["created"], again["skipped"], again["errors"]) == (0, 2, []), again

    # a different decision in a file is reported, and what is in Carnet stays
    other = _bundle(_directive_consent(sourceAttachment={
        "data": base64.b64encode(b"Tout tenter").decode()}), _organ_consent(None, "deny"),
        _organ_consent("consents", status="inactive"))
    report = (await gql(IMPORT, {"bundle": other}, token=token))["data"]["importFhirBundle"]
    assert report["created"] == 0 and [e["index"] for e in report["errors"]] == [0, 1, 2]
    assert "pas été remplacées" in report["errors"][0]["message"]
    assert "pas été remplacée" in report["errors"][1]["message"]
    assert "inactive" in report["errors"][2]["message"]
    after = (await gql(PROFILE, token=token))["data"]["profile"]
    assert after["advanceDirective"]["text"] == "Pas de réanimation"
    assert after["organDonation"]["position"] == "UNDECIDED"


async def test_a_directive_given_as_one_of_my_documents_is_imported(client, gql, patient,
                                                                    other_patient):
    _, token = patient
    _, other_token = other_patient
    document = (await upload(client, token, PDF, title="Mes directives")).json()
    doc_id = document["data"]["uploadDocument"]["id"]
    as_document = _directive_consent(sourceAttachment={"url": f"/documents/{doc_id}/content"})
    # someone else's document is not theirs to point at
    refused = (await gql(IMPORT, {"bundle": _bundle(as_document)},
                         token=other_token))["data"]["importFhirBundle"]
    assert refused["created"] == 0 and "pas dans votre dossier" in refused["errors"][0][
        "message"]
    report = (await gql(IMPORT, {"bundle": _bundle(as_document)},
                        token=token))["data"]["importFhirBundle"]
    assert report["created"] == 1, report
    directive = (await gql(PROFILE, token=token))["data"]["profile"]["advanceDirective"]
    assert directive["documentId"] == doc_id and directive["text"] is None
