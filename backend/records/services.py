"""Medical record rules: storing, listing, reading and changing a patient's documents.

- Content is sniffed from its bytes, size-limited while streaming, hashed (SHA-256), encrypted
  with the patient's data key and written to the blob store under a server-generated name.
- The same content (SHA-256) is never stored twice for one patient: it is reported instead.
- Titles are encrypted too; the text filter therefore runs after decryption, per patient.
- Reads take an `Access` (backend/access/policy.py: the policy's decision for a viewer and a
  patient), never a bare person id, and apply it as the query filter: a patient sees their own
  documents except those a professional deposited "not yet visible" before their release date;
  a professional sees what the matrix, the patient and their ground allow. A document someone
  may not see answers exactly like one that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pypika_tortoise import Table
from pypika_tortoise import analytics as an
from pypika_tortoise.terms import Case, Star
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from backend import errors
from backend.access import policy
from backend.access.policy import Access
from backend.document_types import DocumentType
from backend.i18n import N_
from backend.identity import matching, notices
from backend.identity.models import Professional
from backend.keys import services as keys
from backend.records.models import Document, DocumentSource, Visibility
from backend.records.sniffing import SNIFF_BYTES, sniff
from backend.records.storage import new_blob_name
from backend.runtime import Runtime
from backend.settings import Settings
from backend.text import clean_label

log = logging.getLogger(__name__)

MAX_TITLE = 200
MAX_PAGE = 100


# --- errors a client can fix -------------------------------------------------------------


class RecordsError(errors.DomainError):
    pass


class UnsupportedContent(RecordsError):
    message = N_("Format non accepté : envoyez un PDF, une image JPEG ou PNG, un texte ou un "
                 "document CDA (XML).")


class FileTooLarge(RecordsError):
    message = N_("Fichier trop volumineux (maximum {megabytes} Mo).")

    def __init__(self, limit: int) -> None:
        super().__init__(megabytes=limit // (1024 * 1024))
        self.limit = limit


class DuplicateDocument(RecordsError):
    message = N_("Ce document est déjà dans votre dossier.")

    def __init__(self, existing_id: uuid.UUID) -> None:
        super().__init__()
        self.existing_id = existing_id


class InvalidDocumentInput(RecordsError):
    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class DocumentNotFound(RecordsError):
    message = N_("Document introuvable.")


# --- inputs --------------------------------------------------------------------------------


@dataclass
class DocumentInput:
    title: str
    type_code: str
    clinical_date: date
    visibility: Visibility = Visibility.NORMAL
    release_at: datetime | None = None
    hidden_from_representatives: bool = False

    def checked(self) -> DocumentInput:
        # Controls and format characters (NUL, bidirectional overrides...) are stripped.
        title = clean_label(self.title)
        if not title:
            raise InvalidDocumentInput("title", N_("Le titre est obligatoire."))
        if len(title) > MAX_TITLE:
            raise InvalidDocumentInput("title", N_("Le titre dépasse {limit} caractères."),
                                       limit=MAX_TITLE)
        if DocumentType.from_loinc(self.type_code) is None:
            raise InvalidDocumentInput("type", N_("Type de document inconnu (liste DMP, LOINC)."))
        if self.clinical_date > date.today() + timedelta(days=1):
            raise InvalidDocumentInput("clinicalDate",
                                       N_("La date du document est dans le futur."))
        if self.clinical_date.year < 1900:
            raise InvalidDocumentInput("clinicalDate", N_("Date du document invalide."))
        release_at = self.release_at
        if self.visibility is Visibility.NOT_YET_VISIBLE_TO_PATIENT and release_at is None:
            raise InvalidDocumentInput("releaseAt",
                                       N_("Indiquez la date de mise à disposition."))
        return DocumentInput(title, self.type_code, self.clinical_date, self.visibility,
                             release_at, self.hidden_from_representatives)


@dataclass
class Author:
    account_id: int
    professional_id: int | None  # None: the patient themselves


# --- storing ------------------------------------------------------------------------------


def _title_associated(document_id: uuid.UUID) -> bytes:
    return b"carnet:document-title:" + document_id.bytes


def _content_associated(document_id: uuid.UUID) -> bytes:
    return b"carnet:document-content:" + document_id.bytes


class _Measured:
    """Passes chunks through while hashing, counting and enforcing the size limit."""

    def __init__(self, head: bytes, rest: AsyncIterator[bytes], limit: int) -> None:
        self.head, self.rest, self.limit = head, rest, limit
        self.sha256 = hashlib.sha256()
        self.size = 0

    def _take(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > self.limit:
            raise FileTooLarge(self.limit)
        self.sha256.update(chunk)
        return chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            yield self._take(self.head)
        async for chunk in self.rest:
            if chunk:
                yield self._take(chunk)


async def _read_head(chunks: AsyncIterator[bytes]) -> tuple[bytes, bool]:
    """At least SNIFF_BYTES from the stream (less only if the stream ends): (head, complete)."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            return head, False
    return head, True


