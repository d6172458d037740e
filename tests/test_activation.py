"""Refusal, early activation and finalisation of the opt-out campaigns (issue 15 parts 4 and 5,
backend/onboarding/activation.py and finalisation.py): the public mutations with NIR, birth date
and provisional code (one answer for every miss, rate limited), activation then the normal
login, refusal reversible by activating; after the window, the spaces of the others created
exactly once, with two finalisers at once and after a crash half-way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from backend.identity.models import Account, AccountStatus, Person
from backend.onboarding import codes, finalisation
from backend.onboarding.models import NotifiedPerson, NotifiedStatus
from tests.factories import make_nir
from tests.identity_helpers import sign_in
from tests.test_campaign import line, run_import, write

REFUSE = """mutation R($n: NoticeClaimInput!) { refuseAccount(notice: $n) { __typename
  ... on Error { message } ... on ActivationRateLimited { retryAfter } } }"""
ACTIVATE = """mutation A($n: NoticeClaimInput!, $c: ActivationChoiceInput!) {
  activateAccount(notice: $n, choice: $c) { __typename ... on AccountActivated { identifier }
  ... on Error { message } ... on InvalidActivationInput { field } } }"""
PASSWORD = "Une phrase de passe solide 2026"


@pytest.fixture
async def campaign(app, clean, notifier, tmp_path):
    """Three notified persons, each with a known code (as their notice gave them)."""
    settings = app.state.runtime.settings
    nirs = [make_nir() for _ in range(3)]
    path = write(tmp_path, [line(n, email=f"p{i}@example.fr") for i, n in enumerate(nirs)])
    await run_import(settings, path, now=datetime.now(UTC))
    people = []
    for nir in nirs:
        row = (await NotifiedPerson.all().order_by("id"))[len(people)]
        code = codes.draw_code()
        await NotifiedPerson.filter(id=row.id).update(
            code_hash=codes.hash_for_storage(settings, row.id, code))
        people.append({"nir": nir, "code": code, "id": row.id})
    return people


def notice(person: dict, **changes) -> dict:
    return {"nir": person["nir"], "birthDate": "1985-03-02", "code": person["code"], **changes}


async def test_refusal_and_every_miss_answer_alike(gql, campaign):
    first = campaign[0]
    misses = [notice(first, code="AAAA-BBBB-CCCC"), notice(first, birthDate="1985-03-03"),
              notice(first, nir=make_nir()), notice(first, code="not a code")]
    answers = [(await gql(REFUSE, {"n": n}))["data"]["refuseAccount"] for n in misses]
    assert {a["__typename"] for a in answers} == {"NoticeNotFound"}
    assert len({a["message"] for a in answers}) == 1
    assert (await NotifiedPerson.get(id=first["id"])).status is NotifiedStatus.NOTIFIED
    done = (await gql(REFUSE, {"n": notice(first)}))["data"]["refuseAccount"]
    assert done["__typename"] == "AccountRefused"
    assert (await NotifiedPerson.get(id=first["id"])).status is NotifiedStatus.REFUSED


async def test_early_activation_then_the_normal_login(gql, notifier, campaign):
    person = campaign[1]
    answer = (await gql(ACTIVATE, {"n": notice(person), "c": {
        "identifier": "camille.early", "password": PASSWORD, "email": "camille@example.fr"}})
    )["data"]["activateAccount"]
    assert answer == {"__typename": "AccountActivated", "identifier": "camille.early"}
    row = await NotifiedPerson.get(id=person["id"])
    assert row.status is NotifiedStatus.ACTIVATED and row.person_id is not None
    assert await sign_in(gql, notifier, "camille.early", PASSWORD)
    # The code served once: a second activation is a miss.
    again = (await gql(ACTIVATE, {"n": notice(person), "c": {
        "identifier": "other", "password": PASSWORD, "email": "x@example.fr"}})
    )["data"]["activateAccount"]
    assert again["__typename"] == "NoticeNotFound"


async def test_a_refusal_is_reversible_by_activating(gql, campaign):
    person = campaign[0]
    await gql(REFUSE, {"n": notice(person)})
    answer = (await gql(ACTIVATE, {"n": notice(person), "c": {
        "password": PASSWORD, "email": "back@example.fr"}}))["data"]["activateAccount"]
    assert answer["__typename"] == "AccountActivated"
    assert answer["identifier"] == "back@example.fr"


async def test_a_bad_choice_is_a_typed_error_and_keeps_the_notice(gql, campaign):
    person = campaign[2]
    weak = (await gql(ACTIVATE, {"n": notice(person), "c": {
        "password": "court", "email": "p@example.fr"}}))["data"]["activateAccount"]
    assert weak["__typename"] == "InvalidActivationInput" and weak["field"] == "password"
    none = (await gql(ACTIVATE, {"n": notice(person), "c": {"password": PASSWORD}})
            )["data"]["activateAccount"]
    assert none["__typename"] == "InvalidActivationInput" and none["field"] == "email"
    assert (await NotifiedPerson.get(id=person["id"])).status is NotifiedStatus.NOTIFIED


async def test_tries_for_one_nir_are_limited(gql, campaign):
    person = campaign[0]
    answers = [(await gql(REFUSE, {"n": notice(person, code="AAAA-BBBB-CCCC")})
                )["data"]["refuseAccount"]["__typename"] for _ in range(6)]
    assert answers[:5] == ["NoticeNotFound"] * 5 and answers[5] == "ActivationRateLimited"
    # Even the right code waits now.
    late = (await gql(REFUSE, {"n": notice(person)}))["data"]["refuseAccount"]
    assert late["__typename"] == "ActivationRateLimited" and late["retryAfter"] > 0


# --- finalisation ------------------------------------------------------------------------------


async def _after_window() -> datetime:
    row = await NotifiedPerson.all().first()
    return row.window_ends_at + timedelta(seconds=1)


async def test_after_the_window_the_others_get_their_space_exactly_once(gql, campaign):
    await gql(REFUSE, {"n": notice(campaign[0])})
    await gql(ACTIVATE, {"n": notice(campaign[1]), "c": {
        "password": PASSWORD, "email": "early@example.fr"}})
    before = await finalisation.finalise_due(datetime.now(UTC))
    assert before == 0  # the window has not ended
    later = await _after_window()
    assert await finalisation.finalise_due(later) == 1
    assert await finalisation.finalise_due(later) == 0  # idempotent
    created = await NotifiedPerson.get(id=campaign[2]["id"])
    assert created.status is NotifiedStatus.CREATED
    account = await Account.get(person_id=created.person_id)
    assert account.status is AccountStatus.PENDING
    assert (await NotifiedPerson.get(id=campaign[0]["id"])).status is NotifiedStatus.REFUSED
    assert await Person.all().count() == 2  # the early one and the created one
    # The created space is activated later with the same code; then the normal login.
    answer = (await gql(ACTIVATE, {"n": notice(campaign[2]), "c": {
        "identifier": "after.window", "password": PASSWORD, "email": "late@example.fr"}})
    )["data"]["activateAccount"]
    assert answer["__typename"] == "AccountActivated", answer
    account = await Account.get(id=account.id)
    assert account.status is AccountStatus.ACTIVE
    assert await Account.filter(person_id=created.person_id).count() == 1


async def test_two_finalisers_at_once_create_each_space_once(campaign):
    later = await _after_window()
    results = await asyncio.gather(*(finalisation.finalise_due(later, batch=1)
                                     for _ in range(2)))
    assert sum(results) == 3
    assert await Person.all().count() == 3 and await Account.all().count() == 3
    assert await NotifiedPerson.filter(status=NotifiedStatus.CREATED).count() == 3


async def test_a_crash_half_way_is_resumed(campaign, monkeypatch):
    later = await _after_window()
    original = Account.create
    calls = {"n": 0}

    async def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the worker died here")
        return await original(*args, **kwargs)

    monkeypatch.setattr(Account, "create", failing)
    with pytest.raises(RuntimeError):
        await finalisation.finalise_due(later, batch=2)
    # The failed batch rolled back whole: nothing half-made.
    assert await Person.all().count() == 0 and await Account.all().count() == 0
    monkeypatch.setattr(Account, "create", original)
    assert await finalisation.finalise_due(later, batch=2) == 3
    assert await Person.all().count() == 3 and await Account.all().count() == 3
