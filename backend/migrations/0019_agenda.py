"""The agenda (issue 13): appointments, slots, their notices, calendar feeds; and the data
version triggers of the patient-owned ones (migration 0018)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from backend.agenda.models import AppointmentSource, AppointmentStatus, NoticeKind, PlaceKind, SlotStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

import importlib

# Data versions (migration 0018, the response cache): the agenda's patient-owned tables bump
# their patient's version in the writing transaction. A slot names no patient and shows on no
# cached screen: no trigger (a global bump at every booking would be a hot row).
VERSIONS = importlib.import_module("backend.migrations.0018_data_version")
PATIENT_OF = {
    "appointment": "{r}.person_id",
    "calendar_feed": "{r}.person_id",
}
TABLES = tuple(PATIENT_OF)
# The notices outbox shows on no screen either, and its claims would bump (and lock) the
# patient's version for nothing.
UNVERSIONED = ("agenda_slot", "appointment_notice")

class Migration(migrations.Migration):
    dependencies = [('carnet', '0018_data_version')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CalendarFeed',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='calendar_feeds', on_delete=OnDelete.RESTRICT)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('include_reason', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'calendar_feed', 'app': 'carnet', 'indexes': [Index(fields=['person_id', 'revoked_at'])], 'pk_attr': 'id', 'table_description': "A patient's private subscription URL (/agenda/feed/{token}.ics): the token is random"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Slot',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('professional', fields.ForeignKeyField('carnet.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='slots', on_delete=OnDelete.RESTRICT)),
                ('start_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('end_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('time_zone', fields.CharField(default='Europe/Paris', max_length=64)),
                ('place_kind', fields.CharEnumField(default=PlaceKind.ADDRESS, description='ADDRESS: address\nTELECONSULTATION: teleconsultation', enum_type=PlaceKind, max_length=16)),
                ('place_address', fields.CharField(null=True, max_length=300)),
                ('status', fields.CharEnumField(default=SlotStatus.FREE, description='FREE: free\nBOOKED: booked', enum_type=SlotStatus, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'agenda_slot', 'app': 'carnet', 'unique_together': (('professional', 'start_at'),), 'indexes': [Index(fields=['professional_id', 'status', 'start_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Appointment',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.RESTRICT)),
                ('professional', fields.ForeignKeyField('carnet.Professional', source_field='professional_id', null=True, db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.RESTRICT)),
                ('start_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('end_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('time_zone', fields.CharField(default='Europe/Paris', max_length=64)),
                ('place_kind', fields.CharEnumField(default=PlaceKind.ADDRESS, description='ADDRESS: address\nTELECONSULTATION: teleconsultation', enum_type=PlaceKind, max_length=16)),
                ('status', fields.CharEnumField(default=AppointmentStatus.BOOKED, description='PROPOSED: proposed\nBOOKED: booked\nCANCELLED: cancelled\nDONE: done\nNO_SHOW: no_show', enum_type=AppointmentStatus, max_length=10)),
                ('source', fields.CharEnumField(description='PATIENT: patient\nPROFESSIONAL: professional\nPROFESSIONAL_SOFTWARE: professional_software\nBOOKED_SLOT: booked_slot', enum_type=AppointmentSource, max_length=24)),
                ('details_encrypted', fields.BinaryField()),
                ('data_key_id', fields.IntField()),
                ('slot', fields.ForeignKeyField('carnet.Slot', source_field='slot_id', null=True, db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.RESTRICT)),
                ('active_slot_id', fields.UUIDField(null=True, unique=True)),
                ('source_key', fields.CharField(null=True, max_length=64)),
                ('sequence', fields.IntField(default=0)),
                ('created_by_account_id', fields.IntField()),
                ('updated_by_account_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'appointment', 'app': 'carnet', 'unique_together': (('person', 'source_key'),), 'indexes': [Index(fields=['person_id', 'start_at']), Index(fields=['professional_id', 'start_at']), Index(fields=['slot_id']), Index(fields=['start_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AppointmentNotice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('carnet.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='appointment_notices', on_delete=OnDelete.RESTRICT)),
                ('appointment', fields.ForeignKeyField('carnet.Appointment', source_field='appointment_id', db_constraint=True, to_field='id', related_name='notices', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='REMINDER: reminder\nMOVED: moved\nCANCELLED: cancelled', enum_type=NoticeKind, max_length=10)),
                ('appointment_sequence', fields.IntField()),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'appointment_notice', 'app': 'carnet', 'unique_together': (('person', 'appointment', 'kind', 'appointment_sequence'),), 'indexes': [Index(fields=['sent_at', 'due_at']), Index(fields=['appointment_id'])], 'pk_attr': 'id', 'table_description': 'The outbox of what the patient is told about an appointment: one row per (appointment,'},
            bases=['Model'],
        ),
        VERSIONS.VersionTriggers(TABLES, PATIENT_OF, with_table=False),
    ]
