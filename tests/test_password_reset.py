"""Forgotten password (issue 11): a code to the account's verified contact, then a new password
that ends every session; unknown identifiers answered exactly like known ones."""

from __future__ import annotations

import asyncio
import re
import string
from datetime import UTC, datetime, timedelta

import pytest

from backend.audit.models import AuditEvent, AuditKind
from backend.identity import notices
from backend.identity.models import Account
from backend.live_sockets import REVOKED_CHANNEL
from tests.factories import PASSWORD, create_patient
from tests.identity_helpers import LOGIN, ME, code_from, sign_in

REQUEST = """mutation R($identifier: String!, $channel: CodeChannel) {
  requestPasswordReset(identifier: $identifier, channel: $channel) {
    __typename
    ... on PasswordResetRequested { challengeId expiresAt }
    ... on RateLimited { message retryAfterSeconds }
  }
}"""

CONFIRM = """mutation C($c: String!, $code: String!, $pw: String!) {
  confirmPasswordReset(challengeId: $c, code: $code, newPassword: $pw) {
    __typename
    ... on PasswordReset { sessionsClosed }
    ... on InvalidCode { attemptsLeft }
    ... on Error { message }
  }
}"""

NEW_PASSWORD = "a fresh passphrase 2026"


async def request(gql, identifier: str, channel: str | None = None) -> dict:
    body = await gql(REQUEST, {"identifier": identifier, "channel": channel})
    assert "errors" not in body, body
    return body["data"]["requestPasswordReset"]


async def confirm(gql, challenge_id: str, code: str, password: str = NEW_PASSWORD) -> dict:
    body = await gql(CONFIRM, {"c": challenge_id, "code": code, "pw": password})
    assert "errors" not in body, body
    return body["data"]["confirmPasswordReset"]


async def reset_code(notifier, to: str) -> str:
    message = await notifier.wait_for(to=to)  # sent in the background
    return code_from(message.text)


def _other(code: str) -> str:
    return "000000" if code != "000000" else "111111"


@pytest.fixture
def clock(app):
    """The app's clock, moved by the test (no sleeping)."""
    runtime = app.state.runtime
    previous = runtime.clock
    now = [datetime.now(UTC)]
    runtime.clock = lambda: now[0]
    yield now
    runtime.clock = previous


async def test_reset_end_to_end_ends_every_session(app, gql, notifier, clean):
    account = await create_patient(email="forgot@example.fr")
    tokens = [await sign_in(gql, notifier, "forgot@example.fr", PASSWORD) for _ in range(2)]
    sessions = await gql("query { mySessions { id } }", token=tokens[0])
    session_ids = {s["id"] for s in sessions["data"]["mySessions"]}
    notifier.clear()
    async with app.state.runtime.broker.subscribe(REVOKED_CHANNEL) as revoked:
        asked = await request(gql, "Forgot@Example.fr")
        assert asked["__typename"] == "PasswordResetRequested"
        message = await notifier.wait_for(to="forgot@example.fr")
        assert "réinitialisation" in (message.subject or "")
        assert "15 minutes" in message.text and "Dupont" not in message.text
        done = await confirm(gql, asked["challengeId"], code_from(message.text))
        assert done == {"__typename": "PasswordReset", "sessionsClosed": 2}
        # Announced like logoutEverywhere: every worker closes those sessions' sockets.
        announced = set()
        while len(announced) < 2:
            delivery = await asyncio.wait_for(revoked.get(), 5)
            if not delivery.resync:
                announced.add(delivery.data)
        assert announced == session_ids
    for token in tokens:
        assert (await gql(ME, token=token))["data"]["me"] is None
    old = await gql(LOGIN, {"identifier": "forgot@example.fr", "password": PASSWORD})
    assert old["data"]["login"]["__typename"] == "InvalidCredentials"
    await notices.drain()
    [notice] = notifier.find(to="forgot@example.fr")[1:]  # after the code: "password changed"
    assert "mot de passe" in notice.text and not re.search(r"\d{6}", notice.text)
    event = await AuditEvent.filter(kind=AuditKind.PASSWORD_CHANGED, account_id=account.id).get()
    assert event.detail == {"reason": "reset"} and event.address
    notifier.clear()
    assert await sign_in(gql, notifier, "forgot@example.fr", NEW_PASSWORD)
    # The code was used: it cannot reset the password again.
    again = await confirm(gql, asked["challengeId"], code_from(message.text), "another one 2026!")
    assert again["__typename"] == "CodeExpired"


