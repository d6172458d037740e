"""State of the Pro Santé Connect landing page (/connexion/psc, the path of the API's
PSC_POST_LOGIN_URL): the API's callback sends the browser here with a one-time `ticket`; this
page drops it from the address bar and the history at once, trades it for a session with
`exchangeLoginTicket` together with the secret of the login this tab started
(`LoginState.start_psc_login`; forgotten once used), and keeps the session exactly like the
password + code login does (token in a backend-only var, `SessionState._sign_in`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import PSC_LANDING_ROUTE  # noqa: E402,F401  (re-exported)
from carnet_web.state.login import ME, home_route_for, rate_limited_message, return_target
from carnet_web.state.session import LOGOUT, SessionState

EXCHANGE_LOGIN_TICKET: Final = api.operation(
    """
    mutation ExchangeLoginTicket($ticket: String!, $binding: String!) {
      exchangeLoginTicket(ticket: $ticket, binding: $binding) {
        __typename
        ... on Session { token expiresAt idleTimeoutSeconds }
        ... on Error { message }
        ... on RateLimited { retryAfterSeconds }
      }
    }
    """
)

# Replaces the address (and its history entry) by the same page without its query string.
DROP_TICKET_SCRIPT: Final = (
    "window.history.replaceState(window.history.state, '', window.location.pathname)"
)

TICKET_INVALID: Final = N_(
    "Ce lien de connexion a expiré ou a déjà servi. Reconnectez-vous avec Pro Santé Connect."
)
NO_TICKET: Final = N_(
    "Aucune connexion Pro Santé Connect en cours. Connectez-vous depuis la page de connexion."
)


def plausible_ticket(value: object) -> str:
    """The ticket if it looks like one (URL-safe characters, sensible length); else ''."""
    text = str(value or "")
    return text if re.fullmatch(r"[A-Za-z0-9_-]{16,200}", text) else ""


def exchange_error_message(result: Mapping[str, Any], language: str = "fr") -> str:
    kind = result.get("__typename")
    if kind == "RateLimited":
        return rate_limited_message(int(result.get("retryAfterSeconds") or 60), language)
    return gettext(language, TICKET_INVALID)


class PscLandingState(SessionState):
    busy: bool = True
    error: str = ""

    @rx.event
    async def exchange(self) -> AsyncIterator[EventSpec | None]:
        """on_load: drop the ticket from the URL first, then trade it for a session."""
        ticket = plausible_ticket(self.router.url.query_parameters.get("ticket"))
        raw_present = "ticket" in self.router.url.query_parameters
        self.error = ""
        self.busy = True
        if raw_present:
            yield rx.call_script(DROP_TICKET_SCRIPT)
        if not ticket:
            self.busy = False
            if self.signed_in:
                yield rx.redirect(home_route_for(self.account_role), replace=True)
                return
            self.error = self._t(TICKET_INVALID if raw_present else NO_TICKET)
            return
        # The exchange runs anonymously, and a session already open in this tab stays open
        # until it succeeds: a stale or replayed link refuses, it never signs anyone out.
        previous, self._api_token = self._api_token, ""
        # One try per login: the API burns the ticket whatever the answer. A tab that started
        # no login sends no secret, and is refused (a ticket link from someone else).
        binding, self._psc_binding = self._psc_binding, ""
        try:
            data = await self._query(EXCHANGE_LOGIN_TICKET,
                                     {"ticket": ticket, "binding": binding})
        except api.ApiError as exc:
            self._api_token = previous
            self.busy = False
            self.error = self._api_failed(exc)
            return
        result = data["exchangeLoginTicket"]
        if result.get("__typename") != "Session":
            self._api_token = previous
            self.busy = False
            self.error = exchange_error_message(result, self.lang)
            return
        if previous:
            # Someone else was signed in in this tab: close that session, as a logout would.
            self._api_token = previous
            with contextlib.suppress(api.ApiError):
                await self._query(LOGOUT)
            self._sign_out()
        token = str(result["token"])
        self._api_token = token  # so the next query runs as the new session
        identifier, role = "", ""
        try:
            me = (await self._query(ME)).get("me") or {}
            identifier, role = str(me.get("identifier") or ""), str(me.get("role") or "")
        except api.ApiError:
            pass  # signed in all the same; the header says less
        self._sign_in(token, identifier, role)
        self.busy = False
        # Back to the page asked for before signing in, if a professional may use it.
        yield rx.redirect(return_target(self._take_return_to(""), role), replace=True)