@dataclass
class Content:
    """A content whose type was sniffed (and whose declared size, if any, was checked)."""

    content_type: str
    head: bytes
    rest: AsyncIterator[bytes]


async def checked_content(settings: Settings, chunks: AsyncIterator[bytes], *,
                          size: int | None = None) -> Content:
    """Refuse an unsupported or (by its known size) too large content, before storing it."""
    if size is not None and size > settings.max_upload_bytes:
        raise FileTooLarge(settings.max_upload_bytes)
    iterator = aiter(chunks)
    head, complete = await _read_head(iterator)
    content_type = sniff(head[:SNIFF_BYTES], complete=complete)
    if content_type is None:
        raise UnsupportedContent()
    return Content(content_type, head, iterator)


async def store_document(
    rt: Runtime,
    *,
    person_id: int,
    author: Author,
    source: DocumentSource,
    data: DocumentInput,
    chunks: AsyncIterator[bytes] | None = None,
    content: Content | None = None,
) -> Document:
    """Store `chunks`, or a `content` already checked by `checked_content`."""
    data = data.checked()
    settings = rt.settings
    if content is None:
        if chunks is None:
            raise TypeError("store_document needs chunks or content")
        content = await checked_content(settings, chunks)
    content_type = content.content_type
    measured = _Measured(content.head, content.rest, settings.max_upload_bytes)
    data_key_id, data_key = await keys.data_key_for(settings, person_id)
    document_id = uuid.uuid4()
    blob_name = new_blob_name()
    encrypted = keys.encrypt_chunks(data_key, measured.__aiter__(),
                                    associated=_content_associated(document_id))
    try:
        await rt.blobs.put(blob_name, encrypted)
    except BaseException:
        await rt.blobs.delete(blob_name)
        raise
    sha256 = measured.sha256.hexdigest()
    existing = await Document.filter(person_id=person_id, sha256=sha256,
                                     deleted_at__isnull=True).first()
    if existing is not None:
        await rt.blobs.delete(blob_name)
        raise DuplicateDocument(existing.id)
    title = keys.encrypt_bytes(data_key, data.title.encode(),
                               associated=_title_associated(document_id))
    try:
        return await Document.create(
            id=document_id, person_id=person_id, title_encrypted=title,
            type_code=data.type_code, clinical_date=data.clinical_date,
            author_account_id=author.account_id,
            author_professional_id=author.professional_id, source=source,
            content_type=content_type, size=measured.size, sha256=sha256, blob_name=blob_name,
            data_key_id=data_key_id, visibility=data.visibility, release_at=data.release_at,
            hidden_from_representatives=data.hidden_from_representatives,
        )
    except BaseException:
        await rt.blobs.delete(blob_name)  # nothing lost, nothing orphaned
        raise


async def bytes_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


# --- professional intake -------------------------------------------------------------------


async def deposit_document(
    rt: Runtime,
    *,
    professional_account_id: int,
    professional_id: int,
    patient: matching.PatientClaim,
    data: DocumentInput,
    chunks: AsyncIterator[bytes],
    size: int,
    source: DocumentSource = DocumentSource.PROFESSIONAL_SOFTWARE,
    address: str | None = None,
) -> Document:
    """The whole request (fields, content type, size) is checked BEFORE the patient is
    matched, so that no answer depends on the identity except success itself."""
    data = data.checked()
    content = await checked_content(rt.settings, chunks, size=size)
    match = await matching.find_patient(
        rt, matching.Requester(professional_account_id, professional_id, "deposit", address),
        patient)
    author = Author(account_id=professional_account_id, professional_id=professional_id)
    try:
        document = await store_document(rt, person_id=match.person.id, author=author,
                                        source=source, data=data, content=content)
    except DuplicateDocument:
        await match.confirm()  # this answer tells the match too
        raise
    await match.confirm()
    # The document is committed (no transaction here): the notice runs in the background, so
    # it can neither slow nor fail the deposit (backend/identity/notices.py).
    notices.later(notify_new_document(rt, match.person.id, document), what="new document")
    return document


