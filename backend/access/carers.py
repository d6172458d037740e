"""Carers (issue 15 part 8): an adult lets another account help with their space.

- The patient grants (`grant`): the carer's email, the parts (documents, profile, agenda), read
  or read and write, an optional end. The answer is the same whether or not the address has an
  account (the grant waits, by the address's blind index, for an account with that VERIFIED
  email to list its spaces: `spaces_of`). Revocation (`revoke`) takes effect at the next
  request: nothing is cached.
- The carer switches to the patient's space by sending `Carnet-Space: <the patient's public id>`
  with their own session (backend/access/authentication.py): `space_caller` turns the session
  into a caller acting in that space, limited like an app to scopes derived from the parts
  (`scopes_of`), so the same per-field gate (backend/app_scopes.py) refuses everything else,
  the account's own operations included. An unknown, ended, revoked or never granted space
  answers exactly alike: a caller with no scope and no patient.
- The policy reads for a carer through `ProxyViewer` (ground PROXY): every read is in the
  patient's access log, with the carer's account; documents the patient hid from
  professionals are hidden from carers too.
- Minors (part 7): a legal representative (one or two: `add_representative`, by an operator
  or the campaign's family data) is a grant of kind REPRESENTATIVE over the whole space, read
  and write, ending at the child's 18th birthday (Paris time); documents flagged
  INVISIBLE_REPRESENTANTS_LEGAUX never reach them; at 18 their access ends with the grant, and
  the hand-over job (backend/onboarding/majority.py: `adults_due`, `claim_hand_over`) marks
  the ended grants once and tells the young adult. The patient's own "carers" list and
  revocation concern carers only: representatives are not the child's to remove.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from backend import app_scopes, live_sockets
from backend.access.errors import CarerNotFound, InvalidCarerGrant
from backend.access.models import CarerGrant, CarerKind, CarerPart
from backend.access.policy import parse_public_id
from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.broker import Broker
from backend.identity.models import Account, AccountStatus, Person, blind_indexes
from backend.notifications.masking import mask_email

READ_SCOPES = {
    CarerPart.DOCUMENTS: app_scopes.DOCUMENTS_READ,
    CarerPart.PROFILE: app_scopes.PROFILE_READ,
    CarerPart.AGENDA: app_scopes.AGENDA_READ,
}
WRITE_SCOPES = {
    CarerPart.DOCUMENTS: app_scopes.DOCUMENTS_WRITE,
    CarerPart.PROFILE: app_scopes.PROFILE_MEASUREMENTS_WRITE,
    CarerPart.AGENDA: app_scopes.AGENDA_WRITE,
}
MAX_CARERS = 10
# How live sockets name a delegation (CarerCaller.space_socket_key, backend/live_sockets.py):
# the sockets a carer opened in the space close when it is revoked or has ended.
SOCKET_PREFIX = "carer-grant:"


def scopes_of(parts: Sequence[str], can_write: bool) -> frozenset[str]:
    """What a carer's delegation opens, in the apps' vocabulary (one gate for both)."""
    chosen = [CarerPart(p) for p in parts]
    scopes = {READ_SCOPES[p] for p in chosen}
    if can_write:
        scopes |= {WRITE_SCOPES[p] for p in chosen}
    return frozenset(scopes)


def active(now: datetime) -> Q:
    return Q(revoked_at__isnull=True) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))


async def grant(*, patient_id: int, patient_account_id: int | None, email: str,
                parts: Sequence[str], can_write: bool, ends_at: datetime | None,
                now: datetime, kind: CarerKind = CarerKind.CARER) -> CarerGrant:
    try:
        address = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidCarerGrant("email") from None
    chosen = list(dict.fromkeys(parts))
    if not chosen or any(p not in CarerPart._value2member_map_ for p in chosen):
        raise InvalidCarerGrant("parts")
    if ends_at is not None and ends_at <= now:
        raise InvalidCarerGrant("endsAt")
    index = blind_indexes("email", address)[0]
    own = await Account.filter(id=patient_account_id).values_list("email_index", flat=True) \
        if patient_account_id is not None else []
    if own and own[0] in blind_indexes("email", address):
        raise InvalidCarerGrant("email")  # oneself
    if await CarerGrant.filter(active(now), patient_id=patient_id).count() >= MAX_CARERS:
        raise InvalidCarerGrant("email")
    carer = await Account.filter(email_index__in=blind_indexes("email", address),
                                 email_verified=True, person_id__isnull=False,
                                 status=AccountStatus.ACTIVE).first()
    # One active grant per (patient, address): a new one replaces the previous.
    await CarerGrant.filter(active(now), patient_id=patient_id, kind=kind,
                            carer_email_index=index).update(revoked_at=now)
    row = await CarerGrant.create(
        patient_id=patient_id, carer_account_id=carer.id if carer else None,
        carer_email_index=index, email_hint=mask_email(address), parts=chosen,
        can_write=can_write, created_at=now, ends_at=ends_at, kind=kind)
    await _audit(AuditKind.CARER_GRANTED, row, patient_account_id)
    return row


async def _audit(kind: AuditKind, row: CarerGrant, patient_account_id: int | None) -> None:
    """The patient's security trail: the grant's id, kind and parts, the masked address at
    most (never the address itself). A minor's space may have no account yet: None."""
    if patient_account_id is None:
        ids = await Account.filter(person_id=row.patient_id).limit(1) \
            .values_list("id", flat=True)
        patient_account_id = int(ids[0]) if ids else None
    await audit.record(kind, account_id=patient_account_id, outcome="success",
                       carer_grant=row.id, carer_kind=row.kind.value, parts=list(row.parts),
                       can_write=row.can_write, email_hint=row.email_hint)


