"""The OAuth 2 authorization server's state (issue 14, part 2).

Every secret here (client secrets, authorization codes, access and refresh tokens) is drawn
with `secrets` (256 bits), shown once and stored only as a keyed hash (HMAC-SHA256 under an HKDF
subkey of the master key per purpose, backend/crypto.py `keyed_hash`, as session tokens and
calendar feeds are): a database dump gives nothing that works. A master key rotation does not
break them: lookups try the hash under every known master key.

- `OAuthClientSecret`: a confidential app's secret (`carnet apps credentials ID`); a new one
  revokes the previous one.
- `OAuthCode`: an authorization code, 60 s (OAUTH_CODE_SECONDS), single use (`used_at` set by
  one conditional UPDATE), bound to its app, redirect URI, PKCE S256 challenge, patient and
  granted scopes. `grant` is set on exchange: a second exchange revokes that grant (RFC 6749
  section 4.1.2).
- `OAuthGrant`: what a patient allowed an app (scopes); at most one active per patient and app
  (a new consent updates it); revoked_at ends every token issued under it.
- `OAuthAccessToken`: opaque bearer token, OAUTH_ACCESS_TOKEN_SECONDS (600 s).
- `OAuthRefreshToken`: rotating; each use marks it used and issues a new one; a used one
  presented again revokes the whole grant (reuse detection).

Codes, grants and tokens are patient-owned (person_id); their hashes are unique globally
(tests/test_distribution_key.py says how that survives distribution).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class OAuthClientSecret(Model):
    id = fields.IntField(primary_key=True)
    app = fields.ForeignKeyField("carnet.CatalogueApp", related_name="client_secrets",
                                 on_delete=fields.CASCADE)
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_client_secret"
        table_description = "A confidential app client secret (keyed hash, shown once)"
        indexes = [Index(fields=["app_id", "revoked_at"])]


class OAuthGrant(Model):
    id = fields.BigIntField(primary_key=True)
    person = fields.ForeignKeyField("carnet.Person", related_name="oauth_grants",
                                    on_delete=fields.RESTRICT)
    account = fields.ForeignKeyField("carnet.Account", related_name="oauth_grants",
                                     on_delete=fields.RESTRICT)
    app = fields.ForeignKeyField("carnet.CatalogueApp", related_name="grants",
                                 on_delete=fields.RESTRICT)
    scopes = fields.JSONField(default=list)  # the scopes the patient granted
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_grant"
        table_description = "What a patient allowed an app (scopes), revoked_at ends its tokens"
        indexes = [Index(fields=["person_id", "app_id", "revoked_at"]),
                   Index(fields=["account_id"]), Index(fields=["app_id", "revoked_at"])]


class OAuthCode(Model):
    id = fields.BigIntField(primary_key=True)
    code_hash = fields.CharField(max_length=64, unique=True)
    person = fields.ForeignKeyField("carnet.Person", related_name="oauth_codes",
                                    on_delete=fields.RESTRICT)
    account = fields.ForeignKeyField("carnet.Account", related_name="oauth_codes",
                                     on_delete=fields.RESTRICT)
    app = fields.ForeignKeyField("carnet.CatalogueApp", related_name="codes",
                                 on_delete=fields.CASCADE)
    redirect_uri = fields.CharField(max_length=500)
    scopes = fields.JSONField(default=list)
    code_challenge = fields.CharField(max_length=128)  # S256 only
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    grant = fields.ForeignKeyField("carnet.OAuthGrant", related_name="codes", null=True,
                                   on_delete=fields.SET_NULL)

    class Meta:
        table = "oauth_code"
        table_description = "An authorization code (keyed hash), single use, 60 s"
        indexes = [Index(fields=["person_id", "created_at"]), Index(fields=["expires_at"]),
                   Index(fields=["account_id"]), Index(fields=["app_id"]),
                   Index(fields=["grant_id"])]


class OAuthAccessToken(Model):
    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    person = fields.ForeignKeyField("carnet.Person", related_name="oauth_access_tokens",
                                    on_delete=fields.RESTRICT)
    grant = fields.ForeignKeyField("carnet.OAuthGrant", related_name="access_tokens",
                                   on_delete=fields.CASCADE)
    scopes = fields.JSONField(default=list)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_access_token"
        table_description = "An opaque bearer access token (keyed hash)"
        indexes = [Index(fields=["grant_id", "revoked_at"]), Index(fields=["expires_at"]),
                   Index(fields=["person_id"])]


class OAuthRefreshToken(Model):
    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    person = fields.ForeignKeyField("carnet.Person", related_name="oauth_refresh_tokens",
                                    on_delete=fields.RESTRICT)
    grant = fields.ForeignKeyField("carnet.OAuthGrant", related_name="refresh_tokens",
                                   on_delete=fields.CASCADE)
    scopes = fields.JSONField(default=list)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)  # rotated: presenting it again revokes the grant
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_refresh_token"
        table_description = "A rotating refresh token (keyed hash), reuse revokes the grant"
        indexes = [Index(fields=["grant_id", "revoked_at"]), Index(fields=["expires_at"]),
                   Index(fields=["person_id"])]
