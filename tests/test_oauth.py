"""The OAuth 2 authorization server (backend/oauth, issue 14 part 2), on the ASGI app: the whole
PKCE flow driven by authlib's client, and every refusal the token, revocation and
introspection endpoints owe (RFC 6749, 7636, 7009, 7662), with the clock injected."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from backend.catalogue import services as catalogue
from backend.catalogue.models import AppStatus
from backend.oauth import services
from backend.oauth.models import OAuthAccessToken, OAuthCode, OAuthGrant, OAuthRefreshToken
from tests.catalogue_helpers import NOW, referenced
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in

BASE = "http://testserver"
TOKEN_URL = BASE + "/oauth/token"
REVOKE_URL = BASE + "/oauth/revoke"
INTROSPECT_URL = BASE + "/oauth/introspect"
REDIRECT = "https://poids.example.fr/oauth/callback"
AUTHORIZE = """mutation A($c: ID!, $r: String!, $s: [String!]!, $st: String, $cc: String!,
  $m: String!) { authorizeApp(clientId: $c, redirectUri: $r, scopes: $s, state: $st,
  codeChallenge: $cc, codeChallengeMethod: $m) { __typename
  ... on AuthorizationGranted { redirectTo } ... on Error { message }
  ... on InvalidScope { scope } } }"""
REQUEST = """query R($c: ID!, $r: String!, $s: [String!]) { appAuthorizationRequest(
  clientId: $c, redirectUri: $r, scopes: $s) { __typename
  ... on AppAuthorizationRequest { clientId name publisher redirectUri
      scopes { scope label optional } }
  ... on Error { message } ... on InvalidScope { scope } } }"""
SCOPES = ["profile:read", "profile.measurements:write"]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
async def world(app, clean, gql, notifier, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(app.state.runtime, "clock", clock)
    settings = app.state.runtime.settings
    await create_patient(email="alice@example.fr")
    token = await sign_in(gql, notifier, "alice@example.fr", PASSWORD)
    public = await referenced()
    confidential = await referenced(clientType="confidential", name="Carnet Serveur")
    secret = await services.create_client_secret(settings, str(confidential.id), now=NOW)
    return SimpleNamespace(app=app, gql=gql, token=token, clock=clock, settings=settings,
                           public=public, confidential=confidential, secret=secret)


def oauth_client(world, app_row, *, secret: str | None = None, method: str | None = None,
                 scope=SCOPES) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=str(app_row.id), client_secret=secret,
        token_endpoint_auth_method=method or ("client_secret_basic" if secret else "none"),
        revocation_endpoint_auth_method=method or ("client_secret_basic" if secret else "none"),
        scope=" ".join(scope), redirect_uri=REDIRECT, code_challenge_method="S256",
        transport=httpx.ASGITransport(app=world.app), base_url=BASE)


async def authorize(world, app_row, *, verifier: str, state: str | None = "xyz",
                    scopes=SCOPES, redirect_uri=REDIRECT, method="S256",
                    challenge: str | None = None) -> dict:
    body = await world.gql(AUTHORIZE, {
        "c": str(app_row.id), "r": redirect_uri, "s": scopes, "st": state,
        "cc": challenge if challenge is not None else create_s256_code_challenge(verifier),
        "m": method}, token=world.token)
    assert "errors" not in body, body
    return body["data"]["authorizeApp"]


async def code_for(world, app_row, verifier: str, **kwargs) -> str:
    answer = await authorize(world, app_row, verifier=verifier, **kwargs)
    assert answer["__typename"] == "AuthorizationGranted", answer
    return parse_qs(urlsplit(answer["redirectTo"]).query)["code"][0]


async def post(world, url: str, data: dict, *, auth: tuple[str, str] | None = None
               ) -> httpx.Response:
    headers = {}
    if auth:
        raw = f"{auth[0]}:{auth[1]}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app),
                                 base_url=BASE) as http:
        return await http.post(url, data=data, headers=headers)


def exchange(world, app_row, code: str, verifier: str, **extra) -> dict:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier, "client_id": str(app_row.id), **extra}


def assert_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


# --- the whole flow ---------------------------------------------------------------------------


async def test_public_client_pkce_flow_refresh_revoke(world):
    client = oauth_client(world, world.public)
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(BASE + "/oauth/authorize",
                                                 code_verifier=verifier)
    sent = parse_qs(urlsplit(url).query)
    assert sent["code_challenge_method"] == ["S256"]
    answer = await authorize(world, world.public, verifier=verifier, state=state,
                             challenge=sent["code_challenge"][0])
    redirect = answer["redirectTo"]
    assert redirect.startswith(REDIRECT + "?code=") and f"state={state}" in redirect

    token = await client.fetch_token(TOKEN_URL, authorization_response=redirect,
                                     code_verifier=verifier)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 600
    assert token["scope"] == " ".join(SCOPES)
    access = await services.active_access_token(world.settings, token["access_token"],
                                                world.clock.now)
    assert access is not None and access.grant.scopes == SCOPES
    grant = await OAuthGrant.get(id=access.grant_id)
    assert grant.revoked_at is None and grant.last_used_at == NOW

    # Rotation: a new refresh token each time, the old one marked used.
    first_refresh = token["refresh_token"]
    world.clock.now = NOW + timedelta(minutes=5)
    renewed = await client.refresh_token(TOKEN_URL, refresh_token=first_refresh)
    assert renewed["refresh_token"] != first_refresh
    assert renewed["access_token"] != token["access_token"]
    old = await OAuthRefreshToken.get(token_hash=services._hash(
        world.settings, services.REFRESH_TOKEN, first_refresh))
    assert old.used_at == NOW + timedelta(minutes=5)

    # The access token stops after its lifetime.
    world.clock.now = NOW + timedelta(seconds=601)
    assert await services.active_access_token(world.settings, token["access_token"],
                                              world.clock.now) is None
    assert await services.active_access_token(world.settings, renewed["access_token"],
                                              world.clock.now) is not None

    # RFC 7009: revoking the refresh token ends the grant, its access tokens with it.
    response = await client.revoke_token(REVOKE_URL, token=renewed["refresh_token"],
                                         token_type_hint="refresh_token")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert await services.active_access_token(world.settings, renewed["access_token"],
                                              world.clock.now) is None
    assert (await OAuthGrant.get(id=grant.id)).revoked_at is not None
    refused = await post(world, TOKEN_URL, {"grant_type": "refresh_token",
                                            "refresh_token": renewed["refresh_token"],
                                            "client_id": str(world.public.id)})
    assert_error(refused, "invalid_grant")


async def test_confidential_client_basic_and_post(world):
    client = oauth_client(world, world.confidential, secret=world.secret)
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.confidential, verifier, scopes=["profile:read"],
                          state=None)
    token = await client.fetch_token(TOKEN_URL, code=code, code_verifier=verifier)
    assert token["scope"] == "profile:read"
    # client_secret_post works too.
    response = await post(world, TOKEN_URL, {
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": str(world.confidential.id), "client_secret": world.secret})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"


# --- refusals of the token endpoint -----------------------------------------------------------


async def test_wrong_verifier_redirect_mismatch_and_missing_verifier(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    for data in (exchange(world, world.public, code, secrets.token_urlsafe(48)),
                 exchange(world, world.public, code, verifier,
                          redirect_uri="http://127.0.0.1:8765/callback"),
                 exchange(world, world.public, code, verifier,
                          redirect_uri=REDIRECT + "/"),
                 {k: v for k, v in exchange(world, world.public, code, verifier).items()
                  if k != "code_verifier"}):
        assert_error(await post(world, TOKEN_URL, data), "invalid_grant")
    # None of those used the code up: the right request still works.
    response = await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))
    assert response.status_code == 200, response.text


async def test_plain_method_is_refused(world):
    verifier = secrets.token_urlsafe(48)
    for method, challenge in (("plain", verifier[:43]), ("S256", "short"), ("", None)):
        answer = await authorize(world, world.public, verifier=verifier, method=method,
                                 challenge=challenge)
        assert answer["__typename"] == "InvalidCodeChallenge", answer
    assert await OAuthCode.all().count() == 0


async def test_code_reuse_is_refused_and_revokes_what_it_gave(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    first = await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert await services.active_access_token(world.settings, access, NOW) is not None
    assert_error(await post(world, TOKEN_URL, exchange(world, world.public, code, verifier)),
                 "invalid_grant")
    assert await services.active_access_token(world.settings, access, NOW) is None


async def test_expired_code(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    world.clock.now = NOW + timedelta(seconds=60)
    assert_error(await post(world, TOKEN_URL, exchange(world, world.public, code, verifier)),
                 "invalid_grant")
    code = await code_for(world, world.public, verifier)
    world.clock.now = NOW + timedelta(seconds=119)
    response = await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))
    assert response.status_code == 200, response.text


async def test_code_of_another_client(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    data = exchange(world, world.confidential, code, verifier)
    del data["client_id"]
    response = await post(world, TOKEN_URL, data,
                          auth=(str(world.confidential.id), world.secret))
    assert_error(response, "invalid_grant")


async def test_refresh_reuse_revokes_the_grant(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    token = (await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
               "client_id": str(world.public.id)}
    rotated = await post(world, TOKEN_URL, refresh)
    assert rotated.status_code == 200
    newest = rotated.json()
    # The old refresh token comes back (stolen copy, or the thief was first): all ends.
    assert_error(await post(world, TOKEN_URL, refresh), "invalid_grant")
    for value in (newest["access_token"], token["access_token"]):
        assert await services.active_access_token(world.settings, value, NOW) is None
    assert_error(await post(world, TOKEN_URL, {**refresh,
                                               "refresh_token": newest["refresh_token"]}),
                 "invalid_grant")
    assert await OAuthGrant.filter(revoked_at__isnull=True).count() == 0
    assert await OAuthRefreshToken.filter(revoked_at__isnull=True).count() == 0


async def test_refresh_cannot_widen_scope(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier, scopes=["profile:read"])
    token = (await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))).json()
    response = await post(world, TOKEN_URL, {
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": str(world.public.id), "scope": "profile:read documents:read"})
    assert_error(response, "invalid_scope")


async def test_client_authentication(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.confidential, verifier)
    base = exchange(world, world.confidential, code, verifier)
    # Wrong secret (Basic): 401 with a Basic challenge; (post): 401.
    response = await post(world, TOKEN_URL, {k: v for k, v in base.items() if k != "client_id"},
                          auth=(str(world.confidential.id), secrets.token_urlsafe(32)))
    assert_error(response, "invalid_client", 401)
    assert response.headers["www-authenticate"].startswith("Basic")
    assert_error(await post(world, TOKEN_URL, {**base, "client_secret": "x" * 43}),
                 "invalid_client", 401)
    # No secret at all for a confidential app.
    assert_error(await post(world, TOKEN_URL, base), "invalid_client", 401)
    # A public app does not send one; unknown client ids are refused.
    assert_error(await post(world, TOKEN_URL, {
        **exchange(world, world.public, code, verifier), "client_secret": world.secret}),
        "invalid_client", 401)
    assert_error(await post(world, TOKEN_URL, {**base, "client_id": "nope"}),
                 "invalid_client", 401)
    # A new secret replaces the old one at once.
    fresh = await services.create_client_secret(world.settings, str(world.confidential.id),
                                                now=NOW)
    assert_error(await post(world, TOKEN_URL, {**base, "client_secret": world.secret}),
                 "invalid_client", 401)
    response = await post(world, TOKEN_URL, {**base, "client_secret": fresh})
    assert response.status_code == 200, response.text


async def test_malformed_requests(world):
    data = {"grant_type": "password", "client_id": str(world.public.id)}
    assert_error(await post(world, TOKEN_URL, data), "unsupported_grant_type")
    assert_error(await post(world, TOKEN_URL, {"client_id": str(world.public.id)}),
                 "invalid_request")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app),
                                 base_url=BASE) as http:
        response = await http.post(TOKEN_URL, json=data)
        assert_error(response, "invalid_request")
        repeated = await http.post(
            TOKEN_URL, content=f"grant_type=refresh_token&client_id={world.public.id}"
                               f"&client_id={world.public.id}",
            headers={"content-type": "application/x-www-form-urlencoded"})
        assert_error(repeated, "invalid_request")
        huge = await http.post(TOKEN_URL, content="a=" + "b" * 20_000,
                               headers={"content-type": "application/x-www-form-urlencoded"})
        assert huge.status_code == 413


# --- introspection, suspension ----------------------------------------------------------------


async def confidential_token(world) -> dict:
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.confidential, verifier)
    response = await post(world, TOKEN_URL, {
        **exchange(world, world.confidential, code, verifier),
        "client_secret": world.secret})
    assert response.status_code == 200, response.text
    return response.json()


async def introspect(world, value: str, hint: str | None = None) -> dict:
    data = {"token": value, **({"token_type_hint": hint} if hint else {})}
    response = await post(world, INTROSPECT_URL, data,
                          auth=(str(world.confidential.id), world.secret))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def test_introspection(world):
    token = await confidential_token(world)
    active = await introspect(world, token["access_token"])
    assert active["active"] is True and active["client_id"] == str(world.confidential.id)
    assert active["scope"] == " ".join(SCOPES) and active["token_type"] == "Bearer"
    assert active["exp"] == int((NOW + timedelta(seconds=600)).timestamp())
    refresh = await introspect(world, token["refresh_token"], "refresh_token")
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    assert await introspect(world, secrets.token_urlsafe(32)) == {"active": False}
    assert await introspect(world, "not a token") == {"active": False}
    world.clock.now = NOW + timedelta(seconds=600)
    assert await introspect(world, token["access_token"]) == {"active": False}
    # A public client may not introspect; another client's token is inactive for me.
    public = await post(world, INTROSPECT_URL, {"token": token["access_token"],
                                                "client_id": str(world.public.id)})
    assert_error(public, "invalid_client", 401)
    other = await referenced(clientType="confidential", name="Autre")
    other_secret = await services.create_client_secret(world.settings, str(other.id), now=NOW)
    response = await post(world, INTROSPECT_URL, {"token": token["refresh_token"]},
                          auth=(str(other.id), other_secret))
    assert response.json() == {"active": False}


async def test_revoking_an_access_token_and_anothers_token(world):
    token = await confidential_token(world)
    other = await referenced(clientType="confidential", name="Autre")
    other_secret = await services.create_client_secret(world.settings, str(other.id), now=NOW)
    response = await post(world, REVOKE_URL, {"token": token["access_token"]},
                          auth=(str(other.id), other_secret))
    assert response.status_code == 200
    assert (await introspect(world, token["access_token"]))["active"] is True
    response = await post(world, REVOKE_URL, {"token": token["access_token"]},
                          auth=(str(world.confidential.id), world.secret))
    assert response.status_code == 200
    assert (await introspect(world, token["access_token"]))["active"] is False
    assert (await introspect(world, token["refresh_token"]))["active"] is True  # alone
    response = await post(world, REVOKE_URL, {"token": secrets.token_urlsafe(32)},
                          auth=(str(world.confidential.id), world.secret))
    assert response.status_code == 200  # unknown: nothing to say (RFC 7009 section 2.2)


@pytest.mark.parametrize("status", [AppStatus.SUSPENDED, AppStatus.WITHDRAWN])
async def test_suspension_stops_tokens_at_once(world, status):
    token = await confidential_token(world)
    public_token = None
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.confidential, verifier)
    await catalogue.change_status(str(world.confidential.id), status, reason="Audit",
                                  operator="test", now=NOW)
    assert await services.active_access_token(world.settings, token["access_token"],
                                              NOW) is None
    assert await services.active_refresh_token(world.settings, token["refresh_token"],
                                               NOW) is None
    # The app itself can no longer authenticate: refresh, exchange, introspection all refused.
    auth = (str(world.confidential.id), world.secret)
    assert_error(await post(world, TOKEN_URL, {"grant_type": "refresh_token",
                                               "refresh_token": token["refresh_token"]},
                            auth=auth), "invalid_client", 401)
    data = exchange(world, world.confidential, code, verifier)
    del data["client_id"]
    assert_error(await post(world, TOKEN_URL, data, auth=auth), "invalid_client", 401)
    assert_error(await post(world, INTROSPECT_URL, {"token": token["access_token"]},
                            auth=auth), "invalid_client", 401)
    answer = await authorize(world, world.confidential, verifier=verifier)
    assert answer["__typename"] == "UnknownApp"
    assert public_token is None
    if status is AppStatus.SUSPENDED:  # referenced again: the grant was not revoked
        await catalogue.change_status(
            str(world.confidential.id), AppStatus.REFERENCED, reason="OK", operator="test",
            now=NOW, criteria=world.confidential.criteria)
        assert (await introspect(world, token["access_token"]))["active"] is True


async def test_metadata(world):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app),
                                 base_url=BASE) as http:
        body = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert body["issuer"] == BASE
    assert body["token_endpoint"] == TOKEN_URL
    assert body["revocation_endpoint"] == REVOKE_URL
    assert body["introspection_endpoint"] == INTROSPECT_URL
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert "profile:read" in body["scopes_supported"]


# --- the authorization step (GraphQL) ---------------------------------------------------------


async def test_authorization_request_and_refusals(world):
    body = await world.gql(REQUEST, {"c": str(world.public.id), "r": REDIRECT, "s": None},
                           token=world.token)
    request = body["data"]["appAuthorizationRequest"]
    assert request["__typename"] == "AppAuthorizationRequest", body
    assert request["name"] == "Carnet Poids" and request["publisher"] == "Exemple Santé SAS"
    assert [(s["scope"], s["optional"]) for s in request["scopes"]] == [
        ("profile:read", False), ("profile.measurements:write", True)]
    assert request["scopes"][0]["label"].startswith("Lire votre profil")

    async def ask(c, r, s):
        answer = await world.gql(REQUEST, {"c": c, "r": r, "s": s}, token=world.token)
        return answer["data"]["appAuthorizationRequest"]

    assert (await ask(secrets.token_hex(4), REDIRECT, None))["__typename"] == "UnknownApp"
    assert (await ask(str(world.public.id), REDIRECT + "x", None))["__typename"] == \
        "InvalidRedirectUri"
    wrong = await ask(str(world.public.id), REDIRECT, ["documents:read"])
    assert wrong["__typename"] == "InvalidScope" and wrong["scope"] == "documents:read"

    verifier = secrets.token_urlsafe(48)
    # The optional scope may be unticked; the required one may not.
    assert (await authorize(world, world.public, verifier=verifier,
                            scopes=["profile:read"]))["__typename"] == "AuthorizationGranted"
    missing = await authorize(world, world.public, verifier=verifier,
                              scopes=["profile.measurements:write"])
    assert missing["__typename"] == "InvalidScope" and missing["scope"] == "profile:read"
    assert (await authorize(world, world.public, verifier=verifier,
                            redirect_uri="https://evil.example/cb"))["__typename"] == \
        "InvalidRedirectUri"
    submitted = await catalogue.submit(
        __import__("tests.catalogue_helpers", fromlist=["example"]).example(), operator="t",
        now=NOW)
    assert (await authorize(world, submitted, verifier=verifier))["__typename"] == "UnknownApp"


async def test_only_patients_authorize(world, gql):
    verifier = secrets.token_urlsafe(48)
    body = await gql(AUTHORIZE, {"c": str(world.public.id), "r": REDIRECT, "s": SCOPES,
                                 "st": None, "cc": create_s256_code_challenge(verifier),
                                 "m": "S256"})
    assert body["data"] is None and body["errors"]
    assert await OAuthCode.all().count() == 0


async def test_a_second_consent_updates_the_grant(world):
    verifier = secrets.token_urlsafe(48)
    for scopes in (["profile:read"], SCOPES):
        code = await code_for(world, world.public, verifier, scopes=scopes)
        response = await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))
        assert response.status_code == 200
    grants = await OAuthGrant.all()
    assert len(grants) == 1 and grants[0].scopes == SCOPES


# --- nothing secret in logs or in the database ------------------------------------------------


async def test_codes_and_tokens_never_logged_nor_stored(world, caplog):
    caplog.set_level(logging.DEBUG)
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.confidential, verifier)
    token = (await post(world, TOKEN_URL, {**exchange(world, world.confidential, code,
                                                      verifier),
                                           "client_secret": world.secret})).json()
    refreshed = (await post(world, TOKEN_URL, {
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(str(world.confidential.id), world.secret))).json()
    await post(world, TOKEN_URL, {"grant_type": "refresh_token",
                                  "refresh_token": token["refresh_token"]},
               auth=(str(world.confidential.id), world.secret))  # reuse: refused
    await introspect(world, refreshed["access_token"])
    await post(world, REVOKE_URL, {"token": refreshed["refresh_token"]},
               auth=(str(world.confidential.id), world.secret))
    secrets_seen = [code, verifier, world.secret, token["access_token"],
                    token["refresh_token"], refreshed["access_token"],
                    refreshed["refresh_token"]]
    assert caplog.records  # the flow did log (requests, SQL): the check is not vacuous
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, '__dict__', {})!r}"
                       for r in caplog.records)
    for value in secrets_seen:
        assert value not in logged
    for model in (OAuthCode, OAuthAccessToken, OAuthRefreshToken):
        for row in await model.all().values():
            text = repr(row)
            assert not any(value in text for value in secrets_seen)


# --- single use under concurrency -------------------------------------------------------------


async def test_concurrent_exchanges_of_one_code_give_one_token(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    data = exchange(world, world.public, code, verifier)
    answers = await asyncio.gather(*(post(world, TOKEN_URL, data) for _ in range(4)))
    assert sorted(r.status_code for r in answers) == [200, 400, 400, 400]
    assert await OAuthAccessToken.all().count() == 1


async def test_concurrent_refreshes_of_one_token_give_one_rotation(world):
    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    token = (await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))).json()
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
            "client_id": str(world.public.id)}
    answers = await asyncio.gather(*(post(world, TOKEN_URL, data) for _ in range(4)))
    # One claim wins; the others lose it, or see the token used (a reuse: the grant ends).
    assert sorted(r.status_code for r in answers) == [200, 400, 400, 400]
    assert await OAuthRefreshToken.all().count() == 2


async def test_a_locked_account_stops_its_apps(world):
    from backend.identity.models import Account, AccountStatus

    verifier = secrets.token_urlsafe(48)
    code = await code_for(world, world.public, verifier)
    token = (await post(world, TOKEN_URL, exchange(world, world.public, code, verifier))).json()
    second = await code_for(world, world.public, verifier)
    await Account.all().update(status=AccountStatus.LOCKED)
    assert await services.active_access_token(world.settings, token["access_token"],
                                              NOW) is None
    assert_error(await post(world, TOKEN_URL, {
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": str(world.public.id)}), "invalid_grant")
    assert_error(await post(world, TOKEN_URL, exchange(world, world.public, second, verifier)),
                 "invalid_grant")
