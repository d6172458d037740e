from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.records.models import DocumentSource, Visibility
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('carnet', '0003_data_keys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Document',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.RESTRICT)),
                ('title_encrypted', fields.BinaryField()),
                ('type_code', fields.CharField(db_index=True, max_length=10)),
                ('clinical_date', fields.DateField(db_index=True)),
                ('author_account_id', fields.IntField()),
                ('author_professional', fields.ForeignKeyField('carnet.Professional', source_field='author_professional_id', null=True, db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharEnumField(description='PATIENT_UPLOAD: patient_upload\nPROFESSIONAL_SOFTWARE: professional_software\nLEGACY_IMPORT: legacy_import', enum_type=DocumentSource, max_length=24)),
                ('content_type', fields.CharField(max_length=100)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('blob_name', fields.CharField(unique=True, max_length=120)),
                ('data_key_id', fields.IntField()),
                ('visibility', fields.CharEnumField(default=Visibility.NORMAL, description='NORMAL: normal\nHIDDEN_FROM_PROFESSIONALS: hidden_from_professionals\nNOT_YET_VISIBLE_TO_PATIENT: not_yet_visible_to_patient', enum_type=Visibility, max_length=32)),
                ('release_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('seen_by_patient_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'document', 'app': 'carnet', 'indexes': [Index(fields=['person_id', 'created_at']), Index(fields=['person_id', 'sha256'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
