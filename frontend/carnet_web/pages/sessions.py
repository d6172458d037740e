"""Mes sessions: where I am signed in; revoke one, or sign out everywhere.

One card per session (they stack on a phone: nothing scrolls sideways). User agents come from
browsers (anyone's): shown as plain text only, wrapped anywhere.
"""

from __future__ import annotations

from typing import Final

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    confirm_dialog,
    error_callout,
    loading_state,
    page_body,
    page_header,
    success_callout,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.state.session import SESSIONS_ROUTE
from carnet_web.state.sessions import LOGOUT_EVERYWHERE_BUTTON, SessionItem, SessionsState

TITLE: Final = N_("Mes sessions")


def _fact(label: rx.Component | str, value: rx.Var) -> rx.Component:
    return rx.el.div(
        rx.el.dt(label, style={"color": "var(--gray-11)", "font_size": "var(--font-size-2)"}),
        rx.el.dd(value, style={"margin": "0", "overflow_wrap": "anywhere"}),
    )


def _session(item: SessionItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading(item.browser, as_="h2", size="4", class_name="browser"),
                    rx.cond(
                        item.current,
                        rx.badge(t("cette session"), color_scheme="green", class_name="current"),
                    ),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(item.user_agent, size="1", color_scheme="gray", class_name="user-agent",
                        style={"overflow_wrap": "anywhere"}),
                rx.el.dl(
                    _fact(t("Adresse"), item.address),
                    _fact(t("Ouverte le"), item.created),
                    _fact(t("Dernière activité"), item.last_seen),
                    style={"display": "grid", "gap": "0.5em 1.5em", "margin": "0",
                           "grid_template_columns": "repeat(auto-fit, minmax(12em, 1fr))",
                           "width": "100%"},
                ),
                rx.cond(
                    item.current,
                    rx.fragment(),
                    rx.button(
                        t("Révoquer"),
                        on_click=SessionsState.revoke(item.id),
                        disabled=SessionsState.busy,
                        color_scheme="red",
                        variant="soft",
                        size="2",
                        aria_label=tf("Révoquer la session {browser}", browser=item.browser),
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        class_name=rx.cond(item.current, "session current-session", "session"),
        list_style="none",
    )


def _list() -> rx.Component:
    return rx.el.ul(
        rx.foreach(SessionsState.sessions, _session),
        id="sessions-list",
        aria_label=t("Mes sessions"),
        style={"display": "flex", "flex_direction": "column", "gap": "0.75em", "margin": "0",
               "padding": "0", "width": "100%"},
    )


def _logout_everywhere() -> rx.Component:
    return rx.fragment(
        rx.button(
            t("Se déconnecter partout"),
            on_click=SessionsState.set_confirm_open(True),
            disabled=SessionsState.busy | SessionsState.loading,
            color_scheme="red",
            variant="outline",
            id=LOGOUT_EVERYWHERE_BUTTON,
        ),
        confirm_dialog(
            open=SessionsState.confirm_open,
            on_open_change=SessionsState.set_confirm_open,
            title=t("Se déconnecter partout ?"),
            description=t("Toutes vos sessions seront fermées, celle-ci comprise : il faudra "
                          "vous reconnecter sur chaque appareil."),
            confirm_label=t("Se déconnecter partout"),
            on_confirm=SessionsState.logout_everywhere,
            busy=SessionsState.busy,
            id="logout-everywhere-dialog",
        ),
    )


def _content() -> rx.Component:
    return page_body(
        page_header(
            t("Mes sessions"),
            t("Les appareils et navigateurs où vous êtes connecté. Si vous n'en reconnaissez "
              "pas un, révoquez-le et changez votre mot de passe."),
        ),
        error_callout(SessionsState.error, retry=SessionsState.load, id="sessions-error"),
        success_callout(SessionsState.info, id="sessions-info"),
        rx.cond(
            SessionsState.loading,
            rx.box(loading_state(), id="sessions-loading"),
            rx.cond(SessionsState.sessions.length() > 0, _list()),
        ),
        rx.box(_logout_everywhere()),
    )


@rx.page(route=SESSIONS_ROUTE, title=page_title(TITLE), on_load=SessionsState.load)
def sessions() -> rx.Component:
    return layout(_content(), current_route=SESSIONS_ROUTE, title=TITLE)
