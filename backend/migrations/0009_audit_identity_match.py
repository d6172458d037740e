from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.audit.models import AuditKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0008_document_notified')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AuditEvent',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='LOGIN_PASSWORD_OK: login.password_ok\nLOGIN_PASSWORD_FAILED: login.password_failed\nLOGIN_SUCCEEDED: login.succeeded\nLOGIN_CODE_SENT: login.code_sent\nLOGIN_CODE_FAILED: login.code_failed\nLOGIN_RATE_LIMITED: login.rate_limited\nACCOUNT_LOCKED: account.locked\nLOGOUT: session.logout\nLOGOUT_EVERYWHERE: session.logout_everywhere\nSESSION_REVOKED: session.revoked\nPASSWORD_CHANGED: account.password_changed\nCONTACT_CHANGED: account.contact_changed\nACCOUNT_CREATED: account.created\nIDENTITY_MATCH_FAILED: identity.match_failed\nIDENTITY_MATCH_RATE_LIMITED: identity.match_rate_limited', enum_type=AuditKind, max_length=40),
        ),
    ]
