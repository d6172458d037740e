"""Mot de passe oublié: my identifier, then the code received with a new password, then done
(every session ended; sign in again). The same screens whether or not the identifier names an
account. Fields are uncontrolled, read on submit: nothing typed sits in the page state."""

from __future__ import annotations

from typing import Any, Final

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import error_callout, form_field, page_header, success_callout
from carnet_web.i18n import N_, t, tf
from carnet_web.pages.login import channel_choice
from carnet_web.state.account import MIN_PASSWORD
from carnet_web.state.forgot_password import CODE, DONE, ROUTE, ForgotPasswordState
from carnet_web.state.session import LOGIN_ROUTE

TITLE: Final = N_("Mot de passe oublié")
FORM_WIDTH: Final = "28em"


def _messages() -> rx.Component:
    return rx.fragment(
        error_callout(ForgotPasswordState.error, id="reset-error"),
        success_callout(ForgotPasswordState.info, id="reset-info"),
    )


def _identifier_step() -> rx.Component:
    return rx.vstack(
        page_header(
            t("Mot de passe oublié"),
            t("Saisissez votre identifiant : nous enverrons un code à l'adresse e-mail ou au "
              "numéro de téléphone vérifiés de votre compte, pour choisir un nouveau mot de "
              "passe."),
        ),
        _messages(),
        rx.form(
            rx.vstack(
                form_field(
                    t("Identifiant"),
                    rx.input(id="reset-identifier", name="identifier", type="text",
                             auto_complete="username", required=True, max_length=254,
                             size="3", width="100%", auto_focus=True,
                             custom_attrs={"autoCapitalize": "none", "spellCheck": "false"}),
                    id="reset-identifier",
                    hint=t("Souvent votre adresse e-mail."),
                ),
                channel_choice(ForgotPasswordState.channel, ForgotPasswordState.set_channel),
                rx.button(t("Recevoir un code"), type="submit", size="3",
                          loading=ForgotPasswordState.busy,
                          disabled=~ForgotPasswordState.is_hydrated, id="reset-request"),
                spacing="4",
                width="100%",
            ),
            on_submit=ForgotPasswordState.request_code,
            reset_on_submit=False,
            aria_label=t("Mot de passe oublié"),
            width="100%",
        ),
        rx.link(t("Revenir à la connexion"), href=LOGIN_ROUTE, size="2"),
        spacing="5",
        width="100%",
    )


def _password_input(id: str, label: Any, name: str, hint: Any | None = None) -> rx.Component:
    return form_field(
        label,
        rx.input(id=id, name=name, type="password", auto_complete="new-password",
                 required=True, min_length=MIN_PASSWORD, max_length=256, size="3",
                 width="100%", key=ForgotPasswordState.field_key.to_string(),
                 **({"aria_describedby": f"{id}-hint"} if hint is not None else {})),
        id=id,
        hint=hint,
    )


def _code_step() -> rx.Component:
    return rx.vstack(
        page_header(t("Choisissez un nouveau mot de passe")),
        rx.text(
            t("Si un compte Carnet correspond à cet identifiant, un code à 6 chiffres vient "
              "d'être envoyé à son adresse e-mail ou à son numéro de téléphone vérifiés."),
            " ",
            ForgotPasswordState.validity,
            id="reset-sent",
        ),
        _messages(),
        rx.form(
            rx.vstack(
                form_field(
                    t("Code à 6 chiffres"),
                    rx.input(id="reset-code", name="code", type="text",
                             auto_complete="one-time-code", required=True, size="3",
                             width="10em", max_length=12, auto_focus=True,
                             key=ForgotPasswordState.field_key.to_string(),
                             custom_attrs={"inputMode": "numeric", "enterKeyHint": "next"}),
                    id="reset-code",
                ),
                _password_input("reset-new-password", t("Nouveau mot de passe"), "new_password",
                                hint=tf("Au moins {n} caractères variés, sans votre "
                                        "identifiant.", n=MIN_PASSWORD)),
                _password_input("reset-confirm-password", t("Confirmez le nouveau mot de passe"),
                                "confirm_password"),
                rx.button(t("Changer le mot de passe"), type="submit", size="3",
                          loading=ForgotPasswordState.busy,
                          disabled=~ForgotPasswordState.is_hydrated, id="reset-confirm"),
                spacing="4",
                width="100%",
            ),
            on_submit=ForgotPasswordState.confirm,
            reset_on_submit=False,
            aria_label=t("Choisissez un nouveau mot de passe"),
            width="100%",
        ),
        rx.flex(
            rx.button(t("Recevoir un nouveau code"), on_click=ForgotPasswordState.resend,
                      disabled=ForgotPasswordState.busy, variant="soft", size="2",
                      id="reset-resend"),
            rx.button(t("Recommencer"), on_click=ForgotPasswordState.start_over,
                      variant="ghost", size="2", id="reset-start-over"),
            spacing="4",
            align="center",
            wrap="wrap",
        ),
        spacing="5",
        width="100%",
    )


def _done_step() -> rx.Component:
    return rx.vstack(
        page_header(t("Mot de passe changé")),
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check", aria_hidden="true")),
            rx.callout.text(t("Votre nouveau mot de passe est enregistré.")),
            color_scheme="green",
            role="status",
            id="reset-done",
            tab_index=-1,  # focused when the reset is done (the form it replaces is gone)
            width="100%",
        ),
        rx.text(t("Par sécurité, toutes les sessions ouvertes sur votre compte ont été "
                  "fermées, sur tous vos appareils : il faut maintenant vous reconnecter avec "
                  "le nouveau mot de passe. Un message vous prévient de ce changement."),
                id="reset-sessions-ended"),
        rx.text(t("Si vous n'êtes pas à l'origine de cette demande, changez à nouveau votre "
                  "mot de passe et vérifiez vos coordonnées dans « Mon compte »."),
                color_scheme="gray", size="2"),
        rx.link(t("Se connecter"), href=LOGIN_ROUTE, size="3", weight="bold",
                id="reset-sign-in"),
        spacing="4",
        width="100%",
    )


def _content() -> rx.Component:
    return rx.box(
        rx.match(
            ForgotPasswordState.step,
            (CODE, _code_step()),
            (DONE, _done_step()),
            _identifier_step(),
        ),
        max_width=FORM_WIDTH,
        width="100%",
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=ForgotPasswordState.open_page)
def forgot_password() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
