"""Mon profil médical in a real browser, against a real API, in French and English: the
sign-in redirect; every kind of entry added through its form (plain text, whatever it
contains), one edited; the measurement form asking the fields of the chosen kind; weights and
their chart (axis, tooltip, table and summary written "72,5" / "1er juin" in French, "72.5" /
"1 June" in English); the API's typed error of a 900 kg weight; a client-side check; adding an
allergy with the keyboard only; the delete dialog taking the focus and giving it back; the
messages of a finished action gone after navigating or reloading; "Exporter mon dossier (FHIR)".

Each state and dialog reached is checked with axe at 390 and 1280 px (a11y.check_at_widths,
which also fails on sideways scrolling), in both languages. Signed in with the code the API
emails to a real SMTP server (`mailbox`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.a11y import check_at_widths
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, sign_in

pytestmark = pytest.mark.browser

WEIGHT_LOINC = "29463-7"
PARIS = ZoneInfo("Europe/Paris")  # the web app reads and shows times in Paris time
LANGUAGE_COOKIE = "carnet_lang"


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


@pytest.fixture(autouse=True)
async def in_french(page: Page, web: WebApp) -> AsyncIterator[None]:
    """Each test starts in French, and leaves the (shared) browser in French."""
    cookie: Any = {"name": LANGUAGE_COOKIE, "value": "fr", "url": web.url}
    await page.context.add_cookies([cookie])
    yield
    await page.context.add_cookies([cookie])


def days_ago(days: int, now: datetime | None = None) -> str:
    """A datetime-local value, `days` (>= 1) days ago at 08:00 Paris time: always in the past,
    whatever the hour the test runs (today at 08:00 is in the future before 08:00)."""
    assert days >= 1, "today at 08:00 is in the future before 08:00: use days >= 1"
    moment = (now or datetime.now(PARIS)).astimezone(PARIS) - timedelta(days=days)
    return moment.replace(hour=8, minute=0).strftime("%Y-%m-%dT%H:%M")


def last_first_of_june(now: datetime | None = None) -> datetime:
    """1 June of last year, 08:00 Paris time: in the past whatever the day."""
    year = (now or datetime.now(PARIS)).astimezone(PARIS).year - 1
    return datetime(year, 6, 1, 8, 0, tzinfo=PARIS)


@pytest.mark.parametrize("now", [
    "2026-01-15T00:00:00+01:00", "2026-01-15T07:59:00+01:00", "2026-01-15T23:59:00+01:00",
    "2026-03-01T00:30:00+01:00",  # month end: yesterday is 28 February
    "2026-03-29T03:30:00+02:00",  # the night clocks go forward
    "2026-10-25T02:30:00+01:00",  # the night clocks go back
    "2028-03-01T06:00:00+01:00",  # after 29 February
    "2026-12-31T23:30:00Z",  # already 1 January in Paris
])
def test_the_entered_dates_are_in_the_past_at_any_hour(now: str) -> None:
    """No date this test types may be in the future, whatever the hour (issue 9, item 14)."""
    instant = datetime.fromisoformat(now)
    for days in (1, 2, 10, 20):
        typed = datetime.strptime(days_ago(days, instant), "%Y-%m-%dT%H:%M").replace(
            tzinfo=PARIS)
        assert typed < instant, (days, typed)
        assert (instant - typed) > timedelta(hours=days * 24 - 24)
    assert last_first_of_june(instant) < instant - timedelta(days=180)


def section(page: Page, key: str) -> Locator:
    return page.locator(f"#profil-{key}")


async def open_profile(page: Page, web: WebApp) -> None:
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mon profil médical").click()
    await expect(page).to_have_url(web.at("/profil"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", name="Mon profil médical", level=1)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("button", name="Ajouter une allergie")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)
    await away(page)


async def away(page: Page) -> None:
    """The mouse off the page's controls: the checks see them as they are, not hovered."""
    await page.mouse.move(1, (page.viewport_size or {"height": 800})["height"] - 1)


async def check(page: Page, name: str) -> None:
    """axe and the sideways-scroll check of this state, at 390 and 1280 px."""
    await away(page)
    await check_at_widths(page, name)


