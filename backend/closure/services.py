"""Closing a patient's space, reopening it, deleting it (issue 15 part 6).

- **Before closing**: the web app offers the export first (`fhirEverything`, or
  `GET /fhir/r4/Patient/{id}/$everything`): once closed, no session opens on the account
  (until it is reopened), so the export is only possible before.
- **Closing** is a step-up like a password change: the current password
  (`request_account_closure`, which sends a code), then the code (`confirm_account_closure`).
  The account becomes CLOSED; every session is revoked (their live sockets close); nothing is
  deleted. From then on professionals read nothing (the access policy grants nothing on a
  closed account), deposits and identifications by professionals answer `PatientNotFound`
  (identity matching), apps' tokens stop (they need an ACTIVE account, backend/oauth). The
  record is archived read-only, for nobody, until `purge_after` (closed_at +
  CLOSED_ARCHIVE_YEARS), then purged.
- **Reopening**: the owner signs in as usual (identifier, password, code); a closed account
  gets no session but `AccountClosed` with a one-use ticket (identity.verify_login), which only
  `reopen_account` (or `request_account_deletion`) takes. Reopening is a separate, explicit step
  rather than a side effect of signing in: it gives professionals and apps their access back,
  and someone signing in only to look must not do that by accident. It restores everything as
  it was: the rows were never touched; the care relationships' inactivity clock does not count
  the time closed (their `last_access_at` moves forward by it), so the professionals' grounds
  come back as they were.
  An owner who forgot their password uses the forgotten-password flow, which resets a closed
  (archived) space's password like an active account's (identity.request_password_reset); it
  does not reopen: the next sign-in gets the ticket. A space whose deletion was asked (or whose
  purge is due) is answered like an unknown identifier there.
- **Deletion on request** (`delete_now` at closure, or later `request_account_deletion` with a
  reopen ticket): `purge_after` becomes now + CLOSED_DELETION_DAYS (default 90: "within 3
  months"; the purge job must run at least daily). Until a purge starts the space can still be
  reopened (which cancels the deletion).
- **Purge** (`purge_due_accounts`, for the periodic job; the same function purges archives
  past their 10 years): see its docstring for what is deleted and what is kept.

Every step goes to the security audit trail (ACCOUNT_CLOSED, ACCOUNT_DELETION_REQUESTED,
ACCOUNT_REOPENED, ACCOUNT_PURGED; the code sent: LOGIN_CODE_SENT reason "closure"), with the
account id only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.access.models import CareRelationship, EmergencyAccess, PatientAccessSettings
from backend.agenda.models import Appointment, AppointmentNotice, CalendarFeed, Slot, SlotStatus
from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.identity import notices
from backend.identity import services as identity
from backend.identity.codes import Challenge
from backend.identity.errors import ChannelUnavailable, CodeExpired
from backend.identity.models import Account, AccountStatus, CodeChannel, Person
from backend.identity.sessions import SessionRecord
from backend.keys.models import DataKey
from backend.messaging.models import Block, Conversation, Message, MessageAttachment, Participant
from backend.oauth.models import OAuthAccessToken, OAuthCode, OAuthGrant, OAuthRefreshToken
from backend.profile import models as profile
from backend.records.models import Document
from backend.runtime import Runtime

log = logging.getLogger(__name__)

#: A purge runner's claim on an account lasts this long; a runner that died mid-purge leaves
#: it to the next run after that (the purge is idempotent).
PURGE_LEASE = timedelta(minutes=15)
PURGE_BATCH = 100
_CHUNK = 500

PROFILE_MODELS = (profile.Allergy, profile.Vaccination, profile.MedicalHistory,
                  profile.FamilyHistory, profile.Treatment, profile.Measurement,
                  profile.EmergencyContact, profile.AdvanceDirective, profile.OrganDonation)


@dataclass(frozen=True)
class Closure:
    closed_at: datetime
    purge_after: datetime
    deletion_requested: bool


def archive_end(closed_at: datetime, years: int) -> datetime:
    """`closed_at` plus `years` calendar years (29 February gives 28 February)."""
    try:
        return closed_at.replace(year=closed_at.year + years)
    except ValueError:
        return closed_at.replace(year=closed_at.year + years, day=28)


def _deletion_due(rt: Runtime, now: datetime) -> datetime:
    return now + timedelta(days=rt.settings.closed_deletion_days)


# --- closing -----------------------------------------------------------------------------------


async def request_account_closure(
    rt: Runtime, viewer: identity.Viewer, *, current_password: str,
    channel: CodeChannel | None, caller: identity.Caller,
) -> Challenge:
    """Step 1: the current password; sends a code (purpose "closure") to a verified contact."""
    account = await Account.get(id=viewer.account_id)
    await identity.confirm_current_password(rt, account, current_password, caller)
    chosen = channel or account.preferred_channel
    destination = notices.verified_destination(account, chosen)
    if destination is None:
        raise ChannelUnavailable()
    challenge, code = await identity.code_store(rt).issue(
        account_id=account.id, purpose="closure", channel=chosen.value, destination=destination)
    await identity.send_code(rt, challenge, code, caller, account.language)
    return challenge


async def confirm_account_closure(
    rt: Runtime, viewer: identity.Viewer, *, challenge_id: str, code: str, delete_now: bool,
    caller: identity.Caller, now: datetime | None = None,
) -> Closure:
    """Step 2: the code. Closes the space (archived until purge_after, or deleted within
    CLOSED_DELETION_DAYS with `delete_now`) and revokes every session of the account."""
    await identity.check_code(rt, challenge_id=challenge_id, code=code, purpose="closure",
                              caller=caller, owner_id=viewer.account_id)
    now = now or rt.clock()
    purge_after = (_deletion_due(rt, now) if delete_now
                   else archive_end(now, rt.settings.closed_archive_years))
    changed = await Account.filter(id=viewer.account_id, status=AccountStatus.ACTIVE,
                                   person_id__isnull=False).update(
        status=AccountStatus.CLOSED, closed_at=now, purge_after=purge_after,
        deletion_requested_at=now if delete_now else None, purge_claimed_until=None)
    if not changed:
        raise CodeExpired()  # closed meanwhile (another device)
    # Written first, announced second: every worker closes the sessions' live sockets.
    await identity.end_sessions(rt, viewer.account_id)
    await audit.record(AuditKind.ACCOUNT_CLOSED, account_id=viewer.account_id,
                       outcome="success", address=caller.address,
                       reason="deletion" if delete_now else "archive")
    if delete_now:
        await audit.record(AuditKind.ACCOUNT_DELETION_REQUESTED, account_id=viewer.account_id,
                           outcome="success", address=caller.address, reason="at_closure")
    return Closure(now, purge_after, delete_now)


# --- after: reopening, deletion on request ----------------------------------------------------


async def _closed_account(rt: Runtime, ticket: str) -> Account:
    account_id = await identity.consume_reopen_ticket(rt, ticket)
    account = await Account.get_or_none(id=account_id) if account_id else None
    if account is None or account.status is not AccountStatus.CLOSED:
        raise CodeExpired()
    return account


async def reopen_account(rt: Runtime, *, ticket: str, caller: identity.Caller,
                         now: datetime | None = None) -> tuple[str, SessionRecord]:
    """Reopen a closed space (the ticket of a sign-in with password and code): ACTIVE again,
    everything as it was; refused once a purge has started. Opens a session."""
    account = await _closed_account(rt, ticket)
    now = now or rt.clock()
    async with in_transaction() as conn:
        changed = await Account.filter(
            id=account.id, status=AccountStatus.CLOSED, purge_claimed_until__isnull=True,
        ).using_db(conn).update(status=AccountStatus.ACTIVE, closed_at=None, purge_after=None,
                                deletion_requested_at=None)
        if not changed:
            raise CodeExpired()
        # The time closed does not count towards the relationships' expiry: the professionals'
        # grounds come back as they were (a handful of rows per patient).
        closed_for = max(timedelta(0), now - (account.closed_at or now))
        for relationship in await CareRelationship.filter(
                patient_id=account.person_id, ended_at__isnull=True).using_db(conn):
            relationship.last_access_at = min(now, relationship.last_access_at + closed_for)
            await relationship.save(update_fields=["last_access_at"], using_db=conn)
    await audit.record(AuditKind.ACCOUNT_REOPENED, account_id=account.id, outcome="success",
                       address=caller.address)
    return await identity.open_session(rt, account, caller)


async def request_account_deletion(rt: Runtime, *, ticket: str, caller: identity.Caller,
                                   now: datetime | None = None) -> Closure:
    """A closed space's owner (the ticket of a sign-in) asks for its deletion: purged within
    CLOSED_DELETION_DAYS. Asking again changes nothing."""
    account = await _closed_account(rt, ticket)
    now = now or rt.clock()
    assert account.closed_at is not None and account.purge_after is not None
    if account.deletion_requested_at is None:
        due = min(account.purge_after, _deletion_due(rt, now))
        changed = await Account.filter(
            id=account.id, status=AccountStatus.CLOSED, deletion_requested_at__isnull=True,
        ).update(deletion_requested_at=now, purge_after=due)
        if changed:
            account.purge_after = due
            await audit.record(AuditKind.ACCOUNT_DELETION_REQUESTED, account_id=account.id,
                               outcome="success", address=caller.address, reason="after_closure")
    return Closure(account.closed_at, account.purge_after, True)


# --- purge -------------------------------------------------------------------------------------


async def purge_due_accounts(rt: Runtime, now: datetime | None = None, *,
                             batch_size: int = PURGE_BATCH) -> int:
    """Purge every closed account whose `purge_after` has come (deletion on request, or the end
    of the archive period). Returns how many this call purged. For the periodic job: idempotent,
    batched, and safe with several runners at once (each account is claimed by a conditional
    UPDATE before anything is deleted: one runner wins it; a claim left by a runner that died
    expires after PURGE_LEASE and the next run finishes the purge).

    What a purge does, for one patient:
    - deletes the blobs of their documents (the blob store), first (idempotent);
    - then, in one transaction, deletes every row of their space: documents, profile entries,
      conversations with their messages, participants and attachments, blocks, appointments,
      notices and calendar feeds (the slots they held are freed), care relationships,
      emergency accesses and settings, OAuth grants, codes and tokens, their DATA KEYS, their
      account and their person (INS identity). Destroying the data keys is the
      crypto-shredding: any copy of their ciphertext left behind (a replica, a dump taken
      after the purge, dead tuples not yet vacuumed) can no longer be decrypted, even with
      the master key, since the only wrapped copy of the key is gone. Identity data (sealed
      by the master key itself, not a data key) is gone with its rows.
    - keeps the security audit trail (`audit_event`: account id, kind, outcome, address; no
      identity, no health data) and the patient's access log (`access_log_entry` and its
      signed head: who read, when, on which ground, the kind and a random document id; no
      health data), so that reads of the record stay accountable and the chains still verify;
      and one ACCOUNT_PURGED event is written.
    Backups taken before the purge still hold the key and the data until they expire (the
    backup retention is the operator's).
    """
    now = now or rt.clock()
    purged = 0
    while True:
        due = await Account.filter(
            Q(purge_claimed_until__isnull=True) | Q(purge_claimed_until__lt=now),
            status=AccountStatus.CLOSED, purge_after__lte=now,
        ).order_by("purge_after", "id").limit(batch_size).values_list("id", flat=True)
        if not due:
            return purged
        for account_id in due:
            if not await _claim(int(account_id), now):
                continue  # another runner has it
            try:
                if await _purge(rt, int(account_id), now):
                    purged += 1
            except Exception:
                # The claim stays until PURGE_LEASE: the next run retries. Ids only.
                log.exception("purge of account %s failed; retried after the lease",
                              account_id)


async def _claim(account_id: int, now: datetime) -> bool:
    """Claim one due account for this runner: a conditional UPDATE, one winner."""
    return bool(await Account.filter(
        Q(purge_claimed_until__isnull=True) | Q(purge_claimed_until__lt=now),
        id=account_id, status=AccountStatus.CLOSED, purge_after__lte=now,
    ).update(purge_claimed_until=now + PURGE_LEASE))


async def _ids(query: object) -> list:
    return list(await query.values_list("id", flat=True))  # type: ignore[attr-defined]


def _chunks(ids: list) -> list[list]:
    return [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


async def _purge(rt: Runtime, account_id: int, now: datetime) -> bool:
    account = await Account.get_or_none(id=account_id)
    if account is None or account.person_id is None:
        return False
    person_id = account.person_id
    blob_names = await Document.filter(person_id=person_id).values_list("blob_name", flat=True)
    if rt.blobs is not None:
        for name in blob_names:
            await rt.blobs.delete(str(name))
    async with in_transaction() as conn:
        # The row, locked: a second runner (whose lease has expired) waits here, then finds it
        # gone (a no-op on SQLite, whose writers are serialised anyway).
        locked = await (Account.filter(id=account_id, status=AccountStatus.CLOSED)
                        .select_for_update().using_db(conn).first())
        if locked is None:
            return False
        conversations = await _ids(Conversation.filter(patient_id=person_id).using_db(conn))
        documents = await _ids(Document.filter(person_id=person_id).using_db(conn))
        for chunk in _chunks(conversations):
            messages = await _ids(Message.filter(conversation_id__in=chunk).using_db(conn))
            for part in _chunks(messages):
                await MessageAttachment.filter(message_id__in=part).using_db(conn).delete()
            await Message.filter(conversation_id__in=chunk).using_db(conn).delete()
            await Participant.filter(conversation_id__in=chunk).using_db(conn).delete()
        for chunk in _chunks(documents):  # attached elsewhere (not expected, but RESTRICT)
            await MessageAttachment.filter(document_id__in=chunk).using_db(conn).delete()
        await Conversation.filter(patient_id=person_id).using_db(conn).delete()
        await Block.filter(patient_account_id=account_id).using_db(conn).delete()
        held = [s for s in await Appointment.filter(
            person_id=person_id, active_slot_id__isnull=False).using_db(conn)
            .values_list("active_slot_id", flat=True) if s]
        await AppointmentNotice.filter(person_id=person_id).using_db(conn).delete()
        await Appointment.filter(person_id=person_id).using_db(conn).delete()
        if held:
            await Slot.filter(id__in=held).using_db(conn).update(status=SlotStatus.FREE)
        await CalendarFeed.filter(person_id=person_id).using_db(conn).delete()
        for model in PROFILE_MODELS:
            await model.filter(person_id=person_id).using_db(conn).delete()
        await Document.filter(person_id=person_id).using_db(conn).delete()
        await CareRelationship.filter(patient_id=person_id).using_db(conn).delete()
        await EmergencyAccess.filter(patient_id=person_id).using_db(conn).delete()
        await PatientAccessSettings.filter(patient_id=person_id).using_db(conn).delete()
        for token_model in (OAuthRefreshToken, OAuthAccessToken, OAuthCode):
            await token_model.filter(person_id=person_id).using_db(conn).delete()
        await OAuthGrant.filter(person_id=person_id).using_db(conn).delete()
        # The crypto-shredding: the only wrapped copies of the patient's data keys.
        await DataKey.filter(person_id=person_id).using_db(conn).delete()
        await Account.filter(id=account_id).using_db(conn).delete()
        if not await Account.filter(person_id=person_id).using_db(conn).exists():
            await Person.filter(id=person_id).using_db(conn).delete()
        await audit.record(AuditKind.ACCOUNT_PURGED, account_id=account_id, outcome="success",
                           reason="deletion" if account.deletion_requested_at else "archive",
                           using_db=conn)
    return True
