"""The medical profile: CRUD per kind with typed errors, physiological bounds, professional
additions, BMI and series, encryption at rest, and a constant number of queries."""

from __future__ import annotations

import pytest

from backend.identity.models import Person
from tests.factories import create_professional
from tests.querycount import count_queries
from tests.test_profile_helpers import (
    KINDS,
    PROFILE,
    add,
    delete_mutation,
    for_patient_mutation,
    identity,
    signed_in_patient,
    signed_in_professional,
    update_mutation,
)


@pytest.fixture
async def patient(gql, notifier, clean):
    return await signed_in_patient(gql, notifier, "patient@example.fr")


@pytest.fixture
async def other_patient(gql, notifier, clean):
    return await signed_in_patient(gql, notifier, "other@example.fr")


@pytest.fixture
async def doctor(gql, notifier, clean):
    return await signed_in_professional(gql, notifier, "doctor@example.fr")


LIST_FIELD = {
    "allergy": "allergies", "vaccination": "vaccinations", "medicalHistory": "medicalHistory",
    "familyHistory": "familyHistory", "treatment": "treatments",
    "measurement": "measurements", "emergencyContact": "emergencyContacts",
}
CHANGES = {
    "allergy": ({"substance": "Arachide", "category": "FOOD"}, "substance", "Arachide"),
    "vaccination": ({"vaccine": "ROR", "date": "2021-03-03"}, "vaccine", "ROR"),
    "medicalHistory": ({"condition": "Asthme", "category": "MEDICAL"}, "condition", "Asthme"),
    "familyHistory": ({"relative": "FATHER", "condition": "Infarctus"}, "condition",
                      "Infarctus"),
    "treatment": ({"medication": "Ventoline", "endDate": "2023-01-01"}, "medication",
                  "Ventoline"),
    "measurement": ({"kind": "HEART_RATE", "value": 64,
                     "measuredAt": "2026-01-11T08:00:00Z"}, "value", 64.0),
    "emergencyContact": ({"name": "Paul Dupont", "phone": "0612345678"}, "name",
                         "Paul Dupont"),
}


async def profile(gql, token):
    body = await gql(PROFILE, token=token)
    assert body.get("data"), body
    return body["data"]["profile"]


@pytest.mark.parametrize("kind", list(KINDS))
async def test_crud_per_kind(gql, patient, other_patient, kind):
    _, token = patient
    _, other_token = other_patient
    created = await add(gql, token, kind)
    name = KINDS[kind][0]
    assert created["__typename"].startswith(name), created
    assert created["author"] == {"isPatient": True, "professional": None}
    entry_id = created["id"]

    listed = (await profile(gql, token))[LIST_FIELD[kind]]
    assert [e["id"] for e in listed] == [entry_id]
    assert listed[0]["imported"] is False and listed[0]["recordedAt"]

    changes, field, expected = CHANGES[kind]
    updated = (await gql(update_mutation(kind), {"id": entry_id, "input": changes},
                         token=token))["data"][f"update{name}"]
    assert updated[field] == expected, updated
    listed = (await profile(gql, token))[LIST_FIELD[kind]]
    assert listed[0][field] == expected

    # someone else's entry, or a malformed id, answers exactly like a missing one
    for token_, id_ in ((other_token, entry_id), (token, "not-a-uuid"),
                        (token, "00000000-0000-4000-8000-000000000000")):
        answer = (await gql(update_mutation(kind), {"id": id_, "input": changes},
                            token=token_))["data"][f"update{name}"]
        assert answer == {"__typename": "EntryNotFound", "message": "Élément introuvable."}
        gone = (await gql(delete_mutation(kind), {"id": id_}, token=token_))["data"]
        assert gone[f"delete{name}"] == {"__typename": "EntryNotFound",
                                         "message": "Élément introuvable."}
    assert (await profile(gql, other_token))[LIST_FIELD[kind]] == []

    deleted = (await gql(delete_mutation(kind), {"id": entry_id}, token=token))["data"]
    assert deleted[f"delete{name}"] == {"__typename": "EntryDeleted", "id": entry_id}
    assert (await profile(gql, token))[LIST_FIELD[kind]] == []


