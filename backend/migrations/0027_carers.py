"""Carers (issue 15 part 8): `carer_grant`, an adult's permission for another account to help
with their space (backend/access/models.py CarerGrant).

Data versions (migration 0018, the response cache): UNVERSIONED. No cached screen shows carers,
and a carer's requests (Carnet-Space) are never served from the cache (delegated callers are
excluded like apps): a grant or a revocation must take effect at the carer's next request, which
reads the grant itself.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED = ("carer_grant",)


class Migration(migrations.Migration):
    dependencies = [('carnet', '0025_access_log_app')]

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
            ],
            options={'table': 'carer_grant', 'app': 'carnet', 'pk_attr': 'id', 'table_description': 'A carer allowed to help with a patient space (parts, end, revocation)'},
            bases=['Model'],
        ),
    ]
