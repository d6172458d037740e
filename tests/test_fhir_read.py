"""FHIR R4 search and read for professional software (backend/profile/fhir_search.py): what a
professional with a ground reads, that anything not allowed answers exactly like something
missing, filters and paging, the access log entries of every read, refusals, and a constant
number of SQL statements for the DocumentReference search."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from backend.access import services as access
from backend.access.policy import PatientViewer
from backend.audit.models import AccessLogEntry
from backend.identity.models import IdentityStatus, Person, Professional
from backend.identity.services import Viewer
from backend.messaging import services as messaging
from backend.profile import services as profile
from backend.profile.models import MeasurementKind
from backend.records.models import Document, Visibility
from tests.access_helpers import add_allergy, add_treatment, make_professional, seed_matrix, store
from tests.factories import PASSWORD, create_patient, make_nir
from tests.identity_helpers import sign_in
from tests.querycount import count_queries

LAB, PRESCRIPTION, CONSULTATION = "11502-2", "57833-6", "11488-4"
LOINC = "http://loinc.org"
NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
PROFILE_TYPES = ("AllergyIntolerance", "Immunization", "MedicationStatement", "Observation")


@pytest.fixture
async def world(app, gql, notifier, clean):
    """A patient with documents and a profile; a GP and a pharmacist in their care team, an
    osteopath in the care team (the matrix excludes osteopaths), a blocked doctor in the care
    team and a stranger doctor; all signed in."""
    await seed_matrix()
    rt = app.state.runtime
    patient = await create_patient(email="patient@example.fr")
    pid = patient.person_id
    me = PatientViewer(patient.id, pid)
    pros = {}
    for name, profession, specialty in (
            ("gp", "Médecin", "Médecine générale"), ("pharmacist", "Pharmacien", None),
            ("osteo", "Ostéopathe", None), ("blocked", "Médecin", None),
            ("stranger", "Médecin", None)):
        account = await make_professional(profession, specialty, email=f"{name}@example.fr")
        pro = await Professional.get(id=account.professional_id)
        if name != "stranger":
            await access.add_to_care_team(me, pro.rpps)
        pros[name] = (account, await sign_in(gql, notifier, f"{name}@example.fr", PASSWORD))
    await messaging.block(Viewer(account_id=patient.id, role="patient", session_id="t",
                                 person_id=pid), pros["blocked"][0].professional_id)
    token = await sign_in(gql, notifier, "patient@example.fr", PASSWORD)
    gp = pros["gp"][0]
    docs = {"lab": await store(rt, pid, type_code=LAB, title="Bilan lipidique", author=gp),
            "prescription": await store(rt, pid, type_code=PRESCRIPTION, title="Ordonnance"),
            "hidden": await store(rt, pid, type_code=CONSULTATION, title="Psychiatrie",
                                  visibility=Visibility.HIDDEN_FROM_PROFESSIONALS)}
    await add_allergy(rt, pid)
    await add_treatment(rt, pid)
    author = profile.Author(0, None)
    await profile.add_entry(rt.settings, person_id=pid, author=author,
                            data=profile.VaccinationInput(vaccine="DTP",
                                                          vaccinated_on=date(2020, 5, 1)))
    at = datetime(2026, 1, 3, 9, 0, tzinfo=UTC)
    for kind, value, when in ((MeasurementKind.HEIGHT, "180", at),
                              (MeasurementKind.WEIGHT, "81", at + timedelta(hours=1))):
        await profile.add_entry(rt.settings, person_id=pid, author=author,
                                data=profile.MeasurementInput(kind=kind, value=Decimal(value),
                                                              measured_at=when))
    await profile.add_entry(rt.settings, person_id=pid, author=author,
                            data=profile.EmergencyContactInput(name="Marie", phone="0600000000"))
    person = await Person.get(id=pid)
    notifier.clear()
    return {"rt": rt, "patient": patient, "person": person, "token": token, "pros": pros,
            "docs": docs, "public_id": str(person.public_id),
            "ins": f"urn:oid:{person.oid}|{person.matricule}"}


async def get(client, url, token, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.get(url, params=params, headers=headers)


def normalised(response) -> tuple[int, str, str]:
    """Status, content type and body, without the Bundle's own id and times; the searched
    value in the self link is replaced (the request differs, the answer must not)."""
    body = response.json()
    for key in ("id", "meta", "timestamp"):
        body.pop(key, None)
    for link in body.get("link", []):
        parts = urlsplit(link["url"])
        query = sorted((k, "X" if k in ("identifier", "patient", "patient.identifier") else v)
                       for k, v in parse_qsl(parts.query))
        link["url"] = f"{parts.path}?{query}"
    return response.status_code, response.headers["content-type"], json.dumps(body,
                                                                              sort_keys=True)


def ids(response) -> list[str]:
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


# --- what a professional with a ground reads -----------------------------------------------


async def test_patient_search_by_ins_finds_a_patient_of_my_care_team(client, world):
    _, token = world["pros"]["gp"]
    response = await get(client, "/fhir/r4/Patient", token, identifier=world["ins"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.headers["cache-control"] == "no-store"
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 1)
    [entry] = bundle["entry"]
    assert entry["fullUrl"] == f"http://testserver/fhir/r4/Patient/{world['public_id']}"
    assert entry["search"] == {"mode": "match"}
    patient = entry["resource"]
    assert patient["id"] == world["public_id"] and patient["birthDate"] == "1985-03-02"
    assert "identifier" not in patient  # a provisional identity never shows the matricule
    assert patient["contact"][0]["name"]["text"] == "Marie"  # doctors read emergency contacts
    await Person.filter(id=world["person"].id).update(identity_status=IdentityStatus.QUALIFIED)
    patient = (await get(client, "/fhir/r4/Patient", token, identifier=world["ins"])).json()[
        "entry"][0]["resource"]
    assert patient["identifier"] == [{"use": "official", "system": NIR_SYSTEM,
                                      "value": world["person"].matricule}]
    # The matricule under another INS system (NIA) is not this patient.
    nia = world["ins"].replace(".4.8|", ".4.9|")
    assert (await get(client, "/fhir/r4/Patient", token, identifier=nia)).json()["total"] == 0


async def test_document_references_through_the_policy(client, world):
    docs = world["docs"]
    _, gp = world["pros"]["gp"]
    for params in ({"patient": world["public_id"]},
                   {"patient": f"Patient/{world['public_id']}"},
                   {"patient.identifier": world["ins"]}):
        response = await get(client, "/fhir/r4/DocumentReference", gp, **params)
        bundle = response.json()
        assert bundle["type"] == "searchset" and bundle["total"] == 2, bundle
        # Newest first; hidden from professionals: not even the GP (not médecin traitant).
        assert ids(response) == [str(docs["prescription"].id), str(docs["lab"].id)]
    lab = next(e for e in bundle["entry"] if e["resource"]["id"] == str(docs["lab"].id))
    assert lab["fullUrl"] == f"http://testserver/fhir/r4/DocumentReference/{docs['lab'].id}"
    resource = lab["resource"]
    assert resource["subject"] == {"reference": f"Patient/{world['public_id']}"}
    assert resource["type"]["coding"] == [{"system": LOINC, "code": LAB}]
    assert resource["description"] == "Bilan lipidique"
    assert resource["author"][0]["identifier"]["system"] == "urn:oid:1.2.250.1.71.4.2.1"
    url = resource["content"][0]["attachment"]["url"]
    assert url == f"http://testserver/documents/{docs['lab'].id}/content"
    download = await client.get(url, headers={"Authorization": f"Bearer {gp}"})
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    # The type filter (token system|code, comma = or; a bare code too).
    typed = await get(client, "/fhir/r4/DocumentReference", gp, patient=world["public_id"],
                      type=f"{LOINC}|{LAB}")
    assert ids(typed) == [str(docs["lab"].id)] and typed.json()["total"] == 1
    both = await get(client, "/fhir/r4/DocumentReference", gp, patient=world["public_id"],
                     type=f"{LOINC}|{LAB},{PRESCRIPTION}")
    assert both.json()["total"] == 2
    # The pharmacist reads prescriptions only (the matrix).
    _, pharmacist = world["pros"]["pharmacist"]
    response = await get(client, "/fhir/r4/DocumentReference", pharmacist,
                         patient=world["public_id"])
    assert ids(response) == [str(docs["prescription"].id)]
    # Read by id.
    one = await get(client, f"/fhir/r4/DocumentReference/{docs['prescription'].id}", pharmacist)
    assert one.status_code == 200 and one.json()["id"] == str(docs["prescription"].id)
    assert one.json()["resourceType"] == "DocumentReference"


async def test_date_and_period_filters(client, world):
    docs = world["docs"]
    _, gp = world["pros"]["gp"]
    await Document.filter(id=docs["lab"].id).update(
        created_at=datetime(2025, 6, 10, 8, 0, tzinfo=UTC), clinical_date=date(2025, 6, 1))

    async def found(**params):
        response = await get(client, "/fhir/r4/DocumentReference", gp,
                             patient=world["public_id"], **params)
        assert response.status_code == 200, response.text
        return ids(response)

    lab, prescription = str(docs["lab"].id), str(docs["prescription"].id)
    assert await found(date="lt2026-01-01") == [lab]
    assert await found(date="ge2026") == [prescription]
    assert await found(date="2025-06") == [lab]
    assert await found(date="2025-06-10") == [lab]
    assert await found(period="le2025-06-30") == [lab]
    assert await found(period="gt2025-06") == [prescription]
    response = await client.get(
        f"/fhir/r4/DocumentReference?patient={world['public_id']}&date=ge2025-01-01"
        "&date=lt2025-07-01", headers={"Authorization": f"Bearer {gp}"})
    assert ids(response) == [lab]


async def test_paging_with_count_and_a_next_link(client, world):
    rt = world["rt"]
    _, gp = world["pros"]["gp"]
    for _ in range(5):
        await store(rt, world["patient"].person_id, type_code=LAB)
    seen: list[str] = []
    response = await get(client, "/fhir/r4/DocumentReference", gp, patient=world["public_id"],
                         _count="3")
    pages = 0
    while True:
        bundle = response.json()
        assert bundle["total"] == 7
        seen += ids(response)
        pages += 1
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        if "next" not in links:
            break
        assert links["next"].startswith("http://testserver/fhir/r4/DocumentReference?")
        response = await client.get(links["next"], headers={"Authorization": f"Bearer {gp}"})
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    rows = await Document.filter(id__in=seen).order_by("-created_at", "-id")
    assert [str(r.id) for r in rows] == seen
    # _count=0: the total only.
    empty = await get(client, "/fhir/r4/DocumentReference", gp, patient=world["public_id"],
                      _count="0")
    assert empty.json()["total"] == 7 and "entry" not in empty.json()
    # A forged cursor is refused.
    bad = await get(client, "/fhir/r4/DocumentReference", gp, patient=world["public_id"],
                    _cursor="nope")
    assert bad.status_code == 400


async def test_document_search_runs_a_constant_number_of_statements(client, world):
    rt = world["rt"]
    gp, token = world["pros"]["gp"]
    authors = [gp] + [await make_professional("Médecin", "Cardiologie") for _ in range(3)]
    for i in range(30):
        await store(rt, world["patient"].person_id, type_code=LAB, author=authors[i % 4])
    counts = {}
    for count in ("2", "25"):
        with count_queries() as counter:
            response = await get(client, "/fhir/r4/DocumentReference", token,
                                 patient=world["public_id"], _count=count)
        assert len(ids(response)) == int(count)
        counts[count] = counter.count
    assert counts["2"] == counts["25"], counts
    # 13 today: decision (6), professional, person, count, page, data key, authors, log.
    assert counts["2"] <= 16, counts


async def test_profile_searches_read_the_allowed_sections(client, world):
    _, gp = world["pros"]["gp"]
    by_type = {}
    for resource_type in PROFILE_TYPES:
        response = await get(client, f"/fhir/r4/{resource_type}", gp,
                             patient=world["public_id"])
        assert response.status_code == 200
        bundle = response.json()
        assert bundle["type"] == "searchset"
        assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {resource_type}
        assert all(e["fullUrl"] == f"http://testserver/fhir/r4/{resource_type}/"
                   f"{e['resource']['id']}" for e in bundle["entry"])
        by_type[resource_type] = bundle
    assert by_type["AllergyIntolerance"]["entry"][0]["resource"]["code"]["text"] == "Pénicilline"
    assert by_type["AllergyIntolerance"]["entry"][0]["resource"]["patient"] == {
        "reference": f"Patient/{world['public_id']}"}
    assert by_type["Immunization"]["total"] == 1
    assert by_type["MedicationStatement"]["total"] == 1
    codes = [e["resource"]["code"]["coding"][0]["code"]
             for e in by_type["Observation"]["entry"]]
    assert codes == ["29463-7", "39156-5", "8302-2"]  # newest first, the BMI after its weight
    weight = await get(client, "/fhir/r4/Observation", gp, patient=world["public_id"],
                       code=f"{LOINC}|29463-7")
    assert weight.json()["total"] == 1 and ids(weight)[0] == by_type["Observation"]["entry"][
        0]["resource"]["id"]
    paged = await get(client, "/fhir/r4/Observation", gp, patient=world["public_id"], _count="2")
    links = {link["relation"]: link["url"] for link in paged.json()["link"]}
    assert len(ids(paged)) == 2 and paged.json()["total"] == 3
    rest = await client.get(links["next"], headers={"Authorization": f"Bearer {gp}"})
    assert ids(rest) == [by_type["Observation"]["entry"][2]["resource"]["id"]]
    # The pharmacist's matrix has no measurements: an empty searchset, like no data.
    _, pharmacist = world["pros"]["pharmacist"]
    none = await get(client, "/fhir/r4/Observation", pharmacist, patient=world["public_id"])
    unknown = await get(client, "/fhir/r4/Observation", pharmacist, patient=str(uuid.uuid4()))
    assert none.json()["total"] == 0 and normalised(none) == normalised(unknown)
    allergies = await get(client, "/fhir/r4/AllergyIntolerance", pharmacist,
                          patient=world["public_id"])
    assert allergies.json()["total"] == 1


# --- not allowed answers like missing ------------------------------------------------------


def _requests(world, patient_id: str, ins: str, document_id: str):
    yield "/fhir/r4/Patient", {"identifier": ins}
    yield "/fhir/r4/DocumentReference", {"patient": patient_id}
    yield "/fhir/r4/DocumentReference", {"patient.identifier": ins, "type": f"{LOINC}|{LAB}"}
    yield f"/fhir/r4/DocumentReference/{document_id}", {}
    for resource_type in PROFILE_TYPES:
        yield f"/fhir/r4/{resource_type}", {"patient": patient_id}
        yield f"/fhir/r4/{resource_type}", {"patient.identifier": ins}


async def test_not_allowed_answers_exactly_like_missing(client, world):
    real = list(_requests(world, world["public_id"], world["ins"],
                          str(world["docs"]["prescription"].id)))
    missing = list(_requests(world, str(uuid.uuid4()), f"{NIR_SYSTEM}|{make_nir()}",
                             str(uuid.uuid4())))
    malformed = list(_requests(world, "not-a-uuid", f"{NIR_SYSTEM}|123",
                               "not-a-uuid"))
    for name in ("stranger", "osteo", "blocked"):
        _, token = world["pros"][name]
        for (url, params), (m_url, m_params), (x_url, x_params) in zip(
                real, missing, malformed, strict=True):
            answer = normalised(await get(client, url, token, **params))
            expected = normalised(await get(client, m_url, token, **m_params))
            assert answer == expected, (name, url, params, answer, expected)
            assert normalised(await get(client, x_url, token, **x_params)) == expected
            assert answer[0] in (200, 404)
            if answer[0] == 200:
                assert json.loads(answer[2])["total"] == 0
    # The pharmacist (in the care team) reads no lab report: like a missing document.
    _, pharmacist = world["pros"]["pharmacist"]
    lab = await get(client, f"/fhir/r4/DocumentReference/{world['docs']['lab'].id}", pharmacist)
    hidden = await get(client, f"/fhir/r4/DocumentReference/{world['docs']['hidden'].id}",
                       pharmacist)
    absent = await get(client, f"/fhir/r4/DocumentReference/{uuid.uuid4()}", pharmacist)
    assert normalised(lab) == normalised(hidden) == normalised(absent)
    assert absent.status_code == 404
    assert absent.json()["issue"][0]["code"] == "not-found"
    # Nothing was read, so nothing was logged.
    assert await AccessLogEntry.all().count() == 0


# --- the access log ------------------------------------------------------------------------


async def test_every_read_is_in_the_patients_access_log(client, gql, world):
    gp, token = world["pros"]["gp"]
    docs = world["docs"]
    pid = world["patient"].person_id

    async def new_entries(url, **params):
        before = await AccessLogEntry.filter(patient_id=pid).count()
        response = await get(client, url, token, **params)
        assert response.status_code == 200, response.text
        rows = await AccessLogEntry.filter(patient_id=pid, seq__gt=before).order_by("seq")
        assert all((r.account_id, r.professional_id, r.profession, str(r.ground))
                   == (gp.id, gp.professional_id, "Médecin", "care_team") for r in rows)
        return [(str(r.kind), r.section, str(r.document_id) if r.document_id else None)
                for r in rows]

    assert await new_entries("/fhir/r4/Patient", identifier=world["ins"]) == [
        ("search", None, None), ("profile", "emergency_contacts", None)]
    assert await new_entries("/fhir/r4/DocumentReference", patient=world["public_id"]) == [
        ("document_list", None, None), ("document", None, str(docs["prescription"].id)),
        ("document", None, str(docs["lab"].id))]
    assert await new_entries("/fhir/r4/DocumentReference", patient=world["public_id"],
                             type=f"{LOINC}|{CONSULTATION}") == [("document_list", None, None)]
    assert await new_entries(f"/fhir/r4/DocumentReference/{docs['lab'].id}") == [
        ("document", None, str(docs["lab"].id))]
    for resource_type, section in zip(PROFILE_TYPES, ("allergies", "vaccinations", "treatments",
                                                      "measurements"), strict=True):
        assert await new_entries(f"/fhir/r4/{resource_type}", patient=world["public_id"]) == [
            ("profile", section, None)]
    # The patient sees them in their own access log.
    body = await gql("""{ accessLog(first: 50) { totalCount edges { node { kind ground
        reader { profession } } } } }""", token=world["token"])
    log = body["data"]["accessLog"]
    assert log["totalCount"] == 11
    assert {e["node"]["ground"] for e in log["edges"]} == {"CARE_TEAM"}
    assert {e["node"]["kind"] for e in log["edges"]} == {
        "SEARCH", "PROFILE", "DOCUMENT_LIST", "DOCUMENT"}


# --- refusals ------------------------------------------------------------------------------


async def test_patients_and_anonymous_callers_are_refused(client, world):
    for url, params in _requests(world, world["public_id"], world["ins"],
                                 str(world["docs"]["lab"].id)):
        anonymous = await get(client, url, None, **params)
        assert anonymous.status_code == 401, url
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["issue"][0]["code"] == "login"
        patient = await get(client, url, world["token"], **params)
        assert patient.status_code == 403, url
        assert patient.json()["resourceType"] == "OperationOutcome"
        assert patient.json()["issue"][0]["code"] == "forbidden"
        unknown_token = await get(client, url, "not-a-token", **params)
        assert unknown_token.status_code == 401
    assert await AccessLogEntry.all().count() == 0


@pytest.mark.parametrize(("url", "params", "expression"), [
    ("/fhir/r4/Patient", {"identifier": "x", "name": "Dupont"}, "name"),
    ("/fhir/r4/Patient", {}, "identifier"),
    ("/fhir/r4/Patient", {"identifier": "123456789012345"}, "identifier"),
    ("/fhir/r4/Patient", {"identifier": "http://example.org/ipp|42"}, "identifier"),
    ("/fhir/r4/Patient", {"identifier:exact": "urn:oid:1.2.250.1.213.1.4.8|1"}, "identifier:exact"),
    ("/fhir/r4/DocumentReference", {"type": f"{LOINC}|{LAB}"}, "patient"),
    ("/fhir/r4/DocumentReference", {"patient": "x", "patient.identifier": "y"}, "patient"),
    ("/fhir/r4/DocumentReference", {"patient": "x", "type": "http://snomed.info/sct|1"},
     "type"),
    ("/fhir/r4/DocumentReference", {"patient": "x", "_count": "ten"}, "_count"),
    ("/fhir/r4/DocumentReference", {"patient": "x", "date": "yesterday"}, "date"),
    ("/fhir/r4/DocumentReference", {"patient": "x", "period": "ge2026-02-30"}, "period"),
    ("/fhir/r4/DocumentReference", {"patient": "x", "_sort": "date"}, "_sort"),
    ("/fhir/r4/DocumentReference", {"patient": "x", "_format": "xml"}, "_format"),
    ("/fhir/r4/Observation", {"patient": "x", "code": "urn:other|1"}, "code"),
    ("/fhir/r4/AllergyIntolerance", {"patient": "x", "code": f"{LOINC}|1"}, "code"),
    ("/fhir/r4/DocumentReference/00000000-0000-0000-0000-000000000000", {"_elements": "id"},
     "_elements"),
])
async def test_unsupported_or_malformed_parameters_are_refused(client, world, url, params,
                                                               expression):
    _, token = world["pros"]["gp"]
    response = await get(client, url, token, **params)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    assert outcome["issue"][0]["diagnostics"]
