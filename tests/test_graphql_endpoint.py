"""The /graphql endpoint: transport rules, abuse limits, error masking, DataLoaders."""

from __future__ import annotations

import logging

import httpx
import pytest

from backend.announcements import services as announcements
from backend.announcements.models import Announcement
from tests.querycount import count_queries

HOME = "query Home($n: Int!) { platform { name version } announcements(first: $n) { id title } }"


@pytest.fixture
async def two_announcements(app, clean):
    broker = app.state.runtime.broker
    first = await announcements.publish(broker, title="Premier", body="a")
    second = await announcements.publish(broker, title="Second", body="b")
    return first, second


async def test_query_over_post_and_get(client: httpx.AsyncClient, two_announcements):
    post = await client.post("/graphql", json={"query": HOME, "variables": {"n": 5}})
    assert post.status_code == 200
    body = post.json()
    assert body["data"]["platform"]["name"] == "Carnet"
    assert [a["title"] for a in body["data"]["announcements"]] == ["Second", "Premier"]

    get = await client.get("/graphql", params={"query": HOME, "variables": '{"n": 1}'})
    assert get.status_code == 200
    assert len(get.json()["data"]["announcements"]) == 1


async def test_mutations_are_refused_over_get(client: httpx.AsyncClient):
    response = await client.get("/graphql", params={"query": "mutation { __typename }"})
    assert response.status_code in (400, 405)
    assert "mutations are not allowed" in response.text


async def test_a_query_nested_20_levels_is_refused_before_touching_the_database(
    client: httpx.AsyncClient,
):
    inner = "id"
    for _ in range(19):
        inner = f"announcements {{ {inner} }}"
    query = f"{{ {inner} }}"
    with count_queries() as counter:
        response = await client.post("/graphql", json={"query": query})
    body = response.json()
    assert body.get("data") is None
    assert any("exceeds maximum operation depth" in e["message"] for e in body["errors"])
    assert counter.count == 0


async def test_alias_flooding_is_refused(client: httpx.AsyncClient):
    query = "{ " + " ".join(f"a{i}: platform {{ name }}" for i in range(50)) + " }"
    body = (await client.post("/graphql", json={"query": query})).json()
    assert body.get("data") is None
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_huge_documents_are_refused(client: httpx.AsyncClient):
    query = "{ platform { " + " ".join(["name"] * 3000) + " } }"
    body = (await client.post("/graphql", json={"query": query})).json()
    assert body.get("data") is None
    assert "token" in body["errors"][0]["message"].lower()


async def test_unexpected_errors_are_masked_and_logged_without_their_message(
    client: httpx.AsyncClient, monkeypatch, caplog
):
    secret = "patient Dupont has " + "diab" + "etes"

    async def boom(first: int = 5):
        raise RuntimeError(secret)  # tracebacks show source lines, not values

    monkeypatch.setattr(announcements, "latest", boom)
    with caplog.at_level(logging.DEBUG):
        response = await client.post("/graphql", json={"query": "{ announcements { id } }"})
    error = response.json()["errors"][0]
    assert error["message"] == "Erreur inattendue."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = response.headers["x-request-id"]
    assert error["extensions"]["requestId"] == request_id
    assert "diabetes" not in response.text
    assert "diabetes" not in caplog.text
    assert request_id in caplog.text and "RuntimeError" in caplog.text


async def test_database_outage_is_a_retryable_error_not_a_500(
    client: httpx.AsyncClient, monkeypatch
):
    async def down(first: int = 5):
        raise ConnectionRefusedError("connect failed")

    monkeypatch.setattr(announcements, "latest", down)
    response = await client.post("/graphql", json={"query": "{ announcements { id } }"})
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "réessayer" in error["message"]


async def test_one_dataloader_batches_nodes_in_a_request(client, two_announcements):
    first, second = two_announcements
    query = (
        "query Two($a: ID!, $b: ID!) "
        "{ x: announcement(id: $a) { title } y: announcement(id: $b) { title } }"
    )
    with count_queries() as counter:
        body = (await client.post("/graphql", json={
            "query": query, "variables": {"a": str(first.id), "b": str(second.id)}})).json()
    assert body["data"] == {"x": {"title": "Premier"}, "y": {"title": "Second"}}
    assert counter.count == 1, counter.statements


async def test_unknown_or_malformed_ids_answer_null(client, two_announcements):
    query = "query One($id: ID!) { announcement(id: $id) { id } }"
    for value in ["999999", "abc", "-1"]:
        payload = {"query": query, "variables": {"id": value}}
        body = (await client.post("/graphql", json=payload)).json()
        assert body == {"data": {"announcement": None}}


async def test_unpublished_announcements_are_invisible(client, clean):
    from datetime import UTC, datetime, timedelta

    future = await Announcement.create(
        title="Plus tard", body="x", published_at=datetime.now(UTC) + timedelta(days=1)
    )
    body = (await client.post("/graphql", json={
        "query": "query One($id: ID!) { announcement(id: $id) { id } announcements { id } }",
        "variables": {"id": str(future.id)}})).json()
    assert body["data"] == {"announcement": None, "announcements": []}


