"""State of a document's page (/documents/<id>): its title, type, date and author, "Télécharger",
and the document itself shown inside Carnet when the browser can show it safely:

- a PDF in the pdf.js viewer (`carnet_web.pdf_viewer`), an `<iframe sandbox="allow-scripts">`
  whose page the Reflex backend serves; the page's script (`documents_http.pdf_script`) fetches
  the bytes with a one-time inline ticket and posts them to the viewer;
- a raster image (PNG, JPEG, GIF, WebP) in an `<img>` of a one-time inline ticket's URL;
- anything else (text, CDA XML...) only as a download, said so on the page.

The API token stays on this server; the browser only ever gets the document's bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.config import get_config
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.documents_http import (
    INLINE,
    PDF_TYPE,
    TICKETS,
    backend_base_url,
    inline_url,
    is_inline,
    pdf_script,
    viewer_url,
)
from carnet_web.i18n import N_
from carnet_web.state.documents import (
    A_FILE,
    DOCUMENT,
    DOCUMENT_GONE,
    author_label,
    download_event,
)
from carnet_web.state.formatting import date_text, day_text, size_text
from carnet_web.state.session import SessionState, api_errors

DOCUMENT_VIEW: Final = api.operation(
    """
    query DocumentView($id: ID!) {
      document(id: $id) {
        id title typeLabel clinicalDate contentType size createdAt downloadUrl
        author { isPatient professional { profession practiceName } }
      }
      referenceData { uploadLimits { contentKinds { contentType label } } }
    }
    """
)

#: How the page shows the document.
PDF: Final = "pdf"
IMAGE: Final = "image"
DOWNLOAD_ONLY: Final = "download"

DOCUMENT_LINE: Final = N_("{type} · document du {day}")
ADDED_LINE: Final = N_("Ajouté le {day} · auteur : {author} · {kind} · {size}")


class DocumentViewState(SessionState):
    loading: bool = True
    error: str = ""
    missing: bool = False  # no such document (or not mine: the API answers alike)
    shown_id: str = ""  # the document this state describes (the route's `document_id`)
    title: str = ""
    document_line: str = ""  # 'Compte rendu de biologie · document du 2 mars 2025'
    added_line: str = ""
    display: str = ""  # PDF, IMAGE or DOWNLOAD_ONLY once loaded
    viewer_src: str = ""  # the PDF viewer's page (for the iframe)
    image_src: str = ""  # a one-time URL of the image
    image_failed: bool = False
    _download_path: str = ""

    def _reset_document(self) -> None:
        self.error = ""
        self.missing = False
        self.title = self.document_line = self.added_line = ""
        self.display = self.viewer_src = self.image_src = ""
        self.image_failed = False
        self._download_path = ""

    def _describe(self, document: Mapping[str, Any], kinds: Mapping[str, str]) -> None:
        content_type = str(document.get("contentType") or "")
        self.title = str(document["title"])
        self.document_line = self._t(DOCUMENT_LINE, type=str(document.get("typeLabel") or ""),
                                     day=day_text(str(document.get("clinicalDate") or ""),
                                                  self.lang))
        self.added_line = self._t(
            ADDED_LINE, day=date_text(str(document.get("createdAt") or ""), self.lang),
            author=author_label(document.get("author"), self.lang),
            kind=kinds.get(content_type) or self._t(A_FILE),
            size=size_text(int(document.get("size") or 0), self.lang))
        self._download_path = str(document.get("downloadUrl") or "")

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load: the document's details, and what the browser needs to show it."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._reset_document()
        self.loading = True
        self.shown_id = str(self.router.page.params.get("document_id") or "")
        yield
        data = await self._query(DOCUMENT_VIEW, {"id": self.shown_id})
        document = data["document"]
        if not document:
            self.missing = True
            return
        limits = (data.get("referenceData") or {}).get("uploadLimits") or {}
        kinds = {str(k["contentType"]): str(k["label"]) for k in limits.get("contentKinds") or []}
        self._describe(document, kinds)
        content_type = str(document.get("contentType") or "")
        if not is_inline(content_type):
            self.display = DOWNLOAD_ONLY
            return
        base = backend_base_url(get_config().api_url, self.router.page.host)
        ticket = TICKETS.issue(token=self._api_token, path=self._download_path,
                               headers=self._forwarded_headers(), kind=INLINE, lang=self.lang)
        if content_type.strip().lower() == PDF_TYPE:
            self.display = PDF
            self.viewer_src = viewer_url(base, self.lang)
            self.loading = False
            yield rx.call_script(pdf_script(inline_url(base, ticket)))
        else:
            self.display = IMAGE
            self.image_src = inline_url(base, ticket)

    @rx.event
    def image_error(self) -> None:
        """The browser could not show the image (unreadable, or its one-time link refused)."""
        self.image_failed = True

    @rx.event
    @api_errors(error="error")
    async def download(self) -> AsyncIterator[EventSpec | None]:
        """"Télécharger": as in the list, through this server with a one-time ticket."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        if not self.shown_id:
            return
        self.error = ""
        found = (await self._query(DOCUMENT, {"id": self.shown_id}))["document"]
        if not found:
            self._reset_document()
            self.missing = True
            self.error = self._t(DOCUMENT_GONE)
            return
        yield download_event(self, str(found["downloadUrl"]))
