"""Bytes per row of every table, measured on PostgreSQL, for docs/scaling.md.

Creates a scratch database, applies the migrations, writes synthetic rows with the column values
the services write (sealed identities through `accounts.create_patient`, per-patient data keys
through `keys.data_key_for`, titles, bodies and profile text encrypted with `encrypt_bytes`, the
access log through `write_entries`), then prints, per table: rows, the average tuple size
(`pg_column_size(t.*)`, no page or index overhead) and the heap + index + TOAST bytes per row
(`pg_total_relation_size / rows`). The database is dropped at the end.

    python bench/row_sizes.py --admin-url postgres://postgres@127.0.0.1:5432/postgres

Not a speed goal: it measures sizes only. Small runs (a few hundred patients) give stable
averages; per-row index bytes shrink a little as B-trees fill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from stdnum.fr import nir as stdnum_nir

from backend import db
from backend.access.models import CareRelationship, PatientAccessSettings, RelationshipOrigin
from backend.audit.access_log import PendingEntry, write_entries
from backend.audit.models import AccessGround, AccessKind
from backend.identity import accounts
from backend.keys import services as keys
from backend.messaging.models import Conversation, Message, Participant
from backend.profile.models import Allergy, Measurement, MeasurementKind, Treatment, Vaccination
from backend.records.models import Document, DocumentSource
from backend.settings import generate_master_key, load_settings

TITLES = ["Compte rendu de consultation de cardiologie", "Bilan sanguin", "Radiographie du thorax",
          "Ordonnance", "Compte rendu opératoire — appendicectomie"]
BODY = "Bonjour, voici les résultats de votre bilan. Rien d'inquiétant, on en reparle au " \
       "prochain rendez-vous. Bonne journée."


def _nir(n: int) -> str:
    body = f"1{85 + n % 10:02d}{1 + n % 12:02d}75{n % 999 + 1:03d}{n // 999 % 999 + 1:03d}"
    return body + stdnum_nir.calc_check_digits(body + "00")


async def seed(settings, patients: int) -> None:  # noqa: ANN001
    pro, _ = await accounts.create_professional(
        rpps="10000000001", profession="Médecin", specialty="Médecine générale",
        contact=accounts.ContactInput(email="pro@example.fr", phone=None, identifier=None,
                                      password=secrets.token_urlsafe(16)))
    now = datetime.now(UTC)
    for n in range(patients):
        account = await accounts.create_patient(
            nir=_nir(n), birth_name="Dupont", first_names="Jean Marie", birth_date=date(1985, 3, 2),
            sex="M", birthplace="75056",
            contact=accounts.ContactInput(email=f"patient{n}@example.fr", phone="+33612345678",
                                          identifier=None, password=secrets.token_urlsafe(16)))
        person_id = account.person_id
        key_id, key = await keys.data_key_for(settings, person_id)
        for i in range(10):
            doc_id = uuid.uuid4()
            await Document.create(
                id=doc_id, person_id=person_id, type_code="11488-4",
                title_encrypted=keys.encrypt_bytes(key, TITLES[i % 5].encode(),
                                                   associated=doc_id.bytes),
                clinical_date=date(2026, 1, 1) + timedelta(days=i), author_account_id=pro.id,
                author_professional_id=pro.professional_id,
                source=DocumentSource.PROFESSIONAL_SOFTWARE, content_type="application/pdf",
                size=random.randint(50_000, 900_000), sha256=secrets.token_hex(32),
                blob_name=f"documents/{person_id}/{doc_id}", data_key_id=key_id)
        profile = [
            (Allergy, {"substance": "Pénicilline", "reaction": "urticaire"}, {}),
            (Vaccination, {"vaccine": "DTCaP", "lot": "AB1234"},
             {"vaccinated_on": date(2020, 5, 1)}),
            (Treatment, {"medication": "Amlodipine 5 mg", "dosage": "1 cp le matin"}, {}),
        ] + [(Measurement, {"note": ""}, {"kind": MeasurementKind.WEIGHT, "value": 72.5 + i,
                                          "measured_at": now - timedelta(days=i)})
             for i in range(5)]
        for model, text, columns in profile:
            entry_id = uuid.uuid4()
            await model.create(id=entry_id, person_id=person_id, author_account_id=account.id,
                               data_key_id=key_id, **columns,
                               text_encrypted=keys.encrypt_bytes(
                                   key, json.dumps(text).encode(), associated=entry_id.bytes))
        conv_id = uuid.uuid4()
        await Conversation.create(id=conv_id, patient_id=person_id, data_key_id=key_id,
                                  created_by_account_id=pro.id,
                                  subject_encrypted=keys.encrypt_bytes(
                                      key, b"Resultats du bilan", associated=conv_id.bytes))
        for account_id in (account.id, pro.id):
            await Participant.create(conversation_id=conv_id, account_id=account_id)
        for i in range(5):
            message_id = uuid.uuid4()
            await Message.create(id=message_id, conversation_id=conv_id,
                                 seq=n * 10 + i + 1, author_account_id=pro.id,
                                 client_message_id=str(uuid.uuid4()),
                                 body_encrypted=keys.encrypt_bytes(key, BODY.encode(),
                                                                   associated=message_id.bytes))
        await CareRelationship.create(patient_id=person_id,
                                      professional_id=pro.professional_id,
                                      origin=RelationshipOrigin.CARE_TEAM, started_at=now,
                                      last_access_at=now)
        await PatientAccessSettings.create(patient_id=person_id,
                                           treating_doctor_id=pro.professional_id)
        await write_entries([
            PendingEntry(patient_id=person_id, account_id=pro.id,
                         professional_id=pro.professional_id, profession="Médecin",
                         kind=AccessKind.DOCUMENT_LIST, section=None, document_id=None,
                         ground=AccessGround.CARE_TEAM, created_at=now + timedelta(seconds=i))
            for i in range(20)])


SIZES = """
SELECT c.relname AS table, c.reltuples::bigint AS rows,
       pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS heap
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname
"""


async def report(conn: asyncpg.Connection) -> None:
    await conn.execute("VACUUM ANALYZE")
    print(f"{'table':28} {'rows':>7} {'tuple B':>8} {'heap B/row':>10} {'total B/row':>11}")
    for row in await conn.fetch(SIZES):
        # Table names come from pg_class, quoted: not user input.
        rows = await conn.fetchval(f'SELECT count(*) FROM "{row["table"]}"')  # noqa: S608
        if not rows:
            print(f"{row['table']:28} {0:>7}")
            continue
        tuple_size = await conn.fetchval(
            f'SELECT avg(pg_column_size(t.*))::int FROM "{row["table"]}" t')  # noqa: S608
        print(f"{row['table']:28} {rows:>7} {tuple_size:>8} {row['heap'] // rows:>10} "
              f"{row['total'] // rows:>11}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--patients", type=int, default=300)
    args = parser.parse_args()
    name = f"carnet_row_sizes_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(args.admin_url.replace("postgres://", "postgresql://"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(args.admin_url)._replace(path=f"/{name}"))
    try:
        settings = load_settings(carnet_env="dev", database_url=url, redis_url=None,
                                 carnet_master_key=generate_master_key())
        await db.migrate(settings)
        await db.init_standalone(settings)
        try:
            await seed(settings, args.patients)
        finally:
            await db.close_standalone()
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
        try:
            await report(conn)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
