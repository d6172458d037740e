"""The access log names the app that read (issue 14 part 4): `app_id` and `app_name` on
access_log_entry, set for reads under ground APP (part of the entry's hash when set; entries
before keep their digest, backend/audit/access_log.py body_digest), and its kinds gain MESSAGES
(an app with messages:read read the patient's conversations; the column is unchanged, only its
description).

No new table. The data-version trigger of migration 0018 is re-created after the columns (a
no-op on PostgreSQL; on SQLite a table rebuild would have dropped it).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
import importlib
from backend.audit.models import AccessKind

VERSIONS = importlib.import_module("backend.migrations.0018_data_version")

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED: tuple[str, ...] = ()


class Migration(migrations.Migration):
    dependencies = [('carnet', '0024_campaign')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AccessLogEntry',
            name='app_id',
            field=fields.UUIDField(null=True),
        ),
        ops.AddField(
            model_name='AccessLogEntry',
            name='app_name',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AlterField(
            model_name='AccessLogEntry',
            name='kind',
            field=fields.CharEnumField(description='DOCUMENT: document\nDOCUMENT_CONTENT: document_content\nDOCUMENT_LIST: document_list\nPROFILE: profile\nEXPORT: export\nSEARCH: search\nEMERGENCY_ACCESS: emergency_access\nAGENDA: agenda\nMESSAGES: messages', enum_type=AccessKind, max_length=20),
        ),
        VERSIONS.VersionTriggers(("access_log_entry",), with_table=False),
    ]
