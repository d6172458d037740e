"""The campaign's email notices: each notified person with an email gets ONE email (French: the
person has no account, hence no language, yet) with their provisional code, the window's end
and how to refuse or activate. Letters are backend/onboarding/letters.py's. A young adult's
notice at 18 (backend/onboarding/majority.py) goes out the same way with its own text, chosen
by the row's `reason`: MAJORITY (activate the space with this code), HANDED_OVER (the space
was already active: no code is drawn nor stored).

`send_pending_notices(runtime, batch_size)` is idempotent and safe with several senders at once
(the job queue runs it; `carnet campaign send` runs it until nothing is left):

1. ONE statement claims a batch: `UPDATE ... SET notice_claim = <random token>,
   notice_claimed_at = now, notice_attempts + 1 WHERE id IN (SELECT ... FOR UPDATE SKIP
   LOCKED LIMIT n) RETURNING id` on PostgreSQL (concurrent senders skip each other's rows, none
   waits); the same statement without the lock clause on SQLite, whose writers are serialised.
   Claimable: an email notice not sent, of a person still `notified` (a campaign's; a young
   adult's notice whatever its status: CREATED or ACTIVATED by the hand-over), inside the
   window, under CAMPAIGN_NOTICE_MAX_ATTEMPTS attempts, and not claimed by a live sender (a
   claim older than CAMPAIGN_NOTICE_LEASE_SECONDS is a dead sender's).
2. For each claimed row: a code is drawn (`secrets`), the email goes out through the notifier,
   then `code_hash` and `sent_at` are written by `UPDATE ... WHERE id AND notice_claim = <mine>
   AND sent_at IS NULL`: only the holder of the current claim marks it, once. The code itself
   is never stored. A delivery failure leaves the row claimed: tried again after the lease.

The one gap no outbox closes without the provider's help: a sender that dies after the provider
took the email but before the mark sends it again after the lease, with a new code (the first
one then does not work: its hash was never stored). Logs carry counts and error types only.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from tortoise import connections

from backend.identity import notices as identity_notices
from backend.identity.models import CodeChannel
from backend.onboarding import codes
from backend.onboarding.models import (
    NoticeChannel,
    NoticeReason,
    NotifiedPerson,
    NotifiedStatus,
)
from backend.runtime import Runtime
from backend.settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 100
PARIS = ZoneInfo("Europe/Paris")

SUBJECT = "Carnet : votre espace santé va être ouvert"
BODY = """Bonjour,

Carnet, votre espace santé numérique, va vous ouvrir un espace personnel : vos documents de \
santé, vos échanges avec les professionnels qui vous soignent et vos rendez-vous, en un seul \
endroit sécurisé.

Vous pouvez refuser son ouverture jusqu'au {end}. Sans refus de votre part, votre espace sera \
ouvert après cette date ; vous pourrez le clôturer à tout moment.

