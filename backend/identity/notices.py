"""Short notices sent to a person on their own verified contact: "you have a new document",
"you have a new message", "your password was changed", the safety notices of access
("your record was opened in an emergency", backend/access/services.py: `warn_patient`), and
the delivery of one-time codes.

A notice carries NO health data: no document title, no message body, no sender, no subject;
only that something happened, in the account's language (French msgids marked with `N_()`,
English in backend/locales/en/LC_MESSAGES/identity.po). An event notice goes only to an account
that switched that event on (`Account.notify_new_document` / `notify_new_message`), on the
channel it chose (`notification_channel`, by default its login-code channel), falling back to
its other verified contact when that one is not (or no longer) verified.

Sending never fails nor slows what triggered it: `later()` runs the notice in a background task,
scheduled once the triggering transaction has committed, and a failure is logged with the type
of the error only (never a destination, a text, an identifier or a code).
These are NOT on the durable job queue (backend/jobs/, docs/jobs.md): one-time codes must never
be stored in a job's arguments (a secret in clear), and the event notices stay here until a
later part gives each a job enqueued in its triggering transaction; a notice still pending
when the process stops is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from backend.i18n import N_, gettext
from backend.identity.models import Account, AccountStatus, CodeChannel
from backend.runtime import Runtime

log = logging.getLogger(__name__)


class Event(StrEnum):
    """Events a person may be told about (each one switched on or off in their account)."""

    NEW_DOCUMENT = "new_document"
    NEW_MESSAGE = "new_message"


@dataclass(frozen=True)
class Text:
    """A notice: subject (e-mail only) and text, French msgids translated when sent."""

    subject: str
    body: str


NEW_DOCUMENT = Text(N_("Carnet : nouveau document"),
                    N_("Vous avez un nouveau document dans Carnet."))
NEW_MESSAGE = Text(N_("Carnet : nouveau message"),
                   N_("Vous avez un nouveau message dans Carnet."))
# The reminder professionals get for a message left unread (messaging.notify_waiting_messages).
WAITING_MESSAGE = Text(N_("Carnet : un message vous attend"),
                       N_("Un message vous attend dans votre messagerie Carnet. "
                          "Connectez-vous pour le lire."))
PASSWORD_CHANGED = Text(
    N_("Carnet : votre mot de passe a été modifié"),
    N_("Le mot de passe de votre compte Carnet vient d'être modifié et toutes vos sessions "
       "ont été fermées. Si vous n'êtes pas à l'origine de ce changement, réinitialisez votre "
       "mot de passe sans attendre (« Mot de passe oublié » sur la page de connexion)."),
)

EVENT_TEXTS = {Event.NEW_DOCUMENT: NEW_DOCUMENT, Event.NEW_MESSAGE: NEW_MESSAGE}


# --- where -------------------------------------------------------------------------------


def verified_destination(account: Account, channel: CodeChannel) -> str | None:
    """The account's address on `channel`, if it has one and it was verified."""
    if channel is CodeChannel.EMAIL:
        return account.email if account.email and account.email_verified else None
    return account.phone if account.phone and account.phone_verified else None


def notification_channel(account: Account) -> CodeChannel:
    """The channel the person chose for notices (by default, their login-code channel)."""
    return account.notification_channel or account.preferred_channel


def route(account: Account, first: CodeChannel) -> tuple[CodeChannel, str] | None:
    """The verified contact on `first`, else the other verified one; None without any."""
    for channel in (first, *(c for c in CodeChannel if c is not first)):
        destination = verified_destination(account, channel)
        if destination:
            return channel, destination
    return None


def notice_route(account: Account) -> tuple[CodeChannel, str] | None:
    """Where a notice goes: the chosen channel, else the other verified contact."""
    return route(account, notification_channel(account))


def wants(account: Account, event: Event) -> bool:
    if event is Event.NEW_DOCUMENT:
        return account.notify_new_document
    return account.notify_new_message


# --- sending -----------------------------------------------------------------------------


