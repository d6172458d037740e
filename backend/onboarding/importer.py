"""`carnet campaign import FILE.csv`: the persons an opt-out campaign notifies, in constant
memory whatever the file's size.

The file (UTF-8, `;` or `,` separated, a header line naming the columns, see COLUMNS) is read
once to hash it (SHA-256: the same file imported again is the same campaign), then streamed:

1. **In Python, by bounded batches** (BATCH_SIZE lines): each line is checked (the NIR's
   structure and key with python-stdnum, the INS traits, the birth date, the e-mail and phone,
   the postal address, a way to reach the person), and a good line is sealed at once (every
   identity field, the address and contacts, as backend/identity/fields.py seals them) with
   the blind index of its NIR. Nothing of a line outlives its batch in the process. With
   `--jobs N` the batches are checked and sealed by N worker processes (at most 2 N batches in
   flight), the parent reading the file and copying their results in the file's order.
2. **Into a staging table** (TEMP, on one connection held for the import): on PostgreSQL with
   `COPY` (asyncpg's `copy_records_to_table`), on SQLite with batched INSERTs. Rejected lines
   go there too (their number and reason only), so the report comes out in line order.
3. **Set-based SQL, in one transaction**: a NIR seen earlier in the file makes its later lines
   duplicates; a NIR this campaign already holds is "already imported" (a second run of the
   same file, or a run resumed after a crash: nothing changes); a NIR another campaign holds,
   or that already has a `person`, is "already known" and not notified again; the rest goes
   into `campaign_person` with ONE `INSERT ... SELECT ... ON CONFLICT (nir_index) DO NOTHING`.
   A line is one row: it is in, or it is not (nothing half-imported); a crash before the commit
   leaves nothing, and the next run starts again.
4. **The report** of rejected, duplicate and already known lines (line number, reason code,
   French explanation; never a value of the line) is streamed from the staging table with a
   cursor, in line order, to the caller's writer.

Lines are numbered as a text editor numbers them (the header is line 1; a quoted field running
over several lines counts them all, the record takes its first line's number).

SQLite (the zero-setup default) takes the same path, with batched INSERTs instead of COPY: it
is meant for development files, not national campaigns.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import logging
import multiprocessing
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from backend.crypto import Keyring, keyring
from backend.i18n import N_
from backend.identity.contacts import InvalidContact, normalise_email, normalise_phone
from backend.identity.ins import InvalidIdentity, InvalidNir, check_traits, normalise_nir
from backend.identity.models import INDEX_NORMALISERS
from backend.onboarding.errors import CampaignFileInvalid
from backend.onboarding.models import Campaign, NoticeChannel, NotifiedPerson, NotifiedStatus
from backend.settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 2000

# Header name -> the column it fills (French first; English accepted).
COLUMNS = {
    "nir": "nir", "matricule": "nir",
    "nom_naissance": "birth_name", "birth_name": "birth_name",
    "prenoms": "first_names", "prénoms": "first_names", "first_names": "first_names",
    "sexe": "sex", "sex": "sex",
    "date_naissance": "birth_date", "birth_date": "birth_date",
    "lieu_naissance": "birthplace", "birthplace_code": "birthplace", "birthplace": "birthplace",
    "adresse": "address", "address": "address",
    "code_postal": "postal_code", "postal_code": "postal_code",
    "commune": "city", "ville": "city", "city": "city",
    "email": "email", "courriel": "email",
    "telephone": "phone", "téléphone": "phone", "phone": "phone",
}
REQUIRED = ("nir", "birth_name", "first_names", "sex", "birth_date", "birthplace")
OPTIONAL = ("address", "postal_code", "city", "email", "phone")

# Reason codes of the report and their explanations (no value of the line is ever quoted).
REASONS = {
    "columns": "Nombre de colonnes différent de l'en-tête.",
    "too_long": "Un champ dépasse 200 caractères.",
    "nir_length": InvalidNir.MESSAGES["length"],
    "nir_format": InvalidNir.MESSAGES["format"],
    "nir_sex_digit": InvalidNir.MESSAGES["sex_digit"],
    "nir_key": InvalidNir.MESSAGES["checksum"],
    "birth_date": "Date de naissance impossible.",
    "birth_name": "Nom de naissance invalide.",
    "first_names": "Prénoms de naissance invalides.",
    "sex": "Sexe invalide (M, F ou U) ou différent du premier chiffre du NIR.",
    "birthplace": "Code INSEE du lieu de naissance invalide (5 caractères).",
    "email": "Adresse e-mail invalide.",
    "phone": "Numéro de téléphone invalide.",
    "address": "Adresse postale incomplète ou invalide (adresse, code postal à 5 chiffres, "
               "commune).",
    "missing_contact": "Ni adresse e-mail ni adresse postale : la personne ne peut pas être "
                       "prévenue.",
    "duplicate": "NIR en double dans le fichier (première occurrence ligne {first}).",
    "already_known": "Personne déjà connue (déjà prévenue ou déjà inscrite) : elle n'est pas "
                     "prévenue à nouveau.",
}
_NIR_REASONS = {"length": "nir_length", "format": "nir_format", "sex_digit": "nir_sex_digit",
                "checksum": "nir_key"}
_NIR_BY_MESSAGE = {InvalidNir.MESSAGES[k]: v for k, v in _NIR_REASONS.items()}
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FR_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_POSTAL_CODE = re.compile(r"\d{5}")
_MAX_ADDRESS_LINES = 4
_MAX_FIELD = 200

# The staging table's columns, in COPY order.
STAGING = ("line", "outcome", "reason", "first_line", "nir_index", "matricule", "oid",
           "birth_name", "first_names", "birth_date", "sex", "birthplace_code", "postal_address",
           "email", "phone", "channel", "key_id")
_SEALED = ("matricule", "birth_name", "first_names", "birth_date", "birthplace_code",
           "postal_address", "email", "phone")


class LineRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ImportReport:
    campaign_id: int
    window_ends_at: datetime
    lines: int = 0
    imported: int = 0
    rejected: int = 0
    duplicates: int = 0
    already_known: int = 0
    already_imported: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign_id, "windowEndsAt": self.window_ends_at.isoformat(),
                "lines": self.lines, "imported": self.imported, "rejected": self.rejected,
                "duplicates": self.duplicates, "alreadyKnown": self.already_known,
                "alreadyImported": self.already_imported}


# A report line: (line number, reason code, French explanation).
ReportWriter = Callable[[int, str, str], None]


# --- 1. checking and sealing a line ----------------------------------------------------------


def _birth_date(text: str) -> date:
    text = text.strip()
    match = _ISO_DATE.fullmatch(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _FR_DATE.fullmatch(text)
        if not match:
            raise LineRejected("birth_date")
        day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise LineRejected("birth_date") from None


def _address(fields: dict[str, str]) -> str | None:
    street, postal_code, city = (fields.get(k, "").strip()
                                 for k in ("address", "postal_code", "city"))
    if not (street or postal_code or city):
        return None
    lines = [" ".join(part.split()) for part in re.split(r"[|\n]", street)]
    lines = [line for line in lines if line]
    city = " ".join(city.split())
    if (not lines or len(lines) > _MAX_ADDRESS_LINES or any(len(x) > 100 for x in lines)
            or not _POSTAL_CODE.fullmatch(postal_code) or not city or len(city) > 100):
        raise LineRejected("address")
    return json.dumps({"lines": lines, "postal_code": postal_code, "city": city.upper()},
                      ensure_ascii=False, separators=(",", ":"))


def normalise_nir_reason(nir: str) -> None:
    try:
        normalise_nir(nir)
    except InvalidNir as exc:
        raise LineRejected(_NIR_REASONS[exc.reason]) from None


def check_line(fields: dict[str, str]) -> dict[str, Any]:
    """The line's values, checked and normalised; raises LineRejected(reason)."""
    if any(len(v) > _MAX_FIELD for v in fields.values()):
        raise LineRejected("too_long")
    try:
        born = _birth_date(fields["birth_date"])
    except LineRejected:
        normalise_nir_reason(fields["nir"])  # a bad NIR is the first thing to fix
        raise
    try:
        traits = check_traits(nir=fields["nir"], birth_name=fields["birth_name"],
                              first_names=fields["first_names"], birth_date=born,
                              sex=fields["sex"].strip(), birthplace=fields["birthplace"])
    except InvalidIdentity as exc:
        if exc.field == "nir":  # check_traits says why in words: back to the reason code
            raise LineRejected(_NIR_BY_MESSAGE.get(str(exc), "nir_format")) from None
        raise LineRejected(exc.field if exc.field in REASONS else "birth_date") from None
    email = fields.get("email", "").strip()
    phone = fields.get("phone", "").strip()
    try:
        email = normalise_email(email) if email else ""
    except InvalidContact:
        raise LineRejected("email") from None
    try:
        phone = normalise_phone(phone) if phone else ""
    except InvalidContact:
        raise LineRejected("phone") from None
    address = _address(fields)
    if email:
        channel = NoticeChannel.EMAIL
    elif address:
        channel = NoticeChannel.LETTER
    else:
        raise LineRejected("missing_contact")
    return {"matricule": traits.matricule, "oid": traits.oid, "birth_name": traits.birth_name,
            "first_names": traits.first_names, "birth_date": traits.birth_date,
            "sex": traits.sex.value, "birthplace_code": traits.birthplace_code,
            "postal_address": address, "email": email or None, "phone": phone or None,
            "channel": channel.value}


