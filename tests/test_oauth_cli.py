"""`carnet apps credentials ID` (backend/oauth/cli.py): a confidential app's client secret,
printed once, stored as a keyed hash; a new one revokes the previous one."""

from __future__ import annotations

import json

import pytest
from authlib.oauth2.rfc6749.errors import InvalidClientError

from backend.oauth import services
from backend.oauth.models import OAuthClientSecret
from tests.catalogue_helpers import referenced
from tests.test_operator_cli import carnet


async def test_credentials_printed_once_and_rotated(server_env, clean, settings):
    app = await referenced(clientType="confidential")
    first = carnet(server_env, "apps", "credentials", str(app.id))
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["clientId"] == str(app.id)
    secret = out["clientSecret"]
    assert secret not in first.stderr
    row = await OAuthClientSecret.get(app_id=app.id)
    assert secret not in row.secret_hash and len(row.secret_hash) == 64
    # The CLI's process used the tests' master key (server_env): the secret works here.
    cli_settings = settings
    assert (await services.authenticate_client(cli_settings, str(app.id), secret)).id == app.id

    second = json.loads(carnet(server_env, "apps", "credentials", str(app.id)).stdout)
    assert second["clientSecret"] != secret
    with pytest.raises(InvalidClientError):
        await services.authenticate_client(cli_settings, str(app.id), secret)
    await services.authenticate_client(cli_settings, str(app.id), second["clientSecret"])


async def test_public_and_unknown_apps_have_no_credentials(server_env, clean):
    public = await referenced()
    for ident in (str(public.id), "00000000-0000-4000-8000-000000000000", "nope"):
        result = carnet(server_env, "apps", "credentials", ident)
        assert result.returncode == 2 and "no confidential app" in result.stderr
        assert result.stdout == ""
    assert await OAuthClientSecret.all().count() == 0