async def test_security_headers_and_request_id(client: httpx.AsyncClient):
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    bad = await client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert bad.headers["x-request-id"] != "<script>"


ADD_ALLERGY = "mutation M($i: AllergyInput!) { addAllergy(input: $i) { __typename } }"


@pytest.mark.parametrize(("value", "expected"), [
    (None, "not to be None"),
    ({"substance": "x", "unknownField": "y"}, "unknown field 'unknownField'"),
    ("a string", "to be an object"),
    ({"substance": "x", "since": "2024-13-45"}, "Date"),
])
async def test_a_variable_that_does_not_fit_its_type_is_a_client_error(
    client: httpx.AsyncClient, caplog, value, expected
):
    with caplog.at_level(logging.DEBUG, logger="carnet"):
        response = await client.post(
            "/graphql", json={"query": ADD_ALLERGY, "variables": {"i": value}})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "Variable '$i' has invalid value" in error["message"]
    assert expected in error["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_unexpected_errors_log_their_frames(
    client: httpx.AsyncClient, monkeypatch, caplog
):
    secret = "patient Dupont has " + "diab" + "etes"

    async def boom(first: int = 5):
        raise RuntimeError(secret)

    monkeypatch.setattr(announcements, "latest", boom)
    with caplog.at_level(logging.ERROR, logger="carnet.errors"):
        await client.post("/graphql", json={"query": "{ announcements { id } }"})
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    text = record.getMessage()
    assert "RuntimeError" in text and 'File "' in text and "in boom" in text
    assert "diabetes" not in text


async def test_an_exception_escaping_the_operation_is_masked_too(
    client: httpx.AsyncClient, app, monkeypatch, caplog
):
    from backend.graphql_documents import CarnetDocuments

    secret = "patient Dupont has " + "diab" + "etes"

    def broken(self):
        raise RuntimeError(secret)
        yield  # pragma: no cover

    monkeypatch.setattr(CarnetDocuments, "on_validate", broken)
    with caplog.at_level(logging.ERROR, logger="carnet.errors"):
        response = await client.post("/graphql", json={"query": "{ __typename }"})
    error = response.json()["errors"][0]
    assert error["message"] == "Erreur inattendue."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "diabetes" not in response.text and "diabetes" not in caplog.text
    assert "RuntimeError" in caplog.text


@pytest.mark.parametrize("query", [
    "{ profile { fhirPatientId } }",
    '{ measurements(kind: WEIGHT) { __typename } }',
])
async def test_an_anonymous_call_to_a_patient_field_asks_to_sign_in(
    client: httpx.AsyncClient, query
):
    body = (await client.post("/graphql", json={"query": query})).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "NOT_AUTHENTICATED", error
    assert error["message"] == "Connexion requise : veuillez vous identifier."


# What a GraphQL answer holds once graphql-core has serialised it: str, int, float, bool, None,
# lists and dicts with str keys (French text, quotes, control and line-separator characters).
ANSWER = {"data": {"documents": {"totalCount": 20, "newCount": 0, "edges": [
    {"node": {"id": "7b0e", "title": "Compte rendu « été » — n°2 \"x\" \\ \n\t\u2028\u0001 🩺",
              "isNew": True, "clinicalDate": None, "value": 72.5, "small": 1e-07,
              "large": 1e16, "negative": -3, "zero": 0.0}}]}},
    "errors": [{"message": "Refusé", "path": ["a", 0], "extensions": {"code": "X"}}]}


def test_answers_are_the_same_json_as_before_with_orjson():
    import json

    from backend.graphql_view import CarnetGraphQL

    encode = CarnetGraphQL.encode_json
    out = encode(None, ANSWER)  # type: ignore[arg-type]
    assert isinstance(out, str)  # websocket messages must stay text frames
    assert json.loads(out) == ANSWER == json.loads(json.dumps(ANSWER, separators=(",", ":")))
    # Byte for byte what json.dumps writes without \u escapes of non-ASCII characters, but
    # for exponents, written shorter (1e-07 as 1e-7: the same number).
    assert out == json.dumps(ANSWER, separators=(",", ":"), ensure_ascii=False).replace(
        "1e-07", "1e-7")
    # What orjson refuses still gets an answer, as json.dumps gave it.
    for odd in ({"data": {"n": 2**70}}, {"data": {"s": "\ud800"}}):
        assert encode(None, odd) == json.dumps(odd, separators=(",", ":"))  # type: ignore


async def test_an_answer_over_http_is_utf8_json(client: httpx.AsyncClient, clean, app):
    await announcements.publish(app.state.runtime.broker, title="Été « chaud »", body="é")
    response = await client.post("/graphql", json={"query": HOME, "variables": {"n": 1}})
    assert response.headers["content-type"] == "application/json"
    assert "Été « chaud »".encode() in response.content  # UTF-8, not \u escapes
    assert response.json()["data"]["announcements"][0]["title"] == "Été « chaud »"
