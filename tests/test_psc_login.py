"""Pro Santé Connect login (issue 10, item 8) against a real local OpenID provider
(tests/oidc_provider.py, served by uvicorn on a free port): authorization code with PKCE and a
nonce, every check of the ID token, the national id mapped to a professional, and a one-time
ticket the web app trades for a normal Carnet session."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis.asyncio as aioredis

from backend.audit.models import AuditEvent, AuditKind
from backend.identity import psc
from backend.identity.models import Account, AccountStatus
from backend.settings import SettingsError, load_settings
from tests.conftest import REDIS_PREFIX, REDIS_TEST_URL, GraphQLClient, make_settings
from tests.factories import create_patient, create_professional
from tests.identity_helpers import ME
from tests.oidc_provider import OidcProvider, new_key, running_provider

CLIENT_ID = "carnet-test"
CLIENT_SECRET = secrets.token_urlsafe(24)
REDIRECT_URI = "http://testserver/auth/psc/callback"  # derived from the login request
POST_LOGIN_URL = "http://localhost:3000/pro/connexion?from=psc"

# The web app's per-tab secret: /auth/psc/login gets its SHA-256, the exchange the secret.
TAB_SECRET = secrets.token_urlsafe(32)
BINDING = psc.tab_binding_of(TAB_SECRET)

EXCHANGE = """
mutation Exchange($ticket: String!, $binding: String!) {
  exchangeLoginTicket(ticket: $ticket, binding: $binding) {
    __typename
    ... on Session { token expiresAt idleTimeoutSeconds }
    ... on Error { message }
  }
}"""


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                          redirect_uri=REDIRECT_URI) as running:
        yield running


@pytest.fixture
async def psc_on(app, clean, provider, pg_url, redis_url) -> AsyncIterator[OidcProvider]:
    """The app under test, with PSC settings pointing at the local provider."""
    runtime = app.state.runtime
    previous = runtime.settings
    runtime.settings = make_settings(
        pg_url, redis_url, psc_issuer=provider.issuer, psc_client_id=CLIENT_ID,
        psc_client_secret=CLIENT_SECRET, psc_post_login_url=POST_LOGIN_URL,
    )
    provider.reset()
    psc.forget_cached_providers()
    yield provider
    runtime.settings = previous
    psc.forget_cached_providers()


@pytest.fixture
async def professional(provider) -> Account:
    account = await create_professional()
    await account.fetch_related("professional")
    provider.user.national_id = "8" + account.professional.rpps
    return account


async def start(client: httpx.AsyncClient, binding: str = BINDING) -> str:
    """GET /auth/psc/login, then the provider's authorization endpoint: the callback URL."""
    login = await client.get("/auth/psc/login", params={"binding": binding})
    assert login.status_code == 302, login.text
    async with httpx.AsyncClient() as browser_at_provider:
        authorized = await browser_at_provider.get(login.headers["location"])
    assert authorized.status_code == 302, authorized.text
    callback = authorized.headers["location"]
    assert callback.startswith(REDIRECT_URI + "?")
    return callback


def ticket_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("http://localhost:3000/pro/connexion?from=psc&ticket=")
    return parse_qs(urlsplit(location).query)["ticket"][0]


async def session_keys() -> list[str]:
    client = aioredis.Redis.from_url(REDIS_TEST_URL)
    try:
        return [key async for key in client.scan_iter(match=f"{REDIS_PREFIX}session:*")]
    finally:
        await client.aclose()


async def refusals() -> list[AuditEvent]:
    return await AuditEvent.filter(kind=psc.REFUSAL_KIND).order_by("id")


