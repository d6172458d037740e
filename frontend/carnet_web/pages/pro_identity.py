"""Espace professionnel: "Déclarer une relation de soins" (/pro/declarer) and "Accès d'urgence"
(/pro/urgence). Both name the patient by the INS identity traits; the forms are uncontrolled
inputs read on submit (after a mismatch they keep what was typed, to correct a trait)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.i18n import N_, t
from carnet_web.state.pro_common import PRO_DECLARE_ROUTE, PRO_EMERGENCY_ROUTE
from carnet_web.state.pro_identity import (
    MAX_REASON,
    REASON_FIELD_ID,
    ProDeclareState,
    ProEmergencyState,
    open_record_id,
)

DECLARE_TITLE = N_("Déclarer une relation de soins")
EMERGENCY_TITLE = N_("Accès d'urgence")


def _field(name: str, label: Any, control: rx.Component, hint: Any = None) -> rx.Component:
    field_id = f"traits-{name}"
    return rx.vstack(
        rx.el.label(rx.text(label, as_="span", size="2", weight="medium"), html_for=field_id),
        rx.text(hint, size="1", color_scheme="gray", id=f"{field_id}-hint")
        if hint is not None else rx.fragment(),
        control,
        spacing="1",
        width="100%",
    )


def _input(state: Any, name: str, **props: Any) -> rx.Component:
    field_id = f"traits-{name}"
    return rx.input(
        id=field_id,
        name=name,
        size="3",
        required=True,
        aria_invalid=rx.cond(state.error_field == name, "true", "false"),
        **{"width": "100%", **props},
    )


def _traits(state: Any) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(rx.text(t("Identité du patient (traits INS)"), as_="span", weight="bold")),
        rx.vstack(
            _field("insMatricule", t("Matricule INS"),
                   _input(state, "insMatricule", type="text", max_length=21,
                          auto_complete="off", aria_describedby="traits-insMatricule-hint",
                          custom_attrs={"inputMode": "text", "spellCheck": "false",
                                        "autoCapitalize": "characters"}),
                   hint=t("15 caractères : numéro de sécurité sociale et clé.")),
            _field("birthName", t("Nom de naissance"),
                   _input(state, "birthName", type="text", max_length=100,
                          auto_complete="off", custom_attrs={"spellCheck": "false"})),
            _field("birthDate", t("Date de naissance"),
                   _input(state, "birthDate", type="date", width="12em")),
            spacing="3",
            width="100%",
        ),
        border="none",
        padding="0",
        margin="0",
        width="100%",
    )


def _messages(state: Any, prefix: str) -> rx.Component:
    return rx.box(
        rx.cond(
            state.error != "",
            rx.callout(state.error, icon="triangle_alert", color_scheme="red", role="alert",
                       id=f"{prefix}-error"),
        ),
        rx.cond(
            state.info != "",
            rx.vstack(
                rx.callout(state.info, icon="circle_check", color_scheme="green",
                           role="status", id=f"{prefix}-info"),
                rx.cond(state.record_href != "",
                        rx.button(rx.el.a(t("Ouvrir le dossier"), href=state.record_href,
                                          id=open_record_id(prefix)),
                                  as_child=True)),
                spacing="2",
                align="start",
            ),
        ),
        aria_live="polite",
        width="100%",
    )


def _declare_content() -> rx.Component:
    state = ProDeclareState
    return rx.vstack(
        rx.text(t("Espace professionnel"), size="2", color_scheme="gray", weight="medium"),
        rx.heading(t("Déclarer une relation de soins"), as_="h1", size="7"),
        rx.text(
            t("Vous suivez ce patient : déclarez-le pour consulter son dossier, dans la limite "
            "de ce que votre profession et le patient autorisent. Les trois traits d'identité "
            "doivent correspondre exactement à ceux de la carte Vitale ou de la pièce "
            "d'identité. Le patient est informé de votre déclaration et peut y mettre fin."),
            color_scheme="gray",
        ),
        _messages(state, "declare"),
        rx.form(
            rx.vstack(
                _traits(state),
                rx.button(t("Déclarer la relation de soins"), type="submit", size="3",
                          loading=state.busy, disabled=~state.is_hydrated,
                          id="declare-submit"),
                spacing="4",
                width="100%",
            ),
            on_submit=state.declare,
            reset_on_submit=False,
            aria_label=t(DECLARE_TITLE),
            key=state.form_key.to_string(),
            width="100%",
        ),
        spacing="4",
        max_width="32em",
        width="100%",
    )


@rx.page(route=PRO_DECLARE_ROUTE, title=page_title(DECLARE_TITLE),
         on_load=ProDeclareState.open)
def pro_declare() -> rx.Component:
    return layout(_declare_content(), current_route=PRO_DECLARE_ROUTE, title=DECLARE_TITLE)


def _emergency_content() -> rx.Component:
    state = ProEmergencyState
    return rx.vstack(
        rx.text(t("Espace professionnel"), size="2", color_scheme="gray", weight="medium"),
        rx.heading(t("Accès d'urgence"), as_="h1", size="7"),
        rx.callout(
            rx.text(
                rx.text.strong(t("Réservé aux situations d'urgence. ")),
                t("Le patient est prévenu immédiatement de cet accès. Votre identité, l'heure "
                "et le motif sont enregistrés et figurent dans l'historique des accès du "
                "patient. L'accès prend fin automatiquement après un délai limité."),
            ),
            icon="shield_alert",
            color_scheme="amber",
            id="emergency-warning",
        ),
        rx.text(
            t("Accès ouvert aux médecins urgentistes et aux médecins régulateurs du SAMU, sauf "
            "si le patient l'a refusé."),
            size="2",
            color_scheme="gray",
        ),
        _messages(state, "emergency"),
        rx.form(
            rx.vstack(
                _traits(state),
                rx.vstack(
                    rx.el.label(rx.text(t("Motif de l'accès"), as_="span", size="2",
                                        weight="medium"), html_for="emergency-reason"),
                    rx.text(t("Obligatoire. Le patient pourra le lire."), size="1",
                            color_scheme="gray", id="emergency-reason-hint"),
                    rx.text_area(
                        id=REASON_FIELD_ID,
                        name="reason",
                        required=True,
                        max_length=MAX_REASON,
                        rows="3",
                        width="100%",
                        aria_describedby="emergency-reason-hint",
                        aria_invalid=rx.cond(state.error_field == "reason", "true", "false"),
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.button(t("Ouvrir le dossier en urgence"), type="submit", size="3",
                          color_scheme="red", loading=state.busy,
                          disabled=~state.is_hydrated, id="emergency-submit"),
                spacing="4",
                width="100%",
            ),
            on_submit=state.request_access,
            reset_on_submit=False,
            aria_label=t(EMERGENCY_TITLE),
            key=state.form_key.to_string(),
            width="100%",
        ),
        spacing="4",
        max_width="32em",
        width="100%",
    )


@rx.page(route=PRO_EMERGENCY_ROUTE, title=page_title(EMERGENCY_TITLE),
         on_load=ProEmergencyState.open)
def pro_emergency() -> rx.Component:
    return layout(_emergency_content(), current_route=PRO_EMERGENCY_ROUTE,
                  title=EMERGENCY_TITLE)
