"""Permission classes, declared once per field; the rules themselves live in services."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from backend.errors import Forbidden, NotAuthenticated


class IsAuthenticated(BasePermission):
    message = "Authentication required."
    error_class = NotAuthenticated

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class IsPatient(BasePermission):
    message = "Reserved to patients."
    error_class = Forbidden

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.is_patient


class IsProfessional(BasePermission):
    message = "Reserved to health professionals."
    error_class = Forbidden

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.is_professional
