"""`carnet campaign letters --out DIR`: the campaign's letters, for the persons without an
email, as printable PDF batches (A4, one page a person, French, the address placed for a DL
window envelope), each letter produced once. The young adults' letters at 18
(backend/onboarding/majority.py) are in the same batches, with their own text (the row's
`reason`: MAJORITY with a code to activate, HANDED_OVER without a code).

A batch:

1. claims up to `batch_size` pending letters in one statement (backend/onboarding/notices.py
   `claim`, which also writes the batch's name in `letter_batch`);
2. draws each person's code (`secrets`) and writes the PDF to `DIR/<batch>.pdf.part`, flushed
   to disk;
3. in ONE transaction, stores each code's keyed hash and `sent_at` (only while this run still
   holds the claim: a lost claim rolls the whole batch back);
4. renames the file to `DIR/<batch>.pdf`.

A run that dies between 3 and 4 leaves a complete `.part` whose letters are marked: the next
run in the same DIR renames it (finishing the batch). A run that dies before 3 leaves a `.part`
whose letters are not marked: the next run deletes it, and its letters are claimed again once
the lease (CAMPAIGN_NOTICE_LEASE_SECONDS) is over, with new codes. So each letter ends up in
exactly one `.pdf`. The codes exist in clear only in the PDF: the files are the codes, keep DIR
private and delete the files once printed.

Text uses the PDF core fonts (Helvetica, Courier: Latin-1), so characters outside Latin-1 are
transliterated (œ -> oe, ’ -> ') or replaced; names are already Latin-1 (INS traits).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from tortoise.transactions import in_transaction

from backend.onboarding import codes
from backend.onboarding.models import NoticeChannel, NoticeReason, NotifiedPerson
from backend.onboarding.notices import (
    HANDED_OVER_NEXT,
    MAJORITY_ACTIVATE,
    MAJORITY_HOW,
    MAJORITY_NEWS,
    PARIS,
    SAFETY,
    claim,
    mark_sent,
    needs_code,
    window_end_text,
)
from backend.settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 500
PREFIX = "carnet-courriers-"

_LATIN1_FIXES = str.maketrans({"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"',
                               "–": "-", "—": "-", "…": "...", "\u202f": " ", "\u2009": " "})


def latin1(text: str) -> str:
    text = unicodedata.normalize("NFC", text.translate(_LATIN1_FIXES))
    return text.encode("latin-1", "replace").decode("latin-1")


INTRO = ("Carnet, votre espace santé numérique, va vous ouvrir un espace personnel : vos "
         "documents de santé, vos échanges avec les professionnels qui vous soignent et vos "
         "rendez-vous, en un seul endroit sécurisé.")
WINDOW = ("Vous pouvez refuser son ouverture jusqu'au {end}. Sans refus de votre part, votre "
          "espace sera ouvert après cette date ; vous pourrez le clôturer à tout moment.")
HOW = ("Pour refuser, ou pour activer votre espace dès maintenant, rendez-vous sur la page "
       "ci-dessous avec votre numéro de sécurité sociale, ce code et votre date de naissance :")
SUBJECTS = {NoticeReason.CAMPAIGN: "Objet : l'ouverture de votre espace santé Carnet",
            NoticeReason.MAJORITY: "Objet : votre espace santé Carnet est désormais le vôtre",
            NoticeReason.HANDED_OVER: "Objet : votre espace santé Carnet est désormais le vôtre"}


@dataclass(frozen=True)
class Letter:
    name: str  # first names and birth name, as on the envelope
    address: dict[str, object]
    code: str | None  # None: a notice without a code (HANDED_OVER)
    window_ends_at: datetime
    reason: NoticeReason = NoticeReason.CAMPAIGN


@dataclass(frozen=True)
class LetterFile:
    path: Path
    letters: int


def render(letters: list[Letter], settings: Settings, today: datetime) -> bytes:
    """The batch's PDF: one A4 page per letter."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title("Carnet - courriers")
    pdf.set_creator("Carnet")
    date_text = window_end_text(today)
    for letter in letters:
        end = window_end_text(letter.window_ends_at)
        pdf.add_page()
        pdf.set_margins(20, 20, 20)
        pdf.set_xy(20, 20)
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 7, "Carnet", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 5, latin1("Votre espace santé numérique"), new_x="LMARGIN", new_y="NEXT")
        # The recipient, where a DL window envelope shows it (110 mm from the left, 50 mm down).
        pdf.set_xy(110, 50)
        pdf.set_font("Helvetica", "", 11)
        lines = [letter.name, *[str(x) for x in letter.address.get("lines", [])],
                 f"{letter.address.get('postal_code', '')} {letter.address.get('city', '')}"]
        for line in lines:
            pdf.set_x(110)
            pdf.cell(85, 5.5, latin1(line)[:60], new_x="LEFT", new_y="NEXT")
        pdf.set_xy(20, 95)
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, 6, latin1(f"Le {date_text}"), align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 7, latin1(SUBJECTS[letter.reason]), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 5.5, latin1("Madame, Monsieur,"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        if letter.reason is NoticeReason.CAMPAIGN:
            paragraphs = (INTRO, WINDOW.format(end=end))
            code_line, how = "Votre code provisoire :", HOW
        elif letter.reason is NoticeReason.MAJORITY:
            paragraphs = (MAJORITY_NEWS,)
            code_line, how = MAJORITY_ACTIVATE, MAJORITY_HOW.format(url="la page ci-dessous")
        else:
            paragraphs, code_line, how = (MAJORITY_NEWS, HANDED_OVER_NEXT), None, None
        for paragraph in paragraphs:
            pdf.multi_cell(0, 5.5, latin1(paragraph), align="J", new_x="LMARGIN",
                           new_y="NEXT")
            pdf.ln(2)
        if code_line is not None and letter.code is not None:
            pdf.ln(2)
            pdf.set_font("Helvetica", "", 11)
            pdf.cell(0, 6, latin1(code_line), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Courier", "B", 18)
            pdf.cell(0, 10, letter.code, new_x="LMARGIN", new_y="NEXT")
            if letter.reason is NoticeReason.CAMPAIGN:
                pdf.set_font("Helvetica", "", 10)
                pdf.cell(0, 5, latin1(f"(valable jusqu'au {end})"), new_x="LMARGIN",
                         new_y="NEXT")
            pdf.ln(4)
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 5.5, latin1(how), align="J", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "B", 11)
            pdf.cell(0, 7, latin1(settings.campaign_page_url), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, latin1(SAFETY), align="J", new_x="LMARGIN", new_y="NEXT")
        pdf.set_xy(20, 270)
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(0, 4, latin1("Carnet - espace santé numérique. Courrier à conserver."),
                 align="C")
    return bytes(pdf.output())


def _write_part(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def recover(out: Path) -> list[LetterFile]:
    """Finish or drop the batches a run left half-written in `out` (see the docstring)."""
    finished: list[LetterFile] = []
    # Local files of an operator's command: blocking calls are fine (no event loop to share).
    for part in sorted(out.glob(f"{PREFIX}*.pdf.part")):  # noqa: ASYNC240
        batch = part.name.removesuffix(".pdf.part")
        marked = await NotifiedPerson.filter(letter_batch=batch, sent_at__isnull=False).count()
        if marked:
            final = part.with_name(f"{batch}.pdf")
            os.replace(part, final)
            finished.append(LetterFile(final, marked))
        else:
            part.unlink()
            await NotifiedPerson.filter(letter_batch=batch, sent_at__isnull=True).update(
                letter_batch=None, notice_claim=None, notice_claimed_at=None)
    if finished:
        _sync_dir(out)
    return finished


class ClaimLost(RuntimeError):
    """Another run took over this batch's claim (its lease ran out): nothing was marked."""


async def write_batch(settings: Settings, out: Path, *, batch_size: int = BATCH_SIZE,
                      now: datetime | None = None) -> LetterFile | None:
    """One PDF of pending letters (None: none is pending)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    batch = f"{PREFIX}{now.astimezone(PARIS):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
    token, ids = await claim(settings, NoticeChannel.LETTER, now=now, limit=batch_size,
                             batch=batch)
    if not ids:
        return None
    rows = await NotifiedPerson.filter(id__in=ids, notice_claim=token)
    drawn: list[tuple[NotifiedPerson, str | None]] = []
    letters: list[Letter] = []
    for row in rows:
        address = json.loads(row.postal_address) if row.postal_address else {}
        code = codes.draw_code() if needs_code(row.reason) else None
        drawn.append((row, code))
        letters.append(Letter(f"{row.first_names} {row.birth_name}", address, code,
                              row.window_ends_at, row.reason))
    # Sorted by postal code: the order mail presorting wants (the pairs stay together).
    order = sorted(range(len(letters)),
                   key=lambda i: (str(letters[i].address.get("postal_code", "")), drawn[i][0].id))
    part = out / f"{batch}.pdf.part"
    _write_part(part, render([letters[i] for i in order], settings, now))
    try:
        async with in_transaction() as conn:
            for row, code in drawn:
                if not await mark_sent(row.id, token, code, settings, now, using_db=conn):
                    raise ClaimLost(batch)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    final = out / f"{batch}.pdf"
    os.replace(part, final)
    _sync_dir(out)
    log.info("campaign letters: %s written in one batch", len(drawn))
    return LetterFile(final, len(drawn))


async def write_pending_letters(settings: Settings, out: Path, *, batch_size: int = BATCH_SIZE,
                                now: datetime | None = None) -> list[LetterFile]:
    """Every pending letter, in PDF batches of `batch_size` pages; the files written."""
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (an operator's command)
    written = await recover(out)
    while True:
        done = await write_batch(settings, out, batch_size=batch_size, now=now)
        if done is None:
            return written
        written.append(done)
