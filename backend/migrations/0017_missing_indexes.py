"""Indexes the schema lacked (tests/test_indexes.py reads the real schema and finds them).

- account.email_index and account.phone_index: declared `db_index=True` since 0010, whose
  AddField recorded the index without creating it; every login, code or password reset by
  e-mail or phone scanned the account table.
- Foreign key columns that the services filter or join on, or that PostgreSQL scans when the
  referenced row is deleted (it does not index a foreign key's column by itself).

Plain SQL, the same on PostgreSQL and SQLite, and IF NOT EXISTS so that a database that already
has them (made by hand) migrates too. On a large production table, build each first with
CREATE INDEX CONCURRENTLY under the same name: this migration then finds it and does nothing.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = (
    ("account", "email_index"),
    ("account", "phone_index"),
    ("account", "person_id"),
    ("account", "professional_id"),
    ("conversation", "patient_id"),
    ("data_key", "person_id"),
    ("document", "author_professional_id"),
    ("emergency_access", "professional_id"),
    ("message_attachment", "document_id"),
    ("messaging_block", "professional_id"),
    ("patient_access_settings", "treating_doctor_id"),
    ("profile_advance_directive", "document_id"),
)


class Migration(migrations.Migration):
    dependencies = [('carnet', '0016_conversation_sequence')]

    initial = False

    operations = [
        ops.RunSQL(f"CREATE INDEX IF NOT EXISTS idx_{table}_{column} ON {table} ({column})",
                   reverse_sql=f"DROP INDEX IF EXISTS idx_{table}_{column}")
        for table, column in INDEXES
    ]