def socket_key(grant_id: int) -> str:
    return f"{SOCKET_PREFIX}{grant_id}"


async def revoke(*, patient_id: int, grant_id: str, now: datetime,
                 broker: Broker | None = None) -> CarerGrant:
    """Revoke a carer: their next request is refused; with `broker`, the sockets they opened
    in the space close at once, in every process (an announcement lost: the sweep does)."""
    row = await CarerGrant.filter(id=int(grant_id), patient_id=patient_id,
                                  kind=CarerKind.CARER, revoked_at__isnull=True).first() \
        if str(grant_id).isdigit() else None
    if row is None:
        raise CarerNotFound()
    if not await CarerGrant.filter(id=row.id, revoked_at__isnull=True) \
            .update(revoked_at=now):
        raise CarerNotFound()  # a concurrent revocation won (and wrote the trail)
    row.revoked_at = now
    await _audit(AuditKind.CARER_REVOKED, row, None)
    if broker is not None:
        await live_sockets.announce_revoked(broker, [socket_key(row.id)])
    return row


async def carers_of(patient_id: int, now: datetime) -> list[CarerGrant]:
    return await CarerGrant.filter(active(now), patient_id=patient_id,
                                   kind=CarerKind.CARER).order_by("created_at")


@dataclass(frozen=True)
class Space:
    grant: CarerGrant
    patient: Person


async def spaces_of(account_id: int, now: datetime) -> list[Space]:
    """The spaces this account may help with (binding grants made to its verified email)."""
    account = await Account.get(id=account_id)
    if account.email_index and account.email_verified:
        await CarerGrant.filter(active(now), carer_account_id__isnull=True,
                                carer_email_index=account.email_index) \
            .update(carer_account_id=account.id)
    rows = await CarerGrant.filter(active(now), carer_account_id=account_id) \
        .select_related("patient").order_by("created_at")
    return [Space(row, row.patient) for row in rows]


@dataclass(frozen=True)
class SpaceAccess:
    """A carer's delegation for one request (nobody's when not granted)."""

    patient_id: int
    grant_id: int
    parts: frozenset[str]
    scopes: frozenset[str]
    representative: bool = False


NO_SPACE = SpaceAccess(patient_id=0, grant_id=0, parts=frozenset(), scopes=frozenset())


