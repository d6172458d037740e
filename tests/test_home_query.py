"""The signed-in home screen ("Accueil", issue 11): ONE GraphQL request, whose SQL statement
count does not grow with the record (documents, conversations, measurement kinds,
announcements), and whose answer is right: the greeting name, the new documents (count, the
latest three, `isNew` flipping when the patient downloads one and not when a professional reads
it), the unread messages across every conversation, the latest measurements of each kind with a
short trend, and the announcements.

`HOME_QUERY` is the exact document the web app sends (frontend/carnet_web/state/home.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from backend.announcements import services as announcements
from backend.announcements.models import Announcement
from backend.audit.models import AccessLogEntry
from backend.identity import accounts
from backend.identity.models import Person, Professional
from backend.profile import services as profile
from backend.profile.models import MeasurementKind
from tests.access_helpers import make_professional, seed_matrix, store
from tests.factories import PASSWORD, make_nir
from tests.identity_helpers import sign_in
from tests.messaging_helpers import SEND, start
from tests.querycount import count_queries

HOME_QUERY = """query Home($documents: Int!, $trendPoints: Int!, $announcements: Int!) {
  me { identifier role patient { greetingName } }
  documents(first: $documents) {
    totalCount
    newCount
    edges { node { id title typeLabel clinicalDate createdAt isNew } }
  }
  messagingSummary { unreadCount unreadConversations }
  latestMeasurements(points: $trendPoints) {
    kind label unitLabel change
    latest { at value diastolic }
    points { at value diastolic }
  }
  announcements(first: $announcements) { id title body publishedAt }
}"""

HOME_VARIABLES = {"documents": 3, "trendPoints": 6, "announcements": 5}

MARK_READ = """mutation R($c: ID!) { markRead(conversationId: $c) { __typename } }"""
ADD_TO_TEAM = """mutation A($rpps: String!) { addToCareTeam(rpps: $rpps) { __typename } }"""
RECORD = """query Rec($id: ID!) { patientRecord(patientId: $id) {
  documents(first: 20) { newCount edges { node { id isNew } } }
  latestMeasurements(points: 3) { kind points { value } } } }"""

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def home(app, gql, notifier, clean):
    """A patient named "JEAN-PIERRE Marie" DURAND, a doctor and a nurse, all signed in."""
    await seed_matrix()
    patient = await accounts.create_patient(
        nir=make_nir(), birth_name="Durand", first_names="JEAN-PIERRE Marie",
        birth_date=date(1980, 5, 17), sex="M", birthplace="75056",
        contact=accounts.ContactInput(email="patient@example.fr", phone=None, identifier=None,
                                      password=PASSWORD, channel=None))
    doctor = await make_professional("Médecin", "Médecine générale", email="doctor@example.fr")
    nurse = await make_professional("Infirmier", None, email="nurse@example.fr")
    tokens = {name: await sign_in(gql, notifier, f"{name}@example.fr", PASSWORD)
              for name in ("patient", "doctor", "nurse")}
    return {"rt": app.state.runtime, "patient": patient, "doctor": doctor, "nurse": nurse,
            "tokens": tokens}


async def load_home(gql, token: str) -> tuple[dict, list[str]]:
    """The home screen and its statements, the announcement cache warm (as it is but once per
    CACHE_TTL per process: tests/test_screen_statements.py counts the cold case; writing an
    announcement forgets the cache, so what is shown is current)."""
    await announcements.latest()
    with count_queries() as counter:
        body = await gql(HOME_QUERY, HOME_VARIABLES, token=token)
    assert "errors" not in body, body
    return body["data"], counter.statements


async def measure(rt, person_id: int, kind: MeasurementKind, value: str, at: datetime,
                  value2: str | None = None) -> None:
    await profile.add_entry(rt.settings, person_id=person_id, author=profile.Author(0, None),
                            data=profile.MeasurementInput(
                                kind=kind, value=Decimal(value), measured_at=at,
                                value2=Decimal(value2) if value2 else None))


async def announce(title: str, published_at: datetime) -> None:
    await Announcement.create(title=title, body=f"Détails : {title}", published_at=published_at)


async def download(client, document_id, token: str) -> int:
    response = await client.get(f"/documents/{document_id}/content",
                                headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def titles(data: dict) -> list[tuple[str, bool]]:
    return [(e["node"]["title"], e["node"]["isNew"]) for e in data["documents"]["edges"]]


def read_apart(statements: list[str]) -> list[str]:
    """Statements reading the titles' data key or the authors on their own: none, the
    documents' statement joins both."""
    return [s for s in statements if 'FROM "data_key"' in s or 'FROM "professional"' in s]


