"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from backend import db

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """Alive: the process answers. Never touches the database or Redis."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready: 200 when the database and Redis answer, 503 naming the one that failed."""
    runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        await db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database check failed (%s)", type(exc).__name__)
        checks["database"] = "unavailable"
    if runtime.uses_redis:
        try:
            await runtime.kv.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("readiness: redis check failed (%s)", type(exc).__name__)
            checks["redis"] = "unavailable"
    else:
        checks["redis"] = "not configured (in-process broker)"
    failed = [name for name, state in checks.items() if state == "unavailable"]
    body = {"status": "unavailable" if failed else "ok", "checks": checks, "failed": failed}
    return JSONResponse(body, status_code=503 if failed else 200)
