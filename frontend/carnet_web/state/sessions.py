"""State of "Mes sessions" (/sessions): my signed-in sessions, revoking one, signing out
everywhere. Needs a session: without one (or when the API says it is no longer valid) the tab
goes to the login page."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.state.formatting import browser_label, french_datetime
from carnet_web.state.session import SessionState

MY_SESSIONS: Final = api.operation(
    """
    query MySessions {
      mySessions { id createdAt lastSeenAt expiresAt address userAgent current }
    }
    """
)

REVOKE_SESSION: Final = api.operation(
    """
    mutation RevokeSession($id: ID!) {
      revokeSession(id: $id) {
        __typename
        ... on SessionRevoked { id }
        ... on Error { message }
      }
    }
    """
)

LOGOUT_EVERYWHERE: Final = api.operation(
    """
    mutation LogoutEverywhere {
      logoutEverywhere { sessionsClosed }
    }
    """
)

SESSION_REVOKED: Final = "La session a été fermée."
SESSION_ALREADY_CLOSED: Final = "Cette session était déjà fermée."


def signed_out_everywhere(count: int) -> str:
    if count <= 1:
        return "Vous avez été déconnecté de toutes vos sessions."
    return f"Vous avez été déconnecté de toutes vos sessions ({count} sessions fermées)."


@dataclasses.dataclass(frozen=True)
class SessionItem:
    id: str
    created: str
    last_seen: str
    address: str
    browser: str  # "Firefox sur Windows"
    user_agent: str  # as sent by the browser, shown as plain text
    current: bool


def session_items(rows: list[Mapping[str, Any]]) -> list[SessionItem]:
    """The current session first, then the others as the API listed them (newest first)."""
    items = [
        SessionItem(
            id=str(row["id"]),
            created=french_datetime(row["createdAt"]),
            last_seen=french_datetime(row["lastSeenAt"]),
            address=row["address"] or "inconnue",
            browser=browser_label(row["userAgent"] or ""),
            user_agent=row["userAgent"] or "",
            current=bool(row["current"]),
        )
        for row in rows
    ]
    return sorted(items, key=lambda item: not item.current)


class SessionsState(SessionState):
    loading: bool = True
    busy: bool = False
    error: str = ""
    info: str = ""
    sessions: list[SessionItem] = []

    async def _fetch(self) -> None:
        """Read my sessions into `sessions`. Raises `api.ApiError`."""
        data = await self._query(MY_SESSIONS)
        self.sessions = session_items(data["mySessions"])

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        self.info = ""
        yield
        try:
            await self._fetch()
        except api.ApiUnauthenticated:
            self.sessions = []
            yield self._to_login(api.UNAUTHENTICATED_MESSAGE)
            return
        except api.ApiError as exc:
            self.error = exc.message
        finally:
            self.loading = False

    @rx.event
    async def revoke(self, session_id: str) -> AsyncIterator[EventSpec | None]:
        """"Révoquer": close one of my other sessions."""
        if self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.busy = True
        self.error = ""
        self.info = ""
        yield
        try:
            data = await self._query(REVOKE_SESSION, {"id": session_id})
            result = data["revokeSession"]
            revoked = result.get("__typename") == "SessionRevoked"
            self.info = SESSION_REVOKED if revoked else SESSION_ALREADY_CLOSED
            await self._fetch()
        except api.ApiUnauthenticated:
            self.sessions = []
            yield self._to_login(api.UNAUTHENTICATED_MESSAGE)
            return
        except api.ApiError as exc:
            self.error = exc.message
        finally:
            self.busy = False

    @rx.event
    async def logout_everywhere(self) -> AsyncIterator[EventSpec | None]:
        """"Se déconnecter partout": close all my sessions, this one included."""
        if self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.busy = True
        self.error = ""
        self.info = ""
        yield
        try:
            data = await self._query(LOGOUT_EVERYWHERE)
        except api.ApiUnauthenticated:
            self.sessions = []
            yield self._to_login(api.UNAUTHENTICATED_MESSAGE)
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        finally:
            self.busy = False
        self.sessions = []
        yield self._to_login(signed_out_everywhere(int(data["logoutEverywhere"]["sessionsClosed"])))
