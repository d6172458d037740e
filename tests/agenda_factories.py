"""Plain async factories for the agenda's tests: appointments written straight with the
models and the agenda's one sealing helper (backend/agenda/sealing.py), and the changes a
professional's move or cancellation makes (sequence + 1, and its notice in the same
transaction), as the agenda's services do."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from backend.agenda import reminders
from backend.agenda.models import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    NoticeKind,
    PlaceKind,
)
from backend.agenda.sealing import sealed_for
from backend.settings import Settings


async def create_appointment(
    settings: Settings, account: Any, *, start: datetime, minutes: int = 30,
    professional: Any = None, status: AppointmentStatus = AppointmentStatus.BOOKED,
    details: dict[str, str] | None = None, place_kind: PlaceKind = PlaceKind.ADDRESS,
    time_zone: str = "Europe/Paris", created_at: datetime | None = None,
) -> Appointment:
    """An appointment of the patient `account` (an Account with a person), with the
    professional of the account `professional` if given."""
    appointment_id = uuid.uuid4()
    data_key_id, sealed = await sealed_for(settings, account.person_id, appointment_id,
                                           details or {})
    appointment = await Appointment.create(
        id=appointment_id, person_id=account.person_id,
        professional_id=getattr(professional, "professional_id", None), start_at=start,
        end_at=start + timedelta(minutes=minutes), time_zone=time_zone, place_kind=place_kind,
        status=status,
        source=AppointmentSource.PROFESSIONAL if professional else AppointmentSource.PATIENT,
        details_encrypted=sealed, data_key_id=data_key_id,
        created_by_account_id=account.id,
    )
    if created_at is not None:
        await Appointment.filter(id=appointment.id).update(created_at=created_at,
                                                           updated_at=created_at)
        appointment = await Appointment.get(id=appointment.id)
    return appointment


async def move(appointment: Appointment, start: datetime, *, now: datetime) -> Appointment:
    """A professional moves it: new time, sequence + 1, one "moved" notice."""
    duration = appointment.end_at - appointment.start_at
    async with in_transaction() as conn:
        appointment.start_at = start
        appointment.end_at = start + duration
        appointment.sequence += 1
        await appointment.save(using_db=conn, update_fields=["start_at", "end_at", "sequence",
                                                             "updated_at"])
        await reminders.notice_change(appointment, NoticeKind.MOVED, now=now, using_db=conn)
    return appointment


async def cancel(appointment: Appointment, *, now: datetime) -> Appointment:
    """A professional cancels it: status cancelled, sequence + 1, one "cancelled" notice."""
    async with in_transaction() as conn:
        appointment.status = AppointmentStatus.CANCELLED
        appointment.active_slot_id = None
        appointment.sequence += 1
        await appointment.save(using_db=conn, update_fields=["status", "active_slot_id",
                                                             "sequence", "updated_at"])
        await reminders.notice_change(appointment, NoticeKind.CANCELLED, now=now,
                                      using_db=conn)
    return appointment
