"""Identity rules: login with password + one-time code, sessions, sensitive account changes.

Limits (all counted atomically in Redis, so aliases, batches and parallel requests cannot slip
past them):
- per client address: LOGIN_RATE_PER_ADDRESS login/verify attempts per minute;
- per identifier (known or not, so a refusal reveals nothing) AND client address:
  LOGIN_MAX_FAILURES_PER_ADDRESS attempts per LOGIN_LOCK_SECONDS, then that address alone is
  refused for that identifier (a success starts its count again);
- per identifier, all addresses: LOGIN_MAX_FAILURES password checks a day, then progressive
  delays (one check per doubling "not before" slot), which addresses that have not failed on
  the identifier skip within a daily budget: a stranger cannot keep the owner out, and the
  checks per identifier per day stay bounded (see `_guard_password_check`);
- per code: 5 wrong tries, then burned; per account: a few codes sent per quarter hour.

Forgotten password (`request_password_reset`, `confirm_password_reset`): limited per client
address and per identifier (known or not), answered alike for every identifier: an unknown
one, or an account that is closed or has no verified contact, gets a decoy challenge (stored
like a real one, matched by no code: see codes.py), so neither the answer, nor its timing (the
code is sent in the background), nor the later tries tell whether an account exists.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from backend import live_sockets
from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.crypto import keyed_hash
from backend.i18n import DEFAULT_LOCALE, LOCALES, N_, current_locale, gettext
from backend.identity import notices, passwords
from backend.identity.codes import Challenge, CodeStore
from backend.identity.contacts import InvalidContact, normalise_email, normalise_phone
from backend.identity.errors import (
    AccountIsClosed,
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
from backend.identity.lookup import account_by_identifier
from backend.identity.models import Account, AccountStatus, CodeChannel, identifier_key
from backend.identity.sessions import SessionRecord, SessionStore
from backend.kv import CodeCheck, hash_tag
from backend.notifications.masking import mask_email, mask_phone
from backend.notifications.services import DeliveryFailed
from backend.runtime import Runtime

log = logging.getLogger(__name__)

CODES_WINDOW_SECONDS = 900
# Who may sign in with identifier + password + code: a closed space too, only to be reopened.
SIGN_IN_STATUSES = (AccountStatus.ACTIVE, AccountStatus.CLOSED)


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
    return CodeStore(rt.kv, rt.settings.master_key(), rt.settings.otp_ttl_seconds,
                     clock=rt.clock)


def session_store(rt: Runtime) -> SessionStore:
    s = rt.settings
    return SessionStore(rt.kv, s.master_key(), idle=s.session_idle_seconds,
                        absolute=s.session_absolute_seconds, clock=rt.clock)


def _identifier_tag(rt: Runtime, identifier: str) -> str:
    # Counters are keyed by a keyed hash: Redis never holds identifiers in clear.
    return keyed_hash(rt.settings.master_key(), "login-identifier", identifier_key(identifier))


async def _throttle_address(rt: Runtime, caller: Caller, action: str) -> None:
    key = f"rate:{action}:{caller.address}"
    if await rt.kv.incr(key, ttl=60) > rt.settings.login_rate_per_address:
        await audit.record(AuditKind.LOGIN_RATE_LIMITED, account_id=None, outcome="denied",
                           address=caller.address, reason=action)
        raise RateLimited(int(await rt.kv.ttl(key) or 60))


DAY_SECONDS = 86_400


def _address_tag(rt: Runtime, address: str) -> str:
    return keyed_hash(rt.settings.master_key(), "login-address", address)[:32]


def _address_key(rt: Runtime, tag: str, caller: Caller) -> str:
    return f"failures:{hash_tag(tag)}:{_address_tag(rt, caller.address)}"


async def _guard_address(rt: Runtime, tag: str, caller: Caller, account_id: int | None,
                         *, count: bool = True) -> str:
    """Count one attempt of this address on this account (before checking it, atomically, so
    parallel requests cannot slip past); refuse the address alone once it has used up its
    LOGIN_MAX_FAILURES_PER_ADDRESS for the window. Returns the counter's key.

    `count=False` only checks (code tries: each code already allows at most 5 tries, counted
    atomically, so they are counted after a failure, and parallel tries of one right code do
    not use up the address's allowance)."""
    s = rt.settings
    key = _address_key(rt, tag, caller)
    if count:
        attempts = await rt.kv.incr(key, ttl=s.login_lock_seconds)
    else:
        attempts = int(await rt.kv.get(key) or 0) + 1
    if attempts > s.login_max_failures_per_address:
        if attempts == s.login_max_failures_per_address + 1:
            await audit.record(AuditKind.ACCOUNT_LOCKED, account_id=account_id,
                               outcome="denied", address=caller.address,
                               attempts=attempts - 1, reason="address")
        raise TemporarilyLocked(int(await rt.kv.ttl(key) or s.login_lock_seconds) + 1)
    return key


async def _guard_password_check(
    rt: Runtime, tag: str, caller: Caller, account_id: int | None
) -> str:
    """Admit one password check, or refuse it before any hash is computed.

    Per account and address: see `_guard_address`. Per account (all addresses): the first
    LOGIN_MAX_FAILURES checks of the day are free; beyond, progressive delays: one check per
    "not before" slot, whose length doubles from LOGIN_DELAY_BASE_SECONDS up to
    LOGIN_LOCK_SECONDS (others get RateLimited with the time left). An address that has not
    failed on this account in the window skips the delay, within a daily budget of
    LOGIN_FRESH_ADDRESS_CHECKS_PER_DAY, so a stranger hammering from a few addresses cannot
    keep the owner out. Every counter is taken before the check (INCR / SET NX), so the bound
    holds under concurrency: at most LOGIN_MAX_FAILURES + LOGIN_FRESH_ADDRESS_CHECKS_PER_DAY +
    the number of slots in a day (about 105 with the defaults) checks per account per day.
    """
    s = rt.settings
    clean = await rt.kv.get(_address_key(rt, tag, caller)) is None
    address_key = await _guard_address(rt, tag, caller, account_id)
    # An identifier's counters share its hash tag (one Redis Cluster slot).
    checks = await rt.kv.incr(f"checks:{hash_tag(tag)}", ttl=DAY_SECONDS)
    if checks <= s.login_max_failures:
        return address_key
    if checks == s.login_max_failures + 1:
        await audit.record(AuditKind.ACCOUNT_LOCKED, account_id=account_id, outcome="denied",
                           address=caller.address, attempts=checks - 1, reason="delays")
    if clean and await rt.kv.incr(f"fresh:{hash_tag(tag)}", ttl=DAY_SECONDS) <= (
            s.login_fresh_address_checks_per_day):
        return address_key
    exponent = min(checks - s.login_max_failures - 1, 40)
    delay = min(float(s.login_lock_seconds), s.login_delay_base_seconds * 2**exponent)
    if await rt.kv.set(f"slot:{hash_tag(tag)}", "1", ttl=delay, only_if_absent=True):
        return address_key
    raise RateLimited(int(await rt.kv.ttl(f"slot:{hash_tag(tag)}") or 1) + 1)


async def _succeeded(rt: Runtime, address_key: str) -> None:
    # The address proved itself: its own counter starts again (the account's daily count of
    # checks does not, so that successes cannot be used to reset the bound).
    await rt.kv.delete(address_key)


def _destination_tag(rt: Runtime, destination: str) -> str:
    return keyed_hash(rt.settings.master_key(), "contact-destination", destination.casefold())


async def _throttle_contact_codes(rt: Runtime, account_id: int, destination: str) -> None:
    """A contact change sends a code to an address nobody has verified yet: without a daily
    cap per account and per destination it would let an account harass any address."""
    s = rt.settings
    limits = (
        (f"contact-codes:{hash_tag(account_id)}", s.contact_codes_per_account_day),
        # Keyed by a keyed hash: Redis never holds the address itself.
        (f"contact-dest:{hash_tag(_destination_tag(rt, destination))}",
         s.contact_codes_per_destination_day),
    )
    for key, limit in limits:
        if await rt.kv.incr(key, ttl=DAY_SECONDS) > limit:
            raise RateLimited(int(await rt.kv.ttl(key) or DAY_SECONDS))


def masked(channel: str, destination: str) -> str:
    return mask_email(destination) if channel == CodeChannel.EMAIL else mask_phone(destination)


# purpose -> (subject, text); `{code}` and `{minutes}` are filled in after translation.
# (Literals only inside N_(): `pybabel extract` reads them.)
CODE_TEXTS = {
    "login": (N_("Carnet : votre code de connexion"),
              N_("Votre code de connexion Carnet est {code}. Il est valable {minutes} minutes.\n"
                 "Ne le communiquez à personne : Carnet ne vous le demandera jamais.")),
    "password": (N_("Carnet : votre code de changement de mot de passe"),
                 N_("Votre code de changement de mot de passe Carnet est {code}. Il est "
                    "valable {minutes} minutes.\n"
                    "Ne le communiquez à personne : Carnet ne vous le demandera jamais.")),
    "contact": (N_("Carnet : votre code de vérification"),
                N_("Votre code de vérification Carnet est {code}. Il est valable {minutes} "
                   "minutes.\n"
                   "Ne le communiquez à personne : Carnet ne vous le demandera jamais.")),
    "closure": (N_("Carnet : votre code de clôture de votre espace"),
                N_("Votre code de clôture de votre espace Carnet est {code}. Il est valable "
                   "{minutes} minutes.\n"
                   "Ne le communiquez à personne : Carnet ne vous le demandera jamais.\n"
                   "Si vous n'avez rien demandé, changez votre mot de passe.")),
    "reset": (N_("Carnet : votre code de réinitialisation du mot de passe"),
              N_("Votre code de réinitialisation du mot de passe Carnet est {code}. Il est "
                 "valable {minutes} minutes.\n"
                 "Ne le communiquez à personne : Carnet ne vous le demandera jamais.\n"
                 "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste "
                 "inchangé.")),
}


def _code_text(code: str, minutes: int, purpose: str, language: str) -> tuple[str, str]:
    subject, text = CODE_TEXTS[purpose]
    return (gettext(subject, language),
            gettext(text, language).format(code=code, minutes=minutes))


async def send_code(rt: Runtime, challenge: Challenge, code: str, caller: Caller,
                     language: str) -> None:
    # Sending codes costs money and can harass: a few per account per quarter hour.
    key = f"codes-sent:{hash_tag(challenge.account_id)}"
    sent = await rt.kv.incr(key, ttl=CODES_WINDOW_SECONDS)
    if sent > rt.settings.codes_per_account_window:
        raise RateLimited(int(await rt.kv.ttl(key) or 60))
    # The account's language, or the request's when the account keeps the default (someone
    # using the web app in English gets English codes before choosing it in "Mon compte").
    if language == DEFAULT_LOCALE:
        language = current_locale()
    subject, text = _code_text(code, max(1, rt.settings.otp_ttl_seconds // 60),
                               challenge.purpose, language)
    try:
        await notices.deliver(rt, challenge.channel, challenge.destination, subject, text)
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
    account = await account_by_identifier(identifier)
    await _guard_password_check(rt, tag, caller, account.id if account else None)
    # A closed space signs in too, to be reopened (verify_login then opens no session).
    usable = account is not None and account.status in SIGN_IN_STATUSES
    ok = await passwords.verify_password(account.password_hash if usable else None, password)
    if not ok:
        await audit.record(AuditKind.LOGIN_PASSWORD_FAILED,
                           account_id=account.id if account else None,
                           outcome="failure", address=caller.address)
        raise InvalidCredentials()
    assert account is not None
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = await passwords.hash_password(password)
        await account.save(update_fields=["password_hash"])
    chosen = channel or account.preferred_channel
    destination = notices.verified_destination(account, chosen)
    if destination is None:
        raise ChannelUnavailable()
    challenge, code = await code_store(rt).issue(
        account_id=account.id, purpose="login", channel=chosen.value, destination=destination
    )
    await audit.record(AuditKind.LOGIN_PASSWORD_OK, account_id=account.id, outcome="success",
                       address=caller.address, channel=chosen.value)
    await send_code(rt, challenge, code, caller, account.language)
    return challenge


async def resend_code(rt: Runtime, *, challenge_id: str, caller: Caller) -> Challenge:
    await _throttle_address(rt, caller, "login")
    store = code_store(rt)
    challenge = await store.get(challenge_id)
    if challenge is None or challenge.purpose != "login":
        # Codes of sensitive changes are asked again by their (signed-in) owner, never here.
        raise CodeExpired()
    reissued = await store.reissue(challenge)
    if reissued is None:
        raise TooManyAttempts()
    challenge, code = reissued
    account = await Account.get_or_none(id=challenge.account_id)
    await send_code(rt, challenge, code, caller, account.language if account else "fr")
    return challenge


async def check_code(
    rt: Runtime, *, challenge_id: str, code: str, purpose: str, caller: Caller,
    owner_id: int | None = None,
) -> Challenge:
    """Check (and on success consume) a code. `owner_id`: the signed-in caller, for codes of
    sensitive changes: a challenge of another account is refused BEFORE its code is tried, so
    a stranger's try neither consumes the code nor uses up its tries."""
    await _throttle_address(rt, caller, "verify")
    store = code_store(rt)
    challenge = await store.get(challenge_id)
    if challenge is None or challenge.purpose != purpose:
        raise CodeExpired()
    if owner_id is not None and challenge.account_id != owner_id:
        raise CodeExpired()
    account = await Account.get_or_none(id=challenge.account_id)
    allowed = SIGN_IN_STATUSES if purpose == "login" else (AccountStatus.ACTIVE,)
    if account is None or account.status not in allowed:
        raise CodeExpired()
    await _try_code(rt, store, challenge, code, tag=_identifier_tag(rt, account.identifier),
                    account_id=account.id, caller=caller)
    return challenge


async def _try_code(rt: Runtime, store: CodeStore, challenge: Challenge, code: str, *,
                    tag: str, account_id: int | None, caller: Caller) -> None:
    """Try `code` on a pending challenge: returns if it is accepted (and consumed), raises
    InvalidCode / TooManyAttempts / CodeExpired otherwise. `tag`: the identifier the
    address's failures are counted on (`account_id` None: a decoy, see codes.py)."""
    address_key = await _guard_address(rt, tag, caller, account_id, count=False)
    if not (len(code.strip()) == 6 and code.strip().isdigit()):
        # Malformed input still counts as a try: otherwise it is a free oracle.
        code = "x"
    outcome, left = await store.check(challenge.id, code)
    if outcome is CodeCheck.ACCEPTED:
        await _succeeded(rt, address_key)
        return
    if outcome is CodeCheck.MISSING:
        raise CodeExpired()
    if outcome is CodeCheck.REJECTED:
        # Tries of a burned code are refused unchecked: they cost the address nothing.
        await rt.kv.incr(address_key, ttl=rt.settings.login_lock_seconds)
    await audit.record(AuditKind.LOGIN_CODE_FAILED, account_id=account_id, outcome="failure",
                       address=caller.address, attempts=left, reason=challenge.purpose)
    if outcome is CodeCheck.BURNED:
        raise TooManyAttempts()
    raise InvalidCode(left)


async def verify_login(
    rt: Runtime, *, challenge_id: str, code: str, caller: Caller
) -> tuple[str, SessionRecord]:
    challenge = await check_code(rt, challenge_id=challenge_id, code=code, purpose="login",
                                  caller=caller)
    account = await Account.get(id=challenge.account_id)
    if account.status is AccountStatus.CLOSED:
        # Closed: no session (nothing of the space may be read or written), only a ticket to
        # reopen it or ask for its deletion (backend/closure).
        ticket = await issue_reopen_ticket(rt, account.id)
        await audit.record(AuditKind.LOGIN_SUCCEEDED, account_id=account.id, outcome="denied",
                           address=caller.address, reason="closed")
        raise AccountIsClosed(ticket, account.closed_at, account.purge_after,
                              account.deletion_requested_at is not None)
    return await open_session(rt, account, caller)


async def open_session(rt: Runtime, account: Account, caller: Caller
                       ) -> tuple[str, SessionRecord]:
    """A new session for an account that proved who it is (login, reopening)."""
    token, record = await session_store(rt).create(
        account_id=account.id, role=account.role.value, address=caller.address,
        user_agent=caller.user_agent, person_id=account.person_id,
        professional_id=account.professional_id,
    )
    await audit.record(AuditKind.LOGIN_SUCCEEDED, account_id=account.id, outcome="success",
                       address=caller.address, session=record.id)
    return token, record


def _reopen_key(rt: Runtime, ticket: str) -> str:
    return f"reopen:{keyed_hash(rt.settings.master_key(), 'reopen-ticket', ticket)}"


async def issue_reopen_ticket(rt: Runtime, account_id: int) -> str:
    """A one-use ticket (256 bits, kept as a keyed hash, valid OTP_TTL_SECONDS) naming a
    closed account whose owner just signed in with password and code."""
    ticket = secrets.token_urlsafe(32)
    await rt.kv.set(_reopen_key(rt, ticket), str(account_id), ttl=rt.settings.otp_ttl_seconds)
    return ticket


async def consume_reopen_ticket(rt: Runtime, ticket: str) -> int | None:
    """The account a reopen ticket names, once (atomically consumed); None if unknown."""
    if not ticket or len(ticket) > 128:
        return None
    value = await rt.kv.getdel(_reopen_key(rt, ticket))
    return int(value) if value else None


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


async def end_sessions(rt: Runtime, account_id: int, *, except_id: str | None = None
                       ) -> list[str]:
    """Revoke the account's sessions (but `except_id`), then announce it: every worker
    closes those sessions' sockets. Returns the ids revoked."""
    revoked = await session_store(rt).revoke_all(account_id, except_id=except_id)
    await live_sockets.announce_revoked(rt.broker, revoked)
    return revoked


async def logout_everywhere(rt: Runtime, viewer: Viewer, caller: Caller) -> int:
    revoked = await end_sessions(rt, viewer.account_id)
    await audit.record(AuditKind.LOGOUT_EVERYWHERE, account_id=viewer.account_id,
                       outcome="success", address=caller.address)
    return len(revoked)


async def current_account(viewer: Viewer) -> Account:
    # One statement: the person and the professional joined (LEFT OUTER), not fetched apart.
    return await Account.get(id=viewer.account_id).select_related("person", "professional")


def greeting_name(first_names: str) -> str:
    """The name to greet a patient by: their used first name once the identity holds one (it
    does not yet: INS traits only), else the first of their birth first names ("Jean-Pierre"
    of "Jean-Pierre Marie"). A name typed all in capitals or all in lower case is shown
    capitalised ("JEAN" -> "Jean"); any other spelling is kept as typed."""
    first = (first_names.split() or [""])[0]
    return first.title() if first.isupper() or first.islower() else first


# --- sensitive changes: current password + a fresh code -------------------------------------


async def confirm_current_password(rt: Runtime, account: Account, password: str,
                                   caller: Caller) -> None:
    """The step-up's first half: the current password (throttled like login)."""
    await _throttle_address(rt, caller, "login")
    tag = _identifier_tag(rt, account.identifier)
    address_key = await _guard_password_check(rt, tag, caller, account.id)
    if not await passwords.verify_password(account.password_hash, password):
        raise InvalidCredentials(N_("Mot de passe actuel incorrect."))
    await _succeeded(rt, address_key)


async def request_password_change(
    rt: Runtime, viewer: Viewer, *, current_password: str, channel: CodeChannel | None,
    caller: Caller,
) -> Challenge:
    account = await Account.get(id=viewer.account_id)
    await confirm_current_password(rt, account, current_password, caller)
    chosen = channel or account.preferred_channel
    destination = notices.verified_destination(account, chosen)
    if destination is None:
        raise ChannelUnavailable()
    challenge, code = await code_store(rt).issue(
        account_id=account.id, purpose="password", channel=chosen.value, destination=destination
    )
    await send_code(rt, challenge, code, caller, account.language)
    return challenge


def _check_new_password(password: str, identifier: str) -> None:
    try:
        passwords.check_policy(password, identifier=identifier)
    except passwords.WeakPassword as exc:
        raise WeakPassword(exc.text) from None


async def _set_password(account: Account, password: str) -> None:
    account.password_hash = await passwords.hash_password(password)
    account.password_changed_at = datetime.now().astimezone()
    await account.save(update_fields=["password_hash", "password_changed_at"])


async def confirm_password_change(
    rt: Runtime, viewer: Viewer, *, challenge_id: str, code: str, new_password: str,
    caller: Caller,
) -> None:
    account = await Account.get(id=viewer.account_id)
    _check_new_password(new_password, account.identifier)
    await check_code(rt, challenge_id=challenge_id, code=code, purpose="password",
                      caller=caller, owner_id=viewer.account_id)
    await _set_password(account, new_password)
    # Other devices must sign in again with the new password.
    await end_sessions(rt, account.id, except_id=viewer.session_id)
    await audit.record(AuditKind.PASSWORD_CHANGED, account_id=account.id, outcome="success",
                       address=caller.address)


# --- forgotten password: a code to a verified contact, then a new password ------------------


async def _throttle_resets(rt: Runtime, tag: str, caller: Caller) -> None:
    """Per identifier (known or not: the same refusal either way), a few requests per
    quarter hour; per address, the login rate (`_throttle_address`)."""
    await _throttle_address(rt, caller, "reset")
    key = f"reset-requests:{hash_tag(tag)}"
    if await rt.kv.incr(key, ttl=CODES_WINDOW_SECONDS) > rt.settings.codes_per_account_window:
        await audit.record(AuditKind.LOGIN_RATE_LIMITED, account_id=None, outcome="denied",
                           address=caller.address, reason="reset")
        raise RateLimited(int(await rt.kv.ttl(key) or CODES_WINDOW_SECONDS))


def _may_reset(account: Account | None, now: datetime) -> bool:
    """Whose password the forgotten-password flow resets: an active account, and a closed
    (archived) space, so that its owner can sign in again to reopen it (the reset does not
    reopen: the next sign-in answers as a closed account does, with its reopen ticket). A
    space whose deletion was asked, whose purge is due or under way, is answered like an
    unknown identifier (a purged one is unknown: its row is gone)."""
    if account is None:
        return False
    if account.status is AccountStatus.ACTIVE:
        return True
    return (account.status is AccountStatus.CLOSED and account.deletion_requested_at is None
            and account.purge_claimed_until is None
            and account.purge_after is not None and account.purge_after > now)


async def request_password_reset(
    rt: Runtime, *, identifier: str, channel: CodeChannel | None, caller: Caller
) -> Challenge:
    """Send a reset code to the account's verified contact (`channel` if verified, else its
    login-code channel, else its other verified contact). Answers alike for every identifier:
    a challenge whose id and expiry look the same; unknown identifiers, locked or pending
    accounts, closed spaces whose deletion was asked (or whose purge is due) and accounts
    without a verified contact get a decoy that no code matches. A closed (archived) space
    is reset like an active account (`_may_reset`). The code is sent in
    the background, so the answer's timing does not depend on the account either."""
    identifier = identifier.strip()
    tag = _identifier_tag(rt, identifier)
    await _throttle_resets(rt, tag, caller)
    account = await account_by_identifier(identifier)
    route = None
    if _may_reset(account, rt.clock()):
        assert account is not None
        route = notices.route(account, channel or account.preferred_channel)
    # The identifier as typed, sealed in the challenge: the password policy of the last step
    # reads it, for real and decoy challenges alike (it equals the account's, up to case).
    payload = {"identifier": identifier}
    store = code_store(rt)
    if route is None:
        challenge, _ = await store.issue(
            account_id=0, purpose="reset", channel=(channel or CodeChannel.EMAIL).value,
            destination="", payload=payload, slot=f"reset:{hash_tag(tag)}", decoy=True)
        return challenge
    assert account is not None
    chosen, destination = route
    challenge, code = await store.issue(
        account_id=account.id, purpose="reset", channel=chosen.value, destination=destination,
        payload=payload, slot=f"reset:{hash_tag(tag)}")
    notices.later(send_code(rt, challenge, code, caller, account.language),
                  what="password reset code")
    return challenge


async def confirm_password_reset(
    rt: Runtime, *, challenge_id: str, code: str, new_password: str, caller: Caller
) -> int:
    """Check the reset code (5 tries, then burned), set the new password (the policy of a
    password change), end EVERY session of the account and tell its verified contacts.
    Returns the number of sessions ended."""
    await _throttle_address(rt, caller, "verify")
    store = code_store(rt)
    challenge = await store.get(challenge_id)
    if challenge is None or challenge.purpose != "reset" or not challenge.payload:
        raise CodeExpired()
    identifier = str(challenge.payload.get("identifier", ""))
    # Before the code, so that a refused password does not use up a try.
    _check_new_password(new_password, identifier)
    await _try_code(rt, store, challenge, code, tag=_identifier_tag(rt, identifier),
                    account_id=challenge.account_id or None, caller=caller)
    account = await Account.get_or_none(id=challenge.account_id) if challenge.account_id \
        else None
    if not _may_reset(account, rt.clock()):
        raise CodeExpired()  # locked, or deletion asked, since the code was sent
    assert account is not None
    await _set_password(account, new_password)
    # Whoever held a session (the person who forgot, or someone who took it) signs in again.
    revoked = await end_sessions(rt, account.id)
    await audit.record(AuditKind.PASSWORD_CHANGED, account_id=account.id, outcome="success",
                       address=caller.address, reason="reset")
    notices.later(notices.tell_every_contact(rt, account.id, notices.PASSWORD_CHANGED,
                                             what="password changed"),
                  what="password changed notice")
    return len(revoked)


async def request_contact_change(
    rt: Runtime, viewer: Viewer, *, current_password: str, email: str | None, phone: str | None,
    caller: Caller,
) -> Challenge:
    """The code goes to the NEW address, proving the person controls it."""
    if bool(email) == bool(phone):
        raise InvalidInput("email",
                           N_("Indiquez une nouvelle adresse e-mail ou un nouveau numéro."))
    try:
        if email:
            channel, destination = CodeChannel.EMAIL, normalise_email(email)
        else:
            channel, destination = CodeChannel.SMS, normalise_phone(phone or "")
    except InvalidContact as exc:
        raise InvalidInput(exc.field, exc.text) from None
    account = await Account.get(id=viewer.account_id)
    await confirm_current_password(rt, account, current_password, caller)
    await _throttle_contact_codes(rt, account.id, destination)
    challenge, code = await code_store(rt).issue(
        account_id=account.id, purpose="contact", channel=channel.value, destination=destination,
        payload={"field": channel.value, "value": destination},
    )
    await send_code(rt, challenge, code, caller, account.language)
    return challenge


async def confirm_contact_change(
    rt: Runtime, viewer: Viewer, *, challenge_id: str, code: str, caller: Caller
) -> Account:
    challenge = await check_code(rt, challenge_id=challenge_id, code=code, purpose="contact",
                                  caller=caller, owner_id=viewer.account_id)
    if not challenge.payload:
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


# --- preferences -------------------------------------------------------------------------


async def update_preferences(
    viewer: Viewer, *, language: str | None = None,
    notification_channel: CodeChannel | None = None,
    notify_new_document: bool | None = None, notify_new_message: bool | None = None,
) -> Account:
    """Change what is given (all checked before anything is written). Notices may only go to
    a channel whose contact was verified."""
    account = await current_account(viewer)
    changed: list[str] = []
    if language is not None:
        value = language.strip().lower()
        if value not in LOCALES:
            raise InvalidInput("language", N_("Langue non prise en charge : choisissez « fr » "
                                              "(français) ou « en » (anglais)."))
        account.language = value
        changed.append("language")
    if notification_channel is not None:
        if notices.verified_destination(account, notification_channel) is None:
            raise ChannelUnavailable()
        account.notification_channel = notification_channel
        changed.append("notification_channel")
    if notify_new_document is not None:
        account.notify_new_document = notify_new_document
        changed.append("notify_new_document")
    if notify_new_message is not None:
        account.notify_new_message = notify_new_message
        changed.append("notify_new_message")
    if changed:
        await account.save(update_fields=changed)
    return account
