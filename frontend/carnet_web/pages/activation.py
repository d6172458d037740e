"""Activer ou refuser mon espace (/activation): the public page a campaign notice (email or
letter) names. With the notice's code, the NIR and the birth date: activate early (identifier,
password, contact), or refuse the space. The same answer for every miss. Fields are
uncontrolled, read on submit: nothing typed sits in the page state."""

from __future__ import annotations

from typing import Any, Final

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import error_callout, form_field, page_header
from carnet_web.i18n import N_, t, tf
from carnet_web.state.account import MIN_PASSWORD
from carnet_web.state.activation import (
    ACTIVATE,
    ACTIVATED,
    REFUSE,
    REFUSED,
    ROUTE,
    ActivationState,
)
from carnet_web.state.session import LOGIN_ROUTE

TITLE: Final = N_("Activer ou refuser mon espace")
FORM_WIDTH: Final = "32em"


def _text_input(id: str, label: Any, name: str, *, hint: Any | None = None,
                **props: Any) -> rx.Component:
    return form_field(
        label,
        rx.input(id=id, name=name, size="3", width="100%",
                 **({"aria_describedby": f"{id}-hint"} if hint is not None else {}), **props),
        id=id,
        hint=hint,
    )


def _notice_fields() -> rx.Component:
    return rx.fragment(
        _text_input("activation-nir", t("Numéro de sécurité sociale"), "nir", required=True,
                    max_length=21, auto_complete="off",
                    hint=t("Les 15 chiffres de votre carte Vitale (avec la clé)."),
                    custom_attrs={"inputMode": "numeric"}),
        _text_input("activation-birth-date", t("Date de naissance"), "birth_date",
                    type="date", required=True),
        _text_input("activation-code", t("Code reçu"), "code", required=True, max_length=20,
                    auto_complete="one-time-code",
                    hint=t("Le code de votre courrier ou de votre e-mail, par exemple "
                           "7KQ3-M9XD-2FHT."),
                    custom_attrs={"autoCapitalize": "characters", "spellCheck": "false"}),
    )


def _password(id: str, label: Any, name: str, hint: Any | None = None) -> rx.Component:
    return _text_input(id, label, name, hint=hint, type="password", required=True,
                       auto_complete="new-password", min_length=MIN_PASSWORD, max_length=256,
                       key=ActivationState.field_key.to_string())


def _activate_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _notice_fields(),
            rx.heading(t("Vos choix"), as_="h2", size="4"),
            _text_input("activation-email", t("Adresse e-mail"), "email", type="email",
                        auto_complete="email", max_length=254,
                        hint=t("Vos codes de connexion y seront envoyés (ou au téléphone).")),
            _text_input("activation-phone", t("Téléphone portable (facultatif)"), "phone",
                        type="tel", auto_complete="tel", max_length=20),
            _text_input("activation-identifier", t("Identifiant (facultatif)"), "identifier",
                        auto_complete="username", max_length=254,
                        hint=t("Par défaut, votre adresse e-mail."),
                        custom_attrs={"autoCapitalize": "none", "spellCheck": "false"}),
            _password("activation-password", t("Mot de passe"), "password",
                      hint=tf("Au moins {n} caractères variés, sans votre identifiant.",
                              n=MIN_PASSWORD)),
            _password("activation-confirm", t("Confirmez le mot de passe"), "confirm_password"),
            rx.button(t("Activer mon espace"), type="submit", size="3",
                      loading=ActivationState.busy, disabled=~ActivationState.is_hydrated,
                      id="activation-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=ActivationState.activate,
        reset_on_submit=False,
        aria_label=t("Activer mon espace"),
        width="100%",
    )


def _refuse_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(t("Votre espace ne sera pas créé. Vous pourrez changer d'avis plus tard en "
                      "l'activant avec le même code.")),
            _notice_fields(),
            rx.button(t("Refuser la création de mon espace"), type="submit", size="3",
                      color_scheme="red", loading=ActivationState.busy,
                      disabled=~ActivationState.is_hydrated, id="activation-refuse"),
            spacing="4",
            width="100%",
        ),
        on_submit=ActivationState.refuse,
        reset_on_submit=False,
        aria_label=t("Refuser la création de mon espace"),
        width="100%",
    )


def _forms() -> rx.Component:
    return rx.vstack(
        page_header(t("Activer ou refuser mon espace"),
                    t("Vous avez reçu un courrier ou un e-mail annonçant la création de votre "
                      "espace Carnet. Avec le code qu'il contient, vous pouvez l'activer dès "
                      "maintenant, ou refuser sa création.")),
        rx.radio_group.root(
            rx.flex(
                rx.radio_group.item(value=ACTIVATE, id="activation-mode-activate"),
                rx.el.label(t("Activer mon espace"), html_for="activation-mode-activate"),
                rx.radio_group.item(value=REFUSE, id="activation-mode-refuse"),
                rx.el.label(t("Refuser sa création"), html_for="activation-mode-refuse"),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            value=ActivationState.mode,
            on_change=ActivationState.set_mode,
            aria_label=t("Que souhaitez-vous faire ?"),
            id="activation-mode",
        ),
        error_callout(ActivationState.error, id="activation-error"),
        rx.cond(ActivationState.mode == REFUSE, _refuse_form(), _activate_form()),
        spacing="5",
        width="100%",
    )


def _done(text: Any, more: rx.Component) -> rx.Component:
    return rx.vstack(
        page_header(t("C'est fait")),
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check", aria_hidden="true")),
            rx.callout.text(text),
            color_scheme="green",
            role="status",
            id="activation-done",
            tab_index=-1,
            width="100%",
        ),
        more,
        spacing="4",
        width="100%",
    )


def _content() -> rx.Component:
    return rx.box(
        rx.match(
            ActivationState.step,
            (ACTIVATED, _done(
                t("Votre espace est activé."),
                rx.vstack(
                    rx.text(t("Connectez-vous avec votre identifiant et votre mot de passe ; "
                              "un code vous sera envoyé à chaque connexion.")),
                    rx.text(t("Votre identifiant : "),
                            rx.el.strong(ActivationState.identifier),
                            id="activation-identifier-shown"),
                    rx.link(t("Se connecter"), href=LOGIN_ROUTE, size="3", weight="bold",
                            id="activation-sign-in"),
                    spacing="3",
                ))),
            (REFUSED, _done(
                t("Votre refus est enregistré : votre espace ne sera pas créé."),
                rx.text(t("Vous pourrez toujours l'activer plus tard avec le même code, sur "
                          "cette page.")))),
            _forms(),
        ),
        max_width=FORM_WIDTH,
        width="100%",
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=ActivationState.open_page)
def activation() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
