"""The OAuth 2 authorization server's HTTP endpoints (issue 14, part 2):

    GET  /oauth/authorize                          302 to the web app's consent page, with
                                                   the same query string (the page checks it)
    POST /oauth/token                              RFC 6749 (authorization_code + PKCE S256,
                                                   refresh_token with rotation)
    POST /oauth/revoke                             RFC 7009
    POST /oauth/introspect                         RFC 7662 (confidential clients)
    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata

Why not authlib's `AuthorizationServer`: authlib has no Starlette server integration, its
server is synchronous (its grants call `query_client`, `save_token`... without await, while
every lookup here is an async ORM query) and it hides the single-use claim of a code and the
reuse detection of refresh tokens inside hooks whose transaction we could not hold. So the
endpoints are written here, small and explicit, and authlib provides the parts that are easy to
get subtly wrong: the S256 transform (`authlib.oauth2.rfc7636.create_s256_code_challenge`) and
the RFC 6749 error vocabulary and rendering (`authlib.oauth2.rfc6749.errors`: `invalid_grant`,
`invalid_client`..., their status and `Cache-Control: no-store` headers). The rules themselves
are in services.py.

Client authentication: `client_secret_basic` (RFC 6749 section 2.3.1: id and secret
form-encoded, then Basic) or `client_secret_post` for confidential apps, `none` (client_id in
the body) for public ones; two methods at once is `invalid_request`. `invalid_client` answers
401 (with `WWW-Authenticate: Basic` when Basic was tried). Every answer is `no-store`. Only
`application/x-www-form-urlencoded` bodies are read; a repeated parameter is refused. Nothing
here logs a parameter: codes, verifiers, secrets and tokens never reach a log.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    OAuth2Error,
    UnsupportedGrantTypeError,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from backend.catalogue.models import ClientType
from backend.catalogue.scopes import KNOWN as KNOWN_SCOPES
from backend.oauth import services
from backend.runtime import Runtime

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
          ) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def _error(exc: OAuth2Error, *, basic: bool = False) -> JSONResponse:
    status = exc.status_code
    headers = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    if isinstance(exc, InvalidClientError):
        status = 401
        if basic:
            headers["WWW-Authenticate"] = 'Basic realm="carnet", error="invalid_client"'
    return _json(dict(exc.get_body()), status, headers)


async def _form(request: Request) -> dict[str, list[str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise InvalidRequestError(description=f"the body must be {FORM}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequestError(description="request too large")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False,
                        max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError(description="malformed body") from None


def _tried_basic(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("basic ")


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClientError(description="malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClientError(description="malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)


async def _client(request: Request, form: dict[str, list[str]]) -> Any:
    """The authenticated app, by the one method the request used."""
    settings = _runtime(request).settings
    basic = _basic(request)
    form_id = services.require_single(form, "client_id")
    form_secret = services.require_single(form, "client_secret")
    if basic is not None:
        if form_secret is not None or (form_id is not None and form_id != basic[0]):
            raise InvalidRequestError(description="one client authentication method only")
        return await services.authenticate_client(settings, basic[0], basic[1])
    return await services.authenticate_client(settings, form_id, form_secret)


async def token(request: Request) -> Response:
    runtime = _runtime(request)
    basic = _tried_basic(request)
    try:
        form = await _form(request)
        app = await _client(request, form)
        grant_type = services.require_single(form, "grant_type")
        now = runtime.clock()
        if grant_type == "authorization_code":
            body = await services.exchange_code(
                runtime.settings, app, code=services.require_single(form, "code"),
                redirect_uri=services.require_single(form, "redirect_uri"),
                code_verifier=services.require_single(form, "code_verifier"), now=now)
        elif grant_type == "refresh_token":
            body = await services.refresh(
                runtime.settings, app,
                refresh_token=services.require_single(form, "refresh_token"),
                scope=services.require_single(form, "scope"), now=now)
        elif grant_type is None:
            raise InvalidRequestError(description="missing grant_type")
        else:
            raise UnsupportedGrantTypeError(grant_type)
    except OAuth2Error as exc:
        return _error(exc, basic=basic)
    return _json(body)


async def _confidential(request: Request, form: dict[str, list[str]]) -> Any:
    app = await _client(request, form)
    if app.client_type is not ClientType.CONFIDENTIAL:
        raise InvalidClientError(description="introspection is for confidential clients")
    return app


async def revoke(request: Request) -> Response:
    runtime = _runtime(request)
    basic = _tried_basic(request)
    try:
        form = await _form(request)
        app = await _client(request, form)
        value = services.require_single(form, "token")
        if value is None:
            raise InvalidRequestError(description="missing token")
        await services.revoke(runtime.settings, app, value,
                              services.require_single(form, "token_type_hint"),
                              runtime.clock())
    except OAuth2Error as exc:
        return _error(exc, basic=basic)
    return _json({})


async def introspect(request: Request) -> Response:
    runtime = _runtime(request)
    basic = _tried_basic(request)
    try:
        form = await _form(request)
        app = await _confidential(request, form)
        value = services.require_single(form, "token")
        if value is None:
            raise InvalidRequestError(description="missing token")
        body = await services.introspect(runtime.settings, app, value,
                                         services.require_single(form, "token_type_hint"),
                                         runtime.clock())
    except OAuth2Error as exc:
        return _error(exc, basic=basic)
    return _json(body)


async def authorize(request: Request) -> Response:
    """The authorization endpoint of apps' links: the patient's browser goes on to the web
    app's consent page (`Settings.consent_page_url`) with the request's query string as is.
    Nothing is checked here: the page asks the API (`appAuthorizationRequest`) and never
    redirects to an unchecked address. No query parameter is logged."""
    page = _runtime(request).settings.consent_page_url()
    if page is None:
        return PlainTextResponse(
            "The consent page is not configured (OAUTH_AUTHORIZATION_PAGE_URL).",
            status_code=503, headers=NO_STORE)
    query = request.url.query
    return RedirectResponse(page + ("?" + query if query else ""), status_code=302,
                            headers={**NO_STORE, "Referrer-Policy": "no-referrer"})


def issuer(request: Request) -> str:
    configured = _runtime(request).settings.oauth_issuer
    return (configured or str(request.base_url)).rstrip("/")


async def metadata(request: Request) -> Response:
    base = issuer(request)
    page = _runtime(request).settings.oauth_authorization_page_url or base + "/oauth/authorize"
    auth_methods = ["client_secret_basic", "client_secret_post", "none"]
    return JSONResponse({
        "issuer": base,
        "authorization_endpoint": page,
        "token_endpoint": base + "/oauth/token",
        "revocation_endpoint": base + "/oauth/revoke",
        "introspection_endpoint": base + "/oauth/introspect",
        "scopes_supported": sorted(KNOWN_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
    }, headers={"Cache-Control": "public, max-age=3600"})
