"""Mes documents: my documents (filters, pages), adding one, and per document: view (PDFs and
images, inside Carnet), download, rename, hide from professionals, delete.

Titles come from people (me, professionals' software): always plain text, never HTML or
Markdown. Every text goes through the catalogue (French and English).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    confirm_dialog,
    empty_state,
    error_callout,
    form_field,
    loading_state,
    page_body,
    page_header,
    section,
    success_callout,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import DOCUMENTS_ROUTE
from carnet_web.state.documents import (
    DELETE_BUTTON_PREFIX,
    SEND_FILE_ID,
    UPLOAD_ID,
    DocumentItem,
    DocumentsState,
)

PAGE_TITLE = N_("Mes documents")
FILE_INPUT_ID = "upload-file"

# Native <select>, as components/ui.py styles it: keyboard-, phone- and screen-reader-friendly,
# and a plain field of its form (these forms are read on submit).
_SELECT_STYLE = {
    "width": "100%", "min_height": "var(--space-7)", "padding": "0 var(--space-2)",
    "border": "1px solid var(--gray-a8)", "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)", "color": "var(--gray-12)",
    "font_size": "var(--font-size-3)",
}
# Long titles (a file name, an identifier) wrap instead of pushing the page sideways.
_WRAP = {"overflow_wrap": "anywhere", "min_width": "0"}


def _type_select(field_id: str, name: str, first_option: Any, **props: Any) -> rx.Component:
    return rx.el.select(
        rx.el.option(first_option, value=""),
        rx.foreach(DocumentsState.type_options,
                   lambda pair: rx.el.option(pair[1], value=pair[0])),
        id=field_id,
        name=name,
        class_name="carnet-select",
        style=_SELECT_STYLE,
        **props,
    )


def _field_error(field: str) -> rx.Var:
    """The upload error, when it is about `field` (shown under that field)."""
    return rx.cond(DocumentsState.upload_error_field == field, DocumentsState.upload_error, "")


def _invalid(field: str) -> rx.Var:
    return rx.cond(DocumentsState.upload_error_field == field, "true", "false")


def _described_by(field_id: str, field: str) -> rx.Var:
    return rx.cond(DocumentsState.upload_error_field == field, f"{field_id}-error", "")


# --- messages -----------------------------------------------------------------------------


def _upload_messages() -> rx.Component:
    """A problem with the file or the upload itself (a field's problem shows under it)."""
    general = (DocumentsState.upload_error != "") & (
        (DocumentsState.upload_error_field == "") | (DocumentsState.upload_error_field == "file"))
    return rx.fragment(
        rx.cond(
            general,
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert", aria_hidden="true")),
                rx.vstack(
                    rx.callout.text(DocumentsState.upload_error),
                    rx.cond(DocumentsState.duplicate_notice != "",
                            rx.callout.text(DocumentsState.duplicate_notice,
                                            id="upload-duplicate")),
                    rx.cond(
                        DocumentsState.duplicate_id != "",
                        # A plain in-page anchor (not a router link): the page stays as it is.
                        rx.el.a(t("Voir ce document dans la liste"),
                                href="#document-" + DocumentsState.duplicate_id,
                                id="upload-duplicate-link",
                                style={"color": "var(--accent-11)",
                                       "font_size": "var(--font-size-2)",
                                       "text_decoration": "underline"}),
                    ),
                    spacing="1",
                ),
                color_scheme="red",
                role="alert",
                id="upload-error",
                width="100%",
            ),
        ),
        success_callout(DocumentsState.upload_info, id="upload-info"),
    )


# --- adding a document --------------------------------------------------------------------


def _label_file_input(upload: rx.Component) -> rx.Component:
    """Give rx.upload's own (visually hidden) file input an id, so the visible label above names
    it, and the hint; Reflex passes it only react-dropzone's props."""
    zone = upload.children[0]
    file_input = zone.children[0]
    file_input.id = FILE_INPUT_ID
    file_input.custom_attrs["aria-describedby"] = "upload-formats"
    return upload


def _rejected_codes(rejected: rx.Var) -> rx.event.EventSpec:
    """Only react-dropzone's error codes go to the server: the refused file stays in the browser
    (sent whole, a file over the limit made the event too large for the websocket, and no error
    was ever shown)."""
    codes = rejected.to(list).flat_map(
        lambda entry: entry.to(dict)["errors"].to(list).map(lambda error: error.to(dict)["code"]))
    return DocumentsState.upload_rejected(codes)


