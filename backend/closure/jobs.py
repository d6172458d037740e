"""Closure's job (backend/jobs/): purge the closed spaces whose time has come (deletion on
request within CLOSED_DELETION_DAYS, or the end of the CLOSED_ARCHIVE_YEARS archive), every
five minutes. Idempotent and safe with several workers: each account is claimed by a
conditional UPDATE with a lease before anything is deleted (backend/closure/services.py
purge_due_accounts)."""

from __future__ import annotations

from backend.closure.services import PURGE_BATCH, purge_due_accounts
from backend.jobs import tasks
from backend.runtime import Runtime

PURGE = "closure.purge_due_accounts"


@tasks.periodic(PURGE, every=300)
async def purge(rt: Runtime) -> None:
    while await purge_due_accounts(rt, rt.clock()) >= PURGE_BATCH:
        pass  # a backlog: batch after batch
