"""The one authentication of every request: a Starlette `AuthenticationBackend` over the
session bearer token (backend/identity/sessions.py).

`AuthenticationMiddleware(backend=SessionBackend())` (backend/app.py) sets `request.user` on
every HTTP request and websocket handshake: a `SignedIn` user (the session `Viewer` and the
record viewer of backend/access/policy.py) or Starlette's `UnauthenticatedUser`. Handlers read
`request.user` (`signed_in(request)`), never the Authorization header. The GraphQL view uses the
same user on HTTP and the same function (`resolve_bearer`) for a websocket's connection_init.

No or an unknown token: anonymous (each endpoint answers its own 401). Redis down (sessions
live there): `on_error` answers 503 with Retry-After, never anonymous, never a 500.

A bearer token that is no session may be a catalogue app's OAuth access token: the composition
root (backend/app.py) sets `app.state.authenticate` to a resolver that tries the session, then
the app token (backend/oauth/bearer.py), and answers an `AppCaller`: the patient, as reached
through the app, with the granted scopes. An app over its rate limit raises `AppRateLimited`:
429 with Retry-After. What an app may then call is decided per GraphQL field and per route
(backend/app_scopes.py, `route_scope` below): deny by default.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from backend.access import carers
from backend.access.policy import RecordViewer, viewer_of
from backend.app_scopes import ANY_APP, NOT_FOR_APPS, InsufficientScope
from backend.errors import RATE_LIMITED_MESSAGE, UNAVAILABLE_MESSAGE
from backend.i18n import gettext
from backend.identity.services import Viewer, authenticate, bearer_token
from backend.kv import KV_UNAVAILABLE_ERRORS
from backend.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppCaller:
    """A catalogue app calling with an OAuth access token: the patient who authorised it, as
    the app reaches them. Shaped like identity's session `Viewer` (a patient's), so that the
    patient's own resolvers serve it, plus the app and its scopes (`app_scopes`: the GraphQL
    gate and the route checks read it; the policy builds an `AppViewer` from it)."""

    account_id: int
    person_id: int
    app_id: UUID
    app_name: str
    app_scopes: frozenset[str]
    token_id: int
    role: str = "patient"
    professional_id: None = None
    session_id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.session_id:  # live sockets are registered (and closed) by this id
            # backend/oauth/bearer.py SOCKET_PREFIX: its liveness check reads this shape.
            object.__setattr__(self, "session_id", f"app-token:{self.token_id}")

    @property
    def is_patient(self) -> bool:
        return True

    @property
    def is_professional(self) -> bool:
        return False


@dataclass(frozen=True)
class CarerCaller:
    """A carer's session acting in a patient's space (`Carnet-Space` header, backend/access/
    carers.py): shaped like the patient's session for the patient's own resolvers (person_id
    is the PATIENT's; writes record the carer's account as their author), limited like an app
    by `app_scopes` (the gate of backend/app_scopes.py reads them), and tied to the carer's
    own session (`session_id`: revoking it closes what it opened)."""

    account_id: int  # the carer's
    person_id: int  # the patient's (0: no space granted)
    carer_grant_id: int
    carer_parts: frozenset[str]
    app_scopes: frozenset[str]
    session_id: str
    representative: bool = False  # a minor's legal representative
    role: str = "patient"
    professional_id: None = None

    @property
    def is_patient(self) -> bool:
        return True

    @property
    def space_socket_key(self) -> str | None:
        """How live sockets name this delegation (besides the session): revoking the grant
        closes the sockets opened in the space (backend/live_sockets.py), and the sweep
        closes them once it has ended (backend/oauth/bearer.py `socket_liveness`)."""
        return carers.socket_key(self.carer_grant_id) if self.carer_grant_id else None

    @property
    def is_professional(self) -> bool:
        return False


SPACE_HEADER = "carnet-space"
Caller = Viewer | AppCaller | CarerCaller
BearerResolver = Callable[[Runtime, str | None], Awaitable[Caller | None]]


class SignedIn(BaseUser):
    def __init__(self, session: Caller) -> None:
        self.session = session
        self.viewer: RecordViewer | None = viewer_of(session)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return f"account:{self.session.account_id}"

    @property
    def identity(self) -> str:
        return str(self.session.account_id)


    @property
    def app(self) -> AppCaller | CarerCaller | None:
        """A delegated caller (an app, or a carer in a space): its routes need a scope."""
        return self.session if isinstance(self.session, AppCaller | CarerCaller) else None


class AuthenticationUnavailable(AuthenticationError):
    """Sessions cannot be checked (Redis is down)."""


class AppRateLimited(AuthenticationError):
    """An app made more requests than APP_RATE_PER_MINUTE allows."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("app rate limited")
        self.retry_after = max(1, int(retry_after))


