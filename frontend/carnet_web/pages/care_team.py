"""Mon équipe de soins: who may read my record; add by RPPS, remove, médecin traitant,
emergency access, block. Every value from the API is shown as plain text."""

from __future__ import annotations

import reflex as rx

from carnet_web.components.layout import layout, page_title
from carnet_web.components.ui import confirm_dialog, error_callout, page_body
from carnet_web.i18n import N_, t, tf
from carnet_web.routes import ACCESS_HISTORY_ROUTE as HISTORY_ROUTE
from carnet_web.state.care_team import (
    REMOVE_BUTTON_PREFIX,
    ROUTE,
    RPPS_FIELD_ID,
    TEAM_HEADING_ID,
    BlockedItem,
    CareTeamState,
    MemberItem,
)


def _messages() -> rx.Component:
    return rx.fragment(
        error_callout(CareTeamState.error, retry=CareTeamState.load, id="care-team-error"),
        # Always in the page, so screen readers announce what each action did.
        rx.box(
            rx.cond(
                CareTeamState.info != "",
                rx.callout(CareTeamState.info, icon="info", color_scheme="green"),
            ),
            role="status",
            aria_live="polite",
            id="care-team-info",
            width="100%",
        ),
    )


def _add_form() -> rx.Component:
    invalid = CareTeamState.rpps_error != ""
    return rx.form(
        rx.vstack(
            rx.el.label(
                rx.text(t("Numéro RPPS du professionnel"), as_="span", size="2", weight="medium"),
                html_for=RPPS_FIELD_ID,
            ),
            rx.text(t("11 chiffres, indiqués sur ses ordonnances ou dans l'annuaire santé."),
                    size="1", color_scheme="gray", id="care-team-rpps-hint"),
            rx.flex(
                rx.input(
                    id=RPPS_FIELD_ID,
                    name="rpps",
                    type="text",
                    input_mode="numeric",
                    auto_complete="off",
                    required=True,
                    max_length=20,
                    size="3",
                    width="100%",
                    max_width="20em",
                    aria_invalid=rx.cond(invalid, "true", "false"),
                    aria_describedby=rx.cond(invalid, "care-team-rpps-error",
                                             "care-team-rpps-hint"),
                    key=CareTeamState.rpps_field_key.to_string(),
                ),
                rx.button(
                    t("Ajouter"),
                    type="submit",
                    size="3",
                    loading=CareTeamState.busy,
                    # Enabled once the tab is connected to the server, so nothing typed is lost.
                    disabled=~CareTeamState.is_hydrated | CareTeamState.loading,
                    id="care-team-add",
                ),
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                invalid,
                rx.callout(CareTeamState.rpps_error, icon="triangle_alert", color_scheme="red",
                           role="alert", id="care-team-rpps-error"),
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=CareTeamState.add,
        reset_on_submit=False,
        aria_label=t("Ajouter un professionnel à mon équipe de soins"),
    )


def _member(item: MemberItem) -> rx.Component:
    return rx.el.li(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading(item.name, as_="h3", size="4", class_name="member-name"),
                    rx.cond(item.treating_doctor,
                            rx.badge(t("Médecin traitant"), color_scheme="green",
                                     class_name="treating-badge")),
                    rx.cond(item.blocked,
                            rx.badge(t("Bloqué"), color_scheme="red", class_name="blocked-badge")),
                    rx.cond(~item.active,
                            rx.badge(t("Expiré"), color_scheme="gray", class_name="expired-badge")),
                    spacing="2",
                    align="center",
                    wrap="wrap",
                ),
                rx.cond(item.practice != "", rx.text(item.practice, size="2")),
                rx.text("RPPS ", item.rpps, size="2", color_scheme="gray"),
                rx.text(tf("{origin} le {date}", origin=item.origin, date=item.since), size="2",
                        color_scheme="gray"),
                rx.text(item.status, size="2", color_scheme="gray"),
                rx.flex(
                    rx.cond(
                        item.can_be_treating_doctor,
                        rx.button(
                            t("Désigner comme médecin traitant"),
                            on_click=CareTeamState.set_treating_doctor(item.rpps),
                            disabled=CareTeamState.busy,
                            variant="soft",
                            size="2",
                            aria_label=tf("Désigner comme médecin traitant : {name}",
                                          name=item.name),
                        ),
                    ),
                    rx.cond(
                        item.treating_doctor,
                        rx.button(
                            t("Ne plus en faire mon médecin traitant"),
                            on_click=CareTeamState.set_treating_doctor(""),
                            disabled=CareTeamState.busy,
                            variant="soft",
                            color_scheme="gray",
                            size="2",
                        ),
                    ),
                    rx.button(
                        rx.cond(item.blocked, t("Débloquer"), t("Bloquer")),
                        on_click=CareTeamState.set_blocked(item.id, ~item.blocked),
                        disabled=CareTeamState.busy,
                        variant="outline",
                        color_scheme="red",
                        size="2",
                        aria_label=rx.cond(item.blocked, tf("Débloquer : {name}", name=item.name),
                                           tf("Bloquer : {name}", name=item.name)),
                    ),
                    rx.button(
                        t("Retirer de mon équipe"),
                        on_click=CareTeamState.ask_remove(item.id),
                        disabled=CareTeamState.busy,
                        color_scheme="red",
                        variant="soft",
                        size="2",
                        aria_label=tf("Retirer de mon équipe : {name}", name=item.name),
                        aria_haspopup="dialog",
                        id=REMOVE_BUTTON_PREFIX + item.id,
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
        id="member-" + item.id,
        class_name="member",
        list_style="none",
    )


def _blocked(item: BlockedItem) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.vstack(
                rx.text(item.name, weight="medium"),
                rx.text(item.practice, t(" · RPPS "), item.rpps, size="2", color_scheme="gray"),
                spacing="0",
            ),
            rx.button(
                t("Débloquer"),
                on_click=CareTeamState.set_blocked(item.id, False),
                disabled=CareTeamState.busy,
                variant="outline",
                size="2",
                aria_label=tf("Débloquer : {name}", name=item.name),
            ),
            justify="between",
            align="center",
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        class_name="blocked",
        list_style="none",
    )


def _team() -> rx.Component:
    return rx.vstack(
        rx.heading(t("Professionnels qui peuvent lire mon dossier"), as_="h2", size="5",
                   id=TEAM_HEADING_ID, tab_index=-1),
        rx.cond(
            CareTeamState.action_error != "",
            rx.callout(CareTeamState.action_error, icon="triangle_alert", color_scheme="red",
                       role="alert", id="care-team-action-error"),
        ),
        rx.cond(
            CareTeamState.loading,
            rx.hstack(rx.spinner(), rx.text(t("Chargement…")), id="care-team-loading"),
            rx.cond(
                CareTeamState.members.length() > 0,
                rx.el.ul(rx.foreach(CareTeamState.members, _member), id="care-team",
                         padding="0", margin="0", width="100%",
                         display="flex", flex_direction="column", gap="0.75em"),
                rx.text(t("Personne pour l'instant. Ajoutez les professionnels qui vous suivent "
                        "avec leur numéro RPPS."), color_scheme="gray", id="care-team-empty"),
            ),
        ),
        spacing="3",
        width="100%",
    )


def _remove_dialog() -> rx.Component:
    """Before "Retirer de mon équipe": the professional loses access at once."""
    return confirm_dialog(
        open=CareTeamState.removing_id != "",
        on_open_change=CareTeamState.remove_dialog_changed,
        title=t("Retirer ce professionnel de votre équipe de soins ?"),
        description=tf("{name} ne pourra plus lire votre dossier, dès maintenant. Vous pourrez "
                       "l'ajouter de nouveau avec son numéro RPPS.",
                       name=CareTeamState.removing_name),
        confirm_label=t("Retirer"),
        on_confirm=CareTeamState.confirm_remove,
        busy=CareTeamState.busy,
        id="care-team-remove-dialog",
    )


def _emergency() -> rx.Component:
    return rx.vstack(
        rx.heading(t("Accès en urgence"), as_="h2", size="5"),
        rx.text(
            t("En cas d'urgence, un médecin urgentiste ou un médecin régulateur du SAMU peut "
            "ouvrir votre dossier pour 24 heures, en indiquant la raison, même s'il ne fait pas "
            "partie de votre équipe de soins. Vous êtes prévenu aussitôt et l'accès figure dans "
            "votre historique."),
            size="2",
        ),
        rx.flex(
            rx.switch(
                id="emergency-access",
                checked=CareTeamState.emergency_allowed,
                on_change=CareTeamState.set_emergency_access,
                disabled=CareTeamState.busy | CareTeamState.loading,
                aria_describedby="emergency-access-error",
            ),
            rx.el.label(
                rx.text(t("Autoriser l'accès en urgence à mon dossier"), as_="span", size="2",
                        weight="medium"),
                html_for="emergency-access",
            ),
            spacing="2",
            align="center",
        ),
        rx.cond(
            CareTeamState.emergency_error != "",
            rx.callout(CareTeamState.emergency_error, icon="triangle_alert", color_scheme="red",
                       role="alert", id="emergency-access-error"),
        ),
        spacing="3",
        width="100%",
    )


def _blocked_section() -> rx.Component:
    return rx.cond(
        CareTeamState.blocked_others.length() > 0,
        rx.vstack(
            rx.heading(t("Professionnels bloqués"), as_="h2", size="5"),
            rx.text(t("Ils ne peuvent ni lire votre dossier ni vous écrire."), size="2",
                    color_scheme="gray"),
            rx.el.ul(rx.foreach(CareTeamState.blocked_others, _blocked), id="blocked-others",
                     padding="0", margin="0", width="100%",
                     display="flex", flex_direction="column", gap="0.5em"),
            spacing="3",
            width="100%",
        ),
    )


def _content() -> rx.Component:
    return page_body(
        rx.heading(t(TITLE), as_="h1", size="7"),
        rx.text(
            t("Les professionnels de votre équipe de soins lisent votre dossier, selon leur "
            "profession : un pharmacien ne voit pas ce que voit un médecin. Votre médecin "
            "traitant voit aussi les documents que vous avez masqués aux professionnels. "
            "Chaque consultation apparaît dans votre "),
            rx.link(t("historique des accès"), href=HISTORY_ROUTE),
            ".",
            color_scheme="gray",
        ),
        _messages(),
        rx.heading(t("Ajouter un professionnel"), as_="h2", size="5"),
        _add_form(),
        _team(),
        _remove_dialog(),
        _emergency(),
        _blocked_section(),
    )


TITLE = N_("Mon équipe de soins")


@rx.page(route=ROUTE, title=page_title(TITLE), on_load=CareTeamState.load)
def care_team() -> rx.Component:
    return layout(_content(), current_route=ROUTE, title=TITLE)