class Sealer:
    """Seals a checked line's fields as NotifiedPerson's own fields do (same format, same
    associated data: `ring.seal(text, "campaign_person.<field>")`), and computes its NIR's
    blind index (under the current key, and the previous ones during a rotation)."""

    def __init__(self, ring: Keyring | None = None) -> None:
        self.ring = ring or keyring()
        self.fields = {name: NotifiedPerson._meta.fields_map[name] for name in _SEALED}
        self.normalise = INDEX_NORMALISERS["matricule"]

    def _seal(self, name: str, value: Any) -> bytes | None:
        if value is None:
            return None
        field = self.fields[name]
        return self.ring.seal(field._dump(value), field.context)

    def record(self, line: int, values: dict[str, Any]) -> tuple[Any, ...]:
        sealed = {name: self._seal(name, values[name]) for name in _SEALED}
        nir_index = self.ring.blind_index("matricule", self.normalise(values["matricule"]))
        return (line, None, None, None, nir_index, sealed["matricule"], values["oid"],
                sealed["birth_name"], sealed["first_names"], sealed["birth_date"],
                values["sex"], sealed["birthplace_code"], sealed["postal_address"],
                sealed["email"], sealed["phone"], values["channel"], self.ring.current_id)

    def previous_indexes(self, matricule: str) -> list[str]:
        if len(self.ring.by_id) == 1:
            return []
        return self.ring.blind_indexes("matricule", self.normalise(matricule))[1:]


