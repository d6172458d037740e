"""Request body limits enforced while streaming, before anything is parsed."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.i18n import N_, gettext

TOO_LARGE = N_("Requête trop volumineuse (au plus {limit} octets).")


class BodyTooLarge(Exception):
    """Raised from `receive` when a body passes its limit (not ValueError: Strawberry would
    turn that into a 400)."""


class BodySizeLimit:
    """413 at once when Content-Length is too large; otherwise count bytes as they arrive."""

    def __init__(self, app: ASGIApp, *, limit_for: dict[str, int]) -> None:
        self.app = app
        self.limit_for = limit_for  # path prefix -> max bytes

    def _limit(self, path: str) -> int | None:
        for prefix, limit in self.limit_for.items():
            if path.startswith(prefix):
                return limit
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"errors": [{"message": gettext(TOO_LARGE).format(limit=limit),
                                   "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
