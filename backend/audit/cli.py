"""Operator command: `carnet audit verify` (walks every access-log chain)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from backend import db
from backend.settings import get_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="audit trail and access log").add_subparsers(
        dest="action", required=True)
    audit.add_parser("verify", help="check every patient's access-log chain and signed "
                                    "checkpoint; exit 1 naming the first broken entry")


def cmd_audit(args: argparse.Namespace) -> int:
    if args.action != "verify":
        print(f"carnet: unknown audit action {args.action!r}", file=sys.stderr)
        return 2
    from backend.audit.verify import verify_all

    settings = get_settings()

    async def run():  # noqa: ANN202
        await db.init_standalone(settings)
        try:
            return await verify_all()
        finally:
            await db.close_standalone()

    report = asyncio.run(run())
    for broken in report.broken:
        print(f"BROKEN {broken.describe()}", file=sys.stderr)
    print(json.dumps(report.as_dict()))
    if report.ok:
        print(f"Access log intact: {report.chains} chains, {report.entries} entries.",
              file=sys.stderr)
        return 0
    print(f"Access log tampered with: {len(report.broken)} of {report.chains} chains broken.",
          file=sys.stderr)
    return 1
