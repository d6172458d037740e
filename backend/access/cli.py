"""Operator commands: `carnet access matrix show`, `carnet access matrix set`, and a minor's
legal representatives: `carnet access represent --child-matricule NIR --email EMAIL`,
`carnet access hand-over` (also a periodic job; run by backend/onboarding/cli.py, which
tells the young adults: backend/cli.py routes it there).

    carnet access matrix set --profession "Infirmier" [--specialty ...] \\
        --documents 57832-8,CARE_PLAN --sections allergies,treatments [--emergency|--no-emergency]

`--documents` takes LOINC codes or DocumentType names, `all` or `none`; `--sections` takes
profile sections (allergies, vaccinations, medical_history, family_history, treatments,
measurements, emergency_contacts, advance_directive, organ_donation), `all` or `none`. The row
of that profession (or specialty) is created or replaced; output is the row as JSON. Invalid
input exits non-zero with a message and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime

from backend import db
from backend.access import carers, services
from backend.access.errors import InvalidAccessInput, InvalidCarerGrant
from backend.access.models import AccessRule, rule_key
from backend.access.policy import Section
from backend.document_types import DocumentType
from backend.i18n import N_
from backend.identity import lookup
from backend.settings import get_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    access = sub.add_parser("access", help="who may read records").add_subparsers(
        dest="access_command", required=True)
    matrix = access.add_parser("matrix", help="the access matrix").add_subparsers(
        dest="action", required=True)
    matrix.add_parser("show", help="print the matrix (JSON lines)")
    change = matrix.add_parser("set", help="create or replace a profession's row")
    change.add_argument("--profession", required=True)
    change.add_argument("--specialty", help="one specialty of the profession (default: all)")
    change.add_argument("--documents", required=True,
                        help="comma-separated LOINC codes or DocumentType names, all, none")
    change.add_argument("--sections", required=True,
                        help="comma-separated profile sections, all, none")
    flag = change.add_mutually_exclusive_group()
    flag.add_argument("--emergency", dest="emergency", action="store_true", default=None,
                      help="may open records in an emergency")
    flag.add_argument("--no-emergency", dest="emergency", action="store_false")
    represent = access.add_parser(
        "represent", help="name a minor's legal representative (the whole space, read and "
                          "write, until the 18th birthday; two at most)")
    represent.add_argument("--child-matricule", required=True, help="the child's NIR or NIA")
    represent.add_argument("--email", required=True, help="the representative's email")
    access.add_parser("hand-over", help="hand the spaces of those who turned 18 over to them: "
                                        "the representatives' grants marked ended, the young "
                                        "adults' notices (email, else letter) prepared and the "
                                        "emails sent (also a periodic job); prints the counts, "
                                        "no_contact: those no notice could reach")


def _items(value: str, everything: list[str]) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if [i.lower() for i in items] == ["all"]:
        return everything
    if [i.lower() for i in items] == ["none"] or not items:
        return []
    return items


def _row(rule: AccessRule) -> dict:
    return {"profession": rule.profession, "specialty": rule.specialty or None,
            "documents": rule.document_types, "sections": rule.sections,
            "emergency": rule.emergency}


async def _with_db(coro_factory):  # noqa: ANN001, ANN202
    await db.init_standalone(get_settings())
    try:
        return await coro_factory()
    finally:
        await db.close_standalone()


def cmd_represent(args: argparse.Namespace) -> int:
    async def represent() -> str:
        child = await lookup.person_by_matricule(args.child_matricule)
        if child is None:
            raise InvalidAccessInput("child-matricule", N_("Aucune personne avec ce matricule."))
        row = await carers.add_representative(child=child, email=args.email,
                                              now=datetime.now(UTC))
        return json.dumps({"grant": row.id, "email": row.email_hint,
                           "until": row.ends_at.isoformat() if row.ends_at else None})

    try:
        print(asyncio.run(_with_db(represent)))
    except InvalidAccessInput as exc:
        print(f"carnet: --{exc.field}: {exc}", file=sys.stderr)
        return 2
    except InvalidCarerGrant as exc:
        print(f"carnet: {exc.field}: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_access(args: argparse.Namespace) -> int:
    if args.access_command == "represent":
        return cmd_represent(args)
    if args.action == "show":
        for rule in asyncio.run(_with_db(services.matrix)):
            print(json.dumps(_row(rule), ensure_ascii=False))
        return 0
    documents = _items(args.documents, [t.value for t in DocumentType])
    sections = _items(args.sections, [s.value for s in Section])
    try:
        services.checked_document_types(documents)
        services.checked_sections(sections)
    except InvalidAccessInput as exc:
        print(f"carnet: --{exc.field}: {exc}", file=sys.stderr)
        return 2

    async def change() -> AccessRule:
        emergency = args.emergency
        if emergency is None:  # keep the row's flag
            existing = await AccessRule.get_or_none(profession_key=rule_key(args.profession),
                                                    specialty_key=rule_key(args.specialty))
            emergency = existing.emergency if existing else False
        return await services.set_rule(profession=args.profession, specialty=args.specialty,
                                       document_types=documents, sections=sections,
                                       emergency=emergency)

    try:
        rule = asyncio.run(_with_db(change))
    except InvalidAccessInput as exc:
        print(f"carnet: --{exc.field}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_row(rule), ensure_ascii=False))
    return 0
