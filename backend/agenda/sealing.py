"""The sealed free texts of an appointment (`Appointment.details_encrypted`).

An appointment's details are health data ("Oncologie, Dr X, Institut Curie"): a JSON object
{"reason", "notes", "practitioner", "place"} (each optional, strings) sealed with the patient's
data key (backend/keys), like profile entries (backend/profile/services.py `seal`/`unseal`).
The associated data binds the blob to its appointment id: a blob copied onto another row (or
another table) does not open.

The one seal/unseal of the agenda: every writer (the patient's own entries, scheduleAppointment,
FHIR intake, booking) seals with `seal_details` / `sealed_for`, every reader opens with
`unseal_details` / `DetailsReader`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from backend.keys import services as keys
from backend.settings import Settings

DETAIL_KEYS = ("reason", "notes", "practitioner", "place")


def associated(appointment_id: uuid.UUID) -> bytes:
    return b"carnet:agenda:appointment:" + appointment_id.bytes


def _clean(details: Mapping[str, Any]) -> dict[str, str]:
    unknown = set(details) - set(DETAIL_KEYS)
    if unknown:
        raise ValueError(f"unknown appointment detail(s): {sorted(unknown)}")
    return {k: str(v) for k, v in details.items() if v not in (None, "")}


def seal_details(data_key: bytes, appointment_id: uuid.UUID,
                 details: Mapping[str, Any]) -> bytes:
    """`details` (keys among DETAIL_KEYS; None and "" dropped) sealed for this appointment."""
    payload = json.dumps(_clean(details), ensure_ascii=False, separators=(",", ":"),
                         sort_keys=True)
    return keys.encrypt_bytes(data_key, payload.encode(), associated=associated(appointment_id))


def unseal_details(data_key: bytes, appointment_id: uuid.UUID, blob: bytes) -> dict[str, str]:
    plain = keys.decrypt_bytes(data_key, bytes(blob), associated=associated(appointment_id))
    details = json.loads(plain.decode())
    return {k: details[k] for k in DETAIL_KEYS if details.get(k)}


async def sealed_for(settings: Settings, person_id: int, appointment_id: uuid.UUID,
                     details: Mapping[str, Any]) -> tuple[int, bytes]:
    """(data_key_id, details_encrypted) for a new or updated appointment of `person_id`,
    under the patient's active data key (created on first use)."""
    data_key_id, data_key = await keys.data_key_for(settings, person_id)
    return data_key_id, seal_details(data_key, appointment_id, details)


class DetailsReader:
    """Opens many appointments' details, unwrapping each data key once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: dict[int, bytes] = {}

    async def key(self, data_key_id: int) -> bytes:
        key = self._keys.get(data_key_id)
        if key is None:
            key = self._keys[data_key_id] = await keys.data_key_by_id(self.settings,
                                                                      data_key_id)
        return key

    async def details(self, appointment: Any) -> dict[str, str]:
        key = await self.key(appointment.data_key_id)
        return unseal_details(key, appointment.id, appointment.details_encrypted)

    async def all(self, appointments: Iterable[Any]) -> dict[uuid.UUID, dict[str, str]]:
        return {a.id: await self.details(a) for a in appointments}
