"""Closing a patient's space and what follows (issue 15 part 6): the step-up (password, then a
code), every session revoked, professionals and apps losing access at once, deposits refused,
reopening that restores everything, deletion on request with the purge (blobs deleted, data keys
destroyed: crypto-shredding), two purge runners deleting once, the audit trail of each step, and
no identity or health data in the logs. Real PostgreSQL and Redis, the ASGI app."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from tortoise import Tortoise, connections
from tortoise.fields.relational import ForeignKeyFieldInstance, OneToOneFieldInstance

from backend.audit.models import AccessLogEntry, AuditEvent, AuditKind
from backend.audit.verify import verify_all
from backend.closure import services as closure
from backend.identity import matching, notices
from backend.identity import services as identity
from backend.identity.models import Account, AccountStatus, Person, Professional
from backend.keys import services as keys
from backend.keys.models import DataKey
from backend.profile import services as profile_services
from backend.records import services as records
from backend.records.models import Document
from tests import test_password_reset as reset
from tests.access_helpers import add_allergy, make_professional, seed_matrix, store
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import LOGIN, code_from, sign_in
from tests.test_app_access import WEIGHTS, app_token

REQUEST = """mutation R($p: String!) { requestAccountClosure(currentPassword: $p) {
  __typename ... on LoginChallenge { challengeId } ... on Error { message } } }"""
CONFIRM = """mutation C($id: String!, $code: String!, $now: Boolean!) {
  confirmAccountClosure(challengeId: $id, code: $code, deleteNow: $now) { __typename
  ... on AccountClosure { closedAt purgeAfter deletionRequested }
  ... on InvalidCode { attemptsLeft } ... on Error { message } } }"""
VERIFY = """mutation V($id: String!, $code: String!) { verifyLoginCode(challengeId: $id,
  code: $code) { __typename ... on Session { token }
  ... on AccountClosed { reopenTicket closedAt purgeAfter deletionRequested message } } }"""
REOPEN = """mutation O($t: String!) { reopenAccount(ticket: $t) { __typename
  ... on Session { token } ... on Error { message } } }"""
DELETE = """mutation D($t: String!) { requestAccountDeletion(ticket: $t) { __typename
  ... on AccountClosure { purgeAfter deletionRequested } ... on Error { message } } }"""
ADD = """mutation Add($rpps: String!) { addToCareTeam(rpps: $rpps) { __typename } }"""
RECORD = """query Rec($id: ID!) { patientRecord(patientId: $id) { ground
  documents(first: 10) { totalCount } profile { allergies { substance } } } }"""
PATIENTS = """{ patients { patientId } }"""
ME = "{ me { id } }"
CALLER = identity.Caller(address="192.0.2.77")
EMAIL = "closing@example.fr"
TITLE = "Compte rendu de cardiologie"


@pytest.fixture
async def world(app, client, clean, gql, notifier):
    await seed_matrix()
    rt = app.state.runtime
    account = await create_patient(email=EMAIL)
    token = await sign_in(gql, notifier, EMAIL, PASSWORD)
    person = await Person.get(id=account.person_id)
    gp = await make_professional("Médecin", "Médecine générale", email="gp-closure@example.fr")
    gp_token = await sign_in(gql, notifier, "gp-closure@example.fr", PASSWORD)
    rpps = (await Professional.get(id=gp.professional_id)).rpps
    assert (await gql(ADD, {"rpps": rpps}, token=token))["data"]["addToCareTeam"][
        "__typename"] == "CareTeamMember"
    document = await store(rt, account.person_id, type_code="11488-4", title=TITLE)
    allergy = await add_allergy(rt, account.person_id, "Arachide")
    from tests.catalogue_helpers import referenced
    world = SimpleNamespace(app=app, client=client, gql=gql, notifier=notifier, rt=rt,
                            account=account, person=person, token=token, gp=gp,
                            gp_token=gp_token, document=document, allergy=allergy,
                            public_id=str(person.public_id), catalogue_app=await referenced())
    notifier.clear()
    return world


async def _close(world, *, delete_now: bool = False) -> dict:
    asked = (await world.gql(REQUEST, {"p": PASSWORD}, token=world.token))["data"][
        "requestAccountClosure"]
    assert asked["__typename"] == "LoginChallenge", asked
    code = code_from(world.notifier.last().text)
    body = await world.gql(CONFIRM, {"id": asked["challengeId"], "code": code,
                                     "now": delete_now}, token=world.token)
    closed = body["data"]["confirmAccountClosure"]
    assert closed["__typename"] == "AccountClosure", body
    return closed


async def _sign_in_closed(world) -> dict:
    body = await world.gql(LOGIN, {"identifier": EMAIL, "password": PASSWORD})
    challenge = body["data"]["login"]
    assert challenge["__typename"] == "LoginChallenge", body
    code = code_from(world.notifier.last().text)
    answer = (await world.gql(VERIFY, {"id": challenge["challengeId"], "code": code}))[
        "data"]["verifyLoginCode"]
    assert answer["__typename"] == "AccountClosed", answer
    return answer


async def _kinds(account_id: int) -> list[str]:
    return [e.kind.value for e in await AuditEvent.filter(account_id=account_id).order_by("id")]


async def _deposit(world):
    """A professional deposits for the patient, naming them by their INS traits."""
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\nx"
    return await records.deposit_document(
        world.rt, professional_account_id=world.gp.id, professional_id=world.gp.professional_id,
        patient=matching.PatientClaim(world.person.matricule, world.person.birth_name,
                                      world.person.birth_date),
        data=records.DocumentInput("Dépôt", "11488-4", date(2026, 1, 6)),
        chunks=records.bytes_chunks(pdf), size=len(pdf))


# --- closing ------------------------------------------------------------------------------


async def test_closure_needs_the_password_then_the_code(world):
    wrong = (await world.gql(REQUEST, {"p": "not my password"}, token=world.token))["data"][
        "requestAccountClosure"]
    assert wrong["__typename"] == "InvalidCredentials"
    asked = (await world.gql(REQUEST, {"p": PASSWORD}, token=world.token))["data"][
        "requestAccountClosure"]
    assert asked["__typename"] == "LoginChallenge"
    code = code_from(world.notifier.last().text)
    guess = "000000" if code != "000000" else "111111"
    bad = (await world.gql(CONFIRM, {"id": asked["challengeId"], "code": guess, "now": False},
                           token=world.token))["data"]["confirmAccountClosure"]
    assert bad["__typename"] == "InvalidCode"
    assert (await Account.get(id=world.account.id)).status is AccountStatus.ACTIVE
    # A professional (or anyone not a patient) cannot close a space.
    refused = await world.gql(REQUEST, {"p": PASSWORD}, token=world.gp_token)
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The right code closes: archived for CLOSED_ARCHIVE_YEARS, nothing deleted.
    closed = (await world.gql(CONFIRM, {"id": asked["challengeId"], "code": code,
                                        "now": False}, token=world.token))["data"][
        "confirmAccountClosure"]
    assert closed["__typename"] == "AccountClosure" and closed["deletionRequested"] is False
    row = await Account.get(id=world.account.id)
    assert row.status is AccountStatus.CLOSED and row.closed_at is not None
    assert row.purge_after.year == row.closed_at.year + 10
    assert await Document.filter(person_id=world.person.id).count() == 1
    assert await DataKey.filter(person_id=world.person.id).count() == 1
    # Every session is gone (this one included).
    assert await identity.session_store(world.rt).list(world.account.id) == []
    assert (await world.gql(ME, token=world.token)) == {"data": {"me": None}}
    kinds = await _kinds(world.account.id)
    assert "account.closed" in kinds and "account.deletion_requested" not in kinds


async def _restored(world, before: dict, app_bearer: str) -> list[str]:
    """The reopened space is ACTIVE with everything as it was (the professional's ground, the
    app's token, deposits); the account's trail kinds, oldest first."""
    row = await Account.get(id=world.account.id)
    assert row.status is AccountStatus.ACTIVE and row.closed_at is None
    assert row.purge_after is None
    after = (await world.gql(RECORD, {"id": world.public_id}, token=world.gp_token))["data"][
        "patientRecord"]
    assert after == before
    assert "errors" not in await world.gql(WEIGHTS, token=app_bearer)
    await _deposit(world)
    return await _kinds(world.account.id)


async def test_after_closure_nobody_reads_or_writes_and_reopening_restores_it(world):
    app_bearer = await app_token(world, ["profile:read"])
    before = (await world.gql(RECORD, {"id": world.public_id}, token=world.gp_token))["data"][
        "patientRecord"]
    assert before["ground"] == "CARE_TEAM" and before["documents"]["totalCount"] == 1
    assert "errors" not in await world.gql(WEIGHTS, token=app_bearer)
    await _close(world)
    # The professional with a ground reads nothing, and no longer lists the patient.
    assert await world.gql(RECORD, {"id": world.public_id}, token=world.gp_token) == {
        "data": {"patientRecord": None}}
    assert (await world.gql(PATIENTS, token=world.gp_token))["data"]["patients"] == []
    # The app's token stops at its very next use.
    stopped = await world.gql(WEIGHTS, token=app_bearer)
    assert stopped["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    # A deposit is refused like an unknown patient, and nothing is stored.
    with pytest.raises(matching.PatientNotFound):
        await _deposit(world)
    assert await Document.filter(person_id=world.person.id).count() == 1
    # Signing in again (identifier, password, code) opens no session: only a ticket.
    closed = await _sign_in_closed(world)
    assert closed["deletionRequested"] is False and closed["reopenTicket"]
    reopened = (await world.gql(REOPEN, {"t": closed["reopenTicket"]}))["data"]["reopenAccount"]
    assert reopened["__typename"] == "Session"
    # One use only.
    again = (await world.gql(REOPEN, {"t": closed["reopenTicket"]}))["data"]["reopenAccount"]
    assert again["__typename"] == "CodeExpired"
    assert (await world.gql(ME, token=reopened["token"]))["data"]["me"]["id"] == str(
        world.account.id)
    kinds = await _restored(world, before, app_bearer)
    assert kinds.index("account.closed") < kinds.index("account.reopened")


# --- a closed space's owner who forgot their password ---------------------------------------


async def _sign_in_closed_with(world, password: str) -> dict:
    body = await world.gql(LOGIN, {"identifier": EMAIL, "password": password})
    challenge = body["data"]["login"]
    if challenge["__typename"] != "LoginChallenge":
        return challenge
    code = code_from(world.notifier.last().text)
    return (await world.gql(VERIFY, {"id": challenge["challengeId"], "code": code}))[
        "data"]["verifyLoginCode"]


async def _reset(world, identifier: str = EMAIL) -> tuple[dict, str | None]:
    """Ask for a reset code; the code sent (None: nothing was sent, a decoy)."""
    world.notifier.clear()
    asked = await reset.request(world.gql, identifier)
    assert asked["__typename"] == "PasswordResetRequested", asked
    await notices.drain()
    sent = [m for m in world.notifier.sent if m.to == EMAIL]
    return asked, code_from(sent[-1].text) if sent else None


async def test_a_closed_space_whose_password_was_forgotten_is_reset_then_reopened(world):
    app_bearer = await app_token(world, ["profile:read"])
    before = (await world.gql(RECORD, {"id": world.public_id}, token=world.gp_token))["data"][
        "patientRecord"]
    await _close(world)
    asked, code = await _reset(world)
    assert code is not None  # to the space's verified contact
    done = await reset.confirm(world.gql, asked["challengeId"], code, reset.NEW_PASSWORD)
    assert done == {"__typename": "PasswordReset", "sessionsClosed": 0}
    # The reset does not reopen: still closed, archived, nothing deleted.
    row = await Account.get(id=world.account.id)
    assert row.status is AccountStatus.CLOSED and row.closed_at is not None
    assert await Document.filter(person_id=world.person.id).count() == 1
    stopped = await world.gql(WEIGHTS, token=app_bearer)
    assert stopped["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    # The old password no longer signs in; the new one answers as a closed account does.
    old = (await world.gql(LOGIN, {"identifier": EMAIL, "password": PASSWORD}))["data"]["login"]
    assert old["__typename"] == "InvalidCredentials"
    closed = await _sign_in_closed_with(world, reset.NEW_PASSWORD)
    assert closed["__typename"] == "AccountClosed" and closed["reopenTicket"]
    assert await identity.session_store(world.rt).list(world.account.id) == []
    reopened = (await world.gql(REOPEN, {"t": closed["reopenTicket"]}))["data"]["reopenAccount"]
    assert reopened["__typename"] == "Session"
    kinds = await _restored(world, before, app_bearer)
    assert kinds.index("account.closed") < kinds.index("account.password_changed") \
        < kinds.index("account.reopened")


async def test_a_deletion_asked_or_a_purged_space_is_reset_like_an_unknown_one(world):
    await _close(world)
    # The code of a reset asked while archived: the deletion asked since then makes it void.
    pending, code = await _reset(world)
    assert code is not None
    closed = await _sign_in_closed(world)
    asked = (await world.gql(DELETE, {"t": closed["reopenTicket"]}))["data"][
        "requestAccountDeletion"]
    assert asked["deletionRequested"] is True
    late = await reset.confirm(world.gql, pending["challengeId"], code, reset.NEW_PASSWORD)
    assert late["__typename"] == "CodeExpired"
    # Deletion asked: a decoy, like an unknown identifier (same shape, nothing sent).
    unknown, nothing = await _reset(world, "nobody-closure@example.fr")
    decoy, none_sent = await _reset(world)
    assert nothing is None and none_sent is None
    assert reset._shape(decoy) == reset._shape(unknown)
    tries = [await reset.confirm(world.gql, decoy["challengeId"], "123456", reset.NEW_PASSWORD)
             for _ in range(5)]
    assert [t.get("attemptsLeft") for t in tries[:4]] == [4, 3, 2, 1]
    assert (await _sign_in_closed(world))["deletionRequested"] is True  # the old password
    # Purged: the row is gone, the identifier unknown.
    row = await Account.get(id=world.account.id)
    assert await closure.purge_due_accounts(world.rt, row.purge_after) == 1
    purged, nothing = await _reset(world)
    assert nothing is None and reset._shape(purged) == reset._shape(unknown)


async def test_a_ticket_is_no_session_and_opens_nothing_else(world):
    await _close(world)
    closed = await _sign_in_closed(world)
    assert await world.gql(ME, token=closed["reopenTicket"]) == {"data": {"me": None}}
    assert await identity.session_store(world.rt).list(world.account.id) == []


# --- deletion and purge -------------------------------------------------------------------


async def _raw(sql: str, *values) -> list[dict]:
    conn = connections.get("default")
    placeholder = "?" if conn.capabilities.dialect == "sqlite" else "$1"
    return list((await conn.execute_query(sql.replace("%s", placeholder), list(values)))[1])


async def _left_behind(person_id: int, account_id: int) -> dict[str, int]:
    """Rows of any table still naming the person or the account (through a foreign key, or a
    `patient_id` / `person_id` column), but the audit trail and the access log."""
    kept = {"audit_event", "access_log_entry", "access_log_head", "data_version"}
    found = {}
    for model in Tortoise.apps["carnet"].values():
        table = model._meta.db_table
        if table in kept:
            continue
        for name, field in model._meta.fields_map.items():
            target = None
            if isinstance(field, ForeignKeyFieldInstance | OneToOneFieldInstance):
                target = {Person: person_id, Account: account_id}.get(field.related_model)
                column = field.source_field or f"{name}_id"
            elif name in ("patient_id", "person_id"):
                target, column = person_id, name
            if target is None:
                continue
            # Table and column names come from the models, never from input.
            sql = f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = %s"  # noqa: S608
            count = (await _raw(sql, target))[0]["n"]
            if count:
                found[f"{table}.{column}"] = count
    for table, value in (("person", person_id), ("account", account_id)):
        sql = f"SELECT COUNT(*) AS n FROM {table} WHERE id = %s"  # noqa: S608
        if (await _raw(sql, value))[0]["n"]:
            found[table] = 1
    return found


async def test_deletion_on_request_shreds_the_data_keys_and_deletes_the_blobs(world, caplog):
    # Carnet's own loggers at DEBUG; libraries at INFO (aiosqlite logs every statement's
    # parameters at DEBUG: ids and ciphertext only, never plaintext, but not at INFO).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="backend")
    rt = world.rt
    person_id, account_id = world.person.id, world.account.id
    doc = (await _raw("SELECT id, title_encrypted, data_key_id, blob_name FROM document "
                      "WHERE person_id = %s", person_id))[0]
    entry = (await _raw("SELECT id, text_encrypted, data_key_id FROM profile_allergy "
                        "WHERE person_id = %s", person_id))[0]
    identity_row = (await _raw("SELECT birth_name FROM person WHERE id = %s", person_id))[0]
    assert await rt.blobs.exists(doc["blob_name"])
    # Before: the ciphertext of the dump decrypts with the data key the master key unwraps.
    data_key = await keys.data_key_by_id(rt.settings, doc["data_key_id"])
    title = keys.decrypt_bytes(data_key, bytes(doc["title_encrypted"]),
                               associated=records._title_associated(world.document.id))
    assert title.decode() == TITLE
    assert profile_services.unseal(data_key, "allergy", world.allergy.id,
                                   bytes(entry["text_encrypted"]))

    # The professional reads the record: the patient's access log has entries.
    assert (await world.gql(RECORD, {"id": world.public_id}, token=world.gp_token))["data"][
        "patientRecord"] is not None
    logged = await AccessLogEntry.filter(patient_id=person_id).count()
    assert logged > 0
    closed = await _close(world, delete_now=True)
    assert closed["deletionRequested"] is True
    now = rt.clock()
    assert await closure.purge_due_accounts(rt, now) == 0  # not due yet: nothing happens
    assert await DataKey.filter(person_id=person_id).exists()
    due = now + timedelta(days=rt.settings.closed_deletion_days, minutes=1)
    assert await closure.purge_due_accounts(rt, due) == 1
    assert await closure.purge_due_accounts(rt, due) == 0  # idempotent

    # The data key rows are gone: the ciphertext (from a dump taken before, a replica, dead
    # tuples) cannot be decrypted any more, not even with the master key.
    assert await DataKey.filter(person_id=person_id).count() == 0
    with pytest.raises(keys.DataKeyNotFound):
        await keys.data_key_by_id(rt.settings, doc["data_key_id"])
    for row in await _raw("SELECT id, person_id, master_key_id, wrapped_key FROM data_key"):
        other = keys.unwrap_joined(rt.settings, data_key_id=row["id"],
                                   person_id=row["person_id"],
                                   master_key_id=row["master_key_id"],
                                   wrapped_key=bytes(row["wrapped_key"]))
        with pytest.raises(keys.CorruptContent):
            keys.decrypt_bytes(other, bytes(doc["title_encrypted"]),
                               associated=records._title_associated(world.document.id))
    # And the rows themselves are gone, identity included; the blob too.
    assert await _raw("SELECT id FROM document WHERE person_id = %s", person_id) == []
    assert await _raw("SELECT id FROM profile_allergy WHERE person_id = %s", person_id) == []
    assert await _left_behind(person_id, account_id) == {}
    assert not await rt.blobs.exists(doc["blob_name"])
    # The audit trail keeps each step (ids only).
    kinds = await _kinds(account_id)
    for kind in ("account.closed", "account.deletion_requested", "account.purged"):
        assert kinds.count(kind) == 1, kinds
    # The access log outlives the record (no health data in it), and its chain still verifies.
    assert await AccessLogEntry.filter(patient_id=person_id).count() == logged
    report = await verify_all()
    assert report.ok and report.chains >= 1
    # Signing in: unknown now, like any wrong identifier.
    body = await world.gql(LOGIN, {"identifier": EMAIL, "password": PASSWORD})
    assert body["data"]["login"]["__typename"] == "InvalidCredentials"
    # No identity or health data, no code or password in the logs.
    text = caplog.text
    for secret in (EMAIL, PASSWORD, TITLE, "Arachide", world.person.matricule,
                   identity_row["birth_name"] if isinstance(identity_row["birth_name"], str)
                   else "DUPONT", world.public_id):
        assert secret not in text, secret


async def test_deletion_asked_after_closure_and_reopening_before_the_purge(world):
    await _close(world)
    closed = await _sign_in_closed(world)
    asked = (await world.gql(DELETE, {"t": closed["reopenTicket"]}))["data"][
        "requestAccountDeletion"]
    assert asked["__typename"] == "AccountClosure" and asked["deletionRequested"] is True
    row = await Account.get(id=world.account.id)
    assert row.deletion_requested_at is not None
    assert row.purge_after <= row.deletion_requested_at + timedelta(days=90)
    # Until a purge starts, the owner may still change their mind.
    closed = await _sign_in_closed(world)
    assert closed["deletionRequested"] is True
    reopened = (await world.gql(REOPEN, {"t": closed["reopenTicket"]}))["data"]["reopenAccount"]
    assert reopened["__typename"] == "Session"
    assert (await Account.get(id=world.account.id)).deletion_requested_at is None
    assert await closure.purge_due_accounts(world.rt, world.rt.clock() + timedelta(days=400)) \
        == 0


async def test_the_archive_is_purged_after_its_years_through_the_same_function(world):
    await _close(world)
    row = await Account.get(id=world.account.id)
    assert await closure.purge_due_accounts(world.rt, row.purge_after - timedelta(days=1)) == 0
    assert await Account.filter(id=world.account.id).exists()
    assert await closure.purge_due_accounts(world.rt, row.purge_after) == 1
    assert await _left_behind(world.person.id, world.account.id) == {}
    events = await AuditEvent.filter(account_id=world.account.id, kind=AuditKind.ACCOUNT_PURGED)
    assert [e.detail["reason"] for e in events] == ["archive"]


async def test_a_started_purge_cannot_be_undone_by_reopening(world):
    await _close(world, delete_now=True)
    closed = await _sign_in_closed(world)
    due = world.rt.clock() + timedelta(days=91)
    assert await closure._claim(world.account.id, due)  # a runner has started (then died)
    reopened = (await world.gql(REOPEN, {"t": closed["reopenTicket"]}))["data"]["reopenAccount"]
    assert reopened["__typename"] == "CodeExpired"
    # The claim expires; the next run finishes the purge.
    assert await closure.purge_due_accounts(world.rt, due) == 0
    assert await closure.purge_due_accounts(world.rt, due + closure.PURGE_LEASE * 2) == 1


async def test_two_concurrent_purge_runs_delete_each_account_once(world):
    rt = world.rt
    accounts = []
    for n in range(4):
        account = await create_patient(email=f"purge{n}@example.fr")
        await store(rt, account.person_id, title=f"Doc {n}")
        viewer = identity.Viewer(account_id=account.id, role="patient", session_id="s",
                                 person_id=account.person_id)
        challenge = await closure.request_account_closure(
            rt, viewer, current_password=PASSWORD, channel=None, caller=CALLER)
        await closure.confirm_account_closure(
            rt, viewer, challenge_id=challenge.id, code=code_from(world.notifier.last().text),
            delete_now=True, caller=CALLER)
        accounts.append(account)
    due = rt.clock() + timedelta(days=91)
    counts = await asyncio.gather(closure.purge_due_accounts(rt, due, batch_size=2),
                                  closure.purge_due_accounts(rt, due, batch_size=2))
    assert sum(counts) == 4, counts
    for account in accounts:
        assert not await Account.filter(id=account.id).exists()
        assert await AuditEvent.filter(account_id=account.id,
                                       kind=AuditKind.ACCOUNT_PURGED).count() == 1
        assert await _left_behind(account.person_id, account.id) == {}
    # The patient of the fixture, not closed, is untouched.
    assert await Document.filter(person_id=world.person.id).count() == 1
    assert await DataKey.filter(person_id=world.person.id).count() == 1


async def test_a_professional_in_a_conversation_no_longer_reads_or_writes_it(world):
    from tests.messaging_helpers import CONVERSATIONS, MESSAGES, SEND, start

    started = await start(world.gql, world.gp_token, world.account, body="Vos résultats")
    assert started["__typename"] == "ConversationStarted", started
    conversation_id = started["conversation"]["id"]
    read = {"c": conversation_id, "first": 10, "after": None, "before": None}
    before = (await world.gql(MESSAGES, read, token=world.gp_token))["data"]["messages"]
    assert [e["node"]["body"] for e in before["edges"]] == ["Vos résultats"]
    await _close(world)
    after = await world.gql(MESSAGES, read, token=world.gp_token)
    assert after["data"]["messages"] is None or after["data"]["messages"]["edges"] == [], after
    listed = (await world.gql(CONVERSATIONS, {"first": 10}, token=world.gp_token))["data"]
    assert listed["conversations"]["edges"] == []
    sent = (await world.gql(SEND, {"c": conversation_id, "body": "Encore là ?", "att": []},
                            token=world.gp_token))["data"]["sendMessage"]
    assert sent["__typename"] == "ConversationNotFound", sent
    # Reopened: the conversation is back.
    closed = await _sign_in_closed(world)
    await world.gql(REOPEN, {"t": closed["reopenTicket"]})
    again = (await world.gql(MESSAGES, read, token=world.gp_token))["data"]["messages"]
    assert [e["node"]["body"] for e in again["edges"]] == ["Vos résultats"]
    listed = (await world.gql(CONVERSATIONS, {"first": 10}, token=world.gp_token))["data"]
    assert [e["node"]["id"] for e in listed["conversations"]["edges"]] == [conversation_id]
