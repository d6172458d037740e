"""Identity rules: login with password + one-time code, sessions, sensitive account changes.

Limits (all counted atomically in Redis, so aliases, batches and parallel requests cannot slip
past them):
- per client address: LOGIN_RATE_PER_ADDRESS login/verify attempts per minute;
- per identifier (known or not, so a lock reveals nothing): LOGIN_MAX_FAILURES consecutive
  failures (wrong password or wrong code) lock logins for LOGIN_LOCK_SECONDS;
- per code: 5 wrong tries, then burned; per account: a few codes sent per quarter hour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from backend import live_sockets
from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.crypto import keyed_hash
from backend.identity import passwords
from backend.identity.accounts import identifier_key
from backend.identity.codes import Challenge, CodeStore
from backend.identity.contacts import InvalidContact, normalise_email, normalise_phone
from backend.identity.errors import (
    ChannelUnavailable,
    CodeDeliveryFailed,
    CodeExpired,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    RateLimited,
    SessionNotFound,
    TemporarilyLocked,
    TooManyAttempts,
    WeakPassword,
)
from backend.identity.models import Account, AccountStatus, CodeChannel
from backend.identity.sessions import SessionRecord, SessionStore
from backend.kv import CodeCheck
from backend.notifications.masking import mask_email, mask_phone
from backend.notifications.services import DeliveryFailed
from backend.runtime import Runtime

log = logging.getLogger(__name__)

CODES_WINDOW_SECONDS = 900


@dataclass
class Caller:
    """Where a request comes from (for rate limits and the audit trail)."""

    address: str
    user_agent: str = ""


@dataclass
class Viewer:
    account_id: int
    role: str
    session_id: str
    person_id: int | None = None  # set for patients
    professional_id: int | None = None  # set for professionals

    @property
    def is_patient(self) -> bool:
        return self.role == "patient" and self.person_id is not None

    @property
    def is_professional(self) -> bool:
        return self.role == "professional" and self.professional_id is not None


def code_store(rt: Runtime) -> CodeStore:
    return CodeStore(rt.kv, rt.settings.master_key(), rt.settings.otp_ttl_seconds)


def session_store(rt: Runtime) -> SessionStore:
    s = rt.settings
    return SessionStore(rt.kv, s.master_key(), idle=s.session_idle_seconds,
                        absolute=s.session_absolute_seconds)


def _identifier_tag(rt: Runtime, identifier: str) -> str:
    # Counters are keyed by a keyed hash: Redis never holds identifiers in clear.
    return keyed_hash(rt.settings.master_key(), "login-identifier", identifier_key(identifier))


async def _throttle_address(rt: Runtime, caller: Caller, action: str) -> None:
    key = f"rate:{action}:{caller.address}"
    if await rt.kv.incr(key, ttl=60) > rt.settings.login_rate_per_address:
        await audit.record(AuditKind.LOGIN_RATE_LIMITED, account_id=None, outcome="denied",
                           address=caller.address, reason=action)
        raise RateLimited(int(await rt.kv.ttl(key) or 60))


async def _check_lock(rt: Runtime, tag: str) -> None:
    remaining = await rt.kv.ttl(f"lock:{tag}")
    if remaining:
        raise TemporarilyLocked(int(remaining) + 1)


async def _count_failure(rt: Runtime, tag: str, account_id: int | None, caller: Caller) -> None:
    """One more consecutive failure for this identifier; lock it at the threshold."""
    s = rt.settings
    failures = await rt.kv.incr(f"failures:{tag}", ttl=s.login_lock_seconds * 4)
    if failures >= s.login_max_failures:
        locked = await rt.kv.set(f"lock:{tag}", "1", ttl=s.login_lock_seconds,
                                 only_if_absent=True)
        await rt.kv.delete(f"failures:{tag}")
        if locked:
            await audit.record(AuditKind.ACCOUNT_LOCKED, account_id=account_id, outcome="denied",
                               address=caller.address, attempts=failures)


async def _reset_failures(rt: Runtime, tag: str) -> None:
    await rt.kv.delete(f"failures:{tag}")


def _destination(account: Account, channel: CodeChannel) -> str | None:
    if channel is CodeChannel.EMAIL:
        return account.email if account.email and account.email_verified else None
    return account.phone if account.phone and account.phone_verified else None


def masked(channel: str, destination: str) -> str:
    return mask_email(destination) if channel == CodeChannel.EMAIL else mask_phone(destination)


def _code_text(code: str, minutes: int, purpose: str) -> tuple[str, str]:
    what = {
        "login": "de connexion",
        "password": "de changement de mot de passe",
        "contact": "de vérification",
    }[purpose]
    subject = f"Carnet : votre code {what}"
    text = (
        f"Votre code {what} Carnet est {code}. Il est valable {minutes} minutes.\n"
        "Ne le communiquez à personne : Carnet ne vous le demandera jamais."
    )
    return subject, text


async def _send_code(rt: Runtime, challenge: Challenge, code: str, caller: Caller) -> None:
    # Sending codes costs money and can harass: a few per account per quarter hour.
    sent = await rt.kv.incr(f"codes-sent:{challenge.account_id}", ttl=CODES_WINDOW_SECONDS)
    if sent > rt.settings.codes_per_account_window:
        raise RateLimited(int(await rt.kv.ttl(f"codes-sent:{challenge.account_id}") or 60))
    subject, text = _code_text(code, max(1, rt.settings.otp_ttl_seconds // 60), challenge.purpose)
    try:
        if challenge.channel == CodeChannel.EMAIL:
            await rt.notifier.send_email(challenge.destination, subject, text)
        else:
            await rt.notifier.send_sms(challenge.destination, text)
    except DeliveryFailed:
        raise CodeDeliveryFailed() from None
    await audit.record(AuditKind.LOGIN_CODE_SENT, account_id=challenge.account_id,
                       outcome="success", address=caller.address, channel=challenge.channel,
                       reason=challenge.purpose)


# --- login -------------------------------------------------------------------------------


async def start_login(
    rt: Runtime, *, identifier: str, password: str, channel: CodeChannel | None, caller: Caller
) -> Challenge:
    """Check identifier + password, then send a code. Unknown identifiers cost the same
    password hash and get the same answer as wrong passwords."""
    await _throttle_address(rt, caller, "login")
    tag = _identifier_tag(rt, identifier)
    await _check_lock(rt, tag)
    account = await Account.get_or_none(identifier_key=identifier_key(identifier))
    usable = account is not None and account.status is AccountStatus.ACTIVE
    ok = await passwords.verify_password(account.password_hash if usable else None, password)
    if not ok:
        await _count_failure(rt, tag, account.id if account else None, caller)
        await audit.record(AuditKind.LOGIN_PASSWORD_FAILED,
                           account_id=account.id if account else None,
                           outcome="failure", address=caller.address)
        raise InvalidCredentials()
    assert account is not None
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = await passwords.hash_password(password)
        await account.save(update_fields=["password_hash"])
    chosen = channel or account.preferred_channel
    destination = _destination(account, chosen)
    if destination is None:
        raise ChannelUnavailable()
    challenge, code = await code_store(rt).issue(
        account_id=account.id, purpose="login", channel=chosen.value, destination=destination
    )
    await audit.record(AuditKind.LOGIN_PASSWORD_OK, account_id=account.id, outcome="success",
                       address=caller.address, channel=chosen.value)
    await _send_code(rt, challenge, code, caller)
    return challenge


async def resend_code(rt: Runtime, *, challenge_id: str, caller: Caller) -> Challenge:
    await _throttle_address(rt, caller, "login")
    store = code_store(rt)
    challenge = await store.get(challenge_id)
    if challenge is None:
        raise CodeExpired()
    reissued = await store.reissue(challenge)
    if reissued is None:
        raise TooManyAttempts()
    challenge, code = reissued
    await _send_code(rt, challenge, code, caller)
    return challenge


async def _check_code(
    rt: Runtime, *, challenge_id: str, code: str, purpose: str, caller: Caller
) -> Challenge:
    await _throttle_address(rt, caller, "verify")
    store = code_store(rt)
    challenge = await store.get(challenge_id)
    if challenge is None or challenge.purpose != purpose:
        raise CodeExpired()
    account = await Account.get_or_none(id=challenge.account_id)
    if account is None or account.status is not AccountStatus.ACTIVE:
        raise CodeExpired()
    tag = _identifier_tag(rt, account.identifier)
    await _check_lock(rt, tag)
    if not (len(code.strip()) == 6 and code.strip().isdigit()):
        # Malformed input still counts as a try: otherwise it is a free oracle.
        code = "x"
    outcome, left = await store.check(challenge_id, code)
    if outcome is CodeCheck.ACCEPTED:
        return challenge
    if outcome is CodeCheck.MISSING:
        raise CodeExpired()
    await _count_failure(rt, tag, account.id, caller)
    await audit.record(AuditKind.LOGIN_CODE_FAILED, account_id=account.id, outcome="failure",
                       address=caller.address, attempts=left, reason=purpose)
    if outcome is CodeCheck.BURNED:
        raise TooManyAttempts()
    raise InvalidCode(left)


async def verify_login(
    rt: Runtime, *, challenge_id: str, code: str, caller: Caller
) -> tuple[str, SessionRecord]:
    challenge = await _check_code(rt, challenge_id=challenge_id, code=code, purpose="login",
                                  caller=caller)
    account = await Account.get(id=challenge.account_id)
    await _reset_failures(rt, _identifier_tag(rt, account.identifier))
    token, record = await session_store(rt).create(
        account_id=account.id, role=account.role.value, address=caller.address,
        user_agent=caller.user_agent, person_id=account.person_id,
        professional_id=account.professional_id,
    )
    await audit.record(AuditKind.LOGIN_SUCCEEDED, account_id=account.id, outcome="success",
                       address=caller.address, session=record.id)
    return token, record


# --- sessions ------------------------------------------------------------------------------


async def authenticate(rt: Runtime, token: str | None) -> Viewer | None:
    if not token:
        return None
    record = await session_store(rt).resolve(token)
    if record is None:
        return None
    return Viewer(account_id=record.account_id, role=record.role, session_id=record.id,
                  person_id=record.person_id, professional_id=record.professional_id)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def list_sessions(rt: Runtime, viewer: Viewer) -> list[SessionRecord]:
    return await session_store(rt).list(viewer.account_id)


async def revoke_session(rt: Runtime, viewer: Viewer, session_id: str, caller: Caller) -> None:
    if not await session_store(rt).revoke(viewer.account_id, session_id):
        raise SessionNotFound()
    # Deleted first, announced second: every worker closes that session's sockets.
    await live_sockets.announce_revoked(rt.broker, [session_id])
    await audit.record(AuditKind.SESSION_REVOKED, account_id=viewer.account_id,
                       outcome="success", address=caller.address, session=session_id)


async def logout(rt: Runtime, viewer: Viewer, caller: Caller) -> None:
    await session_store(rt).revoke(viewer.account_id, viewer.session_id)
    await live_sockets.announce_revoked(rt.broker, [viewer.session_id])
    await audit.record(AuditKind.LOGOUT, account_id=viewer.account_id, outcome="success",
                       address=caller.address, session=viewer.session_id)


async def logout_everywhere(rt: Runtime, viewer: Viewer, caller: Caller) -> int:
    revoked = await session_store(rt).revoke_all(viewer.account_id)
    await live_sockets.announce_revoked(rt.broker, revoked)
    await audit.record(AuditKind.LOGOUT_EVERYWHERE, account_id=viewer.account_id,
                       outcome="success", address=caller.address)
    return len(revoked)


async def current_account(viewer: Viewer) -> Account:
    return await Account.get(id=viewer.account_id).prefetch_related("person", "professional")


# --- sensitive changes: current password + a fresh code -------------------------------------


async def _confirm_password(rt: Runtime, account: Account, password: str, caller: Caller) -> None:
    await _throttle_address(rt, caller, "login")
    tag = _identifier_tag(rt, account.identifier)
    await _check_lock(rt, tag)
    if not await passwords.verify_password(account.password_hash, password):
        await _count_failure(rt, tag, account.id, caller)
        raise InvalidCredentials("Mot de passe actuel incorrect.")


async def request_password_change(
    rt: Runtime, viewer: Viewer, *, current_password: str, channel: CodeChannel | None,
    caller: Caller,
) -> Challenge:
    account = await Account.get(id=viewer.account_id)
    await _confirm_password(rt, account, current_password, caller)
    chosen = channel or account.preferred_channel
    destination = _destination(account, chosen)
    if destination is None:
        raise ChannelUnavailable()
    challenge, code = await code_store(rt).issue(
        account_id=account.id, purpose="password", channel=chosen.value, destination=destination
    )
    await _send_code(rt, challenge, code, caller)
    return challenge


async def confirm_password_change(
    rt: Runtime, viewer: Viewer, *, challenge_id: str, code: str, new_password: str,
    caller: Caller,
) -> None:
    account = await Account.get(id=viewer.account_id)
    try:
        passwords.check_policy(new_password, identifier=account.identifier)
    except passwords.WeakPassword as exc:
        raise WeakPassword(str(exc)) from None
    challenge = await _check_code(rt, challenge_id=challenge_id, code=code, purpose="password",
                                  caller=caller)
    if challenge.account_id != viewer.account_id:
        raise CodeExpired()
    account.password_hash = await passwords.hash_password(new_password)
    account.password_changed_at = datetime.now().astimezone()
    await account.save(update_fields=["password_hash", "password_changed_at"])
    # Other devices must sign in again with the new password.
    revoked = await session_store(rt).revoke_all(account.id, except_id=viewer.session_id)
    await live_sockets.announce_revoked(rt.broker, revoked)
    await audit.record(AuditKind.PASSWORD_CHANGED, account_id=account.id, outcome="success",
                       address=caller.address)


async def request_contact_change(
    rt: Runtime, viewer: Viewer, *, current_password: str, email: str | None, phone: str | None,
    caller: Caller,
) -> Challenge:
    """The code goes to the NEW address, proving the person controls it."""
    if bool(email) == bool(phone):
        raise InvalidInput("email", "Indiquez une nouvelle adresse e-mail ou un nouveau numéro.")
    try:
        if email:
            channel, destination = CodeChannel.EMAIL, normalise_email(email)
        else:
            channel, destination = CodeChannel.SMS, normalise_phone(phone or "")
    except InvalidContact as exc:
        raise InvalidInput(exc.field, str(exc)) from None
    account = await Account.get(id=viewer.account_id)
    await _confirm_password(rt, account, current_password, caller)
    challenge, code = await code_store(rt).issue(
        account_id=account.id, purpose="contact", channel=channel.value, destination=destination,
        payload={"field": channel.value, "value": destination},
    )
    await _send_code(rt, challenge, code, caller)
    return challenge


async def confirm_contact_change(
    rt: Runtime, viewer: Viewer, *, challenge_id: str, code: str, caller: Caller
) -> Account:
    challenge = await _check_code(rt, challenge_id=challenge_id, code=code, purpose="contact",
                                  caller=caller)
    if challenge.account_id != viewer.account_id or not challenge.payload:
        raise CodeExpired()
    account = await Account.get(id=viewer.account_id)
    if challenge.payload["field"] == CodeChannel.EMAIL:
        account.email, account.email_verified = challenge.payload["value"], True
    else:
        account.phone, account.phone_verified = challenge.payload["value"], True
    await account.save()
    await audit.record(AuditKind.CONTACT_CHANGED, account_id=account.id, outcome="success",
                       address=caller.address, field=challenge.payload["field"])
    return account
