"""Espace professionnel, "Mes patients" (/pro): the patients whose record I may read now.

Names come from identity records: shown as plain text only.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.i18n import N_, t, tf
from carnet_web.state.pro_common import PRO_DECLARE_ROUTE, PRO_EMERGENCY_ROUTE
from carnet_web.state.pro_patients import PatientItem, ProPatientsState
from carnet_web.state.session import PRO_HOME_ROUTE


def _patient(item: PatientItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.link(rx.text(item.name, weight="bold"), href=item.href,
                            class_name="patient-link"),
                    rx.badge(item.ground, color_scheme=rx.cond(item.emergency, "red", "blue")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.text(tf("Né(e) le {date}", date=item.birth_date), size="2"),
                rx.cond(item.expiry != "",
                        rx.text(item.expiry, size="2", color_scheme="gray")),
                spacing="1",
            ),
            width="100%",
        ),
        class_name="patient",
        list_style="none",
    )


def _list() -> rx.Component:
    return rx.cond(
        ProPatientsState.patients.length() > 0,
        rx.el.ul(rx.foreach(ProPatientsState.patients, _patient), id="patients-list",
                 padding="0", margin="0", display="grid", gap="0.75em", width="100%"),
        rx.vstack(
            rx.text(t("Aucun patient pour l'instant."), weight="medium", id="patients-empty"),
            rx.text(
                t("Un patient vous ajoute à son équipe de soins depuis son Carnet, ou vous "
                "déclarez le suivre avec ses traits d'identité INS."),
                color_scheme="gray",
            ),
            spacing="1",
        ),
    )


def _content() -> rx.Component:
    return rx.vstack(
        rx.text(t("Espace professionnel"), size="2", color_scheme="gray", weight="medium"),
        rx.heading(t("Mes patients"), as_="h1", size="7"),
        rx.text(
            t("Les patients dont vous pouvez consulter le dossier, dans la limite de ce que "
            "votre profession et le patient autorisent. Chaque consultation figure dans "
            "l'historique des accès du patient."),
            color_scheme="gray",
        ),
        rx.flex(
            rx.button(rx.el.a(t("Déclarer une relation de soins"), href=PRO_DECLARE_ROUTE),
                      as_child=True, variant="soft"),
            rx.button(rx.el.a(t("Accès d'urgence"), href=PRO_EMERGENCY_ROUTE), as_child=True,
                      variant="soft", color_scheme="red"),
            spacing="3",
            wrap="wrap",
        ),
        rx.box(
            rx.cond(
                ProPatientsState.error != "",
                rx.vstack(
                    rx.callout(ProPatientsState.error, icon="triangle_alert",
                               color_scheme="red", role="alert", id="patients-error"),
                    rx.button(t("Réessayer"), on_click=ProPatientsState.load, variant="soft",
                              size="1"),
                    spacing="2",
                    align="start",
                ),
            ),
            aria_live="polite",
            width="100%",
        ),
        rx.cond(
            ProPatientsState.loading,
            rx.hstack(rx.spinner(), rx.text(t("Chargement…")), id="patients-loading"),
            rx.cond(ProPatientsState.error == "", _list()),
        ),
        spacing="5",
        width="100%",
    )


TITLE = N_("Mes patients")


@rx.page(route=PRO_HOME_ROUTE, title=page_title(TITLE), on_load=ProPatientsState.load)
def pro_patients() -> rx.Component:
    return layout(_content(), current_route=PRO_HOME_ROUTE, title=TITLE)
