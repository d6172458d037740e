"""Connexion: identifier + password (/connexion), then the one-time code (/connexion/code).

Both forms are uncontrolled inputs read on submit: the password never sits in the page state.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.state.login import LoginState
from carnet_web.state.session import CODE_ROUTE, LOGIN_ROUTE


def _field(label: str, control: rx.Component, field_id: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(rx.text(label, as_="span", size="2", weight="medium"), html_for=field_id),
        control,
        spacing="1",
        width="100%",
    )


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            LoginState.notice != "",
            rx.callout(LoginState.notice, icon="info", role="status", id="login-notice"),
        ),
        rx.cond(
            LoginState.error != "",
            rx.callout(
                LoginState.error,
                icon="triangle_alert",
                color_scheme="red",
                role="alert",
                id="login-error",
            ),
        ),
        rx.cond(
            LoginState.info != "",
            rx.callout(
                LoginState.info, icon="mail_check", color_scheme="green", role="status",
                id="login-info",
            ),
        ),
    )


def _channel_choice() -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(rx.text("Recevoir le code par", as_="span", size="2", weight="medium")),
        rx.radio_group.root(
            rx.flex(
                rx.radio_group.item("E-mail", value="EMAIL"),
                rx.radio_group.item("SMS", value="SMS"),
                spacing="4",
            ),
            value=LoginState.channel,
            on_change=LoginState.set_channel,
            name="channel",
            margin_top="0.25em",
        ),
        border="none",
        padding="0",
        margin="0",
    )


def _login_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _field(
                "Identifiant",
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
                "login-identifier",
            ),
            _field(
                "Mot de passe",
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
                "login-password",
            ),
            _channel_choice(),
            rx.button(
                "Continuer",
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
        aria_label="Connexion",
    )


def _psc_login() -> rx.Component:
    """For professionals, when the API has Pro Santé Connect: a button whose event draws a
    secret for this tab, then navigates (top level) to the API, which redirects to the
    provider. Enabled once the tab is connected, so the secret is kept before leaving."""
    return rx.cond(
        LoginState.psc_login_url != "",
        rx.vstack(
            rx.separator(),
            rx.heading("Vous êtes professionnel de santé ?", as_="h2", size="4"),
            rx.button(
                "Se connecter avec Pro Santé Connect",
                on_click=LoginState.start_psc_login,
                disabled=~LoginState.is_hydrated,
                size="3",
                variant="outline",
                id="login-psc",
            ),
            rx.text(
                "Avec votre carte CPS ou l'application e-CPS, sans mot de passe ni code.",
                size="2",
                color_scheme="gray",
            ),
            spacing="3",
            width="100%",
        ),
    )


def _login_content() -> rx.Component:
    return rx.vstack(
        rx.heading("Connexion", as_="h1", size="7"),
        rx.text(
            "Saisissez votre identifiant (souvent votre adresse e-mail) et votre mot de passe. "
            "Nous vous enverrons ensuite un code à usage unique.",
            color_scheme="gray",
        ),
        _messages(),
        _login_form(),
        _psc_login(),
        spacing="4",
        max_width="28em",
        width="100%",
    )


@rx.page(route=LOGIN_ROUTE, title=page_title("Connexion"),
         on_load=[LoginState.open_login_page, LoginState.load_login_options])
def login() -> rx.Component:
    return layout(_login_content(), current_route=LOGIN_ROUTE)


def _countdown() -> rx.Component:
    return rx.cond(
        LoginState.seconds_left > 0,
        rx.text(
            "Ce code expire dans ",
            rx.el.span(LoginState.countdown, id="code-countdown", role="timer",
                       font_variant_numeric="tabular-nums", font_weight="bold"),
            ".",
            size="2",
        ),
        rx.text("Ce code a expiré. Demandez un nouveau code.", size="2", color_scheme="red",
                id="code-expired"),
    )


def _code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _field(
                "Code à 6 chiffres",
                rx.input(
                    id="login-code",
                    name="code",
                    type="text",
                    auto_complete="one-time-code",
                    required=True,
                    size="3",
                    width="10em",
                    placeholder="123456",
                    key=LoginState.code_field_key.to_string(),
                    custom_attrs={"inputMode": "numeric", "enterKeyHint": "done"},
                ),
                "login-code",
            ),
            rx.button(
                "Valider",
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
        aria_label="Code de connexion",
    )


def _resend() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button(
                "Renvoyer le code",
                on_click=LoginState.resend,
                variant="soft",
                size="2",
                disabled=(LoginState.resends_left <= 0) | LoginState.busy,
                id="code-resend",
            ),
            rx.text(
                rx.match(
                    LoginState.resends_left,
                    (0, "Plus aucun renvoi possible."),
                    (1, "Encore 1 renvoi possible."),
                    "Encore " + LoginState.resends_left.to_string() + " renvois possibles.",
                ),
                size="2",
                color_scheme="gray",
                id="code-resends-left",
            ),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.link("Recommencer la connexion", href=LOGIN_ROUTE, size="2"),
        spacing="2",
    )


def _code_content() -> rx.Component:
    return rx.vstack(
        rx.heading("Saisissez votre code", as_="h1", size="7"),
        rx.text(
            "Un code à 6 chiffres vous a été envoyé ",
            LoginState.sent_by,
            " à ",
            rx.text.strong(LoginState.masked_destination, id="code-destination"),
            ".",
        ),
        _countdown(),
        _messages(),
        _code_form(),
        _resend(),
        spacing="4",
        max_width="28em",
        width="100%",
    )


@rx.page(route=CODE_ROUTE, title=page_title("Code de connexion"),
         on_load=LoginState.open_code_page)
def login_code() -> rx.Component:
    return layout(_code_content(), current_route=CODE_ROUTE)
