"""The OAuth server's job (backend/jobs/): delete codes and tokens expired for more than a
day, every five minutes; idempotent (a row expired long ago is deleted once; deleting nothing
is a no-op)."""

from __future__ import annotations

from backend.jobs import tasks
from backend.oauth.services import purge_expired
from backend.runtime import Runtime

PURGE_EXPIRED = "oauth.purge_expired"
BATCH = 5000


@tasks.periodic(PURGE_EXPIRED, every=300)
async def purge_expired_credentials(rt: Runtime) -> None:
    while await purge_expired(rt.clock(), batch=BATCH) >= BATCH:
        pass  # a backlog: keep going, one batch per table and statement
