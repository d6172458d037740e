"""Permission classes, declared once per field; the rules themselves live in services."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from backend.errors import NotAuthenticated


class IsAuthenticated(BasePermission):
    message = "Authentication required."
    error_class = NotAuthenticated

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None
