"""The security trail's kinds gain the apps' consents and revocations (app.authorized, revoked,
grant_reused, suspended, withdrawn) and the delegations (carer.granted, revoked): the column is
unchanged, only its description.

No new table. On SQLite the AlterField rebuilds audit_event, which drops its data-version
triggers (migration 0018) and its indexes: both are created again after it, the indexes with
their PostgreSQL names (a no-op on PostgreSQL).
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
# audit_event's indexes (0001's, named by Tortoise), as they were created.
INDEXES = (
    ("idx_audit_event_kind_b9de88", '"kind"'),
    ("idx_audit_event_account_cf1cfe", '"account_id"'),
    ("idx_audit_event_created_a87696", '"created_at"'),
)

class Migration(migrations.Migration):
    dependencies = [('carnet', '0030_majority')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AuditEvent',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='LOGIN_PASSWORD_OK: login.password_ok\nLOGIN_PASSWORD_FAILED: login.password_failed\nLOGIN_SUCCEEDED: login.succeeded\nLOGIN_CODE_SENT: login.code_sent\nLOGIN_CODE_FAILED: login.code_failed\nLOGIN_RATE_LIMITED: login.rate_limited\nACCOUNT_LOCKED: account.locked\nLOGOUT: session.logout\nLOGOUT_EVERYWHERE: session.logout_everywhere\nSESSION_REVOKED: session.revoked\nPASSWORD_CHANGED: account.password_changed\nCONTACT_CHANGED: account.contact_changed\nACCOUNT_CREATED: account.created\nACCOUNT_CLOSED: account.closed\nACCOUNT_REOPENED: account.reopened\nACCOUNT_DELETION_REQUESTED: account.deletion_requested\nACCOUNT_PURGED: account.purged\nIDENTITY_MATCH_FAILED: identity.match_failed\nIDENTITY_MATCH_RATE_LIMITED: identity.match_rate_limited\nAPP_AUTHORIZED: app.authorized\nAPP_REVOKED: app.revoked\nAPP_GRANT_REUSED: app.grant_reused\nAPP_SUSPENDED: app.suspended\nAPP_WITHDRAWN: app.withdrawn\nCARER_GRANTED: carer.granted\nCARER_REVOKED: carer.revoked', enum_type=AuditKind, max_length=40),
        ),
        VERSIONS.VersionTriggers(("audit_event",), with_table=False),
    ] + [
        ops.RunSQL(f'CREATE INDEX IF NOT EXISTS "{name}" ON "audit_event" ({columns})',
                   reverse_sql="SELECT 1")
        for name, columns in INDEXES
    ]