async def test_home_is_one_request_with_a_constant_statement_count(client, gql, home):
    rt, patient, tokens = home["rt"], home["patient"], home["tokens"]
    pid = patient.person_id
    token = tokens["patient"]

    # --- an empty record --------------------------------------------------------------------
    data, empty = await load_home(gql, token)
    assert data["me"]["patient"] == {"greetingName": "Jean-Pierre"}
    assert data["documents"] == {"totalCount": 0, "newCount": 0, "edges": []}
    assert data["messagingSummary"] == {"unreadCount": 0, "unreadConversations": 0}
    assert data["latestMeasurements"] == []
    assert data["announcements"] == []
    assert read_apart(empty) == []

    # --- one of each ------------------------------------------------------------------------
    first_doc = await store(rt, pid, title="Compte rendu", author=home["doctor"])
    conversation = (await start(gql, tokens["doctor"], patient, subject="Résultats"))[
        "conversation"]["id"]
    await measure(rt, pid, MeasurementKind.WEIGHT, "80", T0)
    await announce("Maintenance", datetime.now(UTC) - timedelta(days=3))
    data, one = await load_home(gql, token)
    # The data key is joined to the documents: no statement more with a record.
    assert len(one) == len(empty), (empty, one)
    assert read_apart(one) == [], one
    assert titles(data) == [("Compte rendu", True)]
    assert data["documents"]["newCount"] == 1
    assert data["messagingSummary"] == {"unreadCount": 1, "unreadConversations": 1}
    assert [t["kind"] for t in data["latestMeasurements"]] == ["WEIGHT"]
    assert data["latestMeasurements"][0]["change"] is None

    # --- many of each -----------------------------------------------------------------------
    doctor, nurse = home["doctor"], home["nurse"]
    for n in range(6):
        await store(rt, pid, title=f"Résultat {n}", author=doctor if n % 2 else nurse)
    for n in range(3):
        await store(rt, pid, title=f"Mon scan {n}")  # the patient's own: never new
    await store(rt, pid, title="Lettre de liaison", author=nurse)
    await store(rt, pid, title="Ma photo d'ordonnance")
    # Latest first: mine, the nurse's letter, my third scan. New: the 7 professionals' ones.
    others = []
    for n in range(4):
        author = "doctor" if n % 2 else "nurse"
        others.append((await start(gql, tokens[author], patient, subject=f"Sujet {n}"))[
            "conversation"]["id"])
        await gql(SEND, {"c": others[-1], "body": "Une précision."}, token=tokens[author])
    # My reply reads what came before it, and is not unread itself; the doctor answers it.
    await gql(SEND, {"c": conversation, "body": "Merci !"}, token=token)
    await gql(SEND, {"c": conversation, "body": "Et encore une chose."}, token=tokens["doctor"])
    read = await gql(MARK_READ, {"c": others[0]}, token=token)
    assert read["data"]["markRead"]["__typename"] == "ReadMarked"
    for n in range(1, 10):  # 10 weights in all: the latest 6 are shown
        await measure(rt, pid, MeasurementKind.WEIGHT, str(80 - n), T0 + timedelta(days=n))
    await measure(rt, pid, MeasurementKind.HEIGHT, "178", T0 + timedelta(days=2))
    await measure(rt, pid, MeasurementKind.HEIGHT, "179", T0 + timedelta(days=20))
    for n, (systolic, diastolic) in enumerate((("130", "85"), ("125", "80"), ("128", "82"))):
        await measure(rt, pid, MeasurementKind.BLOOD_PRESSURE, systolic,
                      T0 + timedelta(days=12 + n), diastolic)
    await measure(rt, pid, MeasurementKind.HEART_RATE, "64", T0 - timedelta(days=30))
    for n in range(7):
        await announce(f"Nouveauté {n}", datetime.now(UTC) - timedelta(days=2, hours=-n))
    await announce("Pas encore publiée", datetime.now(UTC) + timedelta(days=1))

    data, many = await load_home(gql, token)
    assert len(many) == len(one), (one, many)
    assert titles(data) == [("Ma photo d'ordonnance", False), ("Lettre de liaison", True),
                            ("Mon scan 2", False)]
    assert data["documents"]["totalCount"] == 12
    assert data["documents"]["newCount"] == 8
    # The first conversation: the doctor's answer; three others: two each; the one I read:
    # none.
    assert data["messagingSummary"] == {"unreadCount": 7, "unreadConversations": 4}
    trends = {t["kind"]: t for t in data["latestMeasurements"]}
    assert [t["kind"] for t in data["latestMeasurements"]] == [
        "HEIGHT", "BLOOD_PRESSURE", "WEIGHT", "HEART_RATE"]  # most recently measured first
    weight = trends["WEIGHT"]
    assert [p["value"] for p in weight["points"]] == [76.0, 75.0, 74.0, 73.0, 72.0, 71.0]
    assert weight["latest"] == weight["points"][-1]
    assert weight["latest"]["at"].startswith("2026-03-10")
    assert weight["change"] == -1.0 and weight["unitLabel"] == "kg"
    pressure = trends["BLOOD_PRESSURE"]
    assert [(p["value"], p["diastolic"]) for p in pressure["points"]] == [
        (130.0, 85.0), (125.0, 80.0), (128.0, 82.0)]
    assert pressure["change"] == 3.0
    assert [p["value"] for p in trends["HEIGHT"]["points"]] == [178.0, 179.0]
    assert trends["HEART_RATE"]["points"] == [trends["HEART_RATE"]["latest"]]
    assert trends["HEART_RATE"]["change"] is None
    assert [a["title"] for a in data["announcements"]] == [
        f"Nouveauté {n}" for n in (6, 5, 4, 3, 2)]

    # --- the patient opens the nurse's letter -----------------------------------------------
    letter_id = data["documents"]["edges"][1]["node"]["id"]
    assert await download(client, letter_id, token) == 200
    data, after = await load_home(gql, token)
    assert len(after) == len(one), (one, after)
    assert titles(data)[1] == ("Lettre de liaison", False)
    assert data["documents"]["newCount"] == 7
    assert str(first_doc.id) not in {e["node"]["id"] for e in data["documents"]["edges"]}

    # The patient's own reads are never logged as someone else's.
    assert await AccessLogEntry.all().count() == 0


