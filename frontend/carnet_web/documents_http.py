"""Plain HTTP for documents, added to the Reflex backend (see `carnet_web.carnet_web`).

Downloads. The browser does not hold the API token (it stays in a backend-only state var), so
it cannot fetch `GET <API>/documents/<id>/content` itself. Instead, "Télécharger" runs an event
handler that, holding the token, issues a one-time ticket (random, valid `TICKET_TTL_SECONDS`,
usable once) and has the browser fetch `<Reflex backend>/_carnet/telechargement/<ticket>` (in a
hidden iframe: see `download_script`).
This route redeems the ticket and streams the API's answer through, bytes and
Content-Disposition unchanged: nothing is buffered whole, and the token never leaves the server.

Tickets live in this process's memory: right for the deployment as it is (one Reflex backend
process: without Redis, Reflex runs a single worker). Several workers would need a shared store.

Uploads. Reflex's own upload endpoint (`/_upload`, where `rx.upload` sends the file before the
event handler forwards it to the API) accepts any size by default; `UploadSizeLimit` answers
413 beyond `MAX_UPLOAD_BODY_BYTES`, as the API would.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carnet_web import api

log = logging.getLogger("carnet_web.documents_http")

DOWNLOAD_PREFIX: Final = "/_carnet/telechargement"
TICKET_TTL_SECONDS: Final = 60.0
MAX_TICKETS: Final = 10_000
_TICKET_BYTES: Final = 32

#: The largest document the API accepts (its default MAX_UPLOAD_BYTES).
MAX_DOCUMENT_BYTES: Final = 20 * 1024 * 1024
#: Room for the multipart envelope around the file.
MAX_UPLOAD_BODY_BYTES: Final = MAX_DOCUMENT_BYTES + 1024 * 1024

# A document is data to save, never a page to render in Carnet's origin (as the API says).
CONTENT_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
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


class TicketStore:
    """One-time download tickets, in memory. Each expires after `ttl` seconds and works once."""

    def __init__(self, *, ttl: float = TICKET_TTL_SECONDS, max_size: int = MAX_TICKETS) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()

    def issue(self, *, token: str, path: str, headers: Mapping[str, str] | None = None) -> str:
        self._drop_expired()
        while len(self._tickets) >= self.max_size:
            self._tickets.popitem(last=False)  # the oldest goes first
        ticket = secrets.token_urlsafe(_TICKET_BYTES)
        self._tickets[ticket] = Ticket(token, path, dict(headers or {}),
                                       time.monotonic() + self.ttl)
        return ticket

    def redeem(self, ticket: str) -> Ticket | None:
        """The ticket's content, once; None if unknown, used or expired."""
        found = self._tickets.pop(ticket, None)
        if found is None or found.expires_at < time.monotonic():
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


_FAILURE_PAGE: Final = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Téléchargement impossible · Carnet</title>
</head><body><h1>Téléchargement impossible</h1><p>{message}</p>
<p>Revenez à l'onglet de Carnet et cliquez à nouveau sur « Télécharger ».</p></body></html>
"""
EXPIRED_LINK: Final = "Ce lien de téléchargement a expiré ou a déjà servi."


def _failure(message: str, status: int) -> Response:
    # Fixed French texts only: nothing from the request is echoed.
    return HTMLResponse(_FAILURE_PAGE.format(message=message), status_code=status,
                        headers={**CONTENT_HEADERS,
                                 "Content-Security-Policy": "default-src 'none'"})


async def download(request: Request) -> Response:
    """GET /_carnet/telechargement/<ticket>: the document, streamed from the API."""
    ticket = TICKETS.redeem(request.path_params["ticket"])
    if ticket is None:
        return _failure(EXPIRED_LINK, 404)
    try:
        upstream = await api.open_download(ticket.path, token=ticket.token,
                                           headers=ticket.headers)
    except api.ApiError as exc:
        log.warning("download: the API did not serve the document (%s)", exc.code)
        return _failure(exc.message, 404 if isinstance(exc, api.DocumentUnavailable) else 502)
    headers = {**CONTENT_HEADERS, "Content-Disposition": upstream.content_disposition}
    if upstream.content_length is not None:
        headers["Content-Length"] = str(upstream.content_length)
    return StreamingResponse(upstream.chunks(), media_type=upstream.content_type,
                             headers=headers)


def routes_app() -> Starlette:
    """The routes to mount in front of Reflex's own (`rx.App(api_transformer=...)`)."""
    return Starlette(routes=[
        Route(DOWNLOAD_PREFIX + "/{ticket:str}", download, methods=["GET"]),
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
