"""Mon profil médical in a real browser, against a real API: the sign-in redirect, adding an
allergy (plain text, whatever it contains) and editing it, a vaccination, three weights through
the form and their chart (recharts), the French error of a 900 kg weight (the API's typed
error), a client-side check and a deletion with confirmation; then "Exporter mon dossier
(FHIR)": the Bundle downloaded through the Reflex backend holds what was entered.

Signed in with the code the API emails to a real SMTP server (`mailbox`).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, sign_in

pytestmark = pytest.mark.browser

WEIGHT_LOINC = "29463-7"
PARIS = ZoneInfo("Europe/Paris")  # the web app reads and shows times in Paris time


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


def days_ago(days: int, now: datetime | None = None) -> str:
    """A datetime-local value, `days` (>= 1) days ago at 08:00 Paris time: always in the past,
    whatever the hour the test runs (today at 08:00 is in the future before 08:00)."""
    assert days >= 1, "today at 08:00 is in the future before 08:00: use days >= 1"
    moment = (now or datetime.now(PARIS)).astimezone(PARIS) - timedelta(days=days)
    return moment.replace(hour=8, minute=0).strftime("%Y-%m-%dT%H:%M")


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


def section(page: Page, key: str) -> Locator:
    return page.locator(f"#profil-{key}")


async def open_profile(page: Page, web: WebApp) -> None:
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mon profil médical").click()
    await expect(page).to_have_url(web.url + "/profil")
    await expect(page.get_by_role("heading", name="Mon profil médical", level=1)).to_be_visible()
    await expect(page.get_by_role("button", name="Ajouter une allergie")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)


async def open_form(part: Locator, add_label: str, form_name: str) -> Locator:
    await part.get_by_role("button", name=add_label).click()
    form = part.get_by_role("form", name=form_name)
    await expect(form).to_be_visible()
    return form


async def save(part: Locator, form: Locator, status: str) -> None:
    await form.get_by_role("button", name="Enregistrer").click()
    await expect(part.get_by_role("status")).to_have_text(status)
    await expect(form).to_have_count(0)


async def add_weight(page: Page, value: str, when: str) -> Locator:
    part = section(page, "measurement")
    form = await open_form(part, "Ajouter une mesure", "Nouvelle mesure")
    await expect(form.get_by_label("Type de mesure")).to_have_value("WEIGHT")
    await form.get_by_label("Valeur", exact=True).fill(value)
    await form.get_by_label("Date et heure de la mesure").fill(when)
    return form


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", [])
            if entry.get("resource", {}).get("resourceType") == resource_type]


async def test_profile_entries_chart_errors_and_fhir_export(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    # Without a session, the page sends the tab to the login page.
    await page.goto(web.url + "/profil")
    await expect(page).to_have_url(web.url + "/connexion", timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("status")).to_have_text(
        "Connectez-vous pour accéder à cette page.")

    address = await new_patient()
    await sign_in(page, web, mailbox, address)
    await open_profile(page, web)
    for title in ("Allergies et intolérances", "Vaccinations", "Antécédents personnels",
                  "Antécédents familiaux", "Traitements", "Mesures", "Personnes à prévenir",
                  "Directives anticipées", "Don d'organes"):
        await expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()
    await expect(section(page, "allergy")).to_contain_text(
        "Aucune allergie ni intolérance enregistrée.")

    # An allergy: what it says is shown as typed, never as HTML.
    substance = f"Pénicilline <b>G</b> {secrets.token_hex(2)}"
    allergies = section(page, "allergy")
    form = await open_form(allergies, "Ajouter une allergie", "Nouvelle allergie ou intolérance")
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

    # A vaccination.
    vaccine = f"DTP (diphtérie, tétanos, poliomyélite) {secrets.token_hex(2)}"
    vaccinations = section(page, "vaccination")
    form = await open_form(vaccinations, "Ajouter une vaccination", "Nouvelle vaccination")
    await form.get_by_label("Vaccin", exact=True).fill(vaccine)
    await form.get_by_label("Date de vaccination").fill("2025-10-15")
    await form.get_by_label("Numéro de dose").fill("3")
    await save(vaccinations, form, "La vaccination a été ajoutée.")
    await expect(vaccinations.locator(".profile-entry .entry-title")).to_have_text(vaccine)
    await expect(vaccinations.locator(".entry-details")).to_have_text(
        "Le 15 octobre 2025 · Dose n° 3")

    # Three weights, through the form (French decimal comma or dot), and their chart.
    measurements = section(page, "measurement")
    await expect(measurements).to_contain_text("Ajoutez des mesures pour voir leur évolution")
    for value, when in (("72,5", days_ago(20)), ("71.8", days_ago(10)), ("70,9", days_ago(1))):
        form = await add_weight(page, value, when)
        await save(measurements, form, "La mesure a été ajoutée.")
    await expect(measurements.locator(".profile-entry")).to_have_count(3)
    await expect(measurements.locator(".profile-entry .entry-title").first).to_have_text(
        "Poids : 70,9 kg")  # most recent first
    chart = page.locator("#chart-weight")
    await expect(chart).to_be_visible()
    await expect(chart.get_by_role("heading")).to_have_text("Poids (kg)")
    await expect(chart.locator("svg.recharts-surface").first).to_be_visible()
    curve = chart.locator("path.recharts-line-curve")
    await expect(curve).to_have_count(1)
    assert re.match(r"^M[\d.]+,[\d.]+", await curve.get_attribute("d") or "")
    await expect(chart.locator(".recharts-line-dots circle")).to_have_count(3)
    await expect(chart.locator(".chart-summary")).to_contain_text(
        "3 mesures ; dernière : 70,9 kg le ")
    await expect(page.locator("#chart-bmi")).to_have_count(0)  # no height, no BMI

    # 900 kg: the API's typed error, in French, next to the form (which keeps what was typed).
    form = await add_weight(page, "900", days_ago(2))
    await form.get_by_role("button", name="Enregistrer").click()
    await expect(form.get_by_role("alert")).to_have_text(
        "Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).")
    await expect(form.get_by_label("Valeur", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_label("Valeur", exact=True)).to_have_value("900")
    await form.get_by_role("button", name="Annuler").click()
    await expect(form).to_have_count(0)
    await expect(measurements.locator(".profile-entry")).to_have_count(3)

    # A client-side check, then a contact added and deleted with confirmation.
    contacts = section(page, "emergency-contact")
    form = await open_form(contacts, "Ajouter une personne à prévenir",
                           "Nouvelle personne à prévenir")
    await form.get_by_label("Nom", exact=True).fill("Marie Dupont")
    await form.get_by_role("button", name="Enregistrer").click()
    await expect(form.get_by_role("alert")).to_have_text("Indiquez un téléphone ou un courriel.")
    await form.get_by_label("Téléphone").fill("06 12 34 56 78")
    await save(contacts, form, "La personne à prévenir a été ajoutée.")
    await contacts.get_by_role("button", name="Supprimer « Marie Dupont »").click()
    dialog = page.get_by_role("alertdialog")
    await expect(dialog).to_contain_text("Supprimer cette personne à prévenir ?")
    await dialog.get_by_role("button", name="Supprimer").click()
    await expect(contacts.get_by_role("status")).to_have_text(
        "La personne à prévenir a été supprimée.")
    await expect(contacts.locator(".profile-entry")).to_have_count(0)

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
    allergy_texts = [r["code"]["text"] for r in resources(bundle, "AllergyIntolerance")]
    assert allergy_texts == [substance]
    vaccines = [r["vaccineCode"]["text"] for r in resources(bundle, "Immunization")]
    assert vaccines == [vaccine]
    weights = sorted(
        r["valueQuantity"]["value"] for r in resources(bundle, "Observation")
        if any(c.get("code") == WEIGHT_LOINC for c in r["code"].get("coding", []))
    )
    assert weights == [70.9, 71.8, 72.5]
