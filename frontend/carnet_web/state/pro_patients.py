"""State of "Mes patients" (/pro), the professional's home: the patients whose record I may
read now (active care relationships and open emergency accesses), with the ground and until
when. Professionals only."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.state.formatting import date_text, datetime_text, day_text
from carnet_web.state.pro_common import GROUND_LABELS, record_href, require_professional
from carnet_web.state.session import SessionState, api_errors

PATIENTS_SHOWN: Final = 200  # the API's maximum page

MY_PATIENTS: Final = api.operation(
    """
    query MyPatients($first: Int!) {
      patients(first: $first) {
        patientId birthName firstNames birthDate ground since expiresAt
      }
    }
    """
)


def patient_name(birth_name: object, first_names: object, language: str = "fr") -> str:
    """'DUPONT Jean' (the birth name in capitals, as on care documents)."""
    last = str(birth_name or "").strip().upper()
    first = " ".join(str(first_names or "").split())
    return f"{last} {first}".strip() or gettext(language, "Patient")


def ground_label(ground: object, language: str = "fr") -> str:
    unknown = N_("Accès autorisé")
    return gettext(language, GROUND_LABELS.get(str(ground or ""), unknown))


def expiry_label(ground: object, expires_at: object, language: str = "fr") -> str:
    """'Jusqu'au 3 mars 2029' / for an emergency access, with the time."""
    iso = str(expires_at or "")
    when = datetime_text(iso, language) if ground == "EMERGENCY" else date_text(iso, language)
    return gettext(language, "Jusqu'au {date}", date=when) if when else ""


@dataclasses.dataclass(frozen=True)
class PatientItem:
    id: str
    name: str
    birth_date: str  # '2 mars 1985'
    ground: str  # its French label
    emergency: bool
    expiry: str  # 'Jusqu'au 3 mars 2029'
    href: str  # the record page


def patient_items(rows: list[Mapping[str, Any]], language: str = "fr") -> list[PatientItem]:
    return [
        PatientItem(
            id=str(row["patientId"]),
            name=patient_name(row.get("birthName"), row.get("firstNames"), language),
            birth_date=day_text(str(row.get("birthDate") or ""), language),
            ground=ground_label(row.get("ground"), language),
            emergency=row.get("ground") == "EMERGENCY",
            expiry=expiry_label(row.get("ground"), row.get("expiresAt"), language),
            href=record_href(str(row["patientId"])),
        )
        for row in rows
    ]


class ProPatientsState(SessionState):
    loading: bool = True
    error: str = ""
    patients: list[PatientItem] = []

    def _expired(self) -> EventSpec:
        self.patients = []
        return super()._expired()

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        yield
        data = await self._query(MY_PATIENTS, {"first": PATIENTS_SHOWN})
        self.patients = patient_items(data["patients"], self.lang)
