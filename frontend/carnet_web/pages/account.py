"""Mon compte: my identity (read-only, with who corrects it), my contacts (changed with a code
sent to the new one), my password (changed with a code), my notices and my language.

Password and code fields are uncontrolled inputs read on submit: they never sit in the page
state. Each change opens in place, its first field focused; once done (or cancelled) focus goes
back to the button that opened it.
"""

from __future__ import annotations

from typing import Any, Final

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    error_callout,
    form_field,
    loading_state,
    page_body,
    page_header,
    section,
    select_field,
    success_callout,
)
from carnet_web.i18n import LANGUAGE_NAMES, N_, t, tf
from carnet_web.routes import CARERS_ROUTE, CONNECTED_APPS_ROUTE, PROFILE_ROUTE
from carnet_web.state.account import (
    CODE,
    CONTACT_BUTTONS,
    FORM,
    MIN_PASSWORD,
    PASSWORD_BUTTON,
    ROUTE,
    AccountState,
)
from carnet_web.state.closure import CLOSURE_BUTTON, ClosureState

TITLE: Final = N_("Mon compte")
FORM_WIDTH: Final = "28em"


def _fact(label: Any, *value: Any, id: str | None = None) -> rx.Component:
    return rx.el.div(
        rx.el.dt(label, style={"color": "var(--gray-11)", "font_size": "var(--font-size-2)"}),
        rx.el.dd(*value, style={"margin": "0", "overflow_wrap": "anywhere",
                                "font_weight": "500"},
                 **({"id": id} if id else {})),
    )


def _facts(*facts: rx.Component, id: str) -> rx.Component:
    return rx.el.dl(
        *facts,
        id=id,
        style={"display": "grid", "gap": "0.75em 2em", "margin": "0", "width": "100%",
               "grid_template_columns": "repeat(auto-fit, minmax(14em, 1fr))"},
    )


def _info_box(*children: rx.Component, id: str) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("info", aria_hidden="true")),
        *children,
        color_scheme="gray",
        variant="surface",
        id=id,
        width="100%",
    )


# --- my identity ---------------------------------------------------------------------------


def _patient_identity() -> rx.Component:
    return rx.vstack(
        rx.text(t("Telle que l'identité nationale de santé (INS) l'enregistre, en majuscules "
                  "comme dans le référentiel."), color_scheme="gray"),
        _facts(
            _fact(t("Nom de naissance"), AccountState.birth_name, id="identity-birth-name"),
            _fact(t("Prénoms de naissance"), AccountState.first_names,
                  id="identity-first-names"),
            _fact(t("Date de naissance"), AccountState.birth_date, id="identity-birth-date"),
            _fact(t("Sexe"), AccountState.sex, id="identity-sex"),
            _fact(t("Code INSEE du lieu de naissance"), AccountState.birthplace_code,
                  id="identity-birthplace"),
            _fact(
                t("Matricule INS"),
                rx.el.span(AccountState.ins_matricule, id="identity-matricule",
                           style={"font_variant_numeric": "tabular-nums"}),
                rx.cond(AccountState.matricule_type != "",
                        rx.text(AccountState.matricule_type, as_="span", size="2",
                                color_scheme="gray", weight="regular", display="block")),
            ),
            _fact(
                t("Statut de l'identité"),
                rx.el.span(AccountState.identity_status_label, id="identity-status"),
                rx.text(AccountState.identity_status_hint, as_="span", size="2",
                        color_scheme="gray", weight="regular", display="block"),
            ),
            id="identity-traits",
        ),
        _info_box(
            rx.callout.text(t("Une erreur dans ces informations ?"), weight="bold"),
            rx.callout.text(t(
                "Elles viennent de l'identité nationale de santé et ne peuvent pas être "
                "modifiées dans Carnet. Pour les faire corriger, adressez-vous à votre caisse "
                "d'assurance maladie, ou au référent en identitovigilance d'un établissement "
                "de santé (hôpital, clinique), avec une pièce d'identité. La correction "
                "apparaîtra ensuite ici.")),
            id="identity-correction",
        ),
        spacing="4",
        width="100%",
    )


