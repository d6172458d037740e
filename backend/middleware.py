"""Small pure-ASGI middlewares: request ids, baseline security headers, the request's language."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.context import new_request_id
from backend.i18n import negotiate, use_locale

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class RequestIdMiddleware:
    """Tags every request with an id (echoed as X-Request-ID) used in logs and masked errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LanguageMiddleware:
    """The language of every request: its `Accept-Language` negotiated among the API's
    languages (French when absent or unsupported), set as the current locale for everything the
    request runs (backend/i18n.py), kept in `scope["state"]["locale"]`, and answered as
    `Content-Language` (on HTTP responses and websocket handshakes, unless the endpoint set
    its own), with `Vary: Accept-Language` for caches. A websocket's operations may choose
    another language (backend/graphql_view.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"accept-language", b"")
        locale = negotiate(header.decode("latin-1"))
        scope.setdefault("state", {})["locale"] = locale
        content_language = (b"content-language", locale.encode())

        async def send_with_language(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = list(message.get("headers") or [])
                if not any(name.lower() == b"content-language" for name, _ in headers):
                    headers.append(content_language)
                if message["type"] == "http.response.start":
                    headers = _vary_on_language(headers)
                message["headers"] = headers
            await send(message)

        with use_locale(locale):
            await self.app(scope, receive, send_with_language)


def _vary_on_language(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            if b"accept-language" not in value.lower() and value.strip() != b"*":
                headers[index] = (name, value + b", Accept-Language")
            return headers
    return [*headers, (b"vary", b"Accept-Language")]
