"""The Strawberry ASGI view: builds the per-request context and authenticates websockets.

Language: an HTTP request's comes from its Accept-Language (backend/middleware.py); a
websocket's from its handshake's Accept-Language, or from `language` in the connection_init
payload (`{"language": "en"}`, which wins), and applies to each of its operations.

Space: a carer's socket acts in a patient's space with `Carnet-Space` in its connection_init
payload (the header's spelling, any case), resolved by the same function as the header of an
HTTP request (`app.state.in_space`, backend/access/authentication.py `space_caller`) and
re-checked with the session before every operation."""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
from cross_web import HTTPException as StrawberryHTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.unset import UNSET, UnsetType

from backend import jsonbody, live_frames, live_sockets, response_cache
from backend.context import Context, Loaders, new_request_id
from backend.errors import BAD_USER_INPUT, UNAVAILABLE_MESSAGE
from backend.i18n import DEFAULT_LOCALE, N_, gettext, negotiate, use_locale
from backend.kv import KV_UNAVAILABLE_ERRORS
from backend.runtime import Runtime

log = logging.getLogger(__name__)

# Why a websocket operation may not run (see CarnetGraphQL.ws_operation_refusal).
_SESSION_GONE = "session-gone"
_SPACE_GONE = "space-gone"  # the carer's delegation was revoked, ended or changed
_AUTH_UNAVAILABLE = "auth-unavailable"


_SESSION_INVALID = N_("Session invalide ou expirée.")


def _unavailable_error() -> GraphQLError:
    return GraphQLError(gettext(UNAVAILABLE_MESSAGE), extensions={"code": "SERVICE_UNAVAILABLE"})


class _SessionCheckedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, where every operation (query, mutation or subscription) first
    checks that the socket's session is still alive, and a socket leaves the registry of live
    sockets when it ends."""

    view: CarnetGraphQL

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.view.forget_ws_session(self.context)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # Each operation runs in a task of its own: its language is the socket's.
        with use_locale(self.context.locale):
            refusal = await self.view.ws_operation_refusal(self.context)
            if refusal is None:
                fresh_loaders(self.context)
                # Live message subscriptions write their frames themselves (live_frames.py).
                live_frames.current_target.set(live_frames.FrameTarget(
                    self.context.request, operation.id, self.context, legacy=False))
                await super().run_operation(operation)
            elif refusal in (_SESSION_GONE, _SPACE_GONE):
                self.operations.pop(operation.id, None)
                await self.view.close_ws_session(self.context, space=refusal == _SPACE_GONE)
            else:
                await operation.send_initial_errors([_unavailable_error()])


class _SessionCheckedGraphQLWS(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, with the same checks."""

    view: CarnetGraphQL

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.view.forget_ws_session(self.context)

    async def handle_async_results(self, operation_id: str, query: str,
                                   operation_name: str | None,
                                   variables: dict[str, object] | None) -> None:
        with use_locale(self.context.locale):
            await self._handle_async_results(operation_id, query, operation_name, variables)

    async def _handle_async_results(self, operation_id: str, query: str,
                                    operation_name: str | None,
                                    variables: dict[str, object] | None) -> None:
        refusal = await self.view.ws_operation_refusal(self.context)
        if refusal is None:
            fresh_loaders(self.context)
            live_frames.current_target.set(live_frames.FrameTarget(
                self.context.request, operation_id, self.context, legacy=True))
            await super().handle_async_results(operation_id, query, operation_name, variables)
            return
        try:
            if refusal in (_SESSION_GONE, _SPACE_GONE):
                await self.view.close_ws_session(self.context, space=refusal == _SPACE_GONE)
            else:
                await self.send_message({"type": "error", "id": operation_id,
                                         "payload": _unavailable_error().formatted})
        finally:
            self.tasks.pop(operation_id, None)


class CarnetGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: Any, runtime_getter: Any, *, graphiql: bool,
                 allowed_origins: list[str],
                 cache: response_cache.ResponseCache | None = None) -> None:
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
        # Whole answers of the web app's known operations, per patient (response_cache.py).
        self.response_cache = cache

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
            cached = await self._cache_key(request)
            if isinstance(cached, Response):
                await cached(scope, receive, send)
                return
            try:
                response = await self.run(request)
            except StrawberryHTTPException as exc:
                response = _http_error_response(exc)
            if cached is not None:
                self._remember(cached, response)
            await response(scope, receive, send)
        finally:
            await request.close()

    async def _cache_key(self, request: Request) -> Response | tuple[Any, ...] | None:
        """The cached answer of this request, or the key to store its answer under, or None
        when it may not be cached (backend/response_cache.py says which requests may)."""
        cache = self.response_cache
        if cache is None or not cache.enabled or request.scope.get("method") != "POST":
            return None
        session = getattr(request.scope.get("user"), "session", None)
        if (session is None or getattr(session, "role", None) != "patient"
                or getattr(session, "person_id", None) is None):
            return None
        if getattr(session, "app_scopes", None) is not None:
            # An app's token (issue 14): never from the patient's cached screens, whatever
            # query text it sends; its operations go through the scope gate every time.
            return None
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            # orjson (30x faster than jsonbody's safe loader here): it refuses nesting deeper
            # than 1024 and integers beyond 64 bits by itself; the body is already bounded by
            # the size limit. Anything it refuses goes the usual way (Strawberry reports it).
            data = orjson.loads(await request.body())
        except (orjson.JSONDecodeError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            return None
        digest = cache.trusted_hash(data["query"])
        operation_name = data.get("operationName")
        variables = response_cache.canonical_variables(data.get("variables"))
        if digest is None or variables is None or not (
                operation_name is None or isinstance(operation_name, str)):
            return None
        try:
            versions = await response_cache.data_versions(session.person_id)
        except Exception as exc:  # the database is down: GraphQL answers (and masks) it
            log.warning("response cache: version read failed (%s)", type(exc).__name__)
            return None
        locale = request.scope.get("state", {}).get("locale")
        key = (session.account_id, session.person_id, digest, operation_name, variables,
               locale, *versions)
        entry = cache.get(key, session.account_id)
        if entry is None:
            return key
        return Response(entry.body, status_code=200, headers=dict(entry.headers))

    def _remember(self, key: tuple[Any, ...], response: Response) -> None:
        cache = self.response_cache
        body = getattr(response, "body", None)
        if (cache is None or response.status_code != 200 or not isinstance(body, bytes)
                or not body.startswith(b'{"data":')):
            return
        # Errors (an unavailable service, a bad variable) are never kept. Parsed only when the
        # text could hold the key: an answer without the bytes `"errors"` has none.
        if b'"errors"' in body:
            try:
                if "errors" in orjson.loads(body):
                    return
            except orjson.JSONDecodeError:
                return
        headers = tuple((k, v) for k, v in response.headers.items() if k != "content-length")
        cache.put(key, key[0], body, headers)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL with its scripts served by Carnet (/graphiql/assets/), not by a CDN."""
        from backend import graphiql

        return graphiql.page_response()

    # --- Request bodies (JSON of POST, GET variables, multipart operations/map, websocket
    # messages): one safe loader, refusing hostile nesting and numbers with a 400. ---

    def encode_json(self, data: object) -> str:
        """Responses (HTTP and websocket messages) with orjson: the same JSON as Strawberry's
        `json.dumps(data, separators=(",", ":"))`, with non-ASCII characters as UTF-8 rather
        than \\u escapes and exponents written shorter (1e-7 for 1e-07, the same number):
        tests/test_graphql_endpoint.py. A str, since a websocket message
        must be a text frame. What orjson refuses (integers beyond 64 bits, lone surrogates)
        goes through json.dumps, as before."""
        try:
            return orjson.dumps(data).decode()
        except (TypeError, orjson.JSONEncodeError):
            return json.dumps(data, separators=(",", ":"))

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
            # Negotiated by LanguageMiddleware (backend/middleware.py).
            locale=getattr(request.state, "locale", None) or DEFAULT_LOCALE,
        )
        if isinstance(request, Request):
            if "auth" in request.scope:
                # The authentication middleware already resolved this request's session.
                context.viewer = getattr(request.scope.get("user"), "session", None)
            else:
                context.viewer = await self._authenticate(request,
                                                          request.headers.get("authorization"))
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
            raise StrawberryHTTPException(503, gettext(UNAVAILABLE_MESSAGE)) from None

    # --- websockets --------------------------------------------------------------------------
    # A socket authenticates once, in connection_init, but must not outlive its session: every
    # operation re-checks it, and revoking a session closes its sockets in every process
    # (backend/live_sockets.py: an announcement on the broker, and a sweep as a fallback).

    graphql_transport_ws_handler_class = _SessionCheckedTransportWS
    graphql_ws_handler_class = _SessionCheckedGraphQLWS

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate with `{"Authorization": "Bearer <token>"}` in connection_init.

        No credentials: an anonymous connection (public subscriptions only). Credentials that
        do not resolve to a live session: refused (close code 4403). Refusing must RAISE:
        returning a value would still accept the connection.

        `{"Carnet-Space": "<a patient's public id>"}` as well: the socket acts in that space,
        exactly as an HTTP request with that header (a space not granted, or unknown: a caller
        that reaches nothing, accepted alike).

        `{"language": "en"}` in the payload sets the language of the socket's answers (an
        Accept-Language value or a language tag; otherwise the handshake's Accept-Language).
        """
        # The legacy protocol accepts a second connection_init: it starts over.
        self.forget_ws_session(context)
        context.viewer = None
        context.locale = _ws_locale(context)
        with use_locale(context.locale):
            return await self._connect(context)

    async def _connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        header = _ws_authorization(context)
        if header is None:
            return UNSET
        try:
            viewer = await self._authenticate(context.request, header)
        except StrawberryHTTPException:
            raise ConnectionRejectionError({"message": gettext(UNAVAILABLE_MESSAGE)}) from None
        if viewer is None:
            raise ConnectionRejectionError({"message": gettext(_SESSION_INVALID)})
        try:
            viewer = await self._in_space(context, viewer)
        except StrawberryHTTPException:
            raise ConnectionRejectionError({"message": gettext(UNAVAILABLE_MESSAGE)}) from None
        context.viewer = viewer
        registry = _live_sockets(context.request)
        if registry is not None:
            registry.add(viewer.session_id, context.request)
            space_key = _space_key(viewer)
            if space_key is not None:
                registry.add(space_key, context.request, space=True)
        return UNSET

    async def _in_space(self, context: Context, viewer: Any) -> Any:
        """The socket's caller in the space its connection_init names (if any): the same
        function as the Carnet-Space header of an HTTP request."""
        in_space = getattr(context.request.app.state, "in_space", None)
        space = _ws_space(context)
        if in_space is None or space is None:
            return viewer
        try:
            return await in_space(self._runtime_getter(context.request), viewer, space)
        except Exception as exc:  # the database is down: this socket cannot tell its space
            log.warning("websocket space unavailable (%s)", type(exc).__name__)
            raise StrawberryHTTPException(503, gettext(UNAVAILABLE_MESSAGE)) from None

    async def ws_operation_refusal(self, context: Context) -> str | None:
        """Why an operation on this socket may not run now, or None if it may.

        An authenticated socket re-resolves its token, exactly as an HTTP request does (which
        also refreshes the session's idle timer): a session revoked, expired or idle since
        connection_init is gone. Anonymous sockets stay anonymous. A socket in someone else's
        space re-resolves its space the same way: a delegation revoked, ended or replaced
        since connection_init is gone too (the session lives on: only this socket closes).
        """
        viewer = context.viewer
        if viewer is None:
            return None
        try:
            current = await self._authenticate(context.request, _ws_authorization(context))
            if current is not None:
                current = await self._in_space(context, current)
        except StrawberryHTTPException:
            return _AUTH_UNAVAILABLE  # Redis is down: refuse this operation, keep the socket
        if current is None or current.session_id != viewer.session_id:
            return _SESSION_GONE
        if _space_of(current) != _space_of(viewer):
            return _SPACE_GONE
        return None

    async def close_ws_session(self, context: Context, *, space: bool = False) -> None:
        """The socket's session is gone: close this process's sockets of that session. Or
        (`space`) only the delegation it acted under is: close the sockets opened under it."""
        viewer = context.viewer
        registry = _live_sockets(context.request)
        if viewer is not None and registry is not None:
            key = _space_key(viewer) if space else viewer.session_id
            if key is not None:
                await registry.close_session(key)
        await live_sockets.close_socket(context.request, space=space)

    def forget_ws_session(self, context: Context) -> None:
        viewer = context.viewer
        registry = _live_sockets(context.request)
        if viewer is not None and registry is not None:
            registry.discard(viewer.session_id, context.request)
            space_key = _space_key(viewer)
            if space_key is not None:
                registry.discard(space_key, context.request)


def fresh_loaders(context: Context) -> None:
    """A socket has one context for its whole life: give each operation its own DataLoaders,
    as an HTTP request has, so a long-lived socket never answers from a stale cache nor keeps
    every row it ever loaded (a running subscription's next event reads the newest ones)."""
    context.loaders = Loaders()


def _ws_authorization(context: Context) -> object:
    params = context.connection_params or {}
    return params.get("Authorization") or params.get("authorization")


SPACE_PARAM = "carnet-space"  # as the HTTP header, any case: {"Carnet-Space": "<public id>"}


def _ws_space(context: Context) -> str | None:
    """The space connection_init names, or None (the caller's own)."""
    params = context.connection_params
    if not isinstance(params, dict):
        return None
    for key, value in params.items():
        if isinstance(key, str) and key.lower() == SPACE_PARAM:
            if value is None:
                return None
            # Not a string: a space that exists nowhere (reaches nothing, like an unknown id).
            return value if isinstance(value, str) else "-"
    return None


def _space_of(viewer: Any) -> tuple[object, object] | None:
    """Which delegation a caller acts under (None: its own space)."""
    grant = getattr(viewer, "carer_grant_id", None)
    return None if grant is None else (grant, viewer.person_id)


def _space_key(viewer: Any) -> str | None:
    """The live sockets' name of the caller's delegation (a carer in a space), or None."""
    key = getattr(viewer, "space_socket_key", None)
    return key if isinstance(key, str) else None


def _ws_locale(context: Context) -> str:
    """The socket's language: connection_init's `language`, else the handshake's."""
    params = context.connection_params or {}
    chosen = params.get("language") if isinstance(params, dict) else None
    if isinstance(chosen, str) and chosen.strip():
        return negotiate(chosen[:200])
    return getattr(context.request.state, "locale", None) or DEFAULT_LOCALE


def _live_sockets(conn: Request | WebSocket) -> live_sockets.LiveSockets | None:
    return getattr(conn.app.state, "live_sockets", None)


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
