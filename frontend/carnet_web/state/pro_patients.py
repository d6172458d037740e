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
from carnet_web.state.formatting import french_date, french_datetime, french_day
from carnet_web.state.pro_common import GROUND_LABELS, record_href, require_professional
from carnet_web.state.session import SessionState

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


def patient_name(birth_name: object, first_names: object) -> str:
    """'DUPONT Jean' (the birth name in capitals, as on care documents)."""
    last = str(birth_name or "").strip().upper()
    first = " ".join(str(first_names or "").split())
    return f"{last} {first}".strip() or "Patient"


def ground_label(ground: object) -> str:
    return GROUND_LABELS.get(str(ground or ""), "Accès autorisé")


def expiry_label(ground: object, expires_at: object) -> str:
    """'Jusqu'au 3 mars 2029' / for an emergency access, with the time."""
    iso = str(expires_at or "")
    when = french_datetime(iso) if ground == "EMERGENCY" else french_date(iso)
    return f"Jusqu'au {when}" if when else ""


@dataclasses.dataclass(frozen=True)
class PatientItem:
    id: str
    name: str
    birth_date: str  # '2 mars 1985'
    ground: str  # its French label
    emergency: bool
    expiry: str  # 'Jusqu'au 3 mars 2029'
    href: str  # the record page


def patient_items(rows: list[Mapping[str, Any]]) -> list[PatientItem]:
    return [
        PatientItem(
            id=str(row["patientId"]),
            name=patient_name(row.get("birthName"), row.get("firstNames")),
            birth_date=french_day(str(row.get("birthDate") or "")),
            ground=ground_label(row.get("ground")),
            emergency=row.get("ground") == "EMERGENCY",
            expiry=expiry_label(row.get("ground"), row.get("expiresAt")),
            href=record_href(str(row["patientId"])),
        )
        for row in rows
    ]


class ProPatientsState(SessionState):
    loading: bool = True
    error: str = ""
    patients: list[PatientItem] = []

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        yield
        try:
            data = await self._query(MY_PATIENTS, {"first": PATIENTS_SHOWN})
            self.patients = patient_items(data["patients"])
        except api.ApiUnauthenticated:
            self.patients = []
            yield self._to_login(api.UNAUTHENTICATED_MESSAGE)
            return
        except api.ApiError as exc:
            self.error = exc.message
        finally:
            self.loading = False
