"""The one way the web app talks to the Carnet API: GraphQL over HTTP with gql.

Pages declare their documents with `operation()` (parsed once, at import) and run them with
`execute()`, always passing values as variables, never formatted into the document. Whatever
goes wrong (API unreachable, timeout, HTTP error, GraphQL error) comes out as an `ApiError`
whose `message` is French and safe to show as is; the technical detail stays in the logs.

The API address comes from `CARNET_API_URL` (default http://127.0.0.1:8000/graphql). The
bearer token, when there is one, lives in a backend-only state var and is passed per call.

Besides `execute()`: `upload()` sends a GraphQL multipart request (one file, streamed from the
file object given) and `open_download()` streams a document's bytes from the API's plain HTTP
download endpoint. Both run only in the Reflex backend: the token never reaches the browser.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.file_upload import FileVar
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import GraphQLError

from carnet_web.i18n import N_

log = logging.getLogger("carnet_web.api")
# gql logs every request and answer, values included, at DEBUG: values are health data.
logging.getLogger("gql").setLevel(logging.INFO)

API_URL_ENV: Final = "CARNET_API_URL"
DEFAULT_API_URL: Final = "http://127.0.0.1:8000/graphql"
TIMEOUT_SECONDS: Final = 10.0
# An upload forwards up to 20 MB, which the API then encrypts and stores: allow for that.
UPLOAD_TIMEOUT_SECONDS: Final = 120.0
DOWNLOAD_TIMEOUT_SECONDS: Final = 30.0  # between two chunks, not for the whole file
# Multipart requests must carry a header no HTML form can set (the API's CSRF protection).
PREFLIGHT_HEADERS: Final = {"GraphQL-Preflight": "1"}

UNAVAILABLE_MESSAGE: Final = N_(
    "Le service est momentanément indisponible. Veuillez réessayer dans quelques instants."
)
UNAUTHENTICATED_MESSAGE: Final = N_("Votre session a expiré. Veuillez vous reconnecter.")
UNEXPECTED_MESSAGE: Final = N_("Une erreur inattendue est survenue. Veuillez réessayer.")
PAYLOAD_TOO_LARGE_MESSAGE: Final = N_("Ce fichier est trop volumineux pour être envoyé.")
# The API's answer to a carer acting in a patient's space (`Carnet-Space`) for a part of it they
# were not given, or for an account's own page (messaging, account, sessions...).
OUT_OF_SPACE_MESSAGE: Final = N_(
    "Cette page ne fait pas partie de ce qui vous a été confié dans cet espace. Revenez à "
    "« Mon espace » pour la consulter."
)
DOCUMENT_UNAVAILABLE_MESSAGE: Final = N_(
    "Ce document n'est plus disponible : il a peut-être été supprimé."
)

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
        super().__init__(UNAUTHENTICATED_MESSAGE, code="NOT_AUTHENTICATED", detail=detail)


class ApiPayloadTooLarge(ApiError):
    """The API refused the request body as too large (HTTP 413), before reading the file."""

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(PAYLOAD_TOO_LARGE_MESSAGE, code="PAYLOAD_TOO_LARGE", detail=detail)


class DocumentUnavailable(ApiError):
    """The download endpoint has no such document for this session (missing, deleted, someone
    else's: the API answers all alike)."""

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(DOCUMENT_UNAVAILABLE_MESSAGE, code="NOT_FOUND", detail=detail)


def api_url() -> str:
    return os.environ.get(API_URL_ENV, "").strip() or DEFAULT_API_URL


def api_base_url(url: str | None = None) -> str:
    """The API's root, for its plain HTTP endpoints: 'http://h:8000/graphql' -> 'http://h:8000'."""
    parts = urlsplit(url or api_url())
    path = parts.path.rstrip("/")
    if path.endswith("/graphql"):
        path = path[: -len("/graphql")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


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
    return await _run(
        GraphQLRequest(document, variable_values=dict(variables or {})),
        token=token, headers=headers, url=url, http_timeout=http_timeout,
        http_transport=http_transport,
    )


async def upload(
    document: GraphQLRequest,
    variables: Mapping[str, Any],
    *,
    file_variable: str,
    filename: str,
    content: IO[bytes],
    content_type: str | None = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    http_timeout: float = UPLOAD_TIMEOUT_SECONDS,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Run a mutation taking one file, as a GraphQL multipart request; return its `data`.

    The file goes in `variables[file_variable]` (form fields `operations` and `map`, then file
    part "0"). `content` is read in chunks while sending, never whole into memory. The request
    carries the `GraphQL-Preflight` header the API requires on multipart requests. Raises
    `ApiError` like `execute()`, and `ApiPayloadTooLarge` when the API refuses the size.
    """
    values = dict(variables)
    values[file_variable] = FileVar(content, filename=filename, content_type=content_type)
    return await _run(
        GraphQLRequest(document, variable_values=values),
        token=token, headers={**(headers or {}), **PREFLIGHT_HEADERS}, url=url,
        http_timeout=http_timeout, http_transport=http_transport, upload_files=True,
    )


async def _run(
    request: GraphQLRequest,
    *,
    token: str | None,
    headers: Mapping[str, str] | None,
    url: str | None,
    http_timeout: float,
    http_transport: httpx.AsyncBaseTransport | None,
    upload_files: bool = False,
) -> dict[str, Any]:
    transport = HTTPXAsyncTransport(
        url=url or api_url(),
        headers=_request_headers(token, headers) or None,
        timeout=http_timeout,
        follow_redirects=False,
        transport=http_transport,
    )
    try:
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            return await session.execute(request, upload_files=upload_files)
    except TransportQueryError as exc:
        raise _from_graphql_errors(exc.errors or []) from exc
    except TransportServerError as exc:
        status = exc.code or 0
        log.warning("GraphQL API answered HTTP %s", status)
        if status in (401, 403):
            raise ApiUnauthenticated(detail=f"HTTP {status}") from exc
        if status == 413:
            raise ApiPayloadTooLarge(detail=str(exc)) from exc
        raise ApiUnavailable(code=f"HTTP_{status}", detail=str(exc)) from exc
    except (TransportConnectionFailed, httpx.HTTPError, OSError) as exc:
        log.warning("GraphQL API unreachable: %s", type(exc).__name__)
        raise ApiUnavailable(code="NETWORK", detail=str(exc)) from exc
    except (TransportError, GraphQLError, ValueError) as exc:
        # Not a GraphQL answer (proxy error page, wrong URL...) or a malformed one.
        log.warning("GraphQL API gave an unusable answer: %s", type(exc).__name__)
        raise ApiUnavailable(code="PROTOCOL", detail=str(exc)) from exc


def _request_headers(token: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    """Extra headers, minus any Authorization, plus ours when there is a token."""
    request_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
    if token:
        request_headers["Authorization"] = f"Bearer {token}"
    return request_headers


# --- downloads ---------------------------------------------------------------------------


@dataclass
class Download:
    """A document being downloaded from the API: its headers are in, its bytes stream from
    `chunks()`. Always `aclose()` it (or use `async with`)."""

    content_type: str
    content_disposition: str  # as the API sent it (RFC 6266, ASCII fallback + filename*)
    content_length: int | None
    _response: httpx.Response
    _client: httpx.AsyncClient

    @property
    def filename(self) -> str:
        """The file name the API suggests (its UTF-8 `filename*` if any), or ''."""
        return disposition_filename(self.content_disposition)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The document's bytes (decoded if the API ever compressed them on the wire)."""
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        finally:
            await self.aclose()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def aclose(self) -> None:
        await self._response.aclose()
        await self._client.aclose()

    async def __aenter__(self) -> Download:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def open_download(
    path: str,
    *,
    token: str,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    http_timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> Download:
    """GET `path` (e.g. a document's `downloadUrl`, '/documents/<id>/content') from the API
    with the bearer token, and return once the answer's headers are in.

    Raises `ApiUnauthenticated` (401/403), `DocumentUnavailable` (404), `ApiUnavailable`
    (unreachable, other statuses).
    """
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError("path must be absolute on the API, e.g. /documents/<id>/content")
    target = api_base_url(url) + path
    client = httpx.AsyncClient(timeout=http_timeout, follow_redirects=False,
                               transport=http_transport)
    try:
        request = client.build_request("GET", target, headers=_request_headers(token, headers))
        response = await client.send(request, stream=True)
    except (httpx.HTTPError, OSError) as exc:
        await client.aclose()
        log.warning("download: API unreachable: %s", type(exc).__name__)
        raise ApiUnavailable(code="NETWORK", detail=str(exc)) from exc
    status = response.status_code
    if status == 200:
        length = response.headers.get("content-length", "")
        if response.headers.get("content-encoding", "identity") != "identity":
            length = ""  # the decoded bytes are not what Content-Length counted
        return Download(
            content_type=response.headers.get("content-type", "application/octet-stream"),
            content_disposition=response.headers.get("content-disposition", "attachment"),
            content_length=int(length) if length.isdigit() else None,
            _response=response,
            _client=client,
        )
    await response.aclose()
    await client.aclose()
    log.warning("download: API answered HTTP %s", status)
    if status in (401, 403):
        raise ApiUnauthenticated(detail=f"HTTP {status}")
    if status == 404:
        raise DocumentUnavailable(detail="HTTP 404")
    raise ApiUnavailable(code=f"HTTP_{status}", detail=f"HTTP {status}")


def disposition_filename(header: str) -> str:
    """The file name in a Content-Disposition header: `filename*` (RFC 5987, UTF-8) first,
    then `filename`; '' if none."""
    fallback = ""
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        name = name.strip().lower()
        if name == "filename*" and "''" in value:
            charset, _, encoded = value.partition("''")
            try:
                return unquote(encoded, encoding=charset or "utf-8", errors="strict")
            except (LookupError, UnicodeDecodeError):
                continue
        elif name == "filename":
            fallback = value.strip().strip('"')
    return fallback


def _from_graphql_errors(errors: list[Any]) -> ApiError:
    codes = [
        str((error.get("extensions") or {}).get("code", ""))
        for error in errors
        if isinstance(error, dict)
    ]
    detail = "; ".join(
        str(error.get("message", "")) for error in errors if isinstance(error, dict)
    )
    if "NOT_AUTHENTICATED" in codes:
        return ApiUnauthenticated(detail=detail)
    if "SERVICE_UNAVAILABLE" in codes:
        return ApiUnavailable(detail=detail)
    if "PAYLOAD_TOO_LARGE" in codes:
        return ApiPayloadTooLarge(detail=detail)
    if "INSUFFICIENT_SCOPE" in codes:
        return ApiError(OUT_OF_SPACE_MESSAGE, code="INSUFFICIENT_SCOPE", detail=detail)
    code = next((c for c in codes if c), "GRAPHQL_ERROR")
    log.warning("GraphQL API returned errors (code %s)", code)
    return ApiError(UNEXPECTED_MESSAGE, code=code, detail=detail)
