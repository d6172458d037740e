from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('carnet', '0013_access_ground_self')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Participant',
            index=Index(fields=['account_id', 'conversation_id']),
        ),
    ]
