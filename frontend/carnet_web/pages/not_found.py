"""The page for an address Carnet does not have: inside the layout, in the tab's language, with
the way back."""

from __future__ import annotations

import reflex as rx
from reflex import constants

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import page_body, page_header
from carnet_web.i18n import N_, t
from carnet_web.routes import HOME_ROUTE

TITLE = N_("Page introuvable")


@rx.page(route=constants.Page404.SLUG, title=page_title(TITLE))
def not_found() -> rx.Component:
    return layout(
        page_body(
            page_header(
                t(TITLE),
                t("Cette adresse ne correspond à aucune page de Carnet. Elle a peut-être été "
                  "mal saisie, ou la page a été déplacée."),
            ),
            rx.link(t("Revenir à l'accueil"), href=HOME_ROUTE, weight="bold"),
        ),
        current_route="",
        title=TITLE,
    )
