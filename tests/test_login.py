"""Login with identifier + password, then a one-time code: the rules of issue 3 against real
PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from backend.audit.models import AuditEvent, AuditKind
from backend.identity.models import Account
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import LOGIN, ME, VERIFY, code_from, login, sign_in


async def test_full_login_gives_a_session_and_me(gql, notifier, clean):
    account = await create_patient(email="jean.dupont@example.fr")
    body = await gql(LOGIN, {"identifier": "Jean.Dupont@Example.fr", "password": PASSWORD})
    challenge = body["data"]["login"]
    assert challenge["__typename"] == "LoginChallenge"
    assert challenge["channel"] == "EMAIL"
    assert challenge["maskedDestination"] == "j***t@example.fr"
    message = notifier.last(to="jean.dupont@example.fr")
    code = code_from(message.text)
    assert "15 minutes" in message.text and "Dupont" not in message.text

    session = (await gql(VERIFY, {"challengeId": challenge["challengeId"], "code": code}))
    session = session["data"]["verifyLoginCode"]
    assert session["__typename"] == "Session"
    assert len(session["token"]) >= 43  # 256 bits, base64url
    me = (await gql(ME, token=session["token"]))["data"]["me"]
    assert me["id"] == str(account.id) and me["role"] == "PATIENT"
    assert me["patient"]["insMatricule"]
    assert (await gql(ME))["data"]["me"] is None  # anonymous


async def test_professional_login_and_sms_channel(gql, notifier, clean):
    await create_professional(email="dr@example.fr")
    token = await sign_in(gql, notifier, "dr@example.fr", PASSWORD)
    me = (await gql(ME, token=token))["data"]["me"]
    assert me["role"] == "PROFESSIONAL" and me["professional"]["rpps"]

    await create_patient(email="sms@example.fr", phone="06 12 34 56 78")
    body = await gql(LOGIN, {"identifier": "sms@example.fr", "password": PASSWORD,
                             "channel": "SMS"})
    assert body["data"]["login"]["maskedDestination"] == "+33 6 ** ** ** 78"
    assert notifier.last().to == "+33612345678" and notifier.last().channel == "sms"


async def test_channel_without_destination_is_a_typed_error(gql, notifier, clean):
    await create_patient(email="nophone@example.fr")
    body = await gql(LOGIN, {"identifier": "nophone@example.fr", "password": PASSWORD,
                             "channel": "SMS"})
    assert body["data"]["login"]["__typename"] == "ChannelUnavailable"


async def test_unknown_identifier_and_wrong_password_look_the_same(gql, notifier, client, clean):
    await create_patient(email="known@example.fr")

    async def attempt(identifier: str) -> tuple[dict, int, float]:
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": LOGIN, "variables": {
            "identifier": identifier, "password": "wrong password!!"}})
        return response.json(), response.status_code, time.perf_counter() - started

    known, unknown = [], []
    for _ in range(7):  # interleaved, so load changes hit both alike
        known.append(await attempt("known@example.fr"))
        unknown.append(await attempt("nobody@example.fr"))
    assert {str(b) for b, _, _ in known} == {str(b) for b, _, _ in unknown}
    assert known[0][0]["data"]["login"]["__typename"] == "InvalidCredentials"
    assert {s for _, s, _ in known + unknown} == {200}
    # Both pay one argon2 verification; only noise separates them. The fastest of several
    # tries is the least noisy estimate of the work done.
    known_ms = min(t for _, _, t in known) * 1000
    unknown_ms = min(t for _, _, t in unknown) * 1000
    assert abs(known_ms - unknown_ms) < max(25.0, 0.5 * known_ms), (known_ms, unknown_ms)
    assert notifier.sent == []


async def test_twenty_concurrent_verifications_of_one_code_exactly_one_wins(
    gql, notifier, clean
):
    await create_patient(email="race@example.fr")
    challenge_id, code = await login(gql, notifier, "race@example.fr", PASSWORD)
    results = await asyncio.gather(*(
        gql(VERIFY, {"challengeId": challenge_id, "code": code}) for _ in range(20)
    ))
    kinds = [r["data"]["verifyLoginCode"]["__typename"] for r in results]
    assert kinds.count("Session") == 1, kinds
    assert set(kinds) - {"Session"} <= {"CodeExpired"}


async def test_replay_of_a_used_code_is_refused(gql, notifier, clean):
    await create_patient(email="replay@example.fr")
    challenge_id, code = await login(gql, notifier, "replay@example.fr", PASSWORD)
    first = await gql(VERIFY, {"challengeId": challenge_id, "code": code})
    assert first["data"]["verifyLoginCode"]["__typename"] == "Session"
    again = await gql(VERIFY, {"challengeId": challenge_id, "code": code})
    assert again["data"]["verifyLoginCode"]["__typename"] == "CodeExpired"


async def test_five_wrong_tries_burn_the_code(gql, notifier, clean):
    await create_patient(email="burn@example.fr")
    challenge_id, code = await login(gql, notifier, "burn@example.fr", PASSWORD)
    wrong = "000000" if code != "000000" else "111111"
    lefts = []
    for _ in range(4):
        result = (await gql(VERIFY, {"challengeId": challenge_id, "code": wrong}))
        lefts.append(result["data"]["verifyLoginCode"]["attemptsLeft"])
    assert lefts == [4, 3, 2, 1]
    fifth = await gql(VERIFY, {"challengeId": challenge_id, "code": wrong})
    assert fifth["data"]["verifyLoginCode"]["__typename"] == "TooManyAttempts"
    right = await gql(VERIFY, {"challengeId": challenge_id, "code": code})
    assert right["data"]["verifyLoginCode"]["__typename"] == "TooManyAttempts"


async def test_alias_brute_force_in_one_request_gets_no_more_than_five_tries(
    gql, notifier, clean
):
    await create_patient(email="alias@example.fr")
    challenge_id, code = await login(gql, notifier, "alias@example.fr", PASSWORD)
    guesses = [f"{i:06d}" for i in range(14) if f"{i:06d}" != code][:13] + [code]
    fields = " ".join(
        f'g{i}: verifyLoginCode(challengeId: $c, code: "{g}") {{ __typename }}'
        for i, g in enumerate(guesses)
    )
    body = await gql(f"mutation Brute($c: String!) {{ {fields} }}", {"c": challenge_id})
    kinds = [body["data"][f"g{i}"]["__typename"] for i in range(len(guesses))]
    assert kinds.count("InvalidCode") == 4
    assert "Session" not in kinds, "the right code, tried after 5 wrong ones, must not win"
    assert kinds[-1] == "TooManyAttempts"


async def test_a_new_code_voids_the_previous_one(gql, notifier, clean):
    await create_patient(email="twice@example.fr")
    first_id, first_code = await login(gql, notifier, "twice@example.fr", PASSWORD)
    second_id, second_code = await login(gql, notifier, "twice@example.fr", PASSWORD)
    stale = await gql(VERIFY, {"challengeId": first_id, "code": first_code})
    assert stale["data"]["verifyLoginCode"]["__typename"] == "CodeExpired"
    fresh = await gql(VERIFY, {"challengeId": second_id, "code": second_code})
    assert fresh["data"]["verifyLoginCode"]["__typename"] == "Session"


async def test_resend_replaces_the_code_and_is_bounded(gql, notifier, clean):
    await create_patient(email="resend@example.fr")
    challenge_id, old_code = await login(gql, notifier, "resend@example.fr", PASSWORD)
    resend = """mutation R($c: String!) { resendLoginCode(challengeId: $c) {
        __typename ... on LoginChallenge { resendsLeft } } }"""
    body = await gql(resend, {"c": challenge_id})
    assert body["data"]["resendLoginCode"] == {"__typename": "LoginChallenge", "resendsLeft": 2}
    new_code = code_from(notifier.last().text)
    if new_code != old_code:
        old = await gql(VERIFY, {"challengeId": challenge_id, "code": old_code})
        assert old["data"]["verifyLoginCode"]["__typename"] == "InvalidCode"
    ok = await gql(VERIFY, {"challengeId": challenge_id, "code": new_code})
    assert ok["data"]["verifyLoginCode"]["__typename"] == "Session"


async def test_code_expiry(app, notifier, clean):
    from datetime import UTC, datetime, timedelta

    from backend.identity import errors, services
    from backend.runtime import Runtime

    base = app.state.runtime
    now = [datetime.now(UTC)]
    rt = Runtime(base.settings, base.kv, base.broker, notifier, clock=lambda: now[0])
    account = await create_patient(email="expiry@example.fr")
    caller = services.Caller(address="203.0.113.9")
    challenge = await services.start_login(rt, identifier=account.identifier,
                                           password=PASSWORD, channel=None, caller=caller)
    code = code_from(notifier.last().text)
    now[0] += timedelta(seconds=rt.settings.otp_ttl_seconds)  # the clock moves, no sleeping
    with pytest.raises(errors.CodeExpired):
        await services.verify_login(rt, challenge_id=challenge.id, code=code, caller=caller)
    now[0] -= timedelta(seconds=1)  # one second before: still valid
    await services.verify_login(rt, challenge_id=challenge.id, code=code, caller=caller)


def _runtime(app, notifier, **overrides):
    from backend.runtime import Runtime

    base = app.state.runtime
    settings = base.settings.model_copy(update={"login_rate_per_address": 100_000, **overrides})
    return Runtime(settings, base.kv, base.broker, notifier)


async def _try_login(rt, identifier: str, password: str, address: str) -> str:
    """The outcome of one login attempt, as the name of what it raised (or "Challenge")."""
    from backend.identity import errors, services

    try:
        await services.start_login(rt, identifier=identifier, password=password, channel=None,
                                   caller=services.Caller(address=address))
    except (errors.InvalidCredentials, errors.TemporarilyLocked, errors.RateLimited) as exc:
        if isinstance(exc, errors.TemporarilyLocked | errors.RateLimited):
            assert exc.retry_after > 0
        return type(exc).__name__
    return "Challenge"


async def test_a_stranger_cannot_lock_the_owner_out(app, notifier, clean):
    """Issue 9 item 8: 120 wrong passwords from one address (defaults: 10 per account and
    address, delays after 20 a day) refuse THAT address only; the owner signs in from theirs."""
    from backend.identity import services

    rt = _runtime(app, notifier)
    account = await create_patient(email="owner@example.fr")
    other = await create_patient(email="neighbour@example.fr")
    outcomes = [await _try_login(rt, "owner@example.fr", "wrong-guess-1", "198.51.100.66")
                for _ in range(120)]
    limit = rt.settings.login_max_failures_per_address
    assert outcomes[:limit] == ["InvalidCredentials"] * limit
    assert set(outcomes[limit:]) == {"TemporarilyLocked"}
    # Refused for that account only.
    assert await _try_login(rt, other.identifier, "wrong-guess-1",
                            "198.51.100.66") == "InvalidCredentials"
    # The owner, from another address, with the right password and code, gets in.
    caller = services.Caller(address="192.0.2.10")
    challenge = await services.start_login(rt, identifier=account.identifier, password=PASSWORD,
                                           channel=None, caller=caller)
    _, record = await services.verify_login(rt, challenge_id=challenge.id,
                                            code=code_from(notifier.last().text), caller=caller)
    assert record.account_id == account.id
    assert await AuditEvent.filter(kind=AuditKind.ACCOUNT_LOCKED, account_id=account.id).exists()


async def test_owner_gets_in_from_a_clean_address_during_progressive_delays(
        app, notifier, clean):
    from backend.identity import services

    rt = _runtime(app, notifier, login_max_failures=4, login_max_failures_per_address=3,
                  login_delay_base_seconds=600, login_fresh_address_checks_per_day=5)
    account = await create_patient(email="delayed@example.fr")
    # Strangers from two addresses use up the free checks of the day (2 x 2 = 4)...
    for address in ("198.51.100.1", "198.51.100.2"):
        for _ in range(2):
            assert await _try_login(rt, account.identifier, "bad-guess-1",
                                    address) == "InvalidCredentials"
    # ... then an address that has failed here waits: one check takes the first "not
    # before" slot, the next ones are answered RateLimited until it ends.
    assert await _try_login(rt, account.identifier, "bad-guess-1",
                            "198.51.100.1") == "InvalidCredentials"
    assert await _try_login(rt, account.identifier, "bad-guess-1",
                            "198.51.100.2") == "RateLimited"
    # A new address is still checked once (daily budget of such checks: 5).
    assert await _try_login(rt, account.identifier, "bad-guess-1",
                            "198.51.100.3") == "InvalidCredentials"
    assert await _try_login(rt, account.identifier, "bad-guess-1",
                            "198.51.100.3") == "RateLimited"
    # Known identifiers and unknown ones behave alike.
    for _ in range(5):
        await _try_login(rt, "ghost@example.fr", "bad-guess-1", "198.51.100.4")
    assert await _try_login(rt, "ghost@example.fr", "bad-guess-1",
                            "198.51.100.4") in {"RateLimited", "TemporarilyLocked"}
    # The owner's address has not failed: it is checked, and gets in.
    caller = services.Caller(address="192.0.2.20")
    challenge = await services.start_login(rt, identifier=account.identifier, password=PASSWORD,
                                           channel=None, caller=caller)
    await services.verify_login(rt, challenge_id=challenge.id,
                                code=code_from(notifier.last().text), caller=caller)


async def test_brute_force_from_many_addresses_stays_bounded(app, notifier, clean, monkeypatch):
    """600 guesses from 200 addresses, 30 at a time: the passwords actually checked never
    exceed free checks + fresh-address budget + one slot (the next slot is 10 minutes away)."""
    from backend.identity import passwords

    rt = _runtime(app, notifier, login_max_failures=10, login_max_failures_per_address=3,
                  login_delay_base_seconds=600, login_fresh_address_checks_per_day=5)
    account = await create_patient(email="target@example.fr")
    checked = 0
    real_verify = passwords.verify_password

    async def counting_verify(stored, password):
        nonlocal checked
        checked += 1
        return await real_verify(stored, password)

    monkeypatch.setattr(passwords, "verify_password", counting_verify)
    attempts = [(f"203.0.113.{i % 200}", f"guess-{n}-xyz") for n, i in enumerate(range(600))]
    outcomes = []
    for start in range(0, len(attempts), 30):
        outcomes += await asyncio.gather(*(
            _try_login(rt, account.identifier, guess, address)
            for address, guess in attempts[start:start + 30]))
    assert checked == outcomes.count("InvalidCredentials")
    assert checked <= 10 + 5 + 1, checked
    assert outcomes.count("RateLimited") >= 500
    assert "Challenge" not in outcomes


async def test_per_address_rate_limit_counts_aliases(app, client, notifier, clean):
    base = app.state.runtime
    limit = base.settings.login_rate_per_address
    fields = " ".join(
        f'a{i}: login(identifier: "x{i}@example.fr", password: "whatever-123") {{ __typename }}'
        for i in range(15)
    )
    kinds = []
    for _ in range(limit // 15 + 2):
        body = (await client.post("/graphql", json={"query": f"mutation {{ {fields} }}"})).json()
        kinds += [body["data"][f"a{i}"]["__typename"] for i in range(15)]
    assert kinds[:limit] == ["InvalidCredentials"] * limit
    assert set(kinds[limit:]) == {"RateLimited"}


async def test_redis_down_during_login_fails_closed(migrated, server_env, private_redis, clean):
    """With Redis gone between the two steps, verification answers a clear generic error
    and never opens a session; once Redis is back, the lost code is simply expired."""
    import httpx

    from tests.servers import carnet_server

    await create_patient(email="redis-down@example.fr")
    env = {**server_env, "REDIS_URL": private_redis.url}
    with carnet_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            async def call(query, variables):
                return (await http.post("/graphql", json={"query": query,
                                                          "variables": variables})).json()

            started = await call(LOGIN, {"identifier": "redis-down@example.fr",
                                         "password": PASSWORD})
            challenge_id = started["data"]["login"]["challengeId"]
            private_redis.stop()
            down = await call(VERIFY, {"challengeId": challenge_id, "code": "123456"})
            assert down["data"] is None
            assert down["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            again = await call(LOGIN, {"identifier": "redis-down@example.fr",
                                       "password": PASSWORD})
            assert again["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            # A signed-in call cannot be authenticated: a clear 503, never anonymous, no 500.
            authed = await http.post("/graphql", json={"query": "{ me { id } }"},
                                     headers={"Authorization": "Bearer some-token"})
            assert authed.status_code == 503
            download = await http.get("/documents/00000000-0000-0000-0000-000000000000/content",
                                      headers={"Authorization": "Bearer some-token"})
            assert download.status_code == 503
            private_redis.start()
            back = await call(VERIFY, {"challengeId": challenge_id, "code": "123456"})
            assert back["data"]["verifyLoginCode"]["__typename"] == "CodeExpired"


async def test_audit_trail_records_logins_without_secrets(gql, notifier, clean):
    account = await create_patient(email="audit@example.fr")
    await gql(LOGIN, {"identifier": "audit@example.fr", "password": "wrong-password-1"})
    challenge_id, code = await login(gql, notifier, "audit@example.fr", PASSWORD)
    await gql(VERIFY, {"challengeId": challenge_id, "code": "000000" if code != "000000"
                       else "111111"})
    await gql(VERIFY, {"challengeId": challenge_id, "code": code})
    events = await AuditEvent.filter(account_id=account.id).order_by("id")
    kinds = [e.kind for e in events]
    for expected in (AuditKind.ACCOUNT_CREATED, AuditKind.LOGIN_PASSWORD_FAILED,
                     AuditKind.LOGIN_PASSWORD_OK, AuditKind.LOGIN_CODE_SENT,
                     AuditKind.LOGIN_CODE_FAILED, AuditKind.LOGIN_SUCCEEDED):
        assert expected in kinds
    assert all(e.address for e in events if e.kind != AuditKind.ACCOUNT_CREATED)
    dump = " ".join(f"{e.detail} {e.address}" for e in events)
    assert code not in dump and PASSWORD not in dump and "wrong-password-1" not in dump


async def test_inactive_accounts_cannot_log_in(gql, notifier, clean):
    # Locked and pending accounts are refused like a wrong password. (A closed space signs in,
    # only to be reopened: no session opens, tests/test_account_closure.py.)
    for status in ("locked", "pending"):
        account = await create_patient(email=f"{status}@example.fr")
        await Account.filter(id=account.id).update(status=status)
        body = await gql(LOGIN, {"identifier": f"{status}@example.fr", "password": PASSWORD})
        assert body["data"]["login"]["__typename"] == "InvalidCredentials"


async def test_rate_limits_see_the_forwarded_client_address(migrated, server_env, clean):
    """Behind the web app (a trusted proxy), each person is limited on their own address."""
    import httpx

    from tests.servers import carnet_server

    env = {**server_env, "LOGIN_RATE_PER_ADDRESS": "3", "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    with carnet_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:
            async def attempt(address: str) -> str:
                body = (await http.post("/graphql", json={"query": LOGIN, "variables": {
                    "identifier": "nobody@example.fr", "password": "wrong password!!"}},
                    headers={"X-Forwarded-For": address})).json()
                return body["data"]["login"]["__typename"]

            assert [await attempt("203.0.113.5") for _ in range(4)] == [
                "InvalidCredentials"] * 3 + ["RateLimited"]
            assert await attempt("198.51.100.9") == "InvalidCredentials"
