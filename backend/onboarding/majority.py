"""At 18 the space is handed over to the young adult (issue 15 part 7).

A legal representative's grant ends at the child's 18th birthday (backend/access/carers.py,
`ends_at`): their access is over by itself. `hand_over` (the periodic job
`access.hand_over_adults`, backend/onboarding/jobs.py, and `carnet access hand-over`) then
tells the young adult, reusing the campaigns' notices. For each person whose grants ended, in
ONE transaction per person:

1. the grants are marked `handed_over_at` (`carers.claim_hand_over`: the person's row locked,
   then a conditional UPDATE): a second run, or a second worker, claims nothing and does
   nothing more;
2. a person without an account gets a PENDING one, no usable password, a placeholder
   identifier (as finalisation.py does after a campaign's window);
3. their notice is prepared on the `NotifiedPerson` row of their NIR: a campaign's row is
   reused (its code, sending state and attempts reset, a new window of OPT_OUT_WINDOW_DAYS),
   else one is created under the day's campaign row "Majorité YYYY-MM-DD", its sealed identity
   copied from their Person. Its `reason` picks the text (notices.py, letters.py):
   - MAJORITY, status CREATED: "your space is yours now, activate it with this code"; the code
     goes with the NIR and the birth date to `activateAccount`, which turns the PENDING account
     ACTIVE with the identifier, password and contact chosen (activation.py
     `_activate_created`);
   - HANDED_OVER, status ACTIVATED: the account is already ACTIVE (or LOCKED) with a password:
     the news only, no code is drawn;
   and its channel: EMAIL (the account's email, else the row's; never an address one of the
   representatives was named by or signs in with: a parent may have given their own for the
   child, and the code must not reach those whose access has just ended), else LETTER (the
   row's postal address, printed by the next `carnet campaign letters`), else NONE: no
   contact is known, no notice can be sent; the row records it, the job logs the count,
   `carnet access hand-over` prints how many are waiting (`no_contact`).
   A closed space gets nothing (its owner closed it).

The email goes out right after, as the campaigns' do (notices.py: claimed with a lease, marked
once by the sender holding the claim, so two senders never send it twice); the code is drawn
when the notice is sent and only its keyed hash is stored. Logs carry counts only: never an
identity, a contact or a code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.access import carers
from backend.identity.models import (
    Account,
    AccountStatus,
    CodeChannel,
    Person,
    Role,
    blind_indexes,
)
from backend.onboarding.activation import placeholder_identifier
from backend.onboarding.finalisation import UNUSABLE_PASSWORD
from backend.onboarding.models import (
    Campaign,
    NoticeChannel,
    NoticeReason,
    NotifiedPerson,
    NotifiedStatus,
)
from backend.onboarding.notices import PARIS
from backend.settings import Settings

log = logging.getLogger(__name__)

BATCH = 200
_MAJORITY = (NoticeReason.MAJORITY, NoticeReason.HANDED_OVER)


class Outcome(StrEnum):
    EMAIL = "email"
    LETTER = "letter"
    NO_CONTACT = "no_contact"
    CLOSED = "closed"


@dataclass
class HandOverReport:
    handed_over: int = 0  # spaces handed over by this run
    emails: int = 0  # notices to send by email
    letters: int = 0  # letters for the next `carnet campaign letters`
    no_contact: int = 0  # no contact known: no notice can be sent
    without_code: int = 0  # of these notices, for an already active account (no code)
    closed: int = 0  # closed spaces: nothing sent
    failed: int = 0  # rolled back (e.g. two workers creating the day's campaign): next run

    def __add__(self, other: HandOverReport) -> HandOverReport:
        return HandOverReport(*(getattr(self, f.name) + getattr(other, f.name)
                                for f in fields(self)))


def _has_password(account: Account) -> bool:
    return account.status in (AccountStatus.ACTIVE, AccountStatus.LOCKED) \
        and account.password_hash != UNUSABLE_PASSWORD


async def _campaign_of_day(settings: Settings, now: datetime, conn: BaseDBAsyncClient) -> int:
    """The day's campaign row of the notices created at 18 (one a day, Paris time)."""
    day = now.astimezone(PARIS).date().isoformat()
    digest = f"majorite-{day}"
    found = await Campaign.filter(file_digest=digest).using_db(conn) \
        .values_list("id", flat=True)
    if found:
        return found[0]
    campaign = await Campaign.create(
        name=f"Majorité {day}", file_digest=digest, created_at=now,
        window_ends_at=now + timedelta(days=settings.opt_out_window_days), using_db=conn)
    return campaign.id


