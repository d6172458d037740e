"""Carers in a real browser, against a real API (issue 15 part 9).

Alice reaches "Mes aidants" from "Mon compte", is told next to the field what is missing, then
gives Bob read access to her documents (with the keyboard for the choices); Bob signs in, the
header's switcher lists "Jean DUPONT" (create_patient's names): choosing it, then "Ouvrir",
shows the banner and Alice's documents; the navigation links only to "Mes documents" (at 390
px too, through "Menu" with the keyboard); her agenda and her account page, opened by their
address, say plainly they are not part of what he was given;
"Revenir à mon espace" takes him home, banner gone, every link back. Alice then removes him (a
confirmation first): he disappears from her list.

Every state is checked with axe (zero violations) and for sideways scrolling at 390 and 1280 px.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from backend.identity.lookup import account_by_identifier
from tests.browser import a11y
from tests.browser.documents_helpers import back_to_french, use_language
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, sign_in
from tests.test_messaging_live import mint_session
from tests.test_records import PDF, upload

pytestmark = pytest.mark.browser

TITLE = "Compte rendu de Mme Dupont"


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


async def check_at_widths(page: Page, name: str) -> None:
    await page.mouse.move(0, 0)
    await a11y.check_at_widths(page, name)


async def in_english(page: Page, name: str, text: str) -> None:
    """The same state in English (axe and widths again), then back to French."""
    await use_language(page, "en")
    await expect(page.get_by_text(text)).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await check_at_widths(page, name + "-en")
    await page.get_by_role("button", name="Français").click()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")


async def test_grant_switch_and_back_then_revoke(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    redis_url: str,
) -> None:
    try:
        await _grant_switch_and_back_then_revoke(api_server, web, page, mailbox, redis_url)
    finally:
        await back_to_french(page, web)


async def _grant_switch_and_back_then_revoke(
    api_server: str, web: WebApp, page: Page, mailbox: Mailbox, redis_url: str,
) -> None:
    alice_address, bob_address = await new_patient(), await new_patient()
    alice = await account_by_identifier(alice_address)
    assert alice is not None
    async with httpx.AsyncClient(base_url=api_server, timeout=30) as http:
        response = await upload(http, await mint_session(redis_url, alice), PDF, title=TITLE)
        assert response.json()["data"]["uploadDocument"]["__typename"] == "Document", \
            response.text

    # --- Alice gives Bob her documents, read only --------------------------------------------
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, web, mailbox, alice_address)
    await page.goto(web.url + "/mon-compte")
    await page.locator("#account-carers").click()
    await expect(page).to_have_url(web.at("/mes-aidants"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1, name="Mes aidants")).to_be_visible()
    await expect(page.locator("#carers-empty")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#carer-submit")).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
    await check_at_widths(page, "carers-empty")

    await page.locator("#carer-submit").click()  # nothing filled in
    await expect(page.locator("#carer-email-error")).to_have_text(
        "Indiquez l'adresse e-mail de la personne.")
    await expect(page.locator("#carer-parts-error")).to_have_text(
        "Choisissez au moins une partie de votre espace.")
    await expect(page.locator("#carer-email")).to_be_focused()
    await check_at_widths(page, "carers-form-errors")

    await page.get_by_label("Son adresse e-mail").fill(bob_address)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # "Mes documents"
    await expect(page.get_by_label("Mes documents")).to_be_checked()
    await expect(page.get_by_label("Lecture seule")).to_be_checked()
    await page.locator("#carer-submit").click()
    carers = page.locator("#carers > li")
    await expect(carers).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
    await expect(carers).to_contain_text("Parties : Mes documents")
    await expect(carers).to_contain_text("Lecture seule")
    await expect(carers).to_contain_text("Sans date de fin")
    await expect(page.locator("#carers-info")).to_contain_text("peut maintenant vous aider")
    await check_at_widths(page, "carers-one")
    await in_english(page, "carers-one", "What they can see")
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)

    # --- Bob switches to Alice's space, sees her documents, and comes back -------------------
    await sign_in(page, web, mailbox, bob_address)
    switch = page.get_by_label("Espace", exact=True)
    await expect(switch).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#space-banner")).to_have_count(0)
    await switch.select_option(label="Jean DUPONT")
    await expect(page).to_have_url(web.at("/"))  # choosing alone does not leave the page
    await page.locator("#space-open").click()
    await expect(page).to_have_url(web.at("/documents"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#space-banner-text")).to_have_text(
        "Vous êtes dans l'espace de Jean DUPONT, en tant qu'aidant.")
    await expect(page.get_by_text(TITLE)).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    # Only the part given is linked: no home, profile, messages, agenda, care team...
    nav_links = page.locator("#nav-patient a")
    await expect(nav_links).to_have_text(["Mes documents"])
    await check_at_widths(page, "carers-in-space-documents")
    await in_english(page, "carers-in-space-documents",
                     "You are in the space of Jean DUPONT, as their carer.")
    await expect(nav_links).to_have_text(["Mes documents"])

    # At 390 px, through "Menu" with the keyboard: the first Tab lands on the one link.
    await page.set_viewport_size({"width": 390, "height": 844})
    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Navigation principale")
    await menu.focus()
    await page.keyboard.press("Enter")
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await page.keyboard.press("Tab")
    await expect(nav.get_by_role("link", name="Mes documents")).to_be_focused()
    await expect(nav.get_by_role("link")).to_have_count(1)
    await check_at_widths(page, "carers-in-space-menu")
    await page.set_viewport_size({"width": 390, "height": 844})
    await menu.click()  # folded again
    await expect(menu).to_have_attribute("aria-expanded", "false")

    await page.goto(web.url + "/agenda")  # a part not given, by its address: the message
    await expect(page.get_by_text("Cette page ne fait pas partie de ce qui vous a été confié")
                 ).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(nav_links).to_have_text(["Mes documents"])

    await page.goto(web.url + "/mon-compte")  # the account's own page: not given
    await expect(page.get_by_text("Cette page ne fait pas partie de ce qui vous a été confié")
                 ).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#space-banner")).to_be_visible()
    await expect(nav_links).to_have_text(["Mes documents"])
    await check_at_widths(page, "carers-in-space-refused")

    await page.locator("#space-back").click()
    await expect(page).to_have_url(web.at("/"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#space-banner")).to_have_count(0)
    await expect(switch).to_have_value("")
    await expect(nav_links).to_have_count(8)  # his own space: every page again (NAV_ITEMS)
    await page.goto(web.url + "/documents")
    await expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_text(TITLE)).to_have_count(0)  # Bob's own documents: none
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)

    # --- Alice removes Bob -------------------------------------------------------------------
    await sign_in(page, web, mailbox, alice_address)
    await page.goto(web.url + "/mes-aidants")
    await expect(carers).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
    await carers.get_by_role("button", name="Retirer").click()
    dialog = page.get_by_role("alertdialog")
    await expect(dialog).to_be_visible()
    await check_at_widths(page, "carers-revoke-dialog")
    await dialog.get_by_role("button", name="Retirer").click()
    await expect(carers).to_have_count(0, timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#carers-empty")).to_be_visible()
    await expect(page.locator("#carers-info")).to_contain_text("n'a plus accès à votre espace")
