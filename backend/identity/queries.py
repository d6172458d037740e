from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.identity import services
from backend.identity.types import ActiveSession, Me
from backend.permissions import IsAuthenticated


@strawberry.type
class IdentityQueries:
    @strawberry.field(description="Who I am; null when not signed in.")
    async def me(self, info: Info) -> Me | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        return Me.from_account(await services.current_account(viewer))

    @strawberry.field(description="My signed-in sessions, newest first.",
                      permission_classes=[IsAuthenticated])
    async def my_sessions(self, info: Info) -> list[ActiveSession]:
        viewer = info.context.viewer
        records = await services.list_sessions(info.context.runtime, viewer)
        return [ActiveSession.from_record(r, viewer.session_id) for r in records]
