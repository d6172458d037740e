"""Accueil. Signed in: a greeting, new documents, unread messages, the latest measurements with
a small trend, room for the next appointments, announcements — from one API request. Signed
out: what Carnet is, how to sign in, and the announcements.

Texts from the API (titles, announcement bodies) are shown as plain text (rx.text), never
through rx.html or rx.markdown, which would render HTML coming from the API.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import error_callout, loading_state, page_body
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import (
    AGENDA_ROUTE,
    DOCUMENTS_ROUTE,
    HOME_ROUTE,
    LOGIN_ROUTE,
    MESSAGING_ROUTE,
    PROFILE_ROUTE,
)
from carnet_web.routes import HOME_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.home import (
    SPARK_HEIGHT,
    SPARK_WIDTH,
    AnnouncementItem,
    DocumentItem,
    HomeState,
    TrendItem,
)
from carnet_web.state.session import SessionState

TITLE = N_("Accueil")


def _card(title: str, id: str, *children: rx.Component) -> rx.Component:
    """A block of the home screen: an `h2` and what it says, labelled by its title."""
    return rx.card(
        rx.vstack(
            rx.heading(t(title), as_="h2", size="4", id=f"{id}-title"),
            *children,
            spacing="3",
            width="100%",
        ),
        as_child=False,
        id=id,
        role="region",
        aria_labelledby=f"{id}-title",
        width="100%",
    )


def _document(item: DocumentItem) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.text(item.title, weight="medium"),
            rx.cond(item.is_new, rx.badge(t("Nouveau"), color_scheme="indigo")),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.text(
            rx.cond(item.type_label != "", rx.fragment(item.type_label, " · ")),
            item.date,
            size="2",
            color_scheme="gray",
        ),
        list_style="none",
        class_name="home-document",
    )


def _documents() -> rx.Component:
    return _card(
        N_("Mes documents"), "home-documents",
        rx.text(HomeState.new_documents_label, weight="bold", id="home-new-documents"),
        rx.cond(
            HomeState.documents.length() > 0,
            rx.el.ul(rx.foreach(HomeState.documents, _document), padding="0", margin="0",
                     display="flex", flex_direction="column", gap="0.5em"),
            rx.text(t("Votre dossier ne contient pas encore de document."),
                    color_scheme="gray"),
        ),
        rx.link(t("Voir tous mes documents"), href=DOCUMENTS_ROUTE, weight="bold"),
    )


def _messages() -> rx.Component:
    return _card(
        N_("Messagerie"), "home-messages",
        rx.text(HomeState.unread_label, weight="bold", id="home-unread"),
        rx.link(t("Ouvrir la messagerie"), href=MESSAGING_ROUTE, weight="bold"),
    )


def _trend(item: TrendItem) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.vstack(
                rx.text(item.label, weight="medium"),
                rx.text(item.value, size="5", weight="bold", class_name="home-trend-value"),
                rx.text(
                    item.measured_on,
                    rx.cond(item.change != "", rx.fragment(" · ", item.change)),
                    size="2", color_scheme="gray",
                ),
                spacing="0",
            ),
            rx.cond(
                item.points != "",
                rx.el.svg(
                    rx.el.svg.title(item.summary),
                    rx.el.svg.polyline(points=item.points, fill="none",
                                       stroke="var(--accent-11)", stroke_width="2",
                                       stroke_linejoin="round", stroke_linecap="round"),
                    view_box=f"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}",
                    width=f"{SPARK_WIDTH}px",
                    height=f"{SPARK_HEIGHT}px",
                    role="img",
                    aria_label=item.summary,
                    class_name="home-sparkline",
                ),
            ),
            justify="between",
            align="center",
            gap="1em",
            wrap="wrap",
        ),
        list_style="none",
        class_name="home-trend",
    )


def _measurements() -> rx.Component:
    return _card(
        N_("Mes dernières mesures"), "home-measurements",
        rx.cond(
            HomeState.trends.length() > 0,
            rx.el.ul(rx.foreach(HomeState.trends, _trend), padding="0", margin="0",
                     display="flex", flex_direction="column", gap="0.75em"),
            rx.text(t("Aucune mesure enregistrée pour l'instant."), color_scheme="gray"),
        ),
        rx.link(t("Voir mon profil médical"), href=PROFILE_ROUTE, weight="bold"),
    )


def _appointments() -> rx.Component:
    return _card(
        N_("Mes prochains rendez-vous"), "home-appointments",
        rx.text(t("Vos rendez-vous apparaîtront ici dès que l'agenda sera disponible."),
                color_scheme="gray"),
        rx.link(t("Agenda"), href=AGENDA_ROUTE),
    )


def _announcement(item: AnnouncementItem) -> rx.Component:
    return rx.el.li(
        rx.heading(item.title, as_="h3", size="3"),
        rx.text(item.published_on, size="1", color_scheme="gray"),
        rx.text(item.body, white_space="pre-wrap"),
        list_style="none",
    )


def _announcements() -> rx.Component:
    return _card(
        N_("Annonces"), "home-announcements",
        rx.cond(
            HomeState.announcements.length() > 0,
            rx.el.ul(rx.foreach(HomeState.announcements, _announcement), padding="0",
                     margin="0", display="flex", flex_direction="column", gap="1em"),
            rx.text(t("Aucune annonce pour le moment."), color_scheme="gray"),
        ),
    )


def _signed_in() -> rx.Component:
    return page_body(
        rx.grid(
            _documents(),
            _messages(),
            _measurements(),
            _appointments(),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        _announcements(),
    )


def _signed_out() -> rx.Component:
    return page_body(
        rx.vstack(
            rx.text(
                t("Un seul endroit sûr pour votre dossier médical et pour échanger avec les "
                  "professionnels qui vous soignent : vos documents, votre profil médical, une "
                  "messagerie sécurisée. Vous décidez de qui voit quoi, et vous voyez chaque "
                  "accès."),
                size="4",
            ),
            rx.flex(
                rx.button(rx.el.a(t("Se connecter"), href=LOGIN_ROUTE), as_child=True,
                          size="3"),
                spacing="3",
                wrap="wrap",
            ),
            rx.text(
                t("Vous n'avez pas encore d'identifiant ? Votre compte est créé pour vous par "
                  "l'Assurance Maladie ; l'activation avec votre numéro de sécurité sociale et "
                  "le code provisoire reçu par courrier arrive bientôt."),
                color_scheme="gray",
            ),
            spacing="4",
            width="100%",
        ),
        _announcements(),
    )


def _heading() -> rx.Component:
    return rx.heading(
        rx.cond(
            SessionState.signed_in,
            rx.cond(HomeState.greeting_name != "",
                    tf("Bonjour {name}", name=HomeState.greeting_name), t("Bonjour")),
            t("Carnet, votre espace santé"),
        ),
        as_="h1", size="8",
    )


def _content() -> rx.Component:
    return page_body(
        _heading(),
        error_callout(HomeState.error, retry=HomeState.load, id="home-error"),
        rx.cond(
            HomeState.loading,
            rx.box(loading_state(), id="home-loading"),
            rx.cond(SessionState.signed_in, _signed_in(), _signed_out()),
        ),
    )


@rx.page(route=HOME_ROUTE, title=page_title(TITLE), on_load=HomeState.load)
def home() -> rx.Component:
    return layout(_content(), current_route=HOME_ROUTE, title=TITLE)
