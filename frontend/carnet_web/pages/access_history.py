"""Historique des accès: every read of my record by someone else, newest first."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import empty_state, error_callout, loading_state, page_body
from carnet_web.i18n import N_, t
from carnet_web.routes import CARE_TEAM_ROUTE
from carnet_web.state.access_history import (
    ENTRY_ID_PREFIX,
    HEADING_ID,
    ROUTE,
    AccessHistoryState,
    AccessItem,
)

TITLE = N_("Historique des accès")


def _entry(item: AccessItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.text(item.when, weight="bold", class_name="access-when"),
                    rx.cond(item.emergency,
                            rx.badge(t("Urgence"), color_scheme="red",
                                     class_name="emergency-badge")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(
                    rx.text.strong(t("Qui : ")), item.who,
                    rx.cond(item.practice != "", rx.fragment(", ", item.practice)),
                    rx.cond(item.rpps != "", rx.fragment(" (RPPS ", item.rpps, ")")),
                    size="2", class_name="access-who",
                ),
                rx.text(rx.text.strong(t("Quoi : ")), item.what, size="2",
                        class_name="access-what"),
                rx.text(rx.text.strong(t("À quel titre : ")), item.ground, size="2",
                        class_name="access-ground"),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
        id=ENTRY_ID_PREFIX + item.id,
        # Focused by "Voir plus" (the first of the older entries), never by Tab.
        tab_index=-1,
        class_name="access",
        list_style="none",
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.cond(
            AccessHistoryState.entries.length() > 0,
            rx.fragment(
                rx.text(AccessHistoryState.count_label, size="2", color_scheme="gray",
                        id="access-count", role="status", aria_live="polite"),
                rx.el.ul(rx.foreach(AccessHistoryState.entries, _entry), id="access-log",
                         padding="0", margin="0", width="100%",
                         display="flex", flex_direction="column", gap="0.75em"),
            ),
            rx.box(empty_state(AccessHistoryState.count_label), id="access-count",
                   role="status", width="100%"),
        ),
        rx.cond(
            AccessHistoryState.has_more,
            rx.button(
                t("Voir plus"),
                on_click=AccessHistoryState.load_more,
                loading=AccessHistoryState.loading_more,
                variant="soft",
                id="access-more",
            ),
        ),
        spacing="3",
        width="100%",
    )


def _content() -> rx.Component:
    return page_body(
        rx.vstack(
            rx.heading(t(TITLE), as_="h1", size="7", id=HEADING_ID, tab_index=-1),
            rx.text(
                t("Chaque consultation de votre dossier par un professionnel, du plus récent au "
                  "plus ancien : qui, quand, quoi et à quel titre. Cet historique ne peut être ni "
                  "modifié ni effacé. Pour retirer un accès, rendez-vous sur "),
                rx.link(t("Mon équipe de soins"), href=CARE_TEAM_ROUTE),
                ".",
                color_scheme="gray",
            ),
            spacing="2",
        ),
        error_callout(AccessHistoryState.error, retry=AccessHistoryState.load, id="access-error"),
        rx.cond(
            AccessHistoryState.loading,
            rx.box(loading_state(), id="access-loading"),
            _list(),
        ),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=AccessHistoryState.load)
def access_history() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
