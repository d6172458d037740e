"""Reminders and change notices of appointments (backend/agenda/reminders.py): inserted
set-based and idempotently, claimed atomically (SKIP LOCKED on PostgreSQL), each sent exactly
once across concurrent senders and crashed ones, obsolete ones dropped, and never a health
detail in the text. Every call takes an injected `now`."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from backend.agenda import reminders
from backend.agenda.models import AppointmentNotice, AppointmentStatus, NoticeKind
from backend.identity.models import Account
from tests.agenda_factories import cancel, create_appointment, move
from tests.conftest import ON_SQLITE
from tests.factories import create_patient, create_professional

# Thursday 5 December 2030, 10:00 UTC (11:00 in Paris, winter time: +01:00). Years ahead of
# the real clock, so the app's own background round (real time) never finds these notices due.
NOW = datetime(2030, 12, 5, 10, 0, tzinfo=UTC)
TOMORROW_1030_PARIS = datetime(2030, 12, 6, 9, 30, tzinfo=UTC)
SECRET_DETAILS = {"reason": "Chimiothérapie cure 3", "notes": "venir à jeun",
                  "practitioner": "Dr Oncologue Martin", "place": "Institut Curie, Paris"}
# What a notice must never say (the professional factory's profession and specialty too).
FORBIDDEN = ("Chimio", "jeun", "Oncolog", "Martin", "Curie", "Médecin", "Médecine",
             "générale")


@pytest.fixture
async def rt(app, clean, notifier):
    return app.state.runtime


def assert_no_health_detail(text: str) -> None:
    for word in FORBIDDEN:
        assert word.lower() not in text.lower(), (word, text)


async def test_reminder_once_the_day_before_without_health_detail(rt, notifier):
    patient = await create_patient(email="alice@example.fr")
    pro = await create_professional()
    await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS, professional=pro,
                             details=SECRET_DETAILS)
    # Not reminded: too far ahead, cancelled, done, already begun.
    await create_appointment(rt.settings, patient, start=NOW + timedelta(days=3))
    await create_appointment(rt.settings, patient, start=NOW + timedelta(hours=2),
                             status=AppointmentStatus.CANCELLED)
    await create_appointment(rt.settings, patient, start=NOW + timedelta(hours=3),
                             status=AppointmentStatus.DONE)
    await create_appointment(rt.settings, patient, start=NOW - timedelta(minutes=5))

    report = await reminders.run_once(rt, NOW)

    assert (report.sent, report.obsolete, report.failed) == (1, 0, 0)
    [message] = notifier.sent
    assert message.to == "alice@example.fr"
    assert message.subject == "Carnet : rappel de rendez-vous"
    assert message.text == ("Rappel : vous avez rendez-vous le vendredi 6 décembre à 10 h 30. "
                            "Détails dans votre espace Carnet.")
    assert_no_health_detail(message.text + message.subject)
    # Every later round, from any worker: nothing more.
    for later in (NOW, NOW + timedelta(minutes=1), NOW + timedelta(hours=20)):
        assert (await reminders.run_once(rt, later)).handled == 0
    assert len(notifier.sent) == 1
    assert await AppointmentNotice.filter(sent_at__isnull=False).count() == 1


async def test_proposed_appointments_are_reminded_and_sweep_is_idempotent(rt, notifier):
    patient = await create_patient()
    await create_appointment(rt.settings, patient, start=NOW + timedelta(hours=23, minutes=59),
                             status=AppointmentStatus.PROPOSED)
    assert await reminders.sweep_reminders(rt.settings, now=NOW) == 1
    assert await reminders.sweep_reminders(rt.settings, now=NOW) == 0  # ON CONFLICT DO NOTHING
    assert await reminders.sweep_reminders(rt.settings,
                                           now=NOW + timedelta(minutes=30)) == 0
    assert await AppointmentNotice.all().count() == 1


async def test_english_account_gets_english_text(rt, notifier):
    patient = await create_patient(email="bob@example.fr")
    await Account.filter(id=patient.id).update(language="en")
    await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS,
                             details=SECRET_DETAILS)
    await reminders.run_once(rt, NOW)
    [message] = notifier.sent
    assert message.text == ("Reminder: you have an appointment on Friday 6 December at 10:30. "
                            "Details in your Carnet space.")


async def test_summer_time_is_paris_local_time(rt, notifier):
    patient = await create_patient()
    summer_now = datetime(2030, 7, 1, 10, 0, tzinfo=UTC)
    await create_appointment(rt.settings, patient, start=datetime(2030, 7, 2, 8, 0, tzinfo=UTC))
    await reminders.run_once(rt, summer_now)
    assert "mardi 2 juillet à 10 h 00" in notifier.sent[0].text  # UTC+2


async def test_sms_when_the_patient_chose_sms(rt, notifier):
    patient = await create_patient(email="", phone="+33612345678", channel="sms",
                                   identifier="sms-patient")
    await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS,
                             details=SECRET_DETAILS)
    await reminders.run_once(rt, NOW)
    [message] = notifier.sent
    assert message.channel == "sms" and message.to == "+33612345678"
    assert_no_health_detail(message.text)


async def test_concurrent_senders_send_each_notice_exactly_once(rt, notifier):
    """Two senders (and then four) race over the notices of several patients: each notice is
    sent once, none is lost, and no deadlock (a claim bumps its patient's data version: one
    patient per claim statement)."""
    patients = [await create_patient(email=f"p{i}@example.fr") for i in range(6)]
    for i in range(36):
        await create_appointment(rt.settings, patients[i % 6],
                                 start=NOW + timedelta(hours=1, minutes=10 * i),
                                 details=SECRET_DETAILS)
    assert await reminders.sweep_reminders(rt.settings, now=NOW) == 36
    # The first half goes to two senders, the other half (due a minute later) to four.
    ids = await AppointmentNotice.all().order_by("id").values_list("id", flat=True)
    await AppointmentNotice.filter(id__in=ids[18:]).update(due_at=NOW + timedelta(minutes=1))

    two = await asyncio.gather(reminders.send_due(rt, now=NOW, limit=2),
                               reminders.send_due(rt, now=NOW, limit=3))
    later = NOW + timedelta(minutes=1)
    four = await asyncio.gather(*(reminders.send_due(rt, now=later, limit=n)
                                  for n in (1, 2, 3, 1)))

    assert sum(r.sent for r in two) == 18 and sum(r.sent for r in four) == 18
    assert sum(1 for r in two if r.sent) == 2, two  # both took part
    assert sum(1 for r in four if r.sent) >= 2, four
    assert Counter(m.to for m in notifier.sent) == {f"p{i}@example.fr": 6 for i in range(6)}
    texts = Counter(m.text for m in notifier.sent)
    assert len(texts) == 36 and set(texts.values()) == {1}  # one per appointment (its time)
    assert await AppointmentNotice.filter(sent_at__isnull=True).count() == 0
    assert set(await AppointmentNotice.all().values_list("attempts", flat=True)) == {1}


@pytest.mark.skipif(ON_SQLITE, reason="row locks: PostgreSQL (SQLite serialises writers)")
async def test_a_claim_in_progress_is_skipped_not_waited_for(rt, notifier):
    """A sender holding claimed rows locked (its statement not committed yet): another one
    takes the other rows at once. (Two patients: a claim also bumps its patient's data
    version, migration 0018, whose row lock would serialise two claims of one patient.)"""
    first, second = await create_patient(), await create_patient()
    for i in range(3):
        await create_appointment(rt.settings, first, start=NOW + timedelta(hours=1 + i))
    await reminders.sweep_reminders(rt.settings, now=NOW)  # first's: due first
    for i in range(3):
        await create_appointment(rt.settings, second, start=NOW + timedelta(hours=1 + i))
    at = NOW + timedelta(seconds=1)
    await reminders.sweep_reminders(rt.settings, now=at)
    first_claimed = asyncio.Event()
    release = asyncio.Event()

    async def slow_sender() -> list[int]:
        async with in_transaction() as conn:  # claims held uncommitted, rows locked
            ids = await reminders.claim(rt.settings, now=at, limit=3, conn=conn)
            first_claimed.set()
            await release.wait()
        return ids

    async def other_sender() -> list[int]:
        await first_claimed.wait()
        try:
            async with asyncio.timeout(5):  # SKIP LOCKED: no waiting on the other's rows
                async with in_transaction() as conn:
                    return await reminders.claim(rt.settings, now=at, limit=10, conn=conn)
        finally:
            release.set()

    a, b = await asyncio.gather(asyncio.create_task(slow_sender()),
                                asyncio.create_task(other_sender()))
    mine = await AppointmentNotice.filter(person_id=first.person_id).values_list("id", flat=True)
    assert sorted(a) == sorted(mine)
    assert len(b) == 3 and not set(a) & set(b)


async def test_sender_dying_after_its_claim_is_resent_once_after_the_lease(rt, notifier):
    patient = await create_patient(email="carol@example.fr")
    await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS)
    await reminders.sweep_reminders(rt.settings, now=NOW)
    # A sender claims, then dies before sending (nothing else of it runs).
    assert len(await reminders.claim(rt.settings, now=NOW)) == 1

    lease = timedelta(seconds=rt.settings.agenda_notice_lease_seconds)
    assert (await reminders.send_due(rt, now=NOW)).handled == 0
    assert (await reminders.send_due(rt, now=NOW + lease - timedelta(seconds=1))).handled == 0
    assert notifier.sent == []

    after = NOW + lease + timedelta(seconds=1)
    report = await reminders.run_once(rt, after)
    assert report.sent == 1
    assert (await reminders.run_once(rt, after + lease * 3)).handled == 0
    assert [m.to for m in notifier.sent] == ["carol@example.fr"]
    notice = await AppointmentNotice.get()
    assert notice.attempts == 2 and notice.sent_at == after


async def test_failed_delivery_is_retried_after_the_lease_then_given_up(rt, notifier):
    patient = await create_patient(email="dan@example.fr")
    await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS)
    notifier.failing.add("email")
    lease = timedelta(seconds=rt.settings.agenda_notice_lease_seconds + 1)
    report = await reminders.run_once(rt, NOW)
    assert report.failed == 1 and notifier.sent == []
    notifier.failing.clear()
    assert (await reminders.run_once(rt, NOW + lease)).sent == 1
    assert len(notifier.sent) == 1

    # Another one that always fails: tried AGENDA_NOTICE_MAX_ATTEMPTS times, then left.
    other = await create_patient(email="erin@example.fr")
    await create_appointment(rt.settings, other, start=TOMORROW_1030_PARIS)
    notifier.failing.add("email")
    rounds = []
    at = NOW + lease
    for _ in range(rt.settings.agenda_notice_max_attempts + 3):
        at += lease
        rounds.append(await reminders.run_once(rt, at))
    assert sum(r.failed for r in rounds) == rt.settings.agenda_notice_max_attempts, rounds
    assert len(notifier.sent) == 1, notifier.sent
    assert await AppointmentNotice.filter(sent_at__isnull=True).values_list(
        "attempts", flat=True) == [rt.settings.agenda_notice_max_attempts]


async def test_moved_appointment_one_moved_notice_and_a_new_reminder(rt, notifier):
    patient = await create_patient(email="fanny@example.fr")
    pro = await create_professional()
    appointment = await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS,
                                           professional=pro, details=SECRET_DETAILS)
    await reminders.run_once(rt, NOW)
    assert [m.subject for m in notifier.sent] == ["Carnet : rappel de rendez-vous"]
    notifier.clear()

    later = NOW + timedelta(minutes=5)
    await move(appointment, TOMORROW_1030_PARIS - timedelta(hours=2), now=later)
    # The service ran twice (a retried request): still one "moved" notice for this move.
    assert not await reminders.notice_change(appointment, NoticeKind.MOVED, now=later)

    report = await reminders.run_once(rt, later)
    assert report.sent == 2
    by_subject = {m.subject: m.text for m in notifier.sent}
    assert by_subject == {
        "Carnet : rendez-vous déplacé": "Un de vos rendez-vous a été déplacé au vendredi "
                                        "6 décembre à 8 h 30. Détails dans votre espace Carnet.",
        "Carnet : rappel de rendez-vous": "Rappel : vous avez rendez-vous le vendredi "
                                          "6 décembre à 8 h 30. Détails dans votre espace "
                                          "Carnet.",
    }
    for message in notifier.sent:
        assert_no_health_detail(message.subject + message.text)
    assert (await reminders.run_once(rt, later + timedelta(hours=1))).handled == 0
    assert len(notifier.sent) == 2


async def test_moved_twice_before_sending_tells_only_the_latest(rt, notifier):
    patient = await create_patient()
    pro = await create_professional()
    appointment = await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS,
                                           professional=pro)
    await reminders.sweep_reminders(rt.settings, now=NOW)  # queued for 10 h 30, not sent
    await move(appointment, TOMORROW_1030_PARIS - timedelta(hours=1), now=NOW)
    await move(appointment, TOMORROW_1030_PARIS - timedelta(hours=2), now=NOW)

    report = await reminders.run_once(rt, NOW + timedelta(minutes=1))

    assert (report.sent, report.obsolete) == (2, 2)  # old reminder and first move dropped
    assert sorted(m.subject for m in notifier.sent) == ["Carnet : rappel de rendez-vous",
                                                        "Carnet : rendez-vous déplacé"]
    assert all("8 h 30" in m.text for m in notifier.sent)


async def test_cancelled_appointment_gets_its_notice_and_no_reminder(rt, notifier):
    patient = await create_patient(email="gina@example.fr")
    pro = await create_professional()
    appointment = await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS,
                                           professional=pro, details=SECRET_DETAILS)
    await reminders.sweep_reminders(rt.settings, now=NOW)  # queued, not sent yet
    await cancel(appointment, now=NOW)

    report = await reminders.run_once(rt, NOW + timedelta(minutes=1))

    assert (report.sent, report.obsolete) == (1, 1)
    [message] = notifier.sent
    assert message.subject == "Carnet : rendez-vous annulé"
    assert message.text == ("Votre rendez-vous du vendredi 6 décembre à 10 h 30 a été annulé. "
                            "Détails dans votre espace Carnet.")
    assert_no_health_detail(message.text)
    for later in (NOW + timedelta(hours=1), NOW + timedelta(hours=20)):
        assert (await reminders.run_once(rt, later)).handled == 0
    kinds = await AppointmentNotice.all().values_list("kind", flat=True)
    assert list(kinds) == [NoticeKind.CANCELLED]


async def test_nobody_to_tell_is_settled_without_sending(rt, notifier):
    patient = await create_patient(email="unverified@example.fr")
    await Account.filter(id=patient.id).update(email_verified=False)
    await create_appointment(rt.settings, patient, start=TOMORROW_1030_PARIS)
    report = await reminders.run_once(rt, NOW)
    assert report.nobody == 1 and notifier.sent == []
    assert (await reminders.run_once(rt, NOW + timedelta(hours=1))).handled == 0


async def test_the_in_process_runner_runs_the_rounds_and_survives_their_failures(rt):
    """On SQLite the API process runs the periodic jobs itself (backend/jobs/fallback.py; on
    PostgreSQL `carnet worker` does): every round at every tick, and a failing round neither
    stops the runner nor the others. The agenda's round is one of the registered jobs."""
    import copy

    from backend.agenda import jobs as agenda_jobs
    from backend.bootstrap import load_tasks
    from backend.jobs.fallback import FallbackRunner
    from backend.jobs.registry import Registry

    assert load_tasks().get(agenda_jobs.REMINDERS).fn is agenda_jobs.reminders_round.fn
    fast = copy.copy(rt)
    fast.settings = rt.settings.model_copy(update={"message_notify_interval_seconds": 0.01})
    calls: list[str] = []
    ticked = asyncio.Event()
    registry = Registry()

    @registry.periodic("a.failing", every=lambda s: s.message_notify_interval_seconds)
    async def failing(runtime) -> None:
        calls.append("failing")
        raise RuntimeError("boom")

    @registry.periodic("b.agenda", every=lambda s: s.message_notify_interval_seconds)
    async def agenda(runtime) -> None:
        assert runtime is fast
        calls.append("agenda")
        if calls.count("agenda") >= 3:
            ticked.set()

    task = asyncio.create_task(FallbackRunner(fast, registry, tick=0.01).run())
    try:
        async with asyncio.timeout(10):
            await ticked.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert calls[:4] == ["failing", "agenda", "failing", "agenda"]
