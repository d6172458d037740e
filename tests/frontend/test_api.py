"""The API client module: variables, token, and errors turned into French messages."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from carnet_web import api
from carnet_web.state import home, login, session, sessions  # noqa: F401  (declare operations)
from gql import GraphQLRequest
from graphql import build_schema, validate

from backend.announcements.models import Announcement
from tests.servers import free_port

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
PING = GraphQLRequest("query Ping($first: Int!) { announcements(first: $first) { id } }")


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_every_operation_is_valid_against_the_schema() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    assert api.OPERATIONS
    for request in api.OPERATIONS:
        assert validate(schema, request.document) == []
    names = {
        definition.name.value
        for request in api.OPERATIONS
        for definition in request.document.definitions
        if getattr(definition, "name", None)
    }
    assert {"Home", "Login", "VerifyLoginCode", "ResendLoginCode", "Me", "Logout",
            "MySessions", "RevokeSession", "LogoutEverywhere"} <= names


def test_api_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(api.API_URL_ENV, raising=False)
    assert api.api_url() == "http://127.0.0.1:8000/graphql"
    monkeypatch.setenv(api.API_URL_ENV, "http://api.example:9000/graphql")
    assert api.api_url() == "http://api.example:9000/graphql"


async def test_home_query_against_the_real_schema(in_process: dict[str, Any]) -> None:
    title = f"Titre <b>brut</b> {secrets.token_hex(4)}"
    await Announcement.create(title=title, body="Corps", published_at=datetime.now(UTC))
    data = await api.execute(home.HOME_QUERY, {"first": 5}, **in_process)
    assert data["platform"]["name"] == "Carnet"
    assert data["announcements"][0]["title"] == title  # newest first, as sent


async def test_values_travel_as_variables_with_the_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"announcements": []}})

    await api.execute(PING, {"first": 3}, token="s3cret", url="http://x/graphql",
                      http_transport=mock(handler))
    body = json.loads(seen[0].content)
    assert body["variables"] == {"first": 3}
    assert "3" not in body["query"]
    assert seen[0].headers["Authorization"] == "Bearer s3cret"


async def test_extra_headers_are_sent_but_never_replace_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"announcements": []}})

    headers = {"User-Agent": "Firefox/140.0", "X-Forwarded-For": "203.0.113.7",
               "authorization": "Bearer volé"}
    await api.execute(PING, {"first": 1}, token="s3cret", headers=headers,
                      url="http://x/graphql", http_transport=mock(handler))
    assert seen[0].headers["User-Agent"] == "Firefox/140.0"
    assert seen[0].headers["X-Forwarded-For"] == "203.0.113.7"
    assert seen[0].headers.get_list("Authorization") == ["Bearer s3cret"]

    await api.execute(PING, {"first": 1}, headers=headers, url="http://x/graphql",
                      http_transport=mock(handler))
    assert "Authorization" not in seen[1].headers


async def test_no_token_no_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"announcements": []}})

    await api.execute(PING, {"first": 1}, url="http://x/graphql", http_transport=mock(handler))
    assert "Authorization" not in seen[0].headers


@pytest.mark.parametrize(
    ("code", "error_type", "message"),
    [
        ("UNAUTHENTICATED", api.ApiUnauthenticated, api.UNAUTHENTICATED_MESSAGE),
        ("SERVICE_UNAVAILABLE", api.ApiUnavailable, api.UNAVAILABLE_MESSAGE),
        ("INTERNAL_SERVER_ERROR", api.ApiError, api.UNEXPECTED_MESSAGE),
    ],
)
async def test_graphql_errors_become_french_messages(
    code: str, error_type: type[api.ApiError], message: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        errors = [{"message": "Unexpected error.", "extensions": {"code": code}}]
        return httpx.Response(200, json={"data": None, "errors": errors})

    with pytest.raises(error_type) as caught:
        await api.execute(PING, {"first": 1}, url="http://x/graphql",
                          http_transport=mock(handler))
    assert type(caught.value) is error_type
    assert caught.value.message == message == str(caught.value)
    assert caught.value.code == code


async def test_invalid_document_is_an_error_not_a_crash(in_process: dict[str, Any]) -> None:
    with pytest.raises(api.ApiError) as caught:
        await api.execute(GraphQLRequest("query { nope }"), **in_process)
    assert caught.value.message == api.UNEXPECTED_MESSAGE


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(503, text="upstream down"),
        httpx.Response(502, json={"oops": True}),
        httpx.Response(200, text="<html>proxy login</html>"),
    ],
)
async def test_http_failures_mean_unavailable(response: httpx.Response) -> None:
    with pytest.raises(api.ApiUnavailable) as caught:
        await api.execute(PING, {"first": 1}, url="http://x/graphql",
                          http_transport=mock(lambda request: response))
    assert caught.value.message.startswith("Le service est momentanément indisponible")


async def test_unreachable_api_means_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/graphql"  # nothing listens there
    with pytest.raises(api.ApiUnavailable) as caught:
        await api.execute(PING, {"first": 1}, url=url, http_timeout=2)
    assert caught.value.code == "NETWORK"
    assert caught.value.message == api.UNAVAILABLE_MESSAGE