def rejected(line: int, reason: str) -> tuple[Any, ...]:
    return (line, "rejected", reason, *([None] * (len(STAGING) - 3)))


# --- reading the file --------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _header(raw: list[str]) -> list[str | None]:
    names = [COLUMNS.get(name.strip().lstrip("\ufeff").lower()) for name in raw]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise CampaignFileInvalid(
            N_("En-tête incomplet : colonnes obligatoires manquantes ({columns})."),
            columns=", ".join(missing))
    if not ({"email", "address"} & set(names)):
        raise CampaignFileInvalid(N_("L'en-tête doit avoir une colonne email ou adresse."))
    seen = [n for n in names if n]
    if len(seen) != len(set(seen)):
        raise CampaignFileInvalid(N_("Une colonne apparaît deux fois dans l'en-tête."))
    return names


def read_lines(path: Path) -> Iterator[tuple[int, dict[str, str] | None]]:
    """(line number, {column: text}) per record; None for a record of the wrong width."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
        delimiter = ";" if first.count(";") >= first.count(",") else ","
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            names = _header(next(reader))
        except StopIteration:
            raise CampaignFileInvalid(N_("Le fichier est vide.")) from None
        except (csv.Error, UnicodeDecodeError):
            raise CampaignFileInvalid(N_("En-tête illisible (UTF-8 attendu).")) from None
        previous_end = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                # An unreadable record (e.g. a quote never closed): reported, then stop, since
                # the reader cannot find where the next record starts.
                yield previous_end + 1, None
                return
            except UnicodeDecodeError:
                raise CampaignFileInvalid(N_("Le fichier n'est pas en UTF-8.")) from None
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(names):
                yield start, None
                continue
            yield start, {name: cell for name, cell in zip(names, row, strict=True) if name}


RawBatch = list[tuple[int, dict[str, str] | None]]
Staged = tuple[list[tuple[Any, ...]], list[tuple[int, str]]]


def raw_batches(path: Path, batch_size: int) -> Iterator[RawBatch]:
    batch: RawBatch = []
    for item in read_lines(path):
        batch.append(item)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def stage(batch: RawBatch, sealer: Sealer) -> Staged:
    """A batch of lines checked and sealed: (staging records, (line, previous-key index))."""
    records: list[tuple[Any, ...]] = []
    aliases: list[tuple[int, str]] = []
    for line, fields in batch:
        if fields is None:
            records.append(rejected(line, "columns"))
            continue
        try:
            values = check_line(fields)
        except LineRejected as exc:
            records.append(rejected(line, exc.reason))
            continue
        records.append(sealer.record(line, values))
        aliases.extend((line, idx) for idx in sealer.previous_indexes(values["matricule"]))
    return records, aliases


# --jobs N: the checking and sealing of batches in N worker processes (spawned: the parent
# holds threads and connections a fork would copy), the parent reading the file and copying the
# results in order; at most 2 N batches in flight, so memory stays bounded.
_worker_sealer: Sealer | None = None


def _init_worker(current: bytes, previous: list[bytes]) -> None:
    global _worker_sealer
    _worker_sealer = Sealer(Keyring(current, previous))


def _stage_in_worker(batch: RawBatch) -> Staged:
    assert _worker_sealer is not None
    return stage(batch, _worker_sealer)


async def staged_batches(path: Path, batch_size: int = BATCH_SIZE, jobs: int = 1
                         ) -> AsyncIterator[tuple[int, Staged]]:
    """(lines in the batch, its staging rows), batch by batch, in the file's order."""
    if jobs <= 1:
        sealer = Sealer()
        for batch in raw_batches(path, batch_size):
            yield len(batch), stage(batch, sealer)
        return
    ring = keyring()
    previous = [key for key_id, key in ring.by_id.items() if key_id != ring.current_id]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker,
                             initargs=(ring.current, previous)) as pool:
        pending: deque[tuple[int, asyncio.Future[Staged]]] = deque()
        for batch in raw_batches(path, batch_size):
            pending.append((len(batch), loop.run_in_executor(pool, _stage_in_worker, batch)))
            if len(pending) >= 2 * jobs:
                count, future = pending.popleft()
                yield count, await future
        while pending:
            count, future = pending.popleft()
            yield count, await future


