"""State of "Mon équipe de soins" (/equipe-de-soins): the professionals who may read my record.

Add one by RPPS, remove one, name my médecin traitant (or none), allow or refuse emergency
access, block or unblock a professional (the messaging mutations: a block stops them writing
to me and reading my record, whatever the relationship). Needs a session: without one (or
when the API says it is no longer valid) the tab goes to the login page.

After every change the whole page is read again (one query): what is shown is what the API
holds, never a guess.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import CARE_TEAM_ROUTE as ROUTE  # noqa: E402,F401  (re-exported)
from carnet_web.state.focus import focus
from carnet_web.state.formatting import date_text
from carnet_web.state.messaging import BLOCK, UNBLOCK
from carnet_web.state.session import SessionState, api_errors

RPPS_FIELD_ID: Final = "care-team-rpps"
TEAM_HEADING_ID: Final = "care-team-heading"
REMOVE_BUTTON_PREFIX: Final = "care-team-remove-"  # + the professional's id

_PROFESSIONAL: Final = "id rpps profession specialty practiceName"

CARE_TEAM: Final = api.operation(
    f"""
    query CareTeam {{
      careTeam {{
        professional {{ {_PROFESSIONAL} }}
        origin active treatingDoctor since lastAccessAt expiresAt
      }}
      accessSettings {{ emergencyAccessAllowed treatingDoctor {{ id }} }}
      blockedProfessionals {{ id rpps profession practiceName }}
    }}
    """
)

ADD_TO_CARE_TEAM: Final = api.operation(
    f"""
    mutation AddToCareTeam($rpps: String!) {{
      addToCareTeam(rpps: $rpps) {{
        __typename
        ... on CareTeamMember {{ professional {{ {_PROFESSIONAL} }} }}
        ... on Error {{ message }}
      }}
    }}
    """
)

REMOVE_FROM_CARE_TEAM: Final = api.operation(
    """
    mutation RemoveFromCareTeam($professionalId: ID!) {
      removeFromCareTeam(professionalId: $professionalId) {
        __typename
        ... on CareTeamMemberRemoved { professionalId }
        ... on Error { message }
      }
    }
    """
)

SET_TREATING_DOCTOR: Final = api.operation(
    """
    mutation SetTreatingDoctor($rpps: String) {
      setTreatingDoctor(rpps: $rpps) {
        __typename
        ... on AccessSettings { treatingDoctor { id } }
        ... on Error { message }
      }
    }
    """
)

SET_EMERGENCY_ACCESS: Final = api.operation(
    """
    mutation SetEmergencyAccess($allowed: Boolean!) {
      setEmergencyAccess(allowed: $allowed) { emergencyAccessAllowed }
    }
    """
)

RPPS_FORMAT: Final = N_("Le numéro RPPS compte 11 chiffres.")
ALREADY_IN_TEAM: Final = N_("Ce professionnel fait déjà partie de votre équipe de soins.")
EMERGENCY_ALLOWED: Final = N_(
    "L'accès en urgence est autorisé : un médecin urgentiste ou régulateur du SAMU pourra "
    "ouvrir votre dossier en cas d'urgence. Vous en serez prévenu aussitôt."
)
EMERGENCY_REFUSED: Final = N_(
    "L'accès en urgence est refusé : personne ne pourra ouvrir votre dossier sans faire partie "
    "de votre équipe de soins."
)
TREATING_DOCTOR_CLEARED: Final = N_("Vous n'avez plus de médecin traitant désigné.")
ORIGIN_LABELS: Final = {
    "CARE_TEAM": N_("Ajouté par vous"),
    "DECLARED": N_("A déclaré vous suivre"),
}


def added_message(name: str, language: str = "fr") -> str:
    return gettext(language, "{name} fait maintenant partie de votre équipe de soins.",
                   name=name)


def removed_message(name: str, language: str = "fr") -> str:
    return gettext(language, "{name} ne fait plus partie de votre équipe de soins : ce "
                   "professionnel ne peut plus lire votre dossier.", name=name)


def treating_doctor_message(name: str, language: str = "fr") -> str:
    return gettext(language, "{name} est maintenant votre médecin traitant.", name=name)


def blocked_message(name: str, blocked: bool, language: str = "fr") -> str:
    if blocked:
        return gettext(language, "Vous avez bloqué {name} : ce professionnel ne peut plus lire "
                       "votre dossier ni vous écrire.", name=name)
    return gettext(language, "Vous avez débloqué {name}.", name=name)


def normalized_rpps(value: str) -> str:
    """'1000 0000 001' -> '10000000001'; '' when it is not 11 digits."""
    digits = "".join(str(value or "").split())
    return digits if len(digits) == 11 and digits.isascii() and digits.isdigit() else ""


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip().lower()


def professional_name(row: Mapping[str, Any], language: str = "fr") -> str:
    """How a professional is named here (there is no personal name in the API): 'Médecin
    (Médecine générale)', or the profession alone (the API's words: RPPS professions)."""
    profession = (str(row.get("profession") or "").strip()
                  or gettext(language, "Professionnel de santé"))
    specialty = str(row.get("specialty") or "").strip()
    return f"{profession} ({specialty})" if specialty else profession


@dataclasses.dataclass(frozen=True)
class MemberItem:
    id: str  # the professional's id
    rpps: str
    name: str  # 'Médecin (Médecine générale)'
    practice: str  # '' if none
    origin: str  # 'Ajouté par vous'
    since: str  # French date
    status: str  # 'Accès actif jusqu'au …' / 'Accès expiré …'
    active: bool
    treating_doctor: bool
    can_be_treating_doctor: bool  # a physician, not already named
    blocked: bool


@dataclasses.dataclass(frozen=True)
class BlockedItem:
    id: str
    rpps: str
    name: str
    practice: str


def member_items(rows: list[Mapping[str, Any]], blocked: set[str], language: str = "fr"
                 ) -> list[MemberItem]:
    """My care team, médecin traitant first, then in the API's order (oldest first)."""
    items = []
    for row in rows:
        pro = row["professional"]
        active = bool(row["active"])
        treating = bool(row["treatingDoctor"])
        expires = date_text(row["expiresAt"], language)
        origin = ORIGIN_LABELS.get(str(row["origin"]))
        items.append(MemberItem(
            id=str(pro["id"]),
            rpps=str(pro["rpps"]),
            name=professional_name(pro, language),
            practice=str(pro.get("practiceName") or ""),
            origin=gettext(language, origin) if origin else "",
            since=date_text(row["since"], language),
            status=(gettext(language, "Accès actif jusqu'au {date} (prolongé à chaque "
                            "consultation)", date=expires) if active
                    else gettext(language, "Accès expiré le {date} faute de consultation",
                                 date=expires)),
            active=active,
            treating_doctor=treating,
            can_be_treating_doctor=not treating and _folded(pro["profession"]) == "medecin",
            blocked=str(pro["id"]) in blocked,
        ))
    return sorted(items, key=lambda item: not item.treating_doctor)


