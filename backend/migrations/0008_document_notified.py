from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0007_message_client_id')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Document',
            name='patient_notified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
