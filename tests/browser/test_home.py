"""The home page in a real browser, against a real API and the real Reflex app."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page, expect

from backend.announcements import services
from tests.browser.reflex_app import WebApp
from tests.servers import carnet_server

pytestmark = pytest.mark.browser

NAV_LABELS = ["Accueil", "Mes documents", "Mon profil médical", "Messagerie", "Agenda"]
SIGNED_IN_ONLY = ["Mes documents", "Mon profil médical", "Messagerie"]
PLACEHOLDERS = ["Agenda"]
UNAVAILABLE = "Le service est momentanément indisponible"
# The first page load compiles the page's modules in Vite dev mode: give it time.
FIRST_TEXT_TIMEOUT = 90_000


async def publish(app: object, title: str, body: str) -> None:
    await services.publish(app.state.runtime.broker, title=title, body=body)  # type: ignore[attr-defined]


async def test_home_shows_the_api_announcements_and_the_navigation(
    app: object, api_server: str, web: WebApp, page: Page
) -> None:
    title = f"Annonce de test {secrets.token_hex(4)}"
    body = "Texte brut, <b>pas du HTML</b> & rien d'autre."
    await publish(app, title, body)

    await page.goto(web.url + "/")
    # First state text: the page has loaded, connected and run its on_load.
    announcement = page.get_by_role("heading", name=title, exact=True)
    await expect(announcement).to_be_visible(timeout=FIRST_TEXT_TIMEOUT)

    await expect(page.get_by_text(body, exact=True)).to_be_visible()  # shown as text
    assert await page.locator("main b").count() == 0  # ...never interpreted as HTML
    await expect(page.get_by_role("heading", name="Bienvenue sur Carnet")).to_be_visible()
    await expect(page.get_by_role("banner").get_by_text("Carnet", exact=True)).to_be_visible()
    nav = page.get_by_role("navigation", name="Navigation principale")
    for label in NAV_LABELS:
        await expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(nav.get_by_role("link", name="Accueil")).to_have_attribute("aria-current", "page")
    await expect(page.get_by_text(UNAVAILABLE)).to_have_count(0)
    assert await page.title() == "Accueil · Carnet"

    # The pages of my own data need a session: signed out, the tab goes to the login page.
    for label in SIGNED_IN_ONLY:
        await nav.get_by_role("link", name=label, exact=True).click()
        await expect(page).to_have_url(web.url + "/connexion")
        await expect(page.get_by_role("status")).to_have_text(
            "Connectez-vous pour accéder à cette page."
        )

    # The other entries are placeholders, clearly labelled as such.
    for label in PLACEHOLDERS:
        await nav.get_by_role("link", name=label, exact=True).click()
        # A page's first visit compiles it (Vite dev mode): slow on a loaded machine.
        await expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible(
            timeout=FIRST_TEXT_TIMEOUT)
        await expect(page.get_by_text("Bientôt disponible", exact=True)).to_be_visible()
        await expect(nav.get_by_role("link", name=label)).to_have_attribute("aria-current", "page")
    await expect(page).to_have_url(web.url + "/agenda")
    await nav.get_by_role("link", name="Accueil").click()
    await expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


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
