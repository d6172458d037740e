"""The access log the patient reads: every read of a patient's data by someone else.

Recording a read, from any read path (GraphQL resolver, FHIR or download handler, service),
is ONE call, with no SQL:

    from backend.audit import access_log
    from backend.audit.models import AccessGround, AccessKind

    access_log.record(patient_id=person.id, reader=viewer, kind=AccessKind.DOCUMENT,
                      ground=AccessGround.CARE_TEAM, document_id=doc.id,
                      profession=professional.profession)

`reader` is anything with `account_id` and, for professionals, `professional_id` (the
identity Viewer); `profession` is copied into the entry (pass it, or give the reader a
`profession` attribute). A read by the patient themself (`reader.person_id == patient_id`) is
not an access and records nothing. `section` names a profile section for `AccessKind.PROFILE`.

The entry goes into the request's buffer (an `AccessRecorder`); the buffer is written at the
end of the request in ONE SQL statement (`flush`), whatever the number of entries and patients:
- GraphQL queries and mutations: `backend.audit.extension.AccessLogExtension` (in the schema's
  extensions) opens a buffer before execution and flushes it after; a failed flush fails the
  operation (nothing is disclosed unlogged).
- Plain HTTP handlers: `async with access_log.recording(): ...` around the read, before the
  response is returned (it flushes on exit, also when the block raises).
`record` outside both raises `NoAccessRecorder`: a read path that forgot to open a buffer fails
closed instead of reading unlogged.

The log (backend.audit.models): per patient, entries numbered 1, 2, 3... each carrying the
SHA-256 of the previous entry (seq 1 chains to a fixed per-patient genesis value), and a head
row (last seq, last hash) with an HMAC-SHA256 under a per-patient key derived from the master
key, so that deleting the latest entries, or rewriting the whole chain, is detected by
`carnet audit verify` (backend.audit.verify). No health data: a kind, a section name, a
document id and the ground, never a title or a value.

Writing, on PostgreSQL, is one statement: a data-modifying CTE locks the patients' head rows
(`SELECT ... ORDER BY patient_id FOR UPDATE`, so two concurrent writers for one patient are
serialised and the second chains after the first), computes the chain with the built-in
sha256() in a recursive CTE, inserts the entries and upserts the heads with their HMAC. The
HMAC is computed by PostgreSQL too, as sha256(opad || sha256(ipad || message)) from the two
pads of the PATIENT's checkpoint key (never the master key, nor the derived checkpoint key that
signs every patient), sent as bind parameters; Carnet never logs statement parameters, and
PostgreSQL logs them only if statement logging is turned on (keep `log_parameter_max_length =
0` if it is). The first entries of a patient written by two requests at once both chain from
genesis: the unique (patient, seq) index refuses the second, which is retried once the first
has committed (the only case with a second statement). Other databases (SQLite in
development: a single writer) compute the same hashes in Python inside one transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tortoise import connections
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from backend.audit.models import AccessGround, AccessKind, AccessLogEntry, AccessLogHead
from backend.crypto import derive_key, keyring
from backend.i18n import N_, Message

CHECKPOINT_PURPOSE = "audit.access-log.checkpoint"
_ENTRY_PREFIX = "carnet-access-log/v1"
_HEAD_PREFIX = "carnet-access-log-head/v1"
_GENESIS_PREFIX = "carnet-access-log/genesis/v1"
_SECTION = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_FLUSH_ATTEMPTS = 5


class NoAccessRecorder(RuntimeError):
    """A read was recorded outside any request buffer (a programming error)."""

    def __init__(self) -> None:
        super().__init__("access_log.record() called outside a GraphQL operation and outside "
                         "`async with access_log.recording()`: the read would go unlogged")


class Reader(Protocol):
    account_id: int


@dataclass(frozen=True)
class PendingEntry:
    patient_id: int
    account_id: int
    professional_id: int | None
    profession: str | None
    kind: AccessKind
    section: str | None
    document_id: uuid.UUID | None
    ground: AccessGround
    created_at: datetime
    app_id: uuid.UUID | None = None
    app_name: str | None = None


# --- canonical serialisation and hashes (shared by the writers and `verify`) ------------------


def _at(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def body_digest(*, patient_id: int, account_id: int, professional_id: int | None,
                profession: str | None, kind: str, section: str | None,
                document_id: uuid.UUID | str | None, ground: str, created_at: datetime,
                app_id: uuid.UUID | str | None = None, app_name: str | None = None) -> str:
    """SHA-256 (hex) of the entry's fields in canonical form: sorted-key JSON, no spaces,
    ASCII only (non-ASCII escaped), times in UTC with microseconds. An app's read adds its id
    and name (absent otherwise: entries written before apps existed keep their digest)."""
    body: dict[str, Any] = {
        "account": account_id, "at": _at(created_at),
        "document": str(document_id) if document_id is not None else None,
        "ground": str(ground), "kind": str(kind), "patient": patient_id,
        "profession": profession, "professional": professional_id, "section": section,
    }
    if app_id is not None:
        body["app"], body["app_name"] = str(app_id), app_name
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def entry_hash(seq: int, prev_hash: str, digest: str) -> str:
    """The chained hash of entry `seq` (the SQL writer computes exactly this)."""
    return hashlib.sha256(f"{_ENTRY_PREFIX}|{seq}|{prev_hash}|{digest}".encode()).hexdigest()


def row_digest(row: AccessLogEntry) -> str:
    return body_digest(
        patient_id=row.patient_id, account_id=row.account_id,
        professional_id=row.professional_id, profession=row.profession,
        kind=str(row.kind), section=row.section, document_id=row.document_id,
        ground=str(row.ground), created_at=row.created_at, app_id=row.app_id,
        app_name=row.app_name)


def genesis(patient_id: int) -> str:
    """What entry 1 of a patient's chain carries as its previous hash."""
    return hashlib.sha256(f"{_GENESIS_PREFIX}|{patient_id}".encode()).hexdigest()


