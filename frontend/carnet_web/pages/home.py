"""Accueil: this instance and its latest announcements.

Announcement titles and bodies are shown as plain text (rx.text), never through rx.html or
rx.markdown, which would render HTML coming from the API.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.routes import HOME_ROUTE as ROUTE  # noqa: E402,F401  (re-exported)
from carnet_web.state.home import AnnouncementItem, HomeState


def _announcement(item: AnnouncementItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(item.title, as_="h3", size="4"),
            rx.text(item.published_on, size="1", color_scheme="gray"),
            rx.text(item.body, white_space="pre-wrap"),
            spacing="2",
        ),
        width="100%",
    )


def _announcements() -> rx.Component:
    return rx.vstack(
        rx.heading("Annonces", as_="h2", size="5"),
        rx.cond(
            HomeState.announcements.length() > 0,
            rx.vstack(rx.foreach(HomeState.announcements, _announcement), width="100%"),
            rx.text("Aucune annonce pour le moment.", color_scheme="gray"),
        ),
        spacing="3",
        width="100%",
    )


def _error() -> rx.Component:
    return rx.vstack(
        rx.callout(
            HomeState.error,
            icon="triangle_alert",
            color_scheme="red",
            role="alert",
            id="home-error",
        ),
        rx.button("Réessayer", on_click=HomeState.load, variant="soft", size="1"),
        spacing="2",
        align="start",
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.heading(
            rx.cond(
                HomeState.platform_name != "",
                "Bienvenue sur " + HomeState.platform_name,
                "Bienvenue",
            ),
            as_="h1",
            size="7",
        ),
        rx.cond(
            HomeState.platform_name != "",
            rx.text(
                "Version ", HomeState.platform_version,
                " · environnement ", HomeState.platform_environment,
                size="1", color_scheme="gray", id="platform-info",
            ),
        ),
        rx.cond(
            HomeState.loading,
            rx.hstack(rx.spinner(), rx.text("Chargement…"), id="home-loading"),
            rx.fragment(
                rx.cond(HomeState.error != "", _error()),
                # After an error, say nothing about announcements we could not read.
                rx.cond(
                    (HomeState.error == "") | (HomeState.announcements.length() > 0),
                    _announcements(),
                ),
            ),
        ),
        spacing="5",
        width="100%",
    )


@rx.page(route=ROUTE, title=page_title("Accueil"), on_load=HomeState.load)
def home() -> rx.Component:
    return layout(_content(), current_route=ROUTE)