# --- 2. and 3. the database side -----------------------------------------------------------


class _Staging:
    """The import's one connection (a TEMP table lives on its connection), per dialect:
    `$n` placeholders in the SQL below become `?n` on SQLite."""

    def __init__(self, raw: Any, postgres: bool) -> None:
        self.raw = raw
        self.postgres = postgres

    # The pool's connections time commands out after 30 s (backend/db.py: for requests); a
    # national file's set-based statements run for minutes, or hours.
    TIMEOUT = 24 * 3600.0

    def sql(self, text: str) -> str:
        return text if self.postgres else re.sub(r"\$(\d+)", r"?\1", text)

    async def execute(self, text: str, *args: Any) -> int:
        """Runs one statement; returns the rows it changed."""
        if self.postgres:
            status = await self.raw.execute(text, *args, timeout=self.TIMEOUT)
            tail = status.rsplit(" ", 1)[-1]
            return int(tail) if tail.isdigit() else 0
        cursor = await self.raw.execute(self.sql(text), args)
        changed = cursor.rowcount
        await cursor.close()
        return max(changed, 0)

    async def script(self, text: str) -> None:
        if self.postgres:
            await self.raw.execute(text, timeout=self.TIMEOUT)
        else:
            await self.raw.executescript(text)

    async def copy(self, table: str, columns: tuple[str, ...], records: list[tuple]) -> None:
        if not records:
            return
        if self.postgres:
            await self.raw.copy_records_to_table(table, records=records, columns=columns,
                                                 timeout=self.TIMEOUT)
        else:
            marks = ",".join("?" * len(columns))
            async with self.transaction():
                await self.raw.executemany(
                    f'INSERT INTO {table} ({",".join(columns)}) VALUES ({marks})',  # noqa: S608
                    records)

    async def rows(self, text: str, *args: Any) -> AsyncIterator[tuple[Any, ...]]:
        """Streams a query's rows (a server-side cursor on PostgreSQL: call inside a
        transaction)."""
        if self.postgres:
            async for record in self.raw.cursor(text, *args, prefetch=1000,
                                                timeout=self.TIMEOUT):
                yield tuple(record)
        else:
            async with self.raw.execute(self.sql(text), args) as cursor:
                cursor.arraysize = 1000
                async for row in cursor:
                    yield tuple(row)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self.postgres:
            async with self.raw.transaction():
                yield
            return
        await self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.raw.rollback()
            raise
        await self.raw.commit()


