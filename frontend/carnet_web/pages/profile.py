"""Mon profil médical: one section per kind (allergies, vaccinations, history, treatments,
measurements with their charts, emergency contacts, advance directives, organ donation), each
listing its entries with "Modifier" / "Supprimer" and a form to add one; and the export of the
whole record as a FHIR file.

Entries come from people (me, professionals, imported files): always plain text, never HTML or
Markdown.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.profile_charts import measurement_charts
from carnet_web.components.profile_forms import entry_form
from carnet_web.state.profile import KINDS, ROUTE, EntryItem, KindSpec, ProfileState


def _page_messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            ProfileState.error != "",
            rx.vstack(
                rx.callout(ProfileState.error, icon="triangle_alert", color_scheme="red",
                           role="alert", id="profile-error"),
                rx.cond(
                    ~ProfileState.loaded,
                    rx.button("Réessayer", on_click=ProfileState.load, variant="soft",
                              size="1"),
                ),
                spacing="2",
                align="start",
                width="100%",
            ),
        ),
        rx.cond(
            ProfileState.info != "",
            rx.callout(ProfileState.info, icon="circle_check", color_scheme="green",
                       role="status", id="profile-info"),
        ),
    )


def _export() -> rx.Component:
    return rx.flex(
        rx.button(
            rx.icon("download", size=16),
            "Exporter mon dossier (FHIR)",
            on_click=ProfileState.export_fhir,
            loading=ProfileState.exporting,
            disabled=~ProfileState.loaded,
            variant="outline",
            id="profile-export",
        ),
        rx.text(
            "Un fichier JSON au format FHIR R4, lisible par d'autres logiciels de santé. "
            "Il contient des données de santé : conservez-le en lieu sûr.",
            size="1",
            color_scheme="gray",
            max_width="32em",
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _contents() -> rx.Component:
    """Links to each section."""
    return rx.el.nav(
        rx.flex(
            *(rx.link(spec.title, href="#" + spec.anchor, size="2") for spec in KINDS),
            spacing="4",
            wrap="wrap",
        ),
        aria_label="Sections du profil",
    )


def _entry(spec: KindSpec, item: EntryItem) -> rx.Component:
    busy = ProfileState.busy
    return rx.el.li(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.flex(
                        # Plain text, whatever it contains.
                        rx.text(item.title, weight="bold", size="3", class_name="entry-title"),
                        rx.cond(item.badge != "", rx.badge(item.badge, class_name="entry-badge")),
                        rx.cond(item.imported, rx.badge("Importé", color_scheme="gray")),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    rx.cond(
                        item.details.length() > 0,
                        rx.text(item.details.join(" · "), size="2", class_name="entry-details"),
                    ),
                    rx.cond(
                        item.text != "",
                        rx.text(item.text, size="2", white_space="pre-wrap",
                                class_name="entry-text"),
                    ),
                    rx.text(item.meta, size="1", color_scheme="gray", class_name="entry-meta"),
                    spacing="1",
                    min_width="0",
                    flex="1",
                ),
                rx.flex(
                    rx.button("Modifier", size="1", variant="soft",
                              on_click=ProfileState.edit(spec.key, item.id), disabled=busy,
                              aria_label="Modifier « " + item.title + " »"),
                    rx.button("Supprimer", size="1", variant="soft", color_scheme="red",
                              on_click=ProfileState.ask_delete(spec.key, item.id),
                              disabled=busy, aria_label="Supprimer « " + item.title + " »"),
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
        rx.icon("plus", size=16),
        spec.add_label,
        on_click=ProfileState.open_form(spec.key),
        disabled=ProfileState.busy | ~ProfileState.is_hydrated,
        variant="soft",
        id=f"{spec.anchor}-add",
    )


def _section(spec: KindSpec) -> rx.Component:
    items = getattr(ProfileState, spec.var)
    heading_id = spec.anchor + "-titre"
    editing = ProfileState.form_entry_id != ""
    add = _add_button(spec)
    if spec.single:
        add = rx.cond(items.length() == 0, add)
    return rx.el.section(
        rx.vstack(
            rx.heading(spec.title, as_="h2", size="5", id=heading_id),
            rx.text(spec.description, size="2", color_scheme="gray"),
            rx.cond(
                (ProfileState.saved_kind == spec.key) & (ProfileState.saved_message != ""),
                rx.callout(ProfileState.saved_message, icon="circle_check", color_scheme="green",
                           role="status", size="1", id=f"{spec.anchor}-status"),
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
                rx.text(spec.empty, size="2", id=f"{spec.anchor}-empty"),
            ),
            rx.cond(ProfileState.form_kind == spec.key, entry_form(spec, editing=editing), add),
            spacing="3",
            width="100%",
        ),
        id=spec.anchor,
        aria_labelledby=heading_id,
        width="100%",
        scroll_margin_top="1em",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(ProfileState.deleting_question),
            rx.alert_dialog.description(
                "« ", ProfileState.deleting_title, " » sera retiré de votre profil. ",
                ProfileState.deleting_warning,
            ),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button("Annuler", variant="soft", color_scheme="gray",
                              on_click=ProfileState.cancel_delete),
                ),
                rx.alert_dialog.action(
                    rx.button("Supprimer", color_scheme="red",
                              on_click=ProfileState.confirm_delete),
                ),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
        ),
        open=ProfileState.deleting_id != "",
        on_open_change=ProfileState.delete_dialog_changed,
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.heading("Mon profil médical", as_="h1", size="7"),
        rx.text(
            "Vos allergies, vaccinations, antécédents, traitements et mesures, tenus à jour "
            "par vous et vos soignants.",
            color_scheme="gray",
        ),
        _export(),
        _page_messages(),
        rx.cond(
            ProfileState.loading & ~ProfileState.loaded,
            rx.hstack(rx.spinner(), rx.text("Chargement…"), id="profile-loading"),
        ),
        rx.cond(
            ProfileState.loaded,
            rx.vstack(
                _contents(),
                *(_section(spec) for spec in KINDS),
                spacing="7",
                width="100%",
            ),
        ),
        _delete_dialog(),
        spacing="5",
        width="100%",
    )


@rx.page(route=ROUTE, title=page_title("Mon profil médical"), on_load=ProfileState.load)
def profile() -> rx.Component:
    return layout(_content(), current_route=ROUTE)
