"""What the Reflex backend adds for documents: one-time download tickets, the download route
(streaming from the API, here the real one in-process), the upload size limit."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest
from carnet_web import api, documents_http
from carnet_web.documents_http import (
    TicketStore,
    UploadSizeLimit,
    backend_base_url,
    download_script,
    download_url,
)
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.conftest import GraphQLClient
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import sign_in


def test_tickets_work_once() -> None:
    store = TicketStore()
    ticket = store.issue(token="t", path="/documents/d1/content", headers={"User-Agent": "Firefox"})
    assert len(ticket) >= 40  # 32 random bytes
    found = store.redeem(ticket)
    assert found is not None
    assert (found.token, found.path, dict(found.headers)) == (
        "t", "/documents/d1/content", {"User-Agent": "Firefox"})
    assert store.redeem(ticket) is None
    assert store.redeem("inconnu") is None
    path = "/documents/d1/content"
    assert store.issue(token="t", path=path) != store.issue(token="t", path=path)


def test_tickets_expire_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(documents_http.time, "monotonic", lambda: now[0])
    store = TicketStore(ttl=60, max_size=3)
    old = store.issue(token="t", path="/documents/d1/content")
    now[0] += 61
    assert store.redeem(old) is None
    tickets = [store.issue(token="t", path=f"/documents/d{i}/content") for i in range(4)]
    assert len(store) == 3
    assert store.redeem(tickets[0]) is None  # the oldest made room
    assert store.redeem(tickets[3]) is not None


@pytest.mark.parametrize(
    ("announced", "page", "expected"),
    [
        ("http://localhost:8000", "http://127.0.0.1:3000", "http://127.0.0.1:8000"),
        ("http://localhost:8000", "https://carnet.example", "https://carnet.example"),
        ("http://0.0.0.0:8000/", "http://192.168.1.5:3000", "http://192.168.1.5:8000"),
        ("http://localhost:8000", "", "http://localhost:8000"),
        ("https://carnet.example", "https://carnet.example", "https://carnet.example"),
        ("https://web.carnet.example/app", "http://other", "https://web.carnet.example/app"),
    ],
)
def test_where_the_browser_reaches_this_backend(announced: str, page: str, expected: str) -> None:
    assert backend_base_url(announced, page) == expected


def test_the_download_happens_in_a_hidden_frame() -> None:
    url = download_url("http://127.0.0.1:8000/", "abc")
    assert url == "http://127.0.0.1:8000/_carnet/telechargement/abc"
    script = download_script(url + '"</script>')
    assert "frame.hidden = true" in script
    assert json.dumps(url + '"</script>') in script  # a JS string, quotes escaped


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any]) -> httpx.AsyncClient:
    """The download route, its API calls served by the real API in-process."""
    real_open = api.open_download

    async def open_download(path: str, **kwargs: Any) -> api.Download:
        return await real_open(path, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "open_download", open_download)
    transport = httpx.ASGITransport(app=documents_http.routes_app())  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://web")


UPLOAD = """mutation ($file: Upload!, $input: UploadDocumentInput!) {
  uploadDocument(file: $file, input: $input) { ... on Document { id } }
}"""


async def test_the_route_streams_the_document_byte_for_byte(
    web: httpx.AsyncClient, in_process: dict[str, Any], notifier: Any
) -> None:
    address = f"dl-{secrets.token_hex(4)}@example.fr"
    await create_patient(email=address, password=PASSWORD)
    content = b"%PDF-1.7\r\n\x00\xff" + secrets.token_bytes(200_000)
    async with httpx.AsyncClient(transport=in_process["http_transport"],
                                 base_url="http://testserver") as http:
        token = await sign_in(GraphQLClient(http), notifier, address, PASSWORD)
        answer = await http.post(
            "/graphql",
            data={"operations": json.dumps({"query": UPLOAD, "variables": {
                      "file": None, "input": {"title": "Compte rendu d'été",
                                              "type": "LAB_REPORT",
                                              "clinicalDate": "2025-07-01"}}}),
                  "map": json.dumps({"0": ["variables.file"]})},
            files={"0": ("cr.pdf", content, "application/pdf")},
            headers={"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"},
        )
    document_id = answer.json()["data"]["uploadDocument"]["id"]

    ticket = documents_http.TICKETS.issue(token=token, path=f"/documents/{document_id}/content")
    async with web:
        response = await web.get(f"/_carnet/telechargement/{ticket}")
        assert response.status_code == 200
        assert response.content == content
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-length"] == str(len(content))
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"Compte rendu d'_t_.pdf\"; "
            "filename*=UTF-8''Compte%20rendu%20d%27%C3%A9t%C3%A9.pdf")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert "sandbox" in response.headers["content-security-policy"]

        # Once only.
        again = await web.get(f"/_carnet/telechargement/{ticket}")
        assert again.status_code == 404
        assert "Ce lien de téléchargement a expiré ou a déjà servi." in again.text

        # A ticket for a document that is not (or no longer) mine.
        other = documents_http.TICKETS.issue(
            token=token, path="/documents/00000000-0000-0000-0000-000000000000/content")
        missing = await web.get(f"/_carnet/telechargement/{other}")
        assert missing.status_code == 404
        assert "Ce document n'est plus disponible" in missing.text
        assert token not in missing.text


async def test_the_route_when_the_api_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unavailable(path: str, **kwargs: Any) -> api.Download:
        raise api.ApiUnavailable(code="NETWORK")

    monkeypatch.setattr(api, "open_download", unavailable)
    ticket = documents_http.TICKETS.issue(token="t", path="/documents/d1/content")
    transport = httpx.ASGITransport(app=documents_http.routes_app())  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        response = await web.get(f"/_carnet/telechargement/{ticket}")
    assert response.status_code == 502
    assert "Le service est momentanément indisponible" in response.text


def _echo_app() -> Starlette:
    async def echo(request: Any) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    return Starlette(routes=[Route("/_upload", echo, methods=["POST"]),
                             Route("/autre", echo, methods=["POST"])])


async def test_uploads_to_reflex_are_limited_in_size() -> None:
    limited = UploadSizeLimit(_echo_app(), path="/_upload", limit=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited),  # type: ignore[arg-type]
                                 base_url="http://web") as http:
        assert (await http.post("/_upload", content=b"x" * 1000)).text == "1000"
        declared = await http.post("/_upload", content=b"x" * 1001)
        assert declared.status_code == 413

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(5):
                yield b"x" * 300

        streamed = await http.post("/_upload", content=chunks())
        assert streamed.status_code == 413
        assert (await http.post("/autre", content=b"x" * 5000)).text == "5000"