def _shape(value):
    """What a client can see of an answer, values aside: types, keys, id alphabet/length."""
    if isinstance(value, dict):
        return {k: _shape(v) if k != "__typename" else v for k, v in value.items()}
    if isinstance(value, str):
        alphabet = "urlsafe" if set(value) <= set(string.ascii_letters + string.digits + "-_") \
            else "other"
        return ("str", len(value), alphabet)
    return type(value).__name__


async def test_unknown_closed_and_unverified_identifiers_are_answered_alike(gql, notifier, clean):
    await create_patient(email="known@example.fr")
    # A closed space whose deletion was asked (a closed archive is reset: test_account_closure).
    closed = await create_patient(email="closed@example.fr")
    now = datetime.now(UTC)
    await Account.filter(id=closed.id).update(status="closed", closed_at=now,
                                              deletion_requested_at=now,
                                              purge_after=now + timedelta(days=90))
    unverified = await create_patient(email="unverified@example.fr")
    await Account.filter(id=unverified.id).update(email_verified=False)
    started = datetime.now(UTC)
    answers = {who: await request(gql, who) for who in (
        "known@example.fr", "nobody@example.fr", "closed@example.fr", "unverified@example.fr")}
    shapes = {who: _shape(answer) for who, answer in answers.items()}
    assert len({repr(s) for s in shapes.values()}) == 1, shapes
    assert shapes["nobody@example.fr"]["__typename"] == "PasswordResetRequested"
    for answer in answers.values():
        expires = datetime.fromisoformat(answer["expiresAt"])
        assert timedelta(minutes=14) < expires - started < timedelta(minutes=16)
    await notices.drain()
    assert [m.to for m in notifier.sent] == ["known@example.fr"]
    # The next step tells nothing either: wrong codes count down, then the challenge burns.
    code = code_from(notifier.last().text)
    for who, answer in answers.items():
        tries = [await confirm(gql, answer["challengeId"], _other(code)) for _ in range(5)]
        assert [t.get("attemptsLeft") for t in tries[:4]] == [4, 3, 2, 1], who
        assert tries[4]["__typename"] == "TooManyAttempts", who
    # A random id that was never handed out: like a used or expired one, for everyone.
    assert (await confirm(gql, "x" * 32, "123456"))["__typename"] == "CodeExpired"


async def test_wrong_codes_burn_the_challenge(gql, notifier, clean):
    account = await create_patient(email="burn-reset@example.fr")
    asked = await request(gql, "burn-reset@example.fr")
    code = await reset_code(notifier, "burn-reset@example.fr")
    lefts = [(await confirm(gql, asked["challengeId"], _other(code)))["attemptsLeft"]
             for _ in range(4)]
    assert lefts == [4, 3, 2, 1]
    assert (await confirm(gql, asked["challengeId"], "nope"))["__typename"] == "TooManyAttempts"
    right = await confirm(gql, asked["challengeId"], code)
    assert right["__typename"] == "TooManyAttempts"
    assert (await Account.get(id=account.id)).password_hash == account.password_hash
    # 4 wrong codes, the one that burned it, the try of a burned challenge.
    assert await AuditEvent.filter(kind=AuditKind.LOGIN_CODE_FAILED, account_id=account.id,
                                   detail__contains={"reason": "reset"}).count() == 6


async def test_a_weak_password_is_refused_before_the_code_is_tried(gql, notifier, clean):
    await create_patient(email="weak@example.fr", identifier="weakling")
    asked = await request(gql, "weakling")
    code = await reset_code(notifier, "weak@example.fr")
    for weak in ("short", "aaaaaaaaaaaaaaaa", "my weakling password"):
        refused = await confirm(gql, asked["challengeId"], code, weak)
        assert refused["__typename"] == "WeakPassword", weak
    # Unknown identifiers apply the same policy (their answers must not differ).
    decoy = await request(gql, "ghostling")
    assert (await confirm(gql, decoy["challengeId"], code, "my ghostling pass"))[
        "__typename"] == "WeakPassword"
    assert (await confirm(gql, asked["challengeId"], code))["__typename"] == "PasswordReset"


