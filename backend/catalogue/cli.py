"""Operators' commands for the catalogue of health apps (issue 14):

    carnet apps submit FILE.json [--operator NAME]
    carnet apps reference ID --reason TEXT [--criteria CODE,CODE...] [--operator NAME]
    carnet apps suspend ID --reason TEXT [--operator NAME]
    carnet apps withdraw ID --reason TEXT [--operator NAME]
    carnet apps list [--status submitted|referenced|suspended|withdrawn]
    carnet apps show ID
    carnet apps criteria

`submit` checks the whole file first (examples/apps/carnet-poids.json shows the format) and
prints the new app's id as JSON; an error names the JSON key and exits 2, creating nothing.
A status change follows the machine of backend/catalogue/services.py (referencing needs every
criterion, from the file's `criteria` or `--criteria`) and appends its history row in the same
transaction. `--operator` defaults to $USER. Output is JSON (a line per app for `list`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from backend import db
from backend.catalogue import services
from backend.catalogue.errors import AppNotFound, CatalogueError, InvalidApp
from backend.catalogue.models import CRITERIA_LABELS, AppStatus, CatalogueApp
from backend.settings import get_settings

T = TypeVar("T")
CHANGES = {"reference": AppStatus.REFERENCED, "suspend": AppStatus.SUSPENDED,
           "withdraw": AppStatus.WITHDRAWN}


def add_parsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Adds `carnet apps ...`; returns its sub-commands, for domains above (backend/oauth's
    `carnet apps credentials`)."""
    apps = sub.add_parser("apps", help="the catalogue of health apps").add_subparsers(
        dest="action", required=True)
    submit = apps.add_parser("submit", help="submit an app described by a JSON file")
    submit.add_argument("file", metavar="FILE.json")
    _operator(submit)
    for action, status in CHANGES.items():
        change = apps.add_parser(action, help=f"move an app to {status.value}")
        change.add_argument("id")
        change.add_argument("--reason", required=True)
        if status is AppStatus.REFERENCED:
            change.add_argument("--criteria", default="",
                                help="comma-separated criteria it passed (`carnet apps "
                                     "criteria` lists them); all are needed")
        _operator(change)
    listing = apps.add_parser("list", help="every app (JSON lines)")
    listing.add_argument("--status", choices=[s.value for s in AppStatus])
    show = apps.add_parser("show", help="one app with its status history")
    show.add_argument("id")
    apps.add_parser("criteria", help="the referencing criteria (codes and labels)")
    return apps


def _operator(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--operator", default=os.environ.get("USER") or "operator",
                        help="who makes the change, for the history (default: $USER)")


async def _with_db(work: Callable[[], Awaitable[T]]) -> T:
    await db.init_standalone(get_settings())
    try:
        return await work()
    finally:
        await db.close_standalone()


def _summary(row: CatalogueApp) -> dict[str, Any]:
    return {"id": str(row.id), "name": row.name, "publisher": row.publisher,
            "status": row.status.value,
            "categories": [c.value for c in services.categories_of(row)],
            "referencedAt": row.referenced_at.isoformat() if row.referenced_at else None}


def _fail(exc: CatalogueError) -> int:
    where = f"{exc.field}: " if isinstance(exc, InvalidApp) else ""
    print(f"carnet apps: {where}{exc}", file=sys.stderr)
    return 2


def _read(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(f"carnet apps: {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SystemExit(f"carnet apps: {path}: not valid JSON ({exc})") from None


def cmd_apps(args: argparse.Namespace) -> int:
    if args.action == "criteria":
        for code, label in CRITERIA_LABELS.items():
            print(json.dumps({"code": code.value, "label": label}, ensure_ascii=False))
        return 0
    try:
        if args.action == "submit":
            data = _read(args.file)
            services.validate(data)  # before opening the database: nothing to undo

            async def create() -> CatalogueApp:
                return await services.submit(data, operator=args.operator,
                                             now=datetime.now(UTC))

            row = asyncio.run(_with_db(create))
            print(json.dumps({"id": str(row.id), "status": row.status.value}))
            return 0
        if args.action in CHANGES:
            criteria = [c.strip() for c in getattr(args, "criteria", "").split(",")
                        if c.strip()]

            async def change() -> CatalogueApp:
                return await services.change_status(
                    args.id, CHANGES[args.action], reason=args.reason,
                    operator=args.operator, now=datetime.now(UTC), criteria=criteria)

            row = asyncio.run(_with_db(change))
            print(json.dumps({"id": str(row.id), "status": row.status.value,
                              "changedAt": row.updated_at.isoformat()}))
            return 0
        if args.action == "list":
            status = AppStatus(args.status) if args.status else None
            for row in asyncio.run(_with_db(lambda: services.list_apps(status))):
                print(json.dumps(_summary(row), ensure_ascii=False))
            return 0
        return _show(args.id)
    except CatalogueError as exc:
        return _fail(exc)


def _show(app_id: str) -> int:
    async def load() -> tuple[CatalogueApp, list[Any]]:
        pk = services.parse_id(app_id)
        row = await CatalogueApp.get_or_none(id=pk).prefetch_related("categories") \
            if pk else None
        if row is None:
            raise AppNotFound()
        return row, await services.history(app_id)

    row, history = asyncio.run(_with_db(load))
    print(json.dumps({
        **_summary(row), "description": row.description, "logoUrl": row.logo_url,
        "websiteUrl": row.website_url, "privacyPolicyUrl": row.privacy_policy_url,
        "scopes": row.scopes, "redirectUris": row.redirect_uris,
        "clientType": row.client_type.value, "criteria": row.criteria,
        "history": [{"status": h.status.value, "changedAt": h.changed_at.isoformat(),
                     "reason": h.reason, "operator": h.operator, "criteria": h.criteria}
                    for h in history],
    }, ensure_ascii=False, indent=2))
    return 0
