"""Finalisation (issue 15 part 5): once a person's window has ended (OPT_OUT_WINDOW_DAYS after the
import) and they neither refused nor activated, their space is created: a Person (their INS
identity, as the campaign sealed it) and a PENDING patient account with no usable password and a
placeholder identifier. They activate it later with their notice's code (activation.py), which
lets them choose the identifier, password and contact; the normal login applies from then on.

`finalise_due` is the periodic job's body:
- idempotent: only NOTIFIED rows whose window ended are taken, and each becomes CREATED in the
  same transaction that creates its person and account;
- safe with several workers at once: a batch is claimed with FOR UPDATE SKIP LOCKED (PostgreSQL),
  so two workers never take the same person (SQLite has one writer at a time);
- resumable after a crash half-way: a batch is one transaction; a crash rolls the batch back
  and the next run takes its rows again, while the batches already committed stay done.
A NIR that meanwhile became a Person (another path) is linked, not duplicated.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from backend.identity.models import Account, AccountStatus, CodeChannel, Person, Role
from backend.onboarding.activation import placeholder_identifier
from backend.onboarding.models import NotifiedPerson, NotifiedStatus

BATCH = 200
# No password can ever match: argon2 hashes start with "$argon2".
UNUSABLE_PASSWORD = "!pending"  # noqa: S105 (not a password: a hash that matches none)

_CLAIM_PG = """SELECT id FROM campaign_person
WHERE status = 'notified' AND window_ends_at <= $1
ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"""


async def finalise_batch(now: datetime, *, batch: int = BATCH) -> int:
    """Create the spaces of at most `batch` persons whose window ended; how many."""
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            _, rows = await conn.execute_query(_CLAIM_PG, [now, batch])
            ids = [row["id"] for row in rows]
        else:
            ids = await NotifiedPerson.filter(
                status=NotifiedStatus.NOTIFIED, window_ends_at__lte=now) \
                .order_by("id").limit(batch).using_db(conn).values_list("id", flat=True)
        if not ids:
            return 0
        for row in await NotifiedPerson.filter(id__in=list(ids)).using_db(conn).order_by("id"):
            person = await Person.filter(matricule_index=row.nir_index).using_db(conn).first()
            if person is None:
                person = await Person.create(
                    matricule=row.matricule, oid=row.oid, birth_name=row.birth_name,
                    first_names=row.first_names, birth_date=row.birth_date, sex=row.sex,
                    birthplace_code=row.birthplace_code, using_db=conn)
            if not await Account.filter(person_id=person.id).using_db(conn).exists():
                await Account.create(
                    identifier=placeholder_identifier(), password_hash=UNUSABLE_PASSWORD,
                    email=row.email, email_verified=False, phone=row.phone,
                    phone_verified=False,
                    preferred_channel=CodeChannel.EMAIL if row.email else CodeChannel.SMS,
                    status=AccountStatus.PENDING, role=Role.PATIENT, person=person,
                    using_db=conn)
            await NotifiedPerson.filter(id=row.id).using_db(conn).update(
                status=NotifiedStatus.CREATED, decided_at=now, person_id=person.id)
        return len(ids)


async def finalise_due(now: datetime, *, batch: int = BATCH) -> int:
    """Every due person, batch after batch; how many this call created."""
    created = 0
    while done := await finalise_batch(now, batch=batch):
        created += done
    return created