def _file_picker() -> rx.Component:
    chosen = rx.selected_files(UPLOAD_ID)
    picker = rx.upload.root(
        rx.vstack(
            rx.button(t("Choisir un fichier"), type="button", variant="soft", size="2",
                      id="upload-choose", aria_describedby="upload-formats upload-chosen"),
            rx.text(t("ou déposez-le ici."), size="2"),
            rx.text(DocumentsState.formats_hint, size="2", color_scheme="gray",
                    id="upload-formats", text_align="center"),
            align="center",
            spacing="1",
        ),
        id=UPLOAD_ID,
        multiple=False,
        max_files=1,
        max_size=DocumentsState.max_document_bytes,
        accept=DocumentsState.accept,
        # The button inside is the one keyboard stop (Enter/Space open the file chooser).
        no_keyboard=True,
        on_drop_rejected=_rejected_codes,
        disabled=DocumentsState.uploading,
        border="1px dashed var(--gray-a8)",
        border_radius="var(--radius-3)",
        padding="1.25em",
        width="100%",
        cursor="pointer",
    )
    return rx.vstack(
        rx.el.label(t("Fichier"), html_for=FILE_INPUT_ID, font_weight="500"),
        _label_file_input(picker),
        rx.text(
            rx.cond(
                chosen.length() > 0,
                rx.fragment(t("Fichier choisi : "), rx.text.strong(chosen.join(", "))),
                t("Aucun fichier choisi."),
            ),
            size="2",
            id="upload-chosen",
            aria_live="polite",
            style=_WRAP,
        ),
        # Said as soon as a file is refused when picked (too large...), until another is.
        rx.cond(
            (DocumentsState.pick_error != "") & (chosen.length() == 0),
            rx.text(DocumentsState.pick_error, id="upload-file-error", color_scheme="red",
                    size="2", role="alert"),
        ),
        spacing="2",
        width="100%",
    )


def _progress() -> rx.Component:
    return rx.cond(
        DocumentsState.uploading,
        rx.vstack(
            rx.progress(value=DocumentsState.upload_percent, max=100, id="upload-progress",
                        aria_label=t("Progression de l'envoi")),
            rx.flex(
                rx.text(
                    rx.cond(
                        DocumentsState.upload_phase == "sending",
                        tf("Envoi du fichier… {percent} %",
                           percent=DocumentsState.upload_percent.to_string()),
                        t("Enregistrement dans votre dossier…"),
                    ),
                    size="2",
                    id="upload-status",
                ),
                rx.cond(
                    DocumentsState.upload_phase == "sending",
                    rx.button(
                        t("Annuler l'envoi"),
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        size="1",
                        on_click=[rx.cancel_upload(UPLOAD_ID), DocumentsState.upload_cancelled],
                    ),
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            spacing="1",
            width="100%",
        ),
    )


def _send_file_trigger() -> rx.Component:
    """Pressed by `start_upload` once the form is right: the browser then sends the file to this
    server, with progress, and `upload_document` forwards it to the API. rx.upload_files reads
    the chosen file in the browser, so this event must start there, not from the server."""
    return rx.el.button(
        id=SEND_FILE_ID,
        type="button",
        hidden=True,
        tab_index=-1,
        aria_hidden="true",
        on_click=DocumentsState.upload_document(
            rx.upload_files(upload_id=UPLOAD_ID,
                            on_upload_progress=DocumentsState.upload_progress),
        ),
    )


def _upload_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                _file_picker(),
                rx.grid(
                    form_field(
                        t("Titre"),
                        rx.input(
                            id="upload-title",
                            name="title",
                            required=True,
                            max_length=DocumentsState.max_title,
                            placeholder=t("Ex. : Prise de sang du 3 mars"),
                            width="100%",
                            size="3",
                            aria_invalid=_invalid("title"),
                            aria_describedby=_described_by("upload-title", "title"),
                        ),
                        id="upload-title",
                        error=_field_error("title"),
                    ),
                    form_field(
                        t("Type de document"),
                        _type_select("upload-type", "type", t("Choisissez un type…"),
                                     required=True, aria_invalid=_invalid("type"),
                                     aria_describedby=_described_by("upload-type", "type")),
                        id="upload-type",
                        error=_field_error("type"),
                    ),
                    form_field(
                        t("Date du document"),
                        rx.input(
                            id="upload-date",
                            name="clinicalDate",
                            type="date",
                            required=True,
                            width="100%",
                            size="3",
                            aria_invalid=_invalid("clinicalDate"),
                            aria_describedby=_described_by("upload-date", "clinicalDate"),
                        ),
                        id="upload-date",
                        error=_field_error("clinicalDate"),
                    ),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="3",
                    width="100%",
                ),
                _upload_messages(),
                _progress(),
                _send_file_trigger(),
                rx.button(
                    t("Ajouter au dossier"),
                    type="submit",
                    size="3",
                    loading=DocumentsState.uploading,
                    # Enabled once the tab is connected to the server.
                    disabled=~DocumentsState.is_hydrated,
                    id="upload-submit",
                ),
                spacing="4",
                width="100%",
            ),
            # The form's fields go to start_upload (checked there); only if they are right does
            # it press the hidden "send" button below, so a refused form sends no file.
            on_submit=DocumentsState.start_upload,
            # Our own checks, said under each field in the page's language (the browser's would
            # speak its own language, in a bubble that goes away).
            no_validate=True,
            reset_on_submit=False,
            key=DocumentsState.upload_form_key.to_string(),
            aria_label=t("Ajouter un document"),
        ),
        width="100%",
    )


