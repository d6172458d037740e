"""At 18 the space is handed over to the young adult (issue 15 part 7,
backend/onboarding/majority.py): the representatives' access is over, the job marks their
grants once and tells the young adult once (an email with a code, else a letter in the next
batch, else nothing but a count), activation with that code then the normal login, and an
already active adult told without a code. Runs on PostgreSQL and, with
CARNET_TEST_DATABASE=sqlite, on SQLite.

The 18th birthday is years ahead of the real clock and the tests move the clock past it
(`LATER`, the runtime's clock for the job): nothing depends on today or the time of day, and
the app's own background runs (SQLite's in-process jobs, on the real clock) find nothing due."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from backend.access import carers
from backend.access.models import CarerGrant
from backend.identity.ins import OID_INS_NIR
from backend.identity.models import Account, AccountStatus, CodeChannel, Person, Role, Sex
from backend.onboarding import codes, letters, majority, notices
from backend.onboarding import jobs as onboarding_jobs
from backend.onboarding.models import (
    Campaign,
    NoticeChannel,
    NoticeReason,
    NotifiedPerson,
    NotifiedStatus,
)
from tests.factories import PASSWORD, create_patient, make_nir
from tests.identity_helpers import sign_in
from tests.test_activation import ACTIVATE
from tests.test_campaign import CODE, _pdf

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "Une phrase de passe solide 2026"
BIRTH = date(date.today().year - 10, 6, 15)  # 18 in eight years
LATER = carers.majority_at(BIRTH).astimezone(UTC) + timedelta(days=1)
ADDRESS = {"lines": ["4 rue des Écoles"], "postal_code": "69007", "city": "LYON"}


@pytest.fixture
async def rt(app, clean, notifier):
    return app.state.runtime


@pytest.fixture
def moved(rt):
    """The runtime's clock the day after the 18th birthday (put back after the test)."""
    previous = rt.clock
    rt.clock = lambda: LATER
    yield rt
    rt.clock = previous


async def young(*, nir: str | None = None, first: str = "Léa") -> Person:
    return await Person.create(matricule=nir or make_nir("2"), oid=OID_INS_NIR,
                               birth_name="MARTIN", first_names=first, birth_date=BIRTH,
                               sex=Sex.FEMALE, birthplace_code="75056")


async def campaign_row(person: Person, *, email: str | None = None,
                       address: dict | None = None) -> NotifiedPerson:
    """The row an earlier campaign left for this NIR (notified, code long used)."""
    now = datetime.now(UTC) - timedelta(days=900)
    campaign = await Campaign.create(name="Campagne 2024", file_digest=f"x{person.id}",
                                     window_ends_at=now + timedelta(days=42), created_at=now)
    return await NotifiedPerson.create(
        campaign=campaign, matricule=person.matricule, oid=person.oid,
        birth_name=person.birth_name, first_names=person.first_names,
        birth_date=person.birth_date, sex=person.sex, birthplace_code=person.birthplace_code,
        email=email, postal_address=json.dumps(address) if address else None,
        channel=NoticeChannel.EMAIL if email else NoticeChannel.LETTER,
        status=NotifiedStatus.NOTIFIED, window_ends_at=campaign.window_ends_at,
        code_hash="0" * 64, sent_at=now, notice_attempts=1, created_at=now)


async def represent(child: Person, *emails: str) -> None:
    """Name the representatives a month before the 18th birthday (their grants end at it)."""
    before = carers.majority_at(child.birth_date) - timedelta(days=30)
    for email in emails:
        await carers.add_representative(child=child, email=email, now=before)


def claim(nir: str, code: str) -> dict:
    return {"nir": nir, "birthDate": BIRTH.isoformat(), "code": code}


