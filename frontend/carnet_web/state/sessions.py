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
from carnet_web.i18n import N_, gettext
from carnet_web.state.focus import focus
from carnet_web.state.formatting import browser_text, datetime_text
from carnet_web.state.session import SessionState, api_errors

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

LOGOUT_EVERYWHERE_BUTTON: Final = "logout-everywhere"

SESSION_REVOKED: Final = N_("La session a été fermée.")
SESSION_ALREADY_CLOSED: Final = N_("Cette session était déjà fermée.")


def signed_out_everywhere(count: int, language: str = "fr") -> str:
    if count <= 1:
        return gettext(language, "Vous avez été déconnecté de toutes vos sessions.")
    return gettext(language, "Vous avez été déconnecté de toutes vos sessions ({n} sessions "
                   "fermées).", n=count)


@dataclasses.dataclass(frozen=True)
class SessionItem:
    id: str
    created: str
    last_seen: str
    address: str
    browser: str  # "Firefox sur Windows"
    user_agent: str  # as sent by the browser, shown as plain text
    current: bool


def session_items(rows: list[Mapping[str, Any]], language: str = "fr") -> list[SessionItem]:
    """The current session first, then the others as the API listed them (newest first)."""
    items = [
        SessionItem(
            id=str(row["id"]),
            created=datetime_text(row["createdAt"], language),
            last_seen=datetime_text(row["lastSeenAt"], language),
            address=row["address"] or gettext(language, "inconnue"),
            browser=browser_text(row["userAgent"] or "", language),
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
    # "Se déconnecter partout" asks first (it signs this tab out too).
    confirm_open: bool = False

    async def _fetch(self) -> None:
        """Read my sessions into `sessions`. Raises `api.ApiError`."""
        data = await self._query(MY_SESSIONS)
        self.sessions = session_items(data["mySessions"], self.lang)

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer". What the last action said does not outlive the
        page."""
        self.confirm_open = False
        self.info = ""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        yield
        await self._fetch()

    @rx.event
    @api_errors(error="error", busy="busy")
    async def revoke(self, session_id: str) -> AsyncIterator[EventSpec | None]:
        """"Révoquer": close one of my other sessions."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.busy = True
        self.error = ""
        self.info = ""
        yield
        data = await self._query(REVOKE_SESSION, {"id": session_id})
        result = data["revokeSession"]
        revoked = result.get("__typename") == "SessionRevoked"
        self.info = self._t(SESSION_REVOKED if revoked else SESSION_ALREADY_CLOSED)
        await self._fetch()

    @rx.event
    def set_confirm_open(self, value: bool) -> EventSpec | None:
        """Open or close "Se déconnecter partout ?". Closed, focus goes back to the button (the
        dialog has no Radix trigger to give it back to)."""
        was_open, self.confirm_open = self.confirm_open, bool(value)
        if was_open and not self.confirm_open:
            return focus(LOGOUT_EVERYWHERE_BUTTON)
        return None

    @rx.event
    @api_errors(error="error", busy="busy")
    async def logout_everywhere(self) -> AsyncIterator[EventSpec | None]:
        """"Se déconnecter partout": close all my sessions, this one included."""
        self.confirm_open = False
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.busy = True
        self.error = ""
        self.info = ""
        yield
        data = await self._query(LOGOUT_EVERYWHERE)
        self.sessions = []
        count = int(data["logoutEverywhere"]["sessionsClosed"])
        yield self._to_login(signed_out_everywhere(count, self.lang))
