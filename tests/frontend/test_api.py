"""The API client module: variables, token, and errors turned into French messages."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from carnet_web import api
from carnet_web.state import (  # noqa: F401  (declare operations)
    documents,
    home,
    login,
    session,
    sessions,
)
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
    assert {"Home", "HomeSignedOut", "Login", "VerifyLoginCode", "ResendLoginCode", "Me", "Logout",
            "MySessions", "RevokeSession", "LogoutEverywhere", "Documents", "Document",
            "UploadDocument", "RenameDocument", "SetDocumentHidden", "DeleteDocument"} <= names


def test_api_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(api.API_URL_ENV, raising=False)
    assert api.api_url() == "http://127.0.0.1:8000/graphql"
    monkeypatch.setenv(api.API_URL_ENV, "http://api.example:9000/graphql")
    assert api.api_url() == "http://api.example:9000/graphql"


async def test_home_query_against_the_real_schema(in_process: dict[str, Any]) -> None:
    title = f"Titre <b>brut</b> {secrets.token_hex(4)}"
    await Announcement.create(title=title, body="Corps", published_at=datetime.now(UTC))
    data = await api.execute(home.HOME_SIGNED_OUT, {"announcements": 5}, **in_process)
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
        ("NOT_AUTHENTICATED", api.ApiUnauthenticated, api.UNAUTHENTICATED_MESSAGE),
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



# --- uploads and downloads ----------------------------------------------------------------

UPLOAD = GraphQLRequest(
    "mutation Up($file: Upload!, $input: UploadDocumentInput!) {"
    " uploadDocument(file: $file, input: $input) { __typename } }"
)


async def test_upload_is_a_multipart_request_with_the_preflight_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"uploadDocument": {"__typename": "Document"}}})

    content = io.BytesIO(b"%PDF-1.4 \x00\xff")
    data = await api.upload(UPLOAD, {"input": {"title": "T"}}, file_variable="file",
                            filename="analyse.pdf", content=content, token="s3cret",
                            headers={"Authorization": "Bearer volé", "User-Agent": "Firefox"},
                            url="http://x/graphql", http_transport=mock(handler))
    assert data == {"uploadDocument": {"__typename": "Document"}}
    request = seen[0]
    assert request.headers["GraphQL-Preflight"] == "1"
    assert request.headers.get_list("Authorization") == ["Bearer s3cret"]
    assert request.headers["User-Agent"] == "Firefox"
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = request.read()
    operations = json.loads(body.split(b'name="operations"\r\n\r\n')[1].split(b"\r\n")[0])
    assert operations["variables"] == {"input": {"title": "T"}, "file": None}
    assert b'name="map"\r\n\r\n{"0": ["variables.file"]}' in body
    assert b'name="0"; filename="analyse.pdf"' in body
    assert b"%PDF-1.4 \x00\xff" in body


async def test_upload_refused_as_too_large_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        errors = [{"message": "Request body too large (max 1 bytes).",
                   "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]
        return httpx.Response(413, json={"errors": errors})

    with pytest.raises(api.ApiPayloadTooLarge) as caught:
        await api.upload(UPLOAD, {"input": {}}, file_variable="file", filename="f.pdf",
                         content=io.BytesIO(b"x"), url="http://x/graphql",
                         http_transport=mock(handler))
    assert caught.value.message == "Ce fichier est trop volumineux pour être envoyé."


def test_api_base_url() -> None:
    assert api.api_base_url("http://h:8000/graphql") == "http://h:8000"
    assert api.api_base_url("https://h/api/graphql/") == "https://h/api"
    assert api.api_base_url("http://h:8000") == "http://h:8000"


def test_file_names_from_content_disposition() -> None:
    header = "attachment; filename=\"Bilan _.pdf\"; filename*=UTF-8''Bilan%20%C3%A9t%C3%A9.pdf"
    assert api.disposition_filename(header) == "Bilan été.pdf"
    assert api.disposition_filename('attachment; filename="a.pdf"') == "a.pdf"
    assert api.disposition_filename("attachment") == ""


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, api.ApiUnauthenticated), (404, api.DocumentUnavailable), (502, api.ApiUnavailable)],
)
async def test_download_failures(status: int, error_type: type[api.ApiError]) -> None:
    with pytest.raises(error_type) as caught:
        await api.open_download("/documents/x/content", token="t", url="http://x/graphql",
                                http_transport=mock(lambda request: httpx.Response(status)))
    assert type(caught.value) is error_type


async def test_download_streams_the_bytes_with_the_token() -> None:
    seen: list[httpx.Request] = []
    content = bytes(range(256)) * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=content, headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename*=UTF-8''R%C3%A9sultat.pdf"})

    download = await api.open_download("/documents/d1/content", token="s3cret",
                                       headers={"X-Forwarded-For": "203.0.113.7"},
                                       url="http://api:8000/graphql",
                                       http_transport=mock(handler))
    async with download:
        assert (download.content_type, download.filename) == ("application/pdf",
                                                               "Résultat.pdf")
        assert download.content_length == len(content)
        assert await download.read() == content
    assert str(seen[0].url) == "http://api:8000/documents/d1/content"
    assert seen[0].headers["Authorization"] == "Bearer s3cret"
    assert seen[0].headers["X-Forwarded-For"] == "203.0.113.7"
    with pytest.raises(ValueError):
        await api.open_download("//evil.example/x", token="t")
