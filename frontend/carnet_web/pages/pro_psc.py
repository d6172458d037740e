"""Connexion avec Pro Santé Connect, last step (/connexion/psc, the path of PSC_POST_LOGIN_URL):
the page the API's callback sends the browser to, with a one-time ticket."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.state.pro_psc import PSC_LANDING_ROUTE, PscLandingState
from carnet_web.state.session import LOGIN_ROUTE


def _content() -> rx.Component:
    return rx.vstack(
        rx.heading("Connexion avec Pro Santé Connect", as_="h1", size="7"),
        rx.box(
            rx.cond(
                PscLandingState.error != "",
                rx.vstack(
                    rx.callout(PscLandingState.error, icon="triangle_alert",
                               color_scheme="red", role="alert", id="psc-error"),
                    rx.link("Revenir à la page de connexion", href=LOGIN_ROUTE),
                    spacing="3",
                    align="start",
                ),
                rx.cond(
                    PscLandingState.busy,
                    rx.hstack(rx.spinner(), rx.text("Connexion en cours…"), role="status",
                              id="psc-busy"),
                ),
            ),
            aria_live="polite",
            width="100%",
        ),
        spacing="4",
        max_width="28em",
        width="100%",
    )


@rx.page(route=PSC_LANDING_ROUTE, title=page_title("Connexion avec Pro Santé Connect"),
         on_load=PscLandingState.exchange)
def psc_landing() -> rx.Component:
    return layout(_content(), current_route=PSC_LANDING_ROUTE)
