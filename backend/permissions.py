"""Permission classes, declared once per field; the rules themselves live in services.

An anonymous caller is told to sign in (NOT_AUTHENTICATED), whatever the field; a signed-in
caller of the wrong kind is refused (FORBIDDEN). Messages are shown to people: in French.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from backend.errors import Forbidden, NotAuthenticated


def _signed_in_viewer(info: Info) -> Any:
    viewer = info.context.viewer
    if viewer is None:
        # Raised, not returned: the answer differs from the FORBIDDEN of `message` below.
        raise NotAuthenticated()
    return viewer


class IsAuthenticated(BasePermission):
    message = "Connexion requise : veuillez vous identifier."
    error_class = NotAuthenticated

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class IsPatient(BasePermission):
    message = "Réservé aux patients."
    error_class = Forbidden

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(_signed_in_viewer(info).is_patient)


class IsProfessional(BasePermission):
    message = "Réservé aux professionnels de santé."
    error_class = Forbidden

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(_signed_in_viewer(info).is_professional)