# --- filters ------------------------------------------------------------------------------


def _filters() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.box(
                form_field(t("Type"), _type_select("filter-type", "type", t("Tous les types"),
                                                   default_value=DocumentsState.filter_type),
                           id="filter-type"),
                min_width="min(14em, 100%)", flex="2 1 14em",
            ),
            rx.box(
                form_field(t("Du"), rx.input(id="filter-from", name="from", type="date",
                                             size="3", default_value=DocumentsState.filter_from),
                           id="filter-from"),
                flex="1 1 10em",
            ),
            rx.box(
                form_field(t("Au"), rx.input(id="filter-to", name="to", type="date", size="3",
                                             default_value=DocumentsState.filter_to),
                           id="filter-to"),
                flex="1 1 10em",
            ),
            rx.box(
                form_field(t("Rechercher dans les titres"),
                           rx.input(id="filter-text", name="text", type="search", size="3",
                                    max_length=DocumentsState.max_title,
                                    default_value=DocumentsState.filter_text),
                           id="filter-text"),
                min_width="min(12em, 100%)", flex="2 1 12em",
            ),
            rx.flex(
                rx.button(t("Filtrer"), type="submit", variant="soft", size="3",
                          disabled=~DocumentsState.is_hydrated),
                rx.cond(
                    DocumentsState.filters_active,
                    rx.button(t("Effacer les filtres"), type="button", variant="soft",
                              color_scheme="gray", size="3",
                              on_click=DocumentsState.clear_filters),
                ),
                spacing="2",
                wrap="wrap",
            ),
            spacing="3",
            align="end",
            wrap="wrap",
            width="100%",
        ),
        on_submit=DocumentsState.apply_filters,
        reset_on_submit=False,
        key=DocumentsState.filters_key.to_string(),
        role="search",
        aria_label=t("Filtrer mes documents"),
        width="100%",
    )


# --- the list -----------------------------------------------------------------------------


def _rename_form(item: DocumentItem) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.flex(
                rx.input(
                    name="title",
                    default_value=item.title,
                    required=True,
                    max_length=DocumentsState.max_title,
                    aria_label=t("Nouveau titre"),
                    auto_focus=True,
                    size="3",
                    flex="1 1 12em",
                ),
                rx.flex(
                    rx.button(t("Enregistrer"), type="submit", size="2",
                              loading=DocumentsState.busy_id == item.id),
                    rx.button(t("Annuler"), type="button", size="2", variant="soft",
                              color_scheme="gray", on_click=DocumentsState.cancel_rename),
                    spacing="2",
                ),
                spacing="2",
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                DocumentsState.rename_error != "",
                rx.text(DocumentsState.rename_error, size="2", color_scheme="red",
                        role="alert"),
            ),
            spacing="1",
            width="100%",
        ),
        on_submit=DocumentsState.rename,
        reset_on_submit=False,
        aria_label=t("Renommer le document"),
        width="100%",
    )


