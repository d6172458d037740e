from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('carnet', '0005_profile')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Block',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('patient_account', fields.ForeignKeyField('carnet.Account', source_field='patient_account_id', db_constraint=True, to_field='id', related_name='blocks', on_delete=OnDelete.CASCADE)),
                ('professional', fields.ForeignKeyField('carnet.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='blocked_by', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'messaging_block', 'app': 'carnet', 'unique_together': (('patient_account', 'professional'),), 'pk_attr': 'id', 'table_description': 'A patient blocked a professional: they can no longer write to them.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('patient', fields.ForeignKeyField('carnet.Person', source_field='patient_id', db_constraint=True, to_field='id', related_name='conversations', on_delete=OnDelete.RESTRICT)),
                ('patient_participates', fields.BooleanField(default=True)),
                ('subject_encrypted', fields.BinaryField()),
                ('data_key_id', fields.IntField()),
                ('created_by_account_id', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seq', fields.BigIntField(default=0, db_index=True)),
            ],
            options={'table': 'conversation', 'app': 'carnet', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('conversation', fields.ForeignKeyField('carnet.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('seq', fields.BigIntField(unique=True)),
                ('author_account_id', fields.IntField()),
                ('body_encrypted', fields.BinaryField()),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'message', 'app': 'carnet', 'indexes': [Index(fields=['conversation_id', 'seq'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessageAttachment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('carnet.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('document', fields.ForeignKeyField('carnet.Document', source_field='document_id', db_constraint=True, to_field='id', related_name='message_attachments', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'message_attachment', 'app': 'carnet', 'unique_together': (('message', 'document'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessageClock',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('value', fields.BigIntField(default=0)),
            ],
            options={'table': 'message_clock', 'app': 'carnet', 'pk_attr': 'id', 'table_description': 'A single row: its value is the last global message sequence handed out.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Participant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation', fields.ForeignKeyField('carnet.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='participants', on_delete=OnDelete.CASCADE)),
                ('account', fields.ForeignKeyField('carnet.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='participations', on_delete=OnDelete.RESTRICT)),
                ('read_seq', fields.BigIntField(default=0)),
                ('notified_seq', fields.BigIntField(default=0)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'conversation_participant', 'app': 'carnet', 'unique_together': (('conversation', 'account'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
