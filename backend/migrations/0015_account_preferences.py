from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.identity.models import CodeChannel
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0014_participant_account_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Account',
            name='language',
            field=fields.CharField(default='fr', max_length=5),
        ),
        ops.AddField(
            model_name='Account',
            name='notification_channel',
            field=fields.CharEnumField(null=True, description='EMAIL: email\nSMS: sms', enum_type=CodeChannel, max_length=5),
        ),
        ops.AddField(
            model_name='Account',
            name='notify_new_document',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='Account',
            name='notify_new_message',
            field=fields.BooleanField(default=True),
        ),
    ]
