from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.audit import access_log
from backend.audit.types import (
    AccessLogConnection,
    AccessLogEdge,
    AccessLogEntry,
    AccessLogPageInfo,
)
from backend.errors import PublicError
from backend.permissions import IsPatient


@strawberry.type
class AccessLogQueries:
    @strawberry.field(description="Every read of my record by someone else (professionals, "
                                  "emergency access), newest first.",
                      permission_classes=[IsPatient])
    async def access_log(self, info: Info, first: int = 20, after: str | None = None
                         ) -> AccessLogConnection:
        try:
            page = await access_log.entries_of(info.context.viewer.person_id, first=first,
                                               after=after)
        except access_log.InvalidPage as exc:
            raise PublicError(exc.text, code="BAD_USER_INPUT") from None
        edges = [AccessLogEdge(cursor=access_log.encode_cursor(row),
                               node=AccessLogEntry.from_model(row)) for row in page.rows]
        return AccessLogConnection(
            edges=edges,
            page_info=AccessLogPageInfo(has_next_page=page.has_next,
                                        end_cursor=edges[-1].cursor if edges else None),
            total_count=page.total)
