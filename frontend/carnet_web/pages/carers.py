"""Mes aidants: who I let help with my space (issue 15 part 9), the form to add one, and
"Retirer" (after a confirmation). Every value from the API is shown as plain text."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import (
    confirm_dialog,
    empty_state,
    error_callout,
    field_error,
    form_field,
    loading_state,
    page_body,
    section,
    success_callout,
)
from carnet_web.i18n import N_, t, tf
from carnet_web.state.carers import (
    EMAIL_ID,
    ENDS_ID,
    HEADING_ID,
    MAX_EMAIL_LENGTH,
    PART_LABELS,
    PARTS,
    PARTS_ID,
    REVOKE_BUTTON_PREFIX,
    ROUTE,
    CarerItem,
    CarersState,
)

TITLE = N_("Mes aidants")
_FIELDSET = {"border": "none", "padding": "0", "margin": "0", "min_width": "0"}


def _carer(item: CarerItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading(item.email_hint, as_="h3", size="4", class_name="carer-email",
                               style={"overflow_wrap": "anywhere"}),
                    rx.cond(item.pending, rx.badge(t("en attente"), color_scheme="gray")),
                    spacing="2", align="center", wrap="wrap",
                ),
                rx.text(tf("Parties : {parts}", parts=item.parts), size="2",
                        class_name="carer-parts"),
                rx.text(item.access, size="2", class_name="carer-access"),
                rx.text(item.until, size="2", color_scheme="gray"),
                rx.cond(item.pending, rx.text(t(
                    "En attente : la personne n'a pas encore de compte Carnet avec cette "
                    "adresse"), size="2", color_scheme="gray")),
                rx.text(item.since, size="2", color_scheme="gray"),
                rx.button(
                    t("Retirer"),
                    on_click=CarersState.ask_revoke(item.id),
                    disabled=CarersState.busy,
                    color_scheme="red", variant="soft", size="2",
                    aria_label=tf("Retirer {email} de mes aidants", email=item.email_hint),
                    aria_haspopup="dialog",
                    id=REVOKE_BUTTON_PREFIX + item.id,
                ),
                spacing="1", width="100%",
            ),
            width="100%",
        ),
        id="carer-" + item.id,
        class_name="carer",
        list_style="none",
    )


def _list() -> rx.Component:
    return rx.cond(
        CarersState.carers.length() > 0,
        rx.el.ul(rx.foreach(CarersState.carers, _carer), id="carers",
                 padding="0", margin="0", width="100%",
                 display="flex", flex_direction="column", gap="0.75em"),
        rx.box(empty_state(t("Personne ne vous aide pour l'instant."),
                           t("Ajoutez un proche ci-dessous : il verra les parties de votre "
                             "espace que vous choisissez.")),
               id="carers-empty", width="100%"),
    )


def _key() -> rx.Var:
    """Changed after a grant: every field of the form comes back empty."""
    return CarersState.form_key.to_string()


def _input(label: rx.Var, *, id: str, error: rx.Var, hint: rx.Var, **props: object
           ) -> rx.Component:
    """An uncontrolled input (its value is read on submit), its hint and its error."""
    return form_field(
        label,
        rx.input(id=id, size="3", width="100%", key=_key(),
                 aria_describedby=rx.cond(error != "", f"{id}-hint {id}-error", f"{id}-hint"),
                 aria_invalid=rx.cond(error != "", "true", "false"), **props),
        id=id, hint=hint, error=error,
    )


def _legend(text: rx.Var) -> rx.Component:
    return rx.el.legend(rx.text(text, as_="span", weight="medium"), style={"padding": "0"})


def _check(part: str) -> rx.Component:
    box_id = f"{PARTS_ID}-{part}"
    return rx.el.label(
        rx.el.input(type="checkbox", name="part_" + part, id=box_id, key=_key(),
                    aria_describedby=rx.cond(CarersState.parts_error != "",
                                             f"{PARTS_ID}-error", ""),
                    style={"width": "1.1em", "height": "1.1em", "margin": "0"}),
        t(PART_LABELS[part]),
        html_for=box_id, display="flex", gap="0.5em", align_items="center",
    )


def _radio(value: str, label: rx.Var, *, checked: bool = False) -> rx.Component:
    radio_id = f"carer-access-{value}"
    return rx.el.label(
        rx.el.input(type="radio", name="access", value=value, id=radio_id, key=_key(),
                    default_checked=checked,
                    style={"width": "1.1em", "height": "1.1em", "margin": "0"}),
        label,
        html_for=radio_id, display="flex", gap="0.5em", align_items="center",
    )


def _form() -> rx.Component:
    return section(
        t("Ajouter un aidant"),
        rx.text(t("Un proche qui vous aide (un parent, un enfant, un ami) peut consulter, et si "
                  "vous le voulez modifier, les parties de votre espace que vous choisissez, "
                  "avec son propre compte. Chacune de ses lectures figure dans votre "
                  "historique des accès."), color_scheme="gray"),
        rx.form(
            rx.vstack(
                _input(t("Son adresse e-mail"), id=EMAIL_ID, type="email", name="email",
                       error=CarersState.email_error, auto_complete="off",
                       max_length=MAX_EMAIL_LENGTH,
                       hint=t("Si la personne n'a pas encore de compte Carnet, l'accès "
                              "l'attendra.")),
                rx.el.fieldset(
                    _legend(t("Ce qu'elle peut voir")),
                    rx.vstack(*(_check(p) for p in PARTS), spacing="2", margin_top="0.5em"),
                    field_error(PARTS_ID, CarersState.parts_error),
                    id=PARTS_ID, style=_FIELDSET,
                ),
                rx.el.fieldset(
                    _legend(t("Ce qu'elle peut faire")),
                    rx.vstack(_radio("read", t("Lecture seule"), checked=True),
                              _radio("write", t("Lecture et modification")),
                              spacing="2", margin_top="0.5em"),
                    id="carer-access", style=_FIELDSET,
                ),
                _input(t("Jusqu'au (facultatif)"), id=ENDS_ID, type="date", name="ends_on",
                       error=CarersState.ends_error,
                       hint=t("Laissez vide pour un accès sans date de fin : vous pourrez "
                              "toujours le retirer.")),
                error_callout(CarersState.action_error, id="carers-action-error"),
                rx.button(t("Ajouter"), type="submit", size="3", loading=CarersState.busy,
                          disabled=~CarersState.is_hydrated, id="carer-submit"),
                spacing="4", width="100%", align="start",
            ),
            on_submit=CarersState.grant,
            reset_on_submit=False,
            aria_label=t("Ajouter un aidant"),
            width="100%",
        ),
        id="carers-add",
    )


def _revoke_dialog() -> rx.Component:
    return confirm_dialog(
        open=CarersState.revoking_id != "",
        on_open_change=CarersState.revoke_dialog_changed,
        title=t("Retirer cet aidant ?"),
        description=tf("{email} ne pourra plus rien voir ni modifier dans votre espace, dès "
                       "maintenant.", email=CarersState.revoking_label),
        confirm_label=t("Retirer"),
        on_confirm=CarersState.confirm_revoke,
        busy=CarersState.busy,
        id="carers-revoke-dialog",
    )


def _content() -> rx.Component:
    return page_body(
        rx.vstack(
            rx.heading(t(TITLE), as_="h1", size="7", id=HEADING_ID, tab_index=-1),
            rx.text(t("Les personnes que vous laissez vous aider avec votre espace, et ce "
                      "qu'elles peuvent y faire."), color_scheme="gray"),
            spacing="2",
        ),
        error_callout(CarersState.error, retry=CarersState.load, id="carers-error"),
        # Always in the page, so screen readers announce what an action did.
        rx.box(success_callout(CarersState.info), id="carers-info", aria_live="polite",
               width="100%"),
        rx.cond(
            CarersState.loading,
            rx.box(loading_state(), id="carers-loading"),
            rx.cond(CarersState.error == "",
                    rx.fragment(
                        section(t("Mes aidants actuels"), _list(), id="carers-current"),
                        _form(),
                    )),
        ),
        _revoke_dialog(),
    )


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=CarersState.load)
def carers() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
