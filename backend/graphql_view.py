"""The Strawberry ASGI view: builds the per-request context and authenticates websockets."""

from __future__ import annotations

import logging
from typing import Any

from cross_web import HTTPException as StrawberryHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from backend import jsonbody
from backend.context import Context, new_request_id
from backend.errors import BAD_USER_INPUT, UNAVAILABLE_MESSAGE
from backend.kv import KV_UNAVAILABLE_ERRORS
from backend.runtime import Runtime

log = logging.getLogger(__name__)


class CarnetGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: Any, runtime_getter: Any, *, graphiql: bool,
                 allowed_origins: list[str]) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            # Queries may use GET (cacheable, linkable); Strawberry refuses mutations over GET.
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            keep_alive=True,
            keep_alive_interval=15,
            max_subscriptions_per_connection=50,
            allowed_origins=allowed_origins,
            # Uploads (GraphQL multipart request spec). Browsers may send multipart forms
            # cross-site without a preflight (CVE-2024-47082), so every multipart request must
            # carry a header no HTML form can set (see process_result below).
            multipart_uploads_enabled=True,
        )
        self._runtime_getter = runtime_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_multipart_without_preflight(scope):
            response = JSONResponse(
                {"errors": [{"message": "Multipart requests need a GraphQL-Preflight header "
                                        "(CSRF protection).",
                             "extensions": {"code": "CSRF_PREFLIGHT_REQUIRED"}}]},
                status_code=400,
            )
            await response(scope, receive, send)
            return
        if scope["type"] == "http":
            await self._serve_http(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As Strawberry's, plus: close the request's uploaded files when it is done.

        Strawberry never closes its Request, so spooled upload files (up to the size limit
        each) were released only when the garbage collector broke a reference cycle.
        """
        request = Request(scope=scope, receive=receive)
        try:
            try:
                response = await self.run(request)
            except StrawberryHTTPException as exc:
                response = _http_error_response(exc)
            await response(scope, receive, send)
        finally:
            await request.close()

    # --- Request bodies (JSON of POST, GET variables, multipart operations/map, websocket
    # messages): one safe loader, refusing hostile nesting and numbers with a 400. ---

    def decode_json(self, data: str | bytes) -> object:
        return jsonbody.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except jsonbody.UnsafeJSON as exc:
            raise BadRequestBody(str(exc)) from None
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            raise BadRequestBody("Unable to parse request body as JSON.") from None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None
    ) -> Context:
        runtime: Runtime = self._runtime_getter(request)
        request_id = getattr(request.state, "request_id", None) or new_request_id()
        context = Context(
            runtime=runtime,
            request=request,
            response=response if isinstance(response, Response) else None,
            request_id=request_id,
        )
        if isinstance(request, Request):
            context.viewer = await self._authenticate(request, request.headers.get("authorization"))
        return context

    async def _authenticate(self, conn: Request | WebSocket, header: object) -> Any:
        # The identity domain plugs its authenticator in at app creation.
        authenticate = getattr(conn.app.state, "authenticate", None)
        if authenticate is None or not isinstance(header, str):
            return None
        try:
            return await authenticate(self._runtime_getter(conn), header)
        except KV_UNAVAILABLE_ERRORS:
            # Sessions live in Redis: without it nobody can be authenticated. Fail closed
            # with a clear, retryable answer (never as anonymous, never a bare 500).
            log.warning("authentication unavailable: Redis is down")
            raise StrawberryHTTPException(503, UNAVAILABLE_MESSAGE) from None

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate with `{"Authorization": "Bearer <token>"}` in connection_init.

        No credentials: an anonymous connection (public subscriptions only). Credentials that
        do not resolve to a live session: refused (close code 4403). Refusing must RAISE:
        returning a value would still accept the connection.
        """
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if header is None:
            return UNSET
        try:
            viewer = await self._authenticate(context.request, header)
        except StrawberryHTTPException:
            raise ConnectionRejectionError({"message": UNAVAILABLE_MESSAGE}) from None
        if viewer is None:
            raise ConnectionRejectionError({"message": "Invalid or expired session."})
        context.viewer = viewer
        return UNSET


class BadRequestBody(StrawberryHTTPException):
    """A body the client can fix: answered as a GraphQL error with BAD_USER_INPUT."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


def _http_error_response(exc: StrawberryHTTPException) -> Response:
    if isinstance(exc, BadRequestBody):
        return JSONResponse(
            {"errors": [{"message": exc.reason, "extensions": {"code": BAD_USER_INPUT}}]},
            status_code=exc.status_code,
        )
    return PlainTextResponse(exc.reason, status_code=exc.status_code)


_PREFLIGHT_HEADERS = (b"graphql-preflight", b"apollo-require-preflight", b"x-carnet-csrf")


def _is_multipart_without_preflight(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    if not headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
        return False
    return not any(headers.get(name) for name in _PREFLIGHT_HEADERS)
