"""Agenda: not built yet, clearly labelled "Bientôt disponible"."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import coming_soon, layout, page_title
from carnet_web.i18n import N_, t
from carnet_web.routes import AGENDA_ROUTE as ROUTE

TITLE = N_("Agenda")


@rx.page(route=ROUTE, title=page_title(TITLE))
def agenda() -> rx.Component:
    return layout(
        coming_soon(t(TITLE), t("Vos rendez-vous et rappels.")),
        current_route=ROUTE,
        title=TITLE,
    )
