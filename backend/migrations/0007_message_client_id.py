from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('carnet', '0006_messaging')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='client_message_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddConstraint(
            model_name='Message',
            constraint=UniqueConstraint(fields=('author_account_id', 'client_message_id'), name=None),
        ),
    ]
