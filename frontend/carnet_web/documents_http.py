"""Plain HTTP for documents, added to the Reflex backend (see `carnet_web.carnet_web`).

Downloads. The browser does not hold the API token (it stays in a backend-only state var), so
it cannot fetch `GET <API>/documents/<id>/content` itself. Instead, "Télécharger" runs an event
handler that, holding the token, issues a one-time ticket (random, valid `TICKET_TTL_SECONDS`,
usable once) and has the browser fetch `<Reflex backend>/_carnet/telechargement/<ticket>` (in a
hidden iframe: see `download_script`).
This route redeems the ticket and streams the API's answer through, bytes and
Content-Disposition unchanged: nothing is buffered whole, and the token never leaves the server.

Viewing. The document page (pages/document_view.py) shows PDFs and raster images inside Carnet:
its state issues an *inline* ticket, for `/_carnet/affichage/<ticket>`, which streams the same
bytes with `Content-Disposition: inline`, but only for the types in `INLINE_TYPES` (PDF, PNG,
JPEG, GIF, WebP: anything else, SVG and HTML included, is only ever a download), under a CSP that
lets nothing run (`INLINE_HEADERS`). An image is shown by an `<img>` of that URL; a PDF's bytes
are fetched by the page and posted to the sandboxed pdf.js viewer (`carnet_web.pdf_viewer`),
whose page, script and pdf.js files are served here too, under `/_carnet/visionneuse/`. A ticket
works on the route of its kind only.

Tickets live in this process's memory: right for the deployment as it is (one Reflex backend
process: without Redis, Reflex runs a single worker). Several workers would need a shared store.

Uploads. Reflex's own upload endpoint (`/_upload`, where `rx.upload` sends the file before the
event handler forwards it to the API) accepts any size by default; `UploadSizeLimit` answers
413 beyond `MAX_UPLOAD_BODY_BYTES`, as the API would.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carnet_web import api, pdf_viewer
from carnet_web.i18n import DEFAULT_LANGUAGE, N_, gettext, normalise

log = logging.getLogger("carnet_web.documents_http")

DOWNLOAD_PREFIX: Final = "/_carnet/telechargement"
INLINE_PREFIX: Final = "/_carnet/affichage"
VIEWER_PREFIX: Final = pdf_viewer.URL_PREFIX
TICKET_TTL_SECONDS: Final = 60.0
MAX_TICKETS: Final = 10_000
_TICKET_BYTES: Final = 32

#: What a ticket opens: the document as an attachment, or shown in the browser.
DOWNLOAD: Final = "download"
INLINE: Final = "inline"

#: The largest document the API accepts (its default MAX_UPLOAD_BYTES).
MAX_DOCUMENT_BYTES: Final = 20 * 1024 * 1024
#: Room for the multipart envelope around the file.
MAX_UPLOAD_BODY_BYTES: Final = MAX_DOCUMENT_BYTES + 1024 * 1024

#: The only types shown in the browser (exactly as the API sends them): PDF, for the pdf.js
#: viewer, and raster images, for an <img>. Nothing that can carry script (SVG, HTML, XML).
INLINE_TYPES: Final = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif",
                                 "image/webp"})
PDF_TYPE: Final = "application/pdf"

# A document is data to save, never a page to render in Carnet's origin (as the API says).
CONTENT_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Shown inline: still nothing may run, even if the file is opened on its own. An image may be
# drawn (the browser's own image page loads it again), nothing else; no page may frame it.
# `same-site`: in development the page (Vite) and this backend differ by their port only.
INLINE_HEADERS: Final = {
    **CONTENT_HEADERS,
    "Content-Security-Policy": ("sandbox; default-src 'none'; img-src 'self'; "
                                "style-src 'unsafe-inline'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"),
    "Cross-Origin-Resource-Policy": "same-site",
}

# Browsers reach a backend announced on one of these through the page's own host name (what
# Reflex's getBackendURL does in the browser).
_SAME_DOMAIN_HOSTNAMES: Final = ("localhost", "0.0.0.0", "::", "0:0:0:0:0:0:0:0")


@dataclass(frozen=True)
class Ticket:
    token: str  # the API session token of the tab that asked
    path: str  # the document's downloadUrl on the API, e.g. /documents/<id>/content
    headers: Mapping[str, str] = field(default_factory=dict)  # forwarded User-Agent, address
    expires_at: float = 0.0  # time.monotonic()
    kind: str = DOWNLOAD  # DOWNLOAD or INLINE: the route it works on
    lang: str = DEFAULT_LANGUAGE  # the tab's language, for the failure page


class TicketStore:
    """One-time download tickets, in memory. Each expires after `ttl` seconds and works once."""

    def __init__(self, *, ttl: float = TICKET_TTL_SECONDS, max_size: int = MAX_TICKETS) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()

    def issue(self, *, token: str, path: str, headers: Mapping[str, str] | None = None,
              kind: str = DOWNLOAD, lang: str = DEFAULT_LANGUAGE) -> str:
        if kind not in (DOWNLOAD, INLINE):
            raise ValueError(f"unknown ticket kind {kind!r}")
        self._drop_expired()
        while len(self._tickets) >= self.max_size:
            self._tickets.popitem(last=False)  # the oldest goes first
        ticket = secrets.token_urlsafe(_TICKET_BYTES)
        self._tickets[ticket] = Ticket(token, path, dict(headers or {}),
                                       time.monotonic() + self.ttl, kind, normalise(lang))
        return ticket

    def redeem(self, ticket: str, kind: str = DOWNLOAD) -> Ticket | None:
        """The ticket's content, once; None if unknown, used, expired or of another kind (it
        is spent all the same: a ticket is tried once)."""
        found = self._tickets.pop(ticket, None)
        if found is None or found.expires_at < time.monotonic() or found.kind != kind:
            return None
        return found

    def __len__(self) -> int:
        return len(self._tickets)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [key for key, value in self._tickets.items() if value.expires_at < now]:
            del self._tickets[key]


TICKETS: Final = TicketStore()


def backend_base_url(announced: str, page_origin: str = "") -> str:
    """Where the browser reaches the Reflex backend: `announced` is Reflex's `api_url` (what the
    browser's env.json says); a localhost-like host there is replaced by the page's own host
    name, and https pages use https on the default port, as Reflex's getBackendURL does."""
    parts = urlsplit(announced.rstrip("/"))
    page = urlsplit(page_origin) if page_origin else None
    if page is None or not page.hostname or parts.hostname not in _SAME_DOMAIN_HOSTNAMES:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    host = page.hostname if ":" not in page.hostname else f"[{page.hostname}]"
    if page.scheme == "https":
        return urlunsplit(("https", host, parts.path, "", ""))
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def download_url(base_url: str, ticket: str) -> str:
    return f"{base_url.rstrip('/')}{DOWNLOAD_PREFIX}/{ticket}"


