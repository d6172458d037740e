"""Facts about this Carnet instance, readable by anyone (no health data)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import backend


@strawberry.type(description="This Carnet instance.")
class Platform:
    name: str
    version: str
    environment: str


@strawberry.type
class SystemQueries:
    @strawberry.field(description="Name, version and environment of this instance.")
    def platform(self, info: Info) -> Platform:
        settings = info.context.settings
        return Platform(
            name="Carnet", version=backend.__version__, environment=settings.carnet_env.value
        )
