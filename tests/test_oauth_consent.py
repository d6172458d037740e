"""Issue 14 parts 3 and 6, the API's side: "Applications connectées" (`connectedApps`), the
patient's revocation (`revokeAppAccess`: the grant, its tokens and its pending codes end at
once), and GET /oauth/authorize, which sends the browser on to the web app's consent page
(OAUTH_AUTHORIZATION_PAGE_URL, else derived from ALLOWED_ORIGINS, else `carnet dev`'s web app),
announced as the metadata's authorization_endpoint. Real PostgreSQL and Redis, clock injected.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from backend.catalogue import services as catalogue
from backend.catalogue.models import AppStatus
from backend.identity.lookup import account_by_identifier
from backend.oauth import services
from backend.oauth.models import OAuthAccessToken, OAuthCode, OAuthGrant, OAuthRefreshToken
from backend.settings import CONSENT_PAGE_PATH, DEV_WEB_APP_URL, Environment
from tests.catalogue_helpers import NOW, referenced
from tests.conftest import make_settings
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in
from tests.test_oauth import (
    BASE,
    INTROSPECT_URL,
    TOKEN_URL,
    Clock,
    code_for,
    exchange,
    post,
)

CONNECTED = """query { connectedApps { appId name publisher logoUrl grantedAt lastUsedAt
  inCatalogue scopes { scope label } } }"""
REVOKE = """mutation R($a: ID!) { revokeAppAccess(appId: $a) { __typename
  ... on AppAccessRevoked { appId } ... on Error { message } } }"""


@pytest.fixture
async def world(app, clean, gql, notifier, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(app.state.runtime, "clock", clock)
    settings = app.state.runtime.settings
    await create_patient(email="alice@example.fr")
    await create_patient(email="bob@example.fr")
    token = await sign_in(gql, notifier, "alice@example.fr", PASSWORD)
    bob = await sign_in(gql, notifier, "bob@example.fr", PASSWORD)
    public = await referenced()
    confidential = await referenced(clientType="confidential", name="Agenda Malin",
                                    publisher="Rendez-Vous SARL")
    secret = await services.create_client_secret(settings, str(confidential.id), now=NOW)
    return SimpleNamespace(app=app, gql=gql, token=token, bob=bob, clock=clock,
                           settings=settings, public=public, confidential=confidential,
                           secret=secret)


async def tokens_for(world, app_row, scopes, *, token=None) -> dict:
    """Consent (as `token`'s patient, default Alice), then the code exchanged with PKCE."""
    verifier = secrets.token_urlsafe(48)
    who = SimpleNamespace(**{**vars(world), "token": token or world.token})
    code = await code_for(who, app_row, verifier, scopes=scopes)
    data = exchange(world, app_row, code, verifier)
    auth = None
    if app_row.id == world.confidential.id:
        data.pop("client_id")
        auth = (str(app_row.id), world.secret)
    response = await post(world, TOKEN_URL, data, auth=auth)
    assert response.status_code == 200, response.text
    return response.json()


async def introspect(world, token: str) -> dict:
    response = await post(world, INTROSPECT_URL, {"token": token},
                          auth=(str(world.confidential.id), world.secret))
    assert response.status_code == 200, response.text
    return response.json()


async def connected(world, token=None) -> list[dict]:
    body = await world.gql(CONNECTED, token=token or world.token)
    assert "errors" not in body, body
    return body["data"]["connectedApps"]


async def revoke(world, app_id: str, token=None) -> dict:
    body = await world.gql(REVOKE, {"a": app_id}, token=token or world.token)
    assert "errors" not in body, body
    return body["data"]["revokeAppAccess"]


# --- connectedApps --------------------------------------------------------------------------


async def test_connected_apps_lists_my_grants_with_labels_and_last_use(world):
    assert await connected(world) == []
    await tokens_for(world, world.public, ["profile:read"])  # the optional scope unticked
    world.clock.now = NOW + timedelta(minutes=3)
    await tokens_for(world, world.confidential,
                     ["profile:read", "profile.measurements:write"])
    # Bob's grant is his alone.
    await tokens_for(world, world.public, ["profile:read", "profile.measurements:write"],
                     token=world.bob)

    apps = await connected(world)
    assert [a["name"] for a in apps] == ["Agenda Malin", "Carnet Poids"]  # by name
    agenda, poids = apps
    assert poids["appId"] == str(world.public.id)
    assert poids["publisher"] == "Exemple Santé SAS"
    assert poids["logoUrl"] == "https://poids.example.fr/logo.png"
    assert poids["scopes"] == [{"scope": "profile:read", "label": "Lire votre profil médical "
                                "(allergies, traitements, mesures...)"}]
    assert poids["grantedAt"] == NOW.isoformat() and poids["lastUsedAt"] == NOW.isoformat()
    assert poids["inCatalogue"] is True
    assert [s["scope"] for s in agenda["scopes"]] == ["profile:read",
                                                      "profile.measurements:write"]
    assert agenda["lastUsedAt"] == (NOW + timedelta(minutes=3)).isoformat()
    assert [a["name"] for a in await connected(world, world.bob)] == ["Carnet Poids"]

    # Labels in the request's language.
    response = await world.gql.http.post(
        "/graphql", json={"query": CONNECTED},
        headers={"Authorization": f"Bearer {world.token}", "Accept-Language": "en"})
    english = response.json()["data"]["connectedApps"][1]["scopes"][0]["label"]
    assert english != poids["scopes"][0]["label"] and english.lower().startswith("read")

    # A refresh moves "last access".
    world.clock.now = NOW + timedelta(hours=2)
    first = await tokens_for(world, world.public, ["profile:read"])
    world.clock.now = NOW + timedelta(hours=3)
    refreshed = await post(world, TOKEN_URL, {
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"],
        "client_id": str(world.public.id)})
    assert refreshed.status_code == 200, refreshed.text
    poids = (await connected(world))[1]
    assert poids["lastUsedAt"] == (NOW + timedelta(hours=3)).isoformat()
    assert poids["grantedAt"] == NOW.isoformat()  # the first consent


async def test_a_suspended_app_stays_listed_and_can_be_revoked(world):
    await tokens_for(world, world.public, ["profile:read"])
    await catalogue.change_status(str(world.public.id), AppStatus.SUSPENDED, reason="Audit",
                                  operator="test", now=NOW)
    (item,) = await connected(world)
    assert item["inCatalogue"] is False
    assert (await revoke(world, str(world.public.id)))["__typename"] == "AppAccessRevoked"
    assert await connected(world) == []


async def test_only_patients_and_never_anonymous(world):
    await create_professional(email="dr@example.fr")
    gql, notifier = world.gql, world.app.state.runtime.notifier
    doctor = await sign_in(gql, notifier, "dr@example.fr", PASSWORD)
    for query, variables in ((CONNECTED, {}), (REVOKE, {"a": str(world.public.id)})):
        body = await gql(query, variables, token=doctor)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        anonymous = await gql.http.post("/graphql",
                                        json={"query": query, "variables": variables})
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


# --- revokeAppAccess ------------------------------------------------------------------------


async def test_revoking_ends_the_grant_its_tokens_and_its_pending_codes_at_once(world):
    tokens = await tokens_for(world, world.confidential, ["profile:read"])
    assert (await introspect(world, tokens["access_token"]))["active"] is True
    # Bob's grant of the same app, and Alice's other app, are untouched by her revocation.
    bobs = await tokens_for(world, world.confidential, ["profile:read"], token=world.bob)
    other = await tokens_for(world, world.public, ["profile:read"])
    # A code Alice gave just before revoking, not yet exchanged by the app.
    verifier = secrets.token_urlsafe(48)
    pending = await code_for(world, world.confidential, verifier, scopes=["profile:read"])

    world.clock.now = NOW + timedelta(seconds=5)
    answer = await revoke(world, str(world.confidential.id))
    assert answer == {"__typename": "AppAccessRevoked", "appId": str(world.confidential.id)}

    assert await introspect(world, tokens["access_token"]) == {"active": False}
    assert await introspect(world, tokens["refresh_token"]) == {"active": False}
    refresh = await post(world, TOKEN_URL, {"grant_type": "refresh_token",
                                            "refresh_token": tokens["refresh_token"]},
                         auth=(str(world.confidential.id), world.secret))
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    late = exchange(world, world.confidential, pending, verifier)
    late.pop("client_id")
    late_answer = await post(world, TOKEN_URL, late,
                             auth=(str(world.confidential.id), world.secret))
    assert late_answer.status_code == 400 and late_answer.json()["error"] == "invalid_grant"
    alice = await account_by_identifier("alice@example.fr")
    assert alice is not None
    grant = await OAuthGrant.get(person_id=alice.person_id, app_id=world.confidential.id)
    assert grant.revoked_at == NOW + timedelta(seconds=5)
    assert await OAuthAccessToken.filter(grant_id=grant.id, revoked_at__isnull=True).count() == 0
    assert await OAuthRefreshToken.filter(grant_id=grant.id, revoked_at__isnull=True).count() == 0
    assert await OAuthCode.filter(person_id=grant.person_id, app_id=world.confidential.id,
                                  used_at__isnull=True).count() == 0
    assert await OAuthGrant.filter(app_id=world.confidential.id,
                                   revoked_at__isnull=True).count() == 1  # Bob's

    assert (await introspect(world, bobs["access_token"]))["active"] is True
    assert [a["name"] for a in await connected(world)] == ["Carnet Poids"]
    public_check = await services.active_access_token(world.settings, other["access_token"],
                                                      world.clock.now)
    assert public_check is not None

    # Nothing left to revoke: a typed refusal, the same for an app never connected, another
    # patient's app, an unknown id and a malformed one.
    again = await revoke(world, str(world.confidential.id))
    assert again["__typename"] == "AppNotConnected"
    assert again["message"] == "Cette application n'a pas accès à votre dossier."
    never = await referenced(name="Jamais Connectée")
    for app_id in (str(never.id), "00000000-0000-4000-8000-000000000000", "pas-un-id"):
        assert (await revoke(world, app_id))["__typename"] == "AppNotConnected"
    bob_only = await tokens_for(world, world.public, ["profile:read"], token=world.bob)
    assert (await revoke(world, str(world.confidential.id)))["__typename"] == "AppNotConnected"
    assert (await introspect(world, bobs["access_token"]))["active"] is True
    assert bob_only["access_token"]

    # Consenting again opens a new grant: the app is back in the list.
    await tokens_for(world, world.confidential, ["profile:read"])
    assert [a["name"] for a in await connected(world)] == ["Agenda Malin", "Carnet Poids"]


async def test_revoke_service_refuses_without_a_grant(world):
    from backend.oauth.errors import AppNotConnected

    with pytest.raises(AppNotConnected):
        await services.revoke_app(1, str(world.public.id), NOW)


# --- GET /oauth/authorize and the metadata ----------------------------------------------------


async def _get(app, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        return await http.get(path)


QUERY = ("response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fpoids.example.fr%2Fcb"
         "&scope=profile%3Aread+profile.measurements%3Awrite&state=s%26t"
         "&code_challenge=" + create_s256_code_challenge("v" * 43)
         + "&code_challenge_method=S256")


async def test_authorize_sends_the_browser_to_the_consent_page_with_the_query(app, monkeypatch):
    settings = app.state.runtime.settings
    # Unset: derived from the web app's origin (the first ALLOWED_ORIGINS).
    assert settings.oauth_authorization_page_url is None
    assert settings.allowed_origins == ["http://testserver"]
    response = await _get(app, "/oauth/authorize?" + QUERY)
    assert response.status_code == 302
    assert response.headers["location"] == "http://testserver/autorisation?" + QUERY
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    sent = parse_qs(urlsplit(response.headers["location"]).query)
    assert sent["state"] == ["s&t"] and sent["redirect_uri"] == ["https://poids.example.fr/cb"]

    meta = (await _get(app, "/.well-known/oauth-authorization-server")).json()
    assert meta["authorization_endpoint"] == BASE + "/oauth/authorize"  # served: above

    monkeypatch.setattr(settings, "oauth_authorization_page_url",
                        "https://carnet.example/autorisation")
    response = await _get(app, "/oauth/authorize?" + QUERY)
    assert response.status_code == 302
    assert response.headers["location"] == "https://carnet.example/autorisation?" + QUERY
    assert (await _get(app, "/oauth/authorize")).headers["location"] == \
        "https://carnet.example/autorisation"
    meta = (await _get(app, "/.well-known/oauth-authorization-server")).json()
    assert meta["authorization_endpoint"] == "https://carnet.example/autorisation"
    assert (await httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
            .post("/oauth/authorize")).status_code == 405

    # Production with neither setting: said so, no redirect anywhere.
    monkeypatch.setattr(settings, "oauth_authorization_page_url", None)
    monkeypatch.setattr(settings, "allowed_origins", [])
    monkeypatch.setattr(settings, "carnet_env", Environment.PRODUCTION)
    response = await _get(app, "/oauth/authorize?" + QUERY)
    assert response.status_code == 503 and "location" not in response.headers
    assert "OAUTH_AUTHORIZATION_PAGE_URL" in response.text


def test_consent_page_url_setting_and_defaults():
    def page(**overrides) -> str | None:
        return make_settings("sqlite://:memory:", None, **overrides).consent_page_url()

    assert CONSENT_PAGE_PATH == "/autorisation"
    assert page(oauth_authorization_page_url="https://web.example/consent") == \
        "https://web.example/consent"
    assert page(allowed_origins="https://carnet.example/, https://autre.example") == \
        "https://carnet.example/autorisation"
    assert page(allowed_origins=[]) == DEV_WEB_APP_URL + "/autorisation"
    assert page(oauth_authorization_page_url="", allowed_origins=[]) == \
        DEV_WEB_APP_URL + "/autorisation"
    for bad in ("ftp://x.example/p", "https://x.example/p?a=1", "https://x.example/p#f",
                "/autorisation"):
        with pytest.raises(Exception, match="without query or fragment"):
            page(oauth_authorization_page_url=bad)


async def test_reference_data_lists_the_catalogues_categories_and_scopes(app, clean, gql):
    """What the catalogue page's category filter reads (CatalogueReferenceData was not a
    strawberry type: ReferenceData did not have these fields)."""
    body = await gql("{ referenceData { appCategories { value label } "
                     "appScopes { scope label optional } } }")
    assert "errors" not in body, body
    data = body["data"]["referenceData"]
    assert {"value": "DIABETES", "label": "Diabète"} in data["appCategories"]
    assert {"scope": "profile:read", "optional": False,
            "label": "Lire votre profil médical (allergies, traitements, mesures...)"} in \
        data["appScopes"]
