"""Apps for the catalogue's tests: the example file of examples/apps, variations of it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.catalogue import services
from backend.catalogue.models import AppStatus, CatalogueApp, Criterion

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "apps" / "carnet-poids.json"
NOW = datetime(2030, 5, 6, 9, 30, tzinfo=UTC)
ALL_CRITERIA = [c.value for c in Criterion]


def example(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


async def referenced(now: datetime = NOW, **changes: Any) -> CatalogueApp:
    app = await services.submit(example(**changes), operator="test", now=now)
    return await services.change_status(str(app.id), AppStatus.REFERENCED, reason="Conforme",
                                        operator="test", now=now, criteria=ALL_CRITERIA)
