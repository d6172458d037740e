"""Batch loads for the access-log screen: one query per relation per request."""

from __future__ import annotations

from collections.abc import Sequence

from backend.identity.models import Professional


async def load_professionals(ids: Sequence[int]) -> list[Professional | None]:
    found = {p.id: p for p in await Professional.filter(id__in=list(set(ids)))}
    return [found.get(i) for i in ids]
