"""iCalendar output of the agenda (backend/agenda/calendar.py) and the one-appointment
download `GET /agenda/{id}.ics`: parsed with `icalendar` AND with `vobject` (an independent
parser, which builds its time zone from OUR VTIMEZONE, so its offsets check our DST rules)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from backend.agenda import calendar
from backend.agenda.models import AppointmentStatus, PlaceKind
from tests.agenda_factories import create_appointment
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in

PARIS = ZoneInfo("Europe/Paris")
DETAILS = {"reason": "Suivi de chimiothérapie", "notes": "Apporter l'ordonnance",
           "practitioner": "Dr Martin, oncologue", "place": "12 rue de la Paix, 75002 Paris"}


def appointment(start: datetime, *, status=AppointmentStatus.BOOKED, sequence=0,
                place_kind=PlaceKind.ADDRESS, time_zone="Europe/Paris", minutes=30):
    stamp = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    return SimpleNamespace(id=uuid.uuid4(), start_at=start.astimezone(UTC),
                           end_at=(start + timedelta(minutes=minutes)).astimezone(UTC),
                           time_zone=time_zone, status=status, sequence=sequence,
                           place_kind=place_kind, created_at=stamp, updated_at=stamp)


SUMMER = datetime(2026, 7, 15, 10, 30, tzinfo=PARIS)  # CEST, UTC+2
WINTER = datetime(2026, 12, 15, 10, 30, tzinfo=PARIS)  # CET, UTC+1


def both_parsers(body: bytes):
    return icalendar.Calendar.from_ical(body), vobject.readOne(body.decode("utf-8"))


def test_vtimezone_and_dst_offsets_summer_and_winter():
    summer, winter = appointment(SUMMER, sequence=3), appointment(WINTER)
    body = calendar.calendar([calendar.Entry(summer, DETAILS), calendar.Entry(winter, {})],
                             calendar.Detail.NONE)
    ical, vcal = both_parsers(body)

    assert ical["PRODID"] == calendar.PRODID and ical["VERSION"] == "2.0"
    [tz] = ical.walk("VTIMEZONE")
    assert tz["TZID"] == "Europe/Paris"
    assert {c.name for c in tz.subcomponents} == {"DAYLIGHT", "STANDARD"}
    events = ical.walk("VEVENT")
    assert [e["DTSTART"].params["TZID"] for e in events] == ["Europe/Paris"] * 2
    assert events[0].decoded("DTSTART").utcoffset() == timedelta(hours=2)
    assert events[1].decoded("DTSTART").utcoffset() == timedelta(hours=1)
    assert events[0].decoded("DTSTART").astimezone(UTC) == datetime(2026, 7, 15, 8, 30,
                                                                   tzinfo=UTC)

    # vobject computes offsets from the VTIMEZONE in the file, not from its own database.
    vevents = vcal.contents["vevent"]
    assert vevents[0].dtstart.value.utcoffset() == timedelta(hours=2)
    assert vevents[1].dtstart.value.utcoffset() == timedelta(hours=1)
    assert vevents[0].dtstart.value.astimezone(UTC) == summer.start_at
    assert vevents[1].dtend.value.astimezone(UTC) == winter.end_at
    assert vevents[0].sequence.value == "3" and vevents[1].sequence.value == "0"
    assert vevents[0].uid.value == f"{summer.id}@carnet"
    assert vevents[0].dtstamp.value == summer.updated_at


def test_our_vtimezone_agrees_with_the_zone_database_for_years():
    """Every day at 02:30 and 12:00, and each transition hour, 2024-2040: the offsets an
    independent parser derives from our VTIMEZONE are the zone database's."""
    body = calendar.calendar([calendar.Entry(appointment(WINTER), {})], calendar.Detail.NONE)
    tz = vobject.readOne(body.decode()).vtimezone.gettzinfo()
    day = date(2024, 1, 1)
    checked = 0
    while day < date(2041, 1, 1):
        for hour in (time(0, 30), time(1, 30), time(4, 0), time(12, 0)):
            instant = datetime.combine(day, hour, tzinfo=UTC)
            assert instant.astimezone(tz).utcoffset() == instant.astimezone(PARIS).utcoffset(), \
                instant
            checked += 1
        day += timedelta(days=1)
    assert checked > 24_000


def test_statuses_sequence_location_and_stable_output():
    proposed = appointment(SUMMER, status=AppointmentStatus.PROPOSED)
    cancelled = appointment(WINTER, status=AppointmentStatus.CANCELLED, sequence=2,
                            place_kind=PlaceKind.TELECONSULTATION)
    done = appointment(WINTER + timedelta(days=1), status=AppointmentStatus.DONE)
    entries = [calendar.Entry(proposed, DETAILS), calendar.Entry(cancelled, {}),
               calendar.Entry(done, {})]
    body = calendar.calendar(entries, calendar.Detail.NONE)
    assert body == calendar.calendar(entries, calendar.Detail.NONE)  # no clock in it
    vcal = vobject.readOne(body.decode())
    assert [e.status.value for e in vcal.contents["vevent"]] == ["TENTATIVE", "CANCELLED",
                                                                 "CONFIRMED"]
    locations = [getattr(e, "location", None) for e in vcal.contents["vevent"]]
    assert locations[0].value == DETAILS["place"]
    assert locations[1].value == "Téléconsultation"
    assert locations[2] is None
    assert b"\r\n" in body and all(len(line) <= 75 for line in body.split(b"\r\n"))