async def _hand_over_one(settings: Settings, person_id: int, now: datetime,
                         conn: BaseDBAsyncClient) -> tuple[Outcome, bool] | None:
    """One person, in the caller's transaction: (how they are told, whether without a code),
    or None when another runner handed the space over already."""
    if not await carers.claim_hand_over(person_id, now, conn):
        return None
    person = await Person.filter(id=person_id).using_db(conn).get()
    accounts = await Account.filter(person_id=person_id).using_db(conn).order_by("id")
    account = next((a for a in accounts if a.status is not AccountStatus.CLOSED), None)
    if account is None and accounts:
        return Outcome.CLOSED, False
    row = await NotifiedPerson.filter(
        nir_index__in=blind_indexes("matricule", person.matricule)).using_db(conn).first()
    representatives = await carers.representatives_email_indexes(person_id, conn)

    def own(address: str | None) -> str | None:
        """`address`, unless it is one of the representatives' (then a letter goes out)."""
        if not address or representatives & set(blind_indexes("email", address)):
            return None
        return address

    email = own(account.email if account else None) or own(row.email if row else None)
    address = row.postal_address if row else None
    channel = NoticeChannel.EMAIL if email else \
        NoticeChannel.LETTER if address else NoticeChannel.NONE
    active = account is not None and _has_password(account)
    if account is None:
        await Account.create(
            identifier=placeholder_identifier(), password_hash=UNUSABLE_PASSWORD,
            email=email, email_verified=False, phone=row.phone if row else None,
            phone_verified=False,
            preferred_channel=CodeChannel.SMS if not email and row and row.phone
            else CodeChannel.EMAIL,
            status=AccountStatus.PENDING, role=Role.PATIENT, person=person, using_db=conn)
    elif not active and account.status is not AccountStatus.PENDING:
        # An account nobody can sign in to (no password): activated with the code.
        await Account.filter(id=account.id).using_db(conn).update(status=AccountStatus.PENDING)
    notice = {
        "matricule": person.matricule, "oid": person.oid, "birth_name": person.birth_name,
        "first_names": person.first_names, "birth_date": person.birth_date, "sex": person.sex,
        "birthplace_code": person.birthplace_code, "email": email, "channel": channel,
        "reason": NoticeReason.HANDED_OVER if active else NoticeReason.MAJORITY,
        "status": NotifiedStatus.ACTIVATED if active else NotifiedStatus.CREATED,
        "window_ends_at": now + timedelta(days=settings.opt_out_window_days),
        "code_hash": None, "notice_claim": None, "notice_claimed_at": None,
        "notice_attempts": 0, "letter_batch": None, "sent_at": None, "decided_at": now,
        "person_id": person.id,
    }
    if row is None:
        await NotifiedPerson.create(
            campaign_id=await _campaign_of_day(settings, now, conn), postal_address=None,
            phone=None, created_at=now, using_db=conn, **notice)
    else:
        for name, value in notice.items():
            setattr(row, name, value)
        await row.save(using_db=conn)
    outcome = {NoticeChannel.EMAIL: Outcome.EMAIL, NoticeChannel.LETTER: Outcome.LETTER,
               NoticeChannel.NONE: Outcome.NO_CONTACT}[channel]
    return outcome, active


async def hand_over_batch(settings: Settings, now: datetime, *,
                          batch: int = BATCH) -> tuple[HandOverReport, int]:
    """Hand over at most `batch` spaces due (see the module's docstring): (what happened, how
    many persons were due)."""
    report = HandOverReport()
    due = await carers.adults_due(now, batch=batch)
    for person_id in due:
        try:
            async with in_transaction() as conn:
                done = await _hand_over_one(settings, person_id, now, conn)
        except Exception as exc:  # the error's type only; this person is taken again next run
            log.warning("hand-over failed (%s)", type(exc).__name__)
            report.failed += 1
            continue
        if done is None:
            continue
        outcome, without_code = done
        if outcome is Outcome.CLOSED:
            report.closed += 1
            continue
        report.handed_over += 1
        report.without_code += without_code
        if outcome is Outcome.EMAIL:
            report.emails += 1
        elif outcome is Outcome.LETTER:
            report.letters += 1
        else:
            report.no_contact += 1
    return report, len(due)


async def hand_over(settings: Settings, now: datetime | None = None, *,
                    batch: int = BATCH) -> HandOverReport:
    """Every space due, batch after batch, until a batch hands nothing over (failures, or
    persons another worker took: the next run takes what is left). Logs the counts."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    total = HandOverReport()
    while True:
        report, due = await hand_over_batch(settings, now, batch=batch)
        total = total + report
        if not due or not report.handed_over + report.closed:
            break
    if total.handed_over or total.closed or total.failed:
        log.info("hand-over at 18: %s space(s) handed over (%s by email, %s by letter, %s "
                 "without a code), %s without any contact, %s closed, %s failed",
                 total.handed_over, total.emails, total.letters, total.without_code,
                 total.no_contact, total.closed, total.failed)
    return total


async def waiting_without_contact() -> int:
    """Young adults told of nothing yet because no contact is known (operators: add one)."""
    return await NotifiedPerson.filter(channel=NoticeChannel.NONE, reason__in=_MAJORITY,
                                       sent_at__isnull=True).count()