def _professional_identity() -> rx.Component:
    return rx.vstack(
        rx.text(t("Telle que le répertoire des professionnels de santé (RPPS) l'enregistre."),
                color_scheme="gray"),
        _facts(
            _fact(t("Numéro RPPS"), AccountState.rpps, id="identity-rpps"),
            _fact(t("Profession"), AccountState.profession, id="identity-profession"),
            rx.cond(AccountState.specialty != "",
                    _fact(t("Spécialité"), AccountState.specialty)),
            rx.cond(AccountState.practice_name != "",
                    _fact(t("Lieu d'exercice"), AccountState.practice_name)),
            rx.cond(AccountState.practice_address != "",
                    _fact(t("Adresse d'exercice"), AccountState.practice_address)),
            id="identity-professional",
        ),
        _info_box(
            rx.callout.text(t("Une erreur dans ces informations ?"), weight="bold"),
            rx.callout.text(t(
                "Elles viennent du RPPS et ne peuvent pas être modifiées dans Carnet : "
                "demandez leur correction à votre ordre professionnel (ou à l'autorité qui "
                "vous a enregistré).")),
            id="identity-correction",
        ),
        spacing="4",
        width="100%",
    )


def _identity() -> rx.Component:
    return section(
        t("Mon identité"),
        rx.cond(
            AccountState.is_patient,
            _patient_identity(),
            rx.cond(
                AccountState.is_professional_account,
                _professional_identity(),
                rx.text(t("Aucune identité de santé n'est associée à ce compte.")),
            ),
        ),
        id="account-identity",
    )


# --- my contacts ---------------------------------------------------------------------------


def _verified(verified: rx.Var, present: rx.Var) -> rx.Component:
    return rx.cond(
        present,
        rx.cond(
            verified,
            rx.badge(t("vérifiée"), color_scheme="green", margin_left="0.5em"),
            rx.badge(t("non vérifiée"), color_scheme="amber", margin_left="0.5em"),
        ),
    )


def _code_input(id: str, key: rx.Var) -> rx.Component:
    return form_field(
        t("Code à 6 chiffres"),
        rx.input(id=id, name="code", type="text", auto_complete="one-time-code",
                 required=True, size="3", width="10em", max_length=12, auto_focus=True,
                 key=key.to_string(),
                 custom_attrs={"inputMode": "numeric", "enterKeyHint": "done"}),
        id=id,
    )


def _current_password(id: str, key: rx.Var, *, focus: bool = False) -> rx.Component:
    return form_field(
        t("Mot de passe actuel"),
        rx.input(id=id, name="current_password", type="password",
                 auto_complete="current-password", required=True, max_length=256, size="3",
                 width="100%", key=key.to_string(), auto_focus=focus),
        id=id,
    )


def _buttons(submit: Any, busy: rx.Var, on_cancel: Any, *, submit_id: str) -> rx.Component:
    return rx.flex(
        rx.button(submit, type="submit", size="3", loading=busy,
                  disabled=~AccountState.is_hydrated, id=submit_id),
        rx.button(t("Annuler"), type="button", on_click=on_cancel, variant="soft",
                  color_scheme="gray", size="3"),
        spacing="3",
        wrap="wrap",
    )


def _contact_form() -> rx.Component:
    is_email = AccountState.contact_kind == "EMAIL"
    return rx.form(
        rx.vstack(
            rx.cond(
                is_email,
                form_field(
                    t("Nouvelle adresse e-mail"),
                    rx.input(id="account-new-email", name="value", type="email",
                             auto_complete="email", required=True, max_length=254, size="3",
                             width="100%", auto_focus=True,
                             custom_attrs={"autoCapitalize": "none", "spellCheck": "false"}),
                    id="account-new-email",
                    hint=t("Un code lui sera envoyé pour vérifier qu'elle est bien la vôtre."),
                ),
                form_field(
                    t("Nouveau numéro de téléphone"),
                    rx.input(id="account-new-phone", name="value", type="tel",
                             auto_complete="tel", required=True, max_length=32, size="3",
                             width="100%", auto_focus=True),
                    id="account-new-phone",
                    hint=t("Un code lui sera envoyé par SMS pour vérifier qu'il est bien le "
                           "vôtre. Exemple : 06 12 34 56 78."),
                ),
            ),
            _current_password("account-contact-password", AccountState.contact_field_key),
            _buttons(t("Recevoir un code"), AccountState.contact_busy,
                     AccountState.cancel_contact_change, submit_id="account-contact-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=AccountState.request_contact_change,
        reset_on_submit=False,
        aria_label=rx.cond(is_email, t("Changer d'adresse e-mail"),
                           t("Changer de numéro de téléphone")),
        width="100%",
    )


def _contact_code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                t("Un code à 6 chiffres vient d'être envoyé à"), " ",
                rx.text.strong(AccountState.contact_masked, id="account-contact-destination"),
                ". ", t("Saisissez-le pour confirmer le changement."),
                overflow_wrap="anywhere",
            ),
            _code_input("account-contact-code", AccountState.contact_field_key),
            _buttons(t("Confirmer"), AccountState.contact_busy,
                     AccountState.cancel_contact_change, submit_id="account-contact-confirm"),
            spacing="4",
            width="100%",
        ),
        on_submit=AccountState.confirm_contact_change,
        reset_on_submit=False,
        aria_label=t("Code de confirmation"),
        width="100%",
    )


