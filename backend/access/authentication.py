"""The one authentication of every request: a Starlette `AuthenticationBackend` over the
session bearer token (backend/identity/sessions.py).

`AuthenticationMiddleware(backend=SessionBackend())` (backend/app.py) sets `request.user` on
every HTTP request and websocket handshake: a `SignedIn` user (the session `Viewer` and the
record viewer of backend/access/policy.py) or Starlette's `UnauthenticatedUser`. Handlers read
`request.user` (`signed_in(request)`), never the Authorization header. The GraphQL view uses the
same user on HTTP and the same function (`resolve_bearer`) for a websocket's connection_init.

No or an unknown token: anonymous (each endpoint answers its own 401). Redis down (sessions
live there): `on_error` answers 503 with Retry-After, never anonymous, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from backend.access.policy import RecordViewer, viewer_of
from backend.errors import UNAVAILABLE_MESSAGE
from backend.i18n import gettext
from backend.identity.services import Viewer, authenticate, bearer_token
from backend.kv import KV_UNAVAILABLE_ERRORS
from backend.runtime import Runtime

log = logging.getLogger(__name__)


class SignedIn(BaseUser):
    def __init__(self, session: Viewer) -> None:
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


class AuthenticationUnavailable(AuthenticationError):
    """Sessions cannot be checked (Redis is down)."""


async def resolve_bearer(runtime: Runtime, header: str | None) -> Viewer | None:
    """The live session of an `Authorization: Bearer <token>` value, or None."""
    return await authenticate(runtime, bearer_token(header))


class SessionBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        try:
            session = await resolve_bearer(conn.app.state.runtime, header)
        except KV_UNAVAILABLE_ERRORS:
            log.warning("authentication unavailable: Redis is down")
            raise AuthenticationUnavailable() from None
        if session is None:
            return None
        return AuthCredentials(["authenticated", session.role]), SignedIn(session)


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    return JSONResponse({"error": "service_unavailable", "message": gettext(UNAVAILABLE_MESSAGE)},
                        status_code=503, headers={"Retry-After": "2"})


def signed_in(conn: HTTPConnection) -> SignedIn | None:
    """The signed-in user of a request, or None."""
    user: Any = conn.scope.get("user")
    return user if isinstance(user, SignedIn) else None