def _title_line(item: DocumentItem) -> rx.Component:
    return rx.flex(
        # Plain text, whatever the title contains.
        rx.text(item.title, weight="bold", size="3", class_name="document-title", style=_WRAP),
        rx.cond(item.is_new, rx.badge(t("Nouveau"), color_scheme="green", class_name="new")),
        rx.cond(
            item.hidden,
            rx.badge(t("Masqué aux professionnels"), color_scheme="amber",
                     class_name="hidden-from-professionals"),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _actions(item: DocumentItem) -> rx.Component:
    busy = DocumentsState.busy_id != ""
    return rx.flex(
        rx.cond(
            item.viewable,
            rx.button(
                rx.link(t("Voir"), href=item.view_path,
                        aria_label=tf("Voir « {title} »", title=item.title)),
                as_child=True, size="2",
            ),
        ),
        rx.button(t("Télécharger"), size="2", variant="soft",
                  on_click=DocumentsState.download(item.id), disabled=busy,
                  aria_label=tf("Télécharger « {title} »", title=item.title)),
        rx.button(t("Renommer"), size="2", variant="soft",
                  on_click=DocumentsState.start_rename(item.id), disabled=busy,
                  aria_label=tf("Renommer « {title} »", title=item.title)),
        rx.cond(
            item.hidden,
            rx.button(t("Afficher aux professionnels"), size="2", variant="soft",
                      on_click=DocumentsState.set_hidden(item.id, False), disabled=busy,
                      loading=DocumentsState.busy_id == item.id),
            rx.button(t("Masquer aux professionnels"), size="2", variant="soft",
                      on_click=DocumentsState.set_hidden(item.id, True), disabled=busy,
                      loading=DocumentsState.busy_id == item.id),
        ),
        rx.button(t("Supprimer"), size="2", variant="soft", color_scheme="red",
                  on_click=DocumentsState.ask_delete(item.id), disabled=busy,
                  aria_label=tf("Supprimer « {title} »", title=item.title),
                  id=DELETE_BUTTON_PREFIX + item.id),
        spacing="2",
        wrap="wrap",
    )


def _document_row(item: DocumentItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.cond(DocumentsState.renaming_id == item.id, _rename_form(item),
                        _title_line(item)),
                rx.text(
                    rx.text.span(item.type_label, class_name="document-type"),
                    " · ",
                    t("document du "),
                    rx.text.span(item.clinical_date, class_name="document-date"),
                    size="2",
                    style=_WRAP,
                ),
                rx.text(
                    t("Auteur : "),
                    rx.text.span(item.author, class_name="document-author"),
                    " · ",
                    item.kind,
                    " · ",
                    rx.text.span(item.size, class_name="document-size"),
                    " · ",
                    t("ajouté le "),
                    item.added,
                    size="2",
                    color_scheme="gray",
                    style=_WRAP,
                ),
                _actions(item),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
        id="document-" + item.id,
        class_name="document",
        list_style="none",
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.text(DocumentsState.count_text, size="2", color_scheme="gray",
                id="documents-count", aria_live="polite"),
        rx.cond(
            DocumentsState.documents.length() > 0,
            rx.el.ul(
                rx.foreach(DocumentsState.documents, _document_row),
                id="documents-list",
                padding="0",
                margin="0",
                width="100%",
                display="flex",
                flex_direction="column",
                gap="var(--space-3)",
            ),
            rx.box(
                rx.cond(
                    DocumentsState.filters_active,
                    empty_state(t("Aucun document ne correspond à ces critères."),
                                t("Changez les filtres, ou effacez-les pour tout revoir.")),
                    empty_state(t("Votre dossier ne contient encore aucun document."),
                                t("Ajoutez-en un avec le formulaire ci-dessus ; ceux que vos "
                                  "professionnels de santé déposent apparaîtront aussi ici.")),
                ),
                id="documents-empty",
                width="100%",
            ),
        ),
        rx.cond(
            DocumentsState.has_more,
            rx.button(t("Voir plus"), on_click=DocumentsState.load_more,
                      loading=DocumentsState.loading_more, variant="outline"),
        ),
        spacing="3",
        width="100%",
    )


def _delete_dialog() -> rx.Component:
    return confirm_dialog(
        open=DocumentsState.deleting,
        on_open_change=DocumentsState.delete_dialog_changed,
        title=t("Supprimer ce document ?"),
        description=tf("« {title} » disparaîtra de votre dossier : ni vous ni les "
                       "professionnels ne pourrez plus l'ouvrir. Cette action est définitive.",
                       title=DocumentsState.deleting_title),
        confirm_label=t("Supprimer"),
        on_confirm=DocumentsState.confirm_delete,
        id="delete-dialog",
    )


def _content() -> rx.Component:
    return page_body(
        page_header(
            t(PAGE_TITLE),
            t("Vos comptes rendus, ordonnances et résultats d'examens. Vous pouvez en masquer "
              "certains aux professionnels de santé."),
        ),
        section(t("Ajouter un document"), _upload_form(), id="add-document"),
        section(
            t("Mon dossier"),
            _filters(),
            error_callout(DocumentsState.error, retry=DocumentsState.load, id="documents-error"),
            success_callout(DocumentsState.info, id="documents-info"),
            rx.cond(
                DocumentsState.loading,
                rx.box(loading_state(), id="documents-loading"),
                _list(),
            ),
            id="my-documents",
        ),
        _delete_dialog(),
    )


@rx.page(route=DOCUMENTS_ROUTE, title=page_title(PAGE_TITLE), on_load=DocumentsState.load)
def documents() -> rx.Component:
    return layout(_content(), current_route=DOCUMENTS_ROUTE, title=PAGE_TITLE)
