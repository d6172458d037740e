"""The catalogue of referenced health apps (issue 14, part 1): apps, their categories, the
append-only history of their status changes; and their data version triggers (migration 0018).

Data versions: an app names no patient, yet a referenced app may show on every patient's
screens (the catalogue, later "Applications connectées"): each write bumps the global scope 0,
like announcements and access rules. Writes are rare (operators' commands), so the global row
is not a hot row.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.catalogue.models import AppStatus, Category, ClientType
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

import importlib

VERSIONS = importlib.import_module("backend.migrations.0018_data_version")
PATIENT_OF: dict[str, str] = {}  # none names a patient: the global scope (0)
TABLES = ("catalogue_app", "catalogue_app_category", "catalogue_app_status_change")
UNVERSIONED: tuple[str, ...] = ()

class Migration(migrations.Migration):
    dependencies = [('carnet', '0020_agenda_core')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CatalogueApp',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('publisher', fields.CharField(max_length=200)),
                ('description', fields.TextField(unique=False)),
                ('logo_url', fields.CharField(null=True, max_length=500)),
                ('website_url', fields.CharField(max_length=500)),
                ('privacy_policy_url', fields.CharField(max_length=500)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('redirect_uris', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('client_type', fields.CharEnumField(description='CONFIDENTIAL: confidential\nPUBLIC: public', enum_type=ClientType, max_length=12)),
                ('status', fields.CharEnumField(default=AppStatus.SUBMITTED, description='SUBMITTED: submitted\nREFERENCED: referenced\nSUSPENDED: suspended\nWITHDRAWN: withdrawn', enum_type=AppStatus, max_length=10)),
                ('criteria', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('search_text', fields.TextField(unique=False)),
                ('sort_key', fields.CharField(max_length=100)),
                ('referenced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'catalogue_app', 'app': 'carnet', 'indexes': [Index(fields=['status', 'sort_key', 'id'])], 'pk_attr': 'id', 'table_description': 'A health app submitted to, or listed in, the catalogue'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CatalogueAppCategory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('carnet.CatalogueApp', source_field='app_id', db_constraint=True, to_field='id', related_name='categories', on_delete=OnDelete.CASCADE)),
                ('category', fields.CharEnumField(description='DIABETES: diabetes\nNUTRITION: nutrition\nPHYSICAL_ACTIVITY: physical_activity\nMENTAL_HEALTH: mental_health\nCHRONIC_DISEASE: chronic_disease\nPREGNANCY: pregnancy\nAPPOINTMENTS: appointments\nTELECONSULTATION: teleconsultation\nMEDICATION: medication\nPREVENTION: prevention', enum_type=Category, max_length=20)),
            ],
            options={'table': 'catalogue_app_category', 'app': 'carnet', 'unique_together': (('app', 'category'),), 'indexes': [Index(fields=['category', 'app_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CatalogueStatusChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('carnet.CatalogueApp', source_field='app_id', db_constraint=True, to_field='id', related_name='history', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(description='SUBMITTED: submitted\nREFERENCED: referenced\nSUSPENDED: suspended\nWITHDRAWN: withdrawn', enum_type=AppStatus, max_length=10)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reason', fields.TextField(unique=False)),
                ('operator', fields.CharField(max_length=100)),
                ('criteria', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'catalogue_app_status_change', 'app': 'carnet', 'indexes': [Index(fields=['app_id', 'changed_at'])], 'pk_attr': 'id', 'table_description': 'Append-only: a row per status change (the submission included), never updated.'},
            bases=['Model'],
        ),
        VERSIONS.VersionTriggers(TABLES, PATIENT_OF, with_table=False),
    ]