async def assert_refused(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.json()["error"] == reason
    assert await session_keys() == []
    assert not await AuditEvent.filter(kind=AuditKind.LOGIN_SUCCEEDED).exists()
    (event,) = [e for e in await refusals() if e.detail.get("reason") == f"psc:{reason}"]
    assert event.outcome in ("failure", "denied")


JSON = {"Accept": "application/json"}


# --- the happy path ------------------------------------------------------------------------


async def test_login_ends_with_a_working_professional_session(psc_on, professional, client,
                                                              gql: GraphQLClient):
    login = await client.get("/auth/psc/login", params={"binding": BINDING})
    assert login.status_code == 302
    cookie = login.headers["set-cookie"]
    assert "carnet_psc=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/auth/psc" in cookie
    async with httpx.AsyncClient() as at_provider:
        authorized = await at_provider.get(login.headers["location"])
    (asked,) = psc_on.authorize_params
    assert asked["acr_values"] == "eidas1" and asked["code_challenge_method"] == "S256"
    assert asked["scope"] == "openid scope_all" and asked["client_id"] == CLIENT_ID
    assert len(asked["nonce"]) >= 43 and len(asked["state"]) >= 43

    callback = await client.get(authorized.headers["location"])
    ticket = ticket_of(callback)
    assert callback.headers["cache-control"] == "no-store"
    assert await session_keys() == []  # no session until the web app trades the ticket

    body = await gql(EXCHANGE, {"ticket": ticket, "binding": TAB_SECRET})
    session = body["data"]["exchangeLoginTicket"]
    assert session["__typename"] == "Session", body
    me = (await gql(ME, token=session["token"]))["data"]["me"]
    assert me["id"] == str(professional.id) and me["role"] == "PROFESSIONAL"
    assert me["professional"]["rpps"] == professional.professional.rpps

    (event,) = await AuditEvent.filter(kind=AuditKind.LOGIN_SUCCEEDED)
    assert event.account_id == professional.id and event.detail["reason"] == "psc"
    assert event.detail["session"]
    # The ticket serves once.
    again = (await gql(EXCHANGE, {"ticket": ticket, "binding": TAB_SECRET})
               )["data"]["exchangeLoginTicket"]
    assert again["__typename"] == "LoginTicketInvalid"
    assert "expiré ou a déjà servi" in again["message"]
    assert psc_on.token_errors == []


async def test_the_national_id_may_come_from_the_userinfo_endpoint(psc_on, professional,
                                                                   client, gql):
    psc_on.misbehave.national_id_in_id_token = False
    ticket = ticket_of(await client.get(await start(client)))
    assert psc_on.requests["userinfo"] == 1
    session = (await gql(EXCHANGE, {"ticket": ticket, "binding": TAB_SECRET})
               )["data"]["exchangeLoginTicket"]
    me = (await gql(ME, token=session["token"]))["data"]["me"]
    assert me["professional"]["rpps"] == professional.professional.rpps


async def test_a_signed_userinfo_answer_is_verified(psc_on, professional, client):
    psc_on.misbehave.national_id_in_id_token = False
    psc_on.misbehave.userinfo_as_jwt = True
    ticket_of(await client.get(await start(client)))
    # The same answer signed by a stranger (the ID token stays well signed).
    psc_on.misbehave.userinfo_signing_key = new_key(psc_on.signing_key.kid)
    response = await client.get(await start(client), headers=JSON)
    await assert_refused(response, 401, "signature")


async def test_userinfo_about_another_subject_is_refused(psc_on, professional, client):
    psc_on.misbehave.national_id_in_id_token = False
    psc_on.misbehave.userinfo_sub = "someone-else"
    response = await client.get(await start(client), headers=JSON)
    await assert_refused(response, 401, "subject")


async def test_discovery_is_cached_and_jwks_refreshed_on_an_unknown_key(psc_on, professional,
                                                                        client, gql):
    for _ in range(2):
        ticket_of(await client.get(await start(client)))
    assert psc_on.requests["discovery"] == 1 and psc_on.requests["jwks"] == 1
    psc.JWKS_MIN_REFRESH_SECONDS, previous = 0, psc.JWKS_MIN_REFRESH_SECONDS
    try:
        psc_on.rotate_key()  # the provider signs with a key Carnet has not fetched yet
        ticket_of(await client.get(await start(client)))
    finally:
        psc.JWKS_MIN_REFRESH_SECONDS = previous
    assert psc_on.requests["discovery"] == 1 and psc_on.requests["jwks"] == 2


# --- bad tokens ------------------------------------------------------------------------------


BAD_TOKENS = {
    "forged signature (another key, same kid)":
        (lambda p: setattr(p.misbehave, "signing_key", new_key(p.signing_key.kid)), "signature"),
    "forged signature (another key, unknown kid)":
        (lambda p: setattr(p.misbehave, "signing_key", new_key("forged")), "unknown_key"),
    "unsigned (alg none)": (lambda p: setattr(p.misbehave, "unsigned", True), "algorithm"),
    "wrong nonce": (lambda p: setattr(p.misbehave, "nonce", "not-the-nonce"), "nonce"),
    "expired": (lambda p: setattr(p.misbehave, "expires_in", -120), "expired"),
    "issued in the future": (lambda p: setattr(p.misbehave, "issued_in", 600), "issued_at"),
    "wrong audience": (lambda p: setattr(p.misbehave, "audience", "another-client"), "audience"),
    "an untrusted extra audience":
        (lambda p: setattr(p.misbehave, "audience", [CLIENT_ID, "another-client"]), "audience"),
    "wrong issuer":
        (lambda p: setattr(p.misbehave, "issuer", "https://evil.example/realms/x"), "issuer"),
    "acr other than eidas1": (lambda p: setattr(p.misbehave, "acr", "eidas0"), "acr"),
    "no acr": (lambda p: setattr(p.misbehave, "acr", None), "acr"),
    "at_hash of another access token":
        (lambda p: setattr(p.misbehave, "at_hash", "AAAAAAAAAAAAAAAAAAAAAA"), "at_hash"),
}


@pytest.mark.parametrize(("spoil", "reason"), list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
async def test_a_bad_id_token_is_refused_with_no_session(psc_on, professional, client, spoil,
                                                         reason):
    spoil(psc_on)
    response = await client.get(await start(client), headers=JSON)
    await assert_refused(response, 401, reason)
    assert "n'a pas pu être vérifiée" in response.json()["message"]


async def test_unknown_key_ids_refresh_the_jwks_at_most_once_in_a_while(psc_on, professional,
                                                                        client):
    psc_on.misbehave.signing_key = new_key("forged")

    async def attempt() -> None:
        response = await client.get(await start(client), headers=JSON)
        assert response.json()["error"] == "unknown_key"

    await attempt()
    assert psc_on.requests["jwks"] == 1  # just fetched: no refresh
    psc._providers[psc_on.issuer].keys_at -= psc.JWKS_MIN_REFRESH_SECONDS + 1
    for _ in range(3):
        await attempt()
    # One refresh for the unknown kid, not one per forged token.
    assert psc_on.requests["jwks"] == 2


async def test_logins_are_rate_limited_per_address(psc_on, app, pg_url, redis_url, client):
    app.state.runtime.settings = make_settings(
        pg_url, redis_url, psc_issuer=psc_on.issuer, psc_client_id=CLIENT_ID,
        psc_client_secret=CLIENT_SECRET, psc_post_login_url=POST_LOGIN_URL,
        login_rate_per_address=2)
    for _ in range(2):
        assert (await client.get("/auth/psc/login", params={"binding": BINDING})
                ).status_code == 302
    refused = await client.get("/auth/psc/login", params={"binding": BINDING}, headers=JSON)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "rate_limited"
    (event,) = await refusals()
    assert event.detail == {"reason": "psc:rate_limited"} and event.outcome == "denied"


async def test_the_refusal_page_is_french_html(psc_on, professional, client):
    psc_on.misbehave.expires_in = -120
    response = await client.get(await start(client))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in response.text
    assert "Connexion avec Pro Santé Connect impossible" in response.text
    assert "n&#x27;a pas pu être vérifiée" in response.text
    assert 'href="http://localhost:3000/"' in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_a_replayed_code_is_refused_by_the_provider(psc_on, professional, client):
    first = await start(client)
    ticket_of(await client.get(first))
    used_code = parse_qs(urlsplit(first).query)["code"][0]
    # A new login (new state, nonce and verifier) carrying the code already exchanged.
    fresh_state = parse_qs(urlsplit(await start(client)).query)["state"][0]
    response = await client.get("/auth/psc/callback", params={
        "code": used_code, "state": fresh_state}, headers=JSON)
    assert response.status_code == 401 and response.json()["error"] == "token_endpoint"
    assert psc_on.token_errors == ["code already used"]
    assert len(await session_keys()) == 0


# --- the state ------------------------------------------------------------------------------


async def test_a_reused_state_is_refused(psc_on, professional, client):
    callback = await start(client)
    ticket_of(await client.get(callback))
    response = await client.get(callback, headers=JSON)
    assert response.status_code == 400 and response.json()["error"] == "state"
    assert "Recommencez la connexion" in response.json()["message"]
    assert psc_on.requests["token"] == 1  # the replay never reached the provider


async def test_a_forged_state_is_refused(psc_on, professional, client):
    await start(client)
    response = await client.get("/auth/psc/callback", headers=JSON, params={
        "code": "whatever", "state": secrets.token_urlsafe(32)})
    await assert_refused(response, 400, "state")
    assert psc_on.requests["token"] == 0


async def test_a_missing_state_is_refused(psc_on, client):
    response = await client.get("/auth/psc/callback", params={"code": "x"}, headers=JSON)
    await assert_refused(response, 400, "state")


async def test_an_expired_state_is_refused(psc_on, professional, client, app):
    callback = await start(client)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    runtime = app.state.runtime
    assert await runtime.kv.delete(psc._state_key(runtime, state)) == 1  # as its TTL would
    await assert_refused(await client.get(callback, headers=JSON), 400, "state")


async def test_a_callback_in_another_browser_is_refused(psc_on, professional, client, app):
    """Login CSRF: someone sends their own callback link to a victim."""
    callback = await start(client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as victim:
        response = await victim.get(callback, headers=JSON)
    await assert_refused(response, 400, "state")
    assert psc_on.requests["token"] == 0
    # The state served once: the real owner must start again too.
    assert (await client.get(callback, headers=JSON)).status_code == 400


async def test_the_person_cancelling_at_the_provider_is_refused(psc_on, professional, client):
    psc_on.misbehave.deny = True
    await assert_refused(await client.get(await start(client), headers=JSON), 401, "denied")


# --- the ticket belongs to the tab that started the login ---------------------------------


EXCHANGE_WITHOUT_BINDING = """
mutation Exchange($ticket: String!) {
  exchangeLoginTicket(ticket: $ticket) {
    __typename
    ... on Session { token }
    ... on Error { message }
  }
}"""


@pytest.mark.parametrize("shown", ["another tab's secret", "the binding itself", "none"])
async def test_a_ticket_shown_without_its_tab_secret_is_refused_and_burnt(
        psc_on, professional, client, gql, shown):
    """Login CSRF: an attacker logs in, stops before the landing page and sends the ticket
    link to a victim, whose tab (another Reflex state, another secret) trades it."""
    ticket = ticket_of(await client.get(await start(client)))
    if shown == "none":
        body = await gql(EXCHANGE_WITHOUT_BINDING, {"ticket": ticket})
    else:
        wrong = secrets.token_urlsafe(32) if shown == "another tab's secret" else BINDING
        body = await gql(EXCHANGE, {"ticket": ticket, "binding": wrong})
    refused = body["data"]["exchangeLoginTicket"]
    forged = (await gql(EXCHANGE, {"ticket": secrets.token_urlsafe(32),
                                   "binding": TAB_SECRET}))["data"]["exchangeLoginTicket"]
    assert refused == forged  # exactly the answer to an unknown ticket
    assert refused["__typename"] == "LoginTicketInvalid"
    assert await session_keys() == []
    assert not await AuditEvent.filter(kind=AuditKind.LOGIN_SUCCEEDED).exists()
    assert [e.detail for e in await refusals()] == [{"reason": "psc:ticket"}] * 2
    # Burnt: the tab that started the login cannot use it any more either.
    again = (await gql(EXCHANGE, {"ticket": ticket, "binding": TAB_SECRET})
             )["data"]["exchangeLoginTicket"]
    assert again["__typename"] == "LoginTicketInvalid"
    assert await session_keys() == []


async def test_each_login_is_bound_to_its_own_tab(psc_on, professional, client, gql):
    """Two logins started by two tabs: each ticket opens a session only for its tab."""
    other_secret = secrets.token_urlsafe(32)
    mine = ticket_of(await client.get(await start(client)))
    theirs = ticket_of(await client.get(await start(client, psc.tab_binding_of(other_secret))))
    ok = (await gql(EXCHANGE, {"ticket": theirs, "binding": other_secret})
          )["data"]["exchangeLoginTicket"]
    assert ok["__typename"] == "Session"
    assert (await gql(EXCHANGE, {"ticket": mine, "binding": other_secret})
            )["data"]["exchangeLoginTicket"]["__typename"] == "LoginTicketInvalid"


@pytest.mark.parametrize("query", [{}, {"binding": ""}, {"binding": "short"},
                                   {"binding": "A" * 42 + "!"}, {"binding": "A" * 44}])
async def test_a_login_not_started_by_the_web_app_is_refused(psc_on, client, query):
    response = await client.get("/auth/psc/login", params=query)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert '<html lang="fr">' in response.text
    assert "doit commencer depuis la page de connexion de Carnet" in response.text
    assert psc_on.requests["discovery"] == 0 and psc_on.authorize_params == []
    as_json = await client.get("/auth/psc/login", params=query, headers=JSON)
    assert as_json.status_code == 400 and as_json.json()["error"] == "binding"
    assert [e.detail for e in await refusals()] == [{"reason": "psc:binding"}] * 2


# --- who signs in --------------------------------------------------------------------------


async def test_an_unknown_rpps_is_refused(psc_on, client):
    await create_professional()  # someone else
    psc_on.user.national_id = "8" + "10000000000"
    response = await client.get(await start(client), headers=JSON)
    await assert_refused(response, 401, "unknown_rpps")
    assert "RPPS" in response.json()["message"]
    (event,) = await refusals()
    assert event.account_id is None


@pytest.mark.parametrize("national_id", ["0" + "10000000000", "8123", "8" + "1" * 12, ""])
async def test_a_national_id_that_is_not_an_rpps_is_refused(psc_on, professional, client,
                                                            national_id):
    psc_on.user.national_id = national_id
    await assert_refused(await client.get(await start(client), headers=JSON), 401,
                         "unknown_rpps")


async def test_a_closed_professional_account_is_refused(psc_on, professional, client):
    professional.status = AccountStatus.CLOSED
    await professional.save(update_fields=["status"])
    await assert_refused(await client.get(await start(client), headers=JSON), 401,
                         "unknown_rpps")


async def test_a_forged_ticket_is_refused_and_audited(psc_on, gql):
    await create_patient()
    body = await gql(EXCHANGE, {"ticket": secrets.token_urlsafe(32), "binding": TAB_SECRET})
    assert body["data"]["exchangeLoginTicket"]["__typename"] == "LoginTicketInvalid"
    (event,) = await refusals()
    assert event.detail == {"reason": "psc:ticket"}
    assert await session_keys() == []


# --- secrets stay out of logs, the trail and the key-value store --------------------------


async def test_no_code_token_or_ticket_is_logged_audited_or_stored(psc_on, professional, client,
                                                                   gql, caplog):
    caplog.set_level(logging.DEBUG)
    callback = await start(client)
    ticket = ticket_of(await client.get(callback))
    session = (await gql(EXCHANGE, {"ticket": ticket, "binding": TAB_SECRET})
               )["data"]["exchangeLoginTicket"]
    psc_on.misbehave.nonce = "x"
    await client.get(await start(client))  # and a refusal
    query = parse_qs(urlsplit(callback).query)
    secrets_seen = [query["code"][0], query["state"][0], ticket, session["token"],
                    CLIENT_SECRET, *psc_on.issued]
    secrets_seen += [p["nonce"] for p in psc_on.authorize_params]
    audit_rows = str([(e.kind, e.detail) for e in await AuditEvent.all()])
    client_redis = aioredis.Redis.from_url(REDIS_TEST_URL, decode_responses=True)
    try:
        stored = [f"{key}={await client_redis.get(key)}" async for key in
                  client_redis.scan_iter(match=f"{REDIS_PREFIX}psc:*")
                  if await client_redis.type(key) == "string"]
    finally:
        await client_redis.aclose()
    # The test's own browser requests (to the provider's authorization endpoint, and the
    # callback) are logged by the test's httpx clients with their URLs: not the server's.
    server_side = "\n".join(
        record.getMessage() for record in caplog.records
        if not (record.name.startswith(("httpx", "httpcore")) and (
            "http://testserver/" in record.getMessage()
            or "/openid-connect/auth?" in record.getMessage())))
    assert "openid-connect/token" in server_side  # the server's own requests are there
    for value in secrets_seen:
        assert value not in server_side
        assert value not in audit_rows
        assert not any(value in entry for entry in stored)


# --- configuration -------------------------------------------------------------------------


async def test_without_psc_settings_the_routes_say_so(client):
    login = await client.get("/auth/psc/login", headers=JSON)
    assert login.status_code == 404
    assert login.json() == {"error": "not_configured", "message": (
        "La connexion par Pro Santé Connect n'est pas activée sur ce serveur.")}
    assert (await client.get("/auth/psc/callback?code=a&state=b")).status_code == 404


def test_psc_settings_go_together_and_the_secret_is_never_echoed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    secret = "s3cr3t-" + secrets.token_hex(8)
    with pytest.raises(SettingsError) as err:
        load_settings(database_url="sqlite://:memory:", psc_issuer="https://psc.example/realm",
                      psc_client_secret=secret)
    assert "PSC_CLIENT_ID, PSC_POST_LOGIN_URL required when PSC_ISSUER is set" in str(err.value)
    assert secret not in str(err.value)
    with pytest.raises(SettingsError, match="PSC_ISSUER"):
        load_settings(database_url="sqlite://:memory:", psc_issuer="ftp://psc.example")
    common = {"database_url": "sqlite://:memory:", "psc_client_id": "c",
              "psc_client_secret": secret, "psc_post_login_url": "https://carnet.example/pro",
              "carnet_env": "production", "carnet_master_key": "A" * 43 + "="}
    with pytest.raises(SettingsError, match="PSC_REDIRECT_URI required") as err:
        load_settings(psc_issuer="https://psc.example/realm", **common)
    assert secret not in str(err.value)
    with pytest.raises(SettingsError, match="PSC_ISSUER must be an https"):
        load_settings(psc_issuer="http://psc.example/realm",
                      psc_redirect_uri="https://api.example/auth/psc/callback", **common)
    ok = load_settings(psc_issuer="https://psc.example/realm/",
                       psc_redirect_uri="https://api.example/auth/psc/callback", **common)
    assert ok.psc_enabled and ok.psc_issuer == "https://psc.example/realm"
    assert ok.psc_acr == "eidas1" and ok.psc_scope == "openid scope_all"
    assert not load_settings(database_url="sqlite://:memory:", psc_issuer="").psc_enabled
    # Errors of rules across settings never quoted their input (they once echoed every value,
    # secrets included).
    with pytest.raises(SettingsError, match="S3_BUCKET is required") as err:
        load_settings(database_url="sqlite://:memory:", blob_store="s3",
                      s3_secret_access_key=secret)
    assert secret not in str(err.value)
