"""State of the login pages: identifier + password (/connexion), then the one-time code
(/connexion/code).

The password travels once, in the submitted form, and is never kept in state. The challenge
id (which, with the code, opens a session) stays in a backend-only var. The API's answers are
typed unions; each error type gets its own message here, in the tab's language
(`login_error_message`, `code_error_message`, `resend_error_message`). Once signed in, the tab
goes back to the page it asked for (`SessionState._take_return_to`), if the account may use
it (`return_target`): a professional never lands on a patient's page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import ACCOUNT_ROUTE, FORGOT_PASSWORD_ROUTE, MESSAGING_ROUTE
from carnet_web.state.formatting import countdown, seconds_until, wait_text
from carnet_web.state.session import (
    CODE_ROUTE,
    HOME_ROUTE,
    LOGIN_ROUTE,
    PRO_HOME_ROUTE,
    PROFESSIONAL_ROLE,
    SESSIONS_ROUTE,
    SessionState,
    api_errors,
)

CHANNELS: Final = ("EMAIL", "SMS")
TICK_SECONDS: Final = 1.0

LOGIN: Final = api.operation(
    """
    mutation Login($identifier: String!, $password: String!, $channel: CodeChannel) {
      login(identifier: $identifier, password: $password, channel: $channel) {
        __typename
        ... on LoginChallenge {
          challengeId channel maskedDestination expiresAt resendsLeft
        }
        ... on Error { message }
        ... on RateLimited { retryAfterSeconds }
        ... on TemporarilyLocked { retryAfterSeconds }
      }
    }
    """
)

VERIFY_LOGIN_CODE: Final = api.operation(
    """
    mutation VerifyLoginCode($challengeId: String!, $code: String!) {
      verifyLoginCode(challengeId: $challengeId, code: $code) {
        __typename
        ... on Session { token expiresAt idleTimeoutSeconds }
        ... on Error { message }
        ... on AccountClosed { reopenTicket }
        ... on InvalidCode { attemptsLeft }
        ... on RateLimited { retryAfterSeconds }
        ... on TemporarilyLocked { retryAfterSeconds }
      }
    }
    """
)

#: A closed space's owner reopens it with the ticket of `AccountClosed` (backend/closure).
REOPEN_ACCOUNT: Final = api.operation(
    """
    mutation ReopenAccount($ticket: String!) {
      reopenAccount(ticket: $ticket) {
        __typename
        ... on Session { token expiresAt idleTimeoutSeconds }
        ... on Error { message }
      }
    }
    """
)

RESEND_LOGIN_CODE: Final = api.operation(
    """
    mutation ResendLoginCode($challengeId: String!) {
      resendLoginCode(challengeId: $challengeId) {
        __typename
        ... on LoginChallenge {
          challengeId channel maskedDestination expiresAt resendsLeft
        }
        ... on Error { message }
        ... on RateLimited { retryAfterSeconds }
      }
    }
    """
)

ME: Final = api.operation(
    """
    query Me {
      me { identifier role }
    }
    """
)

# Public: whether (and where) professionals can sign in with Pro Santé Connect.
LOGIN_OPTIONS: Final = api.operation(
    """
    query LoginOptions {
      platform { proSanteConnectLoginUrl }
    }
    """
)


def home_route_for(role: str) -> str:
    """Where a tab goes once signed in: professionals to their area, patients home."""
    return PRO_HOME_ROUTE if role == PROFESSIONAL_ROLE else HOME_ROUTE


def psc_login_link(url: object) -> str:
    """The API's Pro Santé Connect login address, if it is a plain http(s) URL; else ''."""
    text = str(url or "")
    return text if re.fullmatch(r"https?://[^\s\"'<>]+", text) else ""

