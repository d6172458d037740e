"""Espace professionnel, a patient's record (/pro/patients/<patient id>): the documents and the
profile sections the access policy lets me read, read-only.

Titles, names and entries come from the patient or other professionals: plain text only.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.i18n import N_, t, tf
from carnet_web.state.pro_common import PRO_RECORD_ROUTE
from carnet_web.state.pro_record import (
    NO_DOCUMENTS,
    NO_SECTIONS,
    ProRecordState,
    RecordDocument,
    SectionView,
)
from carnet_web.state.profile import EntryItem
from carnet_web.state.session import PRO_HOME_ROUTE


def _document(item: RecordDocument) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.text(item.title, weight="bold", class_name="document-title"),
                    rx.text(item.type_label, " · ", item.clinical_date, size="2",
                            class_name="document-type"),
                    rx.text(t("Auteur : "), item.author, size="2", color_scheme="gray",
                            class_name="document-author"),
                    spacing="1",
                    min_width="0",
                    flex="1",
                ),
                rx.button(t("Télécharger"), size="2", variant="soft",
                          on_click=ProRecordState.download(item.id),
                          aria_label=tf("Télécharger « {title} »", title=item.title)),
                spacing="3",
                justify="between",
                align="center",
                wrap="wrap",
            ),
            width="100%",
        ),
        class_name="record-document",
        list_style="none",
    )


def _documents() -> rx.Component:
    return rx.el.section(
        rx.vstack(
            rx.heading(t("Documents"), as_="h2", size="5", id="record-documents-heading"),
            rx.text(ProRecordState.count_label, size="2", color_scheme="gray",
                    id="record-documents-count"),
            rx.cond(
                ProRecordState.documents.length() > 0,
                rx.el.ul(rx.foreach(ProRecordState.documents, _document),
                         id="record-documents", padding="0", margin="0", display="grid",
                         gap="0.75em", width="100%"),
                rx.text(t(NO_DOCUMENTS), color_scheme="gray"),
            ),
            rx.cond(
                ProRecordState.has_more,
                rx.button(t("Afficher plus de documents"), on_click=ProRecordState.load_more,
                          loading=ProRecordState.more_loading, variant="soft"),
            ),
            spacing="3",
            width="100%",
        ),
        aria_labelledby="record-documents-heading",
        width="100%",
    )


def _entry(item: EntryItem) -> rx.Component:
    return rx.el.li(
        rx.vstack(
            rx.flex(
                rx.text(item.title, weight="bold", class_name="entry-title"),
                rx.cond(item.badge != "", rx.badge(item.badge)),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.cond(item.details.length() > 0,
                    rx.text(item.details.join(" · "), size="2", class_name="entry-details")),
            rx.cond(item.text != "",
                    rx.text(item.text, size="2", white_space="pre-wrap")),
            rx.text(item.meta, size="1", color_scheme="gray"),
            spacing="1",
        ),
        class_name="entry",
        padding_y="0.5em",
        border_bottom="1px solid var(--gray-a4)",
        list_style="none",
    )


def _section(view: SectionView) -> rx.Component:
    return rx.el.section(
        rx.card(
            rx.vstack(
                rx.heading(view.title, as_="h3", size="4", id=view.anchor),
                rx.cond(
                    view.rows.length() > 0,
                    rx.el.ul(rx.foreach(view.rows, _entry), padding="0", margin="0",
                             width="100%"),
                    rx.text(view.empty, size="2", color_scheme="gray"),
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
        aria_labelledby=view.anchor,
        class_name="record-section",
        width="100%",
    )


def _profile() -> rx.Component:
    return rx.el.section(
        rx.vstack(
            rx.heading(t("Profil médical"), as_="h2", size="5", id="record-profile-heading"),
            rx.cond(
                ProRecordState.sections.length() > 0,
                rx.vstack(rx.foreach(ProRecordState.sections, _section), spacing="3",
                          width="100%"),
                rx.text(t(NO_SECTIONS), color_scheme="gray"),
            ),
            spacing="3",
            width="100%",
        ),
        aria_labelledby="record-profile-heading",
        width="100%",
    )


def _record() -> rx.Component:
    return rx.vstack(
        rx.heading(ProRecordState.patient_label, as_="h1", size="7", id="record-patient"),
        rx.text(tf("Né(e) le {date}", date=ProRecordState.birth_date)),
        rx.flex(
            rx.badge(ProRecordState.ground, size="2", id="record-ground"),
            rx.cond(ProRecordState.expiry != "",
                    rx.text(ProRecordState.expiry, size="2", color_scheme="gray")),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        rx.text(
            t("Vous voyez ce que votre profession et le patient autorisent. Cette consultation "
            "figure dans l'historique des accès du patient."),
            size="2",
            color_scheme="gray",
        ),
        _documents(),
        _profile(),
        spacing="4",
        width="100%",
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.link(t("← Mes patients"), href=PRO_HOME_ROUTE, size="2"),
        rx.cond(~ProRecordState.found, rx.heading(t("Dossier patient"), as_="h1", size="7")),
        rx.box(
            rx.cond(
                ProRecordState.error != "",
                rx.vstack(
                    rx.callout(ProRecordState.error, icon="triangle_alert", color_scheme="red",
                               role="alert", id="record-error"),
                    rx.cond(~ProRecordState.found,
                            rx.button(t("Réessayer"), on_click=ProRecordState.load,
                                      variant="soft", size="1")),
                    spacing="2",
                    align="start",
                ),
            ),
            aria_live="polite",
            width="100%",
        ),
        rx.cond(
            ProRecordState.loading & ~ProRecordState.found,
            rx.hstack(rx.spinner(), rx.text(t("Chargement du dossier…")), id="record-loading"),
            rx.cond(ProRecordState.found, _record()),
        ),
        spacing="4",
        width="100%",
    )


TITLE = N_("Dossier patient")


@rx.page(route=PRO_RECORD_ROUTE, title=page_title(TITLE),
         on_load=ProRecordState.load)
def pro_record() -> rx.Component:
    return layout(_content(), current_route=PRO_HOME_ROUTE, title=TITLE)
