"""The record's job (backend/jobs/): tell patients about deposited documents whose release
time has come, periodic; idempotent (each document is claimed by a conditional UPDATE of
`patient_notified_at`: one notice per document)."""

from __future__ import annotations

from backend.jobs import tasks
from backend.records.services import notify_released_documents
from backend.runtime import Runtime

RELEASED_DOCUMENTS = "records.released_documents"


@tasks.periodic(RELEASED_DOCUMENTS, every=lambda s: s.message_notify_interval_seconds)
async def released_documents(rt: Runtime) -> None:
    await notify_released_documents(rt)
