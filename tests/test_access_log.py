"""The access log the patient reads: buffering, one-statement writes, the hash chain and its
signed checkpoints, tamper detection by `carnet audit verify`, the patient's `accessLog`
query, and key rotation."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import strawberry
from strawberry.types import Info
from tortoise import connections

from backend.audit import access_log
from backend.audit.extension import AccessLogExtension
from backend.audit.models import AccessGround, AccessKind, AccessLogEntry, AccessLogHead
from backend.audit.verify import resign_checkpoints, verify_all
from backend.crypto import keyring, master_key_id
from backend.identity.models import Person
from backend.settings import decode_master_key, generate_master_key
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in
from tests.querycount import count_queries

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Reader:
    account_id: int
    professional_id: int | None = None
    profession: str | None = None
    person_id: int | None = None


DOCTOR = Reader(account_id=101, professional_id=11, profession="Médecin")
PHARMACIST = Reader(account_id=102, professional_id=12, profession="Pharmacien")


def add(recorder: access_log.AccessRecorder, patient_id: int, n: int,
        reader: Reader = DOCTOR) -> None:
    for _ in range(n):
        recorder.add(patient_id=patient_id, reader=reader, kind=AccessKind.DOCUMENT,
                     ground=AccessGround.CARE_TEAM, document_id=uuid.uuid4())


async def write(patient_id: int, n: int, reader: Reader = DOCTOR) -> None:
    recorder = access_log.AccessRecorder()
    add(recorder, patient_id, n, reader)
    assert await recorder.flush() == n


async def sql(query: str, *values: object) -> list[dict]:
    _, rows = await connections.get("default").execute_query(query, list(values))
    return [dict(r) for r in rows]


async def chain(patient_id: int) -> list[AccessLogEntry]:
    return await AccessLogEntry.filter(patient_id=patient_id).order_by("seq")


# --- writing ----------------------------------------------------------------------------------


async def test_one_statement_writes_every_entry_of_a_request_and_the_chain_verifies(clean):
    recorder = access_log.AccessRecorder()
    add(recorder, 1, 5)
    add(recorder, 2, 2, PHARMACIST)
    recorder.add(patient_id=1, reader=DOCTOR, kind=AccessKind.PROFILE,
                 ground=AccessGround.DECLARED, section="allergies")
    with count_queries() as counter:
        assert await recorder.flush() == 8
    assert counter.count == 1, counter.statements
    # The next request continues both chains, again in one statement.
    recorder = access_log.AccessRecorder()
    add(recorder, 1, 3)
    add(recorder, 2, 1)
    with count_queries() as counter:
        await recorder.flush()
    assert counter.count == 1
    with count_queries() as counter:  # nothing buffered: no SQL at all
        assert await access_log.AccessRecorder().flush() == 0
    assert counter.count == 0

    rows = await chain(1)
    assert [r.seq for r in rows] == list(range(1, 10))
    assert rows[0].prev_hash == access_log.genesis(1)
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert rows[5].kind is AccessKind.PROFILE and rows[5].section == "allergies"
    assert rows[0].profession == "Médecin" and rows[0].professional_id == 11
    head = await AccessLogHead.get(patient_id=1)
    assert (head.last_seq, head.last_hash, head.key_id) == (9, rows[-1].hash,
                                                            keyring().current_id)
    # PostgreSQL computed the hashes and the HMAC; Python recomputes exactly the same.
    assert head.mac == access_log.checkpoint_mac(keyring().current, 1, 9, rows[-1].hash)
    report = await verify_all()
    assert report.ok and (report.chains, report.entries) == (2, 12), report.broken


async def test_generic_writer_computes_the_same_chain(clean):
    """The Python writer (SQLite in development) and the SQL one agree, entry after entry."""
    recorder = access_log.AccessRecorder()
    add(recorder, 3, 2)
    await access_log._write_generic(recorder.entries)
    await write(3, 2)  # PostgreSQL continues the chain the Python writer started
    recorder = access_log.AccessRecorder()
    add(recorder, 3, 1)
    await access_log._write_generic(recorder.entries)
    assert [r.seq for r in await chain(3)] == [1, 2, 3, 4, 5]
    assert (await verify_all()).ok


async def test_concurrent_requests_for_one_patient_never_fork_the_chain(clean):
    # Twelve requests at once, first entries included (no head yet: the race on seq 1 is
    # refused by the unique index and retried).
    async def one(i: int) -> None:
        await write(7, 1 + i % 3, Reader(account_id=200 + i, professional_id=20 + i,
                                         profession="Infirmier"))

    await asyncio.gather(*(one(i) for i in range(12)))
    rows = await chain(7)
    assert [r.seq for r in rows] == list(range(1, sum(1 + i % 3 for i in range(12)) + 1))
    report = await verify_all()
    assert report.ok, report.broken


async def test_what_the_log_refuses_or_ignores(clean):
    recorder = access_log.AccessRecorder()
    patient = Reader(account_id=5, person_id=9)
    recorder.add(patient_id=9, reader=patient, kind=AccessKind.DOCUMENT,
                 ground=AccessGround.APP)
    assert recorder.entries == []  # the patient reading their own record is not an access
    with pytest.raises(ValueError, match="section NAME"):  # never free text (health data)
        recorder.add(patient_id=9, reader=DOCTOR, kind=AccessKind.PROFILE,
                     ground=AccessGround.CARE_TEAM, section="Allergie à la pénicilline")
    with pytest.raises(ValueError, match="profession"):
        recorder.add(patient_id=9, reader=Reader(account_id=1, professional_id=2),
                     kind=AccessKind.DOCUMENT, ground=AccessGround.CARE_TEAM)
    doc = uuid.uuid4()
    for _ in range(2):  # the same read twice in a request: one entry
        recorder.add(patient_id=9, reader=DOCTOR, kind=AccessKind.DOCUMENT,
                     ground=AccessGround.CARE_TEAM, document_id=doc)
    assert len(recorder.entries) == 1
    with pytest.raises(access_log.NoAccessRecorder):  # no buffer open: fail closed
        access_log.record(patient_id=9, reader=DOCTOR, kind=AccessKind.DOCUMENT,
                          ground=AccessGround.CARE_TEAM)


async def test_http_handlers_record_with_one_call_and_flush_on_exit(clean):
    async with access_log.recording():
        access_log.record(patient_id=4, reader=DOCTOR, kind=AccessKind.DOCUMENT_CONTENT,
                          ground=AccessGround.TREATING_DOCTOR, document_id=uuid.uuid4())
        assert await AccessLogEntry.filter(patient_id=4).count() == 0  # buffered, no SQL yet
    assert await AccessLogEntry.filter(patient_id=4).count() == 1
    with pytest.raises(RuntimeError, match="boom"):
        async with access_log.recording():
            access_log.record(patient_id=4, reader=DOCTOR, kind=AccessKind.EXPORT,
                              ground=AccessGround.EMERGENCY)
            raise RuntimeError("boom")
    assert [r.kind for r in await chain(4)] == [AccessKind.DOCUMENT_CONTENT, AccessKind.EXPORT]


# --- the GraphQL hook -------------------------------------------------------------------------


@strawberry.type
class _ReadQuery:
    @strawberry.field
    async def read(self, info: Info, patient: int, times: int) -> int:
        for _ in range(times):
            access_log.record(patient_id=patient, reader=DOCTOR, kind=AccessKind.DOCUMENT,
                              ground=AccessGround.CARE_TEAM, document_id=uuid.uuid4())
        return times


_READ_SCHEMA = strawberry.Schema(query=_ReadQuery, extensions=[AccessLogExtension])
READ = ("query R($p: Int!, $n: Int!) "
        "{ a: read(patient: $p, times: $n) b: read(patient: $p, times: 1) }")


async def test_graphql_operation_writes_its_reads_in_one_statement(clean):
    for n in (1, 10):
        with count_queries() as counter:
            result = await _READ_SCHEMA.execute(READ, variable_values={"p": 5, "n": n})
        assert result.errors is None and result.data == {"a": n, "b": 1}
        assert counter.count == 1, counter.statements  # whatever the number of reads
    assert await AccessLogEntry.filter(patient_id=5).count() == 13


async def test_graphql_operation_fails_when_its_reads_cannot_be_logged(clean, monkeypatch):
    async def broken(entries):  # noqa: ANN001
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(access_log, "write_entries", broken)
    result = await _READ_SCHEMA.execute(READ, variable_values={"p": 5, "n": 2})
    assert result.data is None and result.errors  # nothing disclosed unlogged


async def test_real_schema_has_the_extension_and_the_query():
    from backend.schema import build_schema

    schema = build_schema()
    assert AccessLogExtension in schema.extensions
    assert "accessLog(first: Int! = 20, after: String = null): AccessLogConnection!" in (
        schema.as_str())


# --- tampering (raw SQL on PostgreSQL) --------------------------------------------------------


@pytest.fixture
async def chains(clean):
    """Patient A (a real person) with 6 entries, patient B with 3; both intact."""
    account = await create_patient()
    person = await Person.get(id=account.person_id)
    a, b = person.id, person.id + 1000
    await write(a, 4)
    await write(a, 2, PHARMACIST)
    await write(b, 3)
    assert (await verify_all()).ok
    return {"a": a, "b": b, "public": str(person.public_id)}


async def broken_only(patient_id: int) -> tuple[int | None, str]:
    report = await verify_all()
    assert len(report.broken) == 1, [b.describe() for b in report.broken]
    broken = report.broken[0]
    assert broken.patient_id == patient_id
    return broken.seq, broken.problem


async def test_a_modified_field_is_named(chains):
    await sql("UPDATE access_log_entry SET profession = 'Dentiste' "
              "WHERE patient_id = $1 AND seq = 3", chains["a"])
    seq, problem = await broken_only(chains["a"])
    assert seq == 3 and "modified" in problem
    report = await verify_all()
    assert chains["public"] in report.broken[0].describe()


async def test_a_modified_time_or_document_is_named(chains):
    await sql("UPDATE access_log_entry SET document_id = $2 WHERE patient_id = $1 AND seq = 5",
              chains["a"], uuid.uuid4())
    assert await broken_only(chains["a"]) == (5, "modified (its hash does not match its fields)")


async def test_a_deleted_middle_entry_is_named(chains):
    await sql("DELETE FROM access_log_entry WHERE patient_id = $1 AND seq = 3", chains["a"])
    seq, problem = await broken_only(chains["a"])
    assert seq == 3 and "missing" in problem


async def test_a_forged_entry_is_named_even_with_a_correct_hash(chains):
    rows = await chain(chains["a"])
    at = datetime.now(UTC)
    digest = access_log.body_digest(
        patient_id=chains["a"], account_id=999, professional_id=None, profession=None,
        kind="export", section=None, document_id=None, ground="care_team", created_at=at)
    forged = access_log.entry_hash(7, rows[-1].hash, digest)
    await sql("INSERT INTO access_log_entry (patient_id, seq, account_id, kind, ground, "
              "created_at, prev_hash, hash) VALUES ($1, 7, 999, 'export', 'care_team', $2, $3, "
              "$4)", chains["a"], at, rows[-1].hash, forged)
    seq, problem = await broken_only(chains["a"])
    assert seq == 7 and "after the signed checkpoint" in problem


async def test_a_forged_entry_inside_the_chain_is_named(chains):
    """Entries 4-6 pushed to 5-7 and a forged entry 4 chained correctly after entry 3: the
    first entry that no longer follows is named."""
    a = chains["a"]
    for seq in (6, 5, 4):
        await sql("UPDATE access_log_entry SET seq = seq + 1 WHERE patient_id = $1 AND seq = $2",
                  a, seq)
    rows = await chain(a)
    at = datetime.now(UTC)
    digest = access_log.body_digest(
        patient_id=a, account_id=999, professional_id=None, profession=None, kind="export",
        section=None, document_id=None, ground="care_team", created_at=at)
    await sql("INSERT INTO access_log_entry (patient_id, seq, account_id, kind, ground, "
              "created_at, prev_hash, hash) VALUES ($1, 4, 999, 'export', 'care_team', $2, $3, "
              "$4)", a, at, rows[2].hash, access_log.entry_hash(4, rows[2].hash, digest))
    seq, problem = await broken_only(a)
    assert seq == 5 and "does not follow" in problem


async def test_swapped_entries_are_named(chains):
    a = chains["a"]
    await sql("UPDATE access_log_entry SET seq = -1 WHERE patient_id = $1 AND seq = 2", a)
    await sql("UPDATE access_log_entry SET seq = 2 WHERE patient_id = $1 AND seq = 4", a)
    await sql("UPDATE access_log_entry SET seq = 4 WHERE patient_id = $1 AND seq = -1", a)
    seq, problem = await broken_only(a)
    assert seq == 2 and "does not follow" in problem


async def test_deleted_latest_entries_are_named_by_the_checkpoint(chains):
    await sql("DELETE FROM access_log_entry WHERE patient_id = $1 AND seq >= 5", chains["a"])
    seq, problem = await broken_only(chains["a"])
    assert seq == 5 and "latest entries deleted" in problem


async def test_deleted_tail_with_a_rewound_head_fails_the_signature(chains):
    a = chains["a"]
    rows = await chain(a)
    await sql("DELETE FROM access_log_entry WHERE patient_id = $1 AND seq >= 5", a)
    await sql("UPDATE access_log_head SET last_seq = 4, last_hash = $2 WHERE patient_id = $1",
              a, rows[3].hash)
    seq, problem = await broken_only(a)
    assert seq is None and "signature invalid" in problem


async def test_a_rewritten_chain_is_detected(chains):
    """Whoever can write the database can recompute SHA-256: the signed head still knows."""
    a = chains["a"]
    await sql("UPDATE access_log_entry SET profession = 'Dentiste' WHERE patient_id = $1", a)
    prev = access_log.genesis(a)
    for row in await chain(a):
        new = access_log.entry_hash(row.seq, prev, access_log.row_digest(row))
        await sql("UPDATE access_log_entry SET prev_hash = $2, hash = $3 WHERE id = $1",
                  row.id, prev, new)
        prev = new
    seq, problem = await broken_only(a)
    assert seq == 6 and "rewritten" in problem
    await sql("UPDATE access_log_head SET last_hash = $2 WHERE patient_id = $1", a, prev)
    seq, problem = await broken_only(a)
    assert "signature invalid" in problem


async def test_a_deleted_head_is_detected(chains):
    await sql("DELETE FROM access_log_head WHERE patient_id = $1", chains["a"])
    seq, problem = await broken_only(chains["a"])
    assert seq is None and "no signed checkpoint" in problem


def run_cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backend.cli", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_cli_audit_verify_exit_status_names_the_broken_entry(chains, server_env):
    result = await asyncio.to_thread(run_cli, server_env, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"chains": 2, "entries": 9, "broken": 0, "ok": True}
    await sql("DELETE FROM access_log_entry WHERE patient_id = $1 AND seq = 2", chains["a"])
    result = await asyncio.to_thread(run_cli, server_env, "audit", "verify")
    assert result.returncode == 1
    assert json.loads(result.stdout)["broken"] == 1
    assert f"patient {chains['public']} (#{chains['a']}): entry 2: entry 2 is missing" in (
        result.stderr)


# --- key rotation -----------------------------------------------------------------------------


async def test_rotation_resigns_checkpoints_and_never_launders_a_forged_one(chains):
    old = keyring().current
    new = decode_master_key(generate_master_key())
    old_id, new_id = master_key_id(old), master_key_id(new)
    await sql("UPDATE access_log_head SET last_seq = 2 WHERE patient_id = $1", chains["b"])
    result = await resign_checkpoints(new, {old_id: old}, batch_size=1)
    assert result == {"resigned": 1, "skipped": 1}
    heads = {h.patient_id: h for h in await AccessLogHead.all()}
    assert heads[chains["a"]].key_id == new_id and heads[chains["b"]].key_id == old_id
    # Once the old key is dropped, A still verifies and the forged B is still reported.
    report = await verify_all({new_id: new})
    assert [b.patient_id for b in report.broken] == [chains["b"]]
    # During the rotation every known key verifies.
    report = await verify_all({old_id: old, new_id: new})
    assert [(b.patient_id, "signature invalid" in b.problem) for b in report.broken] == [
        (chains["b"], True)]


async def test_keys_rotate_command_resigns_the_access_log(chains, settings):
    from backend.keys.cli import rotate_command

    new_text = generate_master_key()
    out = await rotate_command(settings, new_text)
    assert (out["checkpointsResigned"], out["checkpointsNotResigned"]) == (2, 0)
    new = decode_master_key(new_text)
    assert (await verify_all({master_key_id(new): new})).ok


# --- the patient's GraphQL query --------------------------------------------------------------

ACCESS_LOG = """query Log($first: Int!, $after: String) {
  accessLog(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { seq at kind section documentId ground
      reader { accountId profession professional { id rpps profession specialty } } } }
  }
}"""


async def test_patient_reads_their_access_log_newest_first(gql, notifier, clean):
    patient = await create_patient()
    token = await sign_in(gql, notifier, patient.identifier, PASSWORD)
    pros = [await create_professional() for _ in range(3)]
    for i, pro in enumerate(pros):
        reader = Reader(account_id=pro.id, professional_id=pro.professional_id,
                        profession="Médecin")
        recorder = access_log.AccessRecorder()
        recorder.add(patient_id=patient.person_id, reader=reader, kind=AccessKind.PROFILE,
                     ground=AccessGround.DECLARED, section="allergies")
        add(recorder, patient.person_id, 2 + i, reader)
        await recorder.flush()
    await write(patient.person_id + 5000, 2)  # someone else's log: never shown

    async def page(first: int, after: str | None = None) -> tuple[dict, int]:
        with count_queries() as counter:
            body = await gql(ACCESS_LOG, {"first": first, "after": after}, token=token)
        assert "errors" not in body, body
        return body["data"]["accessLog"], counter.count

    small, small_count = await page(1)
    large, large_count = await page(12)
    assert small_count == large_count, (small_count, large_count)  # loader: no N+1
    assert large["totalCount"] == 12 and not large["pageInfo"]["hasNextPage"]
    assert [e["node"]["seq"] for e in large["edges"]] == list(range(12, 0, -1))
    newest = large["edges"][0]["node"]
    assert newest["kind"] == "DOCUMENT" and newest["ground"] == "CARE_TEAM"
    assert newest["reader"]["professional"]["rpps"] and newest["reader"]["profession"]
    assert newest["documentId"]
    profile_read = large["edges"][-1]["node"]
    assert (profile_read["kind"], profile_read["section"], profile_read["documentId"]) == (
        "PROFILE", "allergies", None)
    # Paging on.
    assert small["pageInfo"]["hasNextPage"]
    second, _ = await page(5, small["pageInfo"]["endCursor"])
    assert [e["node"]["seq"] for e in second["edges"]] == [11, 10, 9, 8, 7]
    # Bad input is refused clearly.
    body = await gql(ACCESS_LOG, {"first": 1, "after": "nope"}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql(ACCESS_LOG, {"first": 500}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_access_log_is_for_patients_only(gql, notifier, clean):
    body = await gql(ACCESS_LOG, {"first": 5})
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    pro = await create_professional()
    token = await sign_in(gql, notifier, pro.identifier, PASSWORD)
    body = await gql(ACCESS_LOG, {"first": 5}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
