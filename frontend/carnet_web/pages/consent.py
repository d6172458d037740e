"""The consent page (/autorisation): an app asks to read or write part of my record. Its name,
publisher and each part it asks for, in plain words, with a checkbox (the optional ones may be
unticked, the required ones not); "Autoriser" or "Refuser". A request Carnet cannot check
(unknown app, an address the app did not declare) is said, and nothing else happens.
Every value from the API is plain text."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import error_callout, loading_state, page_body, page_header
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import CATALOGUE_ROUTE, CONNECTED_APPS_ROUTE
from carnet_web.state.consent import ERROR_ID, HEADING_ID, ROUTE, ConsentScope, ConsentState

TITLE = N_("Autoriser une application")


def _scope(item: ConsentScope) -> rx.Component:
    hint_id = item.id + "-hint"
    return rx.el.li(
        rx.flex(
            rx.checkbox(
                item.label,
                checked=item.checked,
                on_change=lambda checked: ConsentState.set_scope(item.scope, checked),
                disabled=~item.optional | ConsentState.busy,
                id=item.id,
                size="3",
                aria_describedby=hint_id,
            ),
            rx.text(
                rx.cond(item.optional, t("Facultatif : vous pouvez le décocher."),
                        t("Nécessaire au fonctionnement de l'application.")),
                id=hint_id, size="1", color_scheme="gray", padding_left="2em",
            ),
            direction="column",
            gap="0.25em",
        ),
        list_style="none",
        class_name="consent-scope",
    )


def _request() -> rx.Component:
    return rx.vstack(
        rx.text(
            rx.text.strong(ConsentState.app_name, id="consent-app-name"),
            tf(", éditée par {publisher}, demande à accéder à votre dossier Carnet.",
               publisher=ConsentState.publisher),
            id="consent-intro",
        ),
        rx.el.fieldset(
            rx.el.legend(t("L'application pourra :"), style={"font_weight": "500",
                                                              "margin_bottom": "0.5em"}),
            rx.el.ul(rx.foreach(ConsentState.scopes, _scope), id="consent-scopes",
                     padding="0", margin="0",
                     display="flex", flex_direction="column", gap="0.75em"),
            style={"border": "0", "padding": "0", "margin": "0", "min_width": "0"},
        ),
        rx.text(
            t("Elle ne lira que cela, et chacune de ses lectures figurera dans votre "
              "historique des accès. Vous pourrez retirer son accès à tout moment dans "),
            rx.link(t("Applications connectées"), href=CONNECTED_APPS_ROUTE, underline="always"),
            ".",
            size="2", color_scheme="gray",
        ),
        rx.cond(
            ConsentState.privacy_policy_url != "",
            rx.text(rx.link(t("Politique de confidentialité de l'application"),
                            href=ConsentState.privacy_policy_url, rel="noopener noreferrer",
                            id="consent-privacy-policy"), size="2"),
        ),
        rx.box(
            rx.cond(ConsentState.action_error != "",
                    rx.callout(ConsentState.action_error, icon="triangle_alert",
                               color_scheme="red")),
            id=ERROR_ID, role="alert", tab_index=-1, width="100%",
        ),
        rx.flex(
            rx.button(t("Autoriser"), on_click=ConsentState.approve, size="3",
                      loading=ConsentState.busy, disabled=~ConsentState.is_hydrated,
                      id="consent-approve"),
            rx.button(t("Refuser"), on_click=ConsentState.deny, size="3", variant="soft",
                      color_scheme="gray", disabled=ConsentState.busy | ~ConsentState.is_hydrated,
                      id="consent-deny"),
            spacing="3",
            wrap="wrap",
        ),
        spacing="4",
        width="100%",
    )


def _problem() -> rx.Component:
    """The app's request is wrong in a way it can be told about."""
    return rx.vstack(
        rx.callout(ConsentState.problem, icon="triangle_alert", color_scheme="red",
                   role="alert", id="consent-problem", width="100%"),
        rx.button(t("Revenir à l'application"), on_click=ConsentState.return_with_error,
                  loading=ConsentState.busy, variant="soft", id="consent-return"),
        spacing="3",
        width="100%",
    )


def _refused() -> rx.Component:
    """Nothing can be done with this link: said, and where to find apps instead."""
    return rx.vstack(
        rx.callout(ConsentState.error, icon="triangle_alert", color_scheme="red",
                   role="alert", id="consent-error", width="100%"),
        rx.text(t("Les applications que Carnet a vérifiées sont dans le "),
                rx.link(t("catalogue d'applications"), href=CATALOGUE_ROUTE,
                        underline="always"),
                "."),
        spacing="3",
        width="100%",
    )


def _content() -> rx.Component:
    return page_body(
        rx.box(
            page_header(t(TITLE)),
            id=HEADING_ID,
        ),
        error_callout(ConsentState.retry_error, retry=ConsentState.load, id="consent-retry"),
        rx.cond(
            ConsentState.loading,
            rx.box(loading_state(), id="consent-loading"),
            rx.cond(
                ConsentState.error != "",
                _refused(),
                rx.cond(ConsentState.problem != "", _problem(),
                        rx.cond(ConsentState.ready, _request())),
            ),
        ),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=ConsentState.load)
def consent() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
