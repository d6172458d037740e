"""Finding people and accounts by identity data, which is sealed at rest: through blind indexes
(keyed HMAC of the normalised value, under every known master key during a rotation)."""

from __future__ import annotations

from backend.identity.models import Account, Person, blind_indexes


async def person_by_matricule(matricule: str) -> Person | None:
    """The person whose INS matricule (NIR or NIA) is `matricule` (spaces ignored)."""
    return await Person.filter(matricule_index__in=blind_indexes("matricule", matricule)).first()


async def account_by_identifier(identifier: str) -> Account | None:
    """The account signing in with `identifier` (case-insensitive, spaces around ignored)."""
    return await Account.filter(
        identifier_index__in=blind_indexes("identifier", identifier)).first()


async def accounts_by_email(email: str) -> list[Account]:
    return await Account.filter(email_index__in=blind_indexes("email", email))


async def accounts_by_phone(phone: str) -> list[Account]:
    return await Account.filter(phone_index__in=blind_indexes("phone", phone))
