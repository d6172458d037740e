"""State of "Mes documents" (/documents): my documents (filters, pages), adding one (upload),
downloading, renaming, hiding from professionals, deleting. Needs a session: without one (or
when the API says it is no longer valid) the tab goes to the login page.

Uploads: `rx.upload` sends the chosen file to this Reflex backend (with progress, reported to
`upload_progress`), then `upload_document` forwards it to the API as a GraphQL multipart
request (`api.upload`, streamed) with the tab's token. Downloads: `download` issues a one-time
ticket for `carnet_web.documents_http`, which streams the bytes from the API; the token never
reaches the browser.

Each error type of the API's typed results gets its French message here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from pathlib import PurePosixPath
from typing import Any, Final

import reflex as rx
from reflex.config import get_config
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.documents_http import (
    MAX_DOCUMENT_BYTES,
    TICKETS,
    backend_base_url,
    download_script,
    download_url,
)
from carnet_web.state.formatting import french_date, french_day, french_size, today_here
from carnet_web.state.session import SessionState

#: The DMP document types (JDV_J66), as the API's DocumentType enum, with their French labels
#: (the API's own list: backend/records/document_types.py; a test keeps both in step).
DOCUMENT_TYPES: Final = (
    ("CONSULTATION_REPORT", "Compte rendu de consultation"),
    ("DISCHARGE_LETTER", "Lettre de liaison de sortie"),
    ("HOSPITAL_REPORT", "Compte rendu d'hospitalisation"),
    ("LAB_REPORT", "Compte rendu de biologie"),
    ("IMAGING_REPORT", "Compte rendu d'imagerie"),
    ("PATHOLOGY_REPORT", "Compte rendu d'anatomopathologie"),
    ("OPERATIVE_REPORT", "Compte rendu opératoire"),
    ("EMERGENCY_REPORT", "Compte rendu de passage aux urgences"),
    ("DELIVERY_REPORT", "Compte rendu d'accouchement"),
    ("CARE_EPISODE_SUMMARY", "Synthèse d'épisode de soins"),
    ("MEDICAL_RECORD_SUMMARY", "Synthèse médicale"),
    ("PRESCRIPTION_HEALTH_PRODUCTS", "Prescription de produits de santé"),
    ("CARE_PRESCRIPTION", "Prescription de soins"),
    ("DISPENSING", "Dispensation"),
    ("VACCINATION_HISTORY", "Historique des vaccinations"),
    ("VITAL_SIGNS", "Signes vitaux"),
    ("MEDICATION_REVIEW", "Bilan de médication"),
    ("MULTIDISCIPLINARY_MEETING", "Compte rendu de réunion de concertation"),
    ("CARE_PLAN", "Plan personnalisé de soins"),
)
TYPE_LABELS: Final = dict(DOCUMENT_TYPES)

PAGE_SIZE: Final = 20
MAX_TITLE: Final = 200  # the API's limit
UPLOAD_ID: Final = "document-upload"
#: What the file picker offers (the API sniffs the bytes and has the last word).
ACCEPTED_FILES: Final = {
    "application/pdf": [".pdf"],
    "image/jpeg": [".jpg", ".jpeg"],
    "image/png": [".png"],
    "text/plain": [".txt"],
    "text/xml": [".xml"],
    "application/xml": [".xml"],
}
CONTENT_KINDS: Final = {
    "application/pdf": "PDF",
    "image/jpeg": "Image JPEG",
    "image/png": "Image PNG",
    "text/plain": "Texte",
    "application/hl7-cda+xml": "Document CDA (XML)",
}

_DOCUMENT_FIELDS: Final = """
fragment DocumentFields on Document {
  id title type typeLabel clinicalDate contentType size visibility isNew createdAt
  author { isPatient professional { profession practiceName } }
}
"""

DOCUMENTS: Final = api.operation(
    """
    query Documents($first: Int!, $after: String, $filter: DocumentFilter) {
      documents(first: $first, after: $after, filter: $filter) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { ...DocumentFields } }
      }
    }
    """ + _DOCUMENT_FIELDS
)

DOCUMENT: Final = api.operation(
    """
    query Document($id: ID!) {
      document(id: $id) { id title clinicalDate downloadUrl }
    }
    """
)

UPLOAD_DOCUMENT: Final = api.operation(
    """
    mutation UploadDocument($file: Upload!, $input: UploadDocumentInput!) {
      uploadDocument(file: $file, input: $input) {
        __typename
        ... on Document { ...DocumentFields }
        ... on Error { message }
        ... on FileTooLarge { maxBytes }
        ... on DuplicateDocument { existingDocumentId }
        ... on InvalidDocumentInput { field }
      }
    }
    """ + _DOCUMENT_FIELDS
)

RENAME_DOCUMENT: Final = api.operation(
    """
    mutation RenameDocument($id: ID!, $title: String!) {
      renameDocument(id: $id, title: $title) {
        __typename
        ... on Document { ...DocumentFields }
        ... on Error { message }
        ... on InvalidDocumentInput { field }
      }
    }
    """ + _DOCUMENT_FIELDS
)

SET_DOCUMENT_HIDDEN: Final = api.operation(
    """
    mutation SetDocumentHidden($id: ID!, $hidden: Boolean!) {
      setDocumentHidden(id: $id, hidden: $hidden) {
        __typename
        ... on Document { ...DocumentFields }
        ... on Error { message }
      }
    }
    """ + _DOCUMENT_FIELDS
)

DELETE_DOCUMENT: Final = api.operation(
    """
    mutation DeleteDocument($id: ID!) {
      deleteDocument(id: $id) {
        __typename
        ... on DocumentDeleted { id }
        ... on Error { message }
      }
    }
    """
)

# --- French messages ----------------------------------------------------------------------

UNSUPPORTED_FORMAT: Final = (
    "Format non accepté : envoyez un PDF, une image JPEG ou PNG, un texte ou un document CDA "
    "(XML)."
)
DUPLICATE: Final = "Ce document est déjà dans votre dossier."
DOCUMENT_GONE: Final = "Ce document n'existe plus : il a peut-être été supprimé."
NO_FILE: Final = "Choisissez un fichier à envoyer."
ONE_FILE_ONLY: Final = "Choisissez un seul fichier à la fois."
FILE_REFUSED: Final = "Ce fichier ne peut pas être envoyé."
EMPTY_FILE: Final = "Ce fichier est vide."
TITLE_REQUIRED: Final = "Le titre est obligatoire."
TITLE_TOO_LONG: Final = f"Le titre dépasse {MAX_TITLE} caractères."
TYPE_REQUIRED: Final = "Choisissez le type du document."
DATE_REQUIRED: Final = "Indiquez la date du document."
DATE_INVALID: Final = "Date invalide."
DATE_IN_FUTURE: Final = "La date du document est dans le futur."
DATES_REVERSED: Final = "La date de début doit précéder la date de fin."
UPLOAD_CANCELLED: Final = "Envoi annulé."
RENAMED: Final = "Le document a été renommé."


def too_large_message(max_bytes: int) -> str:
    return f"Fichier trop volumineux : {french_size(max_bytes)} au maximum."


def added_message(title: str) -> str:
    return f"« {title} » a été ajouté à votre dossier."


def hidden_message(title: str, hidden: bool) -> str:
    if hidden:
        return f"« {title} » est maintenant masqué aux professionnels."
    return f"« {title} » est de nouveau visible par les professionnels."


def deleted_message(title: str) -> str:
    return f"« {title} » a été supprimé de votre dossier."


def duplicate_notice(title: str, clinical_date: str) -> str:
    day = french_day(clinical_date)
    return f"Il s'y trouve sous le titre « {title} »" + (f" (document du {day})." if day else ".")


def _fallback(result: Mapping[str, Any]) -> str:
    # An error type this page does not know yet: the API's own (French) message.
    message = result.get("message")
    return message if isinstance(message, str) and message else api.UNEXPECTED_MESSAGE


def upload_error_message(result: Mapping[str, Any]) -> str:
    """French message for an error member of `UploadDocumentResult`."""
    kind = result.get("__typename")
    if kind == "UnsupportedContent":
        return UNSUPPORTED_FORMAT
    if kind == "FileTooLarge":
        return too_large_message(int(result.get("maxBytes") or MAX_DOCUMENT_BYTES))
    if kind == "DuplicateDocument":
        return DUPLICATE
    if kind == "DocumentNotFound":
        return DOCUMENT_GONE
    return _fallback(result)  # InvalidDocumentInput: the API says which field, in French


def change_error_message(result: Mapping[str, Any]) -> str:
    """French message for an error member of `DocumentChangeResult`/`DeleteDocumentResult`."""
    if result.get("__typename") == "DocumentNotFound":
        return DOCUMENT_GONE
    return _fallback(result)


def rejection_message(rejected: Sequence[Mapping[str, Any]]) -> str:
    """French message for files the file picker refused (react-dropzone error codes)."""
    codes = {
        str(error.get("code"))
        for entry in rejected
        for error in (entry.get("errors") or [])
        if isinstance(error, Mapping)
    }
    if "too-many-files" in codes:
        return ONE_FILE_ONLY
    if "file-too-large" in codes:
        return too_large_message(MAX_DOCUMENT_BYTES)
    if "file-invalid-type" in codes:
        return UNSUPPORTED_FORMAT
    return FILE_REFUSED


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def check_upload_form(title: str, type_: str, clinical_date: str,
                      today: date | None = None) -> tuple[str, str] | None:
    """The first problem with the upload form as (field, French message), or None."""
    clean_title = " ".join(title.split())
    if not clean_title:
        return "title", TITLE_REQUIRED
    if len(clean_title) > MAX_TITLE:
        return "title", TITLE_TOO_LONG
    if type_ not in TYPE_LABELS:
        return "type", TYPE_REQUIRED
    if not clinical_date:
        return "clinicalDate", DATE_REQUIRED
    day = parse_day(clinical_date)
    if day is None or day.year < 1900:
        return "clinicalDate", DATE_INVALID
    if day > (today or today_here()):
        return "clinicalDate", DATE_IN_FUTURE
    return None


@dataclasses.dataclass(frozen=True)
class Filters:
    type: str = ""  # a DocumentType name, or '' for all
    date_from: str = ""  # ISO dates, or ''
    date_to: str = ""
    text: str = ""

    def variables(self) -> dict[str, Any] | None:
        """The `DocumentFilter` input, or None when nothing filters."""
        value: dict[str, Any] = {}
        if self.type:
            value["types"] = [self.type]
        if self.date_from:
            value["from"] = self.date_from
        if self.date_to:
            value["to"] = self.date_to
        if self.text:
            value["text"] = self.text
        return value or None


def parse_filters(form: Mapping[str, Any]) -> tuple[Filters, str]:
    """The filters from the filter form, and a French error ('' when they make sense)."""
    type_ = str(form.get("type") or "")
    date_from = str(form.get("from") or "").strip()
    date_to = str(form.get("to") or "").strip()
    text = " ".join(str(form.get("text") or "").split())[:MAX_TITLE]
    filters = Filters(type_ if type_ in TYPE_LABELS else "", date_from, date_to, text)
    start = parse_day(date_from) if date_from else None
    end = parse_day(date_to) if date_to else None
    if (date_from and start is None) or (date_to and end is None):
        return filters, DATE_INVALID
    if start and end and start > end:
        return filters, DATES_REVERSED
    return filters, ""


def author_label(author: Mapping[str, Any] | None) -> str:
    """'Moi', or the professional: 'Médecin · Cabinet du Parc'."""
    author = author or {}
    if author.get("isPatient"):
        return "Moi"
    professional = author.get("professional") or {}
    parts = [str(professional.get(key) or "").strip() for key in ("profession", "practiceName")]
    return " · ".join(part for part in parts if part) or "Professionnel de santé"


@dataclasses.dataclass(frozen=True)
class DocumentItem:
    id: str
    title: str  # shown as plain text, always
    type_label: str
    clinical_date: str  # '7 mars 2025'
    added: str  # '28 novembre 2026'
    size: str  # '1,5 Mo'
    kind: str  # 'PDF'
    author: str
    is_new: bool
    hidden: bool  # hidden from professionals


def document_item(node: Mapping[str, Any]) -> DocumentItem:
    content_type = str(node.get("contentType") or "").split(";")[0].strip()
    return DocumentItem(
        id=str(node["id"]),
        title=str(node["title"]),
        type_label=str(node.get("typeLabel") or TYPE_LABELS.get(node.get("type", ""), "")),
        clinical_date=french_day(str(node.get("clinicalDate") or "")),
        added=french_date(str(node.get("createdAt") or "")),
        size=french_size(int(node.get("size") or 0)),
        kind=CONTENT_KINDS.get(content_type, "Fichier"),
        author=author_label(node.get("author")),
        is_new=bool(node.get("isNew")),
        hidden=node.get("visibility") == "HIDDEN_FROM_PROFESSIONALS",
    )


def count_label(total: int) -> str:
    if total <= 0:
        return "Aucun document"
    return f"{total} document" + ("s" if total > 1 else "")


class DocumentsState(SessionState):
    # The list.
    loading: bool = True
    loading_more: bool = False
    error: str = ""
    info: str = ""
    documents: list[DocumentItem] = []
    total_count: int = 0
    has_more: bool = False
    _end_cursor: str = ""
    # The filters in force (the form is read on submit); a new key empties the form.
    filter_type: str = ""
    filter_from: str = ""
    filter_to: str = ""
    filter_text: str = ""
    filters_key: int = 0
    # The upload form.
    upload_title: str = ""
    upload_type: str = ""
    upload_date: str = ""
    upload_phase: str = ""  # '' | 'sending' (browser -> here) | 'saving' (here -> API)
    upload_percent: int = 0
    upload_error: str = ""
    upload_error_field: str = ""  # 'title', 'type', 'clinicalDate' or ''
    upload_info: str = ""
    duplicate_id: str = ""
    duplicate_notice: str = ""
    upload_form_key: int = 0
    # Actions on one document.
    busy_id: str = ""
    renaming_id: str = ""
    rename_error: str = ""
    deleting_id: str = ""  # the confirmation is open for this one
    deleting_title: str = ""

    @rx.var
    def filters_active(self) -> bool:
        return bool(self.filter_type or self.filter_from or self.filter_to or self.filter_text)

    @rx.var
    def count_label(self) -> str:
        return count_label(self.total_count)

    @rx.var
    def uploading(self) -> bool:
        return self.upload_phase != ""

    # --- the list -----------------------------------------------------------------------

    def _filters(self) -> Filters:
        return Filters(self.filter_type, self.filter_from, self.filter_to, self.filter_text)

    async def _fetch(self, *, more: bool = False) -> None:
        """Read the first page (or the next one, `more`) of my documents. Raises `api.ApiError`."""
        variables: dict[str, Any] = {"first": PAGE_SIZE, "filter": self._filters().variables()}
        if more and self._end_cursor:
            variables["after"] = self._end_cursor
        data = await self._query(DOCUMENTS, variables)
        connection = data["documents"]
        items = [document_item(edge["node"]) for edge in connection["edges"]]
        self.documents = [*self.documents, *items] if more else items
        self.total_count = int(connection["totalCount"])
        self.has_more = bool(connection["pageInfo"]["hasNextPage"])
        self._end_cursor = str(connection["pageInfo"].get("endCursor") or "")

    def _expired(self) -> EventSpec:
        self.documents = []
        self.total_count = 0
        self.upload_phase = ""
        return self._to_login(api.UNAUTHENTICATED_MESSAGE)

    def _title_of(self, document_id: str) -> str:
        return next((item.title for item in self.documents if item.id == document_id), "")

    def _replace(self, node: Mapping[str, Any]) -> DocumentItem:
        item = document_item(node)
        self.documents = [item if old.id == item.id else old for old in self.documents]
        return item

    def _forget(self, document_id: str) -> None:
        before = len(self.documents)
        self.documents = [item for item in self.documents if item.id != document_id]
        if len(self.documents) < before:
            self.total_count = max(0, self.total_count - 1)

    async def _reload(self) -> AsyncIterator[EventSpec | None]:
        self.loading = True
        self.error = ""
        yield
        try:
            await self._fetch()
        except api.ApiUnauthenticated:
            yield self._expired()
        except api.ApiError as exc:
            self.error = exc.message
        finally:
            self.loading = False

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.info = ""
        self.upload_phase = ""
        self.renaming_id = ""
        self.deleting_id = ""
        self.busy_id = ""
        async for event in self._reload():
            yield event

    @rx.event
    async def apply_filters(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Filtrer": type, date range and words of the title."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        filters, problem = parse_filters(form_data)
        if problem:
            self.error = problem
            return
        self.filter_type, self.filter_from = filters.type, filters.date_from
        self.filter_to, self.filter_text = filters.date_to, filters.text
        self.info = ""
        async for event in self._reload():
            yield event

    @rx.event
    async def clear_filters(self) -> AsyncIterator[EventSpec | None]:
        """"Effacer les filtres": every document again, and an empty filter form."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.filter_type = self.filter_from = self.filter_to = self.filter_text = ""
        self.filters_key += 1
        self.info = ""
        async for event in self._reload():
            yield event

    @rx.event
    async def load_more(self) -> AsyncIterator[EventSpec | None]:
        """"Voir plus": the next page, after the last document shown."""
        if self.loading_more or not self.has_more:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading_more = True
        self.error = ""
        yield
        try:
            await self._fetch(more=True)
        except api.ApiUnauthenticated:
            yield self._expired()
        except api.ApiError as exc:
            self.error = exc.message
        finally:
            self.loading_more = False

    # --- adding a document --------------------------------------------------------------

    @rx.event
    def upload_rejected(self, rejected: list[dict[str, Any]]) -> None:
        """The file picker refused the file (type, size, several files)."""
        self.upload_info = ""
        self.duplicate_id = ""
        self.duplicate_notice = ""
        self.upload_error_field = "file"
        self.upload_error = rejection_message(rejected)

    @rx.event
    def start_upload(self, form_data: dict[str, Any]) -> None:
        """"Ajouter au dossier": check the form. The browser then sends the file here (the
        event chained after this one) and `upload_document` goes on only if this said yes."""
        if self.upload_phase:
            return
        self.upload_info = ""
        self.duplicate_id = ""
        self.duplicate_notice = ""
        self.upload_title = " ".join(str(form_data.get("title") or "").split())
        self.upload_type = str(form_data.get("type") or "")
        self.upload_date = str(form_data.get("clinicalDate") or "").strip()
        problem = check_upload_form(self.upload_title, self.upload_type, self.upload_date)
        if problem is not None:
            self._upload_failed(problem[1], problem[0])
            return
        self.upload_error = ""
        self.upload_error_field = ""
        self.upload_phase = "sending"
        self.upload_percent = 0

    @rx.event
    def upload_progress(self, progress: dict[str, Any]) -> None:
        """How much of the file the browser has sent here (rx.upload's on_upload_progress)."""
        if self.upload_phase != "sending":
            return  # a late report, after the upload moved on
        try:
            fraction = float(progress.get("progress") or 0)
        except (TypeError, ValueError):
            return
        self.upload_percent = max(self.upload_percent, min(100, max(0, int(fraction * 100))))

    @rx.event
    def upload_cancelled(self) -> None:
        """"Annuler l'envoi" (while the browser is still sending the file)."""
        if self.upload_phase == "sending":
            self.upload_phase = ""
            self.upload_percent = 0
            self.upload_info = UPLOAD_CANCELLED

    def _upload_failed(self, message: str, field: str = "") -> None:
        self.upload_phase = ""
        self.upload_percent = 0
        self.upload_error = message
        self.upload_error_field = field

    @rx.event
    async def upload_document(
        self, files: list[rx.UploadFile]
    ) -> AsyncIterator[EventSpec | None]:
        """The file has reached this server: check it, forward it to the API, say how it went."""
        if self.upload_phase != "sending":
            return  # start_upload refused the form (or the upload was cancelled)
        if (redirect := self._require_session()) is not None:
            self.upload_phase = ""
            yield redirect
            return
        if not files:
            self._upload_failed(NO_FILE, "file")
            return
        if len(files) > 1:
            self._upload_failed(ONE_FILE_ONLY, "file")
            return
        problem = check_upload_form(self.upload_title, self.upload_type, self.upload_date)
        if problem is not None:
            self._upload_failed(problem[1], problem[0])
            return
        file = files[0]
        size = _size_of(file)
        if size > MAX_DOCUMENT_BYTES:
            self._upload_failed(too_large_message(MAX_DOCUMENT_BYTES), "file")
            return
        if size == 0:
            self._upload_failed(EMPTY_FILE, "file")
            return
        self.upload_phase = "saving"
        self.upload_percent = 100
        self.upload_error = ""
        yield
        variables = {"input": {"title": " ".join(self.upload_title.split()),
                               "type": self.upload_type, "clinicalDate": self.upload_date}}
        try:
            file.file.seek(0)
            data = await self._upload(
                UPLOAD_DOCUMENT, variables, file_variable="file",
                filename=PurePosixPath(file.filename or "").name or "document",
                content=file.file,
            )
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiPayloadTooLarge:
            self._upload_failed(too_large_message(MAX_DOCUMENT_BYTES), "file")
            return
        except api.ApiError as exc:
            self._upload_failed(exc.message)
            return
        result = data["uploadDocument"]
        kind = result.get("__typename")
        if kind != "Document":
            field = str(result.get("field") or "") if kind == "InvalidDocumentInput" else "file"
            self._upload_failed(upload_error_message(result), field)
            if kind == "DuplicateDocument":
                await self._show_duplicate(str(result.get("existingDocumentId") or ""))
            return
        self.upload_phase = ""
        self.upload_percent = 0
        self.upload_info = added_message(str(result["title"]))
        self.upload_title = self.upload_type = self.upload_date = ""
        self.upload_form_key += 1
        yield rx.clear_selected_files(UPLOAD_ID)
        async for event in self._reload():
            yield event

    async def _show_duplicate(self, existing_id: str) -> None:
        """Say under which title the same file already is (best effort)."""
        self.duplicate_id = existing_id
        self.duplicate_notice = ""
        if not existing_id:
            return
        try:
            existing = (await self._query(DOCUMENT, {"id": existing_id}))["document"]
        except api.ApiError:
            return
        if existing:
            self.duplicate_notice = duplicate_notice(str(existing["title"]),
                                                     str(existing["clinicalDate"]))

    # --- one document -------------------------------------------------------------------

    @rx.event
    async def download(self, document_id: str) -> AsyncIterator[EventSpec | None]:
        """"Télécharger": a one-time link to this server, which streams the file from the API
        (see `carnet_web.documents_http`)."""
        if self.busy_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.error = ""
        self.info = ""
        try:
            found = (await self._query(DOCUMENT, {"id": document_id}))["document"]
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        if not found:
            self.error = DOCUMENT_GONE
            self._forget(document_id)
            return
        ticket = TICKETS.issue(token=self._api_token, path=str(found["downloadUrl"]),
                               headers=self._forwarded_headers())
        base = backend_base_url(get_config().api_url, self.router.page.host)
        # Opening the document marks it as seen.
        self.documents = [
            dataclasses.replace(item, is_new=False) if item.id == document_id else item
            for item in self.documents
        ]
        yield rx.call_script(download_script(download_url(base, ticket)))

    @rx.event
    def start_rename(self, document_id: str) -> None:
        self.renaming_id = document_id
        self.rename_error = ""
        self.info = ""

    @rx.event
    def cancel_rename(self) -> None:
        self.renaming_id = ""
        self.rename_error = ""

    @rx.event
    async def rename(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Enregistrer" in the rename form of `renaming_id`."""
        document_id = self.renaming_id
        if not document_id or self.busy_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        title = " ".join(str(form_data.get("title") or "").split())
        if not title:
            self.rename_error = TITLE_REQUIRED
            return
        if len(title) > MAX_TITLE:
            self.rename_error = TITLE_TOO_LONG
            return
        self.busy_id = document_id
        self.rename_error = ""
        self.error = ""
        yield
        try:
            data = await self._query(RENAME_DOCUMENT, {"id": document_id, "title": title})
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.rename_error = exc.message
            return
        finally:
            self.busy_id = ""
        result = data["renameDocument"]
        kind = result.get("__typename")
        if kind == "Document":
            self._replace(result)
            self.renaming_id = ""
            self.info = RENAMED
        elif kind == "DocumentNotFound":
            self.renaming_id = ""
            self._forget(document_id)
            self.error = DOCUMENT_GONE
        else:
            self.rename_error = change_error_message(result)

    @rx.event
    async def set_hidden(self, document_id: str, hidden: bool) -> AsyncIterator[EventSpec | None]:
        """"Masquer aux professionnels" / "Afficher aux professionnels"."""
        if self.busy_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.busy_id = document_id
        self.error = ""
        self.info = ""
        yield
        try:
            data = await self._query(SET_DOCUMENT_HIDDEN, {"id": document_id,
                                                           "hidden": bool(hidden)})
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        finally:
            self.busy_id = ""
        result = data["setDocumentHidden"]
        if result.get("__typename") == "Document":
            item = self._replace(result)
            self.info = hidden_message(item.title, item.hidden)
            return
        if result.get("__typename") == "DocumentNotFound":
            self._forget(document_id)
        self.error = change_error_message(result)

    @rx.event
    def ask_delete(self, document_id: str) -> None:
        """"Supprimer": open the confirmation."""
        self.deleting_id = document_id
        self.deleting_title = self._title_of(document_id)
        self.info = ""

    @rx.event
    def cancel_delete(self) -> None:
        self.deleting_id = ""
        self.deleting_title = ""

    @rx.event
    def delete_dialog_changed(self, is_open: bool) -> None:
        """The confirmation closed by Escape or a click outside: as "Annuler"."""
        if not is_open:
            self.deleting_id = ""
            self.deleting_title = ""

    @rx.event
    async def confirm_delete(self) -> AsyncIterator[EventSpec | None]:
        """"Supprimer" in the confirmation."""
        document_id = self.deleting_id
        if not document_id or self.busy_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        title = self.deleting_title or self._title_of(document_id)
        self.deleting_id = ""
        self.deleting_title = ""
        self.busy_id = document_id
        self.error = ""
        self.info = ""
        yield
        try:
            data = await self._query(DELETE_DOCUMENT, {"id": document_id})
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        finally:
            self.busy_id = ""
        result = data["deleteDocument"]
        if result.get("__typename") == "DocumentDeleted":
            self._forget(document_id)
            self.info = deleted_message(title)
            return
        if result.get("__typename") == "DocumentNotFound":
            self._forget(document_id)
        self.error = change_error_message(result)


def _size_of(file: rx.UploadFile) -> int:
    if file.size is not None:
        return int(file.size)
    position = file.file.tell()
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(position)
    return size