def blocked_items(rows: list[Mapping[str, Any]], team_ids: set[str], language: str = "fr"
                  ) -> list[BlockedItem]:
    """Blocked professionals outside my care team (those inside show it on their card)."""
    return [
        BlockedItem(id=str(row["id"]), rpps=str(row["rpps"]),
                    name=professional_name(row, language),
                    practice=str(row.get("practiceName") or ""))
        for row in rows
        if str(row["id"]) not in team_ids
    ]


def _refusal(result: Mapping[str, Any]) -> str:
    """The API's own French message for a refusal, or a generic one."""
    return str(result.get("message") or "").strip() or api.UNEXPECTED_MESSAGE


class CareTeamState(SessionState):
    loading: bool = True
    busy: bool = False
    error: str = ""  # the page could not be read ("Réessayer")
    info: str = ""  # what the last action did (role=status)
    rpps_error: str = ""  # next to the RPPS field
    action_error: str = ""  # a refused remove / médecin traitant / block, next to the list
    emergency_error: str = ""  # next to the emergency switch
    members: list[MemberItem] = []
    blocked_others: list[BlockedItem] = []
    emergency_allowed: bool = True
    rpps_field_key: int = 0  # a new key empties the (uncontrolled) RPPS field
    removing_id: str = ""  # the "Retirer" confirmation is open for this professional
    removing_name: str = ""

    def _clear_messages(self) -> None:
        self.error = ""
        self.info = ""
        self.rpps_error = ""
        self.action_error = ""
        self.emergency_error = ""

    async def _fetch(self) -> None:
        """Read my team, settings and blocks. Raises `api.ApiError`."""
        data = await self._query(CARE_TEAM)
        blocked_rows = data["blockedProfessionals"]
        blocked = {str(row["id"]) for row in blocked_rows}
        self.members = member_items(data["careTeam"], blocked, self.lang)
        self.blocked_others = blocked_items(blocked_rows, {m.id for m in self.members},
                                            self.lang)
        self.emergency_allowed = bool(data["accessSettings"]["emergencyAccessAllowed"])

    def _name_of(self, professional_id: str) -> str:
        for item in [*self.members, *self.blocked_others]:
            if item.id == professional_id:
                return item.name
        return self._t("Ce professionnel")

    def _expired(self) -> EventSpec:
        self.members = []
        self.blocked_others = []
        return super()._expired()

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self._clear_messages()
        yield
        await self._fetch()

    async def _change(self, document: Any, variables: dict[str, Any], field: str,
                      ok_typename: str) -> tuple[dict[str, Any] | None, str, bool]:
        """Run one mutation, then read the page again. Returns (result or None, French error
        or '', whether the session is gone)."""
        try:
            data = await self._query(document, variables)
        except api.ApiUnauthenticated:
            return None, "", True
        except api.ApiError as exc:
            return None, self._api_failed(exc), False
        result = data[field]
        if result.get("__typename") != ok_typename:
            return None, self._t(_refusal(result)), False
        try:
            await self._fetch()
        except api.ApiUnauthenticated:
            return None, "", True
        except api.ApiError as exc:
            return result, self._api_failed(exc), False
        return result, "", False

    @rx.event
    async def add(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """The "Ajouter" form: a professional by RPPS."""
        if self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        rpps = normalized_rpps(str(form_data.get("rpps", "")))
        if not rpps:
            self.rpps_error = self._t(RPPS_FORMAT)
            yield focus(RPPS_FIELD_ID)
            return
        if any(m.rpps == rpps and m.active for m in self.members):
            self.rpps_error = self._t(ALREADY_IN_TEAM)
            yield focus(RPPS_FIELD_ID)
            return
        self.busy = True
        yield
        try:
            result, error, expired = await self._change(
                ADD_TO_CARE_TEAM, {"rpps": rpps}, "addToCareTeam", "CareTeamMember")
        finally:
            self.busy = False
        if expired:
            yield self._expired()
            return
        if result is None:
            self.rpps_error = error
            yield focus(RPPS_FIELD_ID)
            return
        self.action_error = error
        self.info = added_message(professional_name(result["professional"], self.lang),
                                  self.lang)
        self.rpps_field_key += 1
        yield focus(RPPS_FIELD_ID)

    @rx.event
    def ask_remove(self, professional_id: str) -> None:
        """"Retirer de mon équipe": open the confirmation first."""
        if self.busy or not professional_id:
            return
        self.removing_id = professional_id
        self.removing_name = self._name_of(professional_id)
        self.info = ""

    @rx.event
    def remove_dialog_changed(self, is_open: bool) -> EventSpec | None:
        """The confirmation closed by "Annuler", Escape or a click outside: nothing removed,
        and the keyboard is back on the "Retirer" button that opened it (the dialog has no
        trigger of its own to give focus back to)."""
        if is_open or not self.removing_id:
            return None
        button = REMOVE_BUTTON_PREFIX + self.removing_id
        self.removing_id = ""
        self.removing_name = ""
        # By id, once the dialog has finished closing (Radix restores focus to what was focused
        # when it opened, which a re-rendered list may have replaced).
        return focus(button)

    @rx.event
    async def confirm_remove(self) -> AsyncIterator[EventSpec | None]:
        """"Retirer" in the confirmation."""
        professional_id = self.removing_id
        self.removing_id = ""
        self.removing_name = ""
        if not professional_id:
            return
        async for event in self._remove(professional_id):
            yield event

    async def _remove(self, professional_id: str) -> AsyncIterator[EventSpec | None]:
        """Remove from my care team: the professional reads nothing more, at once."""
        if self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        name = self._name_of(professional_id)
        self.busy = True
        yield
        try:
            result, error, expired = await self._change(
                REMOVE_FROM_CARE_TEAM, {"professionalId": professional_id},
                "removeFromCareTeam", "CareTeamMemberRemoved")
        finally:
            self.busy = False
        if expired:
            yield self._expired()
            return
        self.action_error = error
        if result is not None:
            self.info = removed_message(name, self.lang)
        yield focus(TEAM_HEADING_ID)

    @rx.event
    async def set_treating_doctor(self, rpps: str) -> AsyncIterator[EventSpec | None]:
        """"Désigner comme médecin traitant" (an RPPS), or none ('')."""
        if self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        name = next((m.name for m in self.members if m.rpps == rpps), self._t("Ce médecin"))
        self.busy = True
        yield
        try:
            result, error, expired = await self._change(
                SET_TREATING_DOCTOR, {"rpps": rpps or None}, "setTreatingDoctor",
                "AccessSettings")
        finally:
            self.busy = False
        if expired:
            yield self._expired()
            return
        self.action_error = error
        if result is not None:
            self.info = (treating_doctor_message(name, self.lang) if rpps
                         else self._t(TREATING_DOCTOR_CLEARED))
        yield focus(TEAM_HEADING_ID)

    @rx.event
    @api_errors(error="emergency_error", busy="busy")
    async def set_emergency_access(self, allowed: bool) -> AsyncIterator[EventSpec | None]:
        """The emergency access switch."""
        if self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        self.busy = True
        yield
        data = await self._query(SET_EMERGENCY_ACCESS, {"allowed": bool(allowed)})
        self.emergency_allowed = bool(data["setEmergencyAccess"]["emergencyAccessAllowed"])
        self.info = self._t(EMERGENCY_ALLOWED if self.emergency_allowed else EMERGENCY_REFUSED)

    @rx.event
    async def set_blocked(self, professional_id: str, blocked: bool
                          ) -> AsyncIterator[EventSpec | None]:
        """"Bloquer" / "Débloquer" (the messaging mutations)."""
        if self.busy or not professional_id:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        name = self._name_of(professional_id)
        self.busy = True
        yield
        try:
            result, error, expired = await self._change(
                BLOCK if blocked else UNBLOCK, {"professionalId": professional_id},
                "blockProfessional" if blocked else "unblockProfessional", "BlockChanged")
        finally:
            self.busy = False
        if expired:
            yield self._expired()
            return
        self.action_error = error
        if result is not None:
            self.info = blocked_message(name, bool(result.get("blocked")), self.lang)
        yield focus(TEAM_HEADING_ID)