@pytest.mark.parametrize(("kind", "values", "field"), [
    ("allergy", {"substance": "   "}, "substance"),
    ("allergy", {"substance": "Latex", "since": "2999-01-01"}, "since"),
    ("vaccination", {"vaccine": "BCG", "date": "2020-01-01", "doseNumber": 0}, "doseNumber"),
    ("medicalHistory", {"condition": "Fracture", "onset": "2020-01-01",
                        "resolved": "2019-01-01"}, "resolved"),
    ("familyHistory", {"relative": "SON", "condition": "Asthme", "ageAtOnset": 200},
     "ageAtOnset"),
    ("treatment", {"medication": "X", "startDate": "2022-01-01", "endDate": "2021-01-01"},
     "endDate"),
    ("treatment", {"medication": "x" * 201}, "medication"),
    ("emergencyContact", {"name": "Paul"}, "phone"),
    ("emergencyContact", {"name": "Paul", "phone": "appelle-moi"}, "phone"),
    ("emergencyContact", {"name": "Paul", "email": "paul"}, "email"),
    ("measurement", {"kind": "TEMPERATURE", "value": 37, "measuredAt": "2999-01-01T00:00:00Z"},
     "measuredAt"),
    ("measurement", {"kind": "BLOOD_PRESSURE", "value": 120,
                     "measuredAt": "2026-01-01T00:00:00Z"}, "diastolic"),
    ("measurement", {"kind": "BLOOD_PRESSURE", "value": 80, "diastolic": 120,
                     "measuredAt": "2026-01-01T00:00:00Z"}, "diastolic"),
    ("measurement", {"kind": "WEIGHT", "value": 70, "diastolic": 50,
                     "measuredAt": "2026-01-01T00:00:00Z"}, "diastolic"),
])
async def test_invalid_input_is_typed(gql, patient, kind, values, field):
    _, token = patient
    result = await add(gql, token, kind, values)
    assert result["__typename"] == "InvalidProfileInput", result
    assert result["field"] == field and result["message"]
    assert (await profile(gql, token))[LIST_FIELD[kind]] == []


@pytest.mark.parametrize(("kind", "value", "diastolic", "field", "unit", "message"), [
    ("WEIGHT", 0, None, "value", "kg", "Poids hors des limites physiologiques : 0 kg"),
    ("WEIGHT", 900, None, "value", "kg", "Poids hors des limites physiologiques : 900 kg"),
    ("HEIGHT", 400, None, "value", "cm", "Taille hors des limites"),
    ("TEMPERATURE", 50, None, "value", "°C", "Température hors des limites"),
    ("HEART_RATE", 5, None, "value", "battements/min", "Fréquence cardiaque hors"),
    ("BLOOD_GLUCOSE", 45, None, "value", "g/L", "Glycémie hors"),
    ("WAIST", 5, None, "value", "cm", "Tour de taille hors"),
    ("BLOOD_PRESSURE", 400, 80, "value", "mmHg", "systolique hors"),
    ("BLOOD_PRESSURE", 120, 5, "diastolic", "mmHg", "diastolique hors"),
])
async def test_physiological_bounds_are_typed_errors(gql, patient, kind, value, diastolic,
                                                     field, unit, message):
    _, token = patient
    values = {"kind": kind, "value": value, "measuredAt": "2026-01-01T08:00:00Z"}
    if diastolic is not None:
        values["diastolic"] = diastolic
    result = await add(gql, token, "measurement", values)
    assert result["__typename"] == "MeasurementOutOfRange", result
    assert result["field"] == field and result["unit"] == unit
    assert message in result["message"], result["message"]
    assert result["minimum"] < result["maximum"]
    assert "valeurs acceptées de" in result["message"]
    assert (await profile(gql, token))["measurements"] == []


