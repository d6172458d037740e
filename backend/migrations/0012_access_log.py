from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.audit.models import AccessGround, AccessKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0011_access')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccessLogEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('patient_id', fields.IntField()),
                ('seq', fields.IntField()),
                ('account_id', fields.IntField()),
                ('professional_id', fields.IntField(null=True)),
                ('profession', fields.CharField(null=True, max_length=100)),
                ('kind', fields.CharEnumField(description='DOCUMENT: document\nDOCUMENT_CONTENT: document_content\nDOCUMENT_LIST: document_list\nPROFILE: profile\nEXPORT: export\nSEARCH: search\nEMERGENCY_ACCESS: emergency_access', enum_type=AccessKind, max_length=20)),
                ('section', fields.CharField(null=True, max_length=40)),
                ('document_id', fields.UUIDField(null=True)),
                ('ground', fields.CharEnumField(description='CARE_TEAM: care_team\nDECLARED: declared\nTREATING_DOCTOR: treating_doctor\nEMERGENCY: emergency\nAUTHOR: author\nAPP: app\nPROXY: proxy', enum_type=AccessGround, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'access_log_entry', 'app': 'carnet', 'unique_together': (('patient_id', 'seq'),), 'pk_attr': 'id', 'table_description': 'One read of a patient record by someone else (hash-chained)'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccessLogHead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('patient_id', fields.IntField(unique=True)),
                ('last_seq', fields.IntField()),
                ('last_hash', fields.CharField(max_length=64)),
                ('mac', fields.CharField(max_length=64)),
                ('key_id', fields.CharField(max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'access_log_head', 'app': 'carnet', 'pk_attr': 'id', 'table_description': 'Signed head of each patient access-log chain'},
            bases=['Model'],
        ),
    ]