@pytest.mark.parametrize(("detail", "reason", "practitioner", "notes"), [
    (calendar.Detail.NONE, False, False, False),
    (calendar.Detail.REASON, True, True, False),
    (calendar.Detail.FULL, True, True, True),
])
def test_what_each_detail_level_tells(detail, reason, practitioner, notes):
    pro = SimpleNamespace(profession="Médecin", specialty="Oncologie", practice_name=None,
                          practice_address="1 avenue X")
    body = calendar.calendar([calendar.Entry(appointment(SUMMER), DETAILS),
                              calendar.Entry(appointment(WINTER), {"reason": "Cardiologie"},
                                             pro)], detail)
    text = body.decode()
    unfolded = text.replace("\r\n ", "")
    assert ("chimiothérapie" in unfolded) is reason
    assert ("Cardiologie" in unfolded) is reason
    assert ("Dr Martin" in unfolded) is practitioner
    assert ("Oncologie" in unfolded) is practitioner  # the professional's specialty
    assert ("ordonnance" in unfolded) is notes
    vcal = vobject.readOne(text)
    summaries = [e.summary.value for e in vcal.contents["vevent"]]
    if detail is calendar.Detail.NONE:
        assert summaries == ["Rendez-vous médical"] * 2
        assert all(not hasattr(e, "description") for e in vcal.contents["vevent"])
    else:
        assert summaries == ["Rendez-vous : Suivi de chimiothérapie",
                             "Rendez-vous : Cardiologie"]
        assert vcal.contents["vevent"][0].description.value.splitlines()[0] == \
            "Motif : Suivi de chimiothérapie"
    assert [e.location.value for e in vcal.contents["vevent"]] == [DETAILS["place"],
                                                                   "1 avenue X"]


def test_other_time_zone_gets_its_own_vtimezone():
    cayenne = appointment(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("America/Cayenne")),
                          time_zone="America/Cayenne")
    body = calendar.calendar([calendar.Entry(cayenne, {}), calendar.Entry(appointment(SUMMER),
                                                                           {})],
                             calendar.Detail.NONE)
    ical, vcal = both_parsers(body)
    assert sorted(t["TZID"] for t in ical.walk("VTIMEZONE")) == ["America/Cayenne",
                                                                 "Europe/Paris"]
    event = next(e for e in vcal.contents["vevent"] if e.uid.value == f"{cayenne.id}@carnet")
    assert event.dtstart.value.utcoffset() == timedelta(hours=-3)
    assert event.dtstart.value.astimezone(UTC) == cayenne.start_at


# --- GET /agenda/{id}.ics ------------------------------------------------------------------


@pytest.fixture
async def people(app, clean, gql, notifier):
    settings = app.state.runtime.settings
    alice = await create_patient(email="alice@example.fr")
    bruno = await create_patient(email="bruno@example.fr")
    pro = await create_professional(email="doc@example.fr")
    tokens = {name: await sign_in(gql, notifier, email, PASSWORD)
              for name, email in (("alice", "alice@example.fr"), ("bruno", "bruno@example.fr"),
                                  ("pro", "doc@example.fr"))}
    mine = await create_appointment(settings, alice, start=SUMMER.astimezone(UTC),
                                    professional=pro, details=DETAILS)
    theirs = await create_appointment(settings, bruno, start=WINTER.astimezone(UTC),
                                      details={"reason": "Psychiatrie"})
    return SimpleNamespace(tokens=tokens, mine=mine, theirs=theirs, pro=pro)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_patient_downloads_her_appointment_with_its_reason(client, people):
    response = await client.get(f"/agenda/{people.mine.id}.ics",
                                headers=bearer(people.tokens["alice"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment;")
    ical, vcal = both_parsers(response.content)
    [event] = vcal.contents["vevent"]
    assert event.uid.value == f"{people.mine.id}@carnet"
    assert event.summary.value == "Rendez-vous : Suivi de chimiothérapie"
    assert "Apporter l'ordonnance" in event.description.value
    assert event.dtstart.value.utcoffset() == timedelta(hours=2)
    assert ical.walk("VTIMEZONE")[0]["TZID"] == "Europe/Paris"


async def test_another_patients_appointment_is_exactly_like_a_missing_one(client, people):
    alice = bearer(people.tokens["alice"])
    theirs = await client.get(f"/agenda/{people.theirs.id}.ics", headers=alice)
    missing = await client.get(f"/agenda/{uuid.uuid4()}.ics", headers=alice)
    malformed = await client.get("/agenda/not-an-id.ics", headers=alice)
    as_pro = await client.get(f"/agenda/{people.mine.id}.ics",
                              headers=bearer(people.tokens["pro"]))
    for response in (theirs, missing, malformed, as_pro):
        assert response.status_code == 404
        assert response.content == missing.content
        headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
        assert headers == {k: v for k, v in missing.headers.items() if k != "x-request-id"}
    assert b"Psychiatrie" not in theirs.content
    english = await client.get(f"/agenda/{people.theirs.id}.ics",
                               headers={**alice, "Accept-Language": "en"})
    assert english.json()["message"] == "Appointment not found."


async def test_no_session_is_told_to_sign_in(client, people):
    response = await client.get(f"/agenda/{people.mine.id}.ics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
