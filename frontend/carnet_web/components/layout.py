"""The app shell: a header with the product name, the main navigation and who is signed in
(with "Mes sessions" and "Se déconnecter", or "Se connecter"), around each page."""

from __future__ import annotations

from typing import Final, NamedTuple

import reflex as rx

from carnet_web.state.session import LOGIN_ROUTE, SESSIONS_ROUTE, SessionState

PRODUCT_NAME: Final = "Carnet"


class NavItem(NamedTuple):
    label: str
    route: str


#: What patients (and signed-out visitors) see.
NAV_ITEMS: Final = (
    NavItem("Accueil", "/"),
    NavItem("Mes documents", "/documents"),
    NavItem("Mon profil médical", "/profil"),
    NavItem("Messagerie", "/messagerie"),
    NavItem("Agenda", "/agenda"),
    NavItem("Mon équipe de soins", "/equipe-de-soins"),
    NavItem("Historique des accès", "/historique-des-acces"),
)

#: What professionals see: the "Espace professionnel" (see pages/pro_*.py).
PROFESSIONAL_NAV_ITEMS: Final = (
    NavItem("Mes patients", "/pro"),
    NavItem("Déclarer une relation de soins", "/pro/declarer"),
    NavItem("Accès d'urgence", "/pro/urgence"),
    NavItem("Messagerie", "/messagerie"),
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


def _nav_links(items: tuple[NavItem, ...], current_route: str, **props: str) -> rx.Component:
    return rx.flex(
        *(_nav_link(item, current_route) for item in items),
        spacing="5",
        wrap="wrap",
        **props,
    )


def navigation(current_route: str) -> rx.Component:
    """The professional's items to a professional, the patient's to everyone else."""
    return rx.el.nav(
        rx.cond(
            SessionState.is_professional,
            _nav_links(PROFESSIONAL_NAV_ITEMS, current_route, id="nav-professional"),
            _nav_links(NAV_ITEMS, current_route, id="nav-patient"),
        ),
        aria_label="Navigation principale",
    )


def account_menu(current_route: str) -> rx.Component:
    """Who is signed in in this tab, with "Mes sessions" and "Se déconnecter"; or
    "Se connecter"."""
    on_sessions = current_route == SESSIONS_ROUTE
    return rx.box(
        rx.cond(
            SessionState.signed_in,
            rx.flex(
                rx.text(
                    "Connecté",
                    rx.cond(
                        SessionState.account_identifier != "",
                        rx.fragment(" : ", rx.text.strong(SessionState.account_identifier)),
                    ),
                    size="2",
                    id="signed-in-as",
                ),
                rx.link(
                    "Mes sessions",
                    href=SESSIONS_ROUTE,
                    size="2",
                    weight="bold" if on_sessions else "regular",
                    **({"aria_current": "page"} if on_sessions else {}),
                ),
                rx.button(
                    "Se déconnecter",
                    on_click=SessionState.logout,
                    variant="soft",
                    size="1",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            rx.link("Se connecter", href=LOGIN_ROUTE, size="2", weight="bold"),
        ),
        aria_label="Mon compte",
        role="group",
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
            account_menu(current_route),
            justify="between",
            align="center",
            spacing="4",
            wrap="wrap",
        ),
        rx.box(navigation(current_route), margin_top="0.75em"),
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


def visually_hidden(text: str) -> rx.Component:
    """Text for screen readers only (e.g. the header of a column of buttons)."""
    return rx.el.span(
        text,
        position="absolute",
        width="1px",
        height="1px",
        padding="0",
        margin="-1px",
        overflow="hidden",
        clip="rect(0, 0, 0, 0)",
        white_space="nowrap",
        border="0",
    )
