"""Refusal, early activation and finalisation of the opt-out campaigns (issue 15 parts 4 and 5):
`campaign_person.decided_at` and `campaign_person.person_id` (the Person an activation or the
finalisation made). No new table; campaign_person stays unversioned (migration 0024).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0027_carers')]

    initial = False

    operations = [
        ops.AddField(
            model_name='NotifiedPerson',
            name='decided_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='NotifiedPerson',
            name='person',
            field=fields.ForeignKeyField('carnet.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='campaign_notices', on_delete=OnDelete.SET_NULL),
        ),
    ]
