"""The campaigns' jobs (backend/jobs/): send the email notices waiting, and create the spaces
of those whose window ended (both periodic). Idempotent
and safe with several workers: each notice is claimed with a lease (FOR UPDATE SKIP LOCKED)
and marked sent only by the sender still holding the claim (backend/onboarding/notices.py)."""

from __future__ import annotations

from backend.jobs import tasks
from backend.onboarding.finalisation import finalise_due
from backend.onboarding.notices import send_pending_notices
from backend.runtime import Runtime

SEND_NOTICES = "onboarding.send_notices"
FINALISE = "onboarding.finalise"


@tasks.periodic(SEND_NOTICES, every=lambda s: s.message_notify_interval_seconds)
async def send_notices(rt: Runtime) -> None:
    while (await send_pending_notices(rt)).claimed > 0:
        pass  # a campaign's backlog: batch after batch until none is left


@tasks.periodic(FINALISE, every=300)
async def finalise(rt: Runtime) -> None:
    """Create the spaces of those whose window ended (batches claimed with SKIP LOCKED: safe
    with several workers; a crash rolls back one batch only)."""
    await finalise_due(rt.clock())
