"""Mon profil médical: not built yet, clearly labelled "Bientôt disponible"."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import coming_soon, layout, page_title

ROUTE = "/profil"


@rx.page(route=ROUTE, title=page_title("Mon profil médical"))
def profile() -> rx.Component:
    return layout(
        coming_soon(
            "Mon profil médical",
            "Vos antécédents, traitements, allergies et vaccinations, tenus à jour par vous "
            "et vos soignants.",
        ),
        current_route=ROUTE,
    )