def _contact_change() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(
                rx.cond(AccountState.contact_kind == "EMAIL", t("Nouvelle adresse e-mail"),
                        t("Nouveau numéro de téléphone")),
                as_="h3", size="4",
            ),
            error_callout(AccountState.contact_error, id="account-contact-error"),
            rx.cond(AccountState.contact_step == CODE, _contact_code_form(), _contact_form()),
            spacing="4",
            width="100%",
        ),
        id="account-contact-change",
        max_width=FORM_WIDTH,
        width="100%",
    )


def _contacts() -> rx.Component:
    return section(
        t("Mes coordonnées"),
        rx.text(t("Vos codes de connexion et vos notifications sont envoyés à ces "
                  "coordonnées."), color_scheme="gray"),
        _facts(
            _fact(t("Identifiant de connexion"), AccountState.identifier,
                  id="account-identifier"),
            _fact(t("Adresse e-mail"),
                  rx.el.span(rx.cond(AccountState.email != "", AccountState.email,
                                     t("Aucune")), id="account-email"),
                  _verified(AccountState.email_verified, AccountState.email != "")),
            _fact(t("Téléphone"),
                  rx.el.span(rx.cond(AccountState.phone != "", AccountState.phone,
                                     t("Aucun")), id="account-phone"),
                  _verified(AccountState.phone_verified, AccountState.phone != "")),
            id="account-contact-list",
        ),
        success_callout(AccountState.contact_info, id="account-contact-info"),
        rx.cond(
            AccountState.contact_step == "",
            rx.flex(
                rx.button(t("Changer d'adresse e-mail"),
                          on_click=AccountState.start_contact_change("EMAIL"),
                          variant="soft", size="2", id=CONTACT_BUTTONS["EMAIL"]),
                rx.button(rx.cond(AccountState.phone != "", t("Changer de numéro de téléphone"),
                                  t("Ajouter un numéro de téléphone")),
                          on_click=AccountState.start_contact_change("SMS"),
                          variant="soft", size="2", id=CONTACT_BUTTONS["SMS"]),
                spacing="3",
                wrap="wrap",
            ),
            _contact_change(),
        ),
        id="account-contacts",
    )


# --- my password ---------------------------------------------------------------------------


def _password_request_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(t("Pour commencer, confirmez votre mot de passe actuel : nous vous "
                      "enverrons ensuite un code.")),
            _current_password("account-password-current", AccountState.password_field_key,
                              focus=True),
            _buttons(t("Recevoir un code"), AccountState.password_busy,
                     AccountState.cancel_password_change, submit_id="account-password-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=AccountState.request_password_change,
        reset_on_submit=False,
        aria_label=t("Changer de mot de passe"),
        width="100%",
    )


def _new_password(id: str, label: Any, name: str, hint: Any | None = None) -> rx.Component:
    return form_field(
        label,
        rx.input(id=id, name=name, type="password", auto_complete="new-password",
                 required=True, min_length=MIN_PASSWORD, max_length=256, size="3",
                 width="100%", key=AccountState.password_field_key.to_string(),
                 **({"aria_describedby": f"{id}-hint"} if hint is not None else {})),
        id=id,
        hint=hint,
    )


def _password_code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                rx.cond(AccountState.step_up_channel == "SMS",
                        t("Un code à 6 chiffres vient d'être envoyé par SMS au"),
                        t("Un code à 6 chiffres vient d'être envoyé par e-mail à")),
                " ",
                rx.text.strong(AccountState.password_masked, id="account-password-destination"),
                ".",
                overflow_wrap="anywhere",
            ),
            _code_input("account-password-code", AccountState.password_field_key),
            _new_password("account-new-password", t("Nouveau mot de passe"), "new_password",
                          hint=tf("Au moins {n} caractères variés, sans votre identifiant.",
                                  n=MIN_PASSWORD)),
            _new_password("account-confirm-password", t("Confirmez le nouveau mot de passe"),
                          "confirm_password"),
            _buttons(t("Changer le mot de passe"), AccountState.password_busy,
                     AccountState.cancel_password_change,
                     submit_id="account-password-confirm"),
            spacing="4",
            width="100%",
        ),
        on_submit=AccountState.confirm_password_change,
        reset_on_submit=False,
        aria_label=t("Choisissez un nouveau mot de passe"),
        width="100%",
    )


