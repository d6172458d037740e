"""Historique des accès: every read of my record by someone else, newest first."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.state.access_history import HEADING_ID, ROUTE, AccessHistoryState, AccessItem
from carnet_web.state.care_team import ROUTE as CARE_TEAM_ROUTE


def _entry(item: AccessItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.text(item.when, weight="bold", class_name="access-when"),
                    rx.cond(item.emergency,
                            rx.badge("Urgence", color_scheme="red", class_name="emergency-badge")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(
                    rx.text.strong("Qui : "), item.who,
                    rx.cond(item.practice != "", rx.fragment(", ", item.practice)),
                    rx.cond(item.rpps != "", rx.fragment(" (RPPS ", item.rpps, ")")),
                    size="2", class_name="access-who",
                ),
                rx.text(rx.text.strong("Quoi : "), item.what, size="2",
                        class_name="access-what"),
                rx.text(rx.text.strong("À quel titre : "), item.ground, size="2",
                        class_name="access-ground"),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
        id="access-" + item.id,
        class_name="access",
        list_style="none",
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.text(AccessHistoryState.count_label, size="2", color_scheme="gray",
                id="access-count", role="status", aria_live="polite"),
        rx.cond(
            AccessHistoryState.entries.length() > 0,
            rx.el.ul(rx.foreach(AccessHistoryState.entries, _entry), id="access-log",
                     padding="0", margin="0", width="100%",
                     display="flex", flex_direction="column", gap="0.75em"),
        ),
        rx.cond(
            AccessHistoryState.has_more,
            rx.button(
                "Voir plus",
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
    return rx.vstack(
        rx.heading("Historique des accès", as_="h1", size="7", id=HEADING_ID, tab_index=-1),
        rx.text(
            "Chaque consultation de votre dossier par un professionnel, du plus récent au plus "
            "ancien : qui, quand, quoi et à quel titre. Cet historique ne peut être ni modifié "
            "ni effacé. Pour retirer un accès, rendez-vous sur ",
            rx.link("Mon équipe de soins", href=CARE_TEAM_ROUTE),
            ".",
            color_scheme="gray",
        ),
        rx.cond(
            AccessHistoryState.error != "",
            rx.vstack(
                rx.callout(AccessHistoryState.error, icon="triangle_alert", color_scheme="red",
                           role="alert", id="access-error"),
                rx.button("Réessayer", on_click=AccessHistoryState.load, variant="soft",
                          size="1"),
                spacing="2",
                align="start",
            ),
        ),
        rx.cond(
            AccessHistoryState.loading,
            rx.hstack(rx.spinner(), rx.text("Chargement…"), id="access-loading"),
            _list(),
        ),
        spacing="5",
        width="100%",
    )


@rx.page(route=ROUTE, title=page_title("Historique des accès"), on_load=AccessHistoryState.load)
def access_history() -> rx.Component:
    return layout(_content(), current_route=ROUTE)
