"""What the Reflex backend adds for documents: one-time download tickets, the download route
(streaming from the API, here the real one in-process), the upload size limit."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

import httpx
import pytest
from carnet_web import api, documents_http, pdf_viewer
from carnet_web.documents_http import (
    INLINE,
    INLINE_TYPES,
    TicketStore,
    UploadSizeLimit,
    backend_base_url,
    download_script,
    download_url,
    inline_disposition,
    is_inline,
    pdf_script,
    viewer_url,
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


def test_a_ticket_works_on_the_route_of_its_kind_only() -> None:
    store = TicketStore()
    inline = store.issue(token="t", path="/documents/d1/content", kind=INLINE, lang="en")
    assert store.redeem(inline) is None  # not a download ticket: spent all the same
    assert store.redeem(inline, INLINE) is None
    inline = store.issue(token="t", path="/documents/d1/content", kind=INLINE, lang="en-GB")
    found = store.redeem(inline, INLINE)
    assert found is not None and (found.kind, found.lang) == (INLINE, "en")
    download = store.issue(token="t", path="/documents/d1/content")
    assert store.redeem(download, INLINE) is None
    with pytest.raises(ValueError, match="kind"):
        store.issue(token="t", path="/documents/d1/content", kind="autre")


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


def test_only_pdfs_and_raster_images_are_shown_inline() -> None:
    allowed = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"}
    assert allowed == INLINE_TYPES
    assert is_inline("application/pdf") and is_inline("IMAGE/PNG ")
    for content_type in ("image/svg+xml", "text/html", "text/plain; charset=utf-8",
                         "application/hl7-cda+xml", "application/xml", "application/pdf; x=1",
                         "", "application/octet-stream"):
        assert not is_inline(content_type), content_type


def test_inline_disposition_keeps_the_name_safely() -> None:
    assert inline_disposition("Compte rendu d'été.pdf") == (
        "inline; filename=\"Compte rendu d'_t_.pdf\"; "
        "filename*=UTF-8''Compte%20rendu%20d%27%C3%A9t%C3%A9.pdf")
    assert inline_disposition('a"\r\nb.png') == (
        "inline; filename=\"a_b.png\"; filename*=UTF-8''a%22b.png")
    assert inline_disposition("") == "inline; filename=\"document\"; filename*=UTF-8''document"


def test_the_pdf_script_posts_only_to_the_viewer_frame() -> None:
    url = viewer_url("http://127.0.0.1:8000/", "en-GB")
    assert url == "http://127.0.0.1:8000/_carnet/visionneuse/?lang=en"
    script = pdf_script('http://127.0.0.1:8000/_carnet/affichage/abc"</script>')
    assert json.dumps('http://127.0.0.1:8000/_carnet/affichage/abc"</script>') in script
    assert "event.source !== win" in script  # answers only the viewer's own window
    assert "credentials: 'omit'" in script
    assert "window.__carnetViewer.stop()" in script  # a previous page's listener goes


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


async def _upload(http: httpx.AsyncClient, token: str, content: bytes, name: str,
                  title: str = "Radio du genou") -> str:
    answer = await http.post(
        "/graphql",
        data={"operations": json.dumps({"query": UPLOAD, "variables": {
                  "file": None, "input": {"title": title, "type": "IMAGING_REPORT",
                                          "clinicalDate": "2025-07-01"}}}),
              "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, "application/octet-stream")},
        headers={"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"},
    )
    return answer.json()["data"]["uploadDocument"]["id"]


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
       b"\x00\x00\x00\x90wS\xde" + secrets.token_bytes(64))


async def test_the_inline_route_shows_pdfs_and_images_and_nothing_else(
    web: httpx.AsyncClient, in_process: dict[str, Any], notifier: Any
) -> None:
    me, other = (f"inline-{secrets.token_hex(4)}@example.fr" for _ in range(2))
    for address in (me, other):
        await create_patient(email=address, password=PASSWORD)
    pdf = b"%PDF-1.7\r\n" + secrets.token_bytes(5000)
    async with httpx.AsyncClient(transport=in_process["http_transport"],
                                 base_url="http://testserver") as http:
        token = await sign_in(GraphQLClient(http), notifier, me, PASSWORD)
        other_token = await sign_in(GraphQLClient(http), notifier, other, PASSWORD)
        pdf_id = await _upload(http, token, pdf, "cr.pdf", "Compte rendu d'été")
        png_id = await _upload(http, token, PNG, "genou.png")
        text_id = await _upload(http, token, b"Compte rendu en texte\n", "cr.txt")
        others_id = await _upload(http, other_token, pdf + b"x", "autre.pdf")

    def ticket(document_id: str, kind: str = INLINE) -> str:
        return documents_http.TICKETS.issue(token=token, path=f"/documents/{document_id}/content",
                                            kind=kind, lang="fr")

    async with web:
        response = await web.get(f"/_carnet/affichage/{ticket(pdf_id)}")
        assert response.status_code == 200
        assert response.content == pdf
        headers = response.headers
        assert headers["content-type"] == "application/pdf"  # exactly the API's
        assert headers["content-length"] == str(len(pdf))
        assert headers["content-disposition"] == (
            "inline; filename=\"Compte rendu d'_t_.pdf\"; "
            "filename*=UTF-8''Compte%20rendu%20d%27%C3%A9t%C3%A9.pdf")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "no-referrer"
        csp = [part.strip() for part in headers["content-security-policy"].split(";")]
        assert csp[0] == "sandbox"  # no allow-scripts: nothing runs, even opened on its own
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "img-src 'self'" in csp
        assert not any("script" in part for part in csp)

        image = await web.get(f"/_carnet/affichage/{ticket(png_id)}")
        assert image.status_code == 200 and image.content == PNG
        assert image.headers["content-type"] == "image/png"
        assert image.headers["content-disposition"].startswith('inline; filename="Radio du genou')

        # Once only, and for its own route only.
        used = ticket(pdf_id)
        assert (await web.get(f"/_carnet/affichage/{used}")).status_code == 200
        assert (await web.get(f"/_carnet/affichage/{used}")).status_code == 404
        download_ticket = ticket(pdf_id, documents_http.DOWNLOAD)
        refused = await web.get(f"/_carnet/affichage/{download_ticket}")
        assert refused.status_code == 404
        assert "Ce lien de téléchargement a expiré ou a déjà servi." in refused.text
        assert (await web.get(f"/_carnet/telechargement/{download_ticket}")).status_code == 404

        # Text (and CDA, SVG, HTML...): only ever downloaded.
        text = await web.get(f"/_carnet/affichage/{ticket(text_id)}")
        assert text.status_code == 415
        assert text.headers["content-type"].startswith("text/html")
        assert "ne peut pas être affiché dans le navigateur" in text.text
        assert b"Compte rendu en texte" not in text.content
        assert text.headers["content-security-policy"] == "default-src 'none'"

        # Someone else's document answers exactly like a missing one.
        missing = await web.get(f"/_carnet/affichage/{ticket(str(uuid.uuid4()))}")
        others = await web.get(f"/_carnet/affichage/{ticket(others_id)}")
        assert missing.status_code == others.status_code == 404
        assert missing.content == others.content
        assert {k: v for k, v in missing.headers.items() if k != "date"} == {
            k: v for k, v in others.headers.items() if k != "date"}
        assert "Ce document n'est plus disponible" in others.text
        assert token not in others.text

        # The failure page speaks the tab's language (English tickets), or the browser's.
        english = documents_http.TICKETS.issue(
            token=token, path=f"/documents/{text_id}/content", kind=INLINE, lang="en")
        refused = await web.get(f"/_carnet/affichage/{english}")
        assert '<html lang="en">' in refused.text
        assert "This type of document cannot be shown in the browser" in refused.text
        expired = await web.get("/_carnet/affichage/inconnu",
                                headers={"Accept-Language": "en-GB,en;q=0.8"})
        assert "This download link has expired or has already been used." in expired.text


async def test_the_pdf_viewer_page_and_pdfjs_are_served_with_a_strict_policy() -> None:
    transport = httpx.ASGITransport(app=documents_http.routes_app())  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        page = await web.get("/_carnet/visionneuse/?lang=en")
        assert page.status_code == 200
        assert '<html lang="en"' in page.text
        assert ">Previous page<" in page.text and 'aria-label="Zoom in"' in page.text
        assert '"page": "Page {page} of {pages}"' in page.text
        csp = page.headers["content-security-policy"]
        assert "sandbox allow-scripts" in csp and "default-src 'none'" in csp
        assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "worker-src blob:" in csp
        assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        french = await web.get("/_carnet/visionneuse/?lang=xx")
        assert '<html lang="fr"' in french.text and ">Page précédente<" in french.text

        script = await web.get("/_carnet/visionneuse/viewer.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.headers["access-control-allow-origin"] == "*"  # from the origin `null`
        assert "isEvalSupported: false" in script.text
        assert (await web.get("/_carnet/visionneuse/viewer.html")).status_code == 404

        base = f"/_carnet/visionneuse/pdfjs/{pdf_viewer.VERSION}/"
        library = await web.get(base + "build/pdf.min.mjs")
        assert library.status_code == 200
        assert library.headers["content-type"].startswith("text/javascript")
        assert pdf_viewer.sri(library.content) == pdf_viewer.pinned()["build/pdf.min.mjs"]
        assert "immutable" in library.headers["cache-control"]
        font = await web.get(base + "standard_fonts/LiberationSans-Regular.ttf")
        assert font.status_code == 200 and font.headers["content-type"] == "font/ttf"
        assert font.headers["access-control-allow-origin"] == "*"  # fetched by the worker
        assert (await web.get(base + "../../../pdf_viewer/__init__.py")).status_code == 404
        assert (await web.get(base + "wasm/quickjs-eval.wasm")).status_code == 404  # no scripts
        assert (await web.get("/_carnet/visionneuse/pdfjs/1.0.0/build/pdf.min.mjs")
                ).status_code == 404


def test_pdfjs_is_installed_as_pinned() -> None:
    """`make pdfjs` copied exactly the pinned files (what the browser tests use)."""
    hashes = pdf_viewer.pinned()
    assert {"build/pdf.min.mjs", "build/pdf.worker.min.mjs", "LICENSE"} <= set(hashes)
    assert not any("quickjs" in path or path.endswith(".map") for path in hashes)
    pdf_viewer.check()


def test_a_tampered_pdfjs_file_is_refused(tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    package = tmp_path / "node_modules" / "pdfjs-dist"
    (package / "build").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"version": pdf_viewer.VERSION}))
    (package / "build" / "pdf.min.mjs").write_bytes(b"export const x = 1;")
    manifest = tmp_path / "pins"
    manifest.write_text(f"{pdf_viewer.sri(b'autre chose')}  build/pdf.min.mjs\n")
    monkeypatch.setattr(pdf_viewer, "FILES", ("build/pdf.min.mjs",))
    with pytest.raises(pdf_viewer.AssetsMissing, match="pinned hash"):
        pdf_viewer.collect(tmp_path / "node_modules", tmp_path / "static", manifest)
    (package / "package.json").write_text(json.dumps({"version": "1.0.0"}))
    with pytest.raises(pdf_viewer.AssetsMissing, match="expected"):
        pdf_viewer.collect(tmp_path / "node_modules", tmp_path / "static", manifest)


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
