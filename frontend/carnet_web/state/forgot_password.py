"""State of "Mot de passe oublié" (/mot-de-passe-oublie): my identifier, then the code sent to
my verified contact with a new password (twice), then done: every session of the account was
ended, sign in again.

The API answers the first step alike whether or not the identifier names an account, and so
does this page: the same screen, the same words, for everyone. The challenge id stays in a
backend-only var; passwords and codes are read from the submitted form, never kept. A pending
step survives a reload (the language switch reloads the page); the "done" screen does not: it
is shown once, and coming back starts afresh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import FORGOT_PASSWORD_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.account import WEAK_PASSWORD, new_password_error
from carnet_web.state.focus import focus
from carnet_web.state.formatting import seconds_until, wait_text
from carnet_web.state.login import (
    CHANNELS,
    MALFORMED_CODE,
    code_error_message,
    common_message,
    fallback_message,
    normalise_code,
)
from carnet_web.state.session import SessionState, api_errors

REQUEST_PASSWORD_RESET: Final = api.operation(
    """
    mutation RequestPasswordReset($identifier: String!, $channel: CodeChannel) {
      requestPasswordReset(identifier: $identifier, channel: $channel) {
        __typename
        ... on PasswordResetRequested { challengeId expiresAt }
        ... on Error { message }
        ... on RateLimited { retryAfterSeconds }
      }
    }
    """
)

CONFIRM_PASSWORD_RESET: Final = api.operation(
    """
    mutation ConfirmPasswordReset($challengeId: String!, $code: String!, $newPassword: String!) {
      confirmPasswordReset(challengeId: $challengeId, code: $code, newPassword: $newPassword) {
        __typename
        ... on PasswordReset { sessionsClosed }
        ... on Error { message }
        ... on InvalidCode { attemptsLeft }
        ... on RateLimited { retryAfterSeconds }
        ... on TemporarilyLocked { retryAfterSeconds }
      }
    }
    """
)

IDENTIFIER: Final = "identifier"
CODE: Final = "code"
DONE: Final = "done"

IDENTIFIER_MISSING: Final = N_("Saisissez votre identifiant.")
NEW_CODE_SENT: Final = N_(
    "Si un compte correspond à cet identifiant, un nouveau code vient d'être envoyé. "
    "L'ancien ne fonctionne plus."
)
CODE_VOID: Final = N_("Ce code n'est plus utilisable. Demandez un nouveau code.")


def reset_request_error(result: Mapping[str, Any], language: str = "fr") -> str:
    """The message for an error member of `RequestPasswordResetResult`."""
    if result.get("__typename") == "RateLimited":
        return gettext(language, "Trop de demandes de réinitialisation. Veuillez réessayer "
                       "dans {wait}.", wait=wait_text(int(result.get("retryAfterSeconds") or 60),
                                                      language))
    return common_message(result, language) or fallback_message(result, language)


def reset_confirm_error(result: Mapping[str, Any], language: str = "fr") -> str:
    """The message for an error member of `ConfirmPasswordResetResult`."""
    if result.get("__typename") == "WeakPassword":
        return gettext(language, WEAK_PASSWORD)
    return code_error_message(result, language)


def validity_text(expires_at: str, language: str = "fr") -> str:
    """'Il est valable 15 minutes.' (rounded up), or '' once expired or unreadable."""
    seconds = seconds_until(expires_at)
    if seconds <= 0:
        return ""
    return gettext(language, "Il est valable {wait}.", wait=wait_text(seconds, language))


class ForgotPasswordState(SessionState):
    step: str = IDENTIFIER
    channel: str = "EMAIL"
    error: str = ""
    info: str = ""
    busy: bool = False
    validity: str = ""  # 'Il est valable 15 minutes.'
    sessions_closed: int = 0
    # Bumped after a failed try, so the page remounts (and so empties) the password fields.
    field_key: int = 0

    _identifier: str = ""  # to ask for a new code; never sent to the browser
    _challenge_id: str = ""
    _expires_at: str = ""

    def _restart(self) -> None:
        self.step = IDENTIFIER
        self._identifier = self._challenge_id = self._expires_at = ""
        self.validity = ""
        self.sessions_closed = 0

    @rx.event
    def open_page(self) -> None:
        """on_load: a finished reset is not shown again; a pending one goes on (its code is
        still valid), unless it has expired."""
        self.error = ""
        self.info = ""
        self.busy = False
        if self.step == DONE or (self.step == CODE and seconds_until(self._expires_at) <= 0):
            self._restart()
        if self.step == CODE:
            self.validity = validity_text(self._expires_at, self.lang)

    @rx.event
    def set_channel(self, value: str) -> None:
        if value in CHANNELS:
            self.channel = value

    @rx.event
    def start_over(self) -> None:
        """"Recommencer": back to the identifier."""
        self._restart()
        self.error = self.info = ""

    async def _request(self, identifier: str) -> bool:
        """Ask for a code; True once asked. Raises `api.ApiError`."""
        result = (await self._query(REQUEST_PASSWORD_RESET, {
            "identifier": identifier, "channel": self.channel}))["requestPasswordReset"]
        if result.get("__typename") != "PasswordResetRequested":
            self.error = reset_request_error(result, self.lang)
            return False
        self._identifier = identifier
        self._challenge_id = str(result["challengeId"])
        self._expires_at = str(result["expiresAt"])
        self.validity = validity_text(self._expires_at, self.lang)
        self.step = CODE
        return True

    @rx.event
    @api_errors(error="error", busy="busy")
    async def request_code(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """Step 1: my identifier; a code goes to my verified contact (if there is an
        account: the page says the same either way)."""
        if self.busy:
            return
        identifier = str(form_data.get("identifier") or "").strip()
        if not identifier:
            self.error = self._t(IDENTIFIER_MISSING)
            return
        self.busy = True
        self.error = self.info = ""
        yield
        await self._request(identifier[:254])

    @rx.event
    @api_errors(error="error", busy="busy")
    async def resend(self) -> AsyncIterator[EventSpec | None]:
        """"Recevoir un nouveau code": the same identifier, a new code (the old one stops
        working)."""
        if self.busy or not self._identifier:
            return
        self.busy = True
        self.error = self.info = ""
        yield
        if await self._request(self._identifier):
            self.field_key += 1
            self.info = self._t(NEW_CODE_SENT)

    @rx.event
    @api_errors(error="error", busy="busy")
    async def confirm(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """Step 2: the code and the new password (twice). Done: every session ended."""
        if self.busy:
            return
        if not self._challenge_id:
            self.error = self._t(CODE_VOID)
            return
        code = normalise_code(form_data.get("code"))
        new_password = str(form_data.get("new_password") or "")
        confirmation = str(form_data.get("confirm_password") or "")
        self.info = ""
        if code is None:
            self.error = self._t(MALFORMED_CODE)
            return
        problem = new_password_error(new_password, confirmation, self.lang)
        if problem:
            self.error = problem
            self.field_key += 1
            return
        self.busy = True
        self.error = ""
        yield
        result = (await self._query(CONFIRM_PASSWORD_RESET, {
            "challengeId": self._challenge_id, "code": code, "newPassword": new_password,
        }))["confirmPasswordReset"]
        self.field_key += 1
        kind = result.get("__typename")
        if kind != "PasswordReset":
            self.error = reset_confirm_error(result, self.lang)
            if kind == "InvalidCode" and int(result.get("attemptsLeft") or 0) <= 0:
                self._challenge_id = ""
                self.error = self._t(CODE_VOID)
            elif kind in ("CodeExpired", "TooManyAttempts"):
                self._challenge_id = ""
            return
        self.sessions_closed = int(result.get("sessionsClosed") or 0)
        self._identifier = self._challenge_id = self._expires_at = ""
        self.validity = ""
        self.step = DONE
        if self.signed_in:
            # Every session of the account was ended: this tab's too, if it was the same
            # account; in any case, signing in again is what comes next.
            self._sign_out()
        yield focus("reset-done")
