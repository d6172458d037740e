"""examples/measurements_app.py against a running Carnet (`carnet serve`, a real process): the
example performs the whole flow with authlib's client (metadata, authorization URL with PKCE,
its redirect listener, the code exchange) and reads the patient's weights through GraphQL. The
test plays the patient: it reads the authorization URL the example prints and consents through
`authorizeApp` (what the consent page does), then follows the redirect to the example."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from backend.catalogue.models import CatalogueApp
from tests.catalogue_helpers import referenced
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in
from tests.servers import carnet_server, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "measurements_app.py"
AUTHORIZE = """mutation A($c: ID!, $r: String!, $s: [String!]!, $st: String, $cc: String!,
  $m: String!) { authorizeApp(clientId: $c, redirectUri: $r, scopes: $s, state: $st,
  codeChallenge: $cc, codeChallengeMethod: $m) { __typename
  ... on AuthorizationGranted { redirectTo } ... on Error { message } } }"""
ADD_WEIGHT = """mutation W($v: Float!, $at: DateTime!) { addMeasurement(input: {kind: WEIGHT,
  value: $v, measuredAt: $at}) { __typename } }"""


@pytest.fixture(scope="module")
def server(migrated, server_env) -> Iterator[str]:
    with carnet_server(server_env) as base:
        yield base


async def test_the_example_app_reads_the_patients_weights(server, app, clean, gql, notifier):
    await create_patient(email="alice@example.fr")
    # The session is created through the in-process app; sessions live in the shared Redis and
    # the database is shared with the server process.
    token = await sign_in(gql, notifier, "alice@example.fr", PASSWORD)
    port = free_port()
    catalogue_app: CatalogueApp = await referenced(
        redirectUris=[f"http://127.0.0.1:{port}/callback"])
    async with httpx.AsyncClient(base_url=server) as http:
        for value, at in ((72.4, "2026-11-01T08:00:00Z"), (71.8, "2026-11-15T08:00:00Z")):
            response = await http.post("/graphql", json={
                "query": ADD_WEIGHT, "variables": {"v": value, "at": at}},
                headers={"Authorization": f"Bearer {token}"})
            assert response.json()["data"]["addMeasurement"]["__typename"] == "Measurement"

        process = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLE), "--carnet", server, "--client-id",
            str(catalogue_app.id), "--port", str(port), "--no-browser", "--json",
            "--timeout", "60", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
            assert line.startswith("AUTHORIZE "), line
            url = urlsplit(line.split(" ", 1)[1].strip())
            assert url.geturl().startswith(server + "/oauth/authorize?")
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            assert params["response_type"] == "code"
            assert params["code_challenge_method"] == "S256"
            # The patient consents (the consent page calls exactly this).
            consent = await http.post("/graphql", json={"query": AUTHORIZE, "variables": {
                "c": params["client_id"], "r": params["redirect_uri"],
                "s": params["scope"].split(), "st": params["state"],
                "cc": params["code_challenge"], "m": params["code_challenge_method"]}},
                headers={"Authorization": f"Bearer {token}"})
            granted = consent.json()["data"]["authorizeApp"]
            assert granted["__typename"] == "AuthorizationGranted", granted
            # The browser follows the redirect to the example's listener.
            async with httpx.AsyncClient() as browser:
                assert (await browser.get(granted["redirectTo"])).status_code == 200
            out, err = await asyncio.wait_for(process.communicate(), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result == {"scope": "profile:read", "unit": "kg", "weights": [72.4, 71.8]}