Votre code provisoire : {code}
(valable jusqu'au {end})

Pour refuser, ou pour activer votre espace dès maintenant, rendez-vous sur {url} avec votre \
numéro de sécurité sociale, ce code et votre date de naissance.

Ne communiquez ce code à personne : Carnet ne vous le demandera jamais par téléphone ni par \
e-mail.

L'équipe Carnet"""


# A young adult's notices at 18 (backend/onboarding/majority.py), email and letter alike.
MAJORITY_SUBJECT = "Carnet : votre espace santé est désormais le vôtre"
MAJORITY_NEWS = ("Vous avez 18 ans : votre espace santé Carnet est désormais le vôtre. Les accès "
                 "de vos représentants légaux à votre espace ont pris fin.")
MAJORITY_ACTIVATE = "Activez-le avec ce code provisoire :"
MAJORITY_HOW = ("Rendez-vous sur {url} avec votre numéro de sécurité sociale, ce code et votre "
                "date de naissance : vous choisirez votre identifiant, votre mot de passe et "
                "votre adresse de contact. Vous pourrez ensuite choisir qui peut vous aider à "
                "le gérer (« Mes aidants »), ou le clôturer à tout moment.")
HANDED_OVER_NEXT = ("Vous n'avez rien à faire : connectez-vous à Carnet comme d'habitude. C'est "
                    "désormais vous qui choisissez qui peut vous aider à gérer votre espace "
                    "(« Mes aidants »).")
SAFETY = ("Ne communiquez ce code à personne : Carnet ne vous le demandera jamais par téléphone "
          "ni par e-mail.")
MAJORITY_BODY = f"""Bonjour,

{MAJORITY_NEWS}

{MAJORITY_ACTIVATE} {{code}}

{MAJORITY_HOW}

{SAFETY}

L'équipe Carnet"""
HANDED_OVER_BODY = f"""Bonjour,

{MAJORITY_NEWS}

{HANDED_OVER_NEXT}

L'équipe Carnet"""


def window_end_text(window_ends_at: datetime) -> str:
    """The window's last day as a French reader reads it: "14 janvier 2027"."""
    return format_date(window_ends_at.astimezone(PARIS).date(), "d MMMM y", locale="fr")


def notice_text(settings: Settings, code: str | None, window_ends_at: datetime,
                reason: NoticeReason = NoticeReason.CAMPAIGN) -> tuple[str, str]:
    """The email's subject and text (a code for every reason but HANDED_OVER)."""
    if reason is NoticeReason.HANDED_OVER:
        return MAJORITY_SUBJECT, HANDED_OVER_BODY
    if reason is NoticeReason.MAJORITY:
        return MAJORITY_SUBJECT, MAJORITY_BODY.format(
            code=code, url=settings.campaign_page_url)
    return SUBJECT, BODY.format(code=code, end=window_end_text(window_ends_at),
                                url=settings.campaign_page_url)


def needs_code(reason: NoticeReason) -> bool:
    return reason is not NoticeReason.HANDED_OVER


# --- claiming ----------------------------------------------------------------------------------

_CLAIM = (
    'UPDATE "campaign_person" SET "notice_claim"={token},"notice_claimed_at"={now},'
    '"notice_attempts"="notice_attempts"+1{extra} '
    'WHERE "id" IN (SELECT "id" FROM "campaign_person" '
    'WHERE "channel"={channel} AND "sent_at" IS NULL '
    'AND ("status"={status} OR "reason"<>{campaign}) '
    'AND "window_ends_at">{now} AND "notice_attempts"<{max_attempts} '
    'AND ("notice_claimed_at" IS NULL OR "notice_claimed_at"<={expired}) '
    'ORDER BY "id" LIMIT {limit}{lock}) '
    'RETURNING "id"'
)


def _postgres(conn: Any) -> bool:
    return conn.capabilities.dialect == "postgres"


async def claim(settings: Settings, channel: NoticeChannel, *, now: datetime, limit: int,
                batch: str | None = None, conn: Any = None) -> tuple[str, list[int]]:
    """(claim token, ids) of up to `limit` pending notices of `channel`, claimed in one
    statement; a letter claim also names its PDF batch."""
    conn = conn or connections.get("default")
    now = now.astimezone(UTC)
    token = secrets.token_hex(16)
    expired = now - timedelta(seconds=settings.campaign_notice_lease_seconds)
    params = {"token": token, "now": now, "channel": channel.value,
              "status": NotifiedStatus.NOTIFIED.value, "campaign": NoticeReason.CAMPAIGN.value,
              "max_attempts": settings.campaign_notice_max_attempts, "expired": expired,
              "limit": limit, "batch": batch}
    names = ["token", "now", "channel", "status", "campaign", "max_attempts", "expired",
             "limit"]
    if batch is not None:
        names.append("batch")
    marks = {name: f"${i}" for i, name in enumerate(names, 1)}
    extra = f',"letter_batch"={marks["batch"]}' if batch is not None else ""
    sql = _CLAIM.format(**marks, extra=extra,
                        lock=" FOR UPDATE SKIP LOCKED" if _postgres(conn) else "")
    values = [params[n] for n in names]
    if not _postgres(conn):
        sql = sql.replace("$", "?")  # ?NNN: SQLite's numbered parameters
    rows = await conn.execute_query_dict(sql, values)
    return token, sorted(int(row["id"]) for row in rows)


async def mark_sent(row_id: int, token: str, code: str | None, settings: Settings,
                    now: datetime, using_db: Any = None) -> bool:
    """Store the code's hash (none for a notice without a code) and the sending time, if this
    sender still holds the claim."""
    query = NotifiedPerson.filter(id=row_id, notice_claim=token, sent_at__isnull=True)
    if using_db is not None:
        query = query.using_db(using_db)
    stored = codes.hash_for_storage(settings, row_id, code) if code is not None else None
    changed = await query.update(code_hash=stored, sent_at=now, notice_claim=None)
    return bool(changed)


# --- sending -----------------------------------------------------------------------------------


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0  # left claimed: tried again after the lease
    lost: int = 0  # the claim was taken over (a lease that ran out) before the mark

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(self.claimed + other.claimed, self.sent + other.sent,
                          self.failed + other.failed, self.lost + other.lost)


async def send_pending_notices(rt: Runtime, batch_size: int = BATCH_SIZE, *,
                               now: datetime | None = None) -> SendReport:
    """Claim one batch of pending email notices and send each once (see the module's
    docstring). Returns what happened; `claimed == 0` means nothing was pending."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    token, ids = await claim(rt.settings, NoticeChannel.EMAIL, now=now, limit=batch_size)
    report = SendReport(claimed=len(ids))
    if not ids:
        return report
    for person in await NotifiedPerson.filter(id__in=ids, notice_claim=token).order_by("id"):
        if not person.email:
            continue
        code = codes.draw_code() if needs_code(person.reason) else None
        subject, body = notice_text(rt.settings, code, person.window_ends_at, person.reason)
        try:
            await identity_notices.deliver(rt, CodeChannel.EMAIL, person.email, subject, body)
        except Exception as exc:  # the error's type only: never a destination nor a text
            log.warning("campaign notice failed (email, %s)", type(exc).__name__)
            report.failed += 1
            continue
        if await mark_sent(person.id, token, code, rt.settings, now):
            report.sent += 1
        else:
            report.lost += 1
    log.info("campaign notices: %s claimed, %s sent, %s failed, %s lost", report.claimed,
             report.sent, report.failed, report.lost)
    return report
