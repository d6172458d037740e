"""States of the two pages where a professional names a patient by their INS identity traits
(matricule INS, birth name, birth date): "Déclarer une relation de soins" (/pro/declarer,
`declareCareRelationship`) and "Accès d'urgence" (/pro/urgence, `emergencyAccess`, with a
required reason). Professionals only.

The traits are read from the submitted form and not kept in state once the API has answered
(a mismatch keeps them in the form, so the professional can correct a trait). Any mismatch gets
the one same message: neither the API nor this page says which trait differed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.state.focus import focus
from carnet_web.state.formatting import datetime_text
from carnet_web.state.pro_common import (
    TraitsError,
    identity_error_message,
    parse_traits,
    record_href,
    require_professional,
)
from carnet_web.state.session import SessionState, api_errors

MAX_REASON: Final = 1000  # as the API

DECLARE: Final = api.operation(
    """
    mutation DeclareCareRelationship($patient: PatientIdentityInput!) {
      declareCareRelationship(patient: $patient) {
        __typename
        ... on CareRelationshipDeclared { patientId }
        ... on Error { message }
        ... on TooManyFailedIdentityMatches { retryAfterSeconds }
      }
    }
    """
)

EMERGENCY: Final = api.operation(
    """
    mutation EmergencyAccess($patient: PatientIdentityInput!, $reason: String!) {
      emergencyAccess(patient: $patient, reason: $reason) {
        __typename
        ... on EmergencyAccessOpened { patientId expiresAt }
        ... on Error { message }
        ... on InvalidAccessInput { field }
        ... on TooManyFailedIdentityMatches { retryAfterSeconds }
      }
    }
    """
)

DECLARED: Final = N_(
    "La relation de soins est enregistrée. Le patient en est informé et peut y mettre fin à "
    "tout moment."
)
MISSING_REASON: Final = N_("Indiquez le motif de l'accès en urgence.")
LONG_REASON: Final = N_("Le motif dépasse {max} caractères.")
EMERGENCY_NOT_ALLOWED: Final = N_(
    "L'accès en urgence est réservé aux médecins urgentistes et aux médecins régulateurs du "
    "SAMU."
)
EMERGENCY_REFUSED: Final = N_("Ce patient a refusé l'accès en urgence à son dossier.")


def emergency_opened_message(expires_at: str, language: str = "fr") -> str:
    when = datetime_text(expires_at, language)
    if when:
        return gettext(language, "Accès d'urgence ouvert jusqu'au {date}. Le patient en est "
                       "informé et cet accès figure dans son historique des accès.", date=when)
    return gettext(language, "Accès d'urgence ouvert. Le patient en est informé et cet accès "
                   "figure dans son historique des accès.")


def _fallback(result: Mapping[str, Any], language: str) -> str:
    message = result.get("message")  # the API's, already in the tab's language
    return (message if isinstance(message, str) and message
            else gettext(language, api.UNEXPECTED_MESSAGE))


def declare_error_message(result: Mapping[str, Any], language: str = "fr") -> str:
    return identity_error_message(result, language) or _fallback(result, language)


def emergency_error_message(result: Mapping[str, Any], language: str = "fr") -> str:
    kind = result.get("__typename")
    if kind == "EmergencyAccessNotAllowed":
        return gettext(language, EMERGENCY_NOT_ALLOWED)
    if kind == "EmergencyAccessRefused":
        return gettext(language, EMERGENCY_REFUSED)
    return identity_error_message(result, language) or _fallback(result, language)


FIRST_FIELD: Final = "insMatricule"
REASON_FIELD_ID: Final = "emergency-reason"


def field_id(field: str) -> str:
    """The element to focus for a refused field ('' or unknown: the first trait, to review
    them all)."""
    if field == "reason":
        return REASON_FIELD_ID
    return "traits-" + (field if field in {"insMatricule", "birthName", "birthDate"}
                        else FIRST_FIELD)


def open_record_id(prefix: str) -> str:
    """The "Ouvrir le dossier" link shown after success, focused then."""
    return f"{prefix}-open-record"


class ProDeclareState(SessionState):
    busy: bool = False
    error: str = ""
    error_field: str = ""
    info: str = ""
    record_href: str = ""
    form_key: int = 0

    @rx.event
    def open(self) -> EventSpec | None:
        """on_load: a fresh form."""
        self.busy = False
        self.error = ""
        self.error_field = ""
        self.info = ""
        self.record_href = ""
        return require_professional(self)

    @rx.event
    @api_errors(error="error", busy="busy")
    async def declare(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        if self.busy:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        traits = parse_traits(form_data, language=self.lang)
        self.info = ""
        self.record_href = ""
        if isinstance(traits, TraitsError):
            self.error, self.error_field = traits.message, traits.field
            yield focus(field_id(traits.field))
            return
        self.busy = True
        self.error = ""
        self.error_field = ""
        yield
        data = await self._query(DECLARE, {"patient": traits})
        result = data["declareCareRelationship"]
        if result.get("__typename") != "CareRelationshipDeclared":
            self.error = declare_error_message(result, self.lang)
            self.busy = False
            yield focus(field_id(""))  # the traits, to check them again
            return
        self.info = self._t(DECLARED)
        self.record_href = record_href(str(result["patientId"]))
        self.form_key += 1
        self.busy = False
        yield focus(open_record_id("declare"))


class ProEmergencyState(SessionState):
    busy: bool = False
    error: str = ""
    error_field: str = ""
    info: str = ""
    record_href: str = ""
    form_key: int = 0

    @rx.event
    def open(self) -> EventSpec | None:
        """on_load: a fresh form."""
        self.busy = False
        self.error = ""
        self.error_field = ""
        self.info = ""
        self.record_href = ""
        return require_professional(self)

    @rx.event
    @api_errors(error="error", busy="busy")
    async def request_access(self, form_data: dict[str, Any]
                             ) -> AsyncIterator[EventSpec | None]:
        if self.busy:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        self.info = ""
        self.record_href = ""
        traits = parse_traits(form_data, language=self.lang)
        reason = str(form_data.get("reason") or "").strip()
        if isinstance(traits, TraitsError):
            self.error, self.error_field = traits.message, traits.field
            yield focus(field_id(traits.field))
            return
        if not reason:
            self.error, self.error_field = self._t(MISSING_REASON), "reason"
            yield focus(REASON_FIELD_ID)
            return
        if len(reason) > MAX_REASON:
            self.error, self.error_field = self._t(LONG_REASON, max=MAX_REASON), "reason"
            yield focus(REASON_FIELD_ID)
            return
        self.busy = True
        self.error = ""
        self.error_field = ""
        yield
        data = await self._query(EMERGENCY, {"patient": traits, "reason": reason})
        result = data["emergencyAccess"]
        if result.get("__typename") != "EmergencyAccessOpened":
            self.error = emergency_error_message(result, self.lang)
            if result.get("__typename") == "InvalidAccessInput":
                self.error_field = str(result.get("field") or "")
            self.busy = False
            yield focus(field_id(self.error_field))
            return
        self.info = emergency_opened_message(str(result.get("expiresAt") or ""), self.lang)
        self.record_href = record_href(str(result["patientId"]))
        self.form_key += 1
        self.busy = False
        yield focus(open_record_id("emergency"))