def inline_url(base_url: str, ticket: str) -> str:
    return f"{base_url.rstrip('/')}{INLINE_PREFIX}/{ticket}"


def viewer_url(base_url: str, lang: str) -> str:
    """The pdf.js viewer's page, in `lang` (for the sandboxed iframe's src)."""
    return f"{base_url.rstrip('/')}{VIEWER_PREFIX}/?lang={normalise(lang)}"


def is_inline(content_type: str) -> bool:
    """Whether a document of this type (as the API gives it) may be shown in the browser."""
    return content_type.strip().lower() in INLINE_TYPES


def download_script(url: str) -> str:
    """JavaScript that fetches `url` in a hidden iframe, so the browser saves the attachment
    while the page itself never navigates: navigating, even to a download, fires
    `beforeunload`, on which Reflex drops the tab's websocket (then reconnects and reloads the
    page state). Removed after a while; a download already started goes on."""
    return (
        "(() => { const frame = document.createElement('iframe'); frame.hidden = true; "
        f"frame.src = {json.dumps(url)}; document.body.appendChild(frame); "
        "setTimeout(() => frame.remove(), 120000); })()"
    )


#: The id of the viewer's iframe on the document page.
VIEWER_FRAME_ID: Final = "document-viewer-frame"


def pdf_script(url: str, frame_id: str = VIEWER_FRAME_ID) -> str:
    """JavaScript for the document page: fetch the PDF's bytes from `url` (an inline ticket's;
    the browser gets only those bytes) and post them to the sandboxed viewer in `frame_id`
    whenever it says it is ready (it may load before or after the bytes arrive), or tell it
    the document could not be fetched. The viewer's origin is opaque, so the message goes to
    "*", but only to that frame's window; messages from any other window are ignored. A
    previous document page's listener is removed first."""
    return (
        "(() => {"
        f" const url = {json.dumps(url)}; const frameId = {json.dumps(frame_id)};"
        " if (window.__carnetViewer) window.__carnetViewer.stop();"
        " let outcome = null;"
        " const target = () => { const frame = document.getElementById(frameId);"
        "   return frame && frame.contentWindow; };"
        " const deliver = (win) => { if (!win || outcome === null) return;"
        "   if (outcome instanceof ArrayBuffer)"
        "     win.postMessage({carnet: 'document', data: outcome}, '*');"
        "   else win.postMessage({carnet: 'failed'}, '*'); };"
        " const listen = (event) => { const win = target();"
        "   if (!win || event.source !== win || !event.data"
        "       || event.data.carnet !== 'viewer-ready') return;"
        "   deliver(win); };"
        " window.addEventListener('message', listen);"
        " window.__carnetViewer = {stop: () => window.removeEventListener('message', listen)};"
        " fetch(url, {credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer'})"
        "   .then((r) => { if (!r.ok) throw new Error(String(r.status));"
        "     return r.arrayBuffer(); })"
        "   .then((bytes) => { outcome = bytes; }, () => { outcome = false; })"
        "   .then(() => { const win = target();"
        "     if (win) win.postMessage({carnet: 'viewer-ping'}, '*'); });"
        " })()"
    )


