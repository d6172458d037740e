"""Refusal and early activation without an account (issue 15 part 4): the public
`refuseAccount` and `activateAccount` mutations, with the NIR, the birth date and the provisional
code of the person's notice.

- One answer for every miss (`NoticeNotFound`): unknown NIR, wrong birth date, wrong or expired
  code, a notice already used. An unknown NIR costs the same hash computation as a known one.
- Rate limited like login (LOGIN_RATE_PER_ADDRESS a minute per address) and per NIR (a few
  tries an hour, whatever the address): a code has 60 bits, but a NIR and a birth date are not
  secret.
- Refusal (status NOTIFIED -> REFUSED) is possible until the window ends; it is reversible by
  activating later. Activation (NOTIFIED or REFUSED -> ACTIVATED, with one conditional UPDATE:
  two concurrent activations create one account) creates the person and the account with the
  chosen identifier, password and contact; the normal login (password, then a code) applies
  from then on. After the window, the account created for the person (status CREATED, account
  PENDING, no usable password: finalisation.py) is activated the same way with the same code.
- The code stays valid for activation after the window (the letter is the person's only
  credential until they choose a password); for refusal it is valid until the window ends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.transactions import in_transaction

from backend.crypto import keyed_hash
from backend.i18n import N_
from backend.identity import accounts, passwords
from backend.identity.ins import InvalidIdentity
from backend.identity.models import Account, AccountStatus, blind_indexes
from backend.onboarding import codes
from backend.onboarding.errors import (
    ActivationRateLimited,
    InvalidActivationInput,
    NoticeNotFound,
)
from backend.onboarding.models import NotifiedPerson, NotifiedStatus
from backend.runtime import Runtime

TRIES_PER_NIR_HOUR = 5
_DUMMY_HASH = "0" * 64


@dataclass(frozen=True)
class Claim:
    """What the person typed."""

    nir: str
    birth_date: date
    code: str
    address: str


async def _throttle(rt: Runtime, claim: Claim) -> None:
    by_address = f"rate:onboarding:{claim.address}"
    if await rt.kv.incr(by_address, ttl=60) > rt.settings.login_rate_per_address:
        raise ActivationRateLimited(int(await rt.kv.ttl(by_address) or 60))
    nir = keyed_hash(rt.settings.master_key(), "onboarding.tries",
                     "".join(claim.nir.split()).upper())
    by_nir = f"rate:onboarding-nir:{nir}"
    if await rt.kv.incr(by_nir, ttl=3600) > TRIES_PER_NIR_HOUR:
        raise ActivationRateLimited(int(await rt.kv.ttl(by_nir) or 3600))


async def _notice(rt: Runtime, claim: Claim) -> NotifiedPerson:
    """The notice the claim proves, or NoticeNotFound (every miss alike)."""
    await _throttle(rt, claim)
    try:
        indexes = blind_indexes("matricule", claim.nir)
    except (ValueError, KeyError):
        indexes = []
    row = await NotifiedPerson.filter(nir_index__in=indexes).first() if indexes else None
    if row is None:
        codes.code_matches(rt.settings, 0, _DUMMY_HASH, claim.code)  # the same work
        raise NoticeNotFound()
    matches = codes.code_matches(rt.settings, row.id, row.code_hash, claim.code)
    if not matches or row.birth_date != claim.birth_date:
        raise NoticeNotFound()
    return row


async def refuse(rt: Runtime, claim: Claim) -> None:
    """The person refuses the account (until the window ends). Refusing twice is one refusal."""
    now = rt.clock()
    row = await _notice(rt, claim)
    if row.status is NotifiedStatus.REFUSED:
        return
    if row.status is not NotifiedStatus.NOTIFIED or row.window_ends_at <= now:
        raise NoticeNotFound()
    changed = await NotifiedPerson.filter(id=row.id, status=NotifiedStatus.NOTIFIED) \
        .update(status=NotifiedStatus.REFUSED, decided_at=now)
    if not changed:  # activated meanwhile
        raise NoticeNotFound()


@dataclass(frozen=True)
class Choice:
    """What the person chooses at activation."""

    identifier: str | None
    password: str
    email: str | None
    phone: str | None


async def activate(rt: Runtime, claim: Claim, choice: Choice) -> str:
    """Activate the space: the identifier the person now signs in with."""
    now = rt.clock()
    row = await _notice(rt, claim)
    contact = accounts.ContactInput(email=choice.email, phone=choice.phone,
                                    identifier=choice.identifier, password=choice.password)
    try:
        identifier, email, phone, channel = contact.checked()
    except (InvalidIdentity, accounts.AccountConflict) as exc:
        raise InvalidActivationInput(exc.field, str(exc)) from None
    except passwords.WeakPassword as exc:
        raise InvalidActivationInput("password", exc.text) from None
    if row.status is NotifiedStatus.CREATED:
        return await _activate_created(row, identifier, email, phone, channel, choice.password,
                                       now)
    if row.status not in (NotifiedStatus.NOTIFIED, NotifiedStatus.REFUSED):
        raise NoticeNotFound()
    previous = row.status
    claimed = await NotifiedPerson.filter(id=row.id, status=previous) \
        .update(status=NotifiedStatus.ACTIVATED, decided_at=now)
    if not claimed:
        raise NoticeNotFound()
    try:
        account = await accounts.create_patient(
            nir=row.matricule, birth_name=row.birth_name, first_names=row.first_names,
            birth_date=row.birth_date, sex=row.sex.value, birthplace=row.birthplace_code,
            contact=contact)
    except (InvalidIdentity, accounts.AccountConflict) as exc:
        await NotifiedPerson.filter(id=row.id).update(status=previous, decided_at=None)
        raise InvalidActivationInput(exc.field, str(exc)) from None
    except BaseException:
        await NotifiedPerson.filter(id=row.id).update(status=previous, decided_at=None)
        raise
    await NotifiedPerson.filter(id=row.id).update(person_id=account.person_id)
    return identifier


async def _activate_created(row: NotifiedPerson, identifier: str, email: str | None,
                            phone: str | None, channel: object, password: str,
                            now: datetime) -> str:
    """The account created after the window (PENDING, no usable password) gets the person's
    choices and becomes ACTIVE; once."""
    if await Account.filter(identifier_index__in=blind_indexes("identifier", identifier)) \
            .exists():
        raise InvalidActivationInput("identifier", N_("Cet identifiant est déjà utilisé."))
    password_hash = await passwords.hash_password(password)
    async with in_transaction() as conn:
        account = await Account.filter(person_id=row.person_id, status=AccountStatus.PENDING) \
            .select_for_update().using_db(conn).first()
        if account is None:
            raise NoticeNotFound()
        account.identifier, account.password_hash = identifier, password_hash
        account.email, account.email_verified = email, bool(email)
        account.phone, account.phone_verified = phone, bool(phone)
        account.preferred_channel, account.status = channel, AccountStatus.ACTIVE
        await account.save(using_db=conn)
        await NotifiedPerson.filter(id=row.id).using_db(conn) \
            .update(status=NotifiedStatus.ACTIVATED, decided_at=now)
    return identifier


def placeholder_identifier() -> str:
    """A PENDING account's identifier until its person chooses one (nobody can guess it)."""
    return "attente-" + secrets.token_hex(16)
