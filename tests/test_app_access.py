"""Third-party apps reading and writing through their access tokens (issue 14 part 4): the
scopes declared per GraphQL field and per route, refusals that disclose nothing, the policy's
second lock on the data, the access log under ground APP, revocation and suspension at the very
next request, the per-app rate limit, and no answer from the patient's response cache.

Real PostgreSQL and Redis, the ASGI app, the real OAuth flow (authorizeApp, then /oauth/token
with PKCE S256)."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from backend.catalogue import services as catalogue
from backend.catalogue.models import AppStatus
from backend.identity.models import Person
from backend.oauth.models import OAuthGrant
from tests.catalogue_helpers import NOW, referenced
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.test_records import PDF, upload
from tests.test_screen_statements import SCREENS

REDIRECT = "https://poids.example.fr/oauth/callback"
AUTHORIZE = """mutation A($c: ID!, $r: String!, $s: [String!]!, $cc: String!) {
  authorizeApp(clientId: $c, redirectUri: $r, scopes: $s, state: "s", codeChallenge: $cc,
  codeChallengeMethod: "S256") { __typename ... on AuthorizationGranted { redirectTo } } }"""
ADD_WEIGHT = """mutation W($v: Float!) { addMeasurement(input: {kind: WEIGHT, value: $v,
  measuredAt: "2026-11-20T08:00:00Z"}) { __typename ... on Measurement { id value }
  ... on Error { message } } }"""
WEIGHTS = """query { measurements(kind: WEIGHT) { unit points { value } } }"""
DOCUMENTS = """query { documents(first: 10) { totalCount edges { node { id title } } } }"""
LOG = """query { accessLog(first: 50) { edges { node { kind ground section
  reader { appId appName } } } } }"""


async def app_token(world, scopes: list[str], app_row=None) -> str:
    """The patient authorises the app for `scopes`; the app exchanges the code (PKCE)."""
    app_row = app_row or world.catalogue_app
    verifier = secrets.token_urlsafe(48)
    body = await world.gql(AUTHORIZE, {"c": str(app_row.id), "r": REDIRECT, "s": scopes,
                                       "cc": create_s256_code_challenge(verifier)},
                           token=world.token)
    granted = body["data"]["authorizeApp"]
    assert granted["__typename"] == "AuthorizationGranted", body
    code = parse_qs(urlsplit(granted["redirectTo"]).query)["code"][0]
    response = await world.client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier, "client_id": str(app_row.id)})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
async def world(app, client, clean, gql, notifier):
    account = await create_patient(email="alice@example.fr")
    token = await sign_in(gql, notifier, "alice@example.fr", PASSWORD)
    catalogue_app = await referenced()  # declares profile:read and profile.measurements:write
    person = await Person.get(id=account.person_id)
    return SimpleNamespace(app=app, client=client, gql=gql, token=token, account=account,
                           person=person, catalogue_app=catalogue_app)


@pytest.fixture
async def reader_app(world):
    """A second referenced app declaring every read scope (documents, agenda, messages)."""
    scopes = [{"scope": s, "optional": True} for s in
              ("profile:read", "documents:read", "agenda:read", "messages:read")]
    return await referenced(name="Carnet Lecteur", scopes=scopes)


def refusal(body: dict) -> dict:
    """The one typed refusal of an app's operation: no data at all, one error."""
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INSUFFICIENT_SCOPE", body
    return error


# --- GraphQL ----------------------------------------------------------------------------------


async def test_an_app_writes_and_reads_weights_within_its_scopes(world):
    token = await app_token(world, ["profile:read", "profile.measurements:write"])
    added = (await world.gql(ADD_WEIGHT, {"v": 71.5}, token=token))["data"]["addMeasurement"]
    assert added["__typename"] == "Measurement" and added["value"] == 71.5
    series = (await world.gql(WEIGHTS, token=token))["data"]["measurements"]
    assert series["unit"] == "kg" and [p["value"] for p in series["points"]] == [71.5]
    # The patient sees what the app wrote, in their own profile.
    mine = (await world.gql(WEIGHTS, token=world.token))["data"]["measurements"]
    assert [p["value"] for p in mine["points"]] == [71.5]


