"""Batch loads for the profile screens (one query per relation per request).

Authors use the records domain's professional loader (the same DataLoader per request, so
documents and profile entries share one batch); data keys are cached per request by
`services.KeyRing`. Sections: every section field and chart series of a request asks
`load_sections` for `(access, kind)`; the keys asked together are read in ONE statement per
access (services.section_rows, a UNION ALL), so the profile screen's lists and charts cost one
statement, not one per section and one per chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.access.policy import Access
from backend.profile import services
from backend.records.loaders import load_professionals

__all__ = ["load_professionals", "load_sections"]


async def load_sections(keys: Sequence[tuple[Access, str]]) -> list[list[Any]]:
    """The rows of each `(access, entry kind)` (unsorted; empty for a section the access does
    not include)."""
    kinds_by_access: dict[Access, list[str]] = {}
    for access, kind in keys:
        kinds_by_access.setdefault(access, []).append(kind)
    read = {access: await services.section_rows(access, kinds)
            for access, kinds in kinds_by_access.items()}
    return [read[access][kind] for access, kind in keys]
