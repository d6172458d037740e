"""Plain async factories for tests."""

from __future__ import annotations

import itertools
import random
from datetime import date

from stdnum.fr import nir as stdnum_nir

from backend.identity import accounts
from backend.identity.models import Account

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_nir(sex: str = "1", department: str = "75") -> str:
    body = f"{sex}85{random.randint(1, 12):02d}{department}{random.randint(1, 999):03d}" \
           f"{random.randint(1, 999):03d}"
    return body + stdnum_nir.calc_check_digits(body + "00")


async def create_patient(
    *, email: str | None = None, phone: str | None = None, password: str = PASSWORD,
    identifier: str | None = None, channel: str | None = None,
) -> Account:
    n = next(_seq)
    email = email if email is not None else f"patient{n}@example.fr"
    return await accounts.create_patient(
        nir=make_nir(), birth_name="Dupont", first_names="Jean", birth_date=date(1985, 3, 2),
        sex="M", birthplace="75056",
        contact=accounts.ContactInput(email=email or None, phone=phone, identifier=identifier,
                                      password=password, channel=channel),
    )


async def create_professional(*, email: str | None = None, password: str = PASSWORD) -> Account:
    n = next(_seq)
    rpps = f"{10_000_000_000 + random.randint(0, 89_999_999_999):011d}"
    account, _ = await accounts.create_professional(
        rpps=rpps, profession="Médecin", specialty="Médecine générale",
        contact=accounts.ContactInput(email=email or f"pro{n}@example.fr", phone=None,
                                      identifier=None, password=password),
    )
    return account