def psc_binding_of(secret: str) -> str:
    """What /auth/psc/login?binding= gets for the tab's secret: SHA-256, base64url (the API
    checks the secret itself against it when the ticket is exchanged)."""
    digest = hashlib.sha256(secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def psc_start_url(login_url: str, secret: str) -> str:
    """The API's login address with this tab's binding (never the secret itself)."""
    parts = urlsplit(login_url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(
        query=query + urlencode({"binding": psc_binding_of(secret)})))


# --- messages (French msgids; shown in the tab's language) ------------------------------

MISSING_CREDENTIALS: Final = N_("Saisissez votre identifiant et votre mot de passe.")
MALFORMED_CODE: Final = N_("Saisissez les 6 chiffres du code reçu.")
INVALID_CREDENTIALS: Final = N_("Identifiant ou mot de passe incorrect.")
CODE_DELIVERY_FAILED: Final = N_(
    "Le code n'a pas pu être envoyé. Réessayez dans quelques minutes ou choisissez un autre "
    "moyen de réception."
)
CODE_EXPIRED: Final = N_("Ce code a expiré ou a déjà été utilisé. Demandez un nouveau code.")
TOO_MANY_ATTEMPTS: Final = N_("Trop d'essais pour ce code. Demandez un nouveau code.")
CHALLENGE_EXPIRED: Final = N_("Cette demande de connexion a expiré. Recommencez la connexion.")
NO_MORE_RESENDS: Final = N_(
    "Le nombre maximal de renvois est atteint pour cette connexion. Recommencez la connexion."
)
NO_PHONE: Final = N_(
    "Aucun numéro de téléphone vérifié n'est associé à ce compte : "
    "choisissez de recevoir le code par e-mail."
)
NO_EMAIL: Final = N_(
    "Aucune adresse e-mail vérifiée n'est associée à ce compte : "
    "choisissez de recevoir le code par SMS."
)
NEW_CODE_BY_EMAIL: Final = N_(
    "Un nouveau code vous a été envoyé par e-mail à {destination}. L'ancien code ne "
    "fonctionne plus."
)
NEW_CODE_BY_SMS: Final = N_(
    "Un nouveau code vous a été envoyé par SMS au {destination}. L'ancien code ne "
    "fonctionne plus."
)


def rate_limited_message(seconds: int, language: str = "fr") -> str:
    return gettext(language, "Trop de tentatives. Veuillez réessayer dans {wait}.",
                   wait=wait_text(seconds, language))


def locked_message(seconds: int, language: str = "fr") -> str:
    return gettext(
        language,
        "Trop d'échecs consécutifs : la connexion à ce compte est bloquée temporairement. "
        "Veuillez réessayer dans {wait}.", wait=wait_text(seconds, language))


#: Password and code were right, but the space is closed (`AccountClosed`).
SPACE_CLOSED: Final = N_("Vous avez clôturé votre espace. Vous pouvez le rouvrir tant qu'il "
                         "est archivé.")


def channel_unavailable_message(channel: str, language: str = "fr") -> str:
    return gettext(language, NO_PHONE if channel == "SMS" else NO_EMAIL)


def invalid_code_message(attempts_left: int, language: str = "fr") -> str:
    if attempts_left <= 0:
        return gettext(language, "Code incorrect. Ce code n'est plus utilisable : demandez un "
                       "nouveau code.")
    if attempts_left == 1:
        return gettext(language, "Code incorrect. Il vous reste 1 essai.")
    return gettext(language, "Code incorrect. Il vous reste {n} essais.", n=attempts_left)


def common_message(result: Mapping[str, Any], language: str = "fr") -> str | None:
    """The message of the error types every code step shares (rate limits, lock, delivery)."""
    kind = result.get("__typename")
    if kind == "RateLimited":
        return rate_limited_message(int(result.get("retryAfterSeconds") or 60), language)
    if kind == "TemporarilyLocked":
        return locked_message(int(result.get("retryAfterSeconds") or 60), language)
    if kind == "CodeDeliveryFailed":
        return gettext(language, CODE_DELIVERY_FAILED)
    return None


def fallback_message(result: Mapping[str, Any], language: str = "fr") -> str:
    """An error type this page does not know yet: the API's own message (the API answers in
    the tab's language: Accept-Language)."""
    message = result.get("message")
    if isinstance(message, str) and message:
        return gettext(language, message)
    return gettext(language, api.UNEXPECTED_MESSAGE)


def login_error_message(result: Mapping[str, Any], *, channel: str = "EMAIL",
                        language: str = "fr") -> str:
    """The message for an error member of `LoginResult`."""
    kind = result.get("__typename")
    if kind == "InvalidCredentials":
        return gettext(language, INVALID_CREDENTIALS)
    if kind == "ChannelUnavailable":
        return channel_unavailable_message(channel, language)
    return common_message(result, language) or fallback_message(result, language)


def code_error_message(result: Mapping[str, Any], language: str = "fr") -> str:
    """The message for an error member of `VerifyLoginCodeResult` (and of the other code
    steps: they share these types)."""
    kind = result.get("__typename")
    if kind == "InvalidCode":
        return invalid_code_message(int(result.get("attemptsLeft") or 0), language)
    if kind == "CodeExpired":
        return gettext(language, CODE_EXPIRED)
    if kind == "TooManyAttempts":
        return gettext(language, TOO_MANY_ATTEMPTS)
    if kind == "AccountClosed":
        return gettext(language, SPACE_CLOSED)
    return common_message(result, language) or fallback_message(result, language)


def resend_error_message(result: Mapping[str, Any], language: str = "fr") -> str:
    """The message for an error member of `ResendLoginCodeResult`."""
    kind = result.get("__typename")
    if kind == "CodeExpired":
        return gettext(language, CHALLENGE_EXPIRED)
    if kind == "TooManyAttempts":
        return gettext(language, NO_MORE_RESENDS)
    return common_message(result, language) or fallback_message(result, language)


def _under(path: str, route: str) -> bool:
    return path == route or path.startswith(route + "/")


#: Pages a professional's account can use (the rest is the patient's: they would only show
#: errors).
PROFESSIONAL_PAGES: Final = (PRO_HOME_ROUTE, MESSAGING_ROUTE, SESSIONS_ROUTE, ACCOUNT_ROUTE)
#: Pages that make no sense to come back to once signed in.
SIGN_IN_PAGES: Final = (LOGIN_ROUTE, FORGOT_PASSWORD_ROUTE)


def return_target(target: str, role: str) -> str:
    """Where to go after signing in: `target` (the page asked for) if this account may use it,
    else its home (professionals: their area; patients: the home page)."""
    home = home_route_for(role)
    target = target or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return home  # only a path of this site
    path = urlsplit(target).path
    if any(_under(path, page) for page in SIGN_IN_PAGES):
        return home
    if role == PROFESSIONAL_ROLE:
        allowed = any(_under(path, page) for page in PROFESSIONAL_PAGES)
    else:
        allowed = not _under(path, PRO_HOME_ROUTE)
    return target if allowed else home


def normalise_code(raw: object) -> str | None:
    """'123 456' or '123-456' -> '123456'; None unless exactly 6 digits remain."""
    code = re.sub(r"[\s-]", "", str(raw or ""))
    return code if re.fullmatch(r"[0-9]{6}", code) else None


class LoginState(SessionState):
    # Login form (identifier and password are read from the submitted form, not kept).
    channel: str = "EMAIL"
    # Shared by both pages.
    error: str = ""
    info: str = ""
    busy: bool = False
    # Bumped after a failed try, so the page remounts (and so empties) the password or code.
    password_field_key: int = 0
    code_field_key: int = 0
    # The pending challenge, as shown on the code page.
    masked_destination: str = ""
    code_channel: str = ""
    resends_left: int = 0
    seconds_left: int = 0

    # The API's GET /auth/psc/login as browsers reach it; '' when PSC is not configured.
    psc_login_url: str = ""

    _challenge_id: str = ""
    # Password and code were right, but the space is closed: it may be reopened (the ticket of
    # `AccountClosed`, one use, kept server side only).
    space_closed: bool = False
    space_closed_message: str = ""
    _reopen_ticket: str = ""
    _expires_at: str = ""  # ISO 8601, from the API
    _countdown_run: int = 0  # each countdown loop exits when a newer one starts

    @rx.var
    def countdown(self) -> str:
        """Time left before the code expires, as mm:ss."""
        return countdown(self.seconds_left)

    @rx.event
    def set_channel(self, value: str) -> None:
        if value in CHANNELS:
            self.channel = value

    # --- /connexion -------------------------------------------------------------------

    @rx.event
    def open_login_page(self) -> EventSpec | None:
        """on_load of /connexion: a fresh form; a signed-in tab goes home instead."""
        self.error = ""
        self.info = ""
        self.busy = False
        self.space_closed, self.space_closed_message, self._reopen_ticket = False, "", ""
        if self.signed_in:
            return rx.redirect(home_route_for(self.account_role))
        return None

    @rx.event
    @api_errors(error="error", busy="busy")
    async def login(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """Submit identifier + password; on a challenge, go to the code page."""
        if self.busy:
            return
        identifier = str(form_data.get("identifier") or "").strip()
        password = str(form_data.get("password") or "")
        if not identifier or not password:
            self.error = self._t(MISSING_CREDENTIALS)
            return
        self.busy = True
        self.error = ""
        self.notice = ""
        yield  # show the button as busy now
        data = await self._query(
            LOGIN, {"identifier": identifier, "password": password, "channel": self.channel}
        )
        self.busy = False
        result = data["login"]
        if result.get("__typename") != "LoginChallenge":
            self.error = login_error_message(result, channel=self.channel, language=self.lang)
            self.password_field_key += 1
            return
        self._take_challenge(result)
        self.info = ""
        yield rx.redirect(CODE_ROUTE)

    @rx.event
    async def load_login_options(self) -> None:
        """on_load of /connexion, after `open_login_page`: show "Se connecter avec Pro Santé
        Connect" only when the API says it is configured. Failing that, no button."""
        try:
            data = await self._query(LOGIN_OPTIONS)
        except api.ApiError:
            self.psc_login_url = ""
            return
        self.psc_login_url = psc_login_link((data.get("platform") or {}).get(
            "proSanteConnectLoginUrl"))

    @rx.event
    def start_psc_login(self) -> EventSpec | None:
        """"Se connecter avec Pro Santé Connect": draw a secret for this tab, keep it here
        (server side, never in a URL), and go to the API's login with its SHA-256. The ticket
        the API hands back only opens a session together with the secret (state/pro_psc.py),
        so a ticket link sent by someone else signs nobody in to their account."""
        url = psc_login_link(self.psc_login_url)
        if not url:
            return None
        secret = secrets.token_urlsafe(32)
        self._psc_binding = secret
        return rx.redirect(psc_start_url(url, secret))

    # --- /connexion/code --------------------------------------------------------------

    def _take_challenge(self, challenge: Mapping[str, Any]) -> None:
        self.space_closed, self.space_closed_message, self._reopen_ticket = False, "", ""
        self._challenge_id = str(challenge["challengeId"])
        self._expires_at = str(challenge["expiresAt"])
        self.masked_destination = str(challenge["maskedDestination"])
        self.code_channel = str(challenge["channel"])
        self.resends_left = int(challenge["resendsLeft"])
        self.seconds_left = seconds_until(self._expires_at)

    def _drop_challenge(self) -> None:
        self._challenge_id = ""
        self._expires_at = ""
        self.masked_destination = ""
        self.code_channel = ""
        self.resends_left = 0
        self.seconds_left = 0
        self._countdown_run += 1  # stops the countdown loop

    @rx.event
    def open_code_page(self) -> EventSpec | Any | None:
        """on_load of /connexion/code: needs a pending challenge; starts the countdown. What
        the last resend said does not outlive the page."""
        self.error = ""
        self.info = ""
        self.busy = False
        if self.signed_in:
            return rx.redirect(home_route_for(self.account_role))
        if not self._challenge_id:
            return rx.redirect(LOGIN_ROUTE)
        self.seconds_left = seconds_until(self._expires_at)
        return LoginState.run_countdown

    @rx.event(background=True)
    async def run_countdown(self) -> None:
        """Refresh `seconds_left` every second until the code expires, the challenge ends or
        the tab leaves the code page.

        Started by the code page's on_load (Reflex cancels it when the tab goes away) and
        after each resend; a newer loop makes the older one exit.
        """
        async with self:
            self._countdown_run += 1
            run = self._countdown_run
        while True:
            await asyncio.sleep(TICK_SECONDS)
            async with self:
                if self._countdown_run != run or not self._challenge_id:
                    return
                if self.router.url.path.rstrip("/") != CODE_ROUTE:
                    return  # the tab left the code page; its on_load starts a new loop
                self.seconds_left = seconds_until(self._expires_at)
                if self.seconds_left == 0:
                    return

    @rx.event
    @api_errors(error="error", busy="busy")
    async def verify(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """Submit the code; on a session, keep its token (server side only) and go back to
        the page asked for (else the account's home)."""
        if self.busy:
            return
        if not self._challenge_id:
            yield rx.redirect(LOGIN_ROUTE)
            return
        code = normalise_code(form_data.get("code"))
        if code is None:
            self.error = self._t(MALFORMED_CODE)
            self.info = ""
            return
        self.busy = True
        self.error = ""
        self.info = ""
        yield
        data = await self._query(
            VERIFY_LOGIN_CODE, {"challengeId": self._challenge_id, "code": code}
        )
        self.busy = False
        result = data["verifyLoginCode"]
        if result.get("__typename") == "AccountClosed":
            self._reopen_ticket = str(result.get("reopenTicket") or "")
            self.space_closed = True
            self.space_closed_message = code_error_message(result, self.lang)
            return
        if result.get("__typename") != "Session":
            self.error = code_error_message(result, self.lang)
            self.code_field_key += 1
            return
        async for event in self._open_session(str(result["token"])):
            yield event

    async def _open_session(self, token: str) -> AsyncIterator[EventSpec]:
        self._api_token = token  # so the next query runs as the new session
        identifier, role = await self._whoami()
        self._sign_in(token, identifier, role)
        self._drop_challenge()
        yield rx.redirect(self._after_sign_in(role))

    @rx.event
    @api_errors(error="error", busy="busy")
    async def reopen(self) -> AsyncIterator[EventSpec | None]:
        """"Rouvrir mon espace": the closed space is active again, as it was; signed in."""
        if self.busy or not self._reopen_ticket:
            return
        self.busy = True
        self.error = ""
        yield
        ticket, self._reopen_ticket = self._reopen_ticket, ""
        result = (await self._query(REOPEN_ACCOUNT, {"ticket": ticket}))["reopenAccount"]
        self.busy = False
        self.space_closed = False
        if result.get("__typename") != "Session":
            self.error = code_error_message(result, self.lang)
            return
        async for event in self._open_session(str(result["token"])):
            yield event

    def _after_sign_in(self, role: str) -> str:
        """The page asked for before signing in (once), if this account may use it; else
        its home."""
        return return_target(self._take_return_to(""), role)

    async def _whoami(self) -> tuple[str, str]:
        """(identifier, role) of the session just opened; blanks if the API cannot say (signed
        in all the same; the header says less)."""
        with contextlib.suppress(api.ApiError):
            me = (await self._query(ME)).get("me") or {}
            return str(me.get("identifier") or ""), str(me.get("role") or "")
        return "", ""

    @rx.event
    @api_errors(error="error", busy="busy")
    async def resend(self) -> AsyncIterator[Any]:
        """"Renvoyer le code": a new code (the old one stops working), a new countdown."""
        if self.busy or not self._challenge_id:
            return
        self.busy = True
        self.error = ""
        self.info = ""
        yield
        data = await self._query(RESEND_LOGIN_CODE, {"challengeId": self._challenge_id})
        self.busy = False
        result = data["resendLoginCode"]
        if result.get("__typename") != "LoginChallenge":
            self.error = resend_error_message(result, self.lang)
            if result.get("__typename") in ("CodeExpired", "TooManyAttempts"):
                self.resends_left = 0
            return
        self._take_challenge(result)
        self.code_field_key += 1
        self.info = self._t(NEW_CODE_BY_SMS if self.code_channel == "SMS" else NEW_CODE_BY_EMAIL,
                            destination=self.masked_destination)
        yield LoginState.run_countdown