def patient_checkpoint_key(master: bytes, patient_id: int) -> bytes:
    """The key that signs one patient's head (derived from the master key)."""
    return hmac.new(derive_key(master, CHECKPOINT_PURPOSE), f"patient:{patient_id}".encode(),
                    hashlib.sha256).digest()


def _head_message(patient_id: int, seq: int, last_hash: str) -> bytes:
    return f"{_HEAD_PREFIX}|{patient_id}|{seq}|{last_hash}".encode()


def checkpoint_mac(master: bytes, patient_id: int, seq: int, last_hash: str) -> str:
    return hmac.new(patient_checkpoint_key(master, patient_id),
                    _head_message(patient_id, seq, last_hash), hashlib.sha256).hexdigest()


def _hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer pads (RFC 2104) for a 32-byte key."""
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


# --- the per-request buffer -------------------------------------------------------------------


@dataclass
class AccessRecorder:
    """The entries of one request, written together by `flush` (one SQL statement)."""

    entries: list[PendingEntry] = field(default_factory=list)
    _seen: set[tuple[Any, ...]] = field(default_factory=set)

    def add(self, *, patient_id: int, reader: Reader, kind: AccessKind, ground: AccessGround,
            document_id: uuid.UUID | str | None = None, section: str | None = None,
            profession: str | None = None, app_id: uuid.UUID | None = None,
            app_name: str | None = None) -> None:
        if getattr(reader, "person_id", None) == patient_id and app_id is None:
            return  # the patient reading their own record is not an access (an app's is)
        kind, ground = AccessKind(kind), AccessGround(ground)
        if section is not None and not _SECTION.match(section):
            raise ValueError("access log: a section is a section NAME (lowercase identifier)")
        professional_id = getattr(reader, "professional_id", None)
        if profession is None:
            profession = getattr(reader, "profession", None)
        if professional_id is not None and not profession:
            raise ValueError("access log: a professional's profession is copied into the entry;"
                             " pass profession=")
        if profession is not None and len(profession) > 100:
            raise ValueError("access log: profession longer than 100 characters")
        doc = uuid.UUID(str(document_id)) if document_id is not None else None
        if app_name is not None:
            app_name = app_name[:200]
        key = (patient_id, reader.account_id, professional_id, profession, kind, section, doc,
               ground, app_id)
        if key in self._seen:
            return  # the same read twice in one request (e.g. two fields): one entry
        self._seen.add(key)
        self.entries.append(PendingEntry(
            patient_id=int(patient_id), account_id=int(reader.account_id),
            professional_id=professional_id, profession=profession, kind=kind,
            section=section, document_id=doc, ground=ground, created_at=datetime.now(UTC),
            app_id=app_id, app_name=app_name))

    async def flush(self) -> int:
        """Write the buffered entries (one statement on PostgreSQL); returns how many."""
        entries, self.entries, self._seen = self.entries, [], set()
        return await write_entries(entries)


_current: ContextVar[AccessRecorder | None] = ContextVar("carnet_access_recorder", default=None)


def current_recorder() -> AccessRecorder:
    recorder = _current.get()
    if recorder is None:
        raise NoAccessRecorder()
    return recorder


def record(*, patient_id: int, reader: Reader, kind: AccessKind, ground: AccessGround,
           document_id: uuid.UUID | str | None = None, section: str | None = None,
           profession: str | None = None, app_id: uuid.UUID | None = None,
           app_name: str | None = None) -> None:
    """Record one read in the current request's buffer (no SQL; see the module docstring).
    An app's read names the app (`app_id`, `app_name`, copied like the profession)."""
    current_recorder().add(patient_id=patient_id, reader=reader, kind=kind, ground=ground,
                           document_id=document_id, section=section, profession=profession,
                           app_id=app_id, app_name=app_name)


