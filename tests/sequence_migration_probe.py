"""Run by tests/test_migrations.py in a process of its own (its own ORM): migrate a database to
0015, store messages the old way (global numbers with gaps, an attachment, a participant),
migrate to the end, and print as JSON what 0016 kept and how numbering goes on."""

# ruff: noqa: S608  (SQL from constants and placeholder marks only: no value is interpolated)

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import uuid

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as migrate_api

from backend import db
from backend.settings import generate_master_key, load_settings

TABLES = ("message", "message_attachment", "conversation_participant")


async def counts() -> dict[str, int]:
    conn = connections.get("default")
    return {t: (await conn.execute_query_dict(f"SELECT count(*) AS n FROM {t}"))[0]["n"]
            for t in TABLES}


async def _missing_columns(conn, postgres: bool, model) -> list[tuple[str, str]]:
    """(column, SQL type) of the model's columns later migrations add (all nullable or
    defaulted: timestamps and flags)."""
    table = model._meta.db_table
    if postgres:
        rows = await conn.execute_query_dict(
            "SELECT column_name AS name FROM information_schema.columns "
            f"WHERE table_name = '{table}'")
    else:
        rows = await conn.execute_query_dict(f"PRAGMA table_info({table})")
    present = {r["name"] for r in rows}
    missing = []
    for name, column in model._meta.fields_db_projection.items():
        if column not in present:
            kind = type(model._meta.fields_map[name]).__name__
            missing.append((column, "BOOLEAN NULL" if kind == "BooleanField"
                            else "TIMESTAMP NULL"))
    return missing


async def old_rows(conversation: uuid.UUID, now: dt.datetime) -> uuid.UUID:
    from backend.records.models import Document, DocumentSource
    from tests.factories import create_patient

    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    from backend.identity.models import Account

    # Today's code writes the account and the document: columns later migrations add to them
    # (nullable or defaulted) are there only while it does.
    later = {model: await _missing_columns(conn, postgres, model)
             for model in (Account, Document)}
    for model, columns in later.items():
        for column, sql_type in columns:
            await conn.execute_script(
                f"ALTER TABLE {model._meta.db_table} ADD COLUMN {column} {sql_type}")
    account = await create_patient(email="migrate@example.fr")

    def marks(n: int) -> str:
        return ", ".join(f"${i}" if postgres else "?" for i in range(1, n + 1))

    def value(u: uuid.UUID) -> uuid.UUID | str:
        return u if postgres else str(u)

    await conn.execute_query(
        "INSERT INTO conversation (id, patient_id, patient_participates, subject_encrypted, "
        f"data_key_id, created_by_account_id, created_at, last_seq) VALUES ({marks(7)}, 7)",
        [value(conversation), account.person_id, True, b"x", 1, account.id, now])
    await conn.execute_query(
        "INSERT INTO conversation_participant (conversation_id, account_id, read_seq, "
        f"notified_seq, joined_at) VALUES ({marks(5)})",
        [value(conversation), account.id, 5, 0, now])
    last = uuid.uuid4()
    for seq in (3, 5, 7):  # the former global clock's numbers
        message = last if seq == 7 else uuid.uuid4()
        await conn.execute_query(
            "INSERT INTO message (id, conversation_id, seq, author_account_id, body_encrypted,"
            f" sent_at) VALUES ({marks(6)})",
            [value(message), value(conversation), seq, account.id, b"x",
             now + dt.timedelta(seconds=seq)])
    document = await Document.create(
        id=uuid.uuid4(), person_id=account.person_id, title_encrypted=b"t", type_code="11488-4",
        clinical_date=dt.date(2026, 1, 1), author_account_id=account.id,
        source=DocumentSource.PATIENT_UPLOAD, content_type="application/pdf", size=1,
        sha256="0" * 64, blob_name=uuid.uuid4().hex, data_key_id=1)
    for model, columns in later.items():
        for column, _ in columns:
            await conn.execute_script(
                f"ALTER TABLE {model._meta.db_table} DROP COLUMN {column}")
    await conn.execute_query(
        f"INSERT INTO message_attachment (message_id, document_id) VALUES ({marks(2)})",
        [value(last), value(document.id)])
    return last


async def main(url: str) -> dict:
    settings = load_settings(database_url=url, carnet_env="dev", redis_url=None,
                             carnet_master_key=generate_master_key())
    db.use_master_keys(settings)
    config = db.tortoise_config(settings)
    await migrate_api(config=config, target="carnet.0015_account_preferences")
    await connections.close_all()
    conversation, now = uuid.uuid4(), dt.datetime.now(dt.UTC)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    last = await old_rows(conversation, now)
    before = await counts()
    await connections.close_all()
    await migrate_api(config=config)
    await connections.close_all()
    await Tortoise.init(config=config, _enable_global_fallback=True)
    from backend.messaging import services
    from backend.messaging.models import Conversation

    row = await Conversation.get(id=conversation)
    after = await counts()
    filled = {"last_seq": row.last_seq, "last_message_kept": row.last_message_id == last,
              "last_message_at": row.last_message_at == now + dt.timedelta(seconds=7)}
    sent = await services._insert_message(row, row.created_by_account_id, "new", [],
                                          b"\x01" * 32)
    other = Conversation(id=uuid.uuid4(), patient_id=row.patient_id, subject_encrypted=b"x",
                         data_key_id=1, created_by_account_id=row.created_by_account_id)
    await other.save(force_create=True)
    first_elsewhere = await services._insert_message(other, row.created_by_account_id, "one",
                                                     [], b"\x01" * 32)
    result = {
        "before": before, "after": after, **filled,
        "next": sent.seq, "first_elsewhere": first_elsewhere.seq,
        "after_3": [m.seq for m in await services.messages_after(conversation, 3)],
    }
    await connections.close_all()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
