"""The catalogue of health apps (/catalogue): search and category filter over the apps Carnet
references, each card leading to the app's page (/catalogue/<id>): its description, publisher,
categories, website, privacy policy and what it would ask of the record, in plain words.
Public pages. Every value from the API is shown as plain text."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    empty_state,
    error_callout,
    loading_state,
    page_body,
    page_header,
    section,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import CATALOGUE_ROUTE, CONNECTED_APPS_ROUTE
from carnet_web.state.catalogue import (
    APP_ID_PREFIX,
    APP_ROUTE,
    CATEGORY_FIELD_ID,
    MAX_SEARCH_LENGTH,
    RESULTS_HEADING_ID,
    SEARCH_FIELD_ID,
    AppCard,
    CatalogueAppState,
    CatalogueState,
    ScopeLine,
)
from carnet_web.state.session import SessionState

TITLE = N_("Catalogue d'applications")
APP_TITLE = N_("Application de santé")


def _filters() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.vstack(
                rx.el.label(t("Rechercher une application"), html_for=SEARCH_FIELD_ID,
                            font_weight="500"),
                rx.flex(
                    rx.input(
                        id=SEARCH_FIELD_ID,
                        name="search",
                        type="search",
                        auto_complete="off",
                        max_length=MAX_SEARCH_LENGTH,
                        size="3",
                        width="100%",
                        aria_describedby="catalogue-search-hint",
                    ),
                    rx.button(t("Rechercher"), type="submit", size="3",
                              disabled=~CatalogueState.is_hydrated, id="catalogue-search-submit"),
                    spacing="2",
                    width="100%",
                ),
                rx.text(t("Nom, éditeur ou description : « diabète », « tension »…"),
                        id="catalogue-search-hint", size="2", color_scheme="gray"),
                spacing="1",
                flex="2 1 16em",
            ),
            rx.vstack(
                rx.el.label(t("Catégorie"), html_for=CATEGORY_FIELD_ID, font_weight="500"),
                rx.el.select(
                    rx.el.option(t("Toutes les catégories"), value=""),
                    rx.foreach(CatalogueState.categories,
                               lambda pair: rx.el.option(pair[1], value=pair[0])),
                    id=CATEGORY_FIELD_ID,
                    value=CatalogueState.category,
                    on_change=CatalogueState.set_category,
                    class_name="carnet-select",
                    style={
                        "width": "100%", "min_height": "var(--space-7)",
                        "padding": "0 var(--space-2)", "border": "1px solid var(--gray-a8)",
                        "border_radius": "var(--radius-2)", "background": "var(--color-surface)",
                        "color": "var(--gray-12)", "font_size": "var(--font-size-3)",
                    },
                ),
                spacing="1",
                flex="1 1 12em",
            ),
            gap="1em",
            wrap="wrap",
            width="100%",
        ),
        on_submit=CatalogueState.apply_search,
        reset_on_submit=False,
        role="search",
        aria_label=t("Rechercher dans le catalogue"),
        width="100%",
    )


def _card(item: AppCard) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.heading(
                    rx.link(item.name, href=item.href, id=APP_ID_PREFIX + item.id),
                    as_="h3", size="4",
                ),
                rx.text(tf("Éditeur : {publisher}", publisher=item.publisher), size="2",
                        color_scheme="gray"),
                rx.text(item.description, size="2", style={"overflow_wrap": "anywhere"}),
                rx.cond(item.categories != "",
                        rx.text(tf("Catégories : {categories}", categories=item.categories),
                                size="2", color_scheme="gray")),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
        class_name="catalogue-app",
        list_style="none",
    )


def _results() -> rx.Component:
    return rx.vstack(
        rx.heading(t("Applications référencées"), as_="h2", size="5", id=RESULTS_HEADING_ID),
        rx.text(CatalogueState.count_text, size="2", color_scheme="gray", id="catalogue-count",
                role="status", aria_live="polite"),
        rx.cond(
            CatalogueState.loading,
            rx.box(loading_state(), id="catalogue-loading"),
            rx.cond(
                CatalogueState.apps.length() > 0,
                rx.el.ul(rx.foreach(CatalogueState.apps, _card), id="catalogue-apps",
                         padding="0", margin="0", width="100%",
                         display="flex", flex_direction="column", gap="0.75em"),
            ),
        ),
        rx.cond(
            CatalogueState.has_more & ~CatalogueState.loading,
            rx.button(t("Voir plus"), on_click=CatalogueState.load_more,
                      loading=CatalogueState.loading_more, variant="soft", id="catalogue-more"),
        ),
        spacing="3",
        width="100%",
    )


def _connected_link() -> rx.Component:
    return rx.cond(
        SessionState.signed_in & ~SessionState.is_professional,
        rx.text(
            t("Les applications que vous avez autorisées sont dans "),
            rx.link(t("Applications connectées"), href=CONNECTED_APPS_ROUTE, underline="always"),
            t(" : vous pouvez y retirer leur accès à tout moment."),
        ),
    )


def _catalogue_content() -> rx.Component:
    return page_body(
        page_header(t(TITLE), t("Des applications de santé vérifiées par Carnet. Elles ne lisent "
                                "votre dossier que si vous les y autorisez, et seulement ce que "
                                "vous acceptez.")),
        _connected_link(),
        _filters(),
        error_callout(CatalogueState.error, retry=CatalogueState.retry, id="catalogue-error"),
        _results(),
    )


@rx.page(route=CATALOGUE_ROUTE, title=page_title(TITLE), on_load=CatalogueState.load)
def catalogue() -> rx.Component:
    return layout(_catalogue_content(), current_route=CATALOGUE_ROUTE, title=TITLE)


# --- an app's page ---------------------------------------------------------------------------


def _back() -> rx.Component:
    return rx.link(
        rx.icon("arrow-left", size=16, aria_hidden="true"),
        t("Retour au catalogue"),
        href=CATALOGUE_ROUTE,
        size="2",
        display="inline-flex",
        align_items="center",
        gap="0.35em",
        id="back-to-catalogue",
    )


def _scope(item: ScopeLine) -> rx.Component:
    return rx.el.li(
        rx.text(
            item.label,
            rx.cond(item.optional, rx.text.span(t(" (facultatif : vous pourrez le refuser)"),
                                                color_scheme="gray")),
            size="2",
        ),
        class_name="catalogue-scope",
    )


def _external(label: rx.Var, href: rx.Var, id: str) -> rx.Component:
    return rx.cond(
        href != "",
        rx.el.li(rx.link(label, href=href, rel="noopener noreferrer", id=id,
                         style={"overflow_wrap": "anywhere"})),
    )


def _app_details() -> rx.Component:
    return rx.fragment(
        page_header(
            rx.text.span(CatalogueAppState.name, id="app-name"),
            tf("Éditeur : {publisher}", publisher=CatalogueAppState.publisher),
        ),
        rx.text(CatalogueAppState.description, style={"overflow_wrap": "anywhere"},
                id="app-description"),
        rx.cond(CatalogueAppState.categories != "",
                rx.text(tf("Catégories : {categories}",
                           categories=CatalogueAppState.categories), size="2",
                        color_scheme="gray", id="app-categories")),
        rx.text(tf("Référencée par Carnet le {date}", date=CatalogueAppState.referenced_on),
                size="2", color_scheme="gray"),
        section(
            t("Ce que l'application demande"),
            rx.text(t("Si vous la connectez, elle vous demandera d'accéder à :"), size="2"),
            rx.el.ul(rx.foreach(CatalogueAppState.scopes, _scope), id="app-scopes",
                     margin="0", padding_left="1.25em"),
            rx.text(t("Vous choisissez au moment de la connecter, et vous pouvez retirer son "
                      "accès à tout moment dans « Applications connectées »."), size="2",
                    color_scheme="gray"),
            id="app-scopes-section",
        ),
        section(
            t("Pour la connecter"),
            rx.text(t("Installez l'application, puis choisissez « Se connecter avec Carnet » "
                      "dans celle-ci : Carnet vous demandera alors votre accord."), size="2"),
            rx.el.ul(
                _external(t("Site de l'application"), CatalogueAppState.website_url,
                          "app-website"),
                _external(t("Politique de confidentialité"),
                          CatalogueAppState.privacy_policy_url, "app-privacy-policy"),
                margin="0", padding_left="1.25em",
            ),
            id="app-connect-section",
        ),
    )


#: Whether the state describes the app of the address (a previous visit's is never shown).
_CURRENT = CatalogueAppState.router.url.path.to(str).contains(CatalogueAppState.shown_id)


def _app_content() -> rx.Component:
    return page_body(
        _back(),
        rx.cond(
            CatalogueAppState.loading | (CatalogueAppState.shown_id == "") | ~_CURRENT,
            loading_state(),
            rx.fragment(
                error_callout(CatalogueAppState.error, retry=CatalogueAppState.load,
                              id="app-error"),
                rx.cond(
                    CatalogueAppState.missing,
                    rx.fragment(
                        page_header(t("Application introuvable")),
                        empty_state(t("Cette application n'est pas, ou plus, dans le "
                                      "catalogue de Carnet.")),
                    ),
                    rx.cond(CatalogueAppState.name != "", _app_details(),
                            page_header(t(APP_TITLE))),
                ),
            ),
        ),
    )


@rx.page(route=APP_ROUTE, title=page_title(APP_TITLE), on_load=CatalogueAppState.load)
def catalogue_app() -> rx.Component:
    return layout(_app_content(), current_route=CATALOGUE_ROUTE, title=APP_TITLE)
