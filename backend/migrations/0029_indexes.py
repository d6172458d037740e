"""Indexes the accounts-for-everyone migrations lacked (tests/test_indexes.py reads the real
schema and finds them), as migration 0017 did before:

- account.purge_after: declared `db_index=True` by 0026, whose AddField recorded the index
  without creating it; the purge job looks for due accounts by it.
- Foreign key columns the services filter on, or that PostgreSQL scans when the referenced row
  is deleted: carer_grant.patient_id (a patient's carers), carer_grant.carer_account_id (a
  carer's spaces, every request in a space), campaign_person.person_id (a person's deletion).

Plain SQL, the same on PostgreSQL and SQLite, IF NOT EXISTS (see 0017 for large tables).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = (
    ("account", "purge_after"),
    ("carer_grant", "patient_id"),
    ("carer_grant", "carer_account_id"),
    ("campaign_person", "person_id"),
)


class Migration(migrations.Migration):
    dependencies = [('carnet', '0028_activation')]

    initial = False

    operations = [
        ops.RunSQL(f"CREATE INDEX IF NOT EXISTS idx_{table}_{column} ON {table} ({column})",
                   reverse_sql=f"DROP INDEX IF EXISTS idx_{table}_{column}")
        for table, column in INDEXES
    ]
