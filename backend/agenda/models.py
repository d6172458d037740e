"""Appointments, bookable slots, the notices about them (an outbox), calendar feeds.

Every appointment belongs to one patient (`person`); its free texts (reason, notes, the
practitioner and place of a patient's own entry) are health data ("Oncologie, Dr X") and are
sealed with the patient's data key like profile entries. A professional's slot names no
patient; the place of a slot is the practice's (not health data).

Never two bookings of one slot: `Appointment.active_slot_id` is UNIQUE and set only while the
appointment holds its slot (proposed or booked); cancelling clears it, which frees the slot for
a new booking (a new appointment row), while `slot_id` keeps the history. The database refuses
the second booking even when two workers race (issue 13 §3).
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AppointmentStatus(StrEnum):
    PROPOSED = "proposed"
    BOOKED = "booked"
    CANCELLED = "cancelled"
    DONE = "done"
    NO_SHOW = "no_show"


class AppointmentSource(StrEnum):
    PATIENT = "patient"  # the patient's own entry
    PROFESSIONAL = "professional"  # scheduleAppointment (GraphQL)
    PROFESSIONAL_SOFTWARE = "professional_software"  # FHIR Appointment
    BOOKED_SLOT = "booked_slot"  # the patient booked a published slot


class PlaceKind(StrEnum):
    ADDRESS = "address"
    TELECONSULTATION = "teleconsultation"


class SlotStatus(StrEnum):
    FREE = "free"
    BOOKED = "booked"


class NoticeKind(StrEnum):
    REMINDER = "reminder"  # the day before (AGENDA_REMINDER_HOURS_BEFORE)
    MOVED = "moved"  # a professional (or their software) moved it
    CANCELLED = "cancelled"  # a professional (or their software) cancelled it


class Slot(Model):
    id = fields.UUIDField(primary_key=True)
    professional: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="slots", on_delete=fields.RESTRICT
    )
    start_at = fields.DatetimeField()
    end_at = fields.DatetimeField()
    time_zone = fields.CharField(max_length=64, default="Europe/Paris")
    place_kind = fields.CharEnumField(PlaceKind, max_length=16, default=PlaceKind.ADDRESS)
    place_address = fields.CharField(max_length=300, null=True)
    status = fields.CharEnumField(SlotStatus, max_length=8, default=SlotStatus.FREE)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "agenda_slot"
        # One slot per professional and start: publishing the same recurrence twice adds nothing.
        unique_together = (("professional", "start_at"),)
        indexes = (("professional_id", "status", "start_at"),)


class Appointment(Model):
    # Random: appointment ids appear in URLs (.ics, FHIR Location) and must not be countable.
    id = fields.UUIDField(primary_key=True)
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="appointments", on_delete=fields.RESTRICT
    )
    # The professional it is with, when known to Carnet; a patient's own entry may instead name
    # a practitioner in free text (sealed in `details_encrypted`).
    professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="appointments", null=True,
        on_delete=fields.RESTRICT
    )
    start_at = fields.DatetimeField()
    end_at = fields.DatetimeField()
    time_zone = fields.CharField(max_length=64, default="Europe/Paris")
    place_kind = fields.CharEnumField(PlaceKind, max_length=16, default=PlaceKind.ADDRESS)
    status = fields.CharEnumField(AppointmentStatus, max_length=10,
                                  default=AppointmentStatus.BOOKED)
    source = fields.CharEnumField(AppointmentSource, max_length=24)
    # Sealed JSON with the patient's data key: {"reason", "notes", "practitioner", "place"}
    # (each optional). Associated data: the appointment id (a blob moved to another row fails).
    details_encrypted = fields.BinaryField()
    data_key_id = fields.IntField()
    slot: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Slot", related_name="appointments", null=True, on_delete=fields.RESTRICT
    )
    # = slot_id while the appointment holds the slot (proposed/booked), else NULL: UNIQUE, so
    # the database itself refuses a second booking of one slot.
    active_slot_id = fields.UUIDField(null=True, unique=True)
    # Professional software's own id of the appointment (FHIR identifier, hashed with its
    # system): a repeated POST of the same appointment updates it instead of adding a copy.
    source_key = fields.CharField(max_length=64, null=True)
    # Incremented by every change of time, place or status: the .ics SEQUENCE, and the key of
    # the notices (one "moved" notice per move).
    sequence = fields.IntField(default=0)
    created_by_account_id = fields.IntField()
    updated_by_account_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "appointment"
        unique_together = (("person", "source_key"),)
        # The agenda by patient and time, a professional's bookings, a slot's appointments,
        # and the reminder sweep (every patient's appointments starting soon).
        indexes = (("person_id", "start_at"), ("professional_id", "start_at"), ("slot_id",),
                   ("start_at",))


class AppointmentNotice(Model):
    """The outbox of what the patient is told about an appointment: one row per (appointment,
    kind, sequence), inserted in the transaction of the change (or by the reminder sweep),
    claimed and sent exactly once whatever the number of workers and restarts."""

    id = fields.BigIntField(primary_key=True)
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="appointment_notices", on_delete=fields.RESTRICT
    )
    appointment: fields.ForeignKeyRelation[Appointment] = fields.ForeignKeyField(
        "carnet.Appointment", related_name="notices", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(NoticeKind, max_length=10)
    appointment_sequence = fields.IntField()
    due_at = fields.DatetimeField()
    claimed_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "appointment_notice"
        # Led by the patient (the distribution key, docs/scaling.md).
        unique_together = (("person", "appointment", "kind", "appointment_sequence"),)
        # The sender's due notices; an appointment's notices (its delete cascades).
        indexes = (("sent_at", "due_at"), ("appointment_id",))


class CalendarFeed(Model):
    """A patient's private subscription URL (/agenda/feed/{token}.ics): the token is random
    and only its keyed hash is stored; revoking sets revoked_at (a new feed is a new row)."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="calendar_feeds", on_delete=fields.RESTRICT
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    include_reason = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "calendar_feed"
        indexes = (("person_id", "revoked_at"),)