async def notify_new_document(rt: Runtime, person_id: int, document: Document) -> bool:
    """Tell the patient a document someone else deposited is there, if they want to know: no
    title, no type, no author (backend/identity/notices.py). True if a notice was sent."""
    if (document.visibility is Visibility.NOT_YET_VISIBLE_TO_PATIENT
            and document.release_at and document.release_at > datetime.now(UTC)):
        return False  # announced at its release (notify_released_documents), not before
    # Claimed atomically: one notification per document, whichever process gets here first.
    claimed = await Document.filter(id=document.id, patient_notified_at__isnull=True).update(
        patient_notified_at=datetime.now(UTC))
    if not claimed:
        return False
    return await notices.tell_patient(rt, person_id, notices.Event.NEW_DOCUMENT)


async def notify_released_documents(rt: Runtime) -> int:
    """Tell patients about deposited documents whose release time has come."""
    due = await Document.filter(
        visibility=Visibility.NOT_YET_VISIBLE_TO_PATIENT, release_at__lte=datetime.now(UTC),
        patient_notified_at__isnull=True, deleted_at__isnull=True,
        author_professional_id__isnull=False,
    ).limit(500)
    for document in due:
        await notify_new_document(rt, document.person_id, document)
    return len(due)


# --- reading -------------------------------------------------------------------------------


