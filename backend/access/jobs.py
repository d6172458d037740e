"""The access domain's job (backend/jobs/): hand a minor's space over at 18, every five
minutes. The representatives' access already ended with their grant's end (the 18th birthday);
the job marks each grant once (a conditional UPDATE: two workers never both claim one)."""

from __future__ import annotations

import logging

from backend.access.carers import hand_over_adults
from backend.jobs import tasks
from backend.runtime import Runtime

HAND_OVER = "access.hand_over_adults"
log = logging.getLogger(__name__)


@tasks.periodic(HAND_OVER, every=300)
async def hand_over(rt: Runtime) -> None:
    while adults := await hand_over_adults(rt.clock()):
        log.info("handed %d space(s) over to young adults", len(adults))
