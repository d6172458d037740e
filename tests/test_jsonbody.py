"""Hostile JSON bodies (deep nesting, huge numbers) answer 400, on GraphQL and FHIR."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from backend import jsonbody
from tests.test_profile_helpers import signed_in_patient, signed_in_professional

DEEP = "[" * 200_000 + "]" * 200_000
HUGE_NUMBER = "9" * 100_000


def _graphql_body(variables_json: str) -> bytes:
    return ('{"query": "query Q($a: Int) { announcements(first: $a) { id } }", "variables": {"a": '
            + variables_json + "}}").encode()


BODIES = {"deep": DEEP, "huge number": HUGE_NUMBER, "huge negative": "-" + HUGE_NUMBER,
          "NaN": "NaN"}


@pytest.mark.parametrize("value", BODIES.values(), ids=BODIES.keys())
def test_the_loader_refuses_hostile_values_quickly(value):
    started = time.perf_counter()
    with pytest.raises(jsonbody.UnsafeJSON):
        jsonbody.loads(_graphql_body(value))
    assert time.perf_counter() - started < 1.0


def test_the_loader_accepts_ordinary_json_and_brackets_or_digits_in_strings():
    body = {"a": "[" * 1000 + "{", "b": "9" * 5000, "c": [[[1.5e3, -2, True, None]]],
            "d": "\\\"[", "é": "☃"}
    assert jsonbody.loads(json.dumps(body).encode()) == body
    assert jsonbody.loads(json.dumps(body, ensure_ascii=False)) == body
    assert jsonbody.loads("[" * 64 + "]" * 64) is not None
    with pytest.raises(jsonbody.UnsafeJSON, match="deeper than 64"):
        jsonbody.loads("[" * 65 + "]" * 65)
    with pytest.raises(json.JSONDecodeError):
        jsonbody.loads(b'{"a": }')


def test_nesting_is_measured_outside_strings():
    assert jsonbody.max_nesting(b'{"a": [[1], {"b": "[[[["}]}') == 3
    assert jsonbody.max_nesting(b'"\\"[[["') == 0


@pytest.mark.parametrize("value", BODIES.values(), ids=BODIES.keys())
async def test_graphql_answers_400_bad_user_input(client: httpx.AsyncClient, value):
    response = await client.post("/graphql", content=_graphql_body(value),
                                 headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:200]
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"]


async def test_graphql_get_variables_use_the_same_loader(client: httpx.AsyncClient):
    query = "query Q($a: Int) { announcements(first: $a) { id } }"
    response = await client.get("/graphql", params={
        "query": query, "variables": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    ok = await client.get("/graphql", params={"query": query, "variables": '{"a": 1}'})
    assert ok.json() == {"data": {"announcements": []}}


async def test_graphql_malformed_json_is_a_clear_400(client: httpx.AsyncClient):
    response = await client.post("/graphql", content=b'{"query": ',
                                 headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("value", [DEEP, HUGE_NUMBER], ids=["deep", "huge number"])
async def test_fhir_bundle_answers_400_operation_outcome(gql, notifier, client, value):
    _, token = await signed_in_patient(gql, notifier, "patient@example.fr")
    body = '{"resourceType": "Bundle", "type": "collection", "entry": ' + value + "}"
    response = await client.post("/fhir/r4/Bundle", content=body.encode(),
                                 headers={"Authorization": f"Bearer {token}",
                                          "content-type": "application/fhir+json"})
    assert response.status_code == 400, response.text[:200]
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("value", [DEEP, HUGE_NUMBER], ids=["deep", "huge number"])
async def test_fhir_document_reference_answers_400_operation_outcome(
    gql, notifier, client, value
):
    _, token = await signed_in_professional(gql, notifier, "doctor@example.fr")
    body = '{"resourceType": "DocumentReference", "content": ' + value + "}"
    response = await client.post("/fhir/r4/DocumentReference", content=body.encode(),
                                 headers={"Authorization": f"Bearer {token}",
                                          "content-type": "application/fhir+json"})
    assert response.status_code == 400, response.text[:200]
    assert response.json()["resourceType"] == "OperationOutcome"
