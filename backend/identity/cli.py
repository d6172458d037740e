"""Operator commands: `carnet patient create` and `carnet professional create`.

Output is JSON with the new ids; invalid input exits non-zero with a message and creates
nothing (validation happens before any write, and writes share one transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date

from backend import db
from backend.identity import accounts, passwords
from backend.identity.contacts import InvalidContact
from backend.identity.ins import InvalidIdentity
from backend.settings import get_settings


def _read_password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        raise SystemExit("carnet: --password-stdin is required (passwords never go on the "
                         "command line, where other users and shell history can read them)")
    return sys.stdin.readline().rstrip("\r\n")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    patient = sub.add_parser("patient", help="manage patients").add_subparsers(
        dest="action", required=True)
    create = patient.add_parser("create", help="create a patient with an INS identity")
    create.add_argument("--nir", required=True, help="NIR, 15 characters (spaces allowed)")
    create.add_argument("--birth-name", required=True)
    create.add_argument("--first-names", required=True, help="birth first names, space-separated")
    create.add_argument("--birth-date", required=True, help="YYYY-MM-DD")
    create.add_argument("--sex", required=True, choices=["M", "F", "U", "m", "f", "u"])
    create.add_argument("--birthplace", required=True, help="INSEE code of the birthplace")
    create.add_argument("--email")
    create.add_argument("--phone")
    create.add_argument("--channel", choices=["email", "sms"])
    create.add_argument("--identifier", help="login identifier (default: the email address)")
    create.add_argument("--password-stdin", action="store_true")
    create.add_argument("--test-identity", action="store_true",
                        help="a test NIR (OID 1.2.250.1.213.1.4.10)")

    pro = sub.add_parser("professional", help="manage professionals").add_subparsers(
        dest="action", required=True)
    pcreate = pro.add_parser("create", help="create a health professional")
    pcreate.add_argument("--rpps", required=True)
    pcreate.add_argument("--profession", required=True)
    pcreate.add_argument("--specialty")
    pcreate.add_argument("--practice-name")
    pcreate.add_argument("--practice-address")
    pcreate.add_argument("--email")
    pcreate.add_argument("--phone")
    pcreate.add_argument("--channel", choices=["email", "sms"])
    pcreate.add_argument("--identifier")
    pcreate.add_argument("--password-stdin", action="store_true")


async def _with_db(coro_factory):  # noqa: ANN001, ANN202
    await db.init_standalone(get_settings())
    try:
        return await coro_factory()
    finally:
        await db.close_standalone()


def _fail(message: str) -> int:
    print(f"carnet: {message}", file=sys.stderr)
    return 2


def cmd_patient(args: argparse.Namespace) -> int:
    password = _read_password(args)
    try:
        birth_date = date.fromisoformat(args.birth_date)
    except ValueError:
        return _fail("--birth-date: expected YYYY-MM-DD")
    contact = accounts.ContactInput(email=args.email, phone=args.phone,
                                    identifier=args.identifier, password=password,
                                    channel=args.channel)

    async def create():  # noqa: ANN202
        return await accounts.create_patient(
            nir=args.nir, birth_name=args.birth_name, first_names=args.first_names,
            birth_date=birth_date, sex=args.sex, birthplace=args.birthplace, contact=contact,
            test_identity=args.test_identity,
        )

    try:
        account = asyncio.run(_with_db(create))
    except (InvalidIdentity, InvalidContact, accounts.AccountConflict) as exc:
        return _fail(f"--{exc.field.replace('_', '-')}: {exc}")
    except passwords.WeakPassword as exc:
        return _fail(f"password: {exc}")
    print(json.dumps({"accountId": account.id, "personId": account.person_id,
                      "identifier": account.identifier, "role": "patient"}))
    return 0


def cmd_professional(args: argparse.Namespace) -> int:
    password = _read_password(args)
    contact = accounts.ContactInput(email=args.email, phone=args.phone,
                                    identifier=args.identifier, password=password,
                                    channel=args.channel)

    async def create():  # noqa: ANN202
        return await accounts.create_professional(
            rpps=args.rpps, profession=args.profession, contact=contact,
            specialty=args.specialty, practice_name=args.practice_name,
            practice_address=args.practice_address,
        )

    try:
        account, luhn_ok = asyncio.run(_with_db(create))
    except (InvalidIdentity, InvalidContact, accounts.AccountConflict) as exc:
        return _fail(f"--{exc.field.replace('_', '-')}: {exc}")
    except passwords.WeakPassword as exc:
        return _fail(f"password: {exc}")
    if not luhn_ok:
        print("carnet: warning: the RPPS check digit (Luhn) does not match; created anyway",
              file=sys.stderr)
    print(json.dumps({"accountId": account.id, "professionalId": account.professional_id,
                      "identifier": account.identifier, "role": "professional",
                      "rppsCheckDigitOk": luhn_ok}))
    return 0
