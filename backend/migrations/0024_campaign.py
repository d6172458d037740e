"""Opt-out campaigns (issue 15, parts 2 and 3): campaigns and the persons they notify, with
their sealed identity, address and contacts, the provisional code's keyed hash and the notice's
state (backend/onboarding/models.py).

Data versions (migration 0018, the response cache): UNVERSIONED. Neither table shows on any
screen (a notified person has no account yet), and an import writes millions of rows: a trigger
would bump the global version row once per row, a hot lock that every patient's cache key reads.
The refusal and activation pages (issue 15 part 4) read them through their own mutations,
uncached; a screen that ever lists them must add its trigger in its own migration.

Depends on 0022 for now: 0023 (the job queue) is written beside it; the dependency moves to
0023 when both land.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.identity.fields import EncryptedDateField, EncryptedTextField
from backend.identity.models import Sex
from backend.onboarding.models import NoticeChannel, NotifiedStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED = ("campaign", "campaign_person")

class Migration(migrations.Migration):
    dependencies = [('carnet', '0023_job_queue')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Campaign',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('file_digest', fields.CharField(unique=True, max_length=64)),
                ('window_ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaign', 'app': 'carnet', 'pk_attr': 'id', 'table_description': 'An opt-out campaign: one imported file of insured persons'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotifiedPerson',
            fields=[
                ('key_id', fields.CharField(db_index=True, max_length=16)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('carnet.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='persons', on_delete=OnDelete.RESTRICT)),
                ('matricule', EncryptedTextField()),
                ('nir_index', fields.CharField(unique=True, max_length=64)),
                ('oid', fields.CharField(max_length=32)),
                ('birth_name', EncryptedTextField()),
                ('first_names', EncryptedTextField()),
                ('birth_date', EncryptedDateField()),
                ('sex', fields.CharEnumField(description='MALE: M\nFEMALE: F\nUNKNOWN: U', enum_type=Sex, max_length=1)),
                ('birthplace_code', EncryptedTextField()),
                ('postal_address', EncryptedTextField(null=True)),
                ('email', EncryptedTextField(null=True)),
                ('phone', EncryptedTextField(null=True)),
                ('channel', fields.CharEnumField(description='EMAIL: email\nLETTER: letter', enum_type=NoticeChannel, max_length=6)),
                ('status', fields.CharEnumField(default=NotifiedStatus.NOTIFIED, description='NOTIFIED: notified\nREFUSED: refused\nACTIVATED: activated\nCREATED: created', enum_type=NotifiedStatus, max_length=9)),
                ('window_ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('code_hash', fields.CharField(null=True, max_length=64)),
                ('notice_claim', fields.CharField(null=True, max_length=32)),
                ('notice_claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('notice_attempts', fields.SmallIntField(default=0)),
                ('letter_batch', fields.CharField(null=True, max_length=64)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaign_person', 'app': 'carnet', 'indexes': [Index(fields=['channel', 'sent_at', 'id']), Index(fields=['campaign_id']), Index(fields=['letter_batch'])], 'pk_attr': 'id', 'table_description': 'A person notified by an opt-out campaign (identity sealed)'},
            bases=['_SealedModel'],
        ),
    ]