async def test_bmi_is_never_an_input(gql, patient):
    _, token = patient
    body = await gql("""mutation { addMeasurement(input: {kind: BMI, value: 22,
        measuredAt: "2026-01-01T00:00:00Z"}) { __typename } }""", token=token)
    assert body.get("errors") and not body.get("data")


async def test_professional_adds_a_vaccination_the_patient_sees(gql, patient, doctor):
    account, token = patient
    _, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    result = (await gql(for_patient_mutation("vaccination"), {
        "patient": identity(person), "input": {"vaccine": "Grippe saisonnière",
                                               "date": "2026-10-20", "batch": "FLU26"},
    }, token=doctor_token))["data"]["addVaccinationForPatient"]
    assert result["__typename"] == "ProfileEntryAdded", result

    seen = (await profile(gql, token))["vaccinations"]
    assert len(seen) == 1 and seen[0]["id"] == result["id"]
    assert seen[0]["vaccine"] == "Grippe saisonnière" and seen[0]["batch"] == "FLU26"
    assert seen[0]["author"]["isPatient"] is False
    assert seen[0]["author"]["professional"]["profession"] == "Médecin"
    # the patient owns it: they may change or delete it
    changed = (await gql(update_mutation("vaccination"), {
        "id": result["id"], "input": {"vaccine": "Grippe", "date": "2026-10-20"}},
        token=token))["data"]["updateVaccination"]
    assert changed["vaccine"] == "Grippe"


