"""Mes documents: not built yet, clearly labelled "Bientôt disponible"."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import coming_soon, layout, page_title

ROUTE = "/documents"


@rx.page(route=ROUTE, title=page_title("Mes documents"))
def documents() -> rx.Component:
    return layout(
        coming_soon(
            "Mes documents",
            "Vos comptes rendus, ordonnances et résultats d'examens, rangés et partageables "
            "avec les soignants de votre choix.",
        ),
        current_route=ROUTE,
    )
