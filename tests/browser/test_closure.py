"""Clôturer mon espace in a real browser, against a real API whose codes go to a real SMTP
server (`mailbox`): the export offered first, the warning, the current password, then the
emailed code; the tab lands on the login page saying the space is closed; the account is CLOSED
and signing in again opens no session (the page says the space is closed and may be reopened);
"Rouvrir mon espace" reopens it and signs in. Every step is checked with axe at 390 and 1280 px."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from backend.identity.lookup import account_by_identifier
from backend.identity.models import AccountStatus
from tests.browser.a11y import check_at_widths
from tests.browser.reflex_app import WebApp
from tests.browser.signin import (
    FIRST_LOAD_TIMEOUT,
    Mailbox,
    new_patient,
    open_login_page,
    sign_in,
    submit_password,
)
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox`."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


@pytest.fixture(autouse=True)
def first_loads(api_server: str, page: Page) -> None:
    page.set_default_navigation_timeout(FIRST_LOAD_TIMEOUT)


async def test_closing_my_space_with_password_and_code(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    address = await new_patient()
    await sign_in(page, web, mailbox, address)
    await page.get_by_role("banner").get_by_role("link", name="Mon compte").click()
    block = page.locator("#account-closure")
    await expect(block).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    # The export first.
    await expect(page.locator("#account-closure-export")).to_have_attribute("href", "/profil")
    await check_at_widths(page, "closure")

    start = page.locator("#account-closure-start")
    await start.click()
    await expect(page.locator("#account-closure-warning")).to_contain_text("archivé 10 ans")
    current = page.locator("#account-closure-current")
    await expect(current).to_be_focused()
    await check_at_widths(page, "closure-password")
    # A wrong password is said, and nothing is sent.
    await current.fill("pas le bon mot de passe")
    await page.locator("#account-closure-submit").click()
    await expect(page.locator("#account-closure-error")).to_contain_text(
        "Mot de passe actuel incorrect.")
    # Cancel gives focus back; then the right password.
    await block.get_by_role("button", name="Annuler").click()
    await expect(start).to_be_focused()
    await start.click()
    await page.locator("#account-closure-current").fill(PASSWORD)
    await page.locator("#account-closure-submit").click()
    code_field = page.locator("#account-closure-code")
    await expect(code_field).to_be_focused()
    await expect(page.locator("#account-closure-destination")).not_to_be_empty()
    await check_at_widths(page, "closure-code")
    code = await mailbox.next_code(address, seen=1)  # the first was the sign-in code
    await code_field.fill(code)
    await page.locator("#account-closure-confirm").click()
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_text("Votre espace est clôturé.")).to_be_visible()
    await check_at_widths(page, "closure-done")
    account = await account_by_identifier(address)
    assert account is not None and account.status is AccountStatus.CLOSED

    # Signing in again: password and code are right, but no session opens.
    seen = len(mailbox.messages_to(address))
    await open_login_page(page, web)
    await submit_password(page, address, PASSWORD)
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    code = await mailbox.next_code(address, seen=seen)
    await page.get_by_label("Code à 6 chiffres").fill(code)
    await page.get_by_role("button", name="Valider").click()
    await expect(page.locator("#login-space-closed")).to_contain_text(
        "Vous avez clôturé votre espace.")
    await expect(page).to_have_url(web.at("/connexion/code"))
    await expect(page.locator("#login-code")).to_have_count(0)
    await check_at_widths(page, "closure-sign-in-again")
    account = await account_by_identifier(address)
    assert account is not None and account.status is AccountStatus.CLOSED

    # Reopening: signed in, everything as it was.
    await page.locator("#login-reopen").click()
    await expect(page).to_have_url(web.at("/"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_contain_text(address)
    account = await account_by_identifier(address)
    assert account is not None and account.status is AccountStatus.ACTIVE
