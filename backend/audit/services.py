"""Recording security events. Callers pass only non-sensitive details (never codes,
passwords, tokens or health data); the allow-list below enforces it."""

from __future__ import annotations

import logging
from typing import Any

from backend.audit.models import AuditEvent, AuditKind

log = logging.getLogger(__name__)

ALLOWED_DETAIL_KEYS = {"channel", "reason", "session", "attempts", "role", "field",
                       # apps: the catalogue id (also the client_id), scopes, grant id, count
                       "app", "scopes", "grant", "grants",
                       # delegations: the grant id, its kind and parts, a masked address
                       "carer_grant", "carer_kind", "parts", "can_write", "email_hint"}


async def record(
    kind: AuditKind,
    *,
    account_id: int | None,
    outcome: str,
    address: str | None = None,
    using_db: Any = None,
    **detail: object,
) -> AuditEvent:
    """`using_db`: a transaction to write the event in (it is written with what it records)."""
    unknown = set(detail) - ALLOWED_DETAIL_KEYS
    if unknown:
        raise ValueError(f"audit details not allowed: {sorted(unknown)}")
    return await AuditEvent.create(
        kind=kind, account_id=account_id, outcome=outcome, address=address, detail=detail,
        using_db=using_db,
    )