async def test_a_professional_reading_a_document_does_not_make_it_seen(client, gql, home):
    rt, patient, tokens = home["rt"], home["patient"], home["tokens"]
    pid = patient.person_id
    doctor = home["doctor"]
    report = await store(rt, pid, title="Compte rendu", author=doctor)
    await store(rt, pid, title="Ordonnance", author=home["nurse"])
    await measure(rt, pid, MeasurementKind.WEIGHT, "70", T0)
    await measure(rt, pid, MeasurementKind.WEIGHT, "71", T0 + timedelta(days=1))
    rpps = (await Professional.get(id=doctor.professional_id)).rpps
    added = await gql(ADD_TO_TEAM, {"rpps": rpps}, token=tokens["patient"])
    assert added["data"]["addToCareTeam"]["__typename"] == "CareTeamMember", added
    public_id = str((await Person.get(id=pid)).public_id)

    # The doctor downloads the report and reads the record: still new for the patient.
    assert await download(client, report.id, tokens["doctor"]) == 200
    record = await gql(RECORD, {"id": public_id}, token=tokens["doctor"])
    assert "errors" not in record, record
    documents = record["data"]["patientRecord"]["documents"]
    assert documents["newCount"] == 2
    assert all(e["node"]["isNew"] for e in documents["edges"])
    assert record["data"]["patientRecord"]["latestMeasurements"] == [
        {"kind": "WEIGHT", "points": [{"value": 70.0}, {"value": 71.0}]}]
    data, _ = await load_home(gql, tokens["patient"])
    assert titles(data) == [("Ordonnance", True), ("Compte rendu", True)]
    assert data["documents"]["newCount"] == 2
    # The doctor's reads are in the patient's access log: the download, the list and its
    # documents, and the measurements (the patient's own home read adds nothing).
    kinds = sorted((e.kind.value, e.section or "") for e in await AccessLogEntry.all())
    assert kinds == sorted([("document_content", ""), ("document_list", ""),
                            ("document", ""), ("document", ""), ("profile", "measurements")])

    # The patient downloads it: no longer new, for everyone.
    assert await download(client, report.id, tokens["patient"]) == 200
    data, _ = await load_home(gql, tokens["patient"])
    assert titles(data) == [("Ordonnance", True), ("Compte rendu", False)]
    assert data["documents"]["newCount"] == 1
    record = await gql(RECORD, {"id": public_id}, token=tokens["doctor"])
    assert record["data"]["patientRecord"]["documents"]["newCount"] == 1


