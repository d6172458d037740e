"""State of the consent page (/autorisation): an app asks to read or write part of my record.

The app sends the browser to the API's GET /oauth/authorize, which sends it on here with the
app's OAuth 2 request as is (client_id, redirect_uri, scope, state, code_challenge,
code_challenge_method, response_type). Signed out, the tab goes to the login page and comes
back here with the same request (SessionState keeps the address and its query).

Nothing is trusted before the API has checked it (`appAuthorizationRequest`: a referenced app,
a redirect URI it declared, exactly): until then the page never sends the browser anywhere,
so a forged link cannot use Carnet to redirect to another site. Once the app and its address
are known good:

- "Autoriser" sends the scopes I left ticked (required ones cannot be unticked) to
  `authorizeApp`, and the browser to the address the API answers (the app's, with a one-time
  code and the app's `state`);
- "Refuser" sends the browser back to the app with `error=access_denied` (and `state`), as
  RFC 6749 section 4.1.2.1 says; so does a request the app got wrong (no PKCE S256 challenge,
  another response type, a scope it did not declare), with the matching error code, after the
  page has said what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_
from carnet_web.routes import AUTHORIZATION_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.focus import focus
from carnet_web.state.session import SessionState, api_errors

HEADING_ID: Final = "consent-heading"
ERROR_ID: Final = "consent-action-error"
PARAMETERS: Final = ("response_type", "client_id", "redirect_uri", "scope", "state",
                     "code_challenge", "code_challenge_method")
MAX_PARAMETER_LENGTH: Final = 2000

APP_AUTHORIZATION_REQUEST: Final = api.operation(
    """
    query AppAuthorizationRequest($clientId: ID!, $redirectUri: String!, $scopes: [String!]) {
      appAuthorizationRequest(clientId: $clientId, redirectUri: $redirectUri,
                              scopes: $scopes) {
        __typename
        ... on AppAuthorizationRequest {
          clientId name publisher websiteUrl privacyPolicyUrl redirectUri
          scopes { scope label optional }
        }
        ... on InvalidScope { scope }
        ... on Error { message }
      }
    }
    """
)

AUTHORIZE_APP: Final = api.operation(
    """
    mutation AuthorizeApp($clientId: ID!, $redirectUri: String!, $scopes: [String!]!,
                          $state: String, $codeChallenge: String!,
                          $codeChallengeMethod: String!) {
      authorizeApp(clientId: $clientId, redirectUri: $redirectUri, scopes: $scopes,
                   state: $state, codeChallenge: $codeChallenge,
                   codeChallengeMethod: $codeChallengeMethod) {
        __typename
        ... on AuthorizationGranted { redirectTo }
        ... on Error { message }
      }
    }
    """
)

INVALID_LINK: Final = N_(
    "Ce lien d'autorisation est incomplet ou mal formé. Revenez à l'application et "
    "recommencez la connexion depuis celle-ci."
)
UNKNOWN_APP: Final = N_(
    "Cette application n'est pas référencée dans le catalogue de Carnet (ou ne l'est plus) : "
    "elle ne peut pas accéder à votre dossier."
)
BAD_REDIRECT: Final = N_(
    "L'adresse de retour de ce lien n'est pas celle que l'application a déclarée à Carnet. "
    "Par précaution, vous n'y serez pas renvoyé."
)
BAD_RESPONSE_TYPE: Final = N_(
    "L'application a fait une demande que Carnet ne sait pas traiter."
)
NO_PKCE: Final = N_(
    "L'application n'a pas protégé sa demande comme Carnet l'exige (PKCE S256)."
)
BAD_SCOPE: Final = N_(
    "L'application demande un accès qu'elle n'a pas déclaré à Carnet : {scope}."
)
NOTHING_TICKED: Final = N_("Cochez au moins un accès, ou refusez.")
PATIENTS_ONLY: Final = N_(
    "Seul un patient peut autoriser une application à accéder à son dossier : connectez-vous "
    "avec votre compte patient."
)
FRAMED: Final = N_(
    "Pour votre sécurité, cette page ne s'affiche pas à l'intérieur d'une autre page. "
    "Ouvrez-la seule, dans un onglet."
)
#: Whether the page is the tab's own page, not inside another site's frame (clickjacking: a
#: framed consent page could be clicked through a decoy). The buttons appear only once the
#: browser has said it is not framed.
TOP_LEVEL_SCRIPT: Final = "window.top === window.self"


@dataclasses.dataclass(frozen=True)
class ConsentRequest:
    """The app's OAuth 2 request, as the address carries it."""

    client_id: str
    redirect_uri: str
    scopes: list[str] | None  # None: every scope the app declared
    state: str | None
    code_challenge: str
    code_challenge_method: str
    response_type: str


