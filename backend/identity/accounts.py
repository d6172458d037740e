"""Creating accounts for patients and professionals (operator commands, demo data, tests).

Everything is validated before anything is written, and written in one transaction: invalid
input never leaves a half-created person or account behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.identity import passwords
from backend.identity.contacts import normalise_email, normalise_phone
from backend.identity.ins import InvalidIdentity, check_rpps, check_traits
from backend.identity.lookup import person_by_matricule
from backend.identity.models import Account, CodeChannel, Person, Professional, Role, blind_indexes


class AccountConflict(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class ContactInput:
    email: str | None
    phone: str | None
    identifier: str | None
    password: str
    channel: str | None = None

    def checked(self) -> tuple[str, str | None, str | None, CodeChannel]:
        email = normalise_email(self.email) if self.email else None
        phone = normalise_phone(self.phone) if self.phone else None
        if not email and not phone:
            raise InvalidIdentity("email", "Une adresse e-mail ou un téléphone est nécessaire.")
        identifier = (self.identifier or email or "").strip()
        if not identifier:
            raise InvalidIdentity("identifier", "Un identifiant est nécessaire.")
        if len(identifier) > 254:
            raise InvalidIdentity("identifier", "Identifiant trop long.")
        passwords.check_policy(self.password, identifier=identifier)
        channel = CodeChannel(self.channel) if self.channel else (
            CodeChannel.EMAIL if email else CodeChannel.SMS
        )
        missing = (channel is CodeChannel.EMAIL and not email) or (
            channel is CodeChannel.SMS and not phone
        )
        if missing:
            raise InvalidIdentity("channel", "Le canal choisi n'a pas de destination.")
        return identifier, email, phone, channel


async def _ensure_identifier_free(identifier: str) -> None:
    if await Account.filter(identifier_index__in=blind_indexes("identifier", identifier)).exists():
        raise AccountConflict("identifier", "Cet identifiant est déjà utilisé.")


async def create_patient(
    *,
    nir: str,
    birth_name: str,
    first_names: str,
    birth_date: date,
    sex: str,
    birthplace: str,
    contact: ContactInput,
    test_identity: bool = False,
) -> Account:
    traits = check_traits(nir=nir, birth_name=birth_name, first_names=first_names,
                          birth_date=birth_date, sex=sex, birthplace=birthplace,
                          test_identity=test_identity)
    identifier, email, phone, channel = contact.checked()
    await _ensure_identifier_free(identifier)
    if await person_by_matricule(traits.matricule) is not None:
        raise AccountConflict("nir", "Une identité existe déjà pour ce NIR.")
    password_hash = await passwords.hash_password(contact.password)
    try:
        async with in_transaction():
            person = await Person.create(
                matricule=traits.matricule, oid=traits.oid, birth_name=traits.birth_name,
                first_names=traits.first_names, birth_date=traits.birth_date, sex=traits.sex,
                birthplace_code=traits.birthplace_code,
            )
            account = await Account.create(
                identifier=identifier,
                password_hash=password_hash, email=email, email_verified=bool(email),
                phone=phone, phone_verified=bool(phone), preferred_channel=channel,
                role=Role.PATIENT, person=person,
            )
            await audit.record(AuditKind.ACCOUNT_CREATED, account_id=account.id,
                               outcome="success", role=Role.PATIENT.value)
    except IntegrityError:
        # A concurrent creation won the race on a unique column.
        raise AccountConflict("identifier", "Cet identifiant ou ce NIR est déjà utilisé.") from None
    return account


async def create_professional(
    *,
    rpps: str,
    profession: str,
    contact: ContactInput,
    specialty: str | None = None,
    practice_name: str | None = None,
    practice_address: str | None = None,
) -> tuple[Account, bool]:
    """Returns (account, rpps_check_digit_ok): a bad Luhn digit only warns."""
    rpps, luhn_ok = check_rpps(rpps)
    profession = profession.strip()
    if not profession or len(profession) > 100:
        raise InvalidIdentity("profession", "Profession invalide.")
    identifier, email, phone, channel = contact.checked()
    await _ensure_identifier_free(identifier)
    if await Professional.filter(rpps=rpps).exists():
        raise AccountConflict("rpps", "Un professionnel existe déjà avec ce RPPS.")
    password_hash = await passwords.hash_password(contact.password)
    try:
        async with in_transaction():
            professional = await Professional.create(
                rpps=rpps, profession=profession, specialty=specialty,
                practice_name=practice_name, practice_address=practice_address,
            )
            account = await Account.create(
                identifier=identifier,
                password_hash=password_hash, email=email, email_verified=bool(email),
                phone=phone, phone_verified=bool(phone), preferred_channel=channel,
                role=Role.PROFESSIONAL, professional=professional,
            )
            await audit.record(AuditKind.ACCOUNT_CREATED, account_id=account.id,
                               outcome="success", role=Role.PROFESSIONAL.value)
    except IntegrityError:
        raise AccountConflict(
            "identifier", "Cet identifiant ou ce RPPS est déjà utilisé."
        ) from None
    return account, luhn_ok