async def signed_in_on_profile(page: Page, web: WebApp, mailbox: Mailbox) -> None:
    # The login page first, with time for its first compilation (when this test runs first).
    await page.goto(web.url + "/connexion", timeout=FIRST_LOAD_TIMEOUT)
    await sign_in(page, web, mailbox, await new_patient())
    await open_profile(page, web)


async def to_english(page: Page) -> None:
    """The header's switch: the page reloads in English."""
    async with page.expect_event("load", timeout=FIRST_LOAD_TIMEOUT):
        await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="My medical profile", level=1)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("button", name="Add an allergy")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)
    await away(page)


async def open_form(part: Locator, add_label: str, form_name: str) -> Locator:
    await part.get_by_role("button", name=add_label).click()
    form = part.get_by_role("form", name=form_name)
    await expect(form).to_be_visible()
    return form


async def save(part: Locator, form: Locator, status: str, button: str = "Enregistrer") -> None:
    await form.get_by_role("button", name=button).click()
    await expect(part.get_by_role("status")).to_have_text(status)
    await expect(form).to_have_count(0)


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", [])
            if entry.get("resource", {}).get("resourceType") == resource_type]


async def focused_id(page: Page) -> str:
    return str(await page.evaluate("() => document.activeElement?.id || ''"))


async def tab_to(page: Page, element_id: str, *, backwards: bool = False,
                 limit: int = 80) -> None:
    """Press Tab (Shift+Tab) until the element `element_id` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if await focused_id(page) == element_id:
            return
    raise AssertionError(f"#{element_id} never got the focus with Tab")


# --- every kind of entry ------------------------------------------------------------------


async def test_every_kind_of_entry_through_its_form(
    app: object, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    # Without a session, the page sends the tab to the login page.
    await page.goto(web.url + "/profil", timeout=FIRST_LOAD_TIMEOUT)
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("status")).to_have_text(
        "Connectez-vous pour accéder à cette page.")
    # Signed in from there, the tab is back on the page it asked for.
    await sign_in(page, web, mailbox, await new_patient(), home="/profil")
    await expect(page.get_by_role("button", name="Ajouter une allergie")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)
    await away(page)
    for title in ("Allergies et intolérances", "Vaccinations", "Antécédents personnels",
                  "Antécédents familiaux", "Traitements", "Mesures", "Personnes à prévenir",
                  "Directives anticipées", "Don d'organes"):
        await expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()
    await expect(section(page, "allergy")).to_contain_text(
        "Aucune allergie ni intolérance enregistrée.")
    await check(page, "profile-fr-empty")

    # An allergy: what it says is shown as typed, never as HTML.
    substance = f"Pénicilline <b>G</b> {secrets.token_hex(2)}"
    allergies = section(page, "allergy")
    form = await open_form(allergies, "Ajouter une allergie", "Nouvelle allergie ou intolérance")
    await expect(form.get_by_label("Substance")).to_be_focused()
    await check(page, "profile-fr-allergy-form")
    await form.get_by_label("Substance").fill(substance)
    await form.get_by_label("Sévérité de la réaction").select_option("SEVERE")
    await form.get_by_label("Réaction", exact=True).fill("Urticaire")
    await save(allergies, form, "L'allergie a été ajoutée.")
    entry = allergies.locator(".profile-entry")
    await expect(entry).to_have_count(1)
    await expect(entry.locator(".entry-title")).to_have_text(substance)
    await expect(entry.locator("b")).to_have_count(0)
    await expect(entry.locator(".entry-badge")).to_have_text("Allergie")
    await expect(entry.locator(".entry-details")).to_have_text(
        "Réaction : Urticaire · Sévérité : sévère")
    await expect(entry.locator(".entry-meta")).to_contain_text("Ajouté par vous le ")

    # ... edited: the form opens with its values.
    await entry.get_by_role("button", name=f"Modifier « {substance} »").click()
    form = allergies.get_by_role("form", name="Modifier l'allergie ou l'intolérance")
    await expect(form.get_by_label("Substance")).to_have_value(substance)
    await expect(form.get_by_label("Sévérité de la réaction")).to_have_value("SEVERE")
    await form.get_by_label("Réaction", exact=True).fill("Œdème de Quincke")
    await save(allergies, form, "L'allergie a été modifiée.")
    await expect(entry.locator(".entry-details")).to_have_text(
        "Réaction : Œdème de Quincke · Sévérité : sévère")
    await expect(entry.get_by_role("button", name=f"Modifier « {substance} »")).to_be_focused()

    # A vaccination.
    vaccine = f"DTP (diphtérie, tétanos, poliomyélite) {secrets.token_hex(2)}"
    vaccinations = section(page, "vaccination")
    form = await open_form(vaccinations, "Ajouter une vaccination", "Nouvelle vaccination")
    await form.locator("#profil-vaccination-vaccine").fill(vaccine)
    await form.get_by_label("Date de vaccination").fill("2025-10-15")
    await form.get_by_label("Numéro de dose").fill("3")
    await save(vaccinations, form, "La vaccination a été ajoutée.")
    await expect(vaccinations.locator(".profile-entry .entry-title")).to_have_text(vaccine)
    await expect(vaccinations.locator(".entry-details")).to_have_text(
        "Le 15 octobre 2025 · Dose n° 3")

    # Personal and family history, a treatment.
    history = section(page, "medical-history")
    form = await open_form(history, "Ajouter un antécédent", "Nouvel antécédent")
    await form.get_by_label("Maladie ou opération").fill("Appendicectomie")
    await form.get_by_label("Nature").select_option("SURGICAL")
    await form.get_by_label("Début").fill("2010-06-01")
    await save(history, form, "L'antécédent a été ajouté.")
    await expect(history.locator(".entry-badge")).to_have_text("Chirurgical")
    await expect(history.locator(".entry-details")).to_have_text(
        "Depuis le 1er juin 2010 · En cours")

    family = section(page, "family-history")
    form = await open_form(family, "Ajouter un antécédent familial", "Nouvel antécédent familial")
    await expect(form.get_by_label("Lien de parenté")).to_be_focused()
    await form.get_by_label("Lien de parenté").select_option("MOTHER")
    await form.get_by_role("textbox", name="Maladie", exact=True).fill("Diabète de type 2")
    await form.get_by_label("Âge au début de la maladie").fill("52")
    await save(family, form, "L'antécédent familial a été ajouté.")
    await expect(family.locator(".entry-details")).to_have_text("Mère · Âge au début : 52 ans")

    treatments = section(page, "treatment")
    form = await open_form(treatments, "Ajouter un traitement", "Nouveau traitement")
    await form.get_by_label("Médicament").fill("Lévothyrox 50 µg")
    await form.get_by_label("Dose", exact=True).fill("1 comprimé")
    await form.get_by_label("Début").fill("2024-01-15")
    await save(treatments, form, "Le traitement a été ajouté.")
    await expect(treatments.locator(".entry-badge")).to_have_text("En cours")
    await expect(treatments.locator(".entry-details")).to_have_text(
        "Dose : 1 comprimé · Depuis le 15 janvier 2024")

    # A client-side check (in the tab's language), then an emergency contact.
    contacts = section(page, "emergency-contact")
    form = await open_form(contacts, "Ajouter une personne à prévenir",
                           "Nouvelle personne à prévenir")
    await form.get_by_role("textbox", name="Nom", exact=True).fill("Marie Dupont")
    await form.get_by_role("button", name="Enregistrer").click()
    await expect(form.get_by_role("alert")).to_have_text("Indiquez un téléphone ou un courriel.")
    await expect(form.get_by_label("Téléphone")).to_be_focused()
    await expect(form.get_by_label("Téléphone")).to_have_attribute("aria-invalid", "true")
    await check(page, "profile-fr-form-error")
    await form.get_by_label("Téléphone").fill("06 12 34 56 78")
    await save(contacts, form, "La personne à prévenir a été ajoutée.")
    await expect(contacts.locator(".entry-details")).to_have_text("Téléphone : 06 12 34 56 78")

    # Advance directives (a text; no document yet) and organ donation (one of each at most).
    directives = section(page, "advance-directive")
    form = await open_form(directives, "Rédiger mes directives anticipées",
                           "Mes directives anticipées")
    await expect(form.get_by_label("Document de mon dossier")).to_have_value("")
    await form.get_by_label("Mes directives", exact=True).fill(
        "Pas d'acharnement thérapeutique.\nAppeler ma sœur.")
    await save(directives, form, "Vos directives anticipées ont été enregistrées.")
    await expect(directives.locator(".entry-text")).to_have_text(
        "Pas d'acharnement thérapeutique.\nAppeler ma sœur.")
    await expect(directives.get_by_role("button", name="Rédiger mes directives anticipées")
                 ).to_have_count(0)

    organs = section(page, "organ-donation")
    form = await open_form(organs, "Indiquer ma position", "Ma position sur le don d'organes")
    await form.get_by_label("Ma position").select_option("CONSENTS")
    await save(organs, form, "Votre position sur le don d'organes a été enregistrée.")
    await expect(organs.locator(".entry-title")).to_have_text(
        "J'accepte de donner mes organes et tissus")
    await check(page, "profile-fr-every-kind")

    # The same entries in English, the page's own texts and the data's.
    await to_english(page)
    for title in ("Allergies and intolerances", "Vaccinations", "Medical history",
                  "Family history", "Treatments", "Measurements", "Emergency contacts",
                  "Advance directives", "Organ donation"):
        await expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()
    await expect(allergies.locator(".entry-details")).to_have_text(
        "Reaction: Œdème de Quincke · Severity: severe")
    await expect(allergies.locator(".entry-meta")).to_contain_text("Added by you on ")
    await expect(vaccinations.locator(".entry-details")).to_have_text(
        "On 15 October 2025 · Dose 3")
    await expect(history.locator(".entry-details")).to_have_text("Since 1 June 2010 · Ongoing")
    await expect(family.locator(".entry-details")).to_have_text(
        "Mother · Age at onset: 52 years")
    await expect(treatments.locator(".entry-badge")).to_have_text("Ongoing")
    await expect(organs.locator(".entry-title")).to_have_text(
        "I agree to donate my organs and tissues")
    await check(page, "profile-en-every-kind")
    form = await open_form(treatments, "Add a treatment", "New treatment")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_have_text("Medicine: this field is required.")
    await check(page, "profile-en-form-error")
    await form.get_by_role("button", name="Cancel").click()
    await expect(treatments.get_by_role("button", name="Add a treatment")).to_be_focused()


# --- measurements and charts --------------------------------------------------------------


async def add_measurement(page: Page, kind: str, values: dict[str, str], when: str) -> Locator:
    part = section(page, "measurement")
    form = await open_form(part, "Ajouter une mesure", "Nouvelle mesure")
    await form.get_by_label("Type de mesure").select_option(kind)
    for label, value in values.items():
        await form.get_by_label(label).fill(value)
    await form.get_by_label("Date et heure de la mesure").fill(when)
    return form


def axis_tick(chart: Locator, axis: str, text: str) -> Locator:
    """The tick of the chart's x or y axis that reads `text`."""
    return chart.locator(f".recharts-{axis}Axis-tick-labels .recharts-cartesian-axis-tick-value"
                         ).filter(
        has_text=re.compile(f"^{re.escape(text)}$"))