async def deliver(rt: Runtime, channel: CodeChannel | str, destination: str, subject: str,
                  text: str) -> None:
    """One message through the notifier; raises what the notifier raises (DeliveryFailed)."""
    if CodeChannel(channel) is CodeChannel.EMAIL:
        await rt.notifier.send_email(destination, subject, text)
    else:
        await rt.notifier.send_sms(destination, text)


async def send(rt: Runtime, account: Account, text: Text, *, what: str,
               to: tuple[CodeChannel, str] | None = None) -> bool:
    """Send `text` in the account's language to `to` (default: its notice route). Never
    raises: a failure is logged as `what` and the error's type. True if it was handed over."""
    to = to or notice_route(account)
    if to is None:
        return False
    channel, destination = to
    language = account.language
    try:
        await deliver(rt, channel, destination, gettext(text.subject, language),
                      gettext(text.body, language))
    except Exception as exc:
        log.warning("%s notice failed (%s, %s)", what, channel.value, type(exc).__name__)
        return False
    return True


async def tell(rt: Runtime, account: Account, event: Event) -> bool:
    """Tell an active account about `event`, if it switched that event on."""
    if account.status is not AccountStatus.ACTIVE or not wants(account, event):
        return False
    return await send(rt, account, EVENT_TEXTS[event], what=event.value)


async def tell_patient(rt: Runtime, person_id: int, event: Event) -> bool:
    """Tell the patient (their active account) about `event`, per their preferences."""
    account = await Account.filter(person_id=person_id, status=AccountStatus.ACTIVE).first()
    if account is None:
        return False
    return await tell(rt, account, event)


async def warn_patient(rt: Runtime, person_id: int, text: Text, *, what: str) -> bool:
    """A safety notice to the patient (their active account: an emergency opening of their
    record, a professional declaring they treat them): on their notice route (the chosen
    channel, else the other verified contact; never an unverified one), in their language,
    WHATEVER their "which events" switches say: those switches choose the news they want,
    not whether they learn that someone may now read their record. Never raises."""
    account = await Account.filter(person_id=person_id, status=AccountStatus.ACTIVE).first()
    if account is None:
        return False
    return await send(rt, account, text, what=what)


async def tell_every_contact(rt: Runtime, account_id: int, text: Text, *, what: str) -> int:
    """A security notice (e.g. the password changed): to EVERY verified contact of the
    account, whatever its preferences, so that someone holding one of them cannot hide it."""
    account = await Account.get_or_none(id=account_id)
    if account is None:
        return 0
    sent = 0
    for channel in CodeChannel:
        destination = verified_destination(account, channel)
        if destination and await send(rt, account, text, what=what, to=(channel, destination)):
            sent += 1
    return sent


# --- in the background -------------------------------------------------------------------

_pending: set[asyncio.Task[None]] = set()


def _inside_transaction() -> bool:
    try:
        return isinstance(connections.get("default"), TransactionalDBClient)
    except Exception:  # the ORM is not set up (some unit tests): no transaction either
        return False


async def _quietly(work: Coroutine[Any, Any, object], what: str) -> None:
    try:
        await work
    except Exception as exc:  # never personal data: the error's type only
        log.warning("%s failed in the background (%s)", what, type(exc).__name__)


def later(work: Coroutine[Any, Any, object], *, what: str) -> asyncio.Task[None]:
    """Run `work` (a notice) in the background: the caller's answer does not wait for it and
    cannot fail because of it. Call it AFTER the triggering transaction has committed (a task
    started inside a transaction would inherit its connection): inside one, it refuses.
    (Not on the durable job queue: see the module's docstring.)"""
    if _inside_transaction():
        work.close()
        raise RuntimeError("notices.later() inside a transaction: schedule after the commit")
    task = asyncio.get_running_loop().create_task(_quietly(work, what), name=f"notice:{what}")
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


async def drain() -> None:
    """Wait for the notices scheduled so far (shutdown, tests, CLI commands)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)
