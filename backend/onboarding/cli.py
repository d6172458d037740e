"""Operators' commands for opt-out campaigns (issue 15):

    carnet campaign import FILE.csv [--name NAME] [--report PATH] [--batch-size N] [--jobs N]
    carnet campaign letters --out DIR [--batch-size N]
    carnet campaign send [--batch-size N]

`import` streams the file into the campaign (backend/onboarding/importer.py) and prints a JSON
summary; the rejected, duplicate and already known lines go to `--report` (default
`FILE.report.csv` beside the file; `-` for stdout) as `ligne;motif;explication`, never with a
value of the line. An unreadable file (header, encoding) exits 2 and imports nothing.
`letters` writes the pending letters as printable PDF batches into DIR and prints their names;
`send` sends the pending email notices once (the job queue runs `send_pending_notices` later).

`carnet access hand-over` (its parser is backend/access/cli.py's) runs `cmd_hand_over` here:
the hand-over at 18 (backend/onboarding/majority.py, also the periodic job) then the emails,
and prints the counts, with `no_contact`: the young adults waiting for a contact (none known,
no notice could be sent).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend import db
from backend.onboarding import finalisation, importer, letters, majority, notices
from backend.onboarding.errors import CampaignError
from backend.runtime import Runtime
from backend.settings import Settings, get_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    campaign = sub.add_parser("campaign", help="opt-out campaigns").add_subparsers(
        dest="action", required=True)
    imp = campaign.add_parser("import", help="import a campaign file (CSV)")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--name", help="the campaign's name (default: the file's name)")
    imp.add_argument("--report", help="where the rejected lines go (default FILE.report.csv; "
                                      "- for stdout)")
    imp.add_argument("--batch-size", type=int, default=importer.BATCH_SIZE)
    imp.add_argument("--jobs", type=int, default=1,
                     help="worker processes checking and sealing lines (default 1: in-process)")
    let = campaign.add_parser("letters", help="write the pending letters as PDF batches")
    let.add_argument("--out", required=True, metavar="DIR")
    let.add_argument("--batch-size", type=int, default=letters.BATCH_SIZE,
                     help="letters (pages) per PDF file")
    send = campaign.add_parser("send", help="send the pending email notices")
    send.add_argument("--batch-size", type=int, default=notices.BATCH_SIZE)
    fin = campaign.add_parser("finalise", help="create now the spaces of those whose window "
                                                "ended (also the periodic job)")
    fin.add_argument("--batch-size", type=int, default=finalisation.BATCH)


def cmd_campaign(args: argparse.Namespace,
                 build_runtime: Callable[[Settings], Runtime]) -> int:
    settings = get_settings()
    try:
        if args.action == "import":
            print(json.dumps(asyncio.run(_import(settings, args))))
        elif args.action == "letters":
            print(json.dumps(asyncio.run(_letters(settings, args))))
        elif args.action == "finalise":
            print(json.dumps(asyncio.run(_finalise(settings, args))))
        else:
            print(json.dumps(asyncio.run(_send(settings, args, build_runtime))))
    except CampaignError as exc:
        print(f"carnet campaign {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


async def _import(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.file)
    target = args.report or f"{path}.report.csv"
    await db.init_standalone(settings)
    try:
        with ExitStack() as stack:
            handle = sys.stdout if target == "-" else stack.enter_context(
                open(target, "w", encoding="utf-8", newline=""))  # noqa: SIM115, ASYNC230 (a CLI)
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(["ligne", "motif", "explication"])
            result = await importer.import_file(
                settings, path, name=args.name, batch_size=max(1, args.batch_size),
                jobs=max(1, args.jobs),
                report=lambda line, reason, text: writer.writerow([line, reason, text]))
        summary = result.as_json()
        if target != "-":
            summary["report"] = target
        return summary
    finally:
        await db.close_standalone()


async def _finalise(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    await db.init_standalone(settings)
    try:
        created = await finalisation.finalise_due(datetime.now(UTC),
                                                  batch=max(1, args.batch_size))
        return {"created": created}
    finally:
        await db.close_standalone()


async def _letters(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    await db.init_standalone(settings)
    try:
        written = await letters.write_pending_letters(settings, Path(args.out),
                                                      batch_size=max(1, args.batch_size))
        return {"files": [str(f.path) for f in written],
                "letters": sum(f.letters for f in written)}
    finally:
        await db.close_standalone()


async def _send(settings: Settings, args: argparse.Namespace,
                build_runtime: Callable[[Settings], Runtime]) -> dict[str, Any]:
    runtime = build_runtime(settings)
    await db.init_standalone(settings)
    try:
        total = notices.SendReport()
        while True:
            report = await notices.send_pending_notices(runtime, max(1, args.batch_size))
            total = total + report
            if not report.claimed:
                break
        return {"sent": total.sent, "failed": total.failed}
    finally:
        await db.close_standalone()
        await runtime.aclose()


def cmd_hand_over(args: argparse.Namespace,
                  build_runtime: Callable[[Settings], Runtime]) -> int:
    print(json.dumps(asyncio.run(_hand_over(get_settings(), build_runtime))))
    return 0


async def _hand_over(settings: Settings,
                     build_runtime: Callable[[Settings], Runtime]) -> dict[str, Any]:
    runtime = build_runtime(settings)
    await db.init_standalone(settings)
    try:
        now = datetime.now(UTC)
        report = await majority.hand_over(settings, now)
        sent = 0
        while (done := await notices.send_pending_notices(runtime, now=now)).claimed:
            sent += done.sent
        return {"handed_over": report.handed_over, "emails_sent": sent,
                "letters": report.letters, "without_code": report.without_code,
                "closed": report.closed, "failed": report.failed,
                "no_contact": await majority.waiting_without_contact()}
    finally:
        await db.close_standalone()
        await runtime.aclose()
