"""State of "Applications connectées" (/applications-connectees): the apps I authorised, what
each may do with my record, since when and when it last used its access; "Révoquer" (after a
confirmation) ends its access at once. Needs a session: without one the tab goes to the login
page, then comes back. After a revocation the list is read again: what is shown is what the
API holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import CONNECTED_APPS_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.focus import focus
from carnet_web.state.formatting import date_text, datetime_text
from carnet_web.state.session import SessionState, api_errors

HEADING_ID: Final = "connected-apps-heading"
REVOKE_BUTTON_PREFIX: Final = "connected-app-revoke-"  # + the app's id

CONNECTED_APPS: Final = api.operation(
    """
    query ConnectedApps {
      connectedApps {
        appId name publisher grantedAt lastUsedAt inCatalogue
        scopes { scope label }
      }
    }
    """
)

REVOKE_APP_ACCESS: Final = api.operation(
    """
    mutation RevokeAppAccess($appId: ID!) {
      revokeAppAccess(appId: $appId) {
        __typename
        ... on AppAccessRevoked { appId }
        ... on Error { message }
      }
    }
    """
)

NEVER_USED: Final = N_("Aucun accès à votre dossier pour l'instant")
THIS_APP: Final = N_("Cette application")


@dataclasses.dataclass(frozen=True)
class ConnectedAppItem:
    id: str
    name: str
    publisher: str
    scopes: list[str]  # plain-language labels
    granted: str  # 'Autorisée le 6 mai 2030'
    last_used: str  # 'Dernier accès : 6 mai 2030 à 11:30'
    in_catalogue: bool


def app_items(rows: list[Mapping[str, Any]], language: str = "fr") -> list[ConnectedAppItem]:
    """The API's list (by name), in words."""
    items = []
    for row in rows:
        last = str(row.get("lastUsedAt") or "")
        items.append(ConnectedAppItem(
            id=str(row["appId"]), name=str(row["name"]), publisher=str(row["publisher"]),
            scopes=[str(s["label"]) for s in row.get("scopes") or []],
            granted=gettext(language, "Autorisée le {date}",
                            date=date_text(str(row["grantedAt"]), language)),
            last_used=(gettext(language, "Dernier accès : {moment}",
                               moment=datetime_text(last, language)) if last
                       else gettext(language, NEVER_USED)),
            in_catalogue=bool(row.get("inCatalogue", True)),
        ))
    return items


def revoked_message(name: str, language: str = "fr") -> str:
    return gettext(language, "{name} n'a plus accès à votre dossier.", name=name)


class ConnectedAppsState(SessionState):
    loading: bool = True
    busy: bool = False
    error: str = ""  # the list could not be read ("Réessayer")
    action_error: str = ""  # a refused revocation
    info: str = ""  # what the last revocation did (role=status)
    apps: list[ConnectedAppItem] = []
    revoking_id: str = ""  # the confirmation is open for this app
    revoking_name: str = ""

    async def _fetch(self) -> None:
        data = await self._query(CONNECTED_APPS)
        self.apps = app_items(data["connectedApps"], self.lang)

    def _name_of(self, app_id: str) -> str:
        return next((a.name for a in self.apps if a.id == app_id), self._t(THIS_APP))

    def _expired(self) -> EventSpec:
        self.apps = []
        return super()._expired()

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self.error = self.action_error = self.info = ""
        yield
        await self._fetch()

    @rx.event
    def ask_revoke(self, app_id: str) -> None:
        """"Révoquer": the confirmation first."""
        if self.busy or not app_id:
            return
        self.revoking_id = app_id
        self.revoking_name = self._name_of(app_id)
        self.info = ""

    @rx.event
    def revoke_dialog_changed(self, is_open: bool) -> EventSpec | None:
        """The confirmation closed by "Annuler", Escape or a click outside: nothing revoked,
        and the keyboard goes back to the button that opened it."""
        if is_open or not self.revoking_id:
            return None
        button = REVOKE_BUTTON_PREFIX + self.revoking_id
        self.revoking_id = ""
        self.revoking_name = ""
        return focus(button)

    @rx.event
    async def confirm_revoke(self) -> AsyncIterator[EventSpec | None]:
        """"Révoquer" in the confirmation: the app's access ends at once."""
        app_id, self.revoking_id, self.revoking_name = self.revoking_id, "", ""
        if not app_id or self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        name = self._name_of(app_id)
        self.error = self.action_error = self.info = ""
        self.busy = True
        yield
        try:
            data = await self._query(REVOKE_APP_ACCESS, {"appId": app_id})
            result = data["revokeAppAccess"]
            if result.get("__typename") == "AppAccessRevoked":
                self.info = revoked_message(name, self.lang)
            else:
                self.action_error = str(result.get("message") or "") or self._t(
                    api.UNEXPECTED_MESSAGE)
            await self._fetch()
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.action_error = self._api_failed(exc)
        finally:
            self.busy = False
        yield focus(HEADING_ID)
