"""The OAuth 2 authorization server (issue 14, part 2): confidential apps' client secrets,
authorization codes, patients' grants, access and refresh tokens (backend/oauth/models.py).

Data versions (migration 0018, the response cache): none of these tables shows on a cached
screen. Codes and tokens are credentials read by the token, revocation and introspection
endpoints (never through GraphQL), and every token use would bump the patient's version (a hot,
locked row) for nothing; client secrets are operators' side. Grants show on no screen yet: the
"Applications connectées" page (issue 14, part 6) must give oauth_grant a trigger (patient
scope, person_id) in its own migration when it lists them.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED = ("oauth_client_secret", "oauth_grant", "oauth_code", "oauth_access_token",
               "oauth_refresh_token")

class Migration(migrations.Migration):
    dependencies = [('carnet', '0021_catalogue')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OAuthClientSecret',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('carnet.CatalogueApp', source_field='app_id', db_constraint=True, to_field='id', related_name='client_secrets', on_delete=OnDelete.CASCADE)),
                ('secret_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_client_secret', 'app': 'carnet', 'indexes': [Index(fields=['app_id', 'revoked_at'])], 'pk_attr': 'id', 'table_description': "A confidential app client secret (keyed hash, shown once)"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OAuthGrant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='oauth_grants', on_delete=OnDelete.RESTRICT)),
                ('account', fields.ForeignKeyField('carnet.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='oauth_grants', on_delete=OnDelete.RESTRICT)),
                ('app', fields.ForeignKeyField('carnet.CatalogueApp', source_field='app_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_grant', 'app': 'carnet', 'indexes': [Index(fields=['person_id', 'app_id', 'revoked_at']), Index(fields=['account_id']), Index(fields=['app_id', 'revoked_at'])], 'pk_attr': 'id', 'table_description': 'What a patient allowed an app (scopes), revoked_at ends its tokens'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OAuthAccessToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='oauth_access_tokens', on_delete=OnDelete.RESTRICT)),
                ('grant', fields.ForeignKeyField('carnet.OAuthGrant', source_field='grant_id', db_constraint=True, to_field='id', related_name='access_tokens', on_delete=OnDelete.CASCADE)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_access_token', 'app': 'carnet', 'indexes': [Index(fields=['grant_id', 'revoked_at']), Index(fields=['expires_at']), Index(fields=['person_id'])], 'pk_attr': 'id', 'table_description': 'An opaque bearer access token (keyed hash)'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OAuthCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='oauth_codes', on_delete=OnDelete.RESTRICT)),
                ('account', fields.ForeignKeyField('carnet.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='oauth_codes', on_delete=OnDelete.RESTRICT)),
                ('app', fields.ForeignKeyField('carnet.CatalogueApp', source_field='app_id', db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.CASCADE)),
                ('redirect_uri', fields.CharField(max_length=500)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('code_challenge', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('grant', fields.ForeignKeyField('carnet.OAuthGrant', source_field='grant_id', null=True, db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'oauth_code', 'app': 'carnet', 'indexes': [Index(fields=['person_id', 'created_at']), Index(fields=['expires_at']), Index(fields=['account_id']), Index(fields=['app_id']), Index(fields=['grant_id'])], 'pk_attr': 'id', 'table_description': 'An authorization code (keyed hash), single use, 60 s'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OAuthRefreshToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='oauth_refresh_tokens', on_delete=OnDelete.RESTRICT)),
                ('grant', fields.ForeignKeyField('carnet.OAuthGrant', source_field='grant_id', db_constraint=True, to_field='id', related_name='refresh_tokens', on_delete=OnDelete.CASCADE)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_refresh_token', 'app': 'carnet', 'indexes': [Index(fields=['grant_id', 'revoked_at']), Index(fields=['expires_at']), Index(fields=['person_id'])], 'pk_attr': 'id', 'table_description': 'A rotating refresh token (keyed hash), reuse revokes the grant'},
            bases=['Model'],
        ),
    ]
