"""The app shell around each page: a skip link, a header with the product name, the language
switch, who is signed in ("Mon compte", "Mes sessions", "Se déconnecter", or "Se connecter") and
the main navigation (folded behind a menu button below 640 px), then the page in `<main>`."""

from __future__ import annotations

from typing import Final, NamedTuple

import reflex as rx

from carnet_web.components.theme import NARROW, WIDE
from carnet_web.i18n import LANGUAGE_NAMES, N_, LanguageState, t, tf
from carnet_web.routes import (
    ACCESS_HISTORY_ROUTE,
    ACCOUNT_ROUTE,
    AGENDA_ROUTE,
    CARE_TEAM_ROUTE,
    CATALOGUE_ROUTE,
    DOCUMENTS_ROUTE,
    HOME_ROUTE,
    LOGIN_ROUTE,
    MESSAGING_ROUTE,
    PRO_AGENDA_ROUTE,
    PRO_DECLARE_ROUTE,
    PRO_EMERGENCY_ROUTE,
    PRO_HOME_ROUTE,
    PROFILE_ROUTE,
    SESSIONS_ROUTE,
)
from carnet_web.state.session import SessionState
from carnet_web.state.spaces import SWITCH_ID, SpaceItem, SpaceState

PRODUCT_NAME: Final = "Carnet"
MAIN_ID: Final = "contenu"
NAV_ID: Final = "navigation-principale"


class NavItem(NamedTuple):
    label: str  # French, marked for the catalogue; shown with t()
    route: str
    # The part of a space (a carer's, a legal representative's) this page shows: in someone
    # else's space, only the pages of the parts given are linked ('' : never in a space).
    part: str = ""


#: What patients (and signed-out visitors) see.
NAV_ITEMS: Final = (
    NavItem(N_("Accueil"), HOME_ROUTE),
    NavItem(N_("Mes documents"), DOCUMENTS_ROUTE, "DOCUMENTS"),
    NavItem(N_("Mon profil médical"), PROFILE_ROUTE, "PROFILE"),
    NavItem(N_("Messagerie"), MESSAGING_ROUTE),
    NavItem(N_("Agenda"), AGENDA_ROUTE, "AGENDA"),
    NavItem(N_("Mon équipe de soins"), CARE_TEAM_ROUTE),
    NavItem(N_("Historique des accès"), ACCESS_HISTORY_ROUTE),
    NavItem(N_("Catalogue d'applications"), CATALOGUE_ROUTE),
)

#: What professionals see: the "Espace professionnel" (see pages/pro_*.py).
PROFESSIONAL_NAV_ITEMS: Final = (
    NavItem(N_("Mes patients"), PRO_HOME_ROUTE),
    NavItem(N_("Déclarer une relation de soins"), PRO_DECLARE_ROUTE),
    NavItem(N_("Accès d'urgence"), PRO_EMERGENCY_ROUTE),
    NavItem(N_("Mon agenda"), PRO_AGENDA_ROUTE),
    NavItem(N_("Messagerie"), MESSAGING_ROUTE),
)


class MenuState(rx.State):
    """Whether the navigation is unfolded on a narrow screen."""

    menu_open: bool = False

    @rx.event
    def toggle_menu(self) -> None:
        self.menu_open = not self.menu_open

    @rx.event
    def close_menu(self) -> None:
        self.menu_open = False


def page_title(title: str) -> str:
    """The browser tab title of a page (French: Reflex fixes titles when it compiles; the
    page's `h1` and everything else follow the tab's language)."""
    return f"{title} · {PRODUCT_NAME}"


def _nav_link(item: NavItem, current_route: str) -> rx.Component:
    active = item.route == current_route
    return rx.el.li(
        rx.link(
            t(item.label),
            href=item.route,
            underline="none",
            weight="bold" if active else "regular",
            high_contrast=active,
            padding_y="0.25em",
            display="inline-block",
            border_bottom="2px solid " + ("var(--accent-9)" if active else "transparent"),
            on_click=MenuState.close_menu,
            **({"aria_current": "page"} if active else {}),
        ),
        list_style="none",
    )


def _in_space_link(item: NavItem, current_route: str) -> rx.Component:
    """A patient's link, hidden in someone else's space unless its part was given there (the
    page itself, opened by its address, says it is not part of what was given)."""
    shown = SessionState.space_id == ""
    if item.part:
        shown = shown | SessionState.space_parts.contains(item.part)
    return rx.cond(shown, _nav_link(item, current_route))