async def test_reading_outside_the_scopes_is_one_typed_refusal_and_nothing_else(world):
    await upload(world.client, world.token, PDF)  # the patient has a document
    token = await app_token(world, ["profile:read", "profile.measurements:write"])
    error = refusal(await world.gql(DOCUMENTS, token=token))
    assert error["extensions"]["missingScopes"] == ["documents:read"]
    # Mixed with an allowed field, the whole operation is refused (no partial data).
    error = refusal(await world.gql(
        "query { measurements(kind: WEIGHT) { unit } documents(first: 1) { totalCount } }",
        token=token))
    assert error["extensions"]["missingScopes"] == ["documents:read"]
    # Fragments and inline fragments are walked like plain fields.
    refusal(await world.gql("query { ...F } fragment F on Query { documents(first: 1) { "
                            "totalCount } }", token=token))
    refusal(await world.gql("query { ... on Query { documents(first: 1) { totalCount } } }",
                            token=token))
    # Directives do not hide a field from the check.
    refusal(await world.gql("query { documents(first: 1) @skip(if: true) { totalCount } }",
                            token=token))


async def test_without_the_write_scope_the_app_cannot_write(world):
    token = await app_token(world, ["profile:read"])
    error = refusal(await world.gql(ADD_WEIGHT, {"v": 70.0}, token=token))
    assert error["extensions"]["missingScopes"] == ["profile.measurements:write"]
    assert (await world.gql(WEIGHTS, token=world.token))["data"]["measurements"]["points"] == []


@pytest.mark.parametrize("operation", [
    "query { me { __typename } }",
    "query { mySessions { __typename } }",
    "query { accessLog(first: 1) { __typename } }",
    "query { careTeam { __typename } }",
    "query { accessSettings { __typename } }",
    "mutation { logout { __typename } }",
    'mutation { revokeSession(id: "x") { __typename } }',
    'mutation { requestPasswordChange(currentPassword: "x") { __typename } }',
    'mutation { addToCareTeam(rpps: "10000000001") { __typename } }',
    'mutation { deleteMeasurement(id: "1") { __typename } }',
    'mutation { authorizeApp(clientId: "x", redirectUri: "x", scopes: [], '
    'codeChallenge: "x", codeChallengeMethod: "S256") { __typename } }',
])
async def test_the_accounts_own_operations_are_never_for_apps(world, operation):
    token = await app_token(world, ["profile:read", "profile.measurements:write"])
    error = refusal(await world.gql(operation, token=token))
    assert error["extensions"]["missingScopes"] == []
    assert "applications" in error["message"]


async def test_public_fields_need_no_scope(world):
    token = await app_token(world, ["profile:read"])
    body = await world.gql("query { platform { name } referenceData { measurementKinds { "
                           "value } } catalogue(first: 1) { edges { node { name } } } }",
                           token=token)
    assert "errors" not in body and body["data"]["platform"]["name"] == "Carnet"


