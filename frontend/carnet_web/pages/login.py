"""Connexion: identifier + password (/connexion), then the one-time code (/connexion/code).

Both forms are uncontrolled inputs read on submit: the password never sits in the page state.
The code field takes the focus on arrival (and again, emptied, after a wrong code).
"""

from __future__ import annotations

from typing import Final

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import error_callout, form_field, page_header, success_callout
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import FORGOT_PASSWORD_ROUTE
from carnet_web.state.login import LoginState
from carnet_web.state.session import CODE_ROUTE, LOGIN_ROUTE

LOGIN_TITLE: Final = N_("Connexion")
CODE_TITLE: Final = N_("Code de connexion")
FORM_WIDTH: Final = "28em"


def _notice() -> rx.Component:
    """Why the tab is here (expired session, signed out...): information, not an error."""
    return rx.cond(
        LoginState.notice != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("info", aria_hidden="true")),
            rx.callout.text(LoginState.notice),
            role="status",
            id="login-notice",
            width="100%",
        ),
    )


def _messages() -> rx.Component:
    return rx.fragment(
        _notice(),
        error_callout(LoginState.error, id="login-error"),
        success_callout(LoginState.info, id="login-info"),
    )


def channel_choice(value: rx.Var, on_change: rx.EventHandler, *, name: str = "channel"
                   ) -> rx.Component:
    """"Recevoir le code par": e-mail or SMS (a fieldset, so the question is read with each
    choice). Shared with the forgotten password page."""
    return rx.el.fieldset(
        rx.el.legend(rx.text(t("Recevoir le code par"), as_="span", size="2", weight="medium")),
        rx.radio_group.root(
            rx.flex(
                rx.radio_group.item(t("E-mail"), value="EMAIL"),
                rx.radio_group.item(t("SMS"), value="SMS"),
                spacing="4",
            ),
            value=value,
            on_change=on_change,
            name=name,
            margin_top="0.25em",
        ),
        border="none",
        padding="0",
        margin="0",
    )


def _login_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            form_field(
                t("Identifiant"),
                rx.input(
                    id="login-identifier",
                    name="identifier",
                    type="text",
                    auto_complete="username",
                    required=True,
                    max_length=254,
                    size="3",
                    width="100%",
                    custom_attrs={"autoCapitalize": "none", "spellCheck": "false"},
                ),
                id="login-identifier",
            ),
            rx.vstack(
                form_field(
                    t("Mot de passe"),
                    rx.input(
                        id="login-password",
                        name="password",
                        type="password",
                        auto_complete="current-password",
                        required=True,
                        max_length=256,
                        size="3",
                        width="100%",
                        # A new key after a failed try: React remounts the field, emptied.
                        key=LoginState.password_field_key.to_string(),
                    ),
                    id="login-password",
                ),
                rx.link(t("Mot de passe oublié ?"), href=FORGOT_PASSWORD_ROUTE, size="2",
                        id="login-forgot"),
                spacing="2",
                width="100%",
            ),
            channel_choice(LoginState.channel, LoginState.set_channel),
            rx.button(
                t("Continuer"),
                type="submit",
                size="3",
                loading=LoginState.busy,
                # Enabled once the tab is connected to the server, so nothing typed is lost.
                disabled=~LoginState.is_hydrated,
                id="login-submit",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=LoginState.login,
        reset_on_submit=False,
        aria_label=t("Connexion"),
        width="100%",
    )


def _psc_login() -> rx.Component:
    """For professionals, when the API has Pro Santé Connect: a button whose event draws a
    secret for this tab, then navigates (top level) to the API, which redirects to the
    provider. Enabled once the tab is connected, so the secret is kept before leaving."""
    return rx.cond(
        LoginState.psc_login_url != "",
        rx.vstack(
            rx.separator(),
            rx.heading(t("Vous êtes professionnel de santé ?"), as_="h2", size="4"),
            rx.button(
                t("Se connecter avec Pro Santé Connect"),
                on_click=LoginState.start_psc_login,
                disabled=~LoginState.is_hydrated,
                size="3",
                variant="outline",
                id="login-psc",
            ),
            rx.text(
                t("Avec votre carte CPS ou l'application e-CPS, sans mot de passe ni code."),
                size="2",
                color_scheme="gray",
            ),
            spacing="3",
            width="100%",
        ),
    )


