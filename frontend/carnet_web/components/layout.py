"""The app shell: a header with the product name and the main navigation, around each page."""

from __future__ import annotations

from typing import Final, NamedTuple

import reflex as rx

PRODUCT_NAME: Final = "Carnet"


class NavItem(NamedTuple):
    label: str
    route: str


NAV_ITEMS: Final = (
    NavItem("Accueil", "/"),
    NavItem("Mes documents", "/documents"),
    NavItem("Mon profil médical", "/profil"),
    NavItem("Messagerie", "/messagerie"),
    NavItem("Agenda", "/agenda"),
)


def page_title(title: str) -> str:
    """The browser tab title of a page."""
    return f"{title} · {PRODUCT_NAME}"


def _nav_link(item: NavItem, current_route: str) -> rx.Component:
    active = item.route == current_route
    return rx.link(
        item.label,
        href=item.route,
        underline="none",
        weight="bold" if active else "regular",
        high_contrast=active,
        padding_y="0.25em",
        border_bottom="2px solid " + ("var(--accent-9)" if active else "transparent"),
        **({"aria_current": "page"} if active else {}),
    )


def navigation(current_route: str) -> rx.Component:
    return rx.el.nav(
        rx.flex(
            *(_nav_link(item, current_route) for item in NAV_ITEMS),
            spacing="5",
            wrap="wrap",
        ),
        aria_label="Navigation principale",
    )


def header(current_route: str) -> rx.Component:
    return rx.el.header(
        rx.flex(
            rx.link(
                rx.text(PRODUCT_NAME, size="6", weight="bold"),
                href="/",
                underline="none",
                high_contrast=True,
            ),
            navigation(current_route),
            direction={"initial": "column", "md": "row"},
            align={"initial": "start", "md": "center"},
            justify="between",
            spacing="4",
        ),
        padding_x="1.5em",
        padding_y="1em",
        border_bottom="1px solid var(--gray-a5)",
    )


def layout(*children: rx.Component, current_route: str) -> rx.Component:
    """Wrap a page's content in the app shell; `current_route` marks its navigation entry."""
    return rx.box(
        header(current_route),
        rx.el.main(
            rx.container(*children, size="3", padding_y="2em"),
        ),
        min_height="100vh",
    )


def coming_soon(title: str, description: str) -> rx.Component:
    """Body of a page that does not exist yet, clearly labelled as such."""
    return rx.vstack(
        rx.heading(title, as_="h1", size="7"),
        rx.badge("Bientôt disponible", color_scheme="amber", size="2"),
        rx.text(description),
        rx.text(
            "Cette page est en préparation : elle n'affiche encore aucune donnée.",
            color_scheme="gray",
        ),
        spacing="4",
    )