def parse_request(query: str) -> ConsentRequest | None:
    """The request of the page's query string, or None when it cannot be one (no client id or
    redirect URI, a parameter given twice (RFC 6749 section 3.1) or absurdly long)."""
    values = parse_qs(query or "", keep_blank_values=True, max_num_fields=50)
    single: dict[str, str] = {}
    for name in PARAMETERS:
        found = values.get(name, [])
        if len(found) > 1 or any(len(v) > MAX_PARAMETER_LENGTH for v in found):
            return None
        if found:
            single[name] = found[0]
    if not single.get("client_id") or not single.get("redirect_uri"):
        return None
    scope = single.get("scope", "")
    return ConsentRequest(
        client_id=single["client_id"], redirect_uri=single["redirect_uri"],
        scopes=list(dict.fromkeys(scope.split())) or None, state=single.get("state"),
        code_challenge=single.get("code_challenge", ""),
        code_challenge_method=single.get("code_challenge_method", ""),
        response_type=single.get("response_type", ""),
    )


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` added to its query (None values left out), keeping its own."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclasses.dataclass(frozen=True)
class ConsentScope:
    scope: str
    label: str
    optional: bool
    checked: bool
    id: str  # the checkbox's DOM id


def scope_id(scope: str) -> str:
    return "consent-scope-" + "".join(c if c.isalnum() else "-" for c in scope)


class ConsentState(SessionState):
    loading: bool = True
    busy: bool = False
    error: str = ""  # the request cannot be answered: said, and nowhere to go
    retry_error: str = ""  # the API could not be reached ("Réessayer")
    problem: str = ""  # the app's request is wrong: said, and "Revenir à l'application"
    action_error: str = ""  # "Autoriser" refused, next to the buttons
    app_name: str = ""
    publisher: str = ""
    website_url: str = ""
    privacy_policy_url: str = ""
    scopes: list[ConsentScope] = []
    top_level: bool = False  # the browser said the page is not framed (TOP_LEVEL_SCRIPT)
    # Backend only: the checked request (never sent to the browser).
    _request: dict[str, Any] = {}
    _return_to_app: str = ""  # the app's checked address ('' until the API has checked it)
    _problem_code: str = ""  # the RFC 6749 error code of `problem`

    @rx.var
    def ready(self) -> bool:
        """The request was checked and can be answered (shows the scopes and the buttons)."""
        return (not self.loading and not self.error and not self.problem
                and not self.retry_error and self.app_name != "" and self.top_level)

    @rx.var
    def can_return(self) -> bool:
        return self.problem != ""

    def _reset_request(self) -> None:
        self.busy = False  # (left busy when the tab went to the app)
        self.error = self.retry_error = self.problem = self.action_error = ""
        self.app_name = self.publisher = self.website_url = self.privacy_policy_url = ""
        self.scopes = []
        self.top_level = False
        self._request = {}
        self._return_to_app = ""
        self._problem_code = ""

    def _redirect_back(self, **params: str | None) -> EventSpec | None:
        """Back to the app's checked address with `params` and the app's state; never to an
        address the API has not checked."""
        if not self._return_to_app:
            return None
        return rx.redirect(with_query(self._return_to_app,
                                      {**params, "state": self._request.get("state")}),
                           replace=True)

    @rx.event
    @api_errors(error="retry_error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load (and "Réessayer"): sign-in first, then the API checks the request."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._reset_request()
        self.loading = True
        yield
        request = parse_request(str(self.router.url.query or ""))
        if request is None:
            self.error = self._t(INVALID_LINK)
            return
        self._request = dataclasses.asdict(request)
        try:
            data = await self._query(APP_AUTHORIZATION_REQUEST, {
                "clientId": request.client_id, "redirectUri": request.redirect_uri,
                "scopes": request.scopes})
        except api.ApiError as exc:
            if exc.code != "FORBIDDEN":
                raise
            self.error = self._t(PATIENTS_ONLY)  # a professional's account
            return
        result = data["appAuthorizationRequest"]
        kind = result.get("__typename")
        if kind == "UnknownApp":
            self.error = self._t(UNKNOWN_APP)
            return
        if kind == "InvalidRedirectUri":
            self.error = self._t(BAD_REDIRECT)
            return
        # From here on the app and its address are known good: it may be told the answer.
        self._return_to_app = request.redirect_uri
        if kind == "InvalidScope":
            self._problem_code = "invalid_scope"
            self.problem = self._t(BAD_SCOPE, scope=str(result.get("scope") or ""))
            return
        if kind != "AppAuthorizationRequest":
            self._return_to_app = ""
            self.error = str(result.get("message") or "") or self._t(api.UNEXPECTED_MESSAGE)
            return
        if request.response_type != "code":
            self._problem_code = "unsupported_response_type"
            self.problem = self._t(BAD_RESPONSE_TYPE)
            return
        if request.code_challenge_method != "S256" or not request.code_challenge:
            self._problem_code = "invalid_request"
            self.problem = self._t(NO_PKCE)
            return
        self.app_name = str(result["name"])
        self.publisher = str(result["publisher"])
        self.website_url = _http_link(result.get("websiteUrl"))
        self.privacy_policy_url = _http_link(result.get("privacyPolicyUrl"))
        self.scopes = [ConsentScope(scope=str(s["scope"]), label=str(s["label"]),
                                    optional=bool(s["optional"]), checked=True,
                                    id=scope_id(str(s["scope"])))
                       for s in result["scopes"]]
        yield rx.call_script(TOP_LEVEL_SCRIPT, callback=ConsentState.set_top_level)

    @rx.event
    def set_top_level(self, top_level: object) -> None:
        """The browser's answer to TOP_LEVEL_SCRIPT (anything but true: framed)."""
        self.top_level = top_level is True
        if not self.top_level and self.app_name:
            self.error = self._t(FRAMED)

    @rx.event
    def set_scope(self, scope: str, checked: bool) -> None:
        """A scope's checkbox: only optional ones can be unticked."""
        self.action_error = ""
        self.scopes = [dataclasses.replace(s, checked=bool(checked) or not s.optional)
                       if s.scope == scope else s for s in self.scopes]

    @rx.event
    async def approve(self) -> AsyncIterator[EventSpec | None]:
        """"Autoriser": the ticked scopes; the browser goes where the API says (the app's
        address with the one-time code)."""
        if self.busy or not self.ready:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        granted = [s.scope for s in self.scopes if s.checked]
        if not granted:
            self.action_error = self._t(NOTHING_TICKED)
            yield focus(ERROR_ID)
            return
        self.action_error = ""
        self.busy = True
        yield
        request = self._request
        try:
            data = await self._query(AUTHORIZE_APP, {
                "clientId": request["client_id"], "redirectUri": request["redirect_uri"],
                "scopes": granted, "state": request.get("state"),
                "codeChallenge": request["code_challenge"],
                "codeChallengeMethod": request["code_challenge_method"]})
        except api.ApiUnauthenticated:
            self.busy = False
            yield self._expired()
            return
        except api.ApiError as exc:
            self.busy = False
            self.action_error = self._api_failed(exc)
            yield focus(ERROR_ID)
            return
        result = data["authorizeApp"]
        if result.get("__typename") != "AuthorizationGranted":
            self.busy = False
            self.action_error = str(result.get("message") or "") or self._t(
                api.UNEXPECTED_MESSAGE)
            yield focus(ERROR_ID)
            return
        # Stays busy: the tab is leaving for the app.
        yield rx.redirect(str(result["redirectTo"]), replace=True)

    @rx.event
    def deny(self) -> EventSpec | None:
        """"Refuser": back to the app, which is told the patient said no."""
        if self.busy or not self.ready:
            return None
        self.busy = True
        return self._redirect_back(error="access_denied")

    @rx.event
    def return_with_error(self) -> EventSpec | None:
        """"Revenir à l'application" under a wrong request: the app is told what was wrong."""
        if self.busy or not self._problem_code:
            return None
        self.busy = True
        return self._redirect_back(error=self._problem_code)


def _http_link(value: object) -> str:
    text = str(value or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else ""
