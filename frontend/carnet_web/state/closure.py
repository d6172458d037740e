"""State of "Clôturer mon espace" (a block of /mon-compte, patients only).

The export is offered first (a link to "Exporter mon dossier (FHIR)" on /profil: once closed,
no session opens until the space is reopened). Then the current password
(requestAccountClosure, which sends a code), then the code and the choice to delete at once
(confirmAccountClosure). On success every session of the account is closed, this one too: the
tab goes to the login page, which says the space is closed.

Passwords and codes are read from the submitted forms and never kept in state; the challenge
id stays in a backend-only var.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_
from carnet_web.state.account import (
    CODE,
    CURRENT_PASSWORD_MISSING,
    FORM,
    MALFORMED_CODE,
    step_up_error,
)
from carnet_web.state.focus import focus
from carnet_web.state.login import code_error_message, normalise_code
from carnet_web.state.session import SessionState, api_errors

REQUEST_ACCOUNT_CLOSURE: Final = api.operation(
    """
    mutation RequestAccountClosure($currentPassword: String!) {
      requestAccountClosure(currentPassword: $currentPassword) {
        __typename
        ... on LoginChallenge { challengeId channel maskedDestination expiresAt }
        ... on Error { message }
        ... on RateLimited { retryAfterSeconds }
        ... on TemporarilyLocked { retryAfterSeconds }
      }
    }
    """
)

CONFIRM_ACCOUNT_CLOSURE: Final = api.operation(
    """
    mutation ConfirmAccountClosure($challengeId: String!, $code: String!, $deleteNow: Boolean!) {
      confirmAccountClosure(challengeId: $challengeId, code: $code, deleteNow: $deleteNow) {
        __typename
        ... on AccountClosure { closedAt purgeAfter deletionRequested }
        ... on Error { message }
        ... on InvalidCode { attemptsLeft }
        ... on RateLimited { retryAfterSeconds }
        ... on TemporarilyLocked { retryAfterSeconds }
      }
    }
    """
)

#: The button that opens the block (focus goes back to it on "Annuler").
CLOSURE_BUTTON: Final = "account-closure-start"
SPACE_CLOSED: Final = N_(
    "Votre espace est clôturé. Il est archivé et plus personne ne peut le consulter. Pour le "
    "rouvrir, reconnectez-vous avec votre identifiant et votre mot de passe."
)
SPACE_CLOSED_FOR_DELETION: Final = N_(
    "Votre espace est clôturé et sera supprimé dans les 3 mois. D'ici là, vous pouvez encore "
    "le rouvrir en vous reconnectant."
)


class ClosureState(SessionState):
    # '' (nothing under way), 'form' (current password), 'code' (code + choice).
    closure_step: str = ""
    closure_masked: str = ""
    closure_channel: str = ""
    closure_error: str = ""
    closure_busy: bool = False
    closure_field_key: int = 0
    _closure_challenge: str = ""

    @rx.event
    def start_closure(self) -> None:
        self.closure_step = FORM
        self.closure_error = self.closure_masked = self.closure_channel = ""
        self._closure_challenge = ""
        self.closure_field_key += 1

    @rx.event
    def cancel_closure(self) -> EventSpec:
        self.closure_step = self.closure_masked = self.closure_error = ""
        self._closure_challenge = ""
        return focus(CLOSURE_BUTTON)

    @rx.event
    @api_errors(error="closure_error", busy="closure_busy")
    async def request_closure(self, form_data: dict[str, Any]
                              ) -> AsyncIterator[EventSpec | None]:
        """My current password: a code goes to my usual contact."""
        if self.closure_busy:
            return
        password = str(form_data.get("current_password") or "")
        if not password:
            self.closure_error = self._t(CURRENT_PASSWORD_MISSING)
            return
        self.closure_busy = True
        self.closure_error = ""
        yield
        result = (await self._query(REQUEST_ACCOUNT_CLOSURE, {"currentPassword": password})
                  )["requestAccountClosure"]
        self.closure_field_key += 1  # empties the field, whatever the answer
        if result.get("__typename") != "LoginChallenge":
            self.closure_error = step_up_error(result, language=self.lang)
            return
        self._closure_challenge = str(result["challengeId"])
        self.closure_masked = str(result.get("maskedDestination") or "")
        self.closure_channel = str(result.get("channel") or "")
        self.closure_step = CODE

    @rx.event
    @api_errors(error="closure_error", busy="closure_busy")
    async def confirm_closure(self, form_data: dict[str, Any]
                              ) -> AsyncIterator[EventSpec | None]:
        """The code received (and whether to delete at once): the space is closed, every
        session with it; the tab goes to the login page."""
        if not self._closure_challenge or self.closure_busy:
            return
        code = normalise_code(form_data.get("code"))
        if code is None:
            self.closure_error = self._t(MALFORMED_CODE)
            return
        delete_now = str(form_data.get("delete_now") or "") in ("on", "true", "1")
        self.closure_busy = True
        self.closure_error = ""
        yield
        result = (await self._query(CONFIRM_ACCOUNT_CLOSURE, {
            "challengeId": self._closure_challenge, "code": code, "deleteNow": delete_now,
        }))["confirmAccountClosure"]
        if result.get("__typename") != "AccountClosure":
            self.closure_error = code_error_message(result, self.lang)
            self.closure_field_key += 1  # empties the code
            if result.get("__typename") in ("CodeExpired", "TooManyAttempts"):
                self._closure_challenge = ""
                self.closure_step = FORM
            return
        self._closure_challenge = ""
        self.closure_step = ""
        yield self._to_login(SPACE_CLOSED_FOR_DELETION if result.get("deletionRequested")
                             else SPACE_CLOSED)
