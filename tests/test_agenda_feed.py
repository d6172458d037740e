"""The patient's calendar subscription feed: GraphQL `calendarFeed`, `createCalendarFeed`,
`revokeCalendarFeed` and `GET /agenda/feed/{token}.ics` (backend/agenda/feeds.py, http.py):
the token shown once and stored as a keyed hash, one active feed, revocation at once, the
reason only when opted in, last use written at most once an hour."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import vobject

from backend.agenda import feeds
from backend.agenda.models import AppointmentStatus, CalendarFeed
from backend.settings import generate_master_key
from tests.agenda_factories import create_appointment
from tests.conftest import make_settings
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in

CREATE = """mutation C($r: Boolean!) { createCalendarFeed(includeReason: $r) {
  url path feed { active includeReason createdAt lastUsedAt } } }"""
STATUS = "query { calendarFeed { active includeReason createdAt lastUsedAt } }"
REVOKE = "mutation { revokeCalendarFeed { active includeReason createdAt lastUsedAt } }"


@pytest.fixture
async def alice(app, clean, gql, notifier):
    settings = app.state.runtime.settings
    account = await create_patient(email="alice@example.fr")
    bruno = await create_patient(email="bruno@example.fr")
    token = await sign_in(gql, notifier, "alice@example.fr", PASSWORD)
    now = datetime.now(UTC)
    soon = await create_appointment(settings, account, start=now + timedelta(days=3),
                                    details={"reason": "Dermatologie", "notes": "grain"})
    cancelled = await create_appointment(settings, account, start=now + timedelta(days=4),
                                         status=AppointmentStatus.CANCELLED,
                                         details={"reason": "Radiologie"})
    old = await create_appointment(settings, account, start=now - timedelta(days=400),
                                   details={"reason": "Ancien"})
    other = await create_appointment(settings, bruno, start=now + timedelta(days=3),
                                     details={"reason": "Psychiatrie"})
    return SimpleNamespace(account=account, token=token, soon=soon, cancelled=cancelled,
                           old=old, other=other, settings=settings)


async def create(gql, token: str, include_reason: bool) -> dict:
    body = await gql(CREATE, {"r": include_reason}, token=token)
    assert "errors" not in body, body
    return body["data"]["createCalendarFeed"]


async def test_feed_without_reason_then_with_it(client, gql, alice):
    created = await create(gql, alice.token, False)
    path = created["path"]
    assert created["url"] == "http://testserver" + path
    assert path.startswith("/agenda/feed/") and path.endswith(".ics")
    assert created["feed"]["active"] is True and created["feed"]["includeReason"] is False

    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-store"
    text = response.text
    for secret in ("Dermatologie", "Radiologie", "grain", "Psychiatrie"):
        assert secret not in text
    vcal = vobject.readOne(text)
    events = {e.uid.value: e for e in vcal.contents["vevent"]}
    assert set(events) == {f"{alice.soon.id}@carnet", f"{alice.cancelled.id}@carnet"}
    assert events[f"{alice.cancelled.id}@carnet"].status.value == "CANCELLED"
    assert {e.summary.value for e in events.values()} == {"Rendez-vous médical"}
    assert vcal.vtimezone.tzid.value == "Europe/Paris"

    # Opting in: a new URL, the old one stops working at once.
    opted = await create(gql, alice.token, True)
    assert opted["path"] != path
    assert (await client.get(path)).status_code == 404
    text = (await client.get(opted["path"])).text
    assert "Rendez-vous : Dermatologie" in text
    assert "grain" not in text  # notes: only in the patient's own download
    assert "Psychiatrie" not in text
    assert await CalendarFeed.filter(person_id=alice.account.person_id,
                                     revoked_at__isnull=True).count() == 1


async def test_only_a_keyed_hash_is_stored(gql, alice):
    created = await create(gql, alice.token, False)
    token = created["path"].removeprefix("/agenda/feed/").removesuffix(".ics")
    assert len(token) == 43
    [row] = await CalendarFeed.all().values()
    assert token not in str(row)
    assert row["token_hash"] == feeds.token_hash(alice.settings.master_key(), token)
    assert row["token_hash"] != feeds.token_hash(generate_master_key().encode(), token)
    status = (await gql(STATUS, token=alice.token))["data"]["calendarFeed"]
    assert status["active"] is True and "url" not in status


async def test_revoked_unknown_and_malformed_tokens_are_alike(client, gql, alice):
    created = await create(gql, alice.token, True)
    assert (await client.get(created["path"])).status_code == 200
    revoked = (await gql(REVOKE, token=alice.token))["data"]["revokeCalendarFeed"]
    assert revoked == {"active": False, "includeReason": False, "createdAt": None,
                       "lastUsedAt": None}
    assert (await gql(STATUS, token=alice.token))["data"]["calendarFeed"]["active"] is False
    answers = [await client.get(created["path"]),
               await client.get("/agenda/feed/" + "A" * 43 + ".ics"),
               await client.get("/agenda/feed/short.ics")]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.content == answers[0].content
        assert answer.headers["cache-control"] == "private, no-store"
    # Revoking again is harmless.
    assert (await gql(REVOKE, token=alice.token))["data"]["revokeCalendarFeed"]["active"] is False


async def test_last_use_is_written_at_most_once_an_hour(client, gql, alice):
    created = await create(gql, alice.token, False)
    assert created["feed"]["lastUsedAt"] is None
    await client.get(created["path"])
    first = (await gql(STATUS, token=alice.token))["data"]["calendarFeed"]["lastUsedAt"]
    assert first is not None
    await client.get(created["path"])
    assert (await gql(STATUS, token=alice.token))["data"]["calendarFeed"]["lastUsedAt"] == first

    feed = await feeds.active_feed(alice.account.person_id)
    at = datetime(2031, 1, 1, 8, 0, tzinfo=UTC)
    assert await feeds.touch(feed, at)
    assert not await feeds.touch(feed, at + timedelta(minutes=59))
    assert await feeds.touch(feed, at + timedelta(minutes=61))
    assert (await CalendarFeed.get(id=feed.id)).last_used_at == at + timedelta(minutes=61)


async def test_concurrent_creations_leave_one_active_feed(alice):
    now = datetime.now(UTC)
    made = await asyncio.gather(*(feeds.create_feed(alice.settings,
                                                    person_id=alice.account.person_id,
                                                    include_reason=False, now=now)
                                  for _ in range(4)))
    active = await CalendarFeed.filter(person_id=alice.account.person_id,
                                       revoked_at__isnull=True)
    assert len(active) == 1
    working = [m for m in made if await feeds.feed_by_token(alice.settings, m.token)]
    assert len(working) == 1 and working[0].feed.id == active[0].id


async def test_a_master_key_rotation_keeps_the_feed_working(alice):
    made = await feeds.create_feed(alice.settings, person_id=alice.account.person_id,
                                   include_reason=False, now=datetime.now(UTC))
    rotated = make_settings(alice.settings.database_url, alice.settings.redis_url,
                            carnet_master_key=generate_master_key(),
                            carnet_previous_master_keys=alice.settings.carnet_master_key)
    found = await feeds.feed_by_token(rotated, made.token)
    assert found is not None and found.id == made.feed.id
    stranger = make_settings(alice.settings.database_url, alice.settings.redis_url,
                             carnet_master_key=generate_master_key())
    assert await feeds.feed_by_token(stranger, made.token) is None


async def test_feed_fields_are_for_patients(gql, notifier, alice):
    await create_professional(email="doc@example.fr")
    pro = await sign_in(gql, notifier, "doc@example.fr", PASSWORD)
    for query, variables in ((STATUS, None), (CREATE, {"r": False}), (REVOKE, None)):
        body = await gql(query, variables, token=pro)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        body = await gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED", body
    assert await CalendarFeed.all().count() == 0


async def test_configured_base_url_is_used(app, gql, alice, monkeypatch):
    monkeypatch.setattr(app.state.runtime.settings, "agenda_feed_base_url",
                        "https://api.carnet.example")
    created = await create(gql, alice.token, False)
    assert created["url"] == "https://api.carnet.example" + created["path"]


async def test_an_outage_logs_no_feed_token(client, gql, alice, monkeypatch, caplog):
    created = await create(gql, alice.token, False)
    token = created["path"].removeprefix("/agenda/feed/").removesuffix(".ics")

    async def down(*args, **kwargs):
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(feeds, "feed_by_token", down)
    with caplog.at_level("WARNING"):
        response = await client.get(created["path"])
    assert response.status_code == 503
    assert "backing service unavailable" in caplog.text
    assert token not in caplog.text
