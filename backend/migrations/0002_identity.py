from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from backend.audit.models import AuditKind
from backend.identity.models import AccountStatus, CodeChannel, IdentityStatus, Role, Sex
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('carnet', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(db_index=True, description='LOGIN_PASSWORD_OK: login.password_ok\nLOGIN_PASSWORD_FAILED: login.password_failed\nLOGIN_SUCCEEDED: login.succeeded\nLOGIN_CODE_SENT: login.code_sent\nLOGIN_CODE_FAILED: login.code_failed\nLOGIN_RATE_LIMITED: login.rate_limited\nACCOUNT_LOCKED: account.locked\nLOGOUT: session.logout\nLOGOUT_EVERYWHERE: session.logout_everywhere\nSESSION_REVOKED: session.revoked\nPASSWORD_CHANGED: account.password_changed\nCONTACT_CHANGED: account.contact_changed\nACCOUNT_CREATED: account.created', enum_type=AuditKind, max_length=40)),
                ('account_id', fields.IntField(null=True, db_index=True)),
                ('outcome', fields.CharField(max_length=20)),
                ('address', fields.CharField(null=True, max_length=64)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_event', 'app': 'carnet', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Person',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('matricule', fields.CharField(unique=True, max_length=15)),
                ('oid', fields.CharField(max_length=32)),
                ('birth_name', fields.CharField(max_length=100)),
                ('first_names', fields.CharField(max_length=200)),
                ('birth_date', fields.DateField()),
                ('sex', fields.CharEnumField(description='MALE: M\nFEMALE: F\nUNKNOWN: U', enum_type=Sex, max_length=1)),
                ('birthplace_code', fields.CharField(max_length=5)),
                ('identity_status', fields.CharEnumField(default=IdentityStatus.PROVISIONAL, description='PROVISIONAL: PROV\nRETRIEVED: RECUP\nVALIDATED: VALI\nQUALIFIED: QUAL', enum_type=IdentityStatus, max_length=5)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'person', 'app': 'carnet', 'pk_attr': 'id', 'table_description': "A patient's national health identity (INS) and its traits."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Professional',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('rpps', fields.CharField(unique=True, max_length=11)),
                ('profession', fields.CharField(max_length=100)),
                ('specialty', fields.CharField(null=True, max_length=100)),
                ('practice_name', fields.CharField(null=True, max_length=200)),
                ('practice_address', fields.CharField(null=True, max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'professional', 'app': 'carnet', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('identifier', fields.CharField(max_length=254)),
                ('identifier_key', fields.CharField(unique=True, max_length=254)),
                ('password_hash', fields.CharField(max_length=255)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('email_verified', fields.BooleanField(default=False)),
                ('phone', fields.CharField(null=True, max_length=20)),
                ('phone_verified', fields.BooleanField(default=False)),
                ('preferred_channel', fields.CharEnumField(default=CodeChannel.EMAIL, description='EMAIL: email\nSMS: sms', enum_type=CodeChannel, max_length=5)),
                ('status', fields.CharEnumField(default=AccountStatus.ACTIVE, description='PENDING: pending\nACTIVE: active\nLOCKED: locked\nCLOSED: closed', enum_type=AccountStatus, max_length=10)),
                ('role', fields.CharEnumField(description='PATIENT: patient\nPROFESSIONAL: professional', enum_type=Role, max_length=12)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('professional', fields.ForeignKeyField('carnet.Professional', source_field='professional_id', null=True, db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('password_changed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'account', 'app': 'carnet', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
