"""Mes documents: my documents (filters, pages), adding one, and per document: download,
rename, hide from professionals, delete.

Titles come from people (me, professionals' software): always plain text, never HTML or
Markdown.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.documents_http import MAX_DOCUMENT_BYTES
from carnet_web.state.documents import (
    ACCEPTED_FILES,
    DOCUMENT_TYPES,
    MAX_TITLE,
    UPLOAD_ID,
    DocumentItem,
    DocumentsState,
)
from carnet_web.state.formatting import french_size
from carnet_web.state.session import DOCUMENTS_ROUTE

# Native <select>: keyboard- and screen-reader-friendly, and a plain form field.
_SELECT_STYLE = {
    "height": "var(--space-6)",
    "padding": "0 var(--space-2)",
    "border": "1px solid var(--gray-a7)",
    "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)",
    "color": "var(--gray-12)",
    "font_size": "var(--font-size-2)",
    "width": "100%",
}


def _field(label: str, control: rx.Component, field_id: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(rx.text(label, as_="span", size="2", weight="medium"), html_for=field_id),
        control,
        spacing="1",
        width="100%",
    )


def _type_select(field_id: str, name: str, first_option: str, **props: object) -> rx.Component:
    return rx.el.select(
        rx.el.option(first_option, value=""),
        *(rx.el.option(label, value=value) for value, label in DOCUMENT_TYPES),
        id=field_id,
        name=name,
        style=_SELECT_STYLE,
        **props,
    )


def _invalid(field: str) -> rx.Var:
    return rx.cond(DocumentsState.upload_error_field == field, "true", "false")


# --- messages -----------------------------------------------------------------------------


def _page_messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            DocumentsState.error != "",
            rx.callout(DocumentsState.error, icon="triangle_alert", color_scheme="red",
                       role="alert", id="documents-error"),
        ),
        rx.cond(
            DocumentsState.info != "",
            rx.callout(DocumentsState.info, icon="info", role="status", id="documents-info"),
        ),
    )


def _upload_messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            DocumentsState.upload_error != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle_alert")),
                rx.vstack(
                    rx.callout.text(DocumentsState.upload_error),
                    rx.cond(DocumentsState.duplicate_notice != "",
                            rx.callout.text(DocumentsState.duplicate_notice,
                                            id="upload-duplicate")),
                    rx.cond(
                        DocumentsState.duplicate_id != "",
                        # A plain in-page anchor (not a router link): the page stays as it is.
                        rx.el.a("Voir ce document dans la liste",
                                href="#document-" + DocumentsState.duplicate_id,
                                id="upload-duplicate-link",
                                style={"color": "var(--accent-11)",
                                       "font_size": "var(--font-size-2)"}),
                    ),
                    spacing="1",
                ),
                color_scheme="red",
                role="alert",
                id="upload-error",
            ),
        ),
        rx.cond(
            DocumentsState.upload_info != "",
            rx.callout(DocumentsState.upload_info, icon="circle_check", color_scheme="green",
                       role="status", id="upload-info"),
        ),
    )


# --- adding a document --------------------------------------------------------------------


def _file_picker() -> rx.Component:
    chosen = rx.selected_files(UPLOAD_ID)
    return rx.vstack(
        rx.upload.root(
            rx.vstack(
                rx.button("Choisir un fichier", type="button", variant="soft", size="2"),
                rx.text("ou déposez-le ici.", size="2"),
                rx.text(
                    f"PDF, image JPEG ou PNG, texte ou document CDA (XML) ; "
                    f"{french_size(MAX_DOCUMENT_BYTES)} au maximum.",
                    size="1",
                    color_scheme="gray",
                ),
                align="center",
                spacing="1",
            ),
            id=UPLOAD_ID,
            multiple=False,
            max_files=1,
            max_size=MAX_DOCUMENT_BYTES,
            accept=ACCEPTED_FILES,
            on_drop_rejected=DocumentsState.upload_rejected,
            disabled=DocumentsState.uploading,
            border="1px dashed var(--gray-a8)",
            border_radius="var(--radius-3)",
            padding="1.25em",
            width="100%",
            cursor="pointer",
        ),
        rx.text(
            rx.cond(
                chosen.length() > 0,
                rx.fragment("Fichier choisi : ", rx.text.strong(chosen.join(", "))),
                "Aucun fichier choisi.",
            ),
            size="2",
            id="upload-chosen",
            aria_live="polite",
        ),
        spacing="2",
        width="100%",
    )


def _progress() -> rx.Component:
    return rx.cond(
        DocumentsState.uploading,
        rx.vstack(
            rx.progress(value=DocumentsState.upload_percent, max=100, id="upload-progress",
                        aria_label="Progression de l'envoi"),
            rx.hstack(
                rx.text(
                    rx.cond(
                        DocumentsState.upload_phase == "sending",
                        "Envoi du fichier… " + DocumentsState.upload_percent.to_string() + " %",
                        "Enregistrement dans votre dossier…",
                    ),
                    size="2",
                    id="upload-status",
                ),
                rx.cond(
                    DocumentsState.upload_phase == "sending",
                    rx.button(
                        "Annuler l'envoi",
                        type="button",
                        variant="ghost",
                        size="1",
                        on_click=[rx.cancel_upload(UPLOAD_ID), DocumentsState.upload_cancelled],
                    ),
                ),
                spacing="3",
                align="center",
            ),
            spacing="1",
            width="100%",
        ),
    )


def _upload_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Ajouter un document", as_="h2", size="4"),
                _file_picker(),
                rx.grid(
                    _field(
                        "Titre",
                        rx.input(
                            id="upload-title",
                            name="title",
                            required=True,
                            max_length=MAX_TITLE,
                            placeholder="Ex. : Prise de sang du 3 mars",
                            width="100%",
                            aria_invalid=_invalid("title"),
                        ),
                        "upload-title",
                    ),
                    _field(
                        "Type de document",
                        _type_select("upload-type", "type", "Choisissez un type…",
                                     required=True, aria_invalid=_invalid("type")),
                        "upload-type",
                    ),
                    _field(
                        "Date du document",
                        rx.input(
                            id="upload-date",
                            name="clinicalDate",
                            type="date",
                            required=True,
                            width="100%",
                            aria_invalid=_invalid("clinicalDate"),
                        ),
                        "upload-date",
                    ),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="3",
                    width="100%",
                ),
                _upload_messages(),
                _progress(),
                rx.button(
                    "Ajouter au dossier",
                    type="submit",
                    loading=DocumentsState.uploading,
                    # Enabled once the tab is connected to the server.
                    disabled=~DocumentsState.is_hydrated,
                    id="upload-submit",
                ),
                spacing="4",
                width="100%",
            ),
            # The form's fields go to start_upload (checked there); then the browser sends the
            # file to this server, with progress, and upload_document forwards it to the API.
            on_submit=[
                DocumentsState.start_upload,
                DocumentsState.upload_document(
                    rx.upload_files(upload_id=UPLOAD_ID,
                                    on_upload_progress=DocumentsState.upload_progress),
                ),
            ],
            reset_on_submit=False,
            key=DocumentsState.upload_form_key.to_string(),
            aria_label="Ajouter un document",
        ),
        width="100%",
    )


# --- filters ------------------------------------------------------------------------------


def _filters() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.box(
                _field("Type", _type_select("filter-type", "type", "Tous les types",
                                            default_value=DocumentsState.filter_type),
                       "filter-type"),
                min_width="14em", flex="2",
            ),
            rx.box(
                _field("Du", rx.input(id="filter-from", name="from", type="date",
                                      default_value=DocumentsState.filter_from),
                       "filter-from"),
                flex="1",
            ),
            rx.box(
                _field("Au", rx.input(id="filter-to", name="to", type="date",
                                      default_value=DocumentsState.filter_to),
                       "filter-to"),
                flex="1",
            ),
            rx.box(
                _field("Rechercher dans les titres",
                       rx.input(id="filter-text", name="text", type="search",
                                max_length=MAX_TITLE, default_value=DocumentsState.filter_text),
                       "filter-text"),
                min_width="12em", flex="2",
            ),
            rx.hstack(
                rx.button("Filtrer", type="submit", variant="soft",
                          disabled=~DocumentsState.is_hydrated),
                rx.cond(
                    DocumentsState.filters_active,
                    rx.button("Effacer les filtres", type="button", variant="ghost",
                              on_click=DocumentsState.clear_filters),
                ),
                spacing="2",
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
        aria_label="Filtrer mes documents",
    )


# --- the list -----------------------------------------------------------------------------


def _rename_form(item: DocumentItem) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(
                rx.input(
                    name="title",
                    default_value=item.title,
                    required=True,
                    max_length=MAX_TITLE,
                    aria_label="Nouveau titre",
                    auto_focus=True,
                    width="100%",
                ),
                rx.button("Enregistrer", type="submit", size="2",
                          loading=DocumentsState.busy_id == item.id),
                rx.button("Annuler", type="button", size="2", variant="soft",
                          color_scheme="gray", on_click=DocumentsState.cancel_rename),
                spacing="2",
                width="100%",
                align="center",
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
        aria_label="Renommer le document",
        width="100%",
    )


def _title_line(item: DocumentItem) -> rx.Component:
    return rx.flex(
        # Plain text, whatever the title contains.
        rx.text(item.title, weight="bold", size="3", class_name="document-title"),
        rx.cond(item.is_new, rx.badge("Nouveau", color_scheme="green", class_name="new")),
        rx.cond(
            item.hidden,
            rx.badge("Masqué aux professionnels", color_scheme="amber",
                     class_name="hidden-from-professionals"),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _actions(item: DocumentItem) -> rx.Component:
    busy = DocumentsState.busy_id != ""
    return rx.flex(
        rx.button("Télécharger", size="1", on_click=DocumentsState.download(item.id),
                  disabled=busy, aria_label="Télécharger « " + item.title + " »"),
        rx.button("Renommer", size="1", variant="soft",
                  on_click=DocumentsState.start_rename(item.id), disabled=busy,
                  aria_label="Renommer « " + item.title + " »"),
        rx.cond(
            item.hidden,
            rx.button("Afficher aux professionnels", size="1", variant="soft",
                      on_click=DocumentsState.set_hidden(item.id, False), disabled=busy,
                      loading=DocumentsState.busy_id == item.id),
            rx.button("Masquer aux professionnels", size="1", variant="soft",
                      on_click=DocumentsState.set_hidden(item.id, True), disabled=busy,
                      loading=DocumentsState.busy_id == item.id),
        ),
        rx.button("Supprimer", size="1", variant="soft", color_scheme="red",
                  on_click=DocumentsState.ask_delete(item.id), disabled=busy,
                  aria_label="Supprimer « " + item.title + " »"),
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
                    " · document du ",
                    rx.text.span(item.clinical_date, class_name="document-date"),
                    size="2",
                ),
                rx.text(
                    "Auteur : ",
                    rx.text.span(item.author, class_name="document-author"),
                    " · ",
                    item.kind,
                    " · ",
                    rx.text.span(item.size, class_name="document-size"),
                    " · ajouté le ",
                    item.added,
                    size="2",
                    color_scheme="gray",
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
        rx.text(DocumentsState.count_label, size="2", color_scheme="gray",
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
            rx.text(
                rx.cond(
                    DocumentsState.filters_active,
                    "Aucun document ne correspond à ces critères.",
                    "Votre dossier ne contient encore aucun document.",
                ),
                id="documents-empty",
            ),
        ),
        rx.cond(
            DocumentsState.has_more,
            rx.button("Voir plus", on_click=DocumentsState.load_more,
                      loading=DocumentsState.loading_more, variant="outline"),
        ),
        spacing="3",
        width="100%",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Supprimer ce document ?"),
            rx.alert_dialog.description(
                "« ", DocumentsState.deleting_title, " » disparaîtra de votre dossier : ni "
                "vous ni les professionnels ne pourrez plus l'ouvrir. Cette action est "
                "définitive.",
            ),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button("Annuler", variant="soft", color_scheme="gray",
                              on_click=DocumentsState.cancel_delete),
                ),
                rx.alert_dialog.action(
                    rx.button("Supprimer", color_scheme="red",
                              on_click=DocumentsState.confirm_delete),
                ),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
        ),
        open=DocumentsState.deleting_id != "",
        on_open_change=DocumentsState.delete_dialog_changed,
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.heading("Mes documents", as_="h1", size="7"),
        rx.text(
            "Vos comptes rendus, ordonnances et résultats d'examens. Vous pouvez en masquer "
            "certains aux professionnels de santé.",
            color_scheme="gray",
        ),
        _upload_form(),
        rx.heading("Mon dossier", as_="h2", size="5"),
        _filters(),
        _page_messages(),
        rx.cond(
            DocumentsState.error != "",
            rx.button("Réessayer", on_click=DocumentsState.load, variant="soft", size="1"),
        ),
        rx.cond(
            DocumentsState.loading,
            rx.hstack(rx.spinner(), rx.text("Chargement…"), id="documents-loading"),
            _list(),
        ),
        _delete_dialog(),
        spacing="5",
        width="100%",
    )


@rx.page(route=DOCUMENTS_ROUTE, title=page_title("Mes documents"), on_load=DocumentsState.load)
def documents() -> rx.Component:
    return layout(_content(), current_route=DOCUMENTS_ROUTE)
