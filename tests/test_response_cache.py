"""The response cache (backend/response_cache.py) and the data versions (migration 0018).

- Every table of the real schema has the version trigger, and a write to every table holding
  rows bumps a version (the patient's for patient-owned tables): a new table or a new write
  path cannot skip it.
- A seeded random walk (fixed seed: the same sequence every run, no chance-dependent outcome)
  of writes, reads of the cached operations and viewer switches (two patients, a professional,
  two languages): every answer is byte-identical to the uncached answer of the same request.
- A revoked session gets nothing from the cache; a professional's reads are never cached; a
  different language has its own entry; the trusted hashes match the web app's texts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import random
from datetime import date

from tortoise import connections

from backend.access import services as access
from backend.access.policy import PatientViewer
from backend.announcements import services as announcements
from backend.identity import accounts
from backend.identity.models import Account, Professional
from backend.profile import services as profile
from backend.records import services as records
from backend.records.models import Document
from backend.trusted_documents import TRUSTED_DOCUMENTS
from tests.access_helpers import store
from tests.conftest import ON_SQLITE
from tests.factories import PASSWORD, make_nir
from tests.identity_helpers import sign_in
from tests.messaging_helpers import SEND, start
from tests.test_screen_statements import ADD_TO_TEAM, MARK_READ, SCREENS
from tests.test_screen_statements import record as record  # noqa: F401 (the fixture)

MIGRATION = importlib.import_module("backend.migrations.0018_data_version")
# Later migrations that add tables add their triggers (or say why a table has none).
LATER = [importlib.import_module("backend.migrations.0019_agenda"),
         importlib.import_module("backend.migrations.0021_catalogue"),
         importlib.import_module("backend.migrations.0022_oauth"),
         importlib.import_module("backend.migrations.0023_job_queue"),
         importlib.import_module("backend.migrations.0024_campaign"),
         importlib.import_module("backend.migrations.0027_carers")]
PATIENT_OF = {**MIGRATION.PATIENT_OF, **{t: e for m in LATER for t, e in m.PATIENT_OF.items()}}
VERSIONED = {*MIGRATION.TABLES, *(t for m in LATER for t in m.TABLES)}
UNVERSIONED = {t for m in LATER for t in m.UNVERSIONED}
# Tables a migration makes on PostgreSQL only (the job queue's, 0023).
POSTGRES_ONLY = {t for m in LATER for t in getattr(m, "POSTGRES_ONLY", ())}


async def _rows(sql: str) -> list[dict]:
    return await connections.get("default").execute_query_dict(sql)


async def _tables() -> set[str]:
    if ON_SQLITE:
        rows = await _rows("SELECT name AS t FROM sqlite_master WHERE type = 'table' "
                           "AND name NOT LIKE 'sqlite_%'")
    else:
        rows = await _rows("SELECT table_name AS t FROM information_schema.tables "
                           "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    return {r["t"] for r in rows} - {"data_version"} - {
        r["t"] for r in rows if r["t"].startswith(("tortoise", "aerich"))}


async def _triggered() -> set[str]:
    if ON_SQLITE:
        rows = await _rows("SELECT tbl_name AS t FROM sqlite_master WHERE type = 'trigger' "
                           "AND name LIKE 'carnet_version_%'")
    else:
        rows = await _rows("SELECT c.relname AS t FROM pg_trigger g JOIN pg_class c "
                           "ON c.oid = g.tgrelid WHERE g.tgname = 'carnet_version'")
    return {r["t"] for r in rows}


async def _versions() -> dict[int, int]:
    return {int(r["scope"]): int(r["version"])
            for r in await _rows("SELECT scope, version FROM data_version")}


async def test_every_table_has_the_version_trigger(app, clean):
    tables = await _tables()
    assert tables - UNVERSIONED - await _triggered() == set(), \
        "tables without a data version trigger"
    expected = VERSIONED | UNVERSIONED
    if ON_SQLITE:
        expected -= POSTGRES_ONLY
    assert tables == expected, "the migrations' table lists vs the real schema"


async def test_a_write_to_every_table_bumps_a_version(record):
    pid = record["patient"].person_id
    written = 0
    for table in sorted(await _tables()):
        rows = await _rows(f'SELECT COUNT(*) AS n FROM "{table}"')  # noqa: S608 (schema names)
        if not rows[0]["n"]:
            continue
        before = await _versions()
        await connections.get("default").execute_script(f'UPDATE "{table}" SET id = id')  # noqa: S608 (schema names)
        after = await _versions()
        if table in UNVERSIONED:
            continue
        scope = pid if table in PATIENT_OF else 0
        if table in ("account", "audit_event"):  # professionals' rows too: both scopes
            scope = pid
        assert after.get(scope, 0) > before.get(scope, 0), table
        written += 1
    # The record fixture fills every patient-owned table the screens read.
    assert written >= 20, written


def _view(app):
    return app.state.response_cache


@contextlib.contextmanager
def _uncached(app):
    cache = _view(app)
    budget, cache.budget = cache.budget, 0
    try:
        yield
    finally:
        cache.budget = budget


async def _post(client, screen: str, token: str, language: str = "fr") -> bytes:
    query, variables = SCREENS[screen]
    response = await client.post("/graphql", json={"query": query, "variables": variables},
                                 headers={"Authorization": f"Bearer {token}",
                                          "Accept-Language": language})
    assert response.status_code == 200, response.text
    return response.content


async def _compare(app, client, screen, token, language="fr") -> bytes:
    cached = await _post(client, screen, token, language)
    with _uncached(app):
        fresh = await _post(client, screen, token, language)
    assert cached == fresh, (screen, language)
    return cached


def test_trusted_hashes_are_the_web_app_texts():
    expected = {hashlib.sha256(query.encode()).hexdigest() for query, _ in SCREENS.values()}
    assert set(TRUSTED_DOCUMENTS) == expected, "update backend/trusted_documents.py"


async def test_random_walk_answers_equal_uncached_answers(app, client, gql, notifier, record):
    rt = app.state.runtime
    cache = _view(app)
    tokens = record["tokens"]
    patient, doctor = record["patient"], record["doctor"]
    other = await accounts.create_patient(
        nir=make_nir(), birth_name="Martin", first_names="Anne",
        birth_date=date(1975, 1, 2), sex="U", birthplace="75056",
        contact=accounts.ContactInput(email="other@example.fr", phone=None, identifier=None,
                                      password=PASSWORD, channel=None))
    tokens["other"] = await sign_in(gql, notifier, "other@example.fr", PASSWORD)
    professional = await Professional.get(id=doctor.professional_id)
    await gql(ADD_TO_TEAM, {"rpps": professional.rpps}, token=tokens["patient"])
    conversation = (await start(gql, tokens["doctor"], patient, subject="Suivi"))[
        "conversation"]["id"]
    people = {"patient": patient, "other": other}
    rng = random.Random(12)  # fixed seed: the same walk every run
    hits_before = cache.hits
    for step in range(60):
        who = rng.choice(["patient", "patient", "other", "doctor"])
        action = rng.choice(["read", "read", "read", "add_document", "delete_document",
                             "add_allergy", "message", "mark_read", "preferences",
                             "revoke", "announce"])
        pid = people.get(who, patient).person_id
        if action == "read":
            size = len(cache)
            screen, language = rng.choice(list(SCREENS)), rng.choice(["fr", "en"])
            for _ in range(2):  # the second is a hit, unless the first was a professional's
                await _compare(app, client, screen, tokens[who], language)
            if who == "doctor":
                assert len(cache) == size, "a professional's read was cached"
        elif action == "add_document":
            await store(rt, pid, title=f"Pas {step}", author=rng.choice([doctor, None]))
        elif action == "delete_document":
            doc = await Document.filter(person_id=pid).order_by("-created_at").first()
            if doc is not None:
                with contextlib.suppress(records.DocumentNotFound):  # not theirs to delete
                    await records.delete_document(pid, str(doc.id))
        elif action == "add_allergy":
            await profile.add_entry(rt.settings, person_id=pid, author=profile.Author(0, None),
                                    data=profile.AllergyInput(substance=f"Substance {step}"))
        elif action == "message":
            await gql(SEND, {"c": conversation, "body": f"Message {step}"},
                      token=tokens["doctor"])
        elif action == "mark_read":
            await gql(MARK_READ, {"c": conversation}, token=tokens["patient"])
        elif action == "preferences":
            await Account.filter(person_id=pid).update(
                notify_new_document=rng.choice([True, False]))
        elif action == "revoke":
            with contextlib.suppress(Exception):
                await access.remove_from_care_team(
                    PatientViewer(patient.id, patient.person_id), professional.id)
        elif action == "announce":
            await announcements.publish(rt.broker, title=f"Annonce {step}", body="Texte.")
    assert cache.hits > hits_before, "the walk never hit the cache"


async def test_a_repeated_read_is_served_from_the_cache(app, client, record):
    cache = _view(app)
    token = record["tokens"]["patient"]
    first = await _post(client, "home", token)
    hits = cache.hits
    assert await _post(client, "home", token) == first
    assert cache.hits == hits + 1


async def test_a_revoked_session_gets_nothing_from_the_cache(app, client, gql, record):
    token = record["tokens"]["patient"]
    await _post(client, "home", token)
    await _post(client, "home", token)
    hits = _view(app).hits
    await gql("mutation { logout { __typename } }", token=token)
    query, variables = SCREENS["home"]
    response = await client.post("/graphql", json={"query": query, "variables": variables},
                                 headers={"Authorization": f"Bearer {token}"})
    assert b"greetingName" not in response.content and b"Document" not in response.content
    assert _view(app).hits == hits


async def test_a_professionals_reads_are_never_cached(app, client, record):
    cache = _view(app)
    hits = cache.hits
    for screen in SCREENS:
        for _ in range(2):
            await _post(client, screen, record["tokens"]["doctor"])
    assert len(cache) == 0 and cache.hits == hits


async def test_each_language_has_its_own_entry(app, client, record):
    cache = _view(app)
    token = record["tokens"]["patient"]
    french = await _compare(app, client, "documents", token, "fr")
    english = await _compare(app, client, "documents", token, "en")
    assert len(cache) == 2
    assert french != english  # the type labels are translated
    assert await _post(client, "documents", token, "en") == english


async def test_a_write_moves_the_key(app, client, record):
    token = record["tokens"]["patient"]
    before = await _compare(app, client, "home", token)
    await store(app.state.runtime, record["patient"].person_id, title="Nouveau")
    after = await _compare(app, client, "home", token)
    assert before != after and b"Nouveau" in after


async def test_a_miss_costs_one_version_read_more_and_a_hit_only_that(app, gql, record):
    from backend import response_cache
    from tests.querycount import count_queries

    token = record["tokens"]["patient"]
    await announcements.latest()
    for screen, (query, variables) in SCREENS.items():
        with _uncached(app), count_queries() as plain:
            await gql(query, variables, token=token)
        with count_queries() as miss:
            await gql(query, variables, token=token)
        with count_queries() as hit:
            await gql(query, variables, token=token)
        version_read = (response_cache.VERSIONS_SQLITE if ON_SQLITE
                        else response_cache.VERSIONS_PG)
        assert miss.statements == [version_read, *plain.statements], screen
        assert hit.statements == [version_read], screen


async def test_a_professionals_login_trail_bumps_no_version(record):
    from backend.audit.models import AuditEvent, AuditKind

    doctor = record["doctor"]
    before = await _versions()
    await AuditEvent.create(kind=next(iter(AuditKind)), account_id=doctor.id, outcome="success")
    assert await _versions() == before, "a professional's audit event moved a version"


async def test_a_failed_version_read_answers_through_graphql_uncached(app, client, record,
                                                                      monkeypatch):
    from backend import response_cache

    async def down(person_id):
        raise ConnectionRefusedError("database down")

    token = record["tokens"]["patient"]
    expected = await _post(client, "home", token)  # a miss: computed and kept
    monkeypatch.setattr(response_cache, "data_versions", down)
    hits = _view(app).hits
    assert await _post(client, "home", token) == expected  # computed again, not from the cache
    assert _view(app).hits == hits


async def test_an_answer_with_errors_is_never_kept(app, client, record, monkeypatch):
    from backend.announcements import queries as announcement_queries

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(announcement_queries.services, "latest", broken)
    cache = _view(app)
    body = await _post(client, "home", record["tokens"]["patient"])
    assert b'"errors"' in body and b"a bug" not in body  # masked, and not kept
    assert len(cache) == 0
