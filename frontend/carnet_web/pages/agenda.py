"""Agenda: not built yet, clearly labelled "Bientôt disponible"."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import coming_soon, layout, page_title
from carnet_web.routes import AGENDA_ROUTE as ROUTE  # noqa: E402,F401  (re-exported)


@rx.page(route=ROUTE, title=page_title("Agenda"))
def agenda() -> rx.Component:
    return layout(
        coming_soon(
            "Agenda",
            "Vos rendez-vous et rappels.",
        ),
        current_route=ROUTE,
    )