def _password() -> rx.Component:
    return section(
        t("Mon mot de passe"),
        success_callout(AccountState.password_info, id="account-password-info"),
        rx.cond(
            AccountState.password_step == "",
            rx.vstack(
                rx.text(t("Changer de mot de passe ferme vos autres sessions."),
                        color_scheme="gray"),
                rx.button(t("Changer de mot de passe"),
                          on_click=AccountState.start_password_change,
                          variant="soft", size="2", id=PASSWORD_BUTTON),
                spacing="3",
            ),
            rx.card(
                rx.vstack(
                    rx.heading(t("Nouveau mot de passe"), as_="h3", size="4"),
                    error_callout(AccountState.password_error, id="account-password-error"),
                    rx.cond(AccountState.password_step == FORM, _password_request_form(),
                            _password_code_form()),
                    spacing="4",
                    width="100%",
                ),
                id="account-password-change",
                max_width=FORM_WIDTH,
                width="100%",
            ),
        ),
        id="account-password",
    )


# --- preferences ---------------------------------------------------------------------------


def _legend(text: Any) -> rx.Component:
    return rx.el.legend(rx.text(text, as_="span", weight="medium"), style={"padding": "0"})


def _fieldset(*children: rx.Component, **props: Any) -> rx.Component:
    return rx.el.fieldset(*children, style={"border": "none", "padding": "0", "margin": "0"},
                          **props)


def _preferences() -> rx.Component:
    return section(
        t("Notifications et langue"),
        rx.text(t("Les notifications ne contiennent jamais de donnée de santé : ni titre de "
                  "document, ni texte de message, ni nom d'expéditeur."), color_scheme="gray"),
        _fieldset(
            _legend(t("Me prévenir par")),
            rx.radio_group.root(
                rx.flex(
                    rx.radio_group.item(t("E-mail"), value="EMAIL"),
                    rx.radio_group.item(t("SMS"), value="SMS"),
                    spacing="4",
                    wrap="wrap",
                ),
                value=AccountState.pref_channel,
                on_change=AccountState.set_pref_channel,
                name="notification_channel",
                margin_top="0.5em",
            ),
            id="preferences-channel",
        ),
        _fieldset(
            _legend(t("Me prévenir quand")),
            rx.vstack(
                rx.checkbox(t("un document est ajouté à mon dossier"),
                            checked=AccountState.pref_new_document,
                            on_change=AccountState.set_pref_new_document,
                            id="preferences-new-document"),
                rx.checkbox(t("je reçois un message"),
                            checked=AccountState.pref_new_message,
                            on_change=AccountState.set_pref_new_message,
                            id="preferences-new-message"),
                spacing="2",
                margin_top="0.5em",
            ),
            id="preferences-events",
        ),
        rx.box(
            select_field(
                t("Langue"),
                id="preferences-language",
                options=[(code, LANGUAGE_NAMES[code]) for code in ("fr", "en")],
                value=AccountState.pref_language,
                on_change=AccountState.set_pref_language,
                hint=t("La langue de Carnet dans ce navigateur et des messages que Carnet "
                       "vous envoie."),
            ),
            max_width="20em",
            width="100%",
        ),
        error_callout(AccountState.pref_error, id="preferences-error"),
        success_callout(AccountState.pref_info, id="preferences-info"),
        rx.button(t("Enregistrer les préférences"), on_click=AccountState.save_preferences,
                  loading=AccountState.pref_busy, disabled=~AccountState.is_hydrated,
                  size="3", id="preferences-save"),
        id="account-preferences",
    )


def _connected_apps() -> rx.Component:
    """Patients only: where the apps they authorised are (and revoked)."""
    return rx.cond(
        ~AccountState.is_professional,
        section(
            t("Applications connectées"),
            rx.text(t("Les applications de santé que vous avez autorisées à accéder à votre "
                      "dossier, et le retrait de leur accès."), color_scheme="gray"),
            rx.link(t("Voir mes applications connectées"), href=CONNECTED_APPS_ROUTE,
                    id="account-connected-apps"),
            id="account-connected-apps-section",
        ),
    )


def _carers() -> rx.Component:
    """Patients only: who they let help with their space (carers)."""
    return rx.cond(
        ~AccountState.is_professional,
        section(
            t("Mes aidants"),
            rx.text(t("Les proches que vous laissez vous aider avec votre espace, et le "
                      "retrait de leur accès."), color_scheme="gray"),
            rx.link(t("Voir et ajouter mes aidants"), href=CARERS_ROUTE, id="account-carers"),
            id="account-carers-section",
        ),
    )