def _nav_links(items: tuple[NavItem, ...], current_route: str, *, spaces: bool = False,
               **props: str) -> rx.Component:
    link = _in_space_link if spaces else _nav_link
    return rx.el.ul(
        *(link(item, current_route) for item in items),
        style={
            "display": "flex", "flex_wrap": "wrap", "gap": "0.5em 1.5em", "margin": "0",
            "padding": "0",
            NARROW: {"flex_direction": "column", "gap": "0.75em"},
        },
        **props,
    )


def navigation(current_route: str) -> rx.Component:
    """The professional's items to a professional, the patient's to everyone else (in someone
    else's space: only the pages of the parts given). Below 640 px it shows only when the menu
    button has unfolded it."""
    return rx.el.nav(
        rx.cond(
            SessionState.is_professional,
            _nav_links(PROFESSIONAL_NAV_ITEMS, current_route, id="nav-professional"),
            _nav_links(NAV_ITEMS, current_route, spaces=True, id="nav-patient"),
        ),
        id=NAV_ID,
        aria_label=t("Navigation principale"),
        style={
            "margin_top": "0.75em",
            NARROW: {"display": rx.cond(MenuState.menu_open, "block", "none")},
        },
    )


def menu_button() -> rx.Component:
    """Below 640 px: unfolds and folds the navigation."""
    return rx.button(
        rx.icon(rx.cond(MenuState.menu_open, "x", "menu"), aria_hidden="true"),
        t("Menu"),
        on_click=MenuState.toggle_menu,
        variant="soft",
        size="2",
        aria_expanded=rx.cond(MenuState.menu_open, "true", "false"),
        aria_controls=NAV_ID,
        id="menu-button",
        style={WIDE: {"display": "none"}},
    )


def language_switch() -> rx.Component:
    """Offers the other language, named in that language (and marked so, for screen readers)."""
    return rx.cond(
        LanguageState.language == "en",
        rx.button(LANGUAGE_NAMES["fr"], lang="fr", on_click=LanguageState.set_language("fr"),
                  variant="ghost", size="2", id="language-switch"),
        rx.button(LANGUAGE_NAMES["en"], lang="en", on_click=LanguageState.set_language("en"),
                  variant="ghost", size="2", id="language-switch"),
    )


def _account_link(label: str, route: str, current_route: str) -> rx.Component:
    here = route == current_route
    return rx.link(t(label), href=route, size="2", weight="bold" if here else "regular",
                   **({"aria_current": "page"} if here else {}))