# --- failure pages ------------------------------------------------------------------------

_FAILURE_PAGE: Final = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} · Carnet</title>
</head><body><h1>{title}</h1><p>{message}</p>
<p>{hint}</p></body></html>
"""
DOWNLOAD_FAILED: Final = N_("Téléchargement impossible")
DOWNLOAD_HINT: Final = N_(
    "Revenez à l'onglet de Carnet et cliquez à nouveau sur « Télécharger ».")
EXPIRED_LINK: Final = N_("Ce lien de téléchargement a expiré ou a déjà servi.")
NOT_VIEWABLE: Final = N_(
    "Ce type de document ne peut pas être affiché dans le navigateur : téléchargez-le.")


def _language(request: Request, ticket: Ticket | None) -> str:
    if ticket is not None:
        return ticket.lang
    return normalise(request.headers.get("accept-language"))


def _failure(message: str, status: int, lang: str) -> Response:
    # Fixed texts only (from the catalogue): nothing from the request is echoed.
    page = _FAILURE_PAGE.format(
        lang=normalise(lang), title=html.escape(gettext(lang, DOWNLOAD_FAILED), quote=False),
        message=html.escape(gettext(lang, message), quote=False),
        hint=html.escape(gettext(lang, DOWNLOAD_HINT), quote=False))
    headers = {**CONTENT_HEADERS, "Content-Security-Policy": "default-src 'none'"}
    return HTMLResponse(page, status_code=status, headers=headers)


async def _open(request: Request, kind: str) -> tuple[Ticket | None, api.Download | Response]:
    """The upstream document of the ticket in the path, or the failure page to answer."""
    ticket = TICKETS.redeem(request.path_params["ticket"], kind)
    if ticket is None:
        return None, _failure(EXPIRED_LINK, 404, _language(request, None))
    try:
        return ticket, await api.open_download(ticket.path, token=ticket.token,
                                               headers=ticket.headers)
    except api.ApiError as exc:
        log.warning("%s: the API did not serve the document (%s)", kind, exc.code)
        status = 404 if isinstance(exc, api.DocumentUnavailable) else 502
        return ticket, _failure(exc.message, status, ticket.lang)


async def download(request: Request) -> Response:
    """GET /_carnet/telechargement/<ticket>: the document, streamed from the API."""
    _, upstream = await _open(request, DOWNLOAD)
    if isinstance(upstream, Response):
        return upstream
    headers = {**CONTENT_HEADERS, "Content-Disposition": upstream.content_disposition}
    if upstream.content_length is not None:
        headers["Content-Length"] = str(upstream.content_length)
    return StreamingResponse(upstream.chunks(), media_type=upstream.content_type,
                             headers=headers)


def inline_disposition(filename: str) -> str:
    """RFC 6266 `inline`, with an ASCII fallback and the UTF-8 name (as the API writes it)."""
    name = "".join(c for c in filename if c.isprintable()) or "document"
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def show(request: Request) -> Response:
    """GET /_carnet/affichage/<ticket>: a PDF or a raster image, streamed from the API to be
    shown in the browser (`INLINE_HEADERS`). Any other type is refused: download it."""
    ticket, upstream = await _open(request, INLINE)
    if isinstance(upstream, Response):
        return upstream
    assert ticket is not None
    if not is_inline(upstream.content_type):
        await upstream.aclose()
        return _failure(NOT_VIEWABLE, 415, ticket.lang)
    headers = {**INLINE_HEADERS, "Content-Disposition": inline_disposition(upstream.filename)}
    if upstream.content_length is not None:
        headers["Content-Length"] = str(upstream.content_length)
    return StreamingResponse(upstream.chunks(), headers={
        **headers, "Content-Type": upstream.content_type.strip().lower()})


# --- the PDF viewer -----------------------------------------------------------------------

#: The viewer's texts (its page is built here, in the tab's language).
VIEWER_LABELS: Final = {
    "title": N_("Visionneuse de document"),
    "toolbar": N_("Pages et zoom"),
    "previous": N_("Page précédente"),
    "next": N_("Page suivante"),
    "zoom_out": N_("Zoom arrière"),
    "zoom_in": N_("Zoom avant"),
    "fit_width": N_("Ajuster à la largeur"),
    "loading": N_("Chargement du document…"),
    "region": N_("Page du document"),
}
#: Texts the viewer's script shows (given to it as JSON).
VIEWER_SCRIPT_LABELS: Final = {
    "page": N_("Page {page} sur {pages}"),
    "failed": N_("Ce document ne peut pas être affiché ici. Utilisez « Télécharger » pour "
                 "l'ouvrir sur votre appareil."),
    "password": N_("Ce PDF est protégé par un mot de passe : il ne peut pas être affiché ici. "
                   "Utilisez « Télécharger » pour l'ouvrir sur votre appareil."),
}
VIEWER_CSP: Final = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src blob:; "
    "connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; font-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; sandbox allow-scripts"
)
_VIEWER_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The viewer runs in an opaque origin: its module scripts and pdf.js's data are CORS
    # requests from the origin `null`.
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


def viewer_page_html(lang: str) -> str:
    lang = normalise(lang)
    values = {key: html.escape(gettext(lang, text)) for key, text in VIEWER_LABELS.items()}
    labels = json.dumps({key: gettext(lang, text) for key, text in VIEWER_SCRIPT_LABELS.items()},
                        ensure_ascii=False).replace("<", "\\u003c")
    page = pdf_viewer.viewer_file("viewer.html").decode()
    for key, value in {**values, "lang": lang, "labels": labels, "prefix": VIEWER_PREFIX,
                       "pdfjs": f"{VIEWER_PREFIX}/{pdf_viewer.PDFJS_PATH}/"}.items():
        page = page.replace("{{ " + key + " }}", value)
    return page


async def viewer_page(request: Request) -> Response:
    """GET /_carnet/visionneuse/?lang=fr: the viewer's page, for the sandboxed iframe."""
    page = viewer_page_html(request.query_params.get("lang", ""))
    return HTMLResponse(page, headers={**_VIEWER_HEADERS, "Content-Security-Policy": VIEWER_CSP,
                                       "Cache-Control": "no-cache"})


