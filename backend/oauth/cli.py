"""`carnet apps credentials ID`: a new OAuth client secret for a confidential app, printed
this once as JSON (`{"clientId", "clientSecret"}`); only its keyed hash is kept, and the app's
previous secret stops working. A public app has none (exit 2, like an unknown app)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from backend import db
from backend.catalogue.errors import AppNotFound
from backend.oauth import services
from backend.settings import get_settings


def add_parsers(apps: argparse._SubParsersAction) -> None:
    credentials = apps.add_parser("credentials", help="a new OAuth client secret for a "
                                  "confidential app, printed once (the previous one stops)")
    credentials.add_argument("id")


def with_credentials(cmd_apps: Callable[[argparse.Namespace], int]
                     ) -> Callable[[argparse.Namespace], int]:
    def dispatch(args: argparse.Namespace) -> int:
        return cmd_credentials(args) if args.action == "credentials" else cmd_apps(args)

    return dispatch


def cmd_credentials(args: argparse.Namespace) -> int:
    settings = get_settings()

    async def create() -> str:
        await db.init_standalone(settings)
        try:
            return await services.create_client_secret(settings, args.id,
                                                       now=datetime.now(UTC))
        finally:
            await db.close_standalone()

    try:
        secret = asyncio.run(create())
    except AppNotFound:
        print("carnet apps: no confidential app with this id", file=sys.stderr)
        return 2
    print(json.dumps({"clientId": args.id, "clientSecret": secret}))
    print("carnet apps: the secret is shown this once; put it in the app's configuration.",
          file=sys.stderr)
    return 0
