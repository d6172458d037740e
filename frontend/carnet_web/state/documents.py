"""State of "Mes documents" (/documents): my documents (filters, pages), adding one (upload),
viewing, downloading, renaming, hiding from professionals, deleting. Needs a session: without
one (or when the API says it is no longer valid) the tab goes to the login page.

The document types, their labels, the accepted formats and the limits (size, title length) come
from the API's `referenceData`, in the tab's language, with the first page of documents.

Uploads: `rx.upload` sends the chosen file to this Reflex backend (with progress, reported to
`upload_progress`), then `upload_document` forwards it to the API as a GraphQL multipart
request (`api.upload`, streamed) with the tab's token. A file over the limit is refused as soon
as it is picked (the file picker knows the limit). Downloads: `download` issues a one-time
ticket for `carnet_web.documents_http`, which streams the bytes from the API; the token never
reaches the browser. "Voir" opens the document page (state/document_view.py).

Every message is French in the code (the catalogue's msgid) and shown in the tab's language.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import date
from pathlib import PurePosixPath
from typing import Any, Final

import reflex as rx
from reflex.config import get_config
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.documents_http import (
    DOWNLOAD,
    MAX_DOCUMENT_BYTES,
    TICKETS,
    backend_base_url,
    download_script,
    download_url,
    is_inline,
)
from carnet_web.i18n import DEFAULT_LANGUAGE, N_, gettext
from carnet_web.routes import document_view_path
from carnet_web.state.focus import focus
from carnet_web.state.formatting import date_text, day_text, size_text, today_here
from carnet_web.state.session import SessionState, api_errors

PAGE_SIZE: Final = 20
#: Until the API's reference data has come (it says the real values).
DEFAULT_MAX_TITLE: Final = 200
UPLOAD_ID: Final = "document-upload"
# The hidden button that starts sending the chosen file (pages.documents), pressed by start_upload
# once the form is right.
SEND_FILE_ID: Final = "upload-send"
DELETE_BUTTON_PREFIX: Final = "delete-document-"  # + the document's id

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

#: The first page and what the page needs to know from the API (types, formats, limits).
DOCUMENTS_PAGE: Final = api.operation(
    """
    query DocumentsPage($first: Int!, $filter: DocumentFilter) {
      documents(first: $first, filter: $filter) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { ...DocumentFields } }
      }
      referenceData {
        documentTypes { value label }
        uploadLimits {
          maxDocumentBytes maxTitleLength
          contentKinds { contentType label extensions pickerTypes }
        }
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

# --- messages (French msgids, shown in the tab's language) ---------------------------------

UNSUPPORTED_FORMAT: Final = N_("Format non accepté : envoyez un fichier de l'un de ces formats : "
                               "{formats}.")
DUPLICATE: Final = N_("Ce document est déjà dans votre dossier.")
DOCUMENT_GONE: Final = N_("Ce document n'existe plus : il a peut-être été supprimé.")
NO_FILE: Final = N_("Choisissez un fichier à envoyer.")
ONE_FILE_ONLY: Final = N_("Choisissez un seul fichier à la fois.")
FILE_REFUSED: Final = N_("Ce fichier ne peut pas être envoyé.")
EMPTY_FILE: Final = N_("Ce fichier est vide.")
TOO_LARGE: Final = N_("Fichier trop volumineux : {size} au maximum.")
TITLE_REQUIRED: Final = N_("Le titre est obligatoire.")
TITLE_TOO_LONG: Final = N_("Le titre dépasse {max} caractères.")
TYPE_REQUIRED: Final = N_("Choisissez le type du document.")
DATE_REQUIRED: Final = N_("Indiquez la date du document.")
DATE_INVALID: Final = N_("Date invalide.")
DATE_IN_FUTURE: Final = N_("La date du document est dans le futur.")
DATES_REVERSED: Final = N_("La date de début doit précéder la date de fin.")
UPLOAD_CANCELLED: Final = N_("Envoi annulé.")
RENAMED: Final = N_("Le document a été renommé.")
ADDED: Final = N_("« {title} » a été ajouté à votre dossier.")
NOW_HIDDEN: Final = N_("« {title} » est maintenant masqué aux professionnels.")
NOW_VISIBLE: Final = N_("« {title} » est de nouveau visible par les professionnels.")
DELETED: Final = N_("« {title} » a été supprimé de votre dossier.")
DUPLICATE_NOTICE: Final = N_("Il s'y trouve sous le titre « {title} » (document du {day}).")
DUPLICATE_NOTICE_NO_DAY: Final = N_("Il s'y trouve sous le titre « {title} ».")
FORMATS_HINT: Final = N_("Formats acceptés : {formats} ; {size} au maximum.")
ME: Final = N_("Moi")
A_PROFESSIONAL: Final = N_("Professionnel de santé")
NO_DOCUMENT: Final = N_("Aucun document")
ONE_DOCUMENT: Final = N_("{n} document")
SEVERAL_DOCUMENTS: Final = N_("{n} documents")
A_FILE: Final = N_("Fichier")


def _fallback(result: Mapping[str, Any], lang: str) -> str:
    # An error type this page does not know yet: the API's own message (in the tab's language).
    message = result.get("message")
    return message if isinstance(message, str) and message else gettext(
        lang, api.UNEXPECTED_MESSAGE)


def too_large_message(max_bytes: int, lang: str) -> str:
    return gettext(lang, TOO_LARGE, size=size_text(max_bytes, lang))


def unsupported_message(formats: Sequence[str], lang: str) -> str:
    return gettext(lang, UNSUPPORTED_FORMAT, formats=", ".join(formats))


def upload_error_message(result: Mapping[str, Any], lang: str, *,
                         formats: Sequence[str] = (), max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The message for an error member of `UploadDocumentResult`, in `lang`."""
    kind = result.get("__typename")
    if kind == "UnsupportedContent":
        return unsupported_message(formats, lang) if formats else _fallback(result, lang)
    if kind == "FileTooLarge":
        return too_large_message(int(result.get("maxBytes") or max_bytes), lang)
    if kind == "DuplicateDocument":
        return gettext(lang, DUPLICATE)
    if kind == "DocumentNotFound":
        return gettext(lang, DOCUMENT_GONE)
    return _fallback(result, lang)  # InvalidDocumentInput: the API says which field, and why


def change_error_message(result: Mapping[str, Any], lang: str) -> str:
    """The message for an error member of `DocumentChangeResult`/`DeleteDocumentResult`."""
    if result.get("__typename") == "DocumentNotFound":
        return gettext(lang, DOCUMENT_GONE)
    return _fallback(result, lang)


def rejection_message(codes: Collection[str], lang: str, *,
                      formats: Sequence[str] = (), max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The message for files the file picker refused, from react-dropzone's error codes."""
    codes = {str(code) for code in codes}
    if "too-many-files" in codes:
        return gettext(lang, ONE_FILE_ONLY)
    if "file-too-large" in codes:
        return too_large_message(max_bytes, lang)
    if "file-invalid-type" in codes and formats:
        return unsupported_message(formats, lang)
    return gettext(lang, FILE_REFUSED)


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def check_upload_form(title: str, type_: str, clinical_date: str, *, types: Collection[str],
                      max_title: int = DEFAULT_MAX_TITLE, today: date | None = None
                      ) -> tuple[str, str, dict[str, Any]] | None:
    """The first problem with the upload form as (field, French message, its values), or
    None. `types`: the document types the API knows."""
    clean_title = " ".join(title.split())
    if not clean_title:
        return "title", TITLE_REQUIRED, {}
    if len(clean_title) > max_title:
        return "title", TITLE_TOO_LONG, {"max": max_title}
    if type_ not in types:
        return "type", TYPE_REQUIRED, {}
    if not clinical_date:
        return "clinicalDate", DATE_REQUIRED, {}
    day = parse_day(clinical_date)
    if day is None or day.year < 1900:
        return "clinicalDate", DATE_INVALID, {}
    if day > (today or today_here()):
        return "clinicalDate", DATE_IN_FUTURE, {}
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


def parse_filters(form: Mapping[str, Any], *, types: Collection[str],
                  max_title: int = DEFAULT_MAX_TITLE) -> tuple[Filters, str]:
    """The filters from the filter form, and a French error ('' when they make sense)."""
    type_ = str(form.get("type") or "")
    date_from = str(form.get("from") or "").strip()
    date_to = str(form.get("to") or "").strip()
    text = " ".join(str(form.get("text") or "").split())[:max_title]
    filters = Filters(type_ if type_ in types else "", date_from, date_to, text)
    start = parse_day(date_from) if date_from else None
    end = parse_day(date_to) if date_to else None
    if (date_from and start is None) or (date_to and end is None):
        return filters, DATE_INVALID
    if start and end and start > end:
        return filters, DATES_REVERSED
    return filters, ""


def author_label(author: Mapping[str, Any] | None, lang: str) -> str:
    """'Moi', or the professional: 'Médecin · Cabinet du Parc' (as the API stores them)."""
    author = author or {}
    if author.get("isPatient"):
        return gettext(lang, ME)
    professional = author.get("professional") or {}
    parts = [str(professional.get(key) or "").strip() for key in ("profession", "practiceName")]
    return " · ".join(part for part in parts if part) or gettext(lang, A_PROFESSIONAL)


def count_label(total: int, lang: str = DEFAULT_LANGUAGE) -> str:
    """'Aucun document', '1 document', '25 documents' (also used by state/pro_record.py)."""
    if total <= 0:
        return gettext(lang, NO_DOCUMENT)
    return gettext(lang, ONE_DOCUMENT if total == 1 else SEVERAL_DOCUMENTS, n=total)


@dataclasses.dataclass(frozen=True)
class DocumentItem:
    id: str
    title: str  # shown as plain text, always
    type_label: str
    clinical_date: str  # '7 mars 2025' / '7 March 2025'
    added: str  # '28 novembre 2026'
    size: str  # '1,5 Ko' / '1.5 KB'
    kind: str  # 'PDF'
    author: str
    is_new: bool
    hidden: bool  # hidden from professionals
    viewable: bool  # shown inside Carnet (PDF, raster image): "Voir"
    view_path: str  # /documents/<id>


def document_item(node: Mapping[str, Any], lang: str,
                  kinds: Mapping[str, str] | None = None) -> DocumentItem:
    """A document of the list; `kinds`: the API's label of each content type."""
    content_type = str(node.get("contentType") or "")
    return DocumentItem(
        id=str(node["id"]),
        title=str(node["title"]),
        type_label=str(node.get("typeLabel") or node.get("type") or ""),
        clinical_date=day_text(str(node.get("clinicalDate") or ""), lang),
        added=date_text(str(node.get("createdAt") or ""), lang),
        size=size_text(int(node.get("size") or 0), lang),
        kind=(kinds or {}).get(content_type) or gettext(lang, A_FILE),
        author=author_label(node.get("author"), lang),
        is_new=bool(node.get("isNew")),
        hidden=node.get("visibility") == "HIDDEN_FROM_PROFESSIONALS",
        viewable=is_inline(content_type),
        view_path=document_view_path(str(node["id"])),
    )


def picker_accept(kinds: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """react-dropzone's `accept`: media type -> extensions, from the API's content kinds."""
    accept: dict[str, list[str]] = {}
    for kind in kinds:
        for media_type in kind.get("pickerTypes") or []:
            extensions = accept.setdefault(str(media_type), [])
            extensions += [str(e) for e in kind.get("extensions") or [] if e not in extensions]
    return accept


def download_event(state: SessionState, download_path: str) -> EventSpec:
    """The browser-side event that downloads the document at `download_path` (its API
    `downloadUrl`) through this server, with a one-time ticket for this tab's session."""
    ticket = TICKETS.issue(token=state._api_token, path=download_path,
                           headers=state._forwarded_headers(), kind=DOWNLOAD, lang=state.lang)
    base = backend_base_url(get_config().api_url, state.router.page.host)
    return rx.call_script(download_script(download_url(base, ticket)))


class DocumentsState(SessionState):
    # The list.
    loading: bool = True
    loading_more: bool = False
    error: str = ""
    info: str = ""
    documents: list[DocumentItem] = []
    total_count: int = 0
    count_text: str = ""
    has_more: bool = False
    _end_cursor: str = ""
    # What the API says (referenceData), in the tab's language.
    type_options: list[list[str]] = []  # [value, label]
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    max_title: int = DEFAULT_MAX_TITLE
    accept: dict[str, list[str]] = {}
    formats_hint: str = ""
    _kind_labels: dict[str, str] = {}
    _format_labels: list[str] = []
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
    upload_error_field: str = ""  # 'file', 'title', 'type', 'clinicalDate' or ''
    pick_error: str = ""  # the file picker refused the file just picked
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
    def uploading(self) -> bool:
        return self.upload_phase != ""

    @rx.var
    def deleting(self) -> bool:
        return self.deleting_id != ""

    # --- the list -----------------------------------------------------------------------

    def _types(self) -> set[str]:
        return {value for value, _ in self.type_options}

    def _filters(self) -> Filters:
        return Filters(self.filter_type, self.filter_from, self.filter_to, self.filter_text)

    def _set_total(self, total: int) -> None:
        self.total_count = max(0, total)
        self.count_text = count_label(self.total_count, self.lang)

    def _use_reference(self, reference: Mapping[str, Any]) -> None:
        self.type_options = [[str(choice["value"]), str(choice["label"])]
                             for choice in reference.get("documentTypes") or []]
        limits = reference.get("uploadLimits") or {}
        self.max_document_bytes = int(limits.get("maxDocumentBytes") or MAX_DOCUMENT_BYTES)
        self.max_title = int(limits.get("maxTitleLength") or DEFAULT_MAX_TITLE)
        kinds = list(limits.get("contentKinds") or [])
        self._kind_labels = {str(k["contentType"]): str(k["label"]) for k in kinds}
        self._format_labels = [str(k["label"]) for k in kinds]
        self.accept = picker_accept(kinds)
        self.formats_hint = self._t(FORMATS_HINT, formats=", ".join(self._format_labels),
                                    size=size_text(self.max_document_bytes, self.lang))

    async def _fetch(self, *, more: bool = False) -> None:
        """Read the first page (with the reference data) or the next one (`more`) of my
        documents. Raises `api.ApiError`."""
        variables: dict[str, Any] = {"first": PAGE_SIZE, "filter": self._filters().variables()}
        if more and self._end_cursor:
            variables["after"] = self._end_cursor
            data = await self._query(DOCUMENTS, variables)
        else:
            data = await self._query(DOCUMENTS_PAGE, variables)
            self._use_reference(data["referenceData"])
        connection = data["documents"]
        items = [self._item(edge["node"]) for edge in connection["edges"]]
        self.documents = [*self.documents, *items] if more else items
        self._set_total(int(connection["totalCount"]))
        self.has_more = bool(connection["pageInfo"]["hasNextPage"])
        self._end_cursor = str(connection["pageInfo"].get("endCursor") or "")

    def _item(self, node: Mapping[str, Any]) -> DocumentItem:
        return document_item(node, self.lang, self._kind_labels)

    def _expired(self) -> EventSpec:
        self.documents = []
        self._set_total(0)
        self.upload_phase = ""
        return super()._expired()

    def _title_of(self, document_id: str) -> str:
        return next((item.title for item in self.documents if item.id == document_id), "")

    def _replace(self, node: Mapping[str, Any]) -> DocumentItem:
        item = self._item(node)
        self.documents = [item if old.id == item.id else old for old in self.documents]
        return item

    def _forget(self, document_id: str) -> None:
        before = len(self.documents)
        self.documents = [item for item in self.documents if item.id != document_id]
        if len(self.documents) < before:
            self._set_total(self.total_count - 1)

    async def _reload(self) -> AsyncIterator[EventSpec | None]:
        """The first page again (errors: see `api_errors` on the calling handler)."""
        self.loading = True
        self.error = ""
        yield
        try:
            await self._fetch()
        finally:
            self.loading = False

    def _clear_messages(self) -> None:
        """What a finished action said: never carried to another visit of the page."""
        self.error = self.info = ""
        self.upload_error = self.upload_error_field = self.upload_info = self.pick_error = ""
        self.duplicate_id = self.duplicate_notice = ""
        self.rename_error = ""

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load (each visit, each reload) and on "Réessayer"."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        self.upload_phase = ""
        self.upload_percent = 0
        self.renaming_id = ""
        self.deleting_id = ""
        self.deleting_title = ""
        self.busy_id = ""
        async for event in self._reload():
            yield event

    @rx.event
    @api_errors(error="error", busy="loading")
    async def apply_filters(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Filtrer": type, date range and words of the title."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        filters, problem = parse_filters(form_data, types=self._types(),
                                         max_title=self.max_title)
        if problem:
            self.error = self._t(problem)
            return
        self.filter_type, self.filter_from = filters.type, filters.date_from
        self.filter_to, self.filter_text = filters.date_to, filters.text
        self.info = ""
        async for event in self._reload():
            yield event

    @rx.event
    @api_errors(error="error", busy="loading")
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
    @api_errors(error="error", busy="loading_more")
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
        await self._fetch(more=True)

    # --- adding a document --------------------------------------------------------------

    @rx.event
    def upload_rejected(self, codes: list[str]) -> None:
        """The file picker refused the file just picked (size, type, several files): said at
        once, before anything is sent. `codes`: react-dropzone's error codes only (the page
        keeps the refused file itself in the browser: see `pages.documents`)."""
        self.upload_info = ""
        self.duplicate_id = ""
        self.duplicate_notice = ""
        self.upload_error = ""
        self.upload_error_field = ""
        self.pick_error = rejection_message(codes, self.lang, formats=self._format_labels,
                                            max_bytes=self.max_document_bytes)

    @rx.event
    def start_upload(self, form_data: dict[str, Any]) -> EventSpec | None:
        """"Ajouter au dossier": check the form. The browser then sends the file here (the
        event chained after this one) and `upload_document` goes on only if this said yes."""
        if self.upload_phase:
            return None
        self.upload_info = ""
        self.pick_error = ""
        self.duplicate_id = ""
        self.duplicate_notice = ""
        self.upload_title = " ".join(str(form_data.get("title") or "").split())
        self.upload_type = str(form_data.get("type") or "")
        self.upload_date = str(form_data.get("clinicalDate") or "").strip()
        if self._form_problem():
            return None
        self.upload_error = ""
        self.upload_error_field = ""
        self.upload_phase = "sending"
        self.upload_percent = 0
        return rx.call_script(f"document.getElementById('{SEND_FILE_ID}').click()")

    def _form_problem(self) -> bool:
        """Check the upload form; say what is wrong (and return True) if something is."""
        problem = check_upload_form(self.upload_title, self.upload_type, self.upload_date,
                                    types=self._types(), max_title=self.max_title)
        if problem is None:
            return False
        field, message, values = problem
        self._upload_failed(self._t(message, **values), field)
        return True

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
            self.upload_info = self._t(UPLOAD_CANCELLED)

    def _upload_failed(self, message: str, field: str = "") -> None:
        self.upload_phase = ""
        self.upload_percent = 0
        self.upload_error = message
        self.upload_error_field = field

    @rx.event
    @api_errors(error="upload_error")
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
            self._upload_failed(self._t(NO_FILE), "file")
            return
        if len(files) > 1:
            self._upload_failed(self._t(ONE_FILE_ONLY), "file")
            return
        if self._form_problem():
            return
        file = files[0]
        size = _size_of(file)
        if size > self.max_document_bytes:
            self._upload_failed(too_large_message(self.max_document_bytes, self.lang), "file")
            return
        if size == 0:
            self._upload_failed(self._t(EMPTY_FILE), "file")
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
        except api.ApiPayloadTooLarge:  # refused by a proxy or the API before the GraphQL layer
            self._upload_failed(too_large_message(self.max_document_bytes, self.lang), "file")
            return
        finally:
            if self.upload_phase == "saving":  # an error: the form is free again
                self.upload_phase = ""
                self.upload_percent = 0
        result = data["uploadDocument"]
        kind = result.get("__typename")
        if kind != "Document":
            field = str(result.get("field") or "") if kind == "InvalidDocumentInput" else "file"
            self._upload_failed(upload_error_message(
                result, self.lang, formats=self._format_labels,
                max_bytes=self.max_document_bytes), field)
            if kind == "DuplicateDocument":
                await self._show_duplicate(str(result.get("existingDocumentId") or ""))
            return
        self.upload_info = self._t(ADDED, title=str(result["title"]))
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
            return  # the duplicate error alone says enough
        if existing:
            day = day_text(str(existing["clinicalDate"]), self.lang)
            title = str(existing["title"])
            self.duplicate_notice = (self._t(DUPLICATE_NOTICE, title=title, day=day) if day
                                     else self._t(DUPLICATE_NOTICE_NO_DAY, title=title))

    # --- one document -------------------------------------------------------------------

    @rx.event
    @api_errors(error="error")
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
        found = (await self._query(DOCUMENT, {"id": document_id}))["document"]
        if not found:
            self.error = self._t(DOCUMENT_GONE)
            self._forget(document_id)
            return
        # Opening the document marks it as seen.
        self.documents = [
            dataclasses.replace(item, is_new=False) if item.id == document_id else item
            for item in self.documents
        ]
        yield download_event(self, str(found["downloadUrl"]))

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
    @api_errors(error="rename_error")
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
            self.rename_error = self._t(TITLE_REQUIRED)
            return
        if len(title) > self.max_title:
            self.rename_error = self._t(TITLE_TOO_LONG, max=self.max_title)
            return
        self.busy_id = document_id
        self.rename_error = ""
        self.error = ""
        yield
        try:
            data = await self._query(RENAME_DOCUMENT, {"id": document_id, "title": title})
        finally:
            self.busy_id = ""
        result = data["renameDocument"]
        kind = result.get("__typename")
        if kind == "Document":
            self._replace(result)
            self.renaming_id = ""
            self.info = self._t(RENAMED)
        elif kind == "DocumentNotFound":
            self.renaming_id = ""
            self._forget(document_id)
            self.error = self._t(DOCUMENT_GONE)
        else:
            self.rename_error = change_error_message(result, self.lang)

    @rx.event
    @api_errors(error="error")
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
        finally:
            self.busy_id = ""
        result = data["setDocumentHidden"]
        if result.get("__typename") == "Document":
            item = self._replace(result)
            self.info = self._t(NOW_HIDDEN if item.hidden else NOW_VISIBLE, title=item.title)
            return
        if result.get("__typename") == "DocumentNotFound":
            self._forget(document_id)
        self.error = change_error_message(result, self.lang)

    @rx.event
    def ask_delete(self, document_id: str) -> None:
        """"Supprimer": open the confirmation."""
        self.deleting_id = document_id
        self.deleting_title = self._title_of(document_id)
        self.info = ""

    @rx.event
    def delete_dialog_changed(self, is_open: bool) -> EventSpec | None:
        """The confirmation closed ("Annuler", Escape, a click outside) or opened. Closed
        without deleting: the keyboard is back on that document's "Supprimer" (the dialog has
        no trigger of its own, and the list may have re-rendered the button meanwhile)."""
        if is_open or not self.deleting_id:
            return None
        button = DELETE_BUTTON_PREFIX + self.deleting_id
        self.deleting_id = ""
        self.deleting_title = ""
        return focus(button)

    @rx.event
    @api_errors(error="error")
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
        finally:
            self.busy_id = ""
        result = data["deleteDocument"]
        if result.get("__typename") == "DocumentDeleted":
            self._forget(document_id)
            self.info = self._t(DELETED, title=title)
            return
        if result.get("__typename") == "DocumentNotFound":
            self._forget(document_id)
        self.error = change_error_message(result, self.lang)


def _size_of(file: rx.UploadFile) -> int:
    if file.size is not None:
        return int(file.size)
    position = file.file.tell()
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(position)
    return size
