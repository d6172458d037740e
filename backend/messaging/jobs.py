"""Messaging's job (backend/jobs/): "a message is waiting" for professionals who left one
unread, periodic; idempotent (each notice is claimed by a conditional UPDATE of the
participant's `notified_seq`: at most once per message)."""

from __future__ import annotations

from backend.jobs import tasks
from backend.messaging.services import notify_waiting_messages
from backend.runtime import Runtime

WAITING_MESSAGES = "messaging.waiting_messages"


@tasks.periodic(WAITING_MESSAGES, every=lambda s: s.message_notify_interval_seconds)
async def waiting_messages(rt: Runtime) -> None:
    await notify_waiting_messages(rt, delay_seconds=rt.settings.message_notify_delay_seconds)