async def test_the_young_adult_gets_one_email_then_activates_and_signs_in(
        rt, moved, gql, notifier, caplog):
    mum = await create_patient(email="maman@example.fr")
    nir = make_nir("2")
    child = await young(nir=nir)
    await campaign_row(child, email="lea.martin@example.fr")
    await represent(child, "maman@example.fr", "papa@example.fr")
    space = str(child.public_id)
    eve = LATER - timedelta(days=2)
    assert [s.patient.id for s in await carers.spaces_of(mum.id, eve)] == [child.id]
    assert (await carers.space_access(mum.id, space, eve)).patient_id == child.id

    with caplog.at_level(logging.DEBUG):
        await onboarding_jobs.hand_over(rt)
    # The representatives' access is over (their grants ended at the birthday), marked once.
    assert await carers.space_access(mum.id, space, LATER) == carers.NO_SPACE
    assert await carers.spaces_of(mum.id, LATER) == []
    grants = await CarerGrant.filter(patient_id=child.id)
    assert len(grants) == 2 and all(g.handed_over_at == LATER for g in grants)
    # Exactly one email, to the young adult, with the majority's text and a code.
    [message] = notifier.sent
    assert message.to == "lea.martin@example.fr"
    assert message.subject == notices.MAJORITY_SUBJECT
    assert "Vous avez 18 ans" in message.text and "représentants légaux" in message.text
    assert "Activez-le avec ce code provisoire" in message.text
    assert rt.settings.campaign_page_url in message.text and "refuser" not in message.text
    [code] = CODE.findall(message.text)
    row = await NotifiedPerson.get(person_id=child.id)
    assert (row.reason, row.status, row.channel) == (
        NoticeReason.MAJORITY, NotifiedStatus.CREATED, NoticeChannel.EMAIL)
    assert row.code_hash == codes.hash_for_storage(rt.settings, row.id, code)
    assert row.notice_attempts == 1 and row.sent_at is not None
    assert await NotifiedPerson.all().count() == 1  # the campaign's row, reused
    account = await Account.get(person_id=child.id)
    assert account.status is AccountStatus.PENDING
    # Counts only in the logs: no identity, contact nor code.
    assert "1 space(s) handed over" in caplog.text
    for secret in (nir, "MARTIN", "Léa", "lea.martin", code, code.replace("-", "")):
        assert secret not in caplog.text, secret

    # Run again, later still: nothing new (the grants are marked, the notice sent).
    rt.clock = lambda: LATER + timedelta(hours=1)
    await onboarding_jobs.hand_over(rt)
    await notices.send_pending_notices(rt, 10, now=LATER + timedelta(hours=1))
    assert len(notifier.sent) == 1
    assert {g.handed_over_at for g in await CarerGrant.filter(patient_id=child.id)} == {LATER}

    # The code activates the space; then the normal login (password, then a code).
    rt.clock = lambda: datetime.now(UTC)
    answer = (await gql(ACTIVATE, {"n": claim(nir, code), "c": {
        "identifier": "lea.martin", "password": NEW_PASSWORD, "email": "lea@example.fr"}})
    )["data"]["activateAccount"]
    assert answer == {"__typename": "AccountActivated", "identifier": "lea.martin"}
    account = await Account.get(id=account.id)
    assert account.status is AccountStatus.ACTIVE and account.email == "lea@example.fr"
    assert (await NotifiedPerson.get(id=row.id)).status is NotifiedStatus.ACTIVATED
    token = await sign_in(gql, notifier, "lea.martin", NEW_PASSWORD)
    me = (await gql("query { me { patient { insMatricule } } }", token=token))["data"]["me"]
    assert me["patient"]["insMatricule"] == nir
    # The code served once.
    again = (await gql(ACTIVATE, {"n": claim(nir, code), "c": {
        "identifier": "autre", "password": NEW_PASSWORD, "email": "x@example.fr"}})
    )["data"]["activateAccount"]
    assert again["__typename"] == "NoticeNotFound"


async def test_two_workers_at_once_send_one_notice(rt, moved, notifier, monkeypatch):
    child = await young()
    await campaign_row(child, email="deux@example.fr")
    await represent(child, "a@example.fr", "b@example.fr")
    seen = await carers.adults_due(LATER)
    assert seen == [child.id]

    await asyncio.gather(onboarding_jobs.hand_over(rt), onboarding_jobs.hand_over(rt))

    assert [m.to for m in notifier.sent] == ["deux@example.fr"]
    assert await Account.filter(person_id=child.id).count() == 1
    assert await carers.adults_due(LATER) == []
    row = await NotifiedPerson.get(person_id=child.id)
    # A worker that listed the person before the first one committed claims nothing: the notice
    # already sent is not reset, nothing is sent again.
    async def stale(now, *, batch):
        return seen

    monkeypatch.setattr(carers, "adults_due", stale)
    report, due = await majority.hand_over_batch(rt.settings, LATER)
    assert (report.handed_over, due) == (0, 1)
    await onboarding_jobs.hand_over(rt)
    assert len(notifier.sent) == 1
    again = await NotifiedPerson.get(id=row.id)
    assert (again.sent_at, again.code_hash) == (row.sent_at, row.code_hash)


async def test_without_email_a_letter_with_the_majority_text(rt, gql, notifier, tmp_path):
    nir = make_nir("2")
    child = await young(nir=nir, first="Inès")
    await campaign_row(child, address=ADDRESS)
    await represent(child, "parent@example.fr")

    report = await majority.hand_over(rt.settings, LATER)

    assert (report.handed_over, report.emails, report.letters) == (1, 0, 1)
    assert (await notices.send_pending_notices(rt, 10, now=LATER)).claimed == 0
    assert notifier.sent == []
    [written] = await letters.write_pending_letters(rt.settings, tmp_path / "courriers",
                                                    now=LATER)
    pages, text = _pdf(written.path)
    assert (pages, written.letters) == (1, 1)
    flat = " ".join(text.split())
    assert "Vous avez 18 ans" in flat and "représentants légaux" in flat
    assert "Activez-le avec ce code provisoire" in flat and "refuser" not in flat
    assert "INÈS MARTIN" in text.upper() and "69007 LYON" in text
    [code] = CODE.findall(text)
    row = await NotifiedPerson.get(person_id=child.id)
    assert codes.code_matches(rt.settings, row.id, row.code_hash, code)
    assert await letters.write_pending_letters(rt.settings, tmp_path / "courriers",
                                               now=LATER) == []
    answer = (await gql(ACTIVATE, {"n": claim(nir, code), "c": {
        "password": NEW_PASSWORD, "email": "ines@example.fr"}}))["data"]["activateAccount"]
    assert answer["__typename"] == "AccountActivated", answer


