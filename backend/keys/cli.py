"""Operator commands: `carnet keys generate` and `carnet keys rotate --new-key-stdin`.

Rotating the master key (documents are never re-encrypted, only the data keys re-wrapped;
identity rows, sealed by the master key itself, are re-sealed and re-indexed):

1. `carnet keys generate` > store the new key in the secret store.
2. With CARNET_MASTER_KEY = the current key: `carnet keys rotate --new-key-stdin` < new key.
3. Set CARNET_MASTER_KEY = the new key and CARNET_PREVIOUS_MASTER_KEYS = the old one; restart
   every process.
4. Run step 2 again with CARNET_MASTER_KEY = the new key (it re-wraps the few data keys that
   processes still on the old key created meanwhile); once it reports 0 data keys and 0
   identity rows, drop the old key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from backend import db
from backend.audit.verify import resign_checkpoints
from backend.keys import services
from backend.settings import Settings, decode_master_key, generate_master_key, get_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="manage encryption keys").add_subparsers(
        dest="action", required=True)
    keys.add_parser("generate", help="print a new random master key (base64)")
    rotate = keys.add_parser(
        "rotate", help="re-wrap every data key under a new master key (read from stdin)")
    rotate.add_argument("--new-key-stdin", action="store_true",
                        help="read the new base64 master key from standard input (required)")


def _fail(message: str) -> int:
    print(f"carnet: {message}", file=sys.stderr)
    return 2


async def rotate_command(settings: Settings, new_key_text: str) -> dict[str, Any]:
    """The work of `carnet keys rotate` (the ORM must be initialised)."""
    new_master = decode_master_key(new_key_text)
    # Every check before any write: an unknown master key leaves everything as it was.
    await services.check_identities_readable(settings, new_master)
    count = await services.rotate(settings, new_master)
    resealed = await services.reseal_identities(settings, new_master)
    # The access log's signed checkpoints move to the new key too (a head whose signature
    # does not check is left as is: `carnet audit verify` keeps reporting it).
    checkpoints = await resign_checkpoints(new_master, services.known_master_keys(settings))
    return {"rewrapped": count, "resealed": resealed,
            "checkpointsResigned": checkpoints["resigned"],
            "checkpointsNotResigned": checkpoints["skipped"],
            "newMasterKeyId": services.master_key_id(new_master)}


def cmd_keys(args: argparse.Namespace) -> int:
    if args.action == "generate":
        print(generate_master_key())
        return 0
    if args.action == "rotate":
        return _rotate(args)
    return _fail(f"unknown keys action {args.action!r}")


def _rotate(args: argparse.Namespace) -> int:
    if not args.new_key_stdin:
        return _fail("--new-key-stdin is required (keys never go on the command line, where "
                     "other users and shell history can read them)")
    text = sys.stdin.readline().strip()
    try:
        decode_master_key(text)
    except ValueError as exc:
        return _fail(f"new master key: {exc}")
    settings = get_settings()

    async def run() -> dict[str, Any]:
        await db.init_standalone(settings)
        try:
            return await rotate_command(settings, text)
        finally:
            await db.close_standalone()

    try:
        result = asyncio.run(run())
    except services.KeysError as exc:  # an unknown master key, or a corrupt wrapped key
        return _fail(str(exc))
    print(json.dumps(result))
    print(
        f"Re-wrapped {result['rewrapped']} data keys and re-sealed {result['resealed']} "
        f"identity rows under master key {result['newMasterKeyId']}. Now set CARNET_MASTER_KEY "
        "to the new key and keep the old one in CARNET_PREVIOUS_MASTER_KEYS until every "
        "process has restarted; then run "
        "`carnet keys rotate --new-key-stdin` again with the new key (it re-wraps keys created "
        "meanwhile) and remove the old key once it reports 0.",
        file=sys.stderr,
    )
    return 0