@dataclass
class DocumentFilter:
    types: Sequence[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    author_professional_id: int | None = None
    authored_by_patient: bool | None = None
    text: str | None = None
    # For a professional's "authored by me: no".
    not_author_professional_id: int | None = None


@dataclass
class Page:
    rows: list[Document]
    titles: dict[uuid.UUID, str]
    has_next: bool
    total: int
    # New documents among all those matching (not only this page), when the listing's one
    # statement counted them (the first page without a title text filter); else None.
    new: int | None = None
    # True when the listing's statement joined the rows' author professionals (first pages
    # without a title text filter: `row.author_professional` is loaded, or None).
    authors_joined: bool = False


def encode_cursor(document: Document) -> str:
    raw = f"{document.created_at.isoformat()}|{document.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID] | None:
    try:
        created, _, doc_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(doc_id)
    except (ValueError, UnicodeDecodeError):
        return None


async def decrypt_titles(settings: Settings, rows: Sequence[Document],
                         known_keys: dict[int, bytes] | None = None) -> dict[uuid.UUID, str]:
    """Titles of many documents, unwrapping each data key once (`known_keys`: keys already
    unwrapped, e.g. joined by the listing's statement; the others are read)."""
    keys_by_id: dict[int, bytes] = dict(known_keys or {})
    for key_id in {row.data_key_id for row in rows} - keys_by_id.keys():
        keys_by_id[key_id] = await keys.data_key_by_id(settings, key_id)
    return {
        row.id: keys.decrypt_bytes(keys_by_id[row.data_key_id], row.title_encrypted,
                                   associated=_title_associated(row.id)).decode()
        for row in rows
    }


def is_new(document: Document) -> bool:
    """New for the patient: added by someone else (a professional) and not opened by the
    patient yet (`seen_by_patient_at`, set by the patient's own download only). What the
    patient added themselves (uploads, imports of their own files) is never new."""
    return document.seen_by_patient_at is None and document.author_professional_id is not None


# The same rule as `is_new`, as a filter on `Document`.
NEW_DOCUMENTS = Q(seen_by_patient_at__isnull=True) & Q(author_professional_id__isnull=False)


def _text_of(filter: DocumentFilter) -> str:
    return " ".join((filter.text or "").split()).casefold()


def _filtered(access: Access, filter: DocumentFilter, now: datetime) -> QuerySet[Document]:
    """The documents `access` reads that match `filter` (all but the title text), newest
    first."""
    query = Document.filter(access.documents(now))
    if filter.types:
        query = query.filter(type_code__in=list(filter.types))
    if filter.date_from:
        query = query.filter(clinical_date__gte=filter.date_from)
    if filter.date_to:
        query = query.filter(clinical_date__lte=filter.date_to)
    if filter.author_professional_id is not None:
        query = query.filter(author_professional_id=filter.author_professional_id)
    if filter.not_author_professional_id is not None:
        query = query.filter(Q(author_professional_id__isnull=True)
                             | ~Q(author_professional_id=filter.not_author_professional_id))
    if filter.authored_by_patient is True:
        query = query.filter(author_professional_id__isnull=True)
    elif filter.authored_by_patient is False:
        query = query.filter(author_professional_id__isnull=False)
    return query.order_by("-created_at", "-id")


async def list_documents(
    settings: Settings, access: Access, *, first: int, after: str | None,
    filter: DocumentFilter,
) -> Page:
    """The documents `access` reads, newest first, filtered and paginated in SQL (the title
    text filter runs after decryption, within this one patient's readable documents)."""
    first = max(1, min(first, MAX_PAGE))
    if not access.granted:
        return Page([], {}, False, 0)
    query = _filtered(access, filter, datetime.now(UTC))
    text = _text_of(filter)
    if text:
        # Titles are encrypted: match after decryption, within this one patient's record.
        candidates = await query
        titles = await decrypt_titles(settings, candidates)
        matching = [row for row in candidates if text in titles[row.id].casefold()]
        start = 0
        position = decode_cursor(after) if after else None
        if position is not None:
            start = next((i + 1 for i, row in enumerate(matching) if row.id == position[1]),
                         len(matching))
        rows = matching[start:start + first + 1]
        return Page(rows[:first], titles, len(rows) > first, len(matching))
    position = decode_cursor(after) if after else None
    known_keys: dict[int, bytes] = {}
    if position is None:
        # The first page (every screen opens on it): rows, total, new count, the authors and
        # the data key in ONE statement, the counts as window functions over the same
        # filtered set, the author and the key joined (each at most one row: no row more).
        rows = await _with_counts(query.select_related("author_professional").limit(first + 1))
        total = rows[0].window_total if rows else 0
        new = rows[0].window_new if rows else 0
        for row in rows[:first]:
            if row.data_key_id not in known_keys:
                known_keys[row.data_key_id] = keys.unwrap_joined(
                    settings, data_key_id=row.data_key_id, person_id=row.window_key_person,
                    master_key_id=row.window_key_master, wrapped_key=row.window_key_wrapped)
    else:
        # A later page: the cursor narrows the rows, not the total, which is counted apart.
        total = await query.count()
        new = None
        created, doc_id = position
        query = query.filter(Q(created_at__lt=created) | (Q(created_at=created) & Q(id__lt=doc_id)))
        rows = await query.limit(first + 1)
    page_rows = rows[:first]
    return Page(page_rows, await decrypt_titles(settings, page_rows, known_keys),
                len(rows) > first, int(total), None if new is None else int(new),
                authors_joined=position is None)


# What `_with_counts` adds to each row: the two counts and the row's data key (wrapped).
_WINDOW_FIELDS = ["window_total", "window_new", "window_key_person", "window_key_master",
                  "window_key_wrapped"]


async def _with_counts(query: QuerySet[Document]) -> list[Document]:
    """`query`'s rows, each carrying `window_total` (how many rows the filter matches, before
    the limit) and `window_new` (how many of those are new, `is_new`): COUNT(*) OVER () and
    COUNT(CASE ...) OVER (), portable to PostgreSQL and SQLite (3.25+); and its data key's
    row (`window_key_*`, LEFT JOIN data_key: one key row per document, so the counts stay the
    documents'). `query`'s select_related joins work as usual."""
    query._choose_db_if_not_chosen()
    query._make_query()
    table = Document._meta.basetable
    data_key = Table("data_key").as_("document_data_key")
    # COUNT of a CASE without ELSE counts the new rows (NULL otherwise): no parameter whose
    # type PostgreSQL would have to guess.
    new = Case().when(table.seen_by_patient_at.isnull()
                      & table.author_professional_id.notnull(), table.id)
    query.query = (query.query.left_join(data_key).on(data_key.id == table.data_key_id)
                   .select(an.Count(Star()).over().as_("window_total"),
                           an.Count(new).over().as_("window_new"),
                           data_key.person_id.as_("window_key_person"),
                           data_key.master_key_id.as_("window_key_master"),
                           data_key.wrapped_key.as_("window_key_wrapped")))
    return await query._db.executor_class(
        model=Document, db=query._db, select_related_idx=query._select_related_idx,
    ).execute_select(*query.query.get_parameterized_sql(), custom_fields=_WINDOW_FIELDS)


async def count_new_documents(settings: Settings, access: Access, filter: DocumentFilter
                              ) -> int:
    """How many of the documents `access` reads and `filter` matches are new (`is_new`):
    one statement (plus the data keys when a title text filter applies)."""
    if not access.granted:
        return 0
    query = _filtered(access, filter, datetime.now(UTC)).filter(NEW_DOCUMENTS)
    text = _text_of(filter)
    if not text:
        return await query.count()
    candidates = await query
    titles = await decrypt_titles(settings, candidates)
    return sum(1 for row in candidates if text in titles[row.id].casefold())


def parse_document_id(document_id: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(document_id, uuid.UUID):
        return document_id
    try:
        return uuid.UUID(str(document_id))
    except ValueError:
        return None


async def readable_document(access: Access, document_id: str | uuid.UUID) -> Document | None:
    """One document `access` reads; None for anything else (missing, deleted, another
    patient's, not allowed), alike."""
    doc_uuid = parse_document_id(document_id)
    if doc_uuid is None or not access.granted:
        return None
    return await Document.filter(Q(id=doc_uuid) & access.documents()).first()


async def document_for_viewer(viewer: policy.RecordViewer | None, document_id: str, *,
                              expiry_days: int) -> tuple[Document | None, Access]:
    """A document by id alone (the download URL), for any viewer: its patient is looked up,
    then the policy decides. A missing document runs the same decision (for patient 0) so the
    answer and the work do not tell "missing" from "not allowed"."""
    doc_uuid = parse_document_id(document_id)
    if isinstance(viewer, policy.PatientViewer):
        access = policy.own_access(viewer)
        return (await readable_document(access, doc_uuid) if doc_uuid else None), access
    owners = await Document.filter(id=doc_uuid).values_list("person_id", flat=True) \
        if doc_uuid else []
    patient_id = int(owners[0]) if owners else 0
    access = await policy.access_for(viewer, patient_id, expiry_days=expiry_days)
    document = await readable_document(access, doc_uuid) if owners and doc_uuid else None
    return document, access


async def patient_document(person_id: int, document_id: str) -> Document | None:
    """One of the patient's own visible documents, for the patient's writes (rename, attach to
    a directive...), whose person id comes from their session; None for anything else."""
    return await readable_document(policy.owner_access(person_id), document_id)


async def open_content(rt: Runtime, document: Document) -> AsyncIterator[bytes]:
    data_key = await keys.data_key_by_id(rt.settings, document.data_key_id)
    return keys.decrypt_chunks(data_key, rt.blobs.open(document.blob_name),
                               associated=_content_associated(document.id))


async def mark_seen(document: Document) -> None:
    """The patient opened it (callers never call it for a professional's read)."""
    if document.seen_by_patient_at is None:
        await Document.filter(id=document.id).update(seen_by_patient_at=datetime.now(UTC))


async def professionals_by_ids(ids: Sequence[int]) -> list[Professional | None]:
    found = {p.id: p for p in await Professional.filter(id__in=list(ids))}
    return [found.get(i) for i in ids]


# --- patient actions -----------------------------------------------------------------------


async def _own(person_id: int, document_id: str) -> Document:
    document = await patient_document(person_id, document_id)
    if document is None:
        raise DocumentNotFound()
    return document


async def rename_document(settings: Settings, person_id: int, document_id: str, title: str
                          ) -> Document:
    document = await _own(person_id, document_id)
    checked = DocumentInput(title, document.type_code, document.clinical_date).checked()
    data_key = await keys.data_key_by_id(settings, document.data_key_id)
    document.title_encrypted = keys.encrypt_bytes(
        data_key, checked.title.encode(), associated=_title_associated(document.id))
    await document.save(update_fields=["title_encrypted", "updated_at"])
    return document


async def reclassify_document(person_id: int, document_id: str, *, type_code: str | None,
                              clinical_date: date | None) -> Document:
    document = await _own(person_id, document_id)
    DocumentInput("x", type_code or document.type_code,
                  clinical_date or document.clinical_date).checked()
    document.type_code = type_code or document.type_code
    document.clinical_date = clinical_date or document.clinical_date
    await document.save(update_fields=["type_code", "clinical_date", "updated_at"])
    return document


async def set_hidden_from_professionals(person_id: int, document_id: str, hidden: bool
                                        ) -> Document:
    document = await _own(person_id, document_id)
    document.visibility = Visibility.HIDDEN_FROM_PROFESSIONALS if hidden else Visibility.NORMAL
    await document.save(update_fields=["visibility", "updated_at"])
    return document


async def delete_document(person_id: int, document_id: str) -> Document:
    """Soft delete: invisible at once, purged (blob and row) after the retention period."""
    document = await _own(person_id, document_id)
    document.deleted_at = datetime.now(UTC)
    await document.save(update_fields=["deleted_at", "updated_at"])
    return document


async def purge_deleted(rt: Runtime, *, now: datetime | None = None) -> int:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=rt.settings.document_retention_days)
    expired = await Document.filter(deleted_at__lte=cutoff)
    for document in expired:
        await rt.blobs.delete(document.blob_name)
        await document.delete()
    return len(expired)
