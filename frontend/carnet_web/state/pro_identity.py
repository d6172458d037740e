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
from carnet_web.state.formatting import french_datetime
from carnet_web.state.pro_common import (
    TraitsError,
    identity_error_message,
    parse_traits,
    record_href,
    require_professional,
)
from carnet_web.state.session import SessionState

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

DECLARED: Final = (
    "La relation de soins est enregistrée. Le patient en est informé et peut y mettre fin à "
    "tout moment."
)
MISSING_REASON: Final = "Indiquez le motif de l'accès en urgence."
LONG_REASON: Final = f"Le motif dépasse {MAX_REASON} caractères."
EMERGENCY_NOT_ALLOWED: Final = (
    "L'accès en urgence est réservé aux médecins urgentistes et aux médecins régulateurs du "
    "SAMU."
)
EMERGENCY_REFUSED: Final = "Ce patient a refusé l'accès en urgence à son dossier."


def emergency_opened_message(expires_at: str) -> str:
    when = french_datetime(expires_at)
    until = f" jusqu'au {when}" if when else ""
    return (f"Accès d'urgence ouvert{until}. Le patient en est informé et cet accès figure "
            "dans son historique des accès.")


def _fallback(result: Mapping[str, Any]) -> str:
    message = result.get("message")
    return message if isinstance(message, str) and message else api.UNEXPECTED_MESSAGE


def declare_error_message(result: Mapping[str, Any]) -> str:
    return identity_error_message(result) or _fallback(result)


def emergency_error_message(result: Mapping[str, Any]) -> str:
    kind = result.get("__typename")
    if kind == "EmergencyAccessNotAllowed":
        return EMERGENCY_NOT_ALLOWED
    if kind == "EmergencyAccessRefused":
        return EMERGENCY_REFUSED
    return identity_error_message(result) or _fallback(result)


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
    async def declare(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        if self.busy:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        traits = parse_traits(form_data)
        self.info = ""
        self.record_href = ""
        if isinstance(traits, TraitsError):
            self.error, self.error_field = traits.message, traits.field
            return
        self.busy = True
        self.error = ""
        self.error_field = ""
        yield
        try:
            data = await self._query(DECLARE, {"patient": traits})
        except api.ApiUnauthenticated:
            yield self._to_login(api.UNAUTHENTICATED_MESSAGE)
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        finally:
            self.busy = False
        result = data["declareCareRelationship"]
        if result.get("__typename") != "CareRelationshipDeclared":
            self.error = declare_error_message(result)
            return
        self.info = DECLARED
        self.record_href = record_href(str(result["patientId"]))
        self.form_key += 1


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
    async def request_access(self, form_data: dict[str, Any]
                             ) -> AsyncIterator[EventSpec | None]:
        if self.busy:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        self.info = ""
        self.record_href = ""
        traits = parse_traits(form_data)
        reason = str(form_data.get("reason") or "").strip()
        if isinstance(traits, TraitsError):
            self.error, self.error_field = traits.message, traits.field
            return
        if not reason:
            self.error, self.error_field = MISSING_REASON, "reason"
            return
        if len(reason) > MAX_REASON:
            self.error, self.error_field = LONG_REASON, "reason"
            return
        self.busy = True
        self.error = ""
        self.error_field = ""
        yield
        try:
            data = await self._query(EMERGENCY, {"patient": traits, "reason": reason})
        except api.ApiUnauthenticated:
            yield self._to_login(api.UNAUTHENTICATED_MESSAGE)
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        finally:
            self.busy = False
        result = data["emergencyAccess"]
        if result.get("__typename") != "EmergencyAccessOpened":
            self.error = emergency_error_message(result)
            if result.get("__typename") == "InvalidAccessInput":
                self.error_field = str(result.get("field") or "")
            return
        self.info = emergency_opened_message(str(result.get("expiresAt") or ""))
        self.record_href = record_href(str(result["patientId"]))
        self.form_key += 1
