"""GraphQL types of the medical record."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.access import policy
from backend.app_scopes import DOCUMENTS_READ, SAME_AS_PARENT, app_scope
from backend.document_types import DocumentType as DocumentTypeModel
from backend.graphql_errors import Error, PatientNotFound, TooManyFailedIdentityMatches, translates
from backend.graphql_types import Choice, DocumentType, ProfessionalSummary
from backend.i18n import gettext
from backend.identity.models import Professional
from backend.records import services
from backend.records.loaders import load_professionals
from backend.records.models import Document as DocumentModel
from backend.records.models import DocumentSource as SourceModel
from backend.records.models import Visibility as VisibilityModel
from backend.records.sniffing import KINDS
from backend.settings import Settings


@strawberry.enum
class DocumentSource(Enum):
    PATIENT_UPLOAD = SourceModel.PATIENT_UPLOAD.value
    PROFESSIONAL_SOFTWARE = SourceModel.PROFESSIONAL_SOFTWARE.value
    LEGACY_IMPORT = SourceModel.LEGACY_IMPORT.value


@strawberry.enum
class Visibility(Enum):
    NORMAL = VisibilityModel.NORMAL.value
    HIDDEN_FROM_PROFESSIONALS = VisibilityModel.HIDDEN_FROM_PROFESSIONALS.value
    NOT_YET_VISIBLE_TO_PATIENT = VisibilityModel.NOT_YET_VISIBLE_TO_PATIENT.value


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class DocumentAuthor:
    is_patient: bool
    professional: ProfessionalSummary | None

    @classmethod
    def of(cls, professional_id: int | None, professional: Professional | None
           ) -> DocumentAuthor:
        """The author of a document whose `author_professional_id` is `professional_id` (None:
        the patient), `professional` that row (None when it is gone)."""
        if professional_id is None:
            return cls(is_patient=True, professional=None)
        summary = ProfessionalSummary(
            id=strawberry.ID(str(professional.id)), rpps=professional.rpps,
            profession=professional.profession, specialty=professional.specialty,
            practice_name=professional.practice_name,
        ) if professional else None
        return cls(is_patient=False, professional=summary)


async def authors_of(info: Info, rows: list[DocumentModel]) -> list[DocumentAuthor]:
    """The documents' authors, through the request's professional loader (one batch), for the
    paths whose statement did not join them (a single document, a later page)."""
    ids = sorted({r.author_professional_id for r in rows if r.author_professional_id})
    found = dict(zip(ids, await info.context.loaders.get(load_professionals).load_many(ids),
                     strict=True)) if ids else {}
    return [DocumentAuthor.of(r.author_professional_id, found.get(r.author_professional_id))
            for r in rows]


async def author_of(info: Info, row: DocumentModel) -> DocumentAuthor:
    return (await authors_of(info, [row]))[0]


@strawberry.type(description="A document of my medical record.",
                 directives=[app_scope(DOCUMENTS_READ)])
class Document:
    id: strawberry.ID
    title: str
    type: DocumentType
    type_label: str
    clinical_date: date
    source: DocumentSource
    content_type: str
    size: int
    sha256: str
    visibility: Visibility
    release_at: datetime | None
    created_at: datetime
    updated_at: datetime
    is_new: bool = strawberry.field(
        description="Added by a professional and not opened (downloaded) by the patient yet; "
                    "the patient's own documents are never new.")
    download_url: str = strawberry.field(
        description="GET with the bearer token; served as an attachment.")
    # Built by the parent resolver (joined by the listing's statement, or `author_of`): a
    # plain value, not a resolver per document (Strawberry's per-field cost).
    author: DocumentAuthor

    @classmethod
    def from_model(cls, row: DocumentModel, title: str, author: DocumentAuthor) -> Document:
        doc_type = DocumentTypeModel(row.type_code)
        return cls(
            id=strawberry.ID(str(row.id)), title=title, type=doc_type,
            type_label=gettext(doc_type.label),
            clinical_date=row.clinical_date, source=DocumentSource(row.source.value),
            content_type=row.content_type, size=row.size, sha256=row.sha256,
            visibility=Visibility(row.visibility.value), release_at=row.release_at,
            created_at=row.created_at, updated_at=row.updated_at,
            is_new=services.is_new(row), download_url=f"/documents/{row.id}/content",
            author=author,
        )


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class DocumentEdge:
    cursor: str
    node: Document


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(directives=[app_scope(SAME_AS_PARENT)])
class DocumentConnection:
    edges: list[DocumentEdge]
    page_info: PageInfo
    total_count: int
    _settings: strawberry.Private[Settings]
    _access: strawberry.Private[policy.Access]
    _filter: strawberry.Private[services.DocumentFilter]
    # Counted by the listing's own statement (first pages); None: counted when asked.
    _new: strawberry.Private[int | None] = None

    @strawberry.field(description="How many of the documents matching the filter are new "
                                  "(`isNew`), whatever the page. Counted with the first page, "
                                  "else one query, only when asked.")
    async def new_count(self) -> int:
        if self._new is not None:
            return self._new
        return await services.count_new_documents(self._settings, self._access, self._filter)


@strawberry.input
class DocumentFilter:
    types: list[DocumentType] | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None
    author_professional_id: strawberry.ID | None = None
    authored_by_me: bool | None = None
    text: str | None = None


@strawberry.input
class UploadDocumentInput:
    title: str
    type: DocumentType
    clinical_date: date


@strawberry.input
class DepositDocumentInput:
    ins_matricule: str = strawberry.field(description="NIR or NIA, 15 characters")
    birth_name: str
    birth_date: date
    title: str
    type: DocumentType
    clinical_date: date
    visible_to_patient_from: datetime | None = strawberry.field(
        default=None, description="Keep the document from the patient until this time.")
    hidden_from_legal_representatives: bool = strawberry.field(
        default=False, description="A minor's document their legal representatives must never "
                                   "read (DMP: INVISIBLE_REPRESENTANTS_LEGAUX).")


@strawberry.input
class UpdateDocumentInput:
    type: DocumentType | None = None
    clinical_date: date | None = None


@translates(services.UnsupportedContent)
@strawberry.type
class UnsupportedContent(Error):
    pass


@translates(services.FileTooLarge)
@strawberry.type
class FileTooLarge(Error):
    max_bytes: int

    @classmethod
    def from_error(cls, exc: services.FileTooLarge) -> FileTooLarge:
        return cls(message=exc.message, max_bytes=exc.limit)


@translates(services.DuplicateDocument)
@strawberry.type
class DuplicateDocument(Error):
    existing_document_id: strawberry.ID

    @classmethod
    def from_error(cls, exc: services.DuplicateDocument) -> DuplicateDocument:
        return cls(message=exc.message, existing_document_id=strawberry.ID(str(exc.existing_id)))


@translates(services.InvalidDocumentInput)
@strawberry.type
class InvalidDocumentInput(Error):
    field: str


@translates(services.DocumentNotFound)
@strawberry.type
class DocumentNotFound(Error):
    pass


@strawberry.type
class DocumentDeposited:
    id: strawberry.ID
    size: int
    sha256: str
    content_type: str


@strawberry.type
class DocumentDeleted:
    id: strawberry.ID


UploadDocumentResult = Annotated[
    Document | UnsupportedContent | FileTooLarge | DuplicateDocument | InvalidDocumentInput,
    strawberry.union("UploadDocumentResult"),
]
DepositDocumentResult = Annotated[
    DocumentDeposited | PatientNotFound | TooManyFailedIdentityMatches | UnsupportedContent
    | FileTooLarge | DuplicateDocument | InvalidDocumentInput,
    strawberry.union("DepositDocumentResult"),
]
DocumentChangeResult = Annotated[
    Document | DocumentNotFound | InvalidDocumentInput, strawberry.union("DocumentChangeResult")
]
DeleteDocumentResult = Annotated[
    DocumentDeleted | DocumentNotFound, strawberry.union("DeleteDocumentResult")
]



# --- reference data (backend/schema.py's ReferenceData) --------------------------------------


@strawberry.type(description="An accepted content type: sniffed from the bytes, whatever the "
                              "file's name or declared type.",
                 directives=[app_scope(SAME_AS_PARENT)])
class ContentKind:
    content_type: str = strawberry.field(description="As documents carry it (`contentType`).")
    label: str
    extensions: list[str] = strawberry.field(description="File name extensions to offer.")
    picker_types: list[str] = strawberry.field(
        description="Media types browsers give such files (for a file picker's accept list).")


@strawberry.type(description="What an upload (or a deposit) may be.",
                 directives=[app_scope(SAME_AS_PARENT)])
class UploadLimits:
    max_document_bytes: int
    max_title_length: int
    content_kinds: list[ContentKind]


@strawberry.type
class RecordsReferenceData:
    """The record's part of `ReferenceData` (assembled in backend/schema.py)."""

    @strawberry.field(description="The DMP document types, in list order, with their labels.")
    def document_types(self) -> list[Choice[DocumentType]]:
        return [Choice(value=t, label=gettext(t.label)) for t in DocumentTypeModel]

    @strawberry.field
    def upload_limits(self, info: Info) -> UploadLimits:
        return UploadLimits(
            max_document_bytes=info.context.settings.max_upload_bytes,
            max_title_length=services.MAX_TITLE,
            content_kinds=[ContentKind(content_type=k.content_type, label=gettext(k.label),
                                       extensions=list(k.extensions),
                                       picker_types=list(k.picker_types)) for k in KINDS])