@contextlib.contextmanager
def buffering() -> Any:
    """Open a request buffer for the block (the caller flushes it)."""
    recorder = AccessRecorder()
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)


@contextlib.asynccontextmanager
async def recording() -> AsyncIterator[AccessRecorder]:
    """For plain HTTP handlers: buffer the reads of the block and write them on exit (before
    the response leaves the handler), also when the block raises."""
    with buffering() as recorder:
        try:
            yield recorder
        finally:
            await recorder.flush()


# --- writing ----------------------------------------------------------------------------------


def _retryable(exc: BaseException) -> bool:
    """Two writers raced on a patient's first entries (unique seq), or a deadlock."""
    if isinstance(exc, IntegrityError):
        return True
    cause = exc.__cause__ or exc.__context__
    name = type(cause).__name__ if cause is not None else ""
    return isinstance(exc, OperationalError) and name in (
        "DeadlockDetectedError", "SerializationError")


async def write_entries(entries: Sequence[PendingEntry]) -> int:
    if not entries:
        return 0
    conn = connections.get("default")
    for attempt in range(_FLUSH_ATTEMPTS):
        try:
            if conn.capabilities.dialect == "postgres":
                await _write_postgres(conn, entries)
            else:
                await _write_generic(entries)
            return len(entries)
        except (IntegrityError, OperationalError) as exc:
            if attempt == _FLUSH_ATTEMPTS - 1 or not _retryable(exc):
                raise
    raise AssertionError("unreachable")


# Every value is a bind parameter; the prefixes are _ENTRY_PREFIX and _HEAD_PREFIX.
_PG_FLUSH = """
WITH RECURSIVE
inp AS (
    SELECT t.*, row_number() OVER (PARTITION BY t.patient_id ORDER BY t.ord) AS n
    FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[],
                $7::uuid[], $8::text[], $9::timestamptz[], $10::text[], $16::uuid[],
                $17::text[])
         WITH ORDINALITY AS t(patient_id, account_id, professional_id, profession, kind,
                              section, document_id, ground, created_at, body, app_id,
                              app_name, ord)
),
pat AS (
    SELECT * FROM unnest($11::int[], $12::text[], $13::bytea[], $14::bytea[])
           AS p(patient_id, genesis, ipad, opad)
),
locked AS (
    SELECT h.patient_id, h.last_seq, h.last_hash::text AS last_hash
    FROM access_log_head h WHERE h.patient_id = ANY($11::int[])
    ORDER BY h.patient_id FOR UPDATE
),
chain(patient_id, n, seq, hash) AS (
    SELECT p.patient_id, 0::bigint, COALESCE(l.last_seq, 0), COALESCE(l.last_hash, p.genesis)
    FROM pat p LEFT JOIN locked l ON l.patient_id = p.patient_id
    UNION ALL
    SELECT c.patient_id, c.n + 1, c.seq + 1,
           encode(sha256(convert_to('carnet-access-log/v1|' || (c.seq + 1)::text
                                    || '|' || c.hash || '|' || i.body, 'UTF8')), 'hex')
    FROM chain c JOIN inp i ON i.patient_id = c.patient_id AND i.n = c.n + 1
),
ins AS (
    INSERT INTO access_log_entry (patient_id, seq, account_id, professional_id, profession,
                                  kind, section, document_id, ground, created_at, prev_hash,
                                  hash, app_id, app_name)
    SELECT i.patient_id, c.seq, i.account_id, i.professional_id, i.profession, i.kind,
           i.section, i.document_id, i.ground, i.created_at, pc.hash, c.hash, i.app_id,
           i.app_name
    FROM inp i
    JOIN chain c ON c.patient_id = i.patient_id AND c.n = i.n
    JOIN chain pc ON pc.patient_id = i.patient_id AND pc.n = i.n - 1
    RETURNING patient_id
),
tail AS (
    SELECT DISTINCT ON (c.patient_id) c.patient_id, c.seq, c.hash
    FROM chain c ORDER BY c.patient_id, c.n DESC
),
head AS (
    INSERT INTO access_log_head (patient_id, last_seq, last_hash, mac, key_id, updated_at)
    SELECT t.patient_id, t.seq, t.hash,
           encode(sha256(p.opad || sha256(p.ipad || convert_to(
               'carnet-access-log-head/v1|' || t.patient_id::text || '|' || t.seq::text
               || '|' || t.hash, 'UTF8'))), 'hex'),
           $15::text, now()
    FROM tail t JOIN pat p ON p.patient_id = t.patient_id
    ON CONFLICT (patient_id) DO UPDATE SET
        last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash, mac = EXCLUDED.mac,
        key_id = EXCLUDED.key_id, updated_at = EXCLUDED.updated_at
    RETURNING patient_id
)
SELECT (SELECT count(*) FROM ins) AS entries, (SELECT count(*) FROM head) AS heads
"""


