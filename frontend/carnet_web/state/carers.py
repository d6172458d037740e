"""State of "Mes aidants" (/mes-aidants): who I let help with my space (issue 15 part 9).

The list (`carers`): each carer's masked address, the parts of my space in plain words, read
only or read and write, until when, and "en attente" while no account took up the invitation.
The form adds one (`grantCarer`): the API's typed refusal (`InvalidCarerGrant.field`: email,
parts or endsAt) is shown next to that field. "Retirer" (after a confirmation) revokes at once
(`revokeCarer`) and the list is read again: what is shown is what the API holds. Needs a session.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.routes import CARERS_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.focus import focus
from carnet_web.state.formatting import (
    date_text,
    day_text,
    display_zone,
    parse_moment,
    today_here,
)
from carnet_web.state.session import SessionState, api_errors

HEADING_ID: Final = "carers-heading"
EMAIL_ID: Final = "carer-email"
PARTS_ID: Final = "carer-parts"
ENDS_ID: Final = "carer-ends"
REVOKE_BUTTON_PREFIX: Final = "carer-revoke-"  # + the carer's id
MAX_EMAIL_LENGTH: Final = 254

#: The parts of my space a carer may be given (`CarerPart`), in the form's order.
PARTS: Final = ("DOCUMENTS", "PROFILE", "AGENDA")
PART_LABELS: Final = {
    "DOCUMENTS": N_("Mes documents"),
    "PROFILE": N_("Mon profil médical"),
    "AGENDA": N_("Agenda"),
}

CARERS: Final = api.operation(
    """
    query Carers {
      carers { id emailHint parts canWrite createdAt endsAt linked }
    }
    """
)

GRANT_CARER: Final = api.operation(
    """
    mutation GrantCarer($email: String!, $parts: [CarerPart!]!, $canWrite: Boolean!,
                        $endsAt: DateTime) {
      grantCarer(email: $email, parts: $parts, canWrite: $canWrite, endsAt: $endsAt) {
        __typename
        ... on Carer { id emailHint }
        ... on InvalidCarerGrant { field message }
      }
    }
    """
)

REVOKE_CARER: Final = api.operation(
    """
    mutation RevokeCarer($id: ID!) {
      revokeCarer(id: $id) {
        __typename
        ... on CarerRevoked { id }
        ... on Error { message }
      }
    }
    """
)

EMAIL_MISSING: Final = N_("Indiquez l'adresse e-mail de la personne.")
PARTS_MISSING: Final = N_("Choisissez au moins une partie de votre espace.")
ENDS_INVALID: Final = N_("Indiquez une date à venir, ou laissez vide.")
READ_ONLY: Final = N_("Lecture seule")
READ_WRITE: Final = N_("Lecture et modification")
PENDING: Final = N_("En attente : la personne n'a pas encore de compte Carnet avec cette adresse")
NO_END: Final = N_("Sans date de fin")
THIS_CARER: Final = N_("Cette personne")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass(frozen=True)
class CarerItem:
    id: str
    email_hint: str
    parts: str  # 'Mes documents, Agenda'
    access: str  # 'Lecture seule' / 'Lecture et modification'
    until: str  # "Jusqu'au 31 décembre 2030" / 'Sans date de fin'
    since: str  # 'Ajoutée le 3 décembre 2026'
    pending: bool  # no account took up the invitation yet


def parts_text(parts: list[str], language: str) -> str:
    return ", ".join(gettext(language, PART_LABELS[p]) for p in PARTS if p in parts)


def last_day(iso: str) -> date | None:
    """The last day of a grant ending at `iso` (the form's date D is sent as D+1 00:00, Paris
    time: the carer keeps access all through D)."""
    moment = parse_moment(iso)
    if moment is None:
        return None
    return (moment.astimezone(display_zone()) - timedelta(microseconds=1)).date()


def carer_items(rows: list[Mapping[str, Any]], language: str = "fr") -> list[CarerItem]:
    items = []
    for row in rows:
        parts = [str(p) for p in row.get("parts") or []]
        end = last_day(str(row.get("endsAt") or ""))
        created = date_text(str(row.get("createdAt") or ""), language)
        items.append(CarerItem(
            id=str(row["id"]),
            email_hint=str(row.get("emailHint") or ""),
            parts=parts_text(parts, language),
            access=gettext(language, READ_WRITE if row.get("canWrite") else READ_ONLY),
            until=(gettext(language, "Jusqu'au {date}", date=day_text(end.isoformat(), language))
                   if end is not None else gettext(language, NO_END)),
            since=gettext(language, "Ajoutée le {date}", date=created) if created else "",
            pending=not row.get("linked"),
        ))
    return items


def ends_at(value: str, today: date) -> str | None:
    """The form's end date ('2030-12-31', the browser's date field) as the API's moment: the
    end of that day, Paris time. '' -> None (no end). Raises ValueError when it is not a date
    to come (today included)."""
    value = value.strip()
    if not value:
        return None
    if not _DATE.match(value):
        raise ValueError(value)
    day = date.fromisoformat(value)
    if day < today:
        raise ValueError(value)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=display_zone())
    return end.isoformat()


def chosen_parts(form_data: Mapping[str, Any]) -> list[str]:
    """The checked parts ('part_DOCUMENTS': 'on', ...), in the form's order."""
    return [p for p in PARTS
            if str(form_data.get("part_" + p) or "").lower() in ("on", "true", "1")]