async def resolve_bearer(runtime: Runtime, header: str | None) -> Viewer | None:
    """The live session of an `Authorization: Bearer <token>` value, or None."""
    return await authenticate(runtime, bearer_token(header))


class SessionBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        resolve: BearerResolver = getattr(conn.app.state, "authenticate", resolve_bearer)
        try:
            session = await resolve(conn.app.state.runtime, header)
        except KV_UNAVAILABLE_ERRORS:
            log.warning("authentication unavailable: Redis is down")
            raise AuthenticationUnavailable() from None
        if session is None:
            return None
        session = await space_caller(conn.app.state.runtime, session,
                                     conn.headers.get(SPACE_HEADER))
        return AuthCredentials(["authenticated", session.role]), SignedIn(session)


async def space_caller(runtime: Runtime, caller: Caller, space: object) -> Caller:
    """`caller` as it acts in `space` (the `Carnet-Space` header of a request, or the same key
    in a websocket's connection_init: one path for both). Only a patient's own session enters
    a space; without one named (or for an app's token, a professional), `caller` unchanged."""
    if isinstance(space, str) and space and isinstance(caller, Viewer) and caller.is_patient:
        return await in_space(runtime, caller, space)
    return caller


async def in_space(runtime: Runtime, session: Viewer, space: str) -> CarerCaller:
    """The carer's session acting in the space named by `space` (a patient's public id); a
    space not granted gives a caller that reaches nothing (the same for an unknown id)."""
    access = await carers.space_access(session.account_id, space, runtime.clock())
    return CarerCaller(account_id=session.account_id, person_id=access.patient_id,
                       carer_grant_id=access.grant_id, carer_parts=access.parts,
                       app_scopes=access.scopes, session_id=session.session_id,
                       representative=access.representative)


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    if isinstance(exc, AppRateLimited):
        return JSONResponse({"error": "rate_limited",
                             "message": gettext(RATE_LIMITED_MESSAGE)},
                            status_code=429, headers={"Retry-After": str(exc.retry_after)})
    return JSONResponse({"error": "service_unavailable", "message": gettext(UNAVAILABLE_MESSAGE)},
                        status_code=503, headers={"Retry-After": "2"})


def signed_in(conn: HTTPConnection) -> SignedIn | None:
    """The signed-in user of a request, or None.

    An app's caller passes only on a route that declared the scope it needs (`route_scope`)
    and holds it; otherwise `InsufficientScope` (403, RFC 6750 insufficient_scope): an app
    never reaches a route nobody opened to apps."""
    user: Any = conn.scope.get("user")
    if not isinstance(user, SignedIn):
        return None
    if user.app is not None:
        required = getattr(conn.scope.get("endpoint"), ROUTE_SCOPE_ATTRIBUTE, None)
        if required is None or (required != ANY_APP and required not in user.app.app_scopes):
            raise InsufficientScopeHTTP(required)
    return user


ROUTE_SCOPE_ATTRIBUTE = "carnet_app_scope"


def route_scope(scope: str) -> Callable[[Any], Any]:
    """Declare, once, what an app's token needs to call this HTTP endpoint (a scope name, or
    ANY_APP); undeclared endpoints refuse apps."""

    def declare(endpoint: Any) -> Any:
        setattr(endpoint, ROUTE_SCOPE_ATTRIBUTE, str(scope))
        return endpoint

    return declare


class InsufficientScopeHTTP(HTTPException):
    """An app's token on a route it may not call (answered by `insufficient_scope_response`)."""

    def __init__(self, required: str | None) -> None:
        self.required = required
        challenge = 'Bearer error="insufficient_scope"'
        if required is not None and required != ANY_APP:
            challenge += f', scope="{required}"'
        super().__init__(403, "insufficient_scope", headers={"WWW-Authenticate": challenge})


async def insufficient_scope_response(conn: HTTPConnection, exc: Exception) -> Response:
    assert isinstance(exc, InsufficientScopeHTTP)
    required = exc.required if exc.required not in (None, ANY_APP) else None
    error = InsufficientScope([required] if required else [NOT_FOR_APPS])
    body: dict[str, Any] = {"error": "insufficient_scope", "message": error.translated()}
    if required:
        body["scope"] = required
    if conn.url.path.startswith("/fhir/"):
        body = {"resourceType": "OperationOutcome", "issue": [{
            "severity": "error", "code": "forbidden", "diagnostics": error.translated()}]}
    return JSONResponse(body, status_code=403, headers=dict(exc.headers or {}),
                        media_type="application/fhir+json" if "resourceType" in body
                        else "application/json")
