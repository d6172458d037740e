from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0002_identity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DataKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='data_keys', on_delete=OnDelete.RESTRICT)),
                ('wrapped_key', fields.BinaryField()),
                ('master_key_id', fields.CharField(db_index=True, max_length=16)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('rewrapped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'data_key', 'app': 'carnet', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
