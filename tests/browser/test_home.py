"""The home page in a real browser, against a real API and the real Reflex app: signed out
(what Carnet is, how to sign in, announcements) and signed in (the patient's real data from
one request), in French and English."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from backend.announcements import services
from backend.profile.models import MeasurementKind
from tests.access_helpers import make_professional, seed_matrix, store
from tests.browser.reflex_app import WebApp
from tests.browser.signin import Mailbox, sign_in
from tests.factories import create_patient
from tests.servers import carnet_server
from tests.test_home_query import measure

pytestmark = pytest.mark.browser

NAV_LABELS = ["Accueil", "Mes documents", "Mon profil médical", "Messagerie", "Agenda"]
SIGNED_IN_ONLY = ["Mes documents", "Mon profil médical", "Messagerie"]
UNAVAILABLE = "Le service est momentanément indisponible"
# The first page load compiles the page's modules in Vite dev mode: give it time.
FIRST_TEXT_TIMEOUT = 90_000


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


async def publish(app: object, title: str, body: str) -> None:
    await services.publish(app.state.runtime.broker, title=title, body=body)  # type: ignore[attr-defined]


async def test_signed_out_home_says_what_carnet_is_and_how_to_sign_in(
    app: object, api_server: str, web: WebApp, page: Page
) -> None:
    title = f"Annonce de test {secrets.token_hex(4)}"
    body = "Texte brut, <b>pas du HTML</b> & rien d'autre."
    await publish(app, title, body)

    await page.goto(web.url + "/")
    announcement = page.get_by_role("heading", name=title, exact=True)
    await expect(announcement).to_be_visible(timeout=FIRST_TEXT_TIMEOUT)
    await expect(page.get_by_text(body, exact=True)).to_be_visible()  # shown as text
    assert await page.locator("main b").count() == 0  # ...never interpreted as HTML
    await expect(page.get_by_role("heading", level=1)).to_have_text("Carnet, votre espace santé")
    await expect(page.get_by_role("main").get_by_role("link", name="Se connecter")).to_be_visible()
    await expect(page.get_by_text("environnement")).to_have_count(0)  # no version line
    await expect(page.get_by_text("Version")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Navigation principale")
    for label in NAV_LABELS:
        await expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(nav.get_by_role("link", name="Accueil")).to_have_attribute("aria-current", "page")
    assert await page.title() == "Accueil · Carnet"

    # The pages of my own data need a session: signed out, the tab goes to the login page.
    for label in SIGNED_IN_ONLY:
        await nav.get_by_role("link", name=label, exact=True).click()
        await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_TEXT_TIMEOUT)
        await expect(page.get_by_role("status").first).to_have_text(
            "Connectez-vous pour accéder à cette page.")
        await page.goto(web.url + "/")

    # In English.
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Carnet, your health space")
    await expect(page.get_by_role("heading", name="News")).to_be_visible()
    await page.wait_for_function("document.title === 'Home · Carnet'")
    await page.get_by_role("button", name="Français").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Carnet, votre espace santé")


async def test_signed_in_home_shows_my_real_data(
    app: object, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    rt = app.state.runtime  # type: ignore[attr-defined]
    await seed_matrix()
    address = f"patient-{secrets.token_hex(4)}@example.fr"
    account = await create_patient(email=address)  # Jean Dupont
    doctor = await make_professional("Médecin", "Médecine générale",
                                     email=f"dr-{secrets.token_hex(3)}@example.fr")
    await store(rt, account.person_id, title="Compte rendu de consultation", author=doctor)
    await store(rt, account.person_id, title="Ma radio", author=None)
    now = datetime.now(UTC)
    await measure(rt, account.person_id, MeasurementKind.WEIGHT, "72.1", now - timedelta(days=30))
    await measure(rt, account.person_id, MeasurementKind.WEIGHT, "72.5", now - timedelta(days=1))

    await sign_in(page, web, mailbox, address)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Jean",
                                                                     timeout=FIRST_TEXT_TIMEOUT)
    documents = page.get_by_role("region", name="Mes documents")
    await expect(documents.locator("#home-new-documents")).to_have_text("1 nouveau document")
    await expect(documents.get_by_text("Compte rendu de consultation",
                                              exact=True)).to_be_visible()
    await expect(documents.get_by_text("Nouveau", exact=True)).to_have_count(1)
    await expect(page.locator("#home-unread")).to_have_text("Aucun message non lu.")
    measurements = page.get_by_role("region", name="Mes dernières mesures")
    await expect(measurements.locator(".home-trend-value")).to_have_text("72,5 kg")
    await expect(measurements.get_by_text("+0,4 kg depuis la mesure précédente",
                                          exact=False)).to_be_visible()
    await expect(measurements.get_by_role("img")).to_have_attribute(
        "aria-label", "Poids : 72,1 kg, 72,5 kg")
    await expect(page.get_by_role("region", name="Mes prochains rendez-vous")).to_be_visible()

    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hello Jean")
    await expect(page.locator("#home-new-documents")).to_have_text("1 new document")
    await expect(page.locator(".home-trend-value")).to_have_text("72.5 kg")
    await expect(page.locator("#home-unread")).to_have_text("No unread messages.")
    await page.get_by_role("button", name="Français").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Jean")


async def test_home_says_when_the_api_is_down_then_recovers(
    app: object, server_env: dict[str, str], api_port: int, web: WebApp, page: Page
) -> None:
    await page.goto(web.url + "/")  # nothing listens on the API port yet
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text(UNAVAILABLE, timeout=FIRST_TEXT_TIMEOUT)

    title = f"Retour du service {secrets.token_hex(4)}"
    await publish(app, title, "Tout fonctionne à nouveau.")
    with carnet_server(server_env, port=api_port):
        await page.get_by_role("button", name="Réessayer").click()
        await expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        await expect(alert).to_have_count(0)