async def test_professional_additions_need_all_traits_and_cannot_read(gql, patient, doctor):
    account, token = patient
    _, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    for wrong in ({"birthName": "Durand"}, {"birthDate": "1990-01-01"},
                  {"insMatricule": "185057512345678"}):
        answer = (await gql(for_patient_mutation("allergy"), {
            "patient": {**identity(person), **wrong}, "input": {"substance": "Iode"},
        }, token=doctor_token))["data"]["addAllergyForPatient"]
        assert answer["__typename"] == "PatientNotFound", answer
    out_of_range = (await gql(for_patient_mutation("measurement"), {
        "patient": identity(person),
        "input": {"kind": "WEIGHT", "value": 900, "measuredAt": "2026-01-01T00:00:00Z"},
    }, token=doctor_token))["data"]["addMeasurementForPatient"]
    assert out_of_range["__typename"] == "MeasurementOutOfRange"
    assert (await profile(gql, token))["allergies"] == []

    read = await gql(PROFILE, token=doctor_token)
    assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql('mutation { addAllergy(input: {substance: "x"}) { __typename } }',
                      token=doctor_token))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # patients cannot use the professional mutation
    as_patient = await gql(for_patient_mutation("allergy"), {
        "patient": identity(person), "input": {"substance": "Iode"}}, token=token)
    assert as_patient["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_advance_directive_and_organ_donation(client, gql, patient, other_patient):
    from tests.test_records import PDF, upload

    _, token = patient
    _, other_token = other_patient
    assert (await profile(gql, token))["advanceDirective"] is None
    set_directive = """mutation Set($input: AdvanceDirectiveInput!) {
      setAdvanceDirective(input: $input) {
        __typename ... on AdvanceDirective { id text documentId documentUrl }
        ... on InvalidProfileInput { field message } } }"""
    empty = (await gql(set_directive, {"input": {"text": "  "}},
                       token=token))["data"]["setAdvanceDirective"]
    assert empty["__typename"] == "InvalidProfileInput"
    written = (await gql(set_directive, {"input": {"text": "Pas d'acharnement.\nMerci."}},
                         token=token))["data"]["setAdvanceDirective"]
    assert written["text"] == "Pas d'acharnement.\nMerci."

    doc = (await upload(client, token, PDF, title="Directives")).json()["data"]["uploadDocument"]
    other_doc = (await upload(client, other_token, PDF + b" ",
                              title="X")).json()["data"]["uploadDocument"]
    refused = (await gql(set_directive, {"input": {"documentId": other_doc["id"]}},
                         token=token))["data"]["setAdvanceDirective"]
    assert refused == {"__typename": "InvalidProfileInput", "field": "documentId",
                       "message": "Document introuvable dans votre dossier."}
    replaced = (await gql(set_directive, {"input": {"documentId": doc["id"]}},
                          token=token))["data"]["setAdvanceDirective"]
    assert replaced["id"] == written["id"]  # one per patient
    assert replaced["text"] is None and replaced["documentUrl"] == doc["downloadUrl"]

    organ = """mutation($input: OrganDonationInput!) { setOrganDonation(input: $input) {
      __typename ... on OrganDonation { id position note } } }"""
    first = (await gql(organ, {"input": {"position": "REFUSES", "note": "Inscrit au registre"}},
                       token=token))["data"]["setOrganDonation"]
    second = (await gql(organ, {"input": {"position": "CONSENTS"}},
                        token=token))["data"]["setOrganDonation"]
    assert first["id"] == second["id"] and second == {
        "__typename": "OrganDonation", "id": first["id"], "position": "CONSENTS", "note": None}
    seen = await profile(gql, token)
    assert seen["organDonation"]["position"] == "CONSENTS"
    assert seen["advanceDirective"]["documentId"] == doc["id"]
    assert (await profile(gql, other_token))["organDonation"] is None

    for name in ("deleteOrganDonation", "deleteAdvanceDirective"):
        query = f"mutation {{ {name} {{ __typename }} }}"
        assert (await gql(query, token=token))["data"][name]["__typename"] == "EntryDeleted"
        assert (await gql(query, token=token))["data"][name]["__typename"] == "EntryNotFound"
    seen = await profile(gql, token)
    assert seen["organDonation"] is None and seen["advanceDirective"] is None


SERIES = """query S($kind: MeasurementSeriesKind!, $from: DateTime, $to: DateTime) {
  measurements(kind: $kind, from: $from, to: $to) {
    kind label loinc unit points { at value diastolic measurementId } } }"""


async def _measure(gql, token, kind, value, at, diastolic=None):
    values = {"kind": kind, "value": value, "measuredAt": at}
    if diastolic is not None:
        values["diastolic"] = diastolic
    result = await add(gql, token, "measurement", values)
    assert result["__typename"] == "Measurement", result
    return result


async def test_bmi_uses_the_latest_height_at_or_before_each_weight(gql, patient):
    _, token = patient
    early = await _measure(gql, token, "WEIGHT", 60, "2020-01-01T08:00:00Z")  # no height yet
    await _measure(gql, token, "HEIGHT", 160, "2020-06-01T08:00:00Z")
    w1 = await _measure(gql, token, "WEIGHT", 64, "2021-01-01T08:00:00Z")
    await _measure(gql, token, "HEIGHT", 200, "2023-01-01T08:00:00Z")
    w2 = await _measure(gql, token, "WEIGHT", 80, "2024-01-01T08:00:00Z")
    # entered later, but measured earlier: uses the 160 cm height
    w0 = await _measure(gql, token, "WEIGHT", 70, "2022-06-01T08:00:00Z")
    assert early["bmi"] is None
    assert w1["bmi"] == 25.0  # 64 / 1.6²
    assert w2["bmi"] == 20.0  # 80 / 2.0²
    assert w0["bmi"] == 27.3  # 70 / 1.6² = 27.34

    listed = (await profile(gql, token))["measurements"]
    by_id = {m["id"]: m for m in listed}
    assert by_id[w1["id"]]["bmi"] == 25.0 and by_id[w0["id"]]["bmi"] == 27.3
    assert by_id[early["id"]]["bmi"] is None
    assert [m["measuredAt"] for m in listed] == sorted(
        (m["measuredAt"] for m in listed), reverse=True)

    series = (await gql(SERIES, {"kind": "BMI"}, token=token))["data"]["measurements"]
    assert series["loinc"] == "39156-5" and series["unit"] == "kg/m2"
    assert [p["value"] for p in series["points"]] == [25.0, 27.3, 20.0]
    assert [p["measurementId"] for p in series["points"]] == [w1["id"], w0["id"], w2["id"]]
    # a window after the heights still uses them
    late = (await gql(SERIES, {"kind": "BMI", "from": "2023-06-01T00:00:00Z"},
                      token=token))["data"]["measurements"]
    assert [p["value"] for p in late["points"]] == [20.0]


async def test_series_ordering_and_filters(gql, patient, other_patient):
    _, token = patient
    _, other_token = other_patient
    for at, value in (("2026-03-01T08:00:00Z", 75), ("2026-01-01T08:00:00Z", 77),
                      ("2026-02-01T08:00:00Z", 76)):
        await _measure(gql, token, "WEIGHT", value, at)
    await _measure(gql, token, "BLOOD_PRESSURE", 130, "2026-02-02T08:00:00+01:00", 85)
    await _measure(gql, token, "BLOOD_PRESSURE", 118, "2026-01-02T08:00:00+01:00", 76)
    await _measure(gql, other_token, "WEIGHT", 50, "2026-01-15T08:00:00Z")

    weights = (await gql(SERIES, {"kind": "WEIGHT"}, token=token))["data"]["measurements"]
    assert weights["loinc"] == "29463-7" and weights["unit"] == "kg"
    assert [p["value"] for p in weights["points"]] == [77, 76, 75]
    window = (await gql(SERIES, {"kind": "WEIGHT", "from": "2026-01-15T00:00:00Z",
                                 "to": "2026-02-15T00:00:00Z"}, token=token))
    assert [p["value"] for p in window["data"]["measurements"]["points"]] == [76]
    backwards = await gql(SERIES, {"kind": "WEIGHT", "from": "2026-03-01T00:00:00Z",
                                   "to": "2026-01-01T00:00:00Z"}, token=token)
    assert backwards["data"]["measurements"]["points"] == []
    pressure = (await gql(SERIES, {"kind": "BLOOD_PRESSURE"},
                          token=token))["data"]["measurements"]
    assert pressure["loinc"] == "85354-9" and pressure["unit"] == "mm[Hg]"
    assert [(p["value"], p["diastolic"]) for p in pressure["points"]] == [(118, 76), (130, 85)]
    empty = (await gql(SERIES, {"kind": "WAIST"}, token=token))["data"]["measurements"]
    assert empty["points"] == []


async def test_nothing_readable_at_rest(gql, patient):
    from tortoise import connections

    _, token = patient
    secrets_ = {
        "allergy": {"substance": "Amoxicilline", "reaction": "Œdème de Quincke"},
        "vaccination": {"vaccine": "Vaxzevria", "date": "2021-04-01",
                        "vaccinator": "Infirmière Bernard"},
        "medicalHistory": {"condition": "Lymphome hodgkinien", "notes": "Chimiothérapie"},
        "familyHistory": {"relative": "FATHER", "condition": "Schizophrénie"},
        "treatment": {"medication": "Lithium", "dose": "400 mg", "prescriber": "Dr Psy"},
        "emergencyContact": {"name": "Ginette Confidentielle", "phone": "0611223344"},
        "measurement": {"kind": "WEIGHT", "value": 70, "measuredAt": "2026-01-01T00:00:00Z",
                        "notes": "Après jeûne thérapeutique"},
    }
    for kind, values in secrets_.items():
        assert (await add(gql, token, kind, values))["__typename"] != "InvalidProfileInput"
    await gql("""mutation { setAdvanceDirective(input: {text: "Refus de réanimation"}) {
        __typename } }""", token=token)
    await gql("""mutation { setOrganDonation(input: {position: REFUSES,
        note: "Motif religieux"}) { __typename } }""", token=token)
    dump = b""
    for table in ("profile_allergy", "profile_vaccination", "profile_medical_history",
                  "profile_family_history", "profile_treatment", "profile_measurement",
                  "profile_emergency_contact", "profile_advance_directive",
                  "profile_organ_donation"):
        _, rows = await connections.get("default").execute_query(
            f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        assert rows, table
        dump += repr(rows).encode()
    for word in ("Amoxicilline", "Quincke", "Vaxzevria", "Bernard", "Lymphome", "Chimio",
                 "Schizo", "Lithium", "400 mg", "Ginette", "0611223344", "jeûne",
                 "réanimation", "religieux"):
        assert word.encode() not in dump, word
        assert word.encode("utf-8").hex().encode() not in dump, word
    # and it all reads back
    seen = await profile(gql, token)
    assert seen["allergies"][0]["reaction"] == "Œdème de Quincke"
    assert seen["advanceDirective"]["text"] == "Refus de réanimation"


async def test_ciphertext_is_bound_to_its_row(gql, patient):
    from backend.profile.models import Allergy

    _, token = patient
    a = await add(gql, token, "allergy", {"substance": "Pollen"})
    b = await add(gql, token, "allergy", {"substance": "Acariens"})
    row_a = await Allergy.get(id=a["id"])
    await Allergy.filter(id=b["id"]).update(text_encrypted=row_a.text_encrypted)
    body = await gql(PROFILE, token=token)
    assert body["errors"][0]["message"] == "Erreur inattendue."


async def _fill(app, gql, token, person, pros, start, count):
    from backend.profile import services

    settings = app.state.runtime.settings
    for i in range(start, start + count):
        for kind in ("allergy", "vaccination", "medicalHistory", "familyHistory", "treatment",
                     "emergencyContact"):
            await add(gql, token, kind)
        await add(gql, token, "measurement",
                  {"kind": "HEIGHT" if i % 2 else "WEIGHT", "value": 170 if i % 2 else 70,
                   "measuredAt": f"2025-01-{i + 1:02d}T08:00:00Z"})
        # and entries written by three different professionals
        pro = pros[i % len(pros)]
        for data in (
            services.VaccinationInput(vaccine=f"Vaccin {i}", vaccinated_on=person.birth_date),
            services.AllergyInput(substance=f"Substance {i}"),
        ):
            await services.add_entry(settings, person_id=person.id,
                                     author=services.Author(pro.id, pro.professional_id),
                                     data=data)


async def test_profile_screen_runs_a_constant_number_of_queries(app, gql, patient, doctor):
    account, token = patient
    person = await Person.get(id=account.person_id)
    pros = [doctor[0]] + [await create_professional(email=f"doc{n}@example.fr")
                          for n in range(2)]
    await gql("""mutation { setAdvanceDirective(input: {text: "x"}) { __typename } }""",
              token=token)
    await gql("""mutation { setOrganDonation(input: {position: CONSENTS}) { __typename } }""",
              token=token)
    counts = []
    for start, count in ((0, 1), (1, 19)):
        await _fill(app, gql, token, person, pros, start, count)
        with count_queries() as counter:
            body = await gql(PROFILE, token=token)
        seen = body["data"]["profile"]
        total = start + count
        assert len(seen["vaccinations"]) == len(seen["allergies"]) == 2 * total
        assert len(seen["treatments"]) == len(seen["emergencyContacts"]) == total
        authors = {v["author"]["professional"]["rpps"] for v in seen["vaccinations"]
                   if not v["author"]["isPatient"]}
        assert len(authors) == min(total, 3)
        counts.append(counter.count)
        # 9 lists + the data key + professionals (one batch) + the Patient's public FHIR id,
        # whatever the sizes
        assert counter.count <= 12, counter.statements
    assert counts[0] == counts[1], counts

