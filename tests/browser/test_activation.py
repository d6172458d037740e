"""Activer ou refuser mon espace (/activation) in a real browser, against a real API: a person
notified by an opt-out campaign activates their space early with their NIR, birth date and
provisional code, choosing a password, then signs in with it (password, then the emailed code);
another refuses. A wrong code gets the page's one answer for every miss. Every state is checked
with axe at 390 and 1280 px."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from backend.onboarding import codes, importer
from backend.onboarding.models import NotifiedPerson, NotifiedStatus
from tests.browser.a11y import check_at_widths
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, sign_in
from tests.factories import make_nir

pytestmark = pytest.mark.browser
PASSWORD = "Une phrase de passe solide 2026"
HEADER = ["nir", "nom_naissance", "prenoms", "sexe", "date_naissance", "lieu_naissance",
          "adresse", "code_postal", "commune", "email", "telephone"]


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


async def notified(settings, tmp_path: Path, count: int) -> list[dict]:
    """`count` persons notified by a campaign, each with the code their notice gave them."""
    nirs = [make_nir() for _ in range(count)]
    path = tmp_path / "campagne.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for nir in nirs:
            writer.writerow([nir, "DUPONT", "Jean", "M", "1985-03-02", "75056",
                             "1 rue de la Paix", "75002", "Paris", "", ""])
    await importer.import_file(settings, path, now=datetime.now(UTC), report=lambda *e: None)
    people = []
    for row, nir in zip(await NotifiedPerson.all().order_by("id"), nirs, strict=True):
        code = codes.draw_code()
        await NotifiedPerson.filter(id=row.id).update(
            code_hash=codes.hash_for_storage(settings, row.id, code))
        people.append({"nir": nir, "code": code, "id": row.id})
    return people


async def fill_notice(page: Page, person: dict, code: str | None = None) -> None:
    await page.locator("#activation-nir").fill(person["nir"])
    await page.locator("#activation-birth-date").fill("1985-03-02")
    await page.locator("#activation-code").fill(code or person["code"])


async def test_activate_early_with_the_code_then_sign_in_and_refuse(
    app, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    page.set_default_navigation_timeout(FIRST_LOAD_TIMEOUT)
    first, second = await notified(app.state.runtime.settings, tmp_path, 2)
    await page.goto(web.url + "/activation")
    await expect(page.locator("#activation-submit")).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
    await check_at_widths(page, "activation")
    # A wrong code: the one answer for every miss.
    await fill_notice(page, first, code="AAAA-BBBB-CCCC")
    await page.locator("#activation-email").fill("jean.active@example.fr")
    await page.locator("#activation-password").fill(PASSWORD)
    await page.locator("#activation-confirm").fill(PASSWORD)
    await page.locator("#activation-submit").click()
    await expect(page.locator("#activation-error")).to_contain_text(
        "ne correspondent à aucun avis en cours")
    await check_at_widths(page, "activation-miss")
    # The right code: activated.
    await fill_notice(page, first)
    await page.locator("#activation-password").fill(PASSWORD)
    await page.locator("#activation-confirm").fill(PASSWORD)
    await page.locator("#activation-submit").click()
    await expect(page.locator("#activation-done")).to_be_focused(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#activation-identifier-shown")).to_contain_text(
        "jean.active@example.fr")
    await check_at_widths(page, "activation-done")
    assert (await NotifiedPerson.get(id=first["id"])).status is NotifiedStatus.ACTIVATED
    # The normal login applies: password, then the emailed code.
    await sign_in(page, web, mailbox, "jean.active@example.fr", password=PASSWORD)

    # Someone else refuses, with the keyboard-reachable choice.
    await page.context.clear_cookies()
    await page.goto(web.url + "/activation?choix=refuser")
    await expect(page.locator("#activation-refuse")).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
    await fill_notice(page, second)
    await page.locator("#activation-refuse").click()
    await expect(page.locator("#activation-done")).to_contain_text("Votre refus est enregistré")
    await check_at_widths(page, "activation-refused")
    assert (await NotifiedPerson.get(id=second["id"])).status is NotifiedStatus.REFUSED