def _staging_ddl(postgres: bool) -> str:
    blob = "BYTEA" if postgres else "BLOB"
    columns = {"line": "INTEGER PRIMARY KEY", "outcome": "TEXT", "reason": "TEXT",
               "first_line": "INTEGER", "nir_index": "TEXT", "oid": "TEXT", "sex": "TEXT",
               "channel": "TEXT", "key_id": "TEXT"}
    body = ", ".join(f"{c} {columns.get(c, blob)}" for c in STAGING)
    return (f"DROP TABLE IF EXISTS campaign_staging; DROP TABLE IF EXISTS campaign_alias; "
            f"CREATE TEMP TABLE campaign_staging ({body}); "
            "CREATE TEMP TABLE campaign_alias (line INTEGER NOT NULL, idx TEXT NOT NULL);")


_DUPLICATES = (
    "UPDATE campaign_staging SET outcome = 'duplicate', first_line = d.first "
    "FROM (SELECT line, MIN(line) OVER (PARTITION BY nir_index) AS first "
    "FROM campaign_staging WHERE outcome IS NULL) AS d "
    "WHERE campaign_staging.line = d.line AND d.line <> d.first")
_ALREADY_IMPORTED = (
    "UPDATE campaign_staging SET outcome = 'already_imported' WHERE outcome IS NULL "
    "AND EXISTS (SELECT 1 FROM campaign_person c WHERE c.nir_index = campaign_staging.nir_index "
    "AND c.campaign_id = $1)")
# Separate statements (not one OR of EXISTS): each is a semi-join the planner can hash.
_ALREADY_KNOWN = tuple(
    "UPDATE campaign_staging SET outcome = 'already_known' WHERE outcome IS NULL AND "  # noqa: S608
    + cond
    for cond in (
        "EXISTS (SELECT 1 FROM campaign_person c WHERE c.nir_index = campaign_staging.nir_index)",
        "EXISTS (SELECT 1 FROM person p WHERE p.matricule_index = campaign_staging.nir_index)",
        # Rows not yet re-indexed by a key rotation: the NIR's index under previous keys.
        "EXISTS (SELECT 1 FROM campaign_alias a JOIN person p ON p.matricule_index = a.idx "
        "WHERE a.line = campaign_staging.line)",
        "EXISTS (SELECT 1 FROM campaign_alias a JOIN campaign_person c ON c.nir_index = a.idx "
        "WHERE a.line = campaign_staging.line)"))
_INSERT = (
    "INSERT INTO campaign_person (key_id, campaign_id, matricule, nir_index, oid, birth_name, "
    "first_names, birth_date, sex, birthplace_code, postal_address, email, phone, channel, "
    "status, reason, window_ends_at, notice_attempts, created_at) "
    "SELECT key_id, $1, matricule, nir_index, oid, birth_name, first_names, birth_date, sex, "
    "birthplace_code, postal_address, email, phone, channel, $2, 'campaign', $3, 0, $4 "
    "FROM campaign_staging WHERE outcome IS NULL ORDER BY line "
    "ON CONFLICT (nir_index) DO NOTHING")