# --- closing my space (patients) -------------------------------------------------------------


def _closure_request_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(t("Pour commencer, confirmez votre mot de passe actuel : nous vous "
                      "enverrons ensuite un code.")),
            _current_password("account-closure-current", ClosureState.closure_field_key,
                              focus=True),
            _closure_buttons(t("Recevoir un code"), submit_id="account-closure-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=ClosureState.request_closure,
        reset_on_submit=False,
        aria_label=t("Clôturer mon espace"),
        width="100%",
    )


def _closure_buttons(submit: Any, *, submit_id: str) -> rx.Component:
    return rx.flex(
        rx.button(submit, type="submit", size="3", color_scheme="red",
                  loading=ClosureState.closure_busy, disabled=~ClosureState.is_hydrated,
                  id=submit_id),
        rx.button(t("Annuler"), type="button", on_click=ClosureState.cancel_closure,
                  variant="soft", color_scheme="gray", size="3"),
        spacing="3",
        wrap="wrap",
    )


def _closure_code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                rx.cond(ClosureState.closure_channel == "SMS",
                        t("Un code à 6 chiffres vient d'être envoyé par SMS au"),
                        t("Un code à 6 chiffres vient d'être envoyé par e-mail à")),
                " ",
                rx.text.strong(ClosureState.closure_masked, id="account-closure-destination"),
                ".",
                overflow_wrap="anywhere",
            ),
            _code_input("account-closure-code", ClosureState.closure_field_key),
            rx.el.label(
                rx.checkbox(name="delete_now", id="account-closure-delete-now", size="2"),
                t("Supprimer aussi mon espace dans les 3 mois, au lieu de l'archiver"),
                html_for="account-closure-delete-now",
                display="flex",
                gap="0.5em",
                align_items="center",
            ),
            _closure_buttons(t("Clôturer mon espace"), submit_id="account-closure-confirm"),
            spacing="4",
            width="100%",
        ),
        on_submit=ClosureState.confirm_closure,
        reset_on_submit=False,
        aria_label=t("Confirmez la clôture de votre espace"),
        width="100%",
    )


def _closure() -> rx.Component:
    return section(
        t("Clôturer mon espace"),
        rx.text(t("Avant de clôturer votre espace, exportez votre dossier : une fois clôturé, "
                  "vous ne pourrez plus vous y connecter, sauf pour le rouvrir.")),
        rx.link(t("Exporter mon dossier (page Mon profil médical)"), href=PROFILE_ROUTE,
                id="account-closure-export"),
        rx.cond(
            ClosureState.closure_step == "",
            rx.button(t("Clôturer mon espace"), on_click=ClosureState.start_closure,
                      variant="soft", color_scheme="red", size="2", id=CLOSURE_BUTTON),
            rx.card(
                rx.vstack(
                    rx.heading(t("Clôturer mon espace"), as_="h3", size="4"),
                    rx.callout.root(
                        rx.callout.icon(rx.icon("triangle-alert", aria_hidden="true")),
                        rx.callout.text(t(
                            "Attention : toutes vos sessions seront fermées, et les "
                            "professionnels de santé comme les applications n'auront plus "
                            "accès à votre dossier. Rien n'est supprimé : votre espace est "
                            "archivé 10 ans et vous pouvez le rouvrir d'ici là, sauf si vous "
                            "demandez sa suppression.")),
                        color_scheme="amber",
                        id="account-closure-warning",
                    ),
                    error_callout(ClosureState.closure_error, id="account-closure-error"),
                    rx.cond(ClosureState.closure_step == FORM, _closure_request_form(),
                            _closure_code_form()),
                    spacing="4",
                    width="100%",
                ),
                id="account-closure-change",
                max_width=FORM_WIDTH,
                width="100%",
            ),
        ),
        id="account-closure",
    )


def _content() -> rx.Component:
    return page_body(
        page_header(t("Mon compte"),
                    t("Votre identité, vos coordonnées, votre mot de passe et vos "
                      "préférences.")),
        error_callout(AccountState.error, retry=AccountState.load, id="account-error"),
        rx.cond(
            AccountState.loading,
            rx.box(loading_state(), id="account-loading"),
            rx.cond(
                AccountState.error == "",
                rx.fragment(_identity(), _contacts(), _password(), _preferences(),
                            _connected_apps(),
                            _carers(),
                            rx.cond(AccountState.is_patient, _closure())),
            ),
        ),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=AccountState.load)
def account() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
