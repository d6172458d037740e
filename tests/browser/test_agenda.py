"""Agenda in a real browser, against a real API, two people live at once.

A doctor (one tab, on a phone's width) publishes slots with the recurrence form (a mistake
first: no weekday); a patient who has the doctor in their care team (another tab) opens the
agenda, picks the doctor, sees the free slots; the first one is taken by someone else meanwhile
(through the API): booking it says so in French, the next one is booked; the doctor's bookings
show it live (no reload). The patient moves the booking to another slot (the doctor sees it
live), moves through the week and month views with the keyboard, cancels (a confirmation): the
doctor's tab shows the cancellation live. The patient downloads the appointment as .ics (through
the web app's one-time download route), which parses with icalendar and with vobject, makes and
revokes a calendar feed link. The doctor sets an appointment in two hours (API): it appears live
on the patient's side, too late to cancel online; the doctor moves it with the form, the
patient sees it live. The patient types in an appointment of their own (a missing address is
said first). Then the page in English.

Every state visited is checked with axe (zero violations) and for sideways scrolling at 390
and 1280 px (`check_at_widths`; the `page` fixture also checks each `goto` and the last
state; the patient's tab gathers its findings and fails the test with them at the end).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from playwright.async_api import BrowserContext, Page, expect

from backend.access import services as access
from backend.access.policy import PatientViewer
from backend.identity.lookup import account_by_identifier
from backend.identity.models import Person, Professional
from tests.access_helpers import seed_matrix
from tests.browser import a11y
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, sign_in
from tests.factories import create_professional
from tests.test_messaging_live import Api, mint_session

pytestmark = pytest.mark.browser

LIVE_TIMEOUT = 15_000
PARIS = "Europe/Paris"
REASON = "Douleur au genou <b>depuis</b> mardi"
SCHEDULE = """mutation Schedule($p: ID!, $input: ScheduleAppointmentInput!) {
  scheduleAppointment(patientId: $p, input: $input) {
    __typename ... on Appointment { id } ... on Error { message } } }"""
BOOK = """mutation Book($s: ID!) { bookSlot(slotId: $s) { __typename ... on Error { message } } }"""


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


@pytest.fixture(autouse=True)
async def warm(browser_context: BrowserContext, web: WebApp) -> None:
    """The login page loaded once beforehand (its first load is the slowest)."""
    tab = await browser_context.new_page()
    try:
        await tab.goto(web.url + "/connexion", timeout=FIRST_LOAD_TIMEOUT)
    finally:
        await tab.close()


def paris_today() -> datetime:
    return datetime.now(UTC).astimezone(ZoneInfo(PARIS))


async def check_at_widths(page: Page, name: str) -> None:
    await page.mouse.move(0, 0)
    await a11y.check_at_widths(page, name)


async def test_publish_book_live_cancel_download(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    browser_context: BrowserContext, redis_url: str, tmp_path: Path,
) -> None:
    await seed_matrix()  # `clean` emptied the access matrix the migration seeds
    doctor_address = f"dr-{secrets.token_hex(4)}@example.fr"
    doctor = await create_professional(email=doctor_address)
    professional = await Professional.get(id=doctor.professional_id)
    patient_address = await new_patient()
    patient = await account_by_identifier(patient_address)
    assert patient is not None and patient.person_id is not None
    await access.add_to_care_team(PatientViewer(patient.id, patient.person_id), professional.rpps)
    # Someone else who books the first slot just before our patient does.
    other = await account_by_identifier(await new_patient())
    assert other is not None and other.person_id is not None
    await access.add_to_care_team(PatientViewer(other.id, other.person_id), professional.rpps)
    other_token = await mint_session(redis_url, other)
    api = Api(api_server)

    # --- the doctor publishes slots (on a phone's width) --------------------------------
    doctor_tab = page
    await doctor_tab.set_viewport_size({"width": 390, "height": 844})
    await sign_in(doctor_tab, web, mailbox, doctor_address, home="/pro")
    menu = doctor_tab.get_by_role("button", name="Menu")
    await menu.click()
    await doctor_tab.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mon agenda").click()
    await expect(doctor_tab).to_have_url(web.at("/pro/agenda"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(doctor_tab.get_by_role("heading", level=1, name="Mon agenda")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(doctor_tab.locator("#live-status")).to_have_text("En direct",
                                                                timeout=LIVE_TIMEOUT)
    await expect(doctor_tab.locator("#my-slots-empty")).to_be_visible()
    first_day = (paris_today() + timedelta(days=3)).date()
    last_day = first_day + timedelta(days=6)
    submit = doctor_tab.get_by_role("button", name="Publier les créneaux")
    await expect(submit).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
    # A mistake first: no weekday ticked is said next to the weekdays.
    await doctor_tab.get_by_label("Du", exact=True).fill(first_day.isoformat())
    await doctor_tab.get_by_label("Au", exact=True).fill(last_day.isoformat())
    for n in range(7):
        await doctor_tab.locator(f"#publish-weekday-{n}").set_checked(False)
    await submit.click()
    await expect(doctor_tab.locator("#publish-weekdays-error")).to_have_text(
        "Cochez au moins un jour de la semaine.")
    await check_at_widths(doctor_tab, "pro-agenda-publish-error")
    for n in range(7):
        await doctor_tab.locator(f"#publish-weekday-{n}").set_checked(True)
    await doctor_tab.get_by_label("De", exact=True).fill("09:00")
    await doctor_tab.get_by_label("À", exact=True).fill("10:00")
    await doctor_tab.get_by_label("Durée d'un créneau (minutes)").fill("30")
    await doctor_tab.get_by_label("Adresse du cabinet").fill("3 rue du Parc, 69003 Lyon")
    await submit.click()
    await expect(doctor_tab.locator("#publish-info")).to_have_text(
        "14 nouveaux créneaux publiés.")
    await expect(doctor_tab.locator("#free-count")).to_have_text("14 créneaux libres.")
    await expect(doctor_tab.locator("#bookings-empty")).to_be_visible()
    await check_at_widths(doctor_tab, "pro-agenda-published")

    # --- the patient books one, in another tab ------------------------------------------
    patient_tab = await browser_context.new_page()
    patient_tab.set_default_timeout(15_000)
    a11y.collect_on(patient_tab)  # its checks' findings fail the test at the end, all told
    try:
        await sign_in(patient_tab, web, mailbox, patient_address)
        await patient_tab.goto(web.url + "/agenda")
        await expect(patient_tab.get_by_role("heading", level=1, name="Agenda")).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(patient_tab.locator("#live-status")).to_have_text("En direct",
                                                                     timeout=LIVE_TIMEOUT)
        await expect(patient_tab.locator("#upcoming-empty")).to_be_visible()
        await a11y.check_page(patient_tab, "agenda-empty")
        await patient_tab.locator("#book-professional").select_option(index=1)
        slots = patient_tab.locator("#free-slots input[type=radio]")
        await expect(slots).to_have_count(14, timeout=LIVE_TIMEOUT)
        await check_at_widths(patient_tab, "agenda-free-slots")

        # Someone else takes the first slot meanwhile: booking it says so, in French.
        taken = await slots.nth(0).get_attribute("value")
        assert taken
        booked = await api(BOOK, {"s": taken}, other_token)
        assert booked["data"]["bookSlot"]["__typename"] == "Appointment", booked
        await slots.nth(0).check()
        await patient_tab.get_by_label("Motif (facultatif)").first.fill(REASON)
        await patient_tab.get_by_role("button", name="Réserver ce créneau").click()
        await expect(patient_tab.locator("#book-error")).to_contain_text(
            "Ce créneau vient d'être réservé par quelqu'un d'autre.")
        await expect(slots).to_have_count(13)
        await check_at_widths(patient_tab, "agenda-slot-taken")
        await slots.nth(0).check()
        await patient_tab.get_by_role("button", name="Réserver ce créneau").click()
        await expect(patient_tab.locator("#book-info")).to_contain_text("Rendez-vous réservé")
        mine = patient_tab.locator("#upcoming > li")
        await expect(mine).to_have_count(1)
        await expect(mine.locator(".appointment-reason")).to_have_text("Motif : " + REASON)
        await expect(mine.locator(".appointment-place")).to_contain_text("3 rue du Parc")
        await expect(mine.locator(".appointment-status")).to_have_text("Confirmé")

        # The doctor sees both bookings live, with the patients' names and the reason.
        bookings = doctor_tab.locator("#bookings > li")
        await expect(bookings).to_have_count(2, timeout=LIVE_TIMEOUT)
        ours = bookings.filter(has_text=REASON)
        await expect(ours).to_have_count(1)
        await expect(ours.locator(".appointment-patient")).to_contain_text("DUPONT Jean")
        await expect(doctor_tab.locator("#free-count")).to_have_text("12 créneaux libres.")
        await check_at_widths(doctor_tab, "pro-agenda-booked")

        # The patient moves the booking to another free slot; the doctor sees it live.
        await expect(mine.locator(".appointment-hours")).to_have_text("09:30 – 10:00")
        await mine.get_by_role("button", name=re.compile("^Changer de créneau pour ")).click()
        moves = mine.locator(".move-slot input[type=radio]")
        await expect(moves).to_have_count(12)  # today+3 is full: the first is the next day's
        await check_at_widths(patient_tab, "agenda-move")
        await moves.nth(0).check()
        await mine.get_by_role("button", name="Choisir ce créneau").click()
        await expect(patient_tab.locator("#agenda-info")).to_contain_text("Rendez-vous déplacé")
        await expect(mine.locator(".appointment-hours")).to_have_text("09:00 – 09:30")
        booked_day = (paris_today() + timedelta(days=4)).date()
        await expect(ours.locator(".appointment-hours")).to_have_text("09:00 – 09:30",
                                                                      timeout=LIVE_TIMEOUT)
        await expect(doctor_tab.locator("#free-count")).to_have_text("12 créneaux libres.")

        # Week and month views, with the keyboard.
        when = await mine.locator(".appointment-when").text_content()
        assert when
        await patient_tab.get_by_role("button", name="Semaine", exact=True).click()
        await expect(patient_tab.locator("#period-title")).to_contain_text("Semaine du")
        await check_at_widths(patient_tab, "agenda-week")
        await patient_tab.get_by_role("button", name="Mois", exact=True).click()
        await expect(patient_tab.get_by_role("button", name="Mois", exact=True)).to_have_attribute(
            "aria-pressed", "true")
        selected = patient_tab.locator("#agenda-calendar button[aria-pressed=true]")
        await expect(selected).to_have_count(1)
        start_id = await selected.get_attribute("id")
        assert start_id and start_id.startswith("day-")
        await selected.focus()
        await patient_tab.keyboard.press("ArrowRight")
        day_after = datetime.fromisoformat(start_id[4:]) + timedelta(days=1)
        moved = patient_tab.locator(f"#day-{day_after.date().isoformat()}")
        await expect(moved).to_be_focused()
        await expect(moved).to_have_attribute("aria-pressed", "true")
        # Back to the day of the appointment: it is listed under the calendar.
        day = day_after.date()
        while day != booked_day:
            step = 1 if booked_day > day else -1
            await patient_tab.keyboard.press("ArrowRight" if step == 1 else "ArrowLeft")
            day += timedelta(days=step)
            await expect(patient_tab.locator(f"#day-{day.isoformat()}")).to_be_focused()
        await expect(patient_tab.locator("#selected-day > li")).to_contain_text(when)
        await check_at_widths(patient_tab, "agenda-month")
        await patient_tab.get_by_role("button", name="Liste", exact=True).click()

        # The patient cancels; the doctor's tab shows it live.
        await mine.get_by_role("button", name=re.compile("^Annuler le rendez-vous du ")).click()
        dialog = patient_tab.get_by_role("alertdialog")
        await expect(dialog).to_contain_text("Annuler ce rendez-vous ?")
        await a11y.check_page(patient_tab, "agenda-cancel-dialog")
        await dialog.get_by_role("button", name="Annuler le rendez-vous").click()
        await expect(patient_tab.locator("#agenda-info")).to_contain_text("est annulé")
        await expect(mine.locator(".appointment-status")).to_have_text("Annulé")
        await expect(mine.locator(".appointment-cancel")).to_have_count(0)
        await expect(ours.locator(".appointment-status")).to_have_text("Annulé",
                                                                       timeout=LIVE_TIMEOUT)
        await expect(doctor_tab.locator("#free-count")).to_have_text("13 créneaux libres.")

        # The .ics, through the web app's download route: it parses, twice.
        async with patient_tab.expect_download() as info:
            await mine.locator(".appointment-ics").click()
        download = await info.value
        assert "/_carnet/telechargement/" in download.url
        saved = tmp_path / "rdv.ics"
        await download.save_as(saved)
        data = saved.read_bytes()
        calendar = icalendar.Calendar.from_ical(data)
        events = [c for c in calendar.walk("VEVENT")]
        assert len(events) == 1
        assert str(events[0]["STATUS"]) == "CANCELLED"
        assert calendar.walk("VTIMEZONE") and str(calendar.walk("VTIMEZONE")[0]["TZID"]) == PARIS
        parsed = vobject.readOne(data.decode())
        assert parsed.vevent.dtstart.value.date() == booked_day
        await expect(patient_tab).to_have_url(web.at("/agenda"))  # the page stayed

        # The feed link: shown once, then revoked.
        await patient_tab.get_by_role("button", name="Créer mon lien d'abonnement").click()
        await expect(patient_tab.locator("#feed-url")).to_have_value(
            re.compile(r"^https?://.+/agenda/feed/.+\.ics$"))
        await expect(patient_tab.locator("#feed-status")).to_contain_text("Un lien est actif")
        await check_at_widths(patient_tab, "agenda-feed")
        await patient_tab.get_by_role("button", name="Révoquer le lien").click()
        await patient_tab.get_by_role("alertdialog").get_by_role(
            "button", name="Révoquer le lien").click()
        await expect(patient_tab.locator("#feed-status")).to_have_text("Aucun lien actif.")
        await expect(patient_tab.locator("#feed-url")).to_have_count(0)

        # The doctor sets an appointment in two hours (through the API): it appears live,
        # and it is too late to cancel it online (the deadline is said, no cancel button).
        soon = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
        doctor_token = await mint_session(redis_url, doctor)
        person = await Person.get(id=patient.person_id)
        scheduled = await api(SCHEDULE, {"p": str(person.public_id), "input": {
            "start": soon.isoformat(), "end": (soon + timedelta(minutes=20)).isoformat(),
            "placeKind": "TELECONSULTATION", "reason": "Résultats"}}, doctor_token)
        assert scheduled["data"]["scheduleAppointment"]["__typename"] == "Appointment", scheduled
        late = patient_tab.locator("#upcoming > li").filter(has_text="Résultats")
        await expect(late).to_have_count(1, timeout=LIVE_TIMEOUT)
        await expect(late.locator(".appointment-source")).to_have_text(
            "Ajouté par le professionnel")
        await expect(late.locator(".appointment-place")).to_have_text("Lieu : Téléconsultation")
        await expect(late.locator(".appointment-cancel-note")).to_contain_text(
            "Il est trop tard pour annuler ce rendez-vous en ligne (possible jusqu'au ")
        await expect(late.locator(".appointment-cancel")).to_have_count(0)
        results = bookings.filter(has_text="Résultats")
        await expect(results).to_have_count(1, timeout=LIVE_TIMEOUT)

        # The doctor moves it to tomorrow, 11:00 (the form, keyboard-reachable); the patient
        # sees it live.
        tomorrow = (paris_today() + timedelta(days=1)).date()
        await results.get_by_role("button", name=re.compile("^Déplacer le rendez-vous du ")
                                  ).click()
        await expect(doctor_tab.get_by_label("Nouvelle date")).to_be_focused()
        await doctor_tab.get_by_label("Nouvelle date").fill(tomorrow.isoformat())
        await doctor_tab.get_by_label("Nouvelle heure").fill("11:00")
        await check_at_widths(doctor_tab, "pro-agenda-move")
        await results.get_by_role("button", name="Déplacer", exact=True).click()
        await expect(doctor_tab.locator("#pro-agenda-info")).to_contain_text(
            "Le rendez-vous est déplacé au ")
        await expect(results.locator(".appointment-hours")).to_have_text("11:00 – 11:20")
        await expect(late.locator(".appointment-hours")).to_have_text("11:00 – 11:20",
                                                                      timeout=LIVE_TIMEOUT)

        # My own appointment, typed in (with a practitioner Carnet does not know).
        await patient_tab.get_by_role("button", name="Ajouter un rendez-vous").click()
        await expect(patient_tab.get_by_label("Date", exact=True)).to_be_focused()
        own_day = (paris_today() + timedelta(days=20)).date()
        await patient_tab.get_by_label("Date", exact=True).fill(own_day.isoformat())
        await patient_tab.get_by_label("Heure", exact=True).fill("14:15")
        await patient_tab.get_by_label("Praticien").fill("Dr Roux, dentiste")
        await patient_tab.get_by_role("button", name="Ajouter à mon agenda").click()
        await expect(patient_tab.locator("#add-place-error")).to_have_text(
            "Indiquez l'adresse, ou choisissez « Téléconsultation ».")
        await expect(patient_tab.get_by_label("Adresse", exact=True)).to_be_focused()
        await check_at_widths(patient_tab, "agenda-add-error")
        await patient_tab.get_by_label("Adresse", exact=True).fill("12 cours Lafayette, Lyon")
        await patient_tab.get_by_role("button", name="Ajouter à mon agenda").click()
        await expect(patient_tab.locator("#agenda-info")).to_contain_text(
            "a été ajouté à votre agenda")
        own = patient_tab.locator("#upcoming > li").filter(has_text="Dr Roux, dentiste")
        await expect(own).to_have_count(1)
        await expect(own.locator(".appointment-hours")).to_have_text("14:15 – 14:45")
        await expect(own.locator(".appointment-source")).to_have_text("Ajouté par moi")
        await expect(own.locator(".appointment-cancel")).to_have_count(1)  # no deadline
        await check_at_widths(patient_tab, "agenda-end")

        # In English: the same agenda, every text from the catalogue.
        await patient_tab.get_by_role("button", name="English").click()
        await expect(patient_tab.locator("html")).to_have_attribute("lang", "en")
        await expect(patient_tab.get_by_role("heading", level=2, name="My appointments")
                     ).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
        await expect(mine.filter(has_text=REASON).locator(".appointment-status")).to_have_text(
            "Cancelled")
        await expect(late.locator(".appointment-cancel-note")).to_contain_text(
            "It is too late to cancel this appointment online (possible until ")
        await expect(patient_tab.get_by_role("button", name="Book this slot")).to_be_visible()
        await check_at_widths(patient_tab, "agenda-english")
        a11y.fail_on_findings(patient_tab)
    finally:
        await patient_tab.close()