async def test_the_measurement_form_follows_the_kind_and_charts_speak_each_language(
    app: object, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    await signed_in_on_profile(page, web, mailbox)
    measurements = section(page, "measurement")
    await expect(measurements).to_contain_text("Ajoutez des mesures pour voir leur évolution")

    # The form asks what the chosen kind measures, in its unit.
    form = await open_form(measurements, "Ajouter une mesure", "Nouvelle mesure")
    kind = form.get_by_label("Type de mesure")
    await expect(kind).to_have_value("WEIGHT")
    await expect(form.get_by_label("Poids (kg)")).to_be_visible()
    await expect(form.get_by_label("Pression diastolique (mmHg)")).to_have_count(0)
    await kind.select_option("BLOOD_PRESSURE")
    await expect(form.get_by_label("Pression systolique (mmHg)")).to_be_visible()
    await expect(form.get_by_label("Pression diastolique (mmHg)")).to_be_visible()
    await expect(form.get_by_label("Poids (kg)")).to_have_count(0)
    await check(page, "profile-fr-blood-pressure-form")
    await kind.select_option("HEART_RATE")
    await expect(form.get_by_label("Fréquence cardiaque (battements/min)")).to_be_visible()
    await expect(form.get_by_label("Pression diastolique (mmHg)")).to_have_count(0)
    await kind.select_option("TEMPERATURE")
    await expect(form.get_by_label("Température (°C)")).to_be_visible()
    await form.get_by_role("button", name="Annuler").click()

    # A blood pressure: both pressures.
    form = await add_measurement(page, "BLOOD_PRESSURE", {"Pression systolique (mmHg)": "128",
                                                          "Pression diastolique (mmHg)": "82"},
                                 days_ago(3))
    await save(measurements, form, "La mesure a été ajoutée.")
    await expect(measurements.locator(".profile-entry .entry-title")).to_have_text(
        "Tension artérielle : 128/82 mmHg")

    # Three weights (French decimal comma or dot), the oldest a 1st of June.
    june = last_first_of_june()
    for value, when in (("72,5", june.strftime("%Y-%m-%dT%H:%M")), ("71.8", days_ago(10)),
                        ("70,9", days_ago(1))):
        form = await add_measurement(page, "WEIGHT", {"Poids (kg)": value}, when)
        await save(measurements, form, "La mesure a été ajoutée.")
    await expect(measurements.locator(".profile-entry")).to_have_count(4)
    await expect(measurements.locator(".profile-entry .entry-title").first).to_have_text(
        "Poids : 70,9 kg")  # most recent first
    chart = page.get_by_role("figure", name="Poids (kg)")
    await expect(chart).to_be_visible()
    await expect(chart.locator("svg.recharts-surface").first).to_be_visible()
    curve = chart.locator("path.recharts-line-curve")
    await expect(curve).to_have_count(1)
    assert re.match(r"^M[\d.]+,[\d.]+", await curve.get_attribute("d") or "")
    await expect(chart.locator(".recharts-line-dots circle")).to_have_count(3)
    await expect(axis_tick(chart, "x", "1er juin")).to_have_count(1)
    await expect(axis_tick(chart, "y", "72,5")).to_have_count(1)
    await expect(chart.locator(".chart-summary")).to_contain_text(
        "3 mesures ; dernière : 70,9 kg le ")
    await expect(page.get_by_role("figure", name="Tension artérielle (mmHg)")).to_contain_text(
        "1 mesure ; dernière : 128/82 mmHg le ")
    await expect(page.locator("#chart-bmi")).to_have_count(0)  # no height, no BMI

    # The tooltip of the last point, then the values as a table.
    await chart.locator(".recharts-line-dots circle").last.hover(force=True)
    await expect(chart.locator(".recharts-tooltip-wrapper")).to_contain_text("70,9 kg")
    await away(page)
    await chart.get_by_text("Voir les valeurs").click()
    table = chart.get_by_role("table", name="Poids (kg)")
    await expect(table).to_be_visible()
    await expect(table.get_by_role("row").nth(1)).to_contain_text(
        f"1er juin {june.year} à 08:00")
    await expect(table.get_by_role("row").nth(1)).to_contain_text("72,5 kg")
    await check(page, "profile-fr-charts")

    # 900 kg: the API's typed error, next to its field (which keeps what was typed).
    form = await add_measurement(page, "WEIGHT", {"Poids (kg)": "900"}, days_ago(2))
    await form.get_by_role("button", name="Enregistrer").click()
    value = form.get_by_label("Poids (kg)")
    await expect(form.get_by_role("alert")).to_have_text(
        "Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).")
    await expect(value).to_have_attribute("aria-invalid", "true")
    await expect(value).to_have_value("900")
    await expect(value).to_be_focused()
    await check(page, "profile-fr-out-of-range")
    await form.get_by_role("button", name="Annuler").click()
    await expect(form).to_have_count(0)

    # In English: the same chart, written the English way.
    await to_english(page)
    chart = page.get_by_role("figure", name="Weight (kg)")
    await expect(chart.locator(".chart-summary")).to_contain_text(
        "3 measurements; latest: 70.9 kg on ")
    await expect(axis_tick(chart, "x", "1 June")).to_have_count(1)
    await expect(axis_tick(chart, "y", "72.5")).to_have_count(1)
    await expect(axis_tick(chart, "y", "72,5")).to_have_count(0)
    await chart.get_by_text("Show the values").click()
    table = chart.get_by_role("table", name="Weight (kg)")
    await expect(table.get_by_role("row").nth(1)).to_contain_text(f"1 June {june.year} at 08:00")
    await expect(table.get_by_role("row").nth(1)).to_contain_text("72.5 kg")
    await chart.locator(".recharts-line-dots circle").last.hover(force=True)
    await expect(chart.locator(".recharts-tooltip-wrapper")).to_contain_text("70.9 kg")
    await away(page)
    await expect(section(page, "measurement").locator(".profile-entry .entry-title").first
                 ).to_have_text("Weight: 70.9 kg")
    await check(page, "profile-en-charts")

    measurements = section(page, "measurement")
    form = await open_form(measurements, "Add a measurement", "New measurement")
    await form.get_by_label("Type of measurement").select_option("BLOOD_PRESSURE")
    await expect(form.get_by_label("Systolic pressure (mmHg)")).to_be_visible()
    await expect(form.get_by_label("Diastolic pressure (mmHg)")).to_be_visible()
    await form.get_by_label("Systolic pressure (mmHg)").fill("400")
    await form.get_by_label("Diastolic pressure (mmHg)").fill("80")
    await form.get_by_label("Date and time of the measurement").fill(days_ago(2))
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_have_text(
        "Systolic blood pressure outside physiological limits: 400 mmHg (accepted values: 40 "
        "to 300 mmHg).")
    await check(page, "profile-en-blood-pressure-error")


# --- the keyboard, the delete dialog ------------------------------------------------------


async def test_an_allergy_added_and_deleted_with_the_keyboard_only(
    app: object, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    await signed_in_on_profile(page, web, mailbox)

    # Tab to "Ajouter une allergie", Enter: the form opens on its first field.
    await tab_to(page, "profil-allergy-add")
    await page.keyboard.press("Enter")
    substance = page.locator("#profil-allergy-substance")
    await expect(substance).to_be_focused()
    await page.keyboard.type("Arachide")
    await page.keyboard.press("Tab")
    kind = page.locator("#profil-allergy-kind")
    await expect(kind).to_be_focused()
    await page.keyboard.press("ArrowDown")  # Allergie -> Intolérance
    await expect(kind).to_have_value("INTOLERANCE")
    await page.keyboard.press("Tab")
    await page.keyboard.press("ArrowDown")  # Non précisé -> Alimentaire
    await expect(page.locator("#profil-allergy-category")).to_have_value("FOOD")
    await page.keyboard.press("Tab")
    for _ in range(3):  # Non précisé -> Légère -> Modérée -> Sévère
        await page.keyboard.press("ArrowDown")
    await expect(page.locator("#profil-allergy-severity")).to_have_value("SEVERE")
    await page.keyboard.press("Tab")
    await expect(page.locator("#profil-allergy-reaction")).to_be_focused()
    await page.keyboard.type("Urticaire")
    await tab_to(page, "profil-allergy-submit")
    await page.keyboard.press("Space")
    allergies = section(page, "allergy")
    await expect(allergies.get_by_role("status")).to_have_text("L'allergie a été ajoutée.")
    entry = allergies.locator(".profile-entry")
    await expect(entry.locator(".entry-title")).to_have_text("Arachide")
    await expect(entry.locator(".entry-badge")).to_have_text("Intolérance")
    await expect(entry.locator(".entry-details")).to_have_text(
        "Catégorie : Alimentaire · Réaction : Urticaire · Sévérité : sévère")
    await expect(page.locator("#profil-allergy-add")).to_be_focused()  # back where it started

    # The delete dialog takes the focus (on "Annuler"), keeps it, and gives it back.
    entry_id = (await entry.get_attribute("id") or "").removeprefix("entry-")
    delete = page.locator(f"#delete-{entry_id}")
    await tab_to(page, f"delete-{entry_id}", backwards=True)
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("alertdialog", name="Supprimer cette allergie ?")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("« Arachide » sera retiré de votre profil.")
    cancel = dialog.get_by_role("button", name="Annuler")
    confirm = dialog.get_by_role("button", name="Supprimer")
    await expect(cancel).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(confirm).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(cancel).to_be_focused()  # the focus stays in the dialog
    await check(page, "profile-fr-delete-dialog")
    await page.keyboard.press("Enter")  # "Annuler"
    await expect(dialog).to_have_count(0)
    await expect(delete).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(cancel).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(delete).to_be_focused()

    await page.keyboard.press("Enter")
    await expect(cancel).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # "Supprimer"
    await expect(allergies.get_by_role("status")).to_have_text("L'allergie a été supprimée.")
    await expect(entry).to_have_count(0)
    await expect(page.locator("#profil-allergy-add")).to_be_focused()

    # In English, the dialog too.
    await to_english(page)
    form = await open_form(allergies, "Add an allergy", "New allergy or intolerance")
    await form.get_by_label("Substance").fill("Pollen")
    await save(allergies, form, "The allergy has been added.", button="Save")
    await allergies.get_by_role("button", name="Delete “Pollen”").click()
    dialog = page.get_by_role("alertdialog", name="Delete this allergy?")
    await expect(dialog).to_contain_text("“Pollen” will be removed from your profile. This "
                                         "cannot be undone.")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await check(page, "profile-en-delete-dialog")
    await page.keyboard.press("Escape")
    await expect(allergies.get_by_role("button", name="Delete “Pollen”")).to_be_focused()


# --- messages, export -----------------------------------------------------------------------


async def test_messages_do_not_outlive_the_page_and_the_fhir_export(
    app: object, api_server: str, web: WebApp, page: Page, mailbox: Mailbox, tmp_path: Path,
) -> None:
    await signed_in_on_profile(page, web, mailbox)
    allergies = section(page, "allergy")
    form = await open_form(allergies, "Ajouter une allergie", "Nouvelle allergie ou intolérance")
    await form.get_by_label("Substance").fill("Arachide")
    await save(allergies, form, "L'allergie a été ajoutée.")
    form = await add_measurement(page, "WEIGHT", {"Poids (kg)": "72,5"}, days_ago(2))
    await save(section(page, "measurement"), form, "La mesure a été ajoutée.")

    # Away and back: the page says nothing of before.
    nav = page.get_by_role("navigation", name="Navigation principale")
    await nav.get_by_role("link", name="Mes documents").click()
    await expect(page).to_have_url(web.at("/documents"))
    await open_profile(page, web)
    await expect(allergies.locator(".profile-entry")).to_have_count(1)
    await expect(page.get_by_role("status")).to_have_count(0)

    # ... nor after a reload.
    form = await open_form(allergies, "Ajouter une allergie", "Nouvelle allergie ou intolérance")
    await form.get_by_label("Substance").fill("Pollen de bouleau")
    await save(allergies, form, "L'allergie a été ajoutée.")
    await page.reload()
    await expect(page.get_by_role("button", name="Ajouter une allergie")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(allergies.locator(".profile-entry")).to_have_count(2)
    await expect(page.get_by_role("status")).to_have_count(0)

    # The export: the whole record as a FHIR Bundle, downloaded as a JSON file.
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Exporter mon dossier (FHIR)").click()
    download = await download_info.value
    assert download.suggested_filename == "carnet-dossier-fhir.json"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    bundle = json.loads(saved.read_text(encoding="utf-8"))
    await expect(page.locator("#profile-info")).to_contain_text("Votre dossier a été exporté")
    assert bundle["resourceType"] == "Bundle"
    assert sorted(r["code"]["text"] for r in resources(bundle, "AllergyIntolerance")) == [
        "Arachide", "Pollen de bouleau"]
    weights = [r["valueQuantity"]["value"] for r in resources(bundle, "Observation")
               if any(c.get("code") == WEIGHT_LOINC for c in r["code"].get("coding", []))]
    assert weights == [72.5]

    await page.reload()  # the export's message is gone too
    await expect(page.get_by_role("button", name="Exporter mon dossier (FHIR)")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#profile-info")).to_have_count(0)
