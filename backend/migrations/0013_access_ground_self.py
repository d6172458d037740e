from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.audit.models import AccessGround
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0012_access_log')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AccessLogEntry',
            name='ground',
            field=fields.CharEnumField(description='SELF: self\nCARE_TEAM: care_team\nDECLARED: declared\nTREATING_DOCTOR: treating_doctor\nEMERGENCY: emergency\nAUTHOR: author\nAPP: app\nPROXY: proxy', enum_type=AccessGround, max_length=20),
        ),
    ]
