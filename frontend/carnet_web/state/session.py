"""What every page's state shares: the API session of this browser tab.

Reflex keeps one state per browser tab, so a sign-in holds for this tab only (a reload keeps
it; a new tab starts signed out).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import IO, Any, Final, TypeVar

import reflex as rx
from gql import GraphQLRequest
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, LanguageState, normalise

log = logging.getLogger("carnet_web.session")

from carnet_web.routes import (  # noqa: E402,F401  (re-exported: pages import them from here)
    CODE_ROUTE,
    DOCUMENTS_ROUTE,
    HOME_ROUTE,
    LOGIN_ROUTE,
    PRO_HOME_ROUTE,
    SESSIONS_ROUTE,
)

PROFESSIONAL_ROLE: Final = "PROFESSIONAL"  # `Me.role` of a professional's account
#: The API acts in the patient's space whose public id this header names (a carer's session:
#: backend/access/carers.py). Sent on every call while the tab is in someone else's space.
SPACE_HEADER: Final = "Carnet-Space"

SIGN_IN_REQUIRED: Final = N_("Connectez-vous pour accéder à cette page.")
SIGNED_OUT: Final = N_("Vous êtes déconnecté.")
SIGNED_OUT_LOCALLY: Final = N_(
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


class SessionState(LanguageState):
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
    # The page a signed-out visitor asked for: the login goes back there (state/login.py).
    _return_to: str = ""
    # The space this tab acts in (state/spaces.py): '' is my own; else the patient's public id
    # (a carer or a legal representative), sent as `Carnet-Space` on every API call.
    space_id: str = ""
    space_name: str = ""  # 'Léa MARTIN', for the banner
    space_child: bool = False  # a minor I represent
    # The parts of that space given to me ('DOCUMENTS', 'PROFILE', 'AGENDA'): the navigation
    # shows only their pages while in it (components/layout.py).
    space_parts: list[str] = []

    def _forwarded_headers(self, *, own_space: bool = False) -> dict[str, str]:
        """The browser's User-Agent and address, so the API records the person's browser for
        the session list and rate-limits per person, not per web server (the API's uvicorn
        honours X-Forwarded-For only from the addresses in FORWARDED_ALLOW_IPS).

        Plus `Carnet-Space` while the tab is in someone else's space (unless `own_space`): every
        call, download and live subscription of the web app takes its headers from here, so
        no page has to know about spaces."""
        headers: dict[str, str] = {"Accept-Language": normalise(self.lang)}
        if self.space_id and not own_space:
            headers[SPACE_HEADER] = self.space_id
        user_agent = self.router.headers.user_agent
        if user_agent:
            headers["User-Agent"] = user_agent[:200]
        client_ip = self.router.session.client_ip
        if client_ip:
            headers["X-Forwarded-For"] = client_ip
        return headers

    async def _query(
        self, document: GraphQLRequest, variables: Mapping[str, Any] | None = None, *,
        own_space: bool = False,
    ) -> dict[str, Any]:
        """Run a GraphQL document for this tab (with its token, if any; in the tab's space
        unless `own_space`: the account's own operations). Raises `api.ApiError`.

        Private (leading underscore), so Reflex does not turn it into an event handler.
        """
        return await api.execute(
            document, variables, token=self._api_token or None,
            headers=self._forwarded_headers(own_space=own_space),
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
        self._leave_space()

    def _sign_out(self, notice: str = "") -> None:
        self._api_token = ""
        self.signed_in = False
        self.account_identifier = ""
        self.account_role = ""
        self.notice = notice
        self._leave_space()
        self._forget_pages()

    def _leave_space(self) -> None:
        """Back to my own space (the caller forgets the pages' data if need be)."""
        self.space_id = ""
        self.space_name = ""
        self.space_child = False
        self.space_parts = []

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
        """Forget the session and send the tab to the login page, saying why (`notice` is
        French: it is shown in the tab's language)."""
        self._sign_out(self._t(notice))
        return rx.redirect(LOGIN_ROUTE)

    def _require_session(self) -> EventSpec | None:
        """For pages that need a session: the redirect to the login page (which comes back
        here after signing in), or None."""
        if self._api_token:
            return None
        self._return_to = self._current_page()
        return self._to_login(SIGN_IN_REQUIRED)

    def _current_page(self) -> str:
        """The path (and query) of the page this event came from, to come back to it; only
        a local path (never another site)."""
        path = str(self.router.url.path or "/")
        query = str(self.router.url.query or "")
        target = f"{path}?{query}" if query else path
        return target if target.startswith("/") and not target.startswith("//") else "/"

    def _take_return_to(self, default: str) -> str:
        """Where to go after signing in: the page asked for (once), else `default`."""
        target, self._return_to = self._return_to, ""
        return target or default

    def _expired(self) -> EventSpec:
        """The API said the session is over: back to the login page, then to this page."""
        self._return_to = self._current_page()
        return self._to_login(api.UNAUTHENTICATED_MESSAGE)

    def _api_failed(self, exc: api.ApiError) -> str:
        """The message to show for an API error, in the tab's language (the API's own
        messages already are; the web app's own ones are translated here)."""
        return self._t(exc.message)

    @rx.event
    async def logout(self) -> EventSpec:
        """"Se déconnecter": close the session at the API, forget the token, go to /connexion."""
        notice = SIGNED_OUT
        if self._api_token:
            try:
                await self._query(LOGOUT, own_space=True)
            except api.ApiUnauthenticated:
                pass  # already expired or revoked: nothing left to close
            except api.ApiError as exc:
                log.warning("logout: the API could not close the session (%s)", exc.code)
                notice = SIGNED_OUT_LOCALLY
        return self._to_login(notice)


Handler = TypeVar("Handler", bound=Callable[..., Any])


def api_errors(*, error: str = "error", busy: str | None = None) -> Callable[[Handler], Handler]:
    """For a page state's event handler that calls the API (the one place that handles its
    failures, instead of a try/except in every handler):

    - an expired or revoked session sends the tab to the login page, which comes back here;
    - any other `api.ApiError` puts its message (in the tab's language) in the state var named
      `error`;
    - the state var named `busy` (a "loading"/"saving" flag), if given, is set back to False
      when the handler ends, however it ends.

    Put it under `@rx.event`. Works for plain and generator (`yield`) handlers.
    """

    def decorate(handler: Handler) -> Handler:
        if inspect.isasyncgenfunction(handler):
            @functools.wraps(handler)
            async def generator(self: SessionState, *args: Any, **kwargs: Any) -> Any:
                try:
                    async for update in handler(self, *args, **kwargs):
                        yield update
                except api.ApiUnauthenticated:
                    yield self._expired()
                except api.ApiError as exc:
                    setattr(self, error, self._api_failed(exc))
                finally:
                    if busy:
                        setattr(self, busy, False)

            return generator  # type: ignore[return-value]

        @functools.wraps(handler)
        async def coroutine(self: SessionState, *args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(self, *args, **kwargs)
            except api.ApiUnauthenticated:
                return self._expired()
            except api.ApiError as exc:
                setattr(self, error, self._api_failed(exc))
                return None
            finally:
                if busy:
                    setattr(self, busy, False)

        return coroutine  # type: ignore[return-value]

    return decorate
