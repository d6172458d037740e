"""Applications connectées: the apps I authorised, what each may do with my record and when it
last used its access; "Révoquer" (after a confirmation) ends it at once. Every value from the
API is shown as plain text."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    confirm_dialog,
    empty_state,
    error_callout,
    loading_state,
    page_body,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import ACCESS_HISTORY_ROUTE, CATALOGUE_ROUTE
from carnet_web.state.connected_apps import (
    HEADING_ID,
    REVOKE_BUTTON_PREFIX,
    ROUTE,
    ConnectedAppItem,
    ConnectedAppsState,
)

TITLE = N_("Applications connectées")


def _scope(label: rx.Var) -> rx.Component:
    return rx.el.li(rx.text(label, size="2"))


def _app(item: ConnectedAppItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading(item.name, as_="h2", size="4", class_name="connected-app-name"),
                    rx.cond(~item.in_catalogue,
                            rx.badge(t("Retirée du catalogue"), color_scheme="gray")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(tf("Éditeur : {publisher}", publisher=item.publisher), size="2",
                        color_scheme="gray"),
                rx.text(t("Elle peut :"), size="2", weight="medium"),
                rx.el.ul(rx.foreach(item.scopes, _scope), margin="0", padding_left="1.25em",
                         class_name="connected-app-scopes"),
                rx.text(item.granted, size="2", color_scheme="gray"),
                rx.text(item.last_used, size="2", color_scheme="gray",
                        class_name="connected-app-last-used"),
                rx.button(
                    t("Révoquer"),
                    on_click=ConnectedAppsState.ask_revoke(item.id),
                    disabled=ConnectedAppsState.busy,
                    color_scheme="red",
                    variant="soft",
                    size="2",
                    aria_label=tf("Révoquer l'accès de {name}", name=item.name),
                    aria_haspopup="dialog",
                    id=REVOKE_BUTTON_PREFIX + item.id,
                ),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
        id="connected-app-" + item.id,
        class_name="connected-app",
        list_style="none",
    )


def _list() -> rx.Component:
    return rx.cond(
        ConnectedAppsState.apps.length() > 0,
        rx.el.ul(rx.foreach(ConnectedAppsState.apps, _app), id="connected-apps",
                 padding="0", margin="0", width="100%",
                 display="flex", flex_direction="column", gap="0.75em"),
        rx.box(
            empty_state(
                t("Aucune application n'a accès à votre dossier."),
                t("Quand vous autorisez une application du catalogue, elle apparaît ici."),
                rx.link(t("Voir le catalogue d'applications"), href=CATALOGUE_ROUTE),
            ),
            id="connected-apps-empty",
            width="100%",
        ),
    )


def _revoke_dialog() -> rx.Component:
    return confirm_dialog(
        open=ConnectedAppsState.revoking_id != "",
        on_open_change=ConnectedAppsState.revoke_dialog_changed,
        title=t("Révoquer l'accès de cette application ?"),
        description=tf("{name} ne pourra plus lire ni modifier votre dossier, dès maintenant. "
                       "Pour l'utiliser de nouveau, il faudra l'autoriser encore.",
                       name=ConnectedAppsState.revoking_name),
        confirm_label=t("Révoquer"),
        on_confirm=ConnectedAppsState.confirm_revoke,
        busy=ConnectedAppsState.busy,
        id="connected-apps-revoke-dialog",
    )


def _content() -> rx.Component:
    return page_body(
        rx.vstack(
            rx.heading(t(TITLE), as_="h1", size="7", id=HEADING_ID, tab_index=-1),
            rx.text(
                t("Les applications de santé que vous avez autorisées à accéder à votre "
                  "dossier. Chacune de leurs lectures figure dans votre "),
                rx.link(t("historique des accès"), href=ACCESS_HISTORY_ROUTE, underline="always"),
                ".",
                color_scheme="gray",
            ),
            spacing="2",
        ),
        error_callout(ConnectedAppsState.error, retry=ConnectedAppsState.load,
                      id="connected-apps-error"),
        # Always in the page, so screen readers announce what a revocation did.
        rx.box(
            rx.cond(ConnectedAppsState.info != "",
                    rx.callout(ConnectedAppsState.info, icon="circle_check",
                               color_scheme="green")),
            id="connected-apps-info", role="status", aria_live="polite", width="100%",
        ),
        error_callout(ConnectedAppsState.action_error, id="connected-apps-action-error"),
        rx.cond(
            ConnectedAppsState.loading,
            rx.box(loading_state(), id="connected-apps-loading"),
            rx.cond(ConnectedAppsState.error == "", _list()),
        ),
        _revoke_dialog(),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=ConnectedAppsState.load)
def connected_apps() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
