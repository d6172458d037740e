"""The web app's three main screens (issue 12): each in at most 4 SQL statements, for a patient
with data (20 documents with their authors, several conversations with unread messages, a full
profile), with the exact documents the web app sends (imported from frontend/carnet_web).

Counted: every statement Tortoise logs while the GraphQL request runs (tests/querycount.py).
The patient's own reads log nothing; a professional's read of the same record is counted
apart, its access-log write (one statement) separately from its reads. The announcements come
from a per-process cache (backend/announcements/services.py): counted warm, and the cold case
(one statement more, at most once per CACHE_TTL per process) on its own. Not counted: the
session check, which is a Redis round trip, not SQL. These count GraphQL's execution: the
response cache is off here (`no_response_cache`); tests/test_response_cache.py counts its one
data version read on top, and its hits.

Also run on SQLite (CARNET_TEST_DATABASE=sqlite, tests/conftest.py): the raw SQL of the
profile's UNION ALL and of the conversation list has a path per dialect.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from backend.announcements import services as announcements
from backend.announcements.models import Announcement
from backend.audit.models import AccessLogEntry
from backend.identity import accounts
from backend.identity.models import Person, Professional
from backend.profile import services as profile
from backend.profile.models import MeasurementKind, OrganDonationPosition, Relative
from tests.access_helpers import make_professional, seed_matrix, store
from tests.conftest import ON_SQLITE
from tests.factories import PASSWORD, make_nir
from tests.identity_helpers import sign_in
from tests.messaging_helpers import SEND, start
from tests.querycount import count_queries

FRONTEND_DIR = Path(__file__).resolve().parents[1] / "frontend"
if str(FRONTEND_DIR) not in sys.path:
    sys.path.insert(0, str(FRONTEND_DIR))

from carnet_web.state import documents as documents_state  # noqa: E402
from carnet_web.state import home as home_state  # noqa: E402
from carnet_web.state import pro_record  # noqa: E402
from carnet_web.state.profile import operations as profile_operations  # noqa: E402

MAX_STATEMENTS = 4
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MARK_READ = """mutation R($c: ID!) { markRead(conversationId: $c) { __typename } }"""
ADD_TO_TEAM = """mutation A($rpps: String!) { addToCareTeam(rpps: $rpps) { __typename } }"""


def source(operation) -> str:
    return operation.payload["query"]


SCREENS = {
    "home": (source(home_state.HOME_SIGNED_IN),
             {"documents": home_state.DOCUMENTS_SHOWN, "trendPoints": home_state.TREND_POINTS,
              "announcements": home_state.ANNOUNCEMENTS_SHOWN}),
    "documents": (source(documents_state.DOCUMENTS_PAGE),
                  {"first": documents_state.PAGE_SIZE, "filter": None}),
    "profile": (source(profile_operations.PROFILE), {}),
}


@pytest.fixture(autouse=True)
def no_response_cache(app):
    cache = app.state.response_cache
    budget, cache.budget = cache.budget, 0
    yield
    cache.budget = budget


@pytest.fixture
async def record(app, gql, notifier, clean):
    """A patient with 20 documents by three authors (two professionals and themselves),
    four conversations with unread messages, every profile section filled, and an
    announcement."""
    await seed_matrix()
    rt = app.state.runtime
    patient = await accounts.create_patient(
        nir=make_nir(), birth_name="Durand", first_names="Jean",
        birth_date=date(1980, 5, 17), sex="M", birthplace="75056",
        contact=accounts.ContactInput(email="patient@example.fr", phone=None, identifier=None,
                                      password=PASSWORD, channel=None))
    doctor = await make_professional("Médecin", "Médecine générale", email="doctor@example.fr")
    nurse = await make_professional("Infirmier", None, email="nurse@example.fr")
    tokens = {name: await sign_in(gql, notifier, f"{name}@example.fr", PASSWORD)
              for name in ("patient", "doctor", "nurse")}
    pid = patient.person_id
    authors = (doctor, nurse, None)
    for n in range(20):
        await store(rt, pid, title=f"Document {n}", author=authors[n % 3])
    for n in range(4):
        author = "doctor" if n % 2 else "nurse"
        conversation = (await start(gql, tokens[author], patient, subject=f"Sujet {n}"))[
            "conversation"]["id"]
        await gql(SEND, {"c": conversation, "body": "Une précision."}, token=tokens[author])
        if n == 0:
            await gql(MARK_READ, {"c": conversation}, token=tokens["patient"])
            await gql(SEND, {"c": conversation, "body": "Merci."}, token=tokens["patient"])
    me = profile.Author(0, None)
    for data in (
        profile.AllergyInput(substance="Pénicilline", since=date(2019, 5, 2)),
        profile.AllergyInput(substance="Arachide"),
        profile.VaccinationInput(vaccine="DTP", vaccinated_on=date(2025, 10, 15),
                                 dose_number=3),
        profile.MedicalHistoryInput(condition="Appendicite", onset=date(2001, 3, 1)),
        profile.FamilyHistoryInput(relative=Relative.MOTHER, condition="Diabète",
                                   age_at_onset=55),
        profile.TreatmentInput(medication="Metformine", start_date=date(2024, 1, 1)),
        profile.EmergencyContactInput(name="Paul Durand", phone="+33612345678"),
    ):
        await profile.add_entry(rt.settings, person_id=pid, author=me, data=data)
    for n, kind in enumerate((MeasurementKind.HEIGHT, MeasurementKind.WEIGHT,
                              MeasurementKind.WEIGHT, MeasurementKind.HEART_RATE)):
        value = {"height": "178", "weight": str(80 - n), "heart_rate": "64"}[kind.value]
        await profile.add_entry(rt.settings, person_id=pid, author=me,
                                data=profile.MeasurementInput(
                                    kind=kind, value=Decimal(value),
                                    measured_at=T0 + timedelta(days=n)))
    await profile.add_entry(rt.settings, person_id=pid, author=me,
                            data=profile.MeasurementInput(
        kind=MeasurementKind.BLOOD_PRESSURE, value=Decimal("130"), value2=Decimal("85"),
        measured_at=T0 + timedelta(days=5)))
    await profile.set_advance_directive(rt.settings, person_id=pid, author=me,
                                        text="Pas d'acharnement.", document_id=None)
    await profile.set_organ_donation(rt.settings, person_id=pid, author=me,
                                     position=OrganDonationPosition.CONSENTS, note=None)
    # Stored without `publish`'s broker announcement: its echo comes back to this process
    # whenever the broker delivers it and forgets the announcements' cache then, which made
    # the warm counts below (and tests/test_response_cache.py's) cold now and then. The save
    # itself forgets this process's cache (the ORM signal).
    await Announcement.create(title="Maintenance", body="Samedi matin.",
                              published_at=datetime.now(UTC))
    return {"patient": patient, "doctor": doctor, "tokens": tokens}


async def run(gql, screen: str, token: str) -> tuple[dict, list[str]]:
    query, variables = SCREENS[screen]
    with count_queries() as counter:
        body = await gql(query, variables, token=token)
    assert "errors" not in body, body
    return body["data"], counter.statements


@pytest.mark.parametrize("screen", ["home", "documents", "profile"])
async def test_each_screen_runs_at_most_four_statements(gql, record, screen):
    # The announcements come from the process cache, warm as it is but once per CACHE_TTL
    # (the cold case is counted below).
    await announcements.latest()
    _data, statements = await run(gql, screen, record["tokens"]["patient"])
    assert len(statements) <= MAX_STATEMENTS, statements


async def test_a_cold_announcement_cache_costs_the_home_screen_one_statement(gql, record):
    await announcements.latest()
    _data, warm = await run(gql, "home", record["tokens"]["patient"])
    announcements.forget_cached()
    data, cold = await run(gql, "home", record["tokens"]["patient"])
    assert [s for s in cold if s not in warm] == [
        s for s in cold if 'FROM "announcement"' in s], (warm, cold)
    assert len(cold) == len(warm) + 1
    # Warm again: the next request reads no announcement.
    _data, again = await run(gql, "home", record["tokens"]["patient"])
    assert again == warm
    assert [a["title"] for a in data["announcements"]] == ["Maintenance"]


CONVERSATIONS = """query { conversations(first: 20) {
  edges { node { subject unreadCount lastMessage { body isMine } } }
  pageInfo { hasNextPage } } }"""


async def test_the_conversation_list_is_one_statement_with_unread_counts_and_last_messages(
        gql, record):
    """The messages screen's list: conversations, unread counts, latest messages and data keys
    in ONE statement, for the patient (four conversations) as for a professional (two)."""
    with count_queries() as counter:
        body = await gql(CONVERSATIONS, token=record["tokens"]["patient"])
    assert len(counter.statements) == 1, counter.statements
    nodes = [e["node"] for e in body["data"]["conversations"]["edges"]]
    assert [(n["subject"], n["unreadCount"], n["lastMessage"]["body"],
             n["lastMessage"]["isMine"]) for n in nodes] == [
        ("Sujet 3", 2, "Une précision.", False), ("Sujet 2", 2, "Une précision.", False),
        ("Sujet 1", 2, "Une précision.", False), ("Sujet 0", 0, "Merci.", True)]
    with count_queries() as counter:
        body = await gql(CONVERSATIONS, token=record["tokens"]["doctor"])
    assert len(counter.statements) == 1, counter.statements
    assert [(e["node"]["subject"], e["node"]["unreadCount"])
            for e in body["data"]["conversations"]["edges"]] == [("Sujet 3", 0), ("Sujet 1", 0)]
    summary = await gql("query { messagingSummary { unreadCount unreadConversations } }",
                        token=record["tokens"]["patient"])
    assert summary["data"]["messagingSummary"] == {"unreadCount": 6, "unreadConversations": 3}


async def test_a_professionals_read_of_the_record_counts_its_access_log_apart(gql, record):
    """The professional's record screen (the web app's own document): the access decision, the
    reads, and the access log written in ONE statement whatever was read. Someone else's read
    is never under the patient's 4: it is counted here, the log apart."""
    tokens = record["tokens"]
    rpps = (await Professional.get(id=record["doctor"].professional_id)).rpps
    assert "errors" not in await gql(ADD_TO_TEAM, {"rpps": rpps}, token=tokens["patient"])
    public_id = (await Person.get(id=record["patient"].person_id)).public_id
    before = await AccessLogEntry.all().count()
    with count_queries() as counter:
        body = await gql(source(pro_record.PATIENT_RECORD),
                         {"patientId": str(public_id), "first": pro_record.DOCUMENTS_PAGE},
                         token=tokens["doctor"])
    assert "errors" not in body, body
    logged = [s for s in counter.statements if "access_log" in s]
    reads = [s for s in counter.statements if s not in logged]
    # PostgreSQL: the request's entries and the chain's head in ONE statement; SQLite (the
    # Python writer, backend/audit/access_log.py): the head read, the entries, the head written.
    assert len(logged) == (3 if ON_SQLITE else 1), counter.statements
    assert await AccessLogEntry.all().count() > before
    # The policy's decision (6: person, professional, block, matrix, relationship, settings),
    # the identity, the documents' page, the profile's sections and their data key.
    assert len(reads) <= 11, reads
    assert len(body["data"]["patientRecord"]["documents"]["edges"]) == 20
