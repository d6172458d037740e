"""Background duties of each API process: "a message is waiting" and "a document was
released" notifications (every process may run them: each notification is claimed
atomically)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from backend.messaging.services import notify_waiting_messages
from backend.records.services import notify_released_documents
from backend.runtime import Runtime

log = logging.getLogger(__name__)


async def notification_loop(
    rt: Runtime, also: Sequence[Callable[[Runtime], Awaitable[object]]] = ()
) -> None:
    """Runs until cancelled; every process may run it (claims are atomic per message).
    `also`: other domains' rounds run at each tick, each on its own (the composition root
    passes them: e.g. the agenda's reminders, which this domain does not import)."""
    settings = rt.settings
    while True:
        await asyncio.sleep(settings.message_notify_interval_seconds)
        try:
            await notify_waiting_messages(rt, delay_seconds=settings.message_notify_delay_seconds)
            await notify_released_documents(rt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an outage must not kill the loop
            log.warning("message notification sweep failed (%s)", type(exc).__name__)
        for work in also:
            try:
                await work(rt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failing round must not stop the others
                log.warning("%s failed (%s)", getattr(work, "__qualname__", "notification round"),
                            type(exc).__name__)
