"""Sensitive account changes (issue 9, item 12): a code is tried only by the account it was
sent for, and contact-change codes cannot be used to harass an address."""

from __future__ import annotations

import pytest

from backend.identity import errors, services
from backend.identity.models import Account
from backend.runtime import Runtime
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import code_from


def _runtime(app, notifier, **overrides) -> Runtime:
    base = app.state.runtime
    settings = base.settings.model_copy(update={"login_rate_per_address": 100_000, **overrides})
    return Runtime(settings, base.kv, base.broker, notifier)


def _viewer(account: Account) -> services.Viewer:
    return services.Viewer(account_id=account.id, role="patient", session_id="test-session",
                           person_id=account.person_id)


CALLER = services.Caller(address="192.0.2.50")


async def test_another_accounts_password_challenge_is_refused_before_its_code_is_tried(
        app, notifier, clean):
    rt = _runtime(app, notifier)
    owner = await create_patient(email="owner-pw@example.fr")
    intruder = await create_patient(email="intruder-pw@example.fr")
    challenge = await services.request_password_change(
        rt, _viewer(owner), current_password=PASSWORD, channel=None, caller=CALLER)
    code = code_from(notifier.last().text)
    with pytest.raises(errors.CodeExpired):
        await services.confirm_password_change(
            rt, _viewer(intruder), challenge_id=challenge.id, code=code,
            new_password="an intruder's new password", caller=CALLER)
    # Neither consumed nor counted as a try: the owner's code still works.
    await services.confirm_password_change(
        rt, _viewer(owner), challenge_id=challenge.id, code=code,
        new_password="the owner's new password 2", caller=CALLER)
    intruder_after = await Account.get(id=intruder.id)
    assert intruder_after.password_hash == intruder.password_hash


async def test_another_accounts_contact_challenge_is_refused_before_its_code_is_tried(
        app, notifier, clean):
    rt = _runtime(app, notifier)
    owner = await create_patient(email="owner-contact@example.fr")
    intruder = await create_patient(email="intruder-contact@example.fr")
    challenge = await services.request_contact_change(
        rt, _viewer(owner), current_password=PASSWORD, email="new-owner@example.fr", phone=None,
        caller=CALLER)
    code = code_from(notifier.last().text)
    # Even wrong guesses by the intruder are refused without using up the code's tries.
    for guess in ("000000", "111111", "222222", "333333", "444444", code):
        with pytest.raises(errors.CodeExpired):
            await services.confirm_contact_change(rt, _viewer(intruder), challenge_id=challenge.id,
                                                  code=guess, caller=CALLER)
    account = await services.confirm_contact_change(rt, _viewer(owner), challenge_id=challenge.id,
                                                    code=code, caller=CALLER)
    assert account.email == "new-owner@example.fr"
    assert (await Account.get(id=intruder.id)).email == "intruder-contact@example.fr"


async def test_contact_change_codes_are_capped_per_destination_and_per_account_per_day(
        app, notifier, clean):
    # The quarter-hour cap per account is out of the way: the daily caps are what is tested.
    rt = _runtime(app, notifier, codes_per_account_window=1000,
                  contact_codes_per_destination_day=3, contact_codes_per_account_day=5)
    first = await create_patient(email="harasser1@example.fr")
    second = await create_patient(email="harasser2@example.fr")

    async def ask(account: Account, email: str) -> str:
        try:
            await services.request_contact_change(rt, _viewer(account), current_password=PASSWORD,
                                                  email=email, phone=None, caller=CALLER)
        except errors.RateLimited as exc:
            assert exc.retry_after > 0
            return "RateLimited"
        return "sent"

    assert [await ask(first, "victim@example.fr") for _ in range(4)] == [
        "sent", "sent", "sent", "RateLimited"]
    # The destination's cap holds whichever account asks.
    assert await ask(second, "Victim@Example.fr") == "RateLimited"
    # Per account per day: 5 requests whatever the destinations (4 already made).
    assert [await ask(first, f"other{i}@example.fr") for i in range(2)] == [
        "sent", "RateLimited"]
    assert len(notifier.find(to="victim@example.fr")) == 3


async def test_contact_change_codes_cannot_be_resent_through_the_login_resend(
        app, notifier, clean):
    rt = _runtime(app, notifier)
    owner = await create_patient(email="resend-contact@example.fr")
    challenge = await services.request_contact_change(
        rt, _viewer(owner), current_password=PASSWORD, email="someone@example.fr", phone=None,
        caller=CALLER)
    sent = len(notifier.sent)
    with pytest.raises(errors.CodeExpired):
        await services.resend_code(rt, challenge_id=challenge.id, caller=CALLER)
    assert len(notifier.sent) == sent