async def space_access(account_id: int, space: str, now: datetime) -> SpaceAccess:
    """The delegation of `account_id` in the space of the patient whose public id is `space`:
    one query; unknown, malformed, ended, revoked and never granted alike (NO_SPACE)."""
    public_id = parse_public_id(space)
    if public_id is None:
        return NO_SPACE
    row = await CarerGrant.filter(active(now), carer_account_id=account_id,
                                  patient__public_id=public_id).first()
    # A space whose account is closed or locked is nobody's (a minor may have no account).
    if row is None or await Account.filter(person_id=row.patient_id).exclude(
            status=AccountStatus.ACTIVE).exists():
        return NO_SPACE
    return SpaceAccess(patient_id=row.patient_id, grant_id=row.id, parts=frozenset(row.parts),
                       scopes=scopes_of(row.parts, row.can_write),
                       representative=row.kind is CarerKind.REPRESENTATIVE)


async def grant_alive(grant_id: int, now: datetime) -> bool:
    """Whether a delegation still holds (its carer's live sockets are closed once it does
    not): not revoked, not ended, the patient's account not closed or locked."""
    row = await CarerGrant.filter(active(now), id=grant_id).first()
    return row is not None and not await Account.filter(person_id=row.patient_id).exclude(
        status=AccountStatus.ACTIVE).exists()


# --- minors (issue 15 part 7) -------------------------------------------------------------------

MAX_REPRESENTATIVES = 2
MAJORITY_YEARS = 18
PARIS = ZoneInfo("Europe/Paris")


def majority_at(birth_date: date) -> datetime:
    """The start of the 18th birthday, in Paris (29 February: 1 March in common years)."""
    year = birth_date.year + MAJORITY_YEARS
    try:
        day = birth_date.replace(year=year)
    except ValueError:
        day = date(year, 3, 1)
    return datetime.combine(day, time.min, tzinfo=PARIS)


async def add_representative(*, child: Person, email: str, now: datetime) -> CarerGrant:
    """An operator (or the campaign's family data) names a minor's legal representative: the
    whole space, read and write, until the 18th birthday. At most two at a time."""
    ends_at = majority_at(child.birth_date)
    if ends_at <= now:
        raise InvalidCarerGrant("endsAt")
    if await CarerGrant.filter(active(now), patient_id=child.id,
                               kind=CarerKind.REPRESENTATIVE).count() >= MAX_REPRESENTATIVES:
        raise InvalidCarerGrant("email")
    row = await grant(patient_id=child.id, patient_account_id=None, email=email,
                      parts=[p.value for p in CarerPart], can_write=True, ends_at=ends_at,
                      now=now, kind=CarerKind.REPRESENTATIVE)
    return row


async def adults_due(now: datetime, *, batch: int = 500) -> list[int]:
    """The persons whose representatives' grants ended (the 18th birthday) and were not handed
    over yet: their ids, for backend/onboarding/majority.py, which tells them."""
    return list(await CarerGrant.filter(kind=CarerKind.REPRESENTATIVE,
                                        handed_over_at__isnull=True, ends_at__lte=now)
                .order_by("patient_id").distinct().limit(batch)
                .values_list("patient_id", flat=True))


async def representatives_email_indexes(patient_id: int, conn: BaseDBAsyncClient
                                        ) -> set[str]:
    """The blind indexes of the emails the person's legal representatives were named by, and
    of their accounts' emails: at 18 the young adult's activation code must never go to an
    address of those whose access has just ended (a parent may have given their own address
    for the child's space)."""
    rows = await CarerGrant.filter(kind=CarerKind.REPRESENTATIVE, patient_id=patient_id) \
        .using_db(conn).values_list("carer_email_index", "carer_account_id")
    indexes = {index for index, _ in rows}
    bound = [account_id for _, account_id in rows if account_id is not None]
    if bound:
        indexes.update(await Account.filter(id__in=bound).using_db(conn)
                       .values_list("email_index", flat=True))
    return {i for i in indexes if i}


async def claim_hand_over(patient_id: int, now: datetime, conn: BaseDBAsyncClient) -> bool:
    """In the caller's transaction: mark the person's ended representatives' grants handed
    over, once. The person's row is locked first (PostgreSQL), then one conditional UPDATE:
    of two runners, one claims the grants, the other (or a second run) claims none."""
    await Person.filter(id=patient_id).select_for_update(no_key=True).using_db(conn).first()
    changed = await CarerGrant.filter(kind=CarerKind.REPRESENTATIVE, patient_id=patient_id,
                                      handed_over_at__isnull=True, ends_at__lte=now) \
        .using_db(conn).update(handed_over_at=now)
    return bool(changed)
