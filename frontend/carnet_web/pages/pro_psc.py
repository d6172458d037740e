"""Connexion avec Pro Santé Connect, last step (/connexion/psc, the path of PSC_POST_LOGIN_URL):
the page the API's callback sends the browser to, with a one-time ticket."""

from __future__ import annotations

from typing import Final

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import error_callout, loading_state, page_header
from carnet_web.i18n import N_, t
from carnet_web.state.pro_psc import PSC_LANDING_ROUTE, PscLandingState
from carnet_web.state.session import LOGIN_ROUTE

TITLE: Final = N_("Connexion avec Pro Santé Connect")


def _content() -> rx.Component:
    return rx.vstack(
        page_header(t(TITLE)),
        rx.cond(
            PscLandingState.error != "",
            rx.vstack(
                error_callout(PscLandingState.error, id="psc-error"),
                rx.link(t("Revenir à la page de connexion"), href=LOGIN_ROUTE),
                spacing="3",
                align="start",
                width="100%",
            ),
            rx.cond(
                PscLandingState.busy,
                rx.box(loading_state(t("Connexion en cours…")), id="psc-busy"),
            ),
        ),
        spacing="4",
        max_width="28em",
        width="100%",
    )


@rx.page(route=PSC_LANDING_ROUTE, title=page_title(TITLE), on_load=PscLandingState.exchange)
def psc_landing() -> rx.Component:
    return layout(_content(), current_route=PSC_LANDING_ROUTE, title=TITLE)