def account_menu(current_route: str) -> rx.Component:
    """Who is signed in in this tab, with "Mon compte", "Mes sessions" and "Se déconnecter";
    or "Se connecter"."""
    return rx.box(
        rx.cond(
            SessionState.signed_in,
            rx.flex(
                rx.text(
                    t("Connecté"),
                    rx.cond(
                        SessionState.account_identifier != "",
                        rx.fragment(t(" : "), rx.text.strong(SessionState.account_identifier)),
                    ),
                    size="2",
                    id="signed-in-as",
                ),
                _account_link(N_("Mon compte"), ACCOUNT_ROUTE, current_route),
                _account_link(N_("Mes sessions"), SESSIONS_ROUTE, current_route),
                rx.button(
                    t("Se déconnecter"),
                    on_click=SessionState.logout,
                    variant="soft",
                    size="1",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            rx.link(t("Se connecter"), href=LOGIN_ROUTE, size="2", weight="bold"),
        ),
        aria_label=t("Mon compte"),
        role="group",
    )


def _space_option(item: SpaceItem) -> rx.Component:
    return rx.el.option(
        rx.cond(item.child, tf("{name} (enfant que je représente)", name=item.name),
                item.name),
        value=item.id,
    )


def space_switch() -> rx.Component:
    """Patients who may help with someone's space (a carer, a parent): "Mon espace" or theirs,
    then "Ouvrir" (choosing alone never leaves the page). The list is read when the header
    appears (once per session); the switcher shows only when it is not empty."""
    return rx.box(
        rx.cond(
            SpaceState.spaces.length() > 0,
            rx.flex(
                rx.el.label(t("Espace"), html_for=SWITCH_ID, font_size="var(--font-size-2)"),
                rx.el.select(
                    rx.el.option(t("Mon espace"), value=""),
                    rx.foreach(SpaceState.spaces, _space_option),
                    id=SWITCH_ID,
                    value=SpaceState.space_choice,
                    on_change=SpaceState.choose_space,
                    style={
                        "max_width": "14em", "min_height": "var(--space-6)",
                        "padding": "0 var(--space-2)", "border": "1px solid var(--gray-a8)",
                        "border_radius": "var(--radius-2)",
                        "background": "var(--color-surface)", "color": "var(--gray-12)",
                        "font_size": "var(--font-size-2)",
                    },
                ),
                rx.button(t("Ouvrir"), on_click=SpaceState.open_chosen, variant="soft",
                          size="1", id="space-open",
                          aria_label=t("Ouvrir l'espace choisi")),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
        ),
        on_mount=SpaceState.load_spaces,
    )


def space_banner() -> rx.Component:
    """While the tab acts in someone else's space: whose, and the way back."""
    return rx.cond(
        SessionState.space_id != "",
        rx.box(
            rx.callout.root(
                rx.callout.icon(rx.icon("users", aria_hidden="true")),
                rx.callout.text(
                    rx.cond(
                        SessionState.space_child,
                        tf("Vous êtes dans l'espace de {name}, enfant que vous représentez.",
                           name=SessionState.space_name),
                        tf("Vous êtes dans l'espace de {name}, en tant qu'aidant.",
                           name=SessionState.space_name),
                    ),
                    id="space-banner-text",
                ),
                rx.button(t("Revenir à mon espace"), on_click=SpaceState.back_to_mine,
                          variant="soft", size="2", margin_top="0.5em", id="space-back"),
                color_scheme="amber",
                width="100%",
            ),
            id="space-banner",
            role="region",
            aria_label=t("Espace affiché"),
            padding_x="1.5em",
            padding_top="1em",
            style={NARROW: {"padding_x": "1em"}},
        ),
    )


def skip_link() -> rx.Component:
    """The first thing a keyboard reaches: straight to the page's content."""
    return rx.el.a(
        t("Aller au contenu"),
        href=f"#{MAIN_ID}",
        # Following a fragment does not move focus in every browser: move it ourselves.
        on_click=rx.call_script(f"document.getElementById('{MAIN_ID}').focus()"),
        class_name="carnet-skip-link",
        style={
            "position": "absolute", "left": "-10000px", "top": "0.5em", "z_index": "100",
            "padding": "0.5em 1em", "background": "var(--color-background)",
            "color": "var(--accent-11)", "border": "2px solid var(--accent-9)",
            "border_radius": "var(--radius-2)",
            "&:focus": {"left": "0.5em"},
        },
    )


def header(current_route: str) -> rx.Component:
    return rx.el.header(
        rx.flex(
            rx.link(
                rx.text(PRODUCT_NAME, size="6", weight="bold"),
                href=HOME_ROUTE,
                underline="none",
                high_contrast=True,
            ),
            rx.flex(
                language_switch(),
                rx.cond(SessionState.signed_in & ~SessionState.is_professional,
                        space_switch()),
                account_menu(current_route),
                menu_button(),
                spacing="4",
                align="center",
                wrap="wrap",
            ),
            justify="between",
            align="center",
            gap="0.75em",
            wrap="wrap",
        ),
        navigation(current_route),
        padding_x="1.5em",
        padding_y="1em",
        border_bottom="1px solid var(--gray-a5)",
        style={NARROW: {"padding_x": "1em"}},
    )


def layout(*children: rx.Component, current_route: str, title: str = "") -> rx.Component:
    """Wrap a page's content in the app shell; `current_route` marks its navigation entry;
    `title` (French, marked with N_) is the tab's title, shown in the tab's language."""
    return rx.box(
        skip_link(),
        header(current_route),
        space_banner(),
        rx.el.main(
            rx.container(*children, size="3", padding_y="2em",
                         style={NARROW: {"padding_x": "1em"}}),
            id=MAIN_ID,
            tab_index=-1,
            style={"outline": "none"},
        ),
        min_height="100vh",
        on_mount=LanguageState.apply_document_language(title),
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
