"""The one way the web app talks to the Carnet API: GraphQL over HTTP with gql.

Pages declare their documents with `operation()` (parsed once, at import) and run them with
`execute()`, always passing values as variables, never formatted into the document. Whatever
goes wrong (API unreachable, timeout, HTTP error, GraphQL error) comes out as an `ApiError`
whose `message` is French and safe to show as is; the technical detail stays in the logs.

The API address comes from `CARNET_API_URL` (default http://127.0.0.1:8000/graphql). The
bearer token, when there is one, lives in a backend-only state var and is passed per call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Final

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import GraphQLError

log = logging.getLogger("carnet_web.api")
# gql logs every request and answer, values included, at DEBUG: values are health data.
logging.getLogger("gql").setLevel(logging.INFO)

API_URL_ENV: Final = "CARNET_API_URL"
DEFAULT_API_URL: Final = "http://127.0.0.1:8000/graphql"
TIMEOUT_SECONDS: Final = 10.0

UNAVAILABLE_MESSAGE: Final = (
    "Le service est momentanément indisponible. Veuillez réessayer dans quelques instants."
)
UNAUTHENTICATED_MESSAGE: Final = "Votre session a expiré. Veuillez vous reconnecter."
UNEXPECTED_MESSAGE: Final = "Une erreur inattendue est survenue. Veuillez réessayer."

#: Every document declared with `operation()`, so a test can check them all against the schema.
OPERATIONS: list[GraphQLRequest] = []


class ApiError(Exception):
    """The API could not answer as asked. `message` is French and safe to show to the user."""

    def __init__(self, message: str, *, code: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # the API's error code (extensions.code), or NETWORK / HTTP_<status>
        self.detail = detail  # for logs only: may be technical, never shown


class ApiUnavailable(ApiError):
    """Unreachable, too slow, or temporarily failing: retrying later may work."""

    def __init__(self, *, code: str = "SERVICE_UNAVAILABLE", detail: str = "") -> None:
        super().__init__(UNAVAILABLE_MESSAGE, code=code, detail=detail)


class ApiUnauthenticated(ApiError):
    """The call needs a valid session (missing, expired or revoked token)."""

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(UNAUTHENTICATED_MESSAGE, code="UNAUTHENTICATED", detail=detail)


def api_url() -> str:
    return os.environ.get(API_URL_ENV, "").strip() or DEFAULT_API_URL


def operation(source: str) -> GraphQLRequest:
    """Parse a GraphQL document once (a syntax error fails at import) and register it."""
    request = GraphQLRequest(source)
    OPERATIONS.append(request)
    return request


async def execute(
    document: GraphQLRequest,
    variables: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    http_timeout: float = TIMEOUT_SECONDS,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Run one query or mutation and return its `data`; raise `ApiError` on any failure.

    `headers` are extra request headers (the browser's User-Agent and address, forwarded by
    `SessionState`); `url` defaults to `api_url()`; `http_transport` lets tests serve the
    request in-process.
    """
    request_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
    if token:
        request_headers["Authorization"] = f"Bearer {token}"
    transport = HTTPXAsyncTransport(
        url=url or api_url(),
        headers=request_headers or None,
        timeout=http_timeout,
        follow_redirects=False,
        transport=http_transport,
    )
    request = GraphQLRequest(document, variable_values=dict(variables or {}))
    try:
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            return await session.execute(request)
    except TransportQueryError as exc:
        raise _from_graphql_errors(exc.errors or []) from exc
    except TransportServerError as exc:
        status = exc.code or 0
        log.warning("GraphQL API answered HTTP %s", status)
        if status in (401, 403):
            raise ApiUnauthenticated(detail=f"HTTP {status}") from exc
        raise ApiUnavailable(code=f"HTTP_{status}", detail=str(exc)) from exc
    except (TransportConnectionFailed, httpx.HTTPError, OSError) as exc:
        log.warning("GraphQL API unreachable: %s", type(exc).__name__)
        raise ApiUnavailable(code="NETWORK", detail=str(exc)) from exc
    except (TransportError, GraphQLError, ValueError) as exc:
        # Not a GraphQL answer (proxy error page, wrong URL...) or a malformed one.
        log.warning("GraphQL API gave an unusable answer: %s", type(exc).__name__)
        raise ApiUnavailable(code="PROTOCOL", detail=str(exc)) from exc


def _from_graphql_errors(errors: list[Any]) -> ApiError:
    codes = [
        str((error.get("extensions") or {}).get("code", ""))
        for error in errors
        if isinstance(error, dict)
    ]
    detail = "; ".join(
        str(error.get("message", "")) for error in errors if isinstance(error, dict)
    )
    if "UNAUTHENTICATED" in codes:
        return ApiUnauthenticated(detail=detail)
    if "SERVICE_UNAVAILABLE" in codes:
        return ApiUnavailable(detail=detail)
    code = next((c for c in codes if c), "GRAPHQL_ERROR")
    log.warning("GraphQL API returned errors (code %s)", code)
    return ApiError(UNEXPECTED_MESSAGE, code=code, detail=detail)
