"""State of the public page of the opt-out campaigns (/activation): with the notice's code, the
NIR and the birth date, a person activates their space early (choosing an identifier, a password
and a contact), or refuses it. No session: the three are the proof; the API answers every miss
alike, and so does this page. Nothing typed is kept: fields are read from the submitted form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import ACTIVATION_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.account import new_password_error
from carnet_web.state.focus import focus
from carnet_web.state.formatting import wait_text
from carnet_web.state.login import fallback_message
from carnet_web.state.session import SessionState, api_errors

ACTIVATE_ACCOUNT: Final = api.operation(
    """
    mutation ActivateAccount($notice: NoticeClaimInput!, $choice: ActivationChoiceInput!) {
      activateAccount(notice: $notice, choice: $choice) {
        __typename
        ... on AccountActivated { identifier }
        ... on Error { message }
        ... on ActivationRateLimited { retryAfter }
        ... on InvalidActivationInput { field }
      }
    }
    """
)

REFUSE_ACCOUNT: Final = api.operation(
    """
    mutation RefuseAccount($notice: NoticeClaimInput!) {
      refuseAccount(notice: $notice) {
        __typename
        ... on AccountRefused { refused }
        ... on Error { message }
        ... on ActivationRateLimited { retryAfter }
      }
    }
    """
)

ACTIVATE: Final = "activate"
REFUSE: Final = "refuse"
ACTIVATED: Final = "activated"
REFUSED: Final = "refused"

MISSING: Final = N_("Saisissez votre numéro de sécurité sociale, votre date de naissance et le "
                    "code reçu.")
NO_CONTACT: Final = N_("Indiquez une adresse e-mail ou un numéro de téléphone : vos codes de "
                       "connexion y seront envoyés.")


def notice_of(form_data: Mapping[str, Any]) -> dict[str, str] | None:
    """The NoticeClaimInput of the form, or None when a part is missing."""
    nir = "".join(str(form_data.get("nir") or "").split())
    birth = str(form_data.get("birth_date") or "").strip()
    code = str(form_data.get("code") or "").strip()
    if not nir or not birth or not code:
        return None
    return {"nir": nir[:20], "birthDate": birth[:10], "code": code[:20]}


def answer_error(result: Mapping[str, Any], language: str = "fr") -> str:
    if result.get("__typename") == "ActivationRateLimited":
        return gettext(language, "Trop de tentatives. Réessayez dans {wait}.",
                       wait=wait_text(int(result.get("retryAfter") or 60), language))
    return str(result.get("message") or fallback_message(result, language))


class ActivationState(SessionState):
    mode: str = ACTIVATE
    step: str = ""  # "", ACTIVATED, REFUSED
    identifier: str = ""  # shown once activated: what to sign in with
    error: str = ""
    busy: bool = False
    field_key: int = 0  # bumped after a failed try: the password fields are emptied

    @rx.event
    def open_page(self) -> None:
        self.error = ""
        self.busy = False
        if self.step:
            self.step, self.identifier = "", ""
        mode = self.router.page.params.get("choix", "")
        self.mode = REFUSE if mode == "refuser" else ACTIVATE

    @rx.event
    def set_mode(self, value: str) -> None:
        if value in (ACTIVATE, REFUSE):
            self.mode, self.error = value, ""

    @rx.event
    @api_errors(error="error", busy="busy")
    async def activate(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        if self.busy:
            return
        notice = notice_of(form_data)
        if notice is None:
            self.error = self._t(MISSING)
            return
        email = str(form_data.get("email") or "").strip() or None
        phone = str(form_data.get("phone") or "").strip() or None
        if not email and not phone:
            self.error = self._t(NO_CONTACT)
            return
        password = str(form_data.get("password") or "")
        problem = new_password_error(password, str(form_data.get("confirm_password") or ""),
                                     self.lang)
        if problem:
            self.error, self.field_key = problem, self.field_key + 1
            return
        self.busy, self.error = True, ""
        yield
        identifier = str(form_data.get("identifier") or "").strip() or None
        result = (await self._query(ACTIVATE_ACCOUNT, {"notice": notice, "choice": {
            "identifier": identifier, "password": password, "email": email,
            "phone": phone}}))["activateAccount"]
        self.field_key += 1
        if result.get("__typename") != "AccountActivated":
            self.error = answer_error(result, self.lang)
            return
        self.identifier = str(result["identifier"])
        self.step = ACTIVATED
        yield focus("activation-done")

    @rx.event
    @api_errors(error="error", busy="busy")
    async def refuse(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        if self.busy:
            return
        notice = notice_of(form_data)
        if notice is None:
            self.error = self._t(MISSING)
            return
        self.busy, self.error = True, ""
        yield
        result = (await self._query(REFUSE_ACCOUNT, {"notice": notice}))["refuseAccount"]
        if result.get("__typename") != "AccountRefused":
            self.error = answer_error(result, self.lang)
            return
        self.step = REFUSED
        yield focus("activation-done")