async def test_without_any_contact_nothing_is_sent_and_operators_see_it(
        rt, notifier, tmp_path, caplog, server_env):
    child = await young()
    await represent(child, "parent@example.fr")

    with caplog.at_level(logging.INFO):
        report = await majority.hand_over(rt.settings, LATER)

    assert (report.handed_over, report.no_contact) == (1, 1)
    assert "1 without any contact" in caplog.text
    row = await NotifiedPerson.get(person_id=child.id)
    assert (row.channel, row.reason, row.code_hash) == (NoticeChannel.NONE,
                                                        NoticeReason.MAJORITY, None)
    campaign = await Campaign.get(id=row.campaign_id)
    assert campaign.name.startswith("Majorité ") and campaign.file_digest.startswith("majorite-")
    assert (row.matricule, row.birth_date, row.nir_index) == (
        child.matricule, BIRTH, child.matricule_index)
    assert (await Account.get(person_id=child.id)).status is AccountStatus.PENDING
    assert await majority.waiting_without_contact() == 1
    await notices.send_pending_notices(rt, 10, now=LATER)
    assert await letters.write_pending_letters(rt.settings, tmp_path / "out", now=LATER) == []
    assert notifier.sent == []
    assert (await majority.hand_over(rt.settings, LATER)).handed_over == 0
    # The operators' command shows them (and, on the real clock, hands nothing over).
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "backend.cli", "access", "hand-over"],
        cwd=ROOT, env={**server_env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["handed_over"], summary["no_contact"]) == (0, 1)


async def test_an_already_active_adult_is_told_without_a_code(rt, moved, gql, notifier):
    adult = await create_patient(email="deja@example.fr")
    child = await Person.get(id=adult.person_id)
    child.birth_date = BIRTH
    await child.save(update_fields=["birth_date"])
    await represent(child, "parent@example.fr")
    notifier.sent.clear()

    await onboarding_jobs.hand_over(rt)

    [message] = notifier.sent
    assert message.to == "deja@example.fr" and message.subject == notices.MAJORITY_SUBJECT
    assert "Vous avez 18 ans" in message.text and "représentants légaux" in message.text
    assert CODE.findall(message.text) == [] and "code" not in message.text
    row = await NotifiedPerson.get(person_id=child.id)
    assert (row.reason, row.status, row.code_hash) == (
        NoticeReason.HANDED_OVER, NotifiedStatus.ACTIVATED, None)
    assert (await Account.get(id=adult.id)).status is AccountStatus.ACTIVE
    await onboarding_jobs.hand_over(rt)
    assert len(notifier.sent) == 1
    rt.clock = lambda: datetime.now(UTC)  # the real clock again: sign in as always
    assert await sign_in(gql, notifier, "deja@example.fr", PASSWORD)


def test_a_letter_without_a_code_for_an_active_account(settings):
    from io import BytesIO

    from pypdf import PdfReader

    letter = letters.Letter("Léa MARTIN", ADDRESS, None, LATER, NoticeReason.HANDED_OVER)
    reader = PdfReader(BytesIO(letters.render([letter], settings, LATER)))
    flat = " ".join(reader.pages[0].extract_text().split())
    assert "Vous avez 18 ans" in flat and "représentants légaux" in flat
    assert "Vous n'avez rien à faire" in flat
    assert CODE.findall(flat) == [] and "code" not in flat


async def test_the_code_never_goes_to_a_representatives_address(rt, notifier):
    """A parent gave their own address for the child (the campaign's row, the account): at 18
    the code goes by letter instead, never to those whose access has just ended."""
    dad = await create_patient(email="papa.martin@example.fr")
    child = await young(first="Zoé")
    await campaign_row(child, email="Papa.Martin@example.fr", address=ADDRESS)
    await Account.create(identifier="attente-zoe", password_hash="!pending",
                         email="papa.martin@example.fr", status=AccountStatus.PENDING,
                         role=Role.PATIENT, preferred_channel=CodeChannel.EMAIL, person=child)
    await represent(child, "papa.martin@example.fr")
    assert dad.id is not None

    report = await majority.hand_over(rt.settings, LATER)

    assert (report.handed_over, report.emails, report.letters) == (1, 0, 1)
    assert (await notices.send_pending_notices(rt, 10, now=LATER)).claimed == 0
    assert notifier.sent == []
    row = await NotifiedPerson.get(person_id=child.id)
    assert (row.channel, row.email) == (NoticeChannel.LETTER, None)
