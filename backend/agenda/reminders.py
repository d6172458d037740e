"""What the patient is told about an appointment, by email or SMS, with NO health detail: a
reminder before it (AGENDA_REMINDER_HOURS_BEFORE) and a notice when a professional (or their
software) moves or cancels it. Each is sent exactly once whatever the number of workers and
restarts, through the `AppointmentNotice` outbox:

1. Rows are inserted set-based and idempotently, keyed by (person, appointment, kind,
   appointment_sequence), the table's unique key:
   - reminders by `sweep_reminders`: ONE `INSERT ... SELECT ... ON CONFLICT DO NOTHING` over
     the proposed and booked appointments starting within the window, at their current
     sequence, so a moved appointment (sequence + 1) gets a new reminder for its new time;
   - "moved" / "cancelled" by the service that changes the appointment, in its transaction,
     with `notice_change` (one notice per change: the key holds the new sequence).
2. `send_due` claims due, unsent notices atomically: ONE `UPDATE ... SET claimed_at = now,
   attempts = attempts + 1 WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`
   on PostgreSQL (concurrent senders skip each other's rows, none waits), a patient per
   statement (see `_CLAIM`: no deadlock on the data version rows); the same statement without
   the lock clause on SQLite, whose writers are serialised. A notice claimed by a
   sender that died is claimable again once its lease (AGENDA_NOTICE_LEASE_SECONDS) is over.
3. Each claimed notice is checked against its appointment as it is NOW: a notice whose
   sequence is no longer the appointment's (moved or cancelled since), and a reminder of an
   appointment no longer proposed or booked or already begun, is obsolete and deleted unsent.
   Otherwise one email or SMS goes to the patient's notice route (their chosen channel, else
   their other verified contact: backend/identity/notices.py), in their language, then
   `sent_at` is set. Nobody to tell (no active account, no verified contact): `sent_at` is set
   without sending. A delivery failure leaves the notice claimed: it is tried again after the
   lease, at most AGENDA_NOTICE_MAX_ATTEMPTS times in all.

The texts name only a day and a time: no reason, no specialty, no professional, no place.

Exactly once has one gap no outbox closes without the provider's help: a process that dies
after the provider accepted a message but before `sent_at` is written sends it again after the
lease (at least once, never lost). Every function takes `now`: nothing reads the clock but
`run_once`'s default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from tortoise import connections

from backend.agenda.models import Appointment, AppointmentNotice, AppointmentStatus, NoticeKind
from backend.i18n import N_, Message, normalise
from backend.identity import notices
from backend.identity.models import Account, AccountStatus
from backend.runtime import Runtime
from backend.settings import Settings

log = logging.getLogger(__name__)

# Appointments that are reminded of (and whose reminders stay valid).
REMINDED = (AppointmentStatus.PROPOSED, AppointmentStatus.BOOKED)


@dataclass(frozen=True)
class NoticeText:
    subject: str
    body: str  # placeholders {day} {time}


TEXTS = {
    NoticeKind.REMINDER: NoticeText(
        N_("Carnet : rappel de rendez-vous"),
        N_("Rappel : vous avez rendez-vous le {day} à {time}. "
           "Détails dans votre espace Carnet.")),
    NoticeKind.MOVED: NoticeText(
        N_("Carnet : rendez-vous déplacé"),
        N_("Un de vos rendez-vous a été déplacé au {day} à {time}. "
           "Détails dans votre espace Carnet.")),
    NoticeKind.CANCELLED: NoticeText(
        N_("Carnet : rendez-vous annulé"),
        N_("Votre rendez-vous du {day} à {time} a été annulé. "
           "Détails dans votre espace Carnet.")),
}


def _db() -> Any:
    return connections.get("default")


def _postgres(conn: Any) -> bool:
    return conn.capabilities.dialect == "postgres"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware `now`")
    return value.astimezone(UTC)


def _param(conn: Any, value: Any) -> Any:
    # SQLite stores UUIDs as text (asyncpg takes UUID objects).
    return str(value) if isinstance(value, UUID) and not _postgres(conn) else value


# --- 1. inserting ---------------------------------------------------------------------------

_SWEEP = (
    'INSERT INTO "appointment_notice" ("person_id","appointment_id","kind",'
    '"appointment_sequence","due_at","attempts","created_at") '
    'SELECT "a"."person_id","a"."id",{reminder},"a"."sequence",{now},0,{now} '
    'FROM "appointment" "a" '
    'WHERE "a"."status" IN ({proposed},{booked}) AND "a"."start_at">{now} '
    'AND "a"."start_at"<={until} '
    'ON CONFLICT ("person_id","appointment_id","kind","appointment_sequence") DO NOTHING'
)


async def sweep_reminders(settings: Settings, *, now: datetime, conn: Any = None) -> int:
    """Insert the missing reminders of appointments starting within the window (one
    statement). Returns how many it inserted."""
    conn = conn or _db()
    now = _utc(now)
    until = now + timedelta(hours=settings.agenda_reminder_hours_before)
    if _postgres(conn):
        marks = {"now": "$1", "until": "$2", "reminder": "$3", "proposed": "$4", "booked": "$5"}
        values: list[Any] = [now, until, NoticeKind.REMINDER.value,
                             AppointmentStatus.PROPOSED.value, AppointmentStatus.BOOKED.value]
        sql = _SWEEP.format(**marks)
    else:  # "?" placeholders are positional: repeat the values in text order
        sql = _SWEEP.format(now="?", until="?", reminder="?", proposed="?", booked="?")
        values = [NoticeKind.REMINDER.value, now, now, AppointmentStatus.PROPOSED.value,
                  AppointmentStatus.BOOKED.value, now, until]
    rows = await conn.execute_query_dict(sql + ' RETURNING "id"', values)
    return len(rows)


_CHANGE = (
    'INSERT INTO "appointment_notice" ("person_id","appointment_id","kind",'
    '"appointment_sequence","due_at","attempts","created_at") '
    'VALUES ({p},{p},{p},{p},{p},0,{p}) '
    'ON CONFLICT ("person_id","appointment_id","kind","appointment_sequence") DO NOTHING'
)


async def notice_change(appointment: Appointment, kind: NoticeKind, *, now: datetime,
                        using_db: Any = None) -> bool:
    """Queue the "moved" or "cancelled" notice of a change just made to `appointment` (call it
    in the transaction of the change, after the sequence was bumped; idempotent per
    sequence). True if it was inserted."""
    if kind is NoticeKind.REMINDER:
        raise ValueError("reminders come from sweep_reminders")
    conn = using_db or _db()
    now = _utc(now)
    if _postgres(conn):
        sql = _CHANGE.replace("{p}", "${}").format(*range(1, 7))
    else:
        sql = _CHANGE.replace("{p}", "?")
    rows = await conn.execute_query_dict(sql + ' RETURNING "id"', [
        appointment.person_id, _param(conn, appointment.id), kind.value,
        int(appointment.sequence), now, now])
    return bool(rows)


# --- 2. claiming ----------------------------------------------------------------------------

# One patient per statement: a claim bumps its patient's data version (migration 0018's row
# trigger on appointment_notice), so a claim spanning patients would take their version rows'
# locks in row order, and two concurrent claims could deadlock. The patient is the one of the
# first due notice no other sender holds; then up to `limit` of that patient's due notices.
_CLAIM = (
    'UPDATE "appointment_notice" SET "claimed_at"={now},"attempts"="attempts"+1 '
    'WHERE "id" IN (SELECT "id" FROM "appointment_notice" '
    'WHERE "person_id"=(SELECT "person_id" FROM "appointment_notice" '
    'WHERE "sent_at" IS NULL AND "due_at"<={now} AND "attempts"<{max_attempts} '
    'AND ("claimed_at" IS NULL OR "claimed_at"<={expired}) '
    'ORDER BY "due_at","id" LIMIT 1{lock}) '
    'AND "sent_at" IS NULL AND "due_at"<={now} AND "attempts"<{max_attempts} '
    'AND ("claimed_at" IS NULL OR "claimed_at"<={expired}) '
    'ORDER BY "due_at","id" LIMIT {limit}{lock}) '
    'RETURNING "id"'
)


async def claim(settings: Settings, *, now: datetime, limit: int | None = None,
                conn: Any = None) -> list[int]:
    """Claim up to `limit` due notices of one patient for this sender (one statement); their
    ids (none: nothing is due)."""
    conn = conn or _db()
    now = _utc(now)
    expired = now - timedelta(seconds=settings.agenda_notice_lease_seconds)
    limit = limit or settings.agenda_notice_batch_size
    if _postgres(conn):
        sql = _CLAIM.format(now="$1", expired="$2", max_attempts="$3", limit="$4",
                            lock=" FOR UPDATE SKIP LOCKED")
        values: list[Any] = [now, expired, settings.agenda_notice_max_attempts, limit]
    else:
        sql = _CLAIM.format(now="?", expired="?", max_attempts="?", limit="?", lock="")
        due = [now, settings.agenda_notice_max_attempts, expired]
        values = [now, *due, *due, limit]
    rows = await conn.execute_query_dict(sql, values)
    return sorted(int(row["id"]) for row in rows)


# --- 3. sending -----------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    obsolete: int = 0  # deleted unsent: the appointment changed since
    nobody: int = 0  # no active account or verified contact: nothing to send
    failed: int = 0  # left claimed, tried again after the lease

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(self.sent + other.sent, self.obsolete + other.obsolete,
                          self.nobody + other.nobody, self.failed + other.failed)

    @property
    def handled(self) -> int:
        return self.sent + self.obsolete + self.nobody + self.failed


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def when_text(start_at: datetime, time_zone: str | None, language: str) -> tuple[str, str]:
    """(day, time) of a start as the patient reads it, in the appointment's time zone:
    ("jeudi 3 décembre", "10 h 30") / ("Thursday 3 December", "10:30")."""
    local = _utc(start_at).astimezone(_zone(time_zone))
    language = normalise(language)
    day = format_date(local.date(), "EEEE d MMMM", locale=language)
    time = (f"{local.hour} h {local.minute:02d}" if language == "fr"
            else f"{local.hour:02d}:{local.minute:02d}")
    return day, time


def notice_text(kind: NoticeKind, appointment: Appointment, language: str) -> tuple[str, str]:
    """(subject, body) of a notice, in `language`: a day and a time, nothing else."""
    text = TEXTS[kind]
    day, time = when_text(appointment.start_at, appointment.time_zone, language)
    return (Message(text.subject).render(language),
            Message(text.body, day=day, time=time).render(language))


def obsolete(notice: AppointmentNotice, appointment: Appointment, now: datetime) -> bool:
    if notice.appointment_sequence != appointment.sequence:
        return True  # moved or cancelled since: its own notice tells the patient
    if notice.kind == NoticeKind.REMINDER:
        return (AppointmentStatus(appointment.status) not in REMINDED
                or _utc(appointment.start_at) <= now)
    return False


async def _deliver(rt: Runtime, notice: AppointmentNotice, appointment: Appointment,
                   account: Account | None) -> str:
    if account is None:
        return "nobody"
    route = notices.notice_route(account)
    if route is None:
        return "nobody"
    channel, destination = route
    subject, body = notice_text(NoticeKind(notice.kind), appointment, account.language)
    try:
        await notices.deliver(rt, channel, destination, subject, body)
    except Exception as exc:  # the error's type only: never a destination nor a text
        log.warning("appointment %s notice failed (%s, %s)", notice.kind, channel.value,
                    type(exc).__name__)
        return "failed"
    return "sent"


async def send_claimed(rt: Runtime, ids: list[int], *, now: datetime) -> SendReport:
    """Send (or discard) notices this sender claimed."""
    report = SendReport()
    if not ids:
        return report
    now = _utc(now)
    claimed = await AppointmentNotice.filter(id__in=ids).select_related("appointment") \
        .order_by("id")
    person_ids = sorted({n.person_id for n in claimed})
    accounts: dict[int, Account] = {}
    for account in await Account.filter(person_id__in=person_ids,
                                        status=AccountStatus.ACTIVE).order_by("id"):
        accounts.setdefault(account.person_id, account)
    for notice in claimed:
        appointment = notice.appointment
        if obsolete(notice, appointment, now):
            await AppointmentNotice.filter(id=notice.id, sent_at__isnull=True).delete()
            report.obsolete += 1
            continue
        outcome = await _deliver(rt, notice, appointment, accounts.get(notice.person_id))
        if outcome == "failed":
            report.failed += 1
            continue
        # Only the sender holding the current claim marks it (a slower one past its lease
        # does not overwrite another's).
        await AppointmentNotice.filter(id=notice.id, claimed_at=notice.claimed_at,
                                       sent_at__isnull=True).update(sent_at=now)
        if outcome == "sent":
            report.sent += 1
        else:
            report.nobody += 1
    return report


async def send_due(rt: Runtime, *, now: datetime, limit: int | None = None) -> SendReport:
    """Claim and send due notices, batch after batch, until none is left to claim."""
    report = SendReport()
    while True:
        ids = await claim(rt.settings, now=now, limit=limit)
        if not ids:
            return report
        report = report + await send_claimed(rt, ids, now=now)


async def run_once(rt: Runtime, now: datetime | None = None) -> SendReport:
    """One round of the background loop: insert due reminders, then send what is due."""
    now = now or datetime.now(UTC)
    await sweep_reminders(rt.settings, now=now)
    return await send_due(rt, now=now)