def _login_content() -> rx.Component:
    return rx.vstack(
        page_header(
            t("Connexion"),
            t("Saisissez votre identifiant (souvent votre adresse e-mail) et votre mot de "
              "passe. Nous vous enverrons ensuite un code à usage unique."),
        ),
        _messages(),
        _login_form(),
        _psc_login(),
        spacing="5",
        max_width=FORM_WIDTH,
        width="100%",
    )


@rx.page(route=LOGIN_ROUTE, title=page_title(LOGIN_TITLE),
         on_load=[LoginState.open_login_page, LoginState.load_login_options])
def login() -> rx.Component:
    return layout(_login_content(), current_route=LOGIN_ROUTE, title=LOGIN_TITLE)


def _countdown() -> rx.Component:
    return rx.cond(
        LoginState.seconds_left > 0,
        rx.text(
            t("Ce code expire dans"),
            " ",
            rx.el.span(LoginState.countdown, id="code-countdown", role="timer",
                       font_variant_numeric="tabular-nums", font_weight="bold"),
            ".",
            size="2",
        ),
        rx.text(t("Ce code a expiré. Demandez un nouveau code."), size="2", color_scheme="red",
                id="code-expired"),
    )


def _code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            form_field(
                t("Code à 6 chiffres"),
                rx.input(
                    id="login-code",
                    name="code",
                    type="text",
                    auto_complete="one-time-code",
                    required=True,
                    size="3",
                    width="10em",
                    max_length=12,
                    # On arrival, and again (emptied: a new key) after a wrong code.
                    auto_focus=True,
                    key=LoginState.code_field_key.to_string(),
                    custom_attrs={"inputMode": "numeric", "enterKeyHint": "done"},
                ),
                id="login-code",
            ),
            rx.button(
                t("Valider"),
                type="submit",
                size="3",
                loading=LoginState.busy,
                disabled=~LoginState.is_hydrated,
                id="code-submit",
            ),
            spacing="4",
        ),
        on_submit=LoginState.verify,
        reset_on_submit=False,
        aria_label=t("Code de connexion"),
    )


def _resend() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.button(
                t("Renvoyer le code"),
                on_click=LoginState.resend,
                variant="soft",
                size="2",
                disabled=(LoginState.resends_left <= 0) | LoginState.busy,
                id="code-resend",
            ),
            rx.text(
                rx.match(
                    LoginState.resends_left,
                    (0, t("Plus aucun renvoi possible.")),
                    (1, t("Encore 1 renvoi possible.")),
                    tf("Encore {n} renvois possibles.", n=LoginState.resends_left.to_string()),
                ),
                size="2",
                color_scheme="gray",
                id="code-resends-left",
            ),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.link(t("Recommencer la connexion"), href=LOGIN_ROUTE, size="2"),
        spacing="2",
    )


def _reopen() -> rx.Component:
    """Password and code were right, but I closed my space: reopen it (or start again)."""
    return rx.vstack(
        rx.callout.root(
            rx.callout.icon(rx.icon("info", aria_hidden="true")),
            rx.callout.text(LoginState.space_closed_message),
            id="login-space-closed",
            role="status",
        ),
        rx.text(t("En rouvrant votre espace, tout redevient comme avant : les professionnels de "
                  "santé et les applications que vous aviez autorisés retrouvent leur accès.")),
        rx.flex(
            rx.button(t("Rouvrir mon espace"), on_click=LoginState.reopen, size="3",
                      loading=LoginState.busy, disabled=~LoginState.is_hydrated,
                      id="login-reopen"),
            rx.link(t("Recommencer la connexion"), href=LOGIN_ROUTE, size="2"),
            spacing="4",
            align="center",
            wrap="wrap",
        ),
        spacing="3",
        width="100%",
    )


def _code_content() -> rx.Component:
    return rx.vstack(
        page_header(t("Saisissez votre code")),
        rx.text(
            rx.cond(
                LoginState.code_channel == "SMS",
                t("Un code à 6 chiffres vous a été envoyé par SMS au"),
                t("Un code à 6 chiffres vous a été envoyé par e-mail à"),
            ),
            " ",
            rx.text.strong(LoginState.masked_destination, id="code-destination"),
            ".",
            overflow_wrap="anywhere",
        ),
        _countdown(),
        _messages(),
        rx.cond(LoginState.space_closed, _reopen(), rx.fragment(_code_form(), _resend())),
        spacing="4",
        max_width=FORM_WIDTH,
        width="100%",
    )


@rx.page(route=CODE_ROUTE, title=page_title(CODE_TITLE), on_load=LoginState.open_code_page)
def login_code() -> rx.Component:
    return layout(_code_content(), current_route=CODE_ROUTE, title=CODE_TITLE)