async def test_an_app_never_gets_the_patients_cached_screens(world):
    query, variables = SCREENS["home"]
    response = await world.client.post("/graphql", json={"query": query, "variables": variables},
                                        headers={"Authorization": f"Bearer {world.token}"})
    assert response.status_code == 200 and "errors" not in response.json()
    token = await app_token(world, ["profile:read", "profile.measurements:write"])
    # The same trusted text, twice (a cached entry would answer the second time).
    for _ in range(2):
        response = await world.client.post(
            "/graphql", json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"})
        refusal(response.json())


# --- the access log ---------------------------------------------------------------------------


async def test_an_apps_reads_are_in_the_patients_access_log(world, reader_app):
    await upload(world.client, world.token, PDF)
    token = await app_token(world, ["documents:read", "profile:read", "agenda:read",
                                    "messages:read"], app_row=reader_app)
    listed = (await world.gql(DOCUMENTS, token=token))["data"]["documents"]
    assert listed["totalCount"] == 1
    assert (await world.gql(WEIGHTS, token=token))["data"]["measurements"]["points"] == []
    assert "errors" not in await world.gql("query { appointments(first: 5) { edges { node { "
                                           "id } } } }", token=token)
    assert "errors" not in await world.gql("query { conversations(first: 5) { edges { node { "
                                           "id } } } }", token=token)
    entries = [e["node"] for e in
               (await world.gql(LOG, token=world.token))["data"]["accessLog"]["edges"]]
    assert entries and {e["ground"] for e in entries} == {"APP"}
    assert {e["reader"]["appName"] for e in entries} == {"Carnet Lecteur"}
    assert {e["reader"]["appId"] for e in entries} == {str(reader_app.id)}
    kinds = {e["kind"] for e in entries}
    assert {"DOCUMENT_LIST", "DOCUMENT", "PROFILE", "AGENDA", "MESSAGES"} <= kinds, kinds
    # The patient's own reads add nothing.
    count = len(entries)
    await world.gql(DOCUMENTS, token=world.token)
    again = (await world.gql(LOG, token=world.token))["data"]["accessLog"]["edges"]
    assert len(again) == count


async def test_the_grant_shows_when_the_app_last_used_it(world):
    token = await app_token(world, ["profile:read"])
    grant = await OAuthGrant.get(app_id=world.catalogue_app.id)
    before = grant.last_used_at
    await OAuthGrant.filter(id=grant.id).update(last_used_at=NOW.replace(year=2020))
    await world.gql(WEIGHTS, token=token)
    grant = await OAuthGrant.get(id=grant.id)
    assert grant.last_used_at.year >= before.year > 2020


# --- FHIR and downloads -----------------------------------------------------------------------


async def test_fhir_routes_declare_their_scopes(world):
    await world.gql(ADD_WEIGHT, {"v": 80.0}, token=world.token)
    doc = (await upload(world.client, world.token, PDF)).json()["data"]["uploadDocument"]
    token = await app_token(world, ["profile:read"])
    headers = {"Authorization": f"Bearer {token}"}
    patient = str(world.person.public_id)
    observations = await world.client.get("/fhir/r4/Observation", headers=headers,
                                          params={"patient": patient})
    assert observations.status_code == 200, observations.text
    values = [e["resource"]["valueQuantity"]["value"]
              for e in observations.json().get("entry", [])]
    assert values == [80.0]
    # Documents are outside profile:read: the search, the read and the download refuse.
    for url, params in (("/fhir/r4/DocumentReference", {"patient": patient}),
                        (f"/fhir/r4/DocumentReference/{doc['id']}", {}),
                        (f"/documents/{doc['id']}/content", {})):
        refused = await world.client.get(url, headers=headers, params=params)
        assert refused.status_code == 403, (url, refused.text)
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert 'scope="documents:read"' in refused.headers["www-authenticate"]
    # $everything: the profile, but no document (the policy's second lock).
    everything = await world.client.get(f"/fhir/r4/Patient/{patient}/$everything",
                                        headers=headers)
    assert everything.status_code == 200, everything.text
    types = {e["resource"]["resourceType"] for e in everything.json()["entry"]}
    assert "Observation" in types and "DocumentReference" not in types
    # Routes nobody opened to apps refuse, whatever the scopes.
    imported = await world.client.post("/fhir/r4/Bundle", headers=headers, content=b"{}")
    assert imported.status_code == 403
    assert imported.json()["resourceType"] == "OperationOutcome"


async def test_an_app_sees_no_other_patient(world, gql, notifier):
    bob = await create_patient(email="bob@example.fr")
    bob_token = await sign_in(gql, notifier, "bob@example.fr", PASSWORD)
    await world.gql(ADD_WEIGHT, {"v": 90.0}, token=bob_token)
    bob_person = await Person.get(id=bob.person_id)
    token = await app_token(world, ["profile:read"])
    headers = {"Authorization": f"Bearer {token}"}
    observations = await world.client.get("/fhir/r4/Observation", headers=headers,
                                          params={"patient": str(bob_person.public_id)})
    unknown = await world.client.get("/fhir/r4/Observation", headers=headers,
                                     params={"patient": "00000000-0000-4000-8000-000000000000"})
    assert observations.status_code == unknown.status_code
    assert observations.json().get("entry") is None and unknown.json().get("entry") is None
    everything = await world.client.get(f"/fhir/r4/Patient/{bob_person.public_id}/$everything",
                                        headers=headers)
    assert everything.status_code == 404


# --- losing access ----------------------------------------------------------------------------


async def test_revocation_and_suspension_stop_the_very_next_request(world, reader_app):
    token = await app_token(world, ["profile:read"])
    assert "errors" not in await world.gql(WEIGHTS, token=token)
    grant = await OAuthGrant.get(app_id=world.catalogue_app.id, revoked_at__isnull=True)
    from backend.oauth.services import revoke_grant
    await revoke_grant(grant.id, NOW)
    body = await world.gql(WEIGHTS, token=token)
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    # Suspension: another app's live token stops at once too.
    other = await app_token(world, ["documents:read"], app_row=reader_app)
    assert "errors" not in await world.gql(DOCUMENTS, token=other)
    await catalogue.change_status(str(reader_app.id), AppStatus.SUSPENDED, reason="Enquête",
                                  operator="test", now=NOW)
    body = await world.gql(DOCUMENTS, token=other)
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_an_app_over_its_rate_limit_gets_429_with_retry_after(world, monkeypatch):
    monkeypatch.setattr(world.app.state.runtime.settings, "app_rate_per_minute", 3)
    token = await app_token(world, ["profile:read"])
    answers = []
    for _ in range(4):
        response = await world.client.post("/graphql", json={"query": WEIGHTS},
                                           headers={"Authorization": f"Bearer {token}"})
        answers.append(response)
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    # The patient's own session is not the app: not limited.
    mine = await world.client.post("/graphql", json={"query": WEIGHTS},
                                   headers={"Authorization": f"Bearer {world.token}"})
    assert mine.status_code == 200


async def test_garbage_and_session_tokens_behave_as_before(world):
    body = await world.gql(WEIGHTS, token="not-a-token")
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app),
                                 base_url="http://testserver") as http:
        response = await http.get("/fhir/r4/Observation", params={"patient": "x"},
                                  headers={"Authorization": "Bearer " + "a" * 43})
    assert response.status_code == 401


