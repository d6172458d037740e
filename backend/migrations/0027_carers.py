"""Carers and minors' legal representatives (issue 15 parts 7 and 8): `carer_grant`, an adult's
permission for another account to help with their space, or a minor's legal representative
until the 18th birthday (backend/access/models.py CarerGrant); and `document.
hidden_from_representatives` (DMP INVISIBLE_REPRESENTANTS_LEGAUX).

Data versions (migration 0018, the response cache): carer_grant is UNVERSIONED. No cached
screen shows carers, and a carer's requests (Carnet-Space) are never served from the cache
(delegated callers are excluded like apps): a grant or a revocation takes effect at the carer's
next request, which reads the grant itself. The document's new column is covered by its table's
trigger, re-created after it (a no-op on PostgreSQL; a SQLite table rebuild would drop it).
"""

import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.access.models import CarerKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

VERSIONS = importlib.import_module("backend.migrations.0018_data_version")

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED = ("carer_grant",)


class Migration(migrations.Migration):
    dependencies = [('carnet', '0026_closure')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CarerGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('patient', fields.ForeignKeyField('carnet.Person', source_field='patient_id', db_constraint=True, to_field='id', related_name='carer_grants', on_delete=OnDelete.CASCADE)),
                ('carer_account', fields.ForeignKeyField('carnet.Account', source_field='carer_account_id', null=True, db_constraint=True, to_field='id', related_name='carer_of', on_delete=OnDelete.CASCADE)),
                ('carer_email_index', fields.CharField(db_index=True, max_length=64)),
                ('email_hint', fields.CharField(max_length=120)),
                ('parts', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('can_write', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('kind', fields.CharEnumField(default=CarerKind.CARER, description='CARER: carer\nREPRESENTATIVE: representative', enum_type=CarerKind, max_length=16)),
                ('handed_over_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'carer_grant', 'app': 'carnet', 'pk_attr': 'id', 'table_description': 'A carer allowed to help with a patient space (parts, end, revocation)'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Document',
            name='hidden_from_representatives',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        VERSIONS.VersionTriggers(("document",), with_table=False),
    ]
