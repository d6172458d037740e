"""The language switch and the mobile menu of the app shell, in a real browser."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser import a11y
from tests.browser.reflex_app import WebApp

pytestmark = pytest.mark.browser

FIRST_TEXT_TIMEOUT = 90_000


async def test_the_language_switch_translates_the_shell_and_is_remembered(
    api_server: str, web: WebApp, page: Page
) -> None:
    await page.goto(web.url + "/")
    nav = page.get_by_role("navigation", name="Navigation principale")
    await expect(nav.get_by_role("link", name="Mes documents")).to_be_visible(
        timeout=FIRST_TEXT_TIMEOUT)
    # An auto-retrying, bounded check (a bare `page.evaluate` has no timeout: this test once
    # hung for ten minutes in CI, at a step that had none).
    await expect(page.locator("html")).to_have_attribute("lang", "fr")

    await page.get_by_role("button", name="English").click()
    nav = page.get_by_role("navigation", name="Main navigation")
    await expect(nav.get_by_role("link", name="My documents")).to_be_visible()
    await expect(page.get_by_role("link", name="Skip to content")).to_have_count(1)
    await expect(page.locator("html")).to_have_attribute("lang", "en")

    # Remembered: a new tab of the same browser opens in English.
    other = await a11y.bounded(page.context.new_page(), page, "opening a second tab", 60)
    try:
        await other.goto(web.url + "/")
        await expect(other.get_by_role("navigation", name="Main navigation")).to_be_visible(
            timeout=FIRST_TEXT_TIMEOUT)
        await expect(other.get_by_role("button", name="Français")).to_be_visible()
        await other.get_by_role("button", name="Français").click()
        await expect(other.get_by_role("navigation", name="Navigation principale")).to_be_visible()
    finally:
        await a11y.bounded(other.close(), other, "closing the second tab", 30)


async def test_below_640_px_a_menu_button_opens_the_navigation(
    api_server: str, web: WebApp, page: Page
) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(web.url + "/")
    menu = page.get_by_role("button", name="Menu")
    await expect(menu).to_be_visible(timeout=FIRST_TEXT_TIMEOUT)
    await expect(menu).to_have_attribute("aria-expanded", "false")
    link = page.get_by_role("link", name="Mes documents")
    await expect(link).to_be_hidden()

    await menu.focus()
    await page.keyboard.press("Enter")  # by keyboard
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await expect(link).to_be_visible()
    assert await page.evaluate(
        "document.scrollingElement.scrollWidth <= window.innerWidth")

    await page.set_viewport_size({"width": 1280, "height": 800})
    await expect(menu).to_be_hidden()
    await expect(link).to_be_visible()


async def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(
    api_server: str, web: WebApp, page: Page
) -> None:
    await page.goto(web.url + "/")
    await expect(page.get_by_role("navigation", name="Navigation principale")).to_be_visible(
        timeout=FIRST_TEXT_TIMEOUT)
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    await expect(page.locator("main#contenu")).to_be_focused()
