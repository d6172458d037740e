"""Permission classes, declared once per field; the rules themselves live in services.

An anonymous caller is told to sign in (NOT_AUTHENTICATED), whatever the field; a signed-in
caller of the wrong kind is refused (FORBIDDEN). Messages are shown to people: French msgids,
translated into the request's language with every public error (backend.errors.CarnetMaskErrors).
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from backend.errors import NOT_AUTHENTICATED_MESSAGE, Forbidden, NotAuthenticated
from backend.i18n import N_


def _signed_in_viewer(info: Info) -> Any:
    viewer = info.context.viewer
    if viewer is None:
        # Raised, not returned: the answer differs from the FORBIDDEN of `message` below.
        raise NotAuthenticated()
    return viewer


class IsAuthenticated(BasePermission):
    message = NOT_AUTHENTICATED_MESSAGE
    error_class = NotAuthenticated

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class IsPatient(BasePermission):
    message = N_("Réservé aux patients.")
    error_class = Forbidden

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(_signed_in_viewer(info).is_patient)


class IsProfessional(BasePermission):
    message = N_("Réservé aux professionnels de santé.")
    error_class = Forbidden

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(_signed_in_viewer(info).is_professional)
