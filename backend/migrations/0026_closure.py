"""Closing a patient's space (issue 15 part 6): `closed_at`, `purge_after` (indexed: the purge
job's scan), `deletion_requested_at` and `purge_claimed_until` (a purge runner's claim) on
account; the audit trail's kinds gain account.closed / reopened / deletion_requested / purged
(the column is unchanged, only its description).

No new table. The data-version triggers of migration 0018 on account and audit_event are
re-created after the columns (a no-op on PostgreSQL; on SQLite a table rebuild would have
dropped them).
"""

import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.audit.models import AuditKind
from tortoise import fields

VERSIONS = importlib.import_module("backend.migrations.0018_data_version")

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED: tuple[str, ...] = ()


class Migration(migrations.Migration):
    dependencies = [('carnet', '0025_access_log_app')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Account',
            name='closed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Account',
            name='deletion_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Account',
            name='purge_after',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Account',
            name='purge_claimed_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='AuditEvent',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='LOGIN_PASSWORD_OK: login.password_ok\nLOGIN_PASSWORD_FAILED: login.password_failed\nLOGIN_SUCCEEDED: login.succeeded\nLOGIN_CODE_SENT: login.code_sent\nLOGIN_CODE_FAILED: login.code_failed\nLOGIN_RATE_LIMITED: login.rate_limited\nACCOUNT_LOCKED: account.locked\nLOGOUT: session.logout\nLOGOUT_EVERYWHERE: session.logout_everywhere\nSESSION_REVOKED: session.revoked\nPASSWORD_CHANGED: account.password_changed\nCONTACT_CHANGED: account.contact_changed\nACCOUNT_CREATED: account.created\nACCOUNT_CLOSED: account.closed\nACCOUNT_REOPENED: account.reopened\nACCOUNT_DELETION_REQUESTED: account.deletion_requested\nACCOUNT_PURGED: account.purged\nIDENTITY_MATCH_FAILED: identity.match_failed\nIDENTITY_MATCH_RATE_LIMITED: identity.match_rate_limited', enum_type=AuditKind, max_length=40),
        ),
        VERSIONS.VersionTriggers(("account", "audit_event"), with_table=False),
    ]
