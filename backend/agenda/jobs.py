"""The agenda's jobs (backend/jobs/): the reminders sweep, periodic, and the sending of the
notices a change just queued. Both are idempotent through the `appointment_notice` outbox
(reminders.py: a notice is claimed with a lease and marked `sent_at` once)."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.agenda import reminders
from backend.jobs import tasks
from backend.runtime import Runtime

REMINDERS = "agenda.reminders"
SEND_NOTICES = "agenda.send_notices"


@tasks.periodic(REMINDERS, every=lambda s: s.message_notify_interval_seconds)
async def reminders_round(rt: Runtime) -> None:
    """Insert the reminders now due, then send every due notice."""
    await reminders.run_once(rt)


@tasks.job(SEND_NOTICES)
async def send_notices(rt: Runtime) -> None:
    """Deferred (with a queueing lock) in the transaction of a change that queued a "moved"
    or "cancelled" notice: sends it without waiting for the next round. A delivery failure
    stays in the outbox (tried again after its lease by the periodic round)."""
    await reminders.send_due(rt, now=datetime.now(UTC))