class CarersState(SessionState):
    loading: bool = True
    busy: bool = False
    error: str = ""  # the list could not be read ("Réessayer")
    action_error: str = ""  # a failed grant or revocation (not a field's)
    info: str = ""  # what the last action did (role=status)
    carers: list[CarerItem] = []
    email_error: str = ""
    parts_error: str = ""
    ends_error: str = ""
    form_key: int = 0  # changed after a grant: the form comes back empty
    revoking_id: str = ""  # the confirmation is open for this carer
    revoking_label: str = ""

    async def _fetch(self) -> None:
        data = await self._query(CARERS)
        self.carers = carer_items(data["carers"], self.lang)

    def _clear_messages(self) -> None:
        self.error = self.action_error = self.info = ""
        self.email_error = self.parts_error = self.ends_error = ""

    def _expired(self) -> EventSpec:
        self.carers = []
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

    @rx.event
    @api_errors(error="action_error", busy="busy")
    async def grant(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Ajouter": checks what the browser can, then the API decides."""
        if self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        email = str(form_data.get("email") or "").strip()[:MAX_EMAIL_LENGTH]
        parts = chosen_parts(form_data)
        can_write = str(form_data.get("access") or "") == "write"
        try:
            end = ends_at(str(form_data.get("ends_on") or ""), today_here())
        except ValueError:
            end = None
            self.ends_error = self._t(ENDS_INVALID)
        if not email:
            self.email_error = self._t(EMAIL_MISSING)
        if not parts:
            self.parts_error = self._t(PARTS_MISSING)
        if self.email_error or self.parts_error or self.ends_error:
            yield focus(EMAIL_ID if self.email_error else
                        PARTS_ID + "-DOCUMENTS" if self.parts_error else ENDS_ID)
            return
        self.busy = True
        yield
        result = (await self._query(GRANT_CARER, {
            "email": email, "parts": parts, "canWrite": can_write, "endsAt": end,
        }))["grantCarer"]
        if result.get("__typename") == "InvalidCarerGrant":
            message = str(result.get("message") or "") or self._t(api.UNEXPECTED_MESSAGE)
            field = str(result.get("field") or "")
            if field == "parts":
                self.parts_error = message
                yield focus(PARTS_ID + "-DOCUMENTS")
            elif field == "endsAt":
                self.ends_error = message
                yield focus(ENDS_ID)
            elif field == "email":
                self.email_error = message
                yield focus(EMAIL_ID)
            else:
                self.action_error = message
            return
        if result.get("__typename") != "Carer":
            self.action_error = self._t(api.UNEXPECTED_MESSAGE)
            return
        self.info = self._t("{email} peut maintenant vous aider, dans les limites choisies.",
                            email=str(result.get("emailHint") or ""))
        self.form_key += 1
        await self._fetch()
        yield focus(HEADING_ID)

    @rx.event
    def ask_revoke(self, carer_id: str) -> None:
        """"Retirer": the confirmation first."""
        if self.busy or not carer_id:
            return
        item = next((c for c in self.carers if c.id == carer_id), None)
        if item is None:
            return
        self.revoking_id = carer_id
        self.revoking_label = item.email_hint or self._t(THIS_CARER)
        self.info = ""

    @rx.event
    def revoke_dialog_changed(self, is_open: bool) -> EventSpec | None:
        """The confirmation closed by "Annuler", Escape or a click outside: nothing revoked,
        and the keyboard goes back to the button that opened it."""
        if is_open or not self.revoking_id:
            return None
        button = REVOKE_BUTTON_PREFIX + self.revoking_id
        self.revoking_id = ""
        self.revoking_label = ""
        return focus(button)

    @rx.event
    @api_errors(error="action_error", busy="busy")
    async def confirm_revoke(self) -> AsyncIterator[EventSpec | None]:
        """"Retirer" in the confirmation: the carer loses access at once."""
        carer_id, label = self.revoking_id, self.revoking_label
        self.revoking_id = self.revoking_label = ""
        if not carer_id or self.busy:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self._clear_messages()
        self.busy = True
        yield
        result = (await self._query(REVOKE_CARER, {"id": carer_id}))["revokeCarer"]
        if result.get("__typename") == "CarerRevoked":
            self.info = self._t("{email} n'a plus accès à votre espace.", email=label)
        else:
            self.action_error = str(result.get("message") or "") or self._t(
                api.UNEXPECTED_MESSAGE)
        await self._fetch()
        yield focus(HEADING_ID)