# A concurrent import may have taken a NIR between the checks and the insert.
_RACED = (
    "UPDATE campaign_staging SET outcome = 'already_known' WHERE outcome IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM campaign_person c WHERE c.nir_index = "
    "campaign_staging.nir_index AND c.campaign_id = $1)")
_COUNTS = "SELECT outcome, COUNT(*) FROM campaign_staging GROUP BY outcome"
_REPORT = ("SELECT line, outcome, reason, first_line FROM campaign_staging "
           "WHERE outcome IN ('rejected', 'duplicate', 'already_known') ORDER BY line")


async def campaign_for(settings: Settings, digest: str, name: str, now: datetime) -> Campaign:
    """The file's campaign: created at its first import (its window starts then)."""
    found = await Campaign.get_or_none(file_digest=digest)
    if found is not None:
        return found
    try:
        return await Campaign.create(
            name=name[:200], file_digest=digest, created_at=now,
            window_ends_at=now + timedelta(days=settings.opt_out_window_days))
    except IntegrityError:  # the same file, imported at the same moment elsewhere
        return await Campaign.get(file_digest=digest)


@asynccontextmanager
async def _import_connection() -> AsyncIterator[_Staging]:
    client = connections.get("default")
    postgres = client.capabilities.dialect == "postgres"
    async with client.acquire_connection() as raw:
        staging = _Staging(raw, postgres)
        try:
            yield staging
        finally:
            await staging.script("DROP TABLE IF EXISTS campaign_staging; "
                                 "DROP TABLE IF EXISTS campaign_alias;")


async def import_file(settings: Settings, path: Path, *, report: ReportWriter,
                      name: str | None = None, now: datetime | None = None,
                      batch_size: int = BATCH_SIZE, jobs: int = 1) -> ImportReport:
    """Import a campaign file (see the module's docstring); `report` receives the rejected,
    duplicate and already known lines, in line order, after the import committed. `jobs` > 1
    checks and seals batches in that many worker processes."""
    started = time.monotonic()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    path = Path(path)
    campaign = await campaign_for(settings, file_digest(path), name or path.stem, now)
    result = ImportReport(campaign.id, campaign.window_ends_at)
    async with _import_connection() as db:
        await db.script(_staging_ddl(db.postgres))
        async for count, (records, aliases) in staged_batches(path, batch_size, jobs):
            await db.copy("campaign_staging", STAGING, records)
            await db.copy("campaign_alias", ("line", "idx"), aliases)
            result.lines += count
        staged = time.monotonic()
        await db.script("CREATE INDEX campaign_staging_nir ON campaign_staging (nir_index);"
                        "CREATE INDEX campaign_alias_line ON campaign_alias (line);"
                        + ("ANALYZE campaign_staging; ANALYZE campaign_alias;"
                           if db.postgres else ""))
        async with db.transaction():
            await db.execute(_DUPLICATES)
            await db.execute(_ALREADY_IMPORTED, campaign.id)
            for statement in _ALREADY_KNOWN:
                await db.execute(statement)
            result.imported = await db.execute(_INSERT, campaign.id,
                                               NotifiedStatus.NOTIFIED.value,
                                               campaign.window_ends_at, now)
            await db.execute(_RACED, campaign.id)
        inserted = time.monotonic()
        async with db.transaction():
            async for outcome, n in db.rows(_COUNTS):
                if outcome == "rejected":
                    result.rejected = int(n)
                elif outcome == "duplicate":
                    result.duplicates = int(n)
                elif outcome == "already_known":
                    result.already_known = int(n)
                elif outcome == "already_imported":
                    result.already_imported = int(n)
            async for line, outcome, reason, first in db.rows(_REPORT):
                code = reason if outcome == "rejected" else outcome
                report(int(line), code, REASONS[code].format(first=first))
    log.info("campaign %s import: %s lines, %s imported, %s rejected, %s duplicates, "
             "%s already known, %s already imported", result.campaign_id, result.lines,
             result.imported, result.rejected, result.duplicates, result.already_known,
             result.already_imported)
    log.info("campaign %s import: %.1f s checking, sealing and copying, %.1f s of set-based "
             "SQL, %.1f s of report", result.campaign_id, staged - started, inserted - staged,
             time.monotonic() - inserted)
    return result
