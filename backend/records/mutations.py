from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from backend.app_scopes import DOCUMENTS_WRITE, app_scope
from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.identity import matching
from backend.permissions import IsPatient, IsProfessional
from backend.records import services
from backend.records.models import DocumentSource
from backend.records.models import Visibility as VisibilityModel
from backend.records.types import (
    DeleteDocumentResult,
    DepositDocumentInput,
    DepositDocumentResult,
    Document,
    DocumentChangeResult,
    DocumentDeleted,
    DocumentDeposited,
    UpdateDocumentInput,
    UploadDocumentInput,
    UploadDocumentResult,
    author_of,
)

CHUNK = 64 * 1024


async def upload_chunks(upload: Upload) -> AsyncIterator[bytes]:
    """Read a multipart file part in chunks (Starlette spools it to disk, not memory)."""
    while chunk := await upload.read(CHUNK):  # type: ignore[attr-defined]
        yield chunk


def upload_size(upload: Upload) -> int:
    """The size of a multipart file part, spooled by Starlette before the resolver runs."""
    size = getattr(upload, "size", None)
    if size is None:
        file = upload.file  # type: ignore[attr-defined]
        position = file.tell()
        size = file.seek(0, 2)
        file.seek(position)
    return int(size)


async def _document(info: Info, row) -> Document:  # noqa: ANN001
    titles = await services.decrypt_titles(info.context.settings, [row])
    return Document.from_model(row, titles[row.id], await author_of(info, row))


@strawberry.type
class RecordMutations:
    @strawberry.mutation(description="Add a document to my record (multipart upload).",
                         permission_classes=[IsPatient], directives=[app_scope(DOCUMENTS_WRITE)])
    async def upload_document(self, info: Info, file: Upload, input: UploadDocumentInput
                              ) -> UploadDocumentResult:
        viewer = info.context.viewer
        try:
            row = await services.store_document(
                info.context.runtime, person_id=viewer.person_id,
                author=services.Author(account_id=viewer.account_id, professional_id=None),
                source=DocumentSource.PATIENT_UPLOAD,
                data=services.DocumentInput(input.title, input.type.value, input.clinical_date),
                chunks=upload_chunks(file),
            )
            await services.mark_seen(row)
        except DomainError as exc:
            return to_graphql_error(exc)
        row.seen_by_patient_at = row.created_at
        return await _document(info, row)

    @strawberry.mutation(description="Deposit a document in a patient's record (professionals;"
                                     " the patient is identified by INS matricule, birth name"
                                     " and date of birth, which must all match).",
                         permission_classes=[IsProfessional])
    async def deposit_document(self, info: Info, file: Upload, input: DepositDocumentInput
                               ) -> DepositDocumentResult:
        viewer = info.context.viewer
        later = input.visible_to_patient_from
        data = services.DocumentInput(
            input.title, input.type.value, input.clinical_date,
            VisibilityModel.NOT_YET_VISIBLE_TO_PATIENT if later else VisibilityModel.NORMAL,
            later, input.hidden_from_legal_representatives,
        )
        try:
            row = await services.deposit_document(
                info.context.runtime, professional_account_id=viewer.account_id,
                professional_id=viewer.professional_id,
                patient=matching.PatientClaim(input.ins_matricule, input.birth_name,
                                              input.birth_date),
                data=data, chunks=upload_chunks(file), size=upload_size(file),
                address=info.context.client_address,
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return DocumentDeposited(id=strawberry.ID(str(row.id)), size=row.size,
                                 sha256=row.sha256, content_type=row.content_type)

    @strawberry.mutation(permission_classes=[IsPatient])
    async def rename_document(self, info: Info, id: strawberry.ID, title: str
                              ) -> DocumentChangeResult:
        try:
            row = await services.rename_document(info.context.settings,
                                                 info.context.viewer.person_id, str(id), title)
        except DomainError as exc:
            return to_graphql_error(exc)
        return await _document(info, row)

    @strawberry.mutation(description="Change a document's type and/or clinical date.",
                         permission_classes=[IsPatient])
    async def update_document(self, info: Info, id: strawberry.ID, input: UpdateDocumentInput
                              ) -> DocumentChangeResult:
        try:
            row = await services.reclassify_document(
                info.context.viewer.person_id, str(id),
                type_code=input.type.value if input.type else None,
                clinical_date=input.clinical_date)
        except DomainError as exc:
            return to_graphql_error(exc)
        return await _document(info, row)

    @strawberry.mutation(description="Hide a document from professionals, or show it again.",
                         permission_classes=[IsPatient])
    async def set_document_hidden(self, info: Info, id: strawberry.ID, hidden: bool
                                  ) -> DocumentChangeResult:
        try:
            row = await services.set_hidden_from_professionals(
                info.context.viewer.person_id, str(id), hidden)
        except DomainError as exc:
            return to_graphql_error(exc)
        return await _document(info, row)

    @strawberry.mutation(description="Delete a document (purged after the retention period).",
                         permission_classes=[IsPatient])
    async def delete_document(self, info: Info, id: strawberry.ID) -> DeleteDocumentResult:
        try:
            row = await services.delete_document(info.context.viewer.person_id, str(id))
        except DomainError as exc:
            return to_graphql_error(exc)
        return DocumentDeleted(id=strawberry.ID(str(row.id)))
