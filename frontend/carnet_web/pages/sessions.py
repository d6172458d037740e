"""Mes sessions: where I am signed in; revoke one, or sign out everywhere.

User agents come from browsers (anyone's): shown as plain text only.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title, visually_hidden
from carnet_web.state.session import SESSIONS_ROUTE
from carnet_web.state.sessions import SessionItem, SessionsState


def _row(item: SessionItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.text(item.browser, weight="medium"),
                    rx.cond(
                        item.current,
                        rx.badge("cette session", color_scheme="green", class_name="current"),
                    ),
                    spacing="2",
                    align="center",
                ),
                rx.text(item.user_agent, size="1", color_scheme="gray", class_name="user-agent"),
                spacing="1",
            ),
        ),
        rx.table.cell(item.address),
        rx.table.cell(item.created),
        rx.table.cell(item.last_seen),
        rx.table.cell(
            rx.cond(
                item.current,
                rx.fragment(),
                rx.button(
                    "Révoquer",
                    on_click=SessionsState.revoke(item.id),
                    disabled=SessionsState.busy,
                    color_scheme="red",
                    variant="soft",
                    size="1",
                ),
            ),
        ),
        class_name=rx.cond(item.current, "session current-session", "session"),
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Navigateur"),
                rx.table.column_header_cell("Adresse"),
                rx.table.column_header_cell("Ouverte le"),
                rx.table.column_header_cell("Dernière activité"),
                rx.table.column_header_cell(visually_hidden("Action")),
            ),
        ),
        rx.table.body(rx.foreach(SessionsState.sessions, _row)),
        width="100%",
        id="sessions-table",
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.heading("Mes sessions", as_="h1", size="7"),
        rx.text(
            "Les appareils et navigateurs où vous êtes connecté. Si vous n'en reconnaissez pas "
            "un, révoquez-le et changez votre mot de passe.",
            color_scheme="gray",
        ),
        rx.cond(
            SessionsState.error != "",
            rx.vstack(
                rx.callout(SessionsState.error, icon="triangle_alert", color_scheme="red",
                           role="alert", id="sessions-error"),
                rx.button("Réessayer", on_click=SessionsState.load, variant="soft", size="1"),
                spacing="2",
                align="start",
            ),
        ),
        rx.cond(
            SessionsState.info != "",
            rx.callout(SessionsState.info, icon="info", role="status", id="sessions-info"),
        ),
        rx.cond(
            SessionsState.loading,
            rx.hstack(rx.spinner(), rx.text("Chargement…"), id="sessions-loading"),
            rx.cond(SessionsState.sessions.length() > 0, _table()),
        ),
        rx.button(
            "Se déconnecter partout",
            on_click=SessionsState.logout_everywhere,
            disabled=SessionsState.busy | SessionsState.loading,
            color_scheme="red",
            variant="outline",
        ),
        spacing="5",
        width="100%",
    )


@rx.page(route=SESSIONS_ROUTE, title=page_title("Mes sessions"), on_load=SessionsState.load)
def sessions() -> rx.Component:
    return layout(_content(), current_route=SESSIONS_ROUTE)