async def viewer_file(request: Request) -> Response:
    """GET /_carnet/visionneuse/viewer.js|viewer.css: the viewer's own script and style."""
    name = request.path_params["name"]
    media_type = pdf_viewer.VIEWER_FILES.get(name)
    if media_type is None:
        return PlainTextResponse("Not found.", status_code=404, headers=_VIEWER_HEADERS)
    return Response(pdf_viewer.viewer_file(name), media_type=media_type,
                    headers={**_VIEWER_HEADERS, "Cache-Control": "no-cache"})


async def pdfjs_file(request: Request) -> Response:
    """GET /_carnet/visionneuse/pdfjs/<version>/<path>: one of pdf.js's pinned files."""
    path = request.path_params["path"]
    if request.path_params["version"] != pdf_viewer.VERSION:
        return PlainTextResponse("Not found.", status_code=404, headers=_VIEWER_HEADERS)
    try:
        data = pdf_viewer.asset(path)
    except KeyError:
        return PlainTextResponse("Not found.", status_code=404, headers=_VIEWER_HEADERS)
    except pdf_viewer.AssetsMissing as exc:
        log.error("pdf.js: %s", exc)
        return PlainTextResponse(f"The PDF viewer is not installed: {pdf_viewer.INSTALL_HINT}.",
                                 status_code=503, headers=_VIEWER_HEADERS)
    return Response(data, media_type=pdf_viewer.media_type(path), headers={
        **_VIEWER_HEADERS,
        # The path carries the version and the content is pinned by hash: never changes.
        "Cache-Control": "public, max-age=31536000, immutable",
    })


