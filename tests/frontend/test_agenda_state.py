"""The agenda pages' state (web app), with a fake `api.execute` and a fixed clock: calendar
arithmetic (weeks Monday first, whole weeks around a month, Paris days), the forms' checks
(own appointment, slot recurrence), the typed errors in French, and the handlers: loading
(upcoming / past / the calendar), arrow keys, booking (SlotTaken), cancelling
(TooLateToCancel with its deadline), the .ics download ticket, the feed, the professional's
publishing and live refresh guard."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from carnet_web.documents_http import TICKETS
from carnet_web.state import agenda as agenda_module
from carnet_web.state import pro_agenda as pro_module
from carnet_web.state.agenda import AgendaState, SlotOption, check_own
from carnet_web.state.agenda_common import (
    SLOT_TAKEN,
    appointment_item,
    calendar_days,
    day_bounds,
    error_message,
    month_grid,
)
from carnet_web.state.pro_agenda import ProAgendaState, check_recurrence
from carnet_web.state.session import HOME_ROUTE, LOGIN_ROUTE

from tests.frontend.fakes import FakeApi, client_calls, redirects, run

TOKEN = "jeton-de-session-secret"
NOW = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # Thursday 3 December 2026, 14:00 in Paris


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agenda_module, "now_utc", lambda: NOW)
    monkeypatch.setattr(pro_module, "now_utc", lambda: NOW)


def node(id: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"id": id, "start": start, "end": end, "status": "BOOKED", "source": "BOOKED_SLOT",
            "placeKind": "ADDRESS", "place": "3 rue du Parc, Lyon", "reason": "Contrôle",
            "practitioner": None, "canCancel": True, "cancelDeadline": None,
            "professional": {"id": "7", "profession": "Médecin", "specialty": "Cardiologie",
                             "practiceName": "Cabinet du Parc"}, **extra}


def agenda_answer(*nodes: dict[str, Any]) -> dict[str, Any]:
    edges = [{"node": n} for n in nodes]
    return {"upcoming": {"edges": edges}, "past": {"edges": edges}, "range": {"edges": edges}}


EXTRAS = {"careTeam": [
    {"active": True, "professional": {"id": "7", "profession": "Médecin",
                                      "specialty": "Cardiologie", "practiceName": "Parc"}},
    {"active": False, "professional": {"id": "8", "profession": "Infirmier",
                                       "specialty": None, "practiceName": None}}],
    "calendarFeed": {"active": False, "includeReason": False, "createdAt": None,
                     "lastUsedAt": None}}


def signed_in(state: Any, role: str = "PATIENT") -> Any:
    state._sign_in(TOKEN, "jean@example.fr", role)
    return state


# --- calendar arithmetic ----------------------------------------------------------------


def test_month_grid_is_whole_weeks_monday_first() -> None:
    grid = month_grid(date(2026, 12, 17))
    assert grid[0] == date(2026, 11, 30) and grid[0].weekday() == 0
    assert grid[-1] == date(2027, 1, 3) and grid[-1].weekday() == 6
    assert len(grid) == 35
    february = month_grid(date(2027, 2, 1))  # starts on a Monday: no day of January
    assert february[0] == date(2027, 2, 1) and len(february) == 28


def test_days_are_paris_days_and_bounds_cross_daylight_saving() -> None:
    # 23:30 UTC on 5 December is 00:30 on the 6th in Paris: it belongs to the 6th.
    late = appointment_item(node("a", "2026-12-05T23:30:00+00:00", "2026-12-06T00:00:00+00:00"),
                            "fr", now=NOW)
    assert late.day == "2026-12-06" and late.hours == "00:30 – 01:00"
    start, end = day_bounds(date(2027, 3, 27), date(2027, 3, 28))  # clocks go forward on 28th
    assert start == "2027-03-26T23:00:00+00:00" and end == "2027-03-28T22:00:00+00:00"


def test_calendar_cells_group_appointments_and_say_how_many() -> None:
    items = [appointment_item(node("a", "2026-12-07T08:00:00Z", "2026-12-07T08:30:00Z"), "fr",
                              now=NOW),
             appointment_item(node("b", "2026-12-07T07:00:00Z", "2026-12-07T07:30:00Z"), "fr",
                              now=NOW)]
    days = calendar_days(month_grid(date(2026, 12, 7)), items, month=12,
                         today=date(2026, 12, 3), selected=date(2026, 12, 7), lang="fr")
    monday = next(day for day in days if day.iso == "2026-12-07")
    assert monday.count == 2 and [item.id for item in monday.appointments] == ["b", "a"]
    assert monday.label == "Lundi 7 décembre 2026, 2 rendez-vous" and monday.selected
    assert next(day for day in days if day.iso == "2026-12-03").today
    assert not next(day for day in days if day.iso == "2026-11-30").in_month
    english = calendar_days([date(2026, 12, 1)], [], month=None, today=date(2026, 12, 3),
                            selected=date(2026, 12, 3), lang="en")
    assert english[0].label == "Tuesday 1 December 2026, no appointment"
    assert english[0].short == "Tue 1"


# --- the forms ----------------------------------------------------------------------------


def test_own_appointment_form() -> None:
    form = {"date": "2026-12-10", "time": "09:30", "duration": "45", "practitioner": " Dr  Roux ",
            "placeKind": "ADDRESS", "place": "1 place Bellecour", "reason": "Dents"}
    value = check_own(form)
    assert value == {"start": "2026-12-10T08:30:00+00:00", "end": "2026-12-10T09:15:00+00:00",
                     "timeZone": "Europe/Paris", "placeKind": "ADDRESS",
                     "place": "1 place Bellecour", "reason": "Dents", "practitioner": "Dr Roux"}
    summer = check_own({**form, "date": "2027-07-01"})
    assert isinstance(summer, dict) and summer["start"] == "2027-07-01T07:30:00+00:00"
    tele = check_own({**form, "placeKind": "TELECONSULTATION", "place": "", "practitioner": "",
                      "professionalId": "7"}, {"7": "Médecin · Parc"})
    assert isinstance(tele, dict)
    assert tele["place"] is None and tele["practitioner"] == "Médecin · Parc"
    assert check_own({**form, "date": ""})[:2] == ("date", "Indiquez la date.")
    assert check_own({**form, "time": "9h"})[:2] == ("time", "Heure invalide (hh:mm).")
    assert check_own({**form, "duration": "600"})[0] == "duration"
    assert check_own({**form, "practitioner": ""})[0] == "practitioner"
    assert check_own({**form, "place": " "})[0] == "place"


def test_recurrence_form() -> None:
    form = {"startDate": "2026-12-07", "endDate": "2026-12-18", "weekday-0": "on",
            "weekday-2": "on", "dayStart": "09:00", "dayEnd": "12:00", "duration": "30",
            "placeKind": "ADDRESS", "placeAddress": "3 rue du Parc"}
    assert check_recurrence(form) == {
        "startDate": "2026-12-07", "endDate": "2026-12-18", "weekdays": [0, 2],
        "dayStart": "09:00:00", "dayEnd": "12:00:00", "durationMinutes": 30,
        "placeKind": "ADDRESS", "placeAddress": "3 rue du Parc", "timeZone": "Europe/Paris"}
    assert check_recurrence({**form, "endDate": "2026-12-01"})[0] == "endDate"
    assert check_recurrence({**form, "weekday-0": "", "weekday-2": ""})[0] == "weekdays"
    assert check_recurrence({**form, "dayEnd": "08:00"})[0] == "dayEnd"
    assert check_recurrence({**form, "placeAddress": ""})[0] == "placeAddress"
    tele = check_recurrence({**form, "placeKind": "TELECONSULTATION", "placeAddress": ""})
    assert isinstance(tele, dict) and tele["placeAddress"] is None


def test_typed_errors_in_french_and_english() -> None:
    assert error_message({"__typename": "SlotTaken", "message": "x"}, "fr") == SLOT_TAKEN
    late = {"__typename": "TooLateToCancel", "message": "x",
            "deadline": "2026-12-06T09:00:00+00:00"}
    assert error_message(late, "fr") == (
        "Il est trop tard pour annuler ce rendez-vous en ligne (possible jusqu'au dimanche 6 "
        "décembre 2026 à 10:00). Contactez directement le professionnel.")
    assert error_message(late, "en").startswith("It is too late to cancel this appointment")
    assert error_message({"__typename": "InvalidAppointmentInput", "message": "Trop long.",
                          "field": "reason"}, "fr") == "Trop long."


# --- the patient's handlers ---------------------------------------------------------------


async def test_agenda_needs_a_session(fake_api: FakeApi) -> None:
    assert redirects(await run(AgendaState().load())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


async def test_load_splits_upcoming_and_past_and_lays_out_the_week(fake_api: FakeApi) -> None:
    fake_api.answer("Agenda", agenda_answer(
        node("past", "2026-12-01T08:00:00Z", "2026-12-01T08:30:00Z"),
        node("soon", "2026-12-04T08:00:00Z", "2026-12-04T08:30:00Z"),
        node("gone", "2026-12-05T08:00:00Z", "2026-12-05T08:30:00Z", status="CANCELLED")))
    fake_api.answer("AgendaExtras", EXTRAS)
    state = signed_in(AgendaState())
    events = await run(state.load())
    assert redirects(events) == []
    assert [item.id for item in state.upcoming] == ["soon", "gone"]
    assert [item.id for item in state.past] == ["past"]
    assert state.upcoming[0].cancellable and not state.upcoming[1].cancellable
    assert state.upcoming[0].who == "Médecin · Cardiologie · Cabinet du Parc"
    assert state.professionals == [["7", "Médecin · Cardiologie · Parc"]]
    variables = fake_api.called("Agenda")[0].variables
    assert variables["upcomingFrom"] == NOW.isoformat()
    assert variables["rangeFrom"] == "2026-11-29T23:00:00+00:00"  # Monday 30 Nov, Paris
    assert state.anchor == "2026-12-03" and len(state.days) == 7

    await run(state.set_view("month"))
    assert state.view == "month" and len(state.days) == 35
    assert state.period_title == "Décembre 2026"
    await run(state.day_key("ArrowRight", "2026-12-03"))
    assert state.anchor == "2026-12-04"
    assert [item.id for item in state.selected_items] == ["soon"]
    await run(state.day_key("PageDown", "2026-12-31"))
    assert state.anchor == "2027-01-31"  # the month after, same day or its last
    await run(state.day_key("Tab", "2027-01-31"))
    assert state.anchor == "2027-01-31"


async def test_booking_a_taken_slot_says_so_and_drops_it(fake_api: FakeApi) -> None:
    fake_api.answer("BookSlot", {"bookSlot": {"__typename": "SlotTaken", "message": "pris"}})
    state = signed_in(AgendaState())
    state.book_professional = "7"
    state.slots = [SlotOption("s1", "x", "09:00 – 09:30", ""),
                   SlotOption("s2", "y", "09:30 – 10:00", "")]
    await run(state.book({"slot": "s1", "reason": "Douleur"}))
    assert state.book_error == SLOT_TAKEN
    assert [slot.id for slot in state.slots] == ["s2"]
    assert fake_api.called("BookSlot")[0].variables == {"slotId": "s1", "reason": "Douleur"}
    await run(state.book({"slot": ""}))
    assert state.book_error == "Choisissez un créneau."


async def test_cancel_too_late_gives_the_deadline(fake_api: FakeApi) -> None:
    fake_api.answer("CancelAppointment", {"cancelAppointment": {
        "__typename": "TooLateToCancel", "message": "x",
        "deadline": "2026-12-03T08:00:00+00:00"}})
    state = signed_in(AgendaState())
    state.upcoming = [appointment_item(node("a", "2026-12-04T08:00:00Z",
                                            "2026-12-04T08:30:00Z"), "fr", now=NOW)]
    state.ask_cancel("a")
    assert state.cancelling and state.cancel_when == "vendredi 4 décembre 2026 à 09:00"
    await run(state.confirm_cancel())
    assert "possible jusqu'au jeudi 3 décembre 2026 à 09:00" in state.error
    assert not state.cancelling


async def test_ics_download_goes_through_a_one_time_ticket(fake_api: FakeApi) -> None:
    state = signed_in(AgendaState())
    state.upcoming = [appointment_item(node("a1", "2026-12-04T08:00:00Z",
                                            "2026-12-04T08:30:00Z"), "fr", now=NOW)]
    [(name, script)] = client_calls([state.download_ics("a1")])
    assert name == "_call_script" and "/_carnet/telechargement/" in script
    ticket_id = script.split("/_carnet/telechargement/")[1].split('"')[0]
    ticket = TICKETS.redeem(ticket_id)
    assert ticket is not None and ticket.path == "/agenda/a1.ics" and ticket.token == TOKEN
    assert state.download_ics("unknown") is None  # not one of mine as shown


async def test_feed_url_is_shown_once_then_revoked(fake_api: FakeApi) -> None:
    feed = {"active": True, "includeReason": True, "createdAt": "2026-12-03T13:00:00Z",
            "lastUsedAt": None}
    fake_api.answer("CreateCalendarFeed", {"createCalendarFeed": {
        "url": "https://carnet.example/agenda/feed/abc.ics", "path": "/agenda/feed/abc.ics",
        "feed": feed}})
    fake_api.answer("RevokeCalendarFeed", {"revokeCalendarFeed": {**feed, "active": False}})
    state = signed_in(AgendaState())
    state.set_feed_opt_in(True)
    await run(state.create_feed())
    assert fake_api.called("CreateCalendarFeed")[0].variables == {"includeReason": True}
    assert state.feed_url == "https://carnet.example/agenda/feed/abc.ics"
    assert state.feed_active and state.feed_include_reason
    assert state.feed_since == "3 décembre 2026"
    await run(state.revoke_feed())
    assert state.feed_url == "" and not state.feed_active


# --- the professional's -------------------------------------------------------------------


async def test_pro_agenda_is_for_professionals(fake_api: FakeApi) -> None:
    assert redirects(await run(ProAgendaState().load())) == [LOGIN_ROUTE]
    assert redirects(await run(signed_in(ProAgendaState()).load())) == [HOME_ROUTE]
    assert fake_api.calls == []


async def test_publishing_then_bookings_with_the_patient(fake_api: FakeApi) -> None:
    booked = node("b1", "2026-12-07T08:00:00Z", "2026-12-07T08:30:00Z",
                  patient={"patientId": "p", "birthName": "Dupont", "firstNames": "Jean",
                           "birthDate": "1985-03-02"})
    fake_api.answer("PublishSlots", {"publishSlots": {"__typename": "SlotsPublished",
                                                      "created": 12, "slots": []}})
    fake_api.answer("ProAgenda", {
        "professionalAppointments": {"edges": [{"node": booked}]},
        "mySlots": [{"id": "s1", "start": "2026-12-07T08:30:00Z", "end": "2026-12-07T09:00:00Z",
                     "placeKind": "TELECONSULTATION", "place": None, "status": "FREE"},
                    {"id": "s0", "start": "2026-12-07T08:00:00Z", "end": "2026-12-07T08:30:00Z",
                     "placeKind": "ADDRESS", "place": "Parc", "status": "BOOKED"}]})
    state = signed_in(ProAgendaState(), "PROFESSIONAL")
    await run(state.publish({"startDate": "2026-12-07", "endDate": "2026-12-18",
                             "weekday-0": "on", "dayStart": "09:00", "dayEnd": "12:00",
                             "duration": "30", "placeKind": "TELECONSULTATION"}))
    assert state.publish_info == "12 nouveaux créneaux publiés."
    assert fake_api.called("PublishSlots")[0].variables["input"]["weekdays"] == [0]
    [item] = state.bookings
    assert item.patient == "DUPONT Jean" and item.minutes == 30
    assert state.free_count == 1 and state.slots[0].place == "Téléconsultation"
    await run(state.publish({"startDate": ""}))
    assert state.publish_error_field == "startDate"


def test_cancel_note_says_until_when_or_too_late() -> None:
    open_one = appointment_item(node("a", "2026-12-09T08:00:00Z", "2026-12-09T08:30:00Z",
                                     cancelDeadline="2026-12-08T08:00:00Z", slotId="s"),
                                "fr", now=NOW)
    assert open_one.cancel_note == ("Annulation en ligne possible jusqu'au mardi 8 décembre "
                                    "2026 à 09:00.")
    assert open_one.cancellable and open_one.movable and open_one.professional_id == "7"
    late = appointment_item(node("b", "2026-12-03T15:00:00Z", "2026-12-03T15:30:00Z",
                                 canCancel=False, cancelDeadline="2026-12-02T15:00:00Z",
                                 slotId="s"), "en", now=NOW)
    assert late.cancel_note.startswith("It is too late to cancel this appointment online")
    assert not late.cancellable and not late.movable
    own = appointment_item(node("c", "2026-12-09T08:00:00Z", "2026-12-09T08:30:00Z",
                                professional=None, practitioner="Dr Roux", source="PATIENT"),
                           "fr", now=NOW)
    assert own.cancel_note == "" and own.who == "Dr Roux" and not own.movable
    assert own.source_label == "Ajouté par moi"


async def test_moving_a_booking_to_another_slot(fake_api: FakeApi) -> None:
    booked = node("a", "2026-12-09T08:00:00Z", "2026-12-09T08:30:00Z", slotId="s0")
    fake_api.answer("FreeSlots", {"freeSlots": [
        {"id": "s1", "start": "2026-12-10T08:00:00Z", "end": "2026-12-10T08:30:00Z",
         "placeKind": "ADDRESS", "place": "Parc"}]})
    fake_api.answer("RescheduleAppointment",
                    {"rescheduleAppointment": {"__typename": "SlotTaken", "message": "x"}},
                    {"rescheduleAppointment": {**booked, "__typename": "Appointment",
                                               "start": "2026-12-10T08:00:00Z",
                                               "end": "2026-12-10T08:30:00Z", "slotId": "s1"}})
    fake_api.answer("Agenda", agenda_answer())
    state = signed_in(AgendaState())
    state.upcoming = [appointment_item(booked, "fr", now=NOW)]
    await run(state.start_move("a"))
    assert state.moving_id == "a" and [slot.id for slot in state.move_slots] == ["s1"]
    assert fake_api.called("FreeSlots")[0].variables["professionalId"] == "7"
    await run(state.move_to({"slot": "s1"}))
    assert state.move_error == SLOT_TAKEN and state.move_slots == []
    state.move_slots = [SlotOption("s1", "x", "", "")]
    await run(state.move_to({"slot": "s1"}))
    assert state.move_error == ""
    assert state.moving_id == "" and state.info == (
        "Rendez-vous déplacé : jeudi 10 décembre 2026 à 09:00.")
    assert fake_api.called("RescheduleAppointment")[-1].variables == {"id": "a", "slotId": "s1"}


async def test_professional_cancels_and_moves_a_booking(fake_api: FakeApi) -> None:
    booked = node("b1", "2026-12-07T08:00:00Z", "2026-12-07T08:30:00Z")
    fake_api.answer("ProAgenda", {"professionalAppointments": {"edges": [{"node": booked}]},
                                  "mySlots": []})
    fake_api.answer("ProCancelAppointment", {"cancelAppointment": {
        "__typename": "AppointmentCancelled", "appointment": {"id": "b1"}}})
    fake_api.answer("MoveAppointment",
                    {"moveAppointment": {"__typename": "InvalidAppointmentInput",
                                         "message": "Ce créneau chevauche.", "field": "start"}},
                    {"moveAppointment": {"__typename": "Appointment", "id": "b1",
                                         "start": "2026-12-08T10:00:00Z"}})
    state = signed_in(ProAgendaState(), "PROFESSIONAL")
    state.bookings = [appointment_item(booked, "fr", now=NOW)]
    state.ask_cancel("b1")
    assert state.cancel_when == "lundi 7 décembre 2026 à 09:00"
    await run(state.confirm_cancel())
    assert state.info == ("Le rendez-vous du lundi 7 décembre 2026 à 09:00 est annulé ; le "
                          "patient en est informé.")
    state.start_move("b1")
    await run(state.move({"date": "2026-12-01", "time": "10:00", "duration": "30"}))
    assert state.move_error == "Ce moment est déjà passé." and not fake_api.called(
        "MoveAppointment")
    await run(state.move({"date": "2026-12-08", "time": "11:00", "duration": "30"}))
    assert state.move_error == "Ce créneau chevauche."
    await run(state.move({"date": "2026-12-08", "time": "11:00", "duration": "30"}))
    assert state.moving_id == "" and state.info == (
        "Le rendez-vous est déplacé au mardi 8 décembre 2026 à 11:00 ; le patient en est "
        "informé.")
    assert fake_api.called("MoveAppointment")[-1].variables == {
        "id": "b1", "start": "2026-12-08T10:00:00+00:00", "end": "2026-12-08T10:30:00+00:00"}