def _digest(entry: PendingEntry) -> str:
    return body_digest(
        patient_id=entry.patient_id, account_id=entry.account_id,
        professional_id=entry.professional_id, profession=entry.profession, kind=entry.kind,
        section=entry.section, document_id=entry.document_id, ground=entry.ground,
        created_at=entry.created_at, app_id=entry.app_id, app_name=entry.app_name)


async def _write_postgres(conn: Any, entries: Sequence[PendingEntry]) -> None:
    ring = keyring()
    patients = sorted({e.patient_id for e in entries})
    pads = [_hmac_pads(patient_checkpoint_key(ring.current, p)) for p in patients]
    values = [
        [e.patient_id for e in entries], [e.account_id for e in entries],
        [e.professional_id for e in entries], [e.profession for e in entries],
        [e.kind.value for e in entries], [e.section for e in entries],
        [e.document_id for e in entries], [e.ground.value for e in entries],
        [e.created_at for e in entries], [_digest(e) for e in entries],
        patients, [genesis(p) for p in patients], [ip for ip, _ in pads],
        [op for _, op in pads], ring.current_id,
        [e.app_id for e in entries], [e.app_name for e in entries],
    ]
    _, rows = await conn.execute_query(_PG_FLUSH, values)
    written = dict(rows[0])
    if written["entries"] != len(entries) or written["heads"] != len(patients):
        raise RuntimeError(f"access log: wrote {written['entries']} of {len(entries)} entries")


async def _write_generic(entries: Sequence[PendingEntry]) -> None:
    """Same chain, computed in Python in one transaction (SQLite: a single writer)."""
    ring = keyring()
    async with in_transaction("default") as conn:
        patients = sorted({e.patient_id for e in entries})
        heads = {h.patient_id: h for h in
                 await AccessLogHead.filter(patient_id__in=patients).using_db(conn)}
        state = {p: (heads[p].last_seq, heads[p].last_hash) if p in heads else (0, genesis(p))
                 for p in patients}
        rows = []
        for e in entries:
            seq, prev = state[e.patient_id]
            seq += 1
            digest = entry_hash(seq, prev, _digest(e))
            rows.append(AccessLogEntry(
                patient_id=e.patient_id, seq=seq, account_id=e.account_id,
                professional_id=e.professional_id, profession=e.profession, kind=e.kind,
                section=e.section, document_id=e.document_id, ground=e.ground,
                created_at=e.created_at, prev_hash=prev, hash=digest, app_id=e.app_id,
                app_name=e.app_name))
            state[e.patient_id] = (seq, digest)
        await AccessLogEntry.bulk_create(rows, using_db=conn)
        now = datetime.now(UTC)
        for p in patients:
            seq, last = state[p]
            values = {"last_seq": seq, "last_hash": last, "updated_at": now,
                      "mac": checkpoint_mac(ring.current, p, seq, last),
                      "key_id": ring.current_id}
            if p in heads:
                await AccessLogHead.filter(patient_id=p).using_db(conn).update(**values)
            else:
                await AccessLogHead.create(patient_id=p, using_db=conn, **values)


# --- reading (the patient's own log) ----------------------------------------------------------


@dataclass
class Page:
    rows: list[AccessLogEntry]
    has_next: bool
    total: int


MAX_PAGE = 100


class InvalidPage(ValueError):
    """A page request the client can fix; `text` is a French msgid and its values."""

    def __init__(self, text: Message) -> None:
        super().__init__(str(text))
        self.text = text


def encode_cursor(row: AccessLogEntry) -> str:
    return f"seq:{row.seq}"


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    prefix, _, number = cursor.partition(":")
    if prefix != "seq" or not number.isdigit() or len(number) > 10:
        raise InvalidPage(Message(N_("curseur invalide")))
    return int(number)


async def entries_of(patient_id: int, *, first: int = 20, after: str | None = None) -> Page:
    """A patient's entries, newest first (keyset on seq)."""
    if first < 1 or first > MAX_PAGE:
        raise InvalidPage(Message(N_("first doit être compris entre 1 et {limit}"),
                                  limit=MAX_PAGE))
    before = decode_cursor(after)
    query = AccessLogEntry.filter(patient_id=patient_id)
    total = await query.count()
    if before is not None:
        query = query.filter(seq__lt=before)
    rows = await query.order_by("-seq").limit(first + 1)
    return Page(rows[:first], len(rows) > first, total)

