"""The campaigns' jobs (backend/jobs/): send the email notices waiting, create the spaces of
those whose window ended, and hand a minor's space over at 18 (all periodic). Idempotent
and safe with several workers: each notice is claimed with a lease (FOR UPDATE SKIP LOCKED)
and marked sent only by the sender still holding the claim (backend/onboarding/notices.py);
a hand-over claims the representatives' grants once (backend/onboarding/majority.py)."""

from __future__ import annotations

from backend.jobs import tasks
from backend.onboarding import majority
from backend.onboarding.finalisation import finalise_due
from backend.onboarding.notices import send_pending_notices
from backend.runtime import Runtime

SEND_NOTICES = "onboarding.send_notices"
FINALISE = "onboarding.finalise"
# The name it had when it only marked the grants (backend/access): queued runs keep working.
HAND_OVER = "access.hand_over_adults"


@tasks.periodic(SEND_NOTICES, every=lambda s: s.message_notify_interval_seconds)
async def send_notices(rt: Runtime) -> None:
    while (await send_pending_notices(rt)).claimed > 0:
        pass  # a campaign's backlog: batch after batch until none is left


@tasks.periodic(FINALISE, every=300)
async def finalise(rt: Runtime) -> None:
    """Create the spaces of those whose window ended (batches claimed with SKIP LOCKED: safe
    with several workers; a crash rolls back one batch only)."""
    await finalise_due(rt.clock())


@tasks.periodic(HAND_OVER, every=300)
async def hand_over(rt: Runtime) -> None:
    """At 18: mark the representatives' grants once, prepare the young adults' notices, then
    send the emails (letters wait for `carnet campaign letters`)."""
    now = rt.clock()
    if (await majority.hand_over(rt.settings, now)).emails:
        while (await send_pending_notices(rt, now=now)).claimed > 0:
            pass
