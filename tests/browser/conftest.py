"""Browser tests: a real API (`carnet serve` on the test database), the Reflex web app
(`reflex run --env dev`) pointed at it, and headless Debian Chromium driven by Playwright.

Needs /usr/bin/chromium (`apt-get install -y chromium`; never `playwright install`) and bun
(`scripts/ensure-bun.sh`). Without them these tests skip locally and fail with CI=true.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import BrowserContext, Page, async_playwright

from backend.settings import Settings
from tests.browser.reflex_app import WebApp, bun_path, reflex_dev, web_env
from tests.browser.signin import Mailbox
from tests.conftest import service_missing
from tests.servers import carnet_server, free_port

CHROMIUM = os.environ.get("CARNET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        service_missing(f"Chromium ({CHROMIUM})", FileNotFoundError(CHROMIUM))
    return CHROMIUM


@pytest.fixture(scope="session")
def api_port() -> int:
    """The web app is started once, pointed at this port; each test runs the API on it."""
    return free_port()


@pytest.fixture(scope="session")
def web(chromium: str, api_port: int) -> Iterator[WebApp]:
    api_url = f"http://127.0.0.1:{api_port}/graphql"
    if bun_path(web_env(api_url)) is None:
        service_missing("bun (run scripts/ensure-bun.sh)", FileNotFoundError("bun"))
    with reflex_dev(api_url) as app:
        yield app


@pytest.fixture
def api_env(server_env: dict[str, str]) -> dict[str, str]:
    """Environment of the API under test. A test module overrides this fixture to configure
    the API differently (e.g. test_login.py adds SMTP_HOST/SMTP_PORT of the `mailbox`)."""
    return server_env


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) keeping what it receives; point the API at it in a
    module's `api_env` to sign in with the emailed code (`tests.browser.signin`)."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def api_server(api_env: dict[str, str], migrated: Settings, api_port: int) -> Iterator[str]:
    """`carnet serve` on the test database, on the port the web app calls."""
    with carnet_server(api_env, port=api_port) as base:
        yield base


@pytest.fixture(scope="session")
async def browser_context(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BrowserContext]:
    profile: Path = tmp_path_factory.mktemp("chromium-profile")  # fresh user-data dir
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            locale="fr-FR",
        )
        yield context
        await context.close()


@pytest.fixture
async def page(browser_context: BrowserContext) -> AsyncIterator[Page]:
    """A new tab (so a new Reflex session)."""
    tab = await browser_context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    await tab.close()