def routes_app() -> Starlette:
    """The routes to mount in front of Reflex's own (`rx.App(api_transformer=...)`)."""
    return Starlette(routes=[
        Route(DOWNLOAD_PREFIX + "/{ticket:str}", download, methods=["GET"]),
        Route(INLINE_PREFIX + "/{ticket:str}", show, methods=["GET"]),
        Route(VIEWER_PREFIX + "/", viewer_page, methods=["GET"]),
        Route(VIEWER_PREFIX + "/pdfjs/{version:str}/{path:path}", pdfjs_file, methods=["GET"]),
        Route(VIEWER_PREFIX + "/{name:str}", viewer_file, methods=["GET"]),
    ])


class UploadSizeLimit:
    """ASGI middleware: 413 for a body to `path` larger than `limit` bytes, at once when
    Content-Length says so, otherwise as soon as the bytes received pass it (the app then sees
    the client go away, and whatever it answers is replaced by the 413)."""

    def __init__(self, app: ASGIApp, *, path: str = "/_upload",
                 limit: int = MAX_UPLOAD_BODY_BYTES) -> None:
        self.app = app
        self.path = path
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.path):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _too_large(send)
            return
        seen = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if exceeded:
                if not answered:
                    answered = True
                    await _too_large(send)
                return  # the app's own answer is dropped
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            log.info("upload refused: body over %d bytes", self.limit)
        if exceeded and not answered:
            await _too_large(send)


async def _too_large(send: Send) -> None:
    body = b'{"detail":"Fichier trop volumineux."}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
