from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.permissions import IsPatient
from backend.records import services
from backend.records.types import (
    Document,
    DocumentConnection,
    DocumentEdge,
    DocumentFilter,
    PageInfo,
)


def _to_filter(value: DocumentFilter | None) -> services.DocumentFilter:
    if value is None:
        return services.DocumentFilter()
    author_id = None
    if value.author_professional_id is not None:
        author_id = int(value.author_professional_id) if str(
            value.author_professional_id).isdigit() else -1
    return services.DocumentFilter(
        types=[t.value for t in value.types] if value.types else None,
        date_from=value.from_, date_to=value.to, author_professional_id=author_id,
        authored_by_patient=value.authored_by_me, text=(value.text or "")[:200] or None,
    )


@strawberry.type
class RecordQueries:
    @strawberry.field(description="My documents, newest first.", permission_classes=[IsPatient])
    async def documents(
        self, info: Info, first: int = 20, after: str | None = None,
        filter: DocumentFilter | None = None,
    ) -> DocumentConnection:
        viewer = info.context.viewer
        page = await services.list_documents(
            info.context.settings, person_id=viewer.person_id, first=first, after=after,
            filter=_to_filter(filter),
        )
        edges = [DocumentEdge(cursor=services.encode_cursor(row),
                              node=Document.from_model(row, page.titles[row.id]))
                 for row in page.rows]
        return DocumentConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next,
                               end_cursor=edges[-1].cursor if edges else None),
            total_count=page.total,
        )

    @strawberry.field(description="One of my documents, or null.", permission_classes=[IsPatient])
    async def document(self, info: Info, id: strawberry.ID) -> Document | None:
        row = await services.patient_document(info.context.viewer.person_id, str(id))
        if row is None:
            return None
        titles = await services.decrypt_titles(info.context.settings, [row])
        return Document.from_model(row, titles[row.id])
