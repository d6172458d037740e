"""A document's page (/documents/<id>): its title, type, date and author, "Télécharger", and the
document itself when the browser can show it safely: a PDF in Carnet's pdf.js viewer (a
sandboxed iframe: see carnet_web/pdf_viewer), an image in an <img>. Anything else is offered as
a download, and so is a document that cannot be displayed.

The title comes from people: plain text, never HTML.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventHandler, no_args_event_spec
from reflex_components_core.el.elements.media import Img

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    empty_state,
    error_callout,
    loading_state,
    page_body,
    page_header,
)
from carnet_web.documents_http import VIEWER_FRAME_ID
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import DOCUMENT_VIEW_ROUTE, DOCUMENTS_ROUTE
from carnet_web.state.document_view import DOWNLOAD_ONLY, IMAGE, PDF, DocumentViewState

PAGE_TITLE = N_("Document")


class DocumentImage(Img):
    """<img> that tells when the browser could not show it (Reflex's Img has no on_error)."""

    on_error: EventHandler[no_args_event_spec]


def _back() -> rx.Component:
    return rx.link(
        rx.icon("arrow-left", size=16, aria_hidden="true"),
        t("Retour à mes documents"),
        href=DOCUMENTS_ROUTE,
        size="2",
        display="inline-flex",
        align_items="center",
        gap="0.35em",
        id="back-to-documents",
    )


def _cannot_display(message: rx.Var | str) -> rx.Component:
    """Why the document is not shown here, and what to do instead."""
    return rx.callout.root(
        rx.callout.icon(rx.icon("info", aria_hidden="true")),
        rx.callout.text(message),
        color_scheme="gray",
        variant="surface",
        id="document-not-shown",
        width="100%",
    )


def _pdf() -> rx.Component:
    # No allow-same-origin: the viewer runs in an opaque origin, with no access to Carnet.
    return rx.el.iframe(
        src=DocumentViewState.viewer_src,
        sandbox="allow-scripts",
        title=tf("Visionneuse PDF : {title}", title=DocumentViewState.title),
        id=VIEWER_FRAME_ID,
        key=DocumentViewState.shown_id,
        referrer_policy="no-referrer",
        style={"width": "100%", "height": "min(80vh, 70rem)", "min_height": "28rem",
               "border": "1px solid var(--gray-a6)", "border_radius": "var(--radius-3)",
               "background": "var(--gray-2)"},
    )


def _image() -> rx.Component:
    return rx.cond(
        DocumentViewState.image_failed,
        _cannot_display(t("Cette image ne peut pas être affichée ici. Utilisez « Télécharger » "
                          "pour l'ouvrir sur votre appareil.")),
        rx.box(
            DocumentImage.create(
                src=DocumentViewState.image_src,
                alt=tf("Image du document « {title} »", title=DocumentViewState.title),
                id="document-image",
                # A CORS request (this server answers it): in development the page and the
                # backend differ by their port, and the image's Cross-Origin-Resource-Policy
                # would refuse a plain cross-origin <img>.
                cross_origin="anonymous",
                referrer_policy="no-referrer",
                on_error=DocumentViewState.image_error,
                style={"max_width": "100%", "height": "auto", "display": "block",
                       "margin": "0 auto"},
            ),
            border="1px solid var(--gray-a6)",
            border_radius="var(--radius-3)",
            padding="0.75em",
            background="var(--gray-2)",
            width="100%",
        ),
    )


def _document() -> rx.Component:
    return rx.match(
        DocumentViewState.display,
        (PDF, _pdf()),
        (IMAGE, _image()),
        (DOWNLOAD_ONLY, _cannot_display(
            t("Ce type de document ne peut pas être affiché dans Carnet. Utilisez "
              "« Télécharger » pour l'ouvrir sur votre appareil."))),
        rx.fragment(),
    )


def _details() -> rx.Component:
    return rx.fragment(
        page_header(
            rx.text.span(DocumentViewState.title, style={"overflow_wrap": "anywhere"},
                         id="document-title"),
            DocumentViewState.document_line,
            rx.button(rx.icon("download", size=16, aria_hidden="true"), t("Télécharger"),
                      on_click=DocumentViewState.download, size="3", id="document-download"),
        ),
        rx.text(DocumentViewState.added_line, size="2", color_scheme="gray",
                id="document-added", style={"overflow_wrap": "anywhere"}),
        _document(),
    )


#: Whether the state describes the document of the address: the state of a previous visit is
#: never shown (nor its image requested) while this one loads.
_CURRENT = DocumentViewState.router.url.path == DOCUMENTS_ROUTE + "/" + DocumentViewState.shown_id


def _content() -> rx.Component:
    return page_body(
        _back(),
        rx.cond(
            DocumentViewState.loading | ~_CURRENT,
            loading_state(),
            rx.fragment(
                error_callout(DocumentViewState.error, retry=DocumentViewState.load,
                              id="document-error"),
                rx.cond(
                    DocumentViewState.missing,
                    rx.fragment(
                        page_header(t("Document introuvable")),
                        empty_state(
                            t("Ce document n'existe pas ou n'est plus dans votre dossier."),
                            t("Il a peut-être été supprimé. Retrouvez vos documents dans "
                              "« Mes documents »."),
                        ),
                    ),
                    rx.cond(DocumentViewState.title != "", _details(),
                            page_header(t(PAGE_TITLE))),
                ),
            ),
        ),
    )


@rx.page(route=DOCUMENT_VIEW_ROUTE, title=page_title(PAGE_TITLE),
         on_load=DocumentViewState.load)
def document_view() -> rx.Component:
    return layout(_content(), current_route=DOCUMENT_VIEW_ROUTE, title=PAGE_TITLE)
