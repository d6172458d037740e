"""The access log's kinds gain AGENDA (a professional read the patient's appointments through
patientRecord.appointments, issue 13). The column is unchanged; only its description.

On SQLite, Tortoise applies the AlterField by rebuilding the table, which drops its triggers:
the data-version trigger of migration 0018 is put back after it (a no-op re-creation on
PostgreSQL).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.audit.models import AccessKind
from tortoise import fields
import importlib

VERSIONS = importlib.import_module("backend.migrations.0018_data_version")

class Migration(migrations.Migration):
    dependencies = [('carnet', '0019_agenda')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AccessLogEntry',
            name='kind',
            field=fields.CharEnumField(description='DOCUMENT: document\nDOCUMENT_CONTENT: document_content\nDOCUMENT_LIST: document_list\nPROFILE: profile\nEXPORT: export\nSEARCH: search\nEMERGENCY_ACCESS: emergency_access\nAGENDA: agenda', enum_type=AccessKind, max_length=20),
        ),
        VERSIONS.VersionTriggers(("access_log_entry",), with_table=False),
    ]