async def test_measurements_the_access_excludes_are_empty_and_unlogged(gql, notifier, home):
    """A pharmacist in the care team (the matrix excludes measurements for pharmacists) reads
    no trend and the read logs nothing; a professional outside the care team reads nothing."""
    rt, patient, tokens = home["rt"], home["patient"], home["tokens"]
    await measure(rt, patient.person_id, MeasurementKind.WEIGHT, "70", T0)
    public_id = str((await Person.get(id=patient.person_id)).public_id)
    query = """query M($id: ID!) { patientRecord(patientId: $id) {
      latestMeasurements { kind } } }"""
    stranger = await gql(query, {"id": public_id}, token=tokens["nurse"])
    assert stranger["data"]["patientRecord"] is None
    pharmacist = await make_professional("Pharmacien", None, email="pharma@example.fr")
    rpps = (await Professional.get(id=pharmacist.professional_id)).rpps
    added = await gql(ADD_TO_TEAM, {"rpps": rpps}, token=tokens["patient"])
    assert added["data"]["addToCareTeam"]["__typename"] == "CareTeamMember", added
    pharmacist_token = await sign_in(gql, notifier, "pharma@example.fr", PASSWORD)
    body = await gql(query, {"id": public_id}, token=pharmacist_token)
    assert body["data"]["patientRecord"]["latestMeasurements"] == []
    assert await AccessLogEntry.all().count() == 0


@pytest.mark.parametrize(("first_names", "greeting"), [
    ("Jean", "Jean"), ("JEAN-PIERRE Marie", "Jean-Pierre"), ("marie claire", "Marie"),
    ("D'ARTAGNAN", "D'Artagnan"), ("McKenzie Anne", "McKenzie"), ("  Élise  ", "Élise"),
])
def test_greeting_name(first_names: str, greeting: str) -> None:
    from backend.identity.services import greeting_name

    assert greeting_name(first_names) == greeting


async def test_the_announcement_cache_is_forgotten_by_writes_and_by_any_processs_publish(
        app, clean, monkeypatch):
    """backend/announcements/services.py: an ORM write forgets this process's cache at once;
    a write it cannot see (another process's, SQL by hand) is shown once any process
    publishes through the broker (here Redis, as between workers)."""
    monkeypatch.setattr(announcements, "CACHE_TTL", 3600.0)  # no expiry during the test
    assert await announcements.latest() == []
    await announce("Première", datetime.now(UTC) - timedelta(minutes=1))  # ORM: forgotten
    assert [a.title for a in await announcements.latest()] == ["Première"]
    # Behind the ORM's back (signals see nothing): the cache still answers.
    await Announcement.filter(title="Première").update(title="Renommée")
    assert [a.title for a in await announcements.latest()] == ["Première"]
    # Another process publishes: every process's listener forgets its cache.
    await app.state.runtime.broker.publish(announcements.CHANNEL, "0")
    async with asyncio.timeout(5):
        while [a.title for a in await announcements.latest()] != ["Renommée"]:
            await asyncio.sleep(0.02)
