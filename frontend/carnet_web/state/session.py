"""What every page's state shares: the API session of this browser tab.

Reflex keeps one state per browser tab, so a sign-in holds for this tab only (a reload keeps
it; a new tab starts signed out).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import IO, Any, Final

import reflex as rx
from gql import GraphQLRequest
from reflex.event import EventSpec

from carnet_web import api

log = logging.getLogger("carnet_web.session")

HOME_ROUTE: Final = "/"
LOGIN_ROUTE: Final = "/connexion"
CODE_ROUTE: Final = "/connexion/code"
SESSIONS_ROUTE: Final = "/sessions"
DOCUMENTS_ROUTE: Final = "/documents"
PRO_HOME_ROUTE: Final = "/pro"  # "Espace professionnel": my patients
PROFESSIONAL_ROLE: Final = "PROFESSIONAL"  # `Me.role` of a professional's account

SIGN_IN_REQUIRED: Final = "Connectez-vous pour accéder à cette page."
SIGNED_OUT: Final = "Vous êtes déconnecté."
SIGNED_OUT_LOCALLY: Final = (
    "Vous êtes déconnecté de cet onglet. Le service n'a pas pu être joint pour fermer la "
    "session : elle expirera d'elle-même."
)

LOGOUT: Final = api.operation(
    """
    mutation Logout {
      logout { sessionsClosed }
    }
    """
)


class SessionState(rx.State):
    """Base of every page state.

    `_api_token` is a backend-only var (leading underscore): it stays on the server and is never
    sent to the browser. Empty means anonymous. `signed_in`, `account_identifier` and
    `account_role` are what the header shows (the role picks the patient's or the
    professional's navigation); they always change together with the token (`_sign_in`,
    `_sign_out`).
    """

    _api_token: str = ""
    # The secret of the Pro Santé Connect login this tab started (state/login.py draws it,
    # state/pro_psc.py shows it to the API once): the API's ticket only works in this tab.
    _psc_binding: str = ""
    signed_in: bool = False
    account_identifier: str = ""
    account_role: str = ""  # 'PATIENT' or 'PROFESSIONAL' (`Me.role`); '' when unknown
    # Why the tab was sent to the login page (expired session, logout...); shown there once.
    notice: str = ""

    def _forwarded_headers(self) -> dict[str, str]:
        """The browser's User-Agent and address, so the API records the person's browser for
        the session list and rate-limits per person, not per web server (the API's uvicorn
        honours X-Forwarded-For only from the addresses in FORWARDED_ALLOW_IPS)."""
        headers: dict[str, str] = {}
        user_agent = self.router.headers.user_agent
        if user_agent:
            headers["User-Agent"] = user_agent[:200]
        client_ip = self.router.session.client_ip
        if client_ip:
            headers["X-Forwarded-For"] = client_ip
        return headers

    async def _query(
        self, document: GraphQLRequest, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run a GraphQL document for this tab (with its token, if any). Raises `api.ApiError`.

        Private (leading underscore), so Reflex does not turn it into an event handler.
        """
        return await api.execute(
            document, variables, token=self._api_token or None, headers=self._forwarded_headers()
        )

    async def _upload(
        self,
        document: GraphQLRequest,
        variables: Mapping[str, Any],
        *,
        file_variable: str,
        filename: str,
        content: IO[bytes],
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """Run a mutation taking one file (GraphQL multipart request) for this tab. Raises
        `api.ApiError`. The file is streamed from `content`."""
        return await api.upload(
            document, variables, file_variable=file_variable, filename=filename,
            content=content, content_type=content_type, token=self._api_token or None,
            headers=self._forwarded_headers(),
        )

    @rx.var
    def is_professional(self) -> bool:
        return self.account_role == PROFESSIONAL_ROLE

    def _sign_in(self, token: str, identifier: str, role: str = "") -> None:
        self._api_token = token
        self.signed_in = True
        self.account_identifier = identifier
        self.account_role = role
        self.notice = ""

    def _sign_out(self, notice: str = "") -> None:
        self._api_token = ""
        self.signed_in = False
        self.account_identifier = ""
        self.account_role = ""
        self.notice = notice
        self._forget_pages()

    def _forget_pages(self) -> None:
        """Drop every other page's data (documents, messages, profile...) held for this tab,
        so that the next person signing in on a shared computer never sees it, not even for
        the moment their own data takes to load. The page running this handler resets its
        own data as it goes on."""
        session: rx.State = self
        while type(session) is not SessionState and session.parent_state is not None:
            session = session.parent_state
        for substate in session.substates.values():
            if substate is not self:
                substate.reset()

    def _to_login(self, notice: str) -> EventSpec:
        """Forget the session and send the tab to the login page, saying why."""
        self._sign_out(notice)
        return rx.redirect(LOGIN_ROUTE)

    def _require_session(self) -> EventSpec | None:
        """For pages that need a session: the redirect to the login page, or None."""
        if self._api_token:
            return None
        return self._to_login(SIGN_IN_REQUIRED)

    @rx.event
    async def logout(self) -> EventSpec:
        """"Se déconnecter": close the session at the API, forget the token, go to /connexion."""
        notice = SIGNED_OUT
        if self._api_token:
            try:
                await self._query(LOGOUT)
            except api.ApiUnauthenticated:
                pass  # already expired or revoked: nothing left to close
            except api.ApiError as exc:
                log.warning("logout: the API could not close the session (%s)", exc.code)
                notice = SIGNED_OUT_LOCALLY
        return self._to_login(notice)