async def test_expired_code(gql, notifier, clock, clean):
    await create_patient(email="late@example.fr")
    asked = await request(gql, "late@example.fr")
    decoy = await request(gql, "late-nobody@example.fr")
    code = await reset_code(notifier, "late@example.fr")
    clock[0] += timedelta(minutes=15)
    assert (await confirm(gql, asked["challengeId"], code))["__typename"] == "CodeExpired"
    assert (await confirm(gql, decoy["challengeId"], code))["__typename"] == "CodeExpired"
    # A new request gives a new quarter hour.
    notifier.clear()
    fresh = await request(gql, "late@example.fr")
    fresh_code = await reset_code(notifier, "late@example.fr")
    clock[0] += timedelta(minutes=14, seconds=59)
    assert (await confirm(gql, fresh["challengeId"], fresh_code))["__typename"] == \
        "PasswordReset"


async def test_a_new_request_voids_the_previous_code(gql, notifier, clean):
    await create_patient(email="twice-reset@example.fr")
    first = await request(gql, "twice-reset@example.fr")
    first_code = await reset_code(notifier, "twice-reset@example.fr")
    notifier.clear()
    second = await request(gql, "twice-reset@example.fr")
    second_code = await reset_code(notifier, "twice-reset@example.fr")
    assert (await confirm(gql, first["challengeId"], first_code))["__typename"] == "CodeExpired"
    assert (await confirm(gql, second["challengeId"], second_code))["__typename"] == \
        "PasswordReset"


async def test_requests_are_rate_limited_per_identifier_and_per_address(app, gql, notifier,
                                                                        clean):
    await create_patient(email="limited@example.fr")
    limit = app.state.runtime.settings.codes_per_account_window
    for who in ("limited@example.fr", "limited-nobody@example.fr"):
        kinds = [(await request(gql, who.upper() if i % 2 else who))["__typename"]
                 for i in range(limit + 1)]
        assert kinds == ["PasswordResetRequested"] * limit + ["RateLimited"], who
    refused = await request(gql, "limited@example.fr")
    assert refused["retryAfterSeconds"] > 0 and refused["message"]
    await notices.drain()
    assert len(notifier.find(to="limited@example.fr")) == limit
    # Per client address: LOGIN_RATE_PER_ADDRESS requests a minute, whatever the identifiers.
    per_address = app.state.runtime.settings.login_rate_per_address
    made = 2 * (limit + 1) + 1  # so far, from this address
    kinds = [(await request(gql, f"someone{i}@example.fr"))["__typename"]
             for i in range(per_address - made + 1)]
    assert kinds == ["PasswordResetRequested"] * (per_address - made) + ["RateLimited"]


async def test_the_code_goes_to_a_verified_contact_in_the_accounts_language(gql, notifier,
                                                                            clean):
    account = await create_patient(email="anglo@example.fr", phone="06 12 34 56 78")
    await Account.filter(id=account.id).update(language="en")
    await request(gql, "anglo@example.fr", "SMS")
    sms = await notifier.wait_for(channel="sms")
    assert sms.to == "+33612345678"
    assert sms.text.startswith("Your Carnet password reset code is ")
    assert "15 minutes" in sms.text and code_from(sms.text)
    # SMS asked, no verified phone: the verified e-mail gets it (no answer says otherwise).
    notifier.clear()
    mail_only = await create_patient(email="mailonly@example.fr")
    await request(gql, mail_only.identifier, "SMS")
    email = await notifier.wait_for(to="mailonly@example.fr")
    assert email.subject == "Carnet : votre code de réinitialisation du mot de passe"


async def test_a_failed_delivery_changes_nothing_in_the_answer(gql, notifier, clean, caplog):
    await create_patient(email="undeliverable@example.fr")
    notifier.failing.add("email")
    asked = await request(gql, "undeliverable@example.fr")
    await notices.drain()
    assert asked["__typename"] == "PasswordResetRequested"
    assert notifier.sent == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "undeliverable" not in logged and "example.fr" not in logged
