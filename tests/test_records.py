"""The medical record: uploads, professional deposits (GraphQL and FHIR), reading, patient
actions, encryption at rest, and no N+1."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend.identity.models import Account, Person
from backend.records.models import Document
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in
from tests.querycount import count_queries

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CDA = (b'<?xml version="1.0"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">'
       b"<title>CR</title></ClinicalDocument>")

UPLOAD = """mutation Up($file: Upload!, $input: UploadDocumentInput!) {
  uploadDocument(file: $file, input: $input) {
    __typename
    ... on Document { id title type typeLabel contentType size sha256 isNew downloadUrl }
    ... on DuplicateDocument { existingDocumentId }
    ... on InvalidDocumentInput { field }
    ... on Error { message }
  }
}"""

LIST = """query List($first: Int!, $after: String, $filter: DocumentFilter) {
  documents(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id title type clinicalDate isNew visibility
      author { isPatient professional { rpps profession practiceName } } } }
  }
}"""

DEPOSIT = """mutation Dep($file: Upload!, $input: DepositDocumentInput!) {
  depositDocument(file: $file, input: $input) {
    __typename ... on DocumentDeposited { id size sha256 contentType } ... on Error { message }
  }
}"""


async def upload(client, token, content: bytes, *, title="Ordonnance",
                 type_="PRESCRIPTION_HEALTH_PRODUCTS", clinical_date="2026-10-01",
                 filename="../../etc/passwd.pdf", operation=UPLOAD,
                 input_extra: dict | None = None, preflight=True):
    variables = {"file": None, "input": {"title": title, "type": type_,
                                         "clinicalDate": clinical_date, **(input_extra or {})}}
    headers = {"Authorization": f"Bearer {token}"}
    if preflight:
        headers["GraphQL-Preflight"] = "1"
    return await client.post(
        "/graphql",
        data={"operations": json.dumps({"query": operation, "variables": variables}),
              "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, content, "application/octet-stream")},
        headers=headers,
    )


@pytest.fixture
async def patient(gql, notifier, clean):
    account = await create_patient(email="patient@example.fr")
    token = await sign_in(gql, notifier, "patient@example.fr", PASSWORD)
    return account, token


@pytest.fixture
async def doctor(gql, notifier, clean):
    account = await create_professional(email="doctor@example.fr")
    token = await sign_in(gql, notifier, "doctor@example.fr", PASSWORD)
    return account, token


async def test_upload_list_download_byte_identical(client, gql, patient):
    account, token = patient
    response = await upload(client, token, PDF, title="Ordonnance de Dr Né")
    doc = response.json()["data"]["uploadDocument"]
    assert doc["__typename"] == "Document", response.text
    assert doc["contentType"] == "application/pdf"  # sniffed, not the client's claim
    assert doc["size"] == len(PDF) and doc["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert doc["typeLabel"] == "Prescription de produits de santé"

    listed = (await gql(LIST, {"first": 10}, token=token))["data"]["documents"]
    assert listed["totalCount"] == 1
    node = listed["edges"][0]["node"]
    assert node["title"] == "Ordonnance de Dr Né" and node["author"]["isPatient"]

    download = await client.get(doc["downloadUrl"], headers={"Authorization": f"Bearer {token}"})
    assert download.status_code == 200
    assert download.content == PDF
    headers = download.headers
    assert headers["content-type"].startswith("application/pdf")
    assert headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Ordonnance%20de%20Dr%20N%C3%A9.pdf" in headers["content-disposition"]
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    stored = await Document.get(id=uuid.UUID(doc["id"]))
    assert "passwd" not in stored.blob_name and ".." not in stored.blob_name


async def test_multipart_without_preflight_header_is_refused(client, patient):
    _, token = patient
    response = await upload(client, token, PDF, preflight=False)
    assert response.status_code == 400
    assert "Preflight" in response.text
    assert await Document.all().count() == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [(PNG, "image/png"), (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "image/jpeg"),
     ("Résultats : normal\n".encode(), "text/plain; charset=utf-8"),
     (CDA, "application/hl7-cda+xml")],
)
async def test_accepted_types_are_sniffed(client, patient, content, expected):
    _, token = patient
    doc = (await upload(client, token, content)).json()["data"]["uploadDocument"]
    assert doc["contentType"] == expected


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04zipzipzip", b"MZ\x90\x00executable", b"<html><script>x</script></html>",
     b"GIF89a....", b"", b"\x00\x01\x02binary"],
)
async def test_other_content_is_refused(client, patient, content):
    _, token = patient
    doc = (await upload(client, token, content)).json()["data"]["uploadDocument"]
    assert doc["__typename"] == "UnsupportedContent"
    assert await Document.all().count() == 0


async def test_same_content_twice_is_reported_not_stored(client, patient):
    _, token = patient
    first = (await upload(client, token, PDF)).json()["data"]["uploadDocument"]
    second = (await upload(client, token, PDF, title="Encore")).json()["data"]["uploadDocument"]
    assert second["__typename"] == "DuplicateDocument"
    assert second["existingDocumentId"] == first["id"]
    assert await Document.all().count() == 1


async def test_invalid_input_is_typed(client, patient):
    _, token = patient
    blank = (await upload(client, token, PDF, title="  ")).json()["data"]["uploadDocument"]
    assert blank == {"__typename": "InvalidDocumentInput", "field": "title",
                     "message": "Le titre est obligatoire."}
    future = (await upload(client, token, PDF, clinical_date="2999-01-01")).json()
    assert future["data"]["uploadDocument"]["field"] == "clinicalDate"


async def test_oversized_body_is_refused_with_413(client, patient):
    _, token = patient
    big = b"%PDF-" + b"0" * (21 * 1024 * 1024)
    response = await upload(client, token, big)
    assert response.status_code == 413
    assert await Document.all().count() == 0


async def test_size_limit_is_enforced_while_streaming(app, patient):
    from backend.records import services
    from backend.runtime import Runtime

    account, _ = patient
    base = app.state.runtime
    small = Runtime(base.settings.model_copy(update={"max_upload_bytes": 4096}), base.kv,
                    base.broker, base.notifier, base.blobs)

    async def endless():
        yield b"%PDF-"
        for _ in range(100):
            yield b"x" * 1024

    with pytest.raises(services.FileTooLarge):
        await services.store_document(
            small, person_id=account.person_id,
            author=services.Author(account.id, None),
            source=services.DocumentSource.PATIENT_UPLOAD,
            data=services.DocumentInput("T", "11502-2", datetime.now(UTC).date()),
            chunks=endless())
    assert await Document.all().count() == 0


async def test_someone_elses_document_looks_missing_everywhere(client, gql, notifier, patient):
    _, token = patient
    doc = (await upload(client, token, PDF)).json()["data"]["uploadDocument"]
    await create_patient(email="intruder@example.fr")
    intruder = await sign_in(gql, notifier, "intruder@example.fr", PASSWORD)

    one = await gql("query D($id: ID!) { document(id: $id) { id } }", {"id": doc["id"]},
                    token=intruder)
    missing = await gql("query D($id: ID!) { document(id: $id) { id } }",
                        {"id": str(uuid.uuid4())}, token=intruder)
    assert one == missing == {"data": {"document": None}}
    listed = await gql(LIST, {"first": 50}, token=intruder)
    assert listed["data"]["documents"]["totalCount"] == 0
    theirs = await client.get(doc["downloadUrl"], headers={"Authorization": f"Bearer {intruder}"})
    nothing = await client.get(f"/documents/{uuid.uuid4()}/content",
                               headers={"Authorization": f"Bearer {intruder}"})
    garbage = await client.get("/documents/not-a-uuid/content",
                               headers={"Authorization": f"Bearer {intruder}"})
    assert theirs.status_code == nothing.status_code == garbage.status_code == 404
    assert theirs.content == nothing.content == garbage.content
    rename = await gql('mutation R($id: ID!) { renameDocument(id: $id, title: "x") '
                       "{ __typename } }", {"id": doc["id"]}, token=intruder)
    assert rename["data"]["renameDocument"]["__typename"] == "DocumentNotFound"
    anonymous = await client.get(doc["downloadUrl"])
    assert anonymous.status_code == 401


async def test_patient_actions(client, gql, patient):
    _, token = patient
    doc = (await upload(client, token, PDF)).json()["data"]["uploadDocument"]
    renamed = await gql('mutation R($id: ID!, $t: String!) { renameDocument(id: $id, title: $t)'
                        " { ... on Document { title } } }",
                        {"id": doc["id"], "t": "Ordonnance renouvelée"}, token=token)
    assert renamed["data"]["renameDocument"]["title"] == "Ordonnance renouvelée"
    updated = await gql("mutation U($id: ID!) { updateDocument(id: $id, input: {type: LAB_REPORT,"
                        ' clinicalDate: "2026-09-30"}) { ... on Document { type clinicalDate } } }',
                        {"id": doc["id"]}, token=token)
    assert updated["data"]["updateDocument"] == {"type": "LAB_REPORT",
                                                 "clinicalDate": "2026-09-30"}
    hidden = await gql("mutation H($id: ID!) { setDocumentHidden(id: $id, hidden: true)"
                       " { ... on Document { visibility } } }", {"id": doc["id"]}, token=token)
    assert hidden["data"]["setDocumentHidden"]["visibility"] == "HIDDEN_FROM_PROFESSIONALS"
    shown = await gql("mutation H($id: ID!) { setDocumentHidden(id: $id, hidden: false)"
                      " { ... on Document { visibility } } }", {"id": doc["id"]}, token=token)
    assert shown["data"]["setDocumentHidden"]["visibility"] == "NORMAL"
    deleted = await gql("mutation D($id: ID!) { deleteDocument(id: $id) { __typename } }",
                        {"id": doc["id"]}, token=token)
    assert deleted["data"]["deleteDocument"]["__typename"] == "DocumentDeleted"
    assert (await gql(LIST, {"first": 5}, token=token))["data"]["documents"]["totalCount"] == 0
    gone = await client.get(doc["downloadUrl"], headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 404
    again = await gql("mutation D($id: ID!) { deleteDocument(id: $id) { __typename } }",
                      {"id": doc["id"]}, token=token)
    assert again["data"]["deleteDocument"]["__typename"] == "DocumentNotFound"


async def test_purge_removes_soft_deleted_documents_after_retention(app, client, gql, patient):
    from backend.records import services

    _, token = patient
    doc = (await upload(client, token, PDF)).json()["data"]["uploadDocument"]
    await gql("mutation D($id: ID!) { deleteDocument(id: $id) { __typename } }",
              {"id": doc["id"]}, token=token)
    row = await Document.get(id=uuid.UUID(doc["id"]))
    runtime = app.state.runtime
    assert await services.purge_deleted(runtime) == 0  # still within retention
    later = datetime.now(UTC) + timedelta(days=runtime.settings.document_retention_days + 1)
    assert await services.purge_deleted(runtime, now=later) == 1
    assert not await runtime.blobs.exists(row.blob_name)
    assert await Document.all().count() == 0


async def test_nothing_readable_at_rest(app, client, patient):
    from tortoise import connections

    _, token = patient
    secret_title = "Compte rendu oncologie Dupont"
    secret_body = b"%PDF-1.4 tumeur maligne stade II " + b"x" * 2000
    await upload(client, token, secret_body, title=secret_title)
    _, rows = await connections.get("default").execute_query("SELECT * FROM document")
    dump = repr(rows).encode()
    assert b"oncologie" not in dump and b"tumeur" not in dump
    settings = app.state.runtime.settings
    if settings.blob_store == "local":
        for path in Path(settings.blob_dir).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"tumeur" not in data and b"oncologie" not in data


def _deposit_input(person: Person, **overrides) -> dict:
    values = {"insMatricule": person.matricule, "birthName": person.birth_name,
              "birthDate": person.birth_date.isoformat(), "title": "Compte rendu de biologie",
              "type": "LAB_REPORT", "clinicalDate": "2026-11-20"}
    values.update(overrides)
    return values


async def _deposit(client, token, content, input_):
    variables = {"file": None, "input": input_}
    return await client.post(
        "/graphql",
        data={"operations": json.dumps({"query": DEPOSIT, "variables": variables}),
              "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("cr.pdf", content, "application/pdf")},
        headers={"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"},
    )


async def test_professional_deposit_needs_all_traits_to_match(client, gql, notifier, patient,
                                                             doctor):
    account, patient_token = patient
    _, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    for wrong in ({"birthName": "AUTRE"}, {"birthDate": "1990-01-01"},
                  {"insMatricule": "255081416802538"}, {"insMatricule": "garbage"}):
        body = (await _deposit(client, doctor_token, PDF, _deposit_input(person, **wrong))).json()
        assert body["data"]["depositDocument"]["__typename"] == "PatientNotFound"
    assert await Document.all().count() == 0
    notifier.clear()
    ok = (await _deposit(client, doctor_token, PDF,
                         _deposit_input(person, birthName=person.birth_name.lower()))).json()
    assert ok["data"]["depositDocument"]["__typename"] == "DocumentDeposited"
    message = await notifier.wait_for(to="patient@example.fr")  # sent in the background
    assert "nouveau document" in message.text and "biologie" not in message.text.lower()
    listed = (await gql(LIST, {"first": 5}, token=patient_token))["data"]["documents"]
    node = listed["edges"][0]["node"]
    assert node["isNew"] and node["author"]["professional"]["profession"] == "Médecin"


async def test_professionals_cannot_read_records_yet(gql, doctor):
    _, token = doctor
    body = await gql(LIST, {"first": 5}, token=token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_patients_cannot_deposit(client, patient):
    account, token = patient
    person = await Person.get(id=account.person_id)
    body = (await _deposit(client, token, PDF, _deposit_input(person))).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_not_yet_visible_documents_wait_for_their_release(client, gql, notifier, patient,
                                                                doctor):
    account, patient_token = patient
    _, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    notifier.clear()
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    body = (await _deposit(client, doctor_token, PDF,
                           _deposit_input(person, visibleToPatientFrom=later))).json()
    doc_id = body["data"]["depositDocument"]["id"]
    assert (await gql(LIST, {"first": 5}, token=patient_token))["data"]["documents"][
        "totalCount"] == 0
    one = await gql("query D($id: ID!) { document(id: $id) { id } }", {"id": doc_id},
                    token=patient_token)
    assert one["data"]["document"] is None
    assert notifier.find(to="patient@example.fr") == []
    await Document.filter(id=uuid.UUID(doc_id)).update(
        release_at=datetime.now(UTC) - timedelta(minutes=1))
    assert (await gql(LIST, {"first": 5}, token=patient_token))["data"]["documents"][
        "totalCount"] == 1


async def test_filters_and_pagination(client, gql, patient):
    _, token = patient
    for i in range(5):
        await upload(client, token, PDF + str(i).encode(), title=f"Bilan sanguin {i}",
                     type_="LAB_REPORT" if i % 2 == 0 else "IMAGING_REPORT",
                     clinical_date=f"2026-0{i + 1}-15")
    seen, after = [], None
    while True:
        page = (await gql(LIST, {"first": 2, "after": after}, token=token))["data"]["documents"]
        seen += [e["node"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"Bilan sanguin {i}" for i in range(4, -1, -1)]  # newest first
    labs = await gql(LIST, {"first": 10, "filter": {"types": ["LAB_REPORT"]}}, token=token)
    assert labs["data"]["documents"]["totalCount"] == 3
    dated = await gql(LIST, {"first": 10, "filter": {"from": "2026-02-01", "to": "2026-03-31"}},
                      token=token)
    assert dated["data"]["documents"]["totalCount"] == 2
    text = await gql(LIST, {"first": 10, "filter": {"text": "SANGUIN 3"}}, token=token)
    assert [e["node"]["title"] for e in text["data"]["documents"]["edges"]] == ["Bilan sanguin 3"]
    mine = await gql(LIST, {"first": 10, "filter": {"authoredByMe": False}}, token=token)
    assert mine["data"]["documents"]["totalCount"] == 0


@pytest.mark.parametrize("page_size", [1, 50])
async def test_documents_screen_runs_a_constant_number_of_queries(
    app, client, gql, notifier, patient, doctor, page_size
):
    account, patient_token = patient
    doctors = [doctor]
    for n in range(2):
        pro = await create_professional(email=f"doc{n}@example.fr")
        doctors.append((pro, await sign_in(gql, notifier, f"doc{n}@example.fr", PASSWORD)))
    person = await Person.get(id=account.person_id)
    for i in range(60):
        _, token = doctors[i % 3]
        await _deposit(client, token, PDF + f"{i}".encode(), _deposit_input(person))
    with count_queries() as counter:
        body = await gql(LIST, {"first": page_size}, token=patient_token)
    assert body.get("data"), body
    assert len(body["data"]["documents"]["edges"]) == page_size
    # documents page + count + data key(s) + professionals (one batch), whatever the size.
    assert counter.count <= 4, counter.statements


FHIR_DOC = {
    "resourceType": "DocumentReference",
    "status": "current",
    "contained": [
        {"resourceType": "Patient", "id": "p1",
         "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "MATRICULE"}],
         "name": [{"use": "official", "family": "DUPONT", "given": ["Jean"]}],
         "birthDate": "1985-03-02"},
        {"resourceType": "Practitioner", "id": "a1",
         "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "8RPPS"}]},
    ],
    "subject": {"reference": "#p1"},
    "author": [{"reference": "#a1"}],
    "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
    "description": "Bilan biologique",
    "content": [{"attachment": {"contentType": "application/pdf",
                                "data": base64.b64encode(PDF).decode()}}],
}


def _fhir_doc(person: Person, rpps: str, **changes) -> dict:
    doc = json.loads(json.dumps(FHIR_DOC).replace("MATRICULE", person.matricule)
                     .replace("8RPPS", "8" + rpps))
    doc.update(changes)
    return doc


async def test_fhir_document_reference_intake(client, gql, patient, doctor):
    account, patient_token = patient
    doctor_account, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    rpps = (await Account.get(id=doctor_account.id).prefetch_related("professional")
            ).professional.rpps
    headers = {"Authorization": f"Bearer {doctor_token}",
               "Content-Type": "application/fhir+json"}
    created = await client.post("/fhir/r4/DocumentReference", json=_fhir_doc(person, rpps),
                                headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["location"].startswith("/fhir/r4/DocumentReference/")
    doc_id = created.json()["id"]
    assert created.headers["location"].endswith(doc_id)

    binary_doc = _fhir_doc(person, rpps)
    binary_doc["contained"].append({"resourceType": "Binary", "id": "b1",
                                    "contentType": "text/plain",
                                    "data": base64.b64encode(b"Texte du CR").decode()})
    binary_doc["content"] = [{"attachment": {"contentType": "text/plain", "url": "#b1"}}]
    assert (await client.post("/fhir/r4/DocumentReference", json=binary_doc,
                              headers=headers)).status_code == 201
    listed = (await gql(LIST, {"first": 5}, token=patient_token))["data"]["documents"]
    assert {e["node"]["title"] for e in listed["edges"]} == {"Bilan biologique"}
    assert listed["totalCount"] == 2

    invalid = await client.post("/fhir/r4/DocumentReference",
                                json={**_fhir_doc(person, rpps), "status": "bogus"},
                                headers=headers)
    assert invalid.status_code == 400
    assert invalid.json()["resourceType"] == "OperationOutcome"
    assert invalid.json()["issue"][0]["expression"] == ["DocumentReference.status"]
    malformed = await client.post("/fhir/r4/DocumentReference",
                                  json={**_fhir_doc(person, rpps), "date": "yesterday",
                                        "content": "not a list"}, headers=headers)
    assert malformed.status_code == 400
    assert len(malformed.json()["issue"]) >= 1
    no_ins = _fhir_doc(person, rpps)
    no_ins["contained"][0]["identifier"] = []
    assert (await client.post("/fhir/r4/DocumentReference", json=no_ins,
                              headers=headers)).status_code == 400

    stranger = json.loads(json.dumps(_fhir_doc(person, rpps)).replace('"DUPONT"', '"AUTRE"'))
    mismatch = await client.post("/fhir/r4/DocumentReference", json=stranger, headers=headers)
    assert mismatch.status_code == 422
    assert mismatch.json()["issue"][0]["code"] == "not-found"

    other_author = await client.post("/fhir/r4/DocumentReference",
                                     json=_fhir_doc(person, "10002727377"), headers=headers)
    assert other_author.status_code == 403

    as_patient = await client.post("/fhir/r4/DocumentReference", json=_fhir_doc(person, rpps),
                                   headers={**headers,
                                            "Authorization": f"Bearer {patient_token}"})
    assert as_patient.status_code == 403
    assert await Document.all().count() == 2


async def test_uploaded_files_are_closed_when_the_request_ends(client, patient, monkeypatch):
    from starlette.datastructures import UploadFile

    closed: list[str] = []
    original = UploadFile.close

    async def tracking_close(self):
        closed.append(self.filename)
        await original(self)

    monkeypatch.setattr(UploadFile, "close", tracking_close)
    _, token = patient
    await upload(client, token, PDF, filename="one.pdf")
    await upload(client, token, b"PK\x03\x04zip", filename="refused.zip")  # typed error path
    assert closed == ["one.pdf", "refused.zip"]


async def test_a_delayed_document_is_announced_once_at_its_release(app, client, gql, notifier,
                                                                   patient, doctor):
    from backend.records import services

    account, _ = patient
    _, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = (await _deposit(client, doctor_token, PDF,
                           _deposit_input(person, visibleToPatientFrom=later))).json()
    doc_id = uuid.UUID(body["data"]["depositDocument"]["id"])
    notifier.clear()
    runtime = app.state.runtime
    assert await services.notify_released_documents(runtime) == 0  # not yet
    await Document.filter(id=doc_id).update(release_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await services.notify_released_documents(runtime) == 1
    assert "nouveau document" in notifier.last(to="patient@example.fr").text
    assert await services.notify_released_documents(runtime) == 0  # once
    assert len(notifier.find(to="patient@example.fr")) == 1


async def test_titles_lose_control_and_bidi_characters(client, gql, patient, doctor):
    """Issue 9 item 12: NUL, bidirectional controls and other Cc/Cf characters are stripped
    from titles (uploads, renames, deposits, FHIR intake), and a title left empty is refused."""
    account, token = patient
    doctor_account, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    uploaded = (await upload(client, token, PDF,
                             title="Ordonnance\u202egnp.exe\x00\u200e\ufeff")).json()
    doc = uploaded["data"]["uploadDocument"]
    assert doc["title"] == "Ordonnancegnp.exe", doc
    renamed = await gql('mutation R($id: ID!, $t: String!) { renameDocument(id: $id, title: $t) '
                        '{ __typename ... on Document { title } ... on InvalidDocumentInput '
                        '{ field } } }', {"id": doc["id"], "t": "\u2067Nouveau\u2069\t titre\x1b"},
                        token=token)
    assert renamed["data"]["renameDocument"] == {"__typename": "Document",
                                                 "title": "Nouveau titre"}
    empty = await gql('mutation R($id: ID!, $t: String!) { renameDocument(id: $id, title: $t) '
                      '{ __typename ... on InvalidDocumentInput { field } } }',
                      {"id": doc["id"], "t": "\u202a\x00\u202c"}, token=token)
    assert empty["data"]["renameDocument"] == {"__typename": "InvalidDocumentInput",
                                               "field": "title"}
    deposited = (await _deposit(client, doctor_token, PDF + b"1", _deposit_input(
        person, title="CR\u2066 biologie\u2069\x00"))).json()
    assert deposited["data"]["depositDocument"]["__typename"] == "DocumentDeposited"
    rpps = (await Account.get(id=doctor_account.id).prefetch_related("professional")
            ).professional.rpps
    fhir = _fhir_doc(person, rpps, description="Bilan\u202e\x00 bio")
    fhir["content"][0]["attachment"]["data"] = base64.b64encode(PDF + b"2").decode()
    created = await client.post("/fhir/r4/DocumentReference", json=fhir,
                                headers={"Authorization": f"Bearer {doctor_token}",
                                         "Content-Type": "application/fhir+json"})
    assert created.status_code == 201, created.text
    listed = (await gql(LIST, {"first": 10}, token=token))["data"]["documents"]
    assert {e["node"]["title"] for e in listed["edges"]} == {
        "Nouveau titre", "CR biologie", "Bilan bio"}
    download = await client.get(doc["downloadUrl"], headers={"Authorization": f"Bearer {token}"})
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Nouveau titre.pdf\"; filename*=UTF-8''Nouveau%20titre.pdf")


def test_file_names_never_carry_controls_even_for_old_titles():
    from backend.records.http import content_disposition

    header = content_disposition("CR\u202efdp.exe\x00\r\nX-Evil: 1", "application/pdf")
    assert header == ("attachment; filename=\"CRfdp.exe X-Evil: 1.pdf\"; "
                      "filename*=UTF-8''CRfdp.exe%20X-Evil%3A%201.pdf")
    assert content_disposition("\u202e", "application/pdf").startswith(
        'attachment; filename="document.pdf"')


async def test_fhir_author_as_a_logical_reference(client, gql, patient, doctor):
    """Issue 9 item 15: `author` may identify the professional by RPPS instead of pointing at
    a contained Practitioner; the same check that it is the signed-in professional applies."""
    account, patient_token = patient
    doctor_account, doctor_token = doctor
    person = await Person.get(id=account.person_id)
    rpps = (await Account.get(id=doctor_account.id).prefetch_related("professional")
            ).professional.rpps
    headers = {"Authorization": f"Bearer {doctor_token}",
               "Content-Type": "application/fhir+json"}

    def logical(value: str, **extra) -> dict:
        doc = _fhir_doc(person, rpps)
        doc["contained"] = [doc["contained"][0]]  # the Patient only
        doc["author"] = [{"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1",
                                         "value": value}, **extra}]
        return doc

    created = await client.post("/fhir/r4/DocumentReference", json=logical("8" + rpps),
                                headers=headers)
    assert created.status_code == 201, created.text
    again = logical(rpps, type="Practitioner", display="Dr Durand")  # bare RPPS, typed
    again["content"][0]["attachment"]["data"] = base64.b64encode(PDF + b"x").decode()
    assert (await client.post("/fhir/r4/DocumentReference", json=again,
                              headers=headers)).status_code == 201
    someone_else = await client.post("/fhir/r4/DocumentReference",
                                     json=logical("810002727377"), headers=headers)
    assert someone_else.status_code == 403
    organisation = await client.post("/fhir/r4/DocumentReference",
                                     json=logical("8" + rpps, type="Organization"),
                                     headers=headers)
    assert organisation.status_code == 400
    assert organisation.json()["issue"][0]["expression"] == ["DocumentReference.author[0]"]
    listed = (await gql(LIST, {"first": 5}, token=patient_token))["data"]["documents"]
    assert listed["totalCount"] == 2
    assert {e["node"]["author"]["professional"]["rpps"] for e in listed["edges"]} == {rpps}
