"""Refusals of the agenda the client can act on (typed GraphQL errors, backend/agenda/types.py).

Messages are French msgids (backend/i18n.py), never health or identity data."""

from __future__ import annotations

from datetime import datetime

from backend.errors import DomainError
from backend.i18n import N_


class AgendaError(DomainError):
    pass


class AppointmentNotFound(AgendaError):
    """Missing, someone else's, or not reachable by this viewer: one answer."""

    message = N_("Rendez-vous introuvable.")


class SlotNotFound(AgendaError):
    message = N_("Créneau introuvable.")


class SlotTaken(AgendaError):
    message = N_("Ce créneau vient d'être réservé : choisissez-en un autre.")


class SlotInPast(AgendaError):
    message = N_("Ce créneau est déjà passé.")


class TooLateToCancel(AgendaError):
    """The patient may cancel (or move) an appointment with a professional until `deadline`
    (AGENDA_CANCEL_DEADLINE_HOURS before its start)."""

    message = N_("Trop tard pour annuler ou déplacer ce rendez-vous en ligne : contactez le "
                 "cabinet.")

    def __init__(self, deadline: datetime) -> None:
        super().__init__()
        self.deadline = deadline


class InvalidAppointmentInput(AgendaError):
    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field
