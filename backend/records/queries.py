from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.access import policy
from backend.app_scopes import DOCUMENTS_READ, app_scope
from backend.audit.models import AccessKind
from backend.permissions import IsPatient
from backend.records import services
from backend.records.types import (
    Document,
    DocumentAuthor,
    DocumentConnection,
    DocumentEdge,
    DocumentFilter,
    PageInfo,
    author_of,
    authors_of,
)


def _to_filter(value: DocumentFilter | None, access: policy.Access) -> services.DocumentFilter:
    if value is None:
        return services.DocumentFilter()
    author_id = None
    if value.author_professional_id is not None:
        author_id = int(value.author_professional_id) if str(
            value.author_professional_id).isdigit() else -1
    by_patient = value.authored_by_me
    not_me = None
    if isinstance(access.viewer, policy.ProfessionalViewer) and value.authored_by_me is not None:
        # "By me" is the professional reading: their own documents, or all but theirs.
        me = access.viewer.professional_id
        by_patient = None
        if value.authored_by_me:
            author_id = me if author_id in (None, me) else -1
        else:
            not_me = me
    return services.DocumentFilter(
        types=[t.value for t in value.types] if value.types else None,
        date_from=value.from_, date_to=value.to, author_professional_id=author_id,
        authored_by_patient=by_patient, text=(value.text or "")[:200] or None,
        not_author_professional_id=not_me,
    )


async def document_connection(info: Info, access: policy.Access, first: int,
                              after: str | None, filter: DocumentFilter | None
                              ) -> DocumentConnection:
    criteria = _to_filter(filter, access)
    page = await services.list_documents(info.context.settings, access, first=first,
                                         after=after, filter=criteria)
    # Access log (nothing for the patient's own reads): the listing itself (it tells how many
    # documents match, also when none does), and each document it describes (title, type,
    # date, author: the patient sees which documents were seen).
    policy.log_read(access, AccessKind.DOCUMENT_LIST)
    for row in page.rows:
        policy.log_read(access, AccessKind.DOCUMENT, document_id=row.id)
    if page.authors_joined:
        authors = [DocumentAuthor.of(row.author_professional_id, row.author_professional)
                   for row in page.rows]
    else:
        authors = await authors_of(info, page.rows)
    edges = [DocumentEdge(cursor=services.encode_cursor(row),
                          node=Document.from_model(row, page.titles[row.id], author))
             for row, author in zip(page.rows, authors, strict=True)]
    return DocumentConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next,
                           end_cursor=edges[-1].cursor if edges else None),
        total_count=page.total,
        _settings=info.context.settings, _access=access, _filter=criteria, _new=page.new,
    )


async def one_document(info: Info, access: policy.Access, id: strawberry.ID) -> Document | None:
    row = await services.readable_document(access, str(id))
    if row is None:
        return None  # missing or not allowed: nothing was read, nothing logged
    policy.log_read(access, AccessKind.DOCUMENT, document_id=row.id)
    titles = await services.decrypt_titles(info.context.settings, [row])
    return Document.from_model(row, titles[row.id], await author_of(info, row))


def own_access(info: Info) -> policy.Access:
    viewer = policy.viewer_of(info.context.viewer)
    # IsPatient: the patient, or an app or a carer acting for them (narrowed by their scopes).
    assert isinstance(viewer, policy.PatientViewer | policy.AppViewer | policy.ProxyViewer)
    return policy.own_access(viewer)


@strawberry.type
class RecordQueries:
    @strawberry.field(description="My documents, newest first.", permission_classes=[IsPatient],
                      directives=[app_scope(DOCUMENTS_READ)])
    async def documents(
        self, info: Info, first: int = 20, after: str | None = None,
        filter: DocumentFilter | None = None,
    ) -> DocumentConnection:
        return await document_connection(info, own_access(info), first, after, filter)

    @strawberry.field(description="One of my documents, or null.", permission_classes=[IsPatient],
                      directives=[app_scope(DOCUMENTS_READ)])
    async def document(self, info: Info, id: strawberry.ID) -> Document | None:
        return await one_document(info, own_access(info), id)


@strawberry.type
class PatientRecordDocuments:
    """The documents part of `PatientRecord` (assembled in backend/schema.py): what the policy
    lets the professional read, with the same filters and pagination as my `documents`."""

    _access: strawberry.Private[policy.Access]

    @strawberry.field(description="The patient's documents I may read, newest first.")
    async def documents(
        self, info: Info, first: int = 20, after: str | None = None,
        filter: DocumentFilter | None = None,
    ) -> DocumentConnection:
        return await document_connection(info, self._access, first, after, filter)

    @strawberry.field(description="One of the patient's documents I may read, or null.")
    async def document(self, info: Info, id: strawberry.ID) -> Document | None:
        return await one_document(info, self._access, id)
