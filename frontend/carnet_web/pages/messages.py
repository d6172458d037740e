"""Messagerie: not built yet, clearly labelled "Bientôt disponible"."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import coming_soon, layout, page_title

ROUTE = "/messagerie"


@rx.page(route=ROUTE, title=page_title("Messagerie"))
def messages() -> rx.Component:
    return layout(
        coming_soon(
            "Messagerie",
            "Une messagerie sécurisée pour échanger avec vos soignants.",
        ),
        current_route=ROUTE,
    )
