"""Mon profil médical: one section per kind (allergies, vaccinations, history, treatments,
measurements with their charts, emergency contacts, advance directives, organ donation), each
listing its entries with "Modifier" / "Supprimer" and a form to add one; and the export of the
whole record as a FHIR file. In French and English (the tab's language).

Entries come from people (me, professionals, imported files): always plain text, never HTML or
Markdown.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.profile_charts import measurement_charts
from carnet_web.components.profile_forms import entry_form
from carnet_web.components.ui import (
    confirm_dialog,
    empty_state,
    error_callout,
    loading_state,
    page_body,
    page_header,
    section,
    success_callout,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.state.profile import KINDS, ROUTE, EntryItem, KindSpec, ProfileState

TITLE = N_("Mon profil médical")
DELETE_DIALOG_ID = "profile-delete-dialog"
# Dialogs are drawn outside the app's root element, which the theme's contrast fixes
# (theme.GLOBAL_STYLE: white on red 9 is 3.91:1) do not reach: the same fix for this dialog.
_DIALOG_STYLE = (
    f"#{DELETE_DIALOG_ID} .rt-BaseButton.rt-variant-solid[data-accent-color='red'] "
    "{ background-color: var(--red-11); color: white; }"
)


def _page_messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            ProfileState.loaded,
            error_callout(ProfileState.error, id="profile-error"),
            error_callout(ProfileState.error, retry=ProfileState.load, id="profile-error"),
        ),
        success_callout(ProfileState.info, id="profile-info"),
    )


def _export() -> rx.Component:
    return rx.flex(
        rx.button(
            rx.icon("download", size=16, aria_hidden="true"),
            t("Exporter mon dossier (FHIR)"),
            on_click=ProfileState.export_fhir,
            loading=ProfileState.exporting,
            disabled=~ProfileState.loaded,
            variant="outline",
            id="profile-export",
        ),
        rx.text(
            t("Un fichier JSON au format FHIR R4, lisible par d'autres logiciels de santé. "
              "Il contient des données de santé : conservez-le en lieu sûr."),
            size="2",
            color_scheme="gray",
            max_width="36em",
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _contents() -> rx.Component:
    """Links to each section."""
    return rx.el.nav(
        rx.flex(
            *(rx.link(t(spec.title), href="#" + spec.anchor, size="2") for spec in KINDS),
            spacing="4",
            wrap="wrap",
            row_gap="2",
        ),
        aria_label=t("Sections du profil"),
    )


def _entry(spec: KindSpec, item: EntryItem) -> rx.Component:
    busy = ProfileState.busy
    return rx.el.li(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.flex(
                        # Plain text, whatever it contains.
                        rx.text(item.title, weight="bold", size="3", class_name="entry-title",
                                overflow_wrap="anywhere"),
                        rx.cond(item.badge != "", rx.badge(item.badge, class_name="entry-badge")),
                        rx.cond(item.imported, rx.badge(t("Importé"), color_scheme="gray")),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    rx.cond(
                        item.details.length() > 0,
                        rx.text(item.details.join(" · "), size="2", class_name="entry-details",
                                overflow_wrap="anywhere"),
                    ),
                    rx.cond(
                        item.text != "",
                        rx.text(item.text, size="2", white_space="pre-wrap",
                                class_name="entry-text", overflow_wrap="anywhere"),
                    ),
                    rx.text(item.meta, size="1", color_scheme="gray", class_name="entry-meta"),
                    spacing="1",
                    min_width="0",
                    flex="1",
                ),
                rx.flex(
                    rx.button(t("Modifier"), size="2", variant="soft",
                              on_click=ProfileState.edit(spec.key, item.id), disabled=busy,
                              aria_label=tf("Modifier « {title} »", title=item.title),
                              id="edit-" + item.id),
                    rx.button(t("Supprimer"), size="2", variant="soft", color_scheme="red",
                              on_click=ProfileState.ask_delete(spec.key, item.id),
                              disabled=busy,
                              aria_label=tf("Supprimer « {title} »", title=item.title),
                              id="delete-" + item.id),
                    spacing="2",
                    flex_shrink="0",
                ),
                spacing="3",
                justify="between",
                align="start",
                wrap="wrap",
                width="100%",
            ),
            width="100%",
        ),
        id="entry-" + item.id,
        class_name="profile-entry",
        list_style="none",
    )


def _add_button(spec: KindSpec) -> rx.Component:
    return rx.button(
        rx.icon("plus", size=16, aria_hidden="true"),
        t(spec.add_label),
        on_click=ProfileState.open_form(spec.key),
        disabled=ProfileState.busy | ~ProfileState.is_hydrated,
        variant="soft",
        id=f"{spec.anchor}-add",
    )


def _section(spec: KindSpec) -> rx.Component:
    items = getattr(ProfileState, spec.var)
    editing = ProfileState.form_entry_id != ""
    add = _add_button(spec)
    if spec.single:
        add = rx.cond(items.length() == 0, add)
    return section(
        t(spec.title),
        rx.text(t(spec.description), size="2", color_scheme="gray"),
        success_callout(
            rx.cond(ProfileState.saved_kind == spec.key, ProfileState.saved_message, ""),
            id=f"{spec.anchor}-status",
        ),
        *([measurement_charts()] if spec.key == "measurement" else []),
        rx.cond(
            items.length() > 0,
            rx.el.ul(
                rx.foreach(items, lambda item: _entry(spec, item)),
                id=f"{spec.anchor}-list",
                padding="0",
                margin="0",
                width="100%",
                display="flex",
                flex_direction="column",
                gap="var(--space-2)",
            ),
            rx.box(empty_state(t(spec.empty)), id=f"{spec.anchor}-empty", width="100%"),
        ),
        rx.cond(ProfileState.form_kind == spec.key, entry_form(spec, editing=editing), add),
        id=spec.anchor,
        scroll_margin_top="1em",
    )


def _delete_dialog() -> rx.Component:
    return confirm_dialog(
        open=ProfileState.deleting_id != "",
        on_open_change=ProfileState.delete_dialog_changed,
        title=ProfileState.deleting_question,
        description=ProfileState.deleting_description,
        confirm_label=t("Supprimer"),
        on_confirm=ProfileState.confirm_delete,
        busy=ProfileState.deleting,
        id=DELETE_DIALOG_ID,
    )


def _content() -> rx.Component:
    return page_body(
        page_header(
            t(TITLE),
            t("Vos allergies, vaccinations, antécédents, traitements et mesures, tenus à jour "
              "par vous et vos soignants."),
        ),
        _export(),
        _page_messages(),
        rx.cond(
            ProfileState.loading & ~ProfileState.loaded,
            rx.box(loading_state(), id="profile-loading"),
        ),
        rx.cond(
            ProfileState.loaded,
            rx.vstack(
                _contents(),
                *(_section(spec) for spec in KINDS),
                spacing="8",
                width="100%",
            ),
        ),
        _delete_dialog(),
        rx.el.style(_DIALOG_STYLE),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=ProfileState.load)
def profile() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