async def test_an_apps_live_sockets_close_when_its_token_stops(world):
    from backend.identity.services import session_store
    from backend.oauth.bearer import socket_liveness
    from backend.oauth.services import active_access_token, revoke_grant

    token = await app_token(world, ["profile:read"])
    runtime = world.app.state.runtime
    row = await active_access_token(runtime.settings, token, runtime.clock())
    is_alive = socket_liveness(runtime, session_store(runtime).is_alive)
    assert await is_alive(f"app-token:{row.id}")
    assert not await is_alive("app-token:not-a-number")
    await revoke_grant(row.grant_id, NOW)
    assert not await is_alive(f"app-token:{row.id}")


async def test_expired_codes_and_tokens_are_purged_after_a_grace_day(world):
    from datetime import timedelta

    from backend.oauth.models import OAuthAccessToken, OAuthCode, OAuthRefreshToken
    from backend.oauth.services import PURGE_GRACE, purge_expired

    await app_token(world, ["profile:read"])
    access = await OAuthAccessToken.get()
    assert await purge_expired(access.expires_at + PURGE_GRACE - timedelta(seconds=1)) == 1
    assert await OAuthCode.all().count() == 0  # the 60 s code went first
    assert await purge_expired(access.expires_at + PURGE_GRACE + timedelta(seconds=1)) == 1
    assert await OAuthAccessToken.all().count() == 0
    assert await OAuthRefreshToken.all().count() == 1  # 30 days
    refresh = await OAuthRefreshToken.get()
    assert await purge_expired(refresh.expires_at + PURGE_GRACE + timedelta(seconds=1)) == 1
    assert await purge_expired(refresh.expires_at + PURGE_GRACE * 2) == 0
    assert await OAuthGrant.all().count() == 1
