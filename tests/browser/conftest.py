"""Browser tests: a real API (`carnet serve` on the test database), the Reflex web app
(`reflex run --env dev`) pointed at it, and headless Debian Chromium driven by Playwright.

Needs /usr/bin/chromium (`apt-get install -y chromium`; never `playwright install`), bun
(`scripts/ensure-bun.sh`) and axe-core (`make axe`). Without them these tests skip locally and
fail with CI=true.

Accessibility is checked automatically (tests/browser/a11y.py), so no test can forget it. The
`page` fixture's tab:

- runs `check_page` (axe-core with every WCAG 2.0/2.1 A and AA rule and every best practice;
  no sideways scrolling; a screenshot in var/screenshots/) after each `page.goto(...)` that
  lands on the web app, once the page has rendered and is still (`a11y.settle`);
- runs it again on the tab's last state when the test passes (a dialog left open, a form's
  error: whatever the test ended on), unless the tab is no longer on the web app;
- gathers what every check found (those two, and each explicit `await check_page(page, name)`
  or `await check_at_widths(page, name)` a test makes at the states it reaches by clicking) and
  fails the test at its end with all of it: one run tells every problem. A test may fail
  earlier with `a11y.fail_on_findings(page)`.

Only the web app's pages are checked: not GraphiQL (a third party's page, served by the API)
and not the API's own pages. Tabs a test opens itself (`browser_context.new_page()`) are
checked only where it calls `check_page` on them.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import BrowserContext, Page, Response, async_playwright

from backend.settings import Settings
from tests.browser import a11y, axe
from tests.browser.reflex_app import WebApp, bun_path, reflex_web, web_env
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
    with reflex_web(api_url) as app:
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


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's source, checked against its pinned hash (tests/browser/axe)."""
    try:
        return axe.script()
    except axe.AxeMissing as exc:
        service_missing("axe-core (`make axe`)", exc)
        raise


#: pytest-timeout counts fixtures in the first test that uses them: the first test of the web
#: app includes building it (a production build, see reflex_app.py), slower on a busy machine.
FIRST_WEB_TEST_TIMEOUT = 600
#: Every other browser test: the slowest takes about two minutes on a loaded CI machine; a hung
#: one must not cost the run ten.
BROWSER_TEST_TIMEOUT = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    web_seen = False
    for item in items:
        if not item.get_closest_marker("browser") or item.get_closest_marker("timeout"):
            continue
        first_web = not web_seen and "web" in getattr(item, "fixturenames", ())
        web_seen = web_seen or first_web
        timeout = FIRST_WEB_TEST_TIMEOUT if first_web else BROWSER_TEST_TIMEOUT
        item.add_marker(pytest.mark.timeout(timeout))


#: How long before its timeout a browser test that is still running tells where it waits.
WATCHDOG_MARGIN_S = 30


@pytest.fixture(autouse=True)
async def where_it_hangs(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A browser test still running shortly before its timeout prints the stack of every
    pending task: the Playwright call it waits on. (pytest-timeout's own dump shows only the
    event loop's select(): a coroutine waiting has no thread stack.)"""
    marker = request.node.get_closest_marker("timeout")
    if marker is None or not marker.args or not request.node.get_closest_marker("browser"):
        yield
        return

    async def watch() -> None:
        await asyncio.sleep(max(1.0, float(marker.args[0]) - WATCHDOG_MARGIN_S))
        out = io.StringIO()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.print_stack(limit=12, file=out)
        sys.stderr.write(f"\n== {request.node.nodeid} still running: pending tasks\n"
                         f"{out.getvalue()}")

    watchdog = asyncio.create_task(watch())
    try:
        yield
    finally:
        watchdog.cancel()


CALL_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[pytest.TestReport]:
    """Remember whether the test's body passed: only then is the tab's last state checked."""
    report = yield
    if report.when == "call":
        item.stash[CALL_PASSED] = report.passed
    return report


class _CheckedTab:
    """`page.goto` that checks the web app's page it lands on (see the module docstring)."""

    def __init__(self, tab: Page, app_url: str | None, test_name: str) -> None:
        self.tab = tab
        self.app_url = app_url
        self.test_name = test_name
        self.count = 0
        self._goto = tab.goto

    def on_app(self) -> bool:
        url = self.tab.url
        return self.app_url is not None and (url == self.app_url
                                             or url.startswith(self.app_url + "/"))

    async def check(self, label: str) -> None:
        self.count += 1
        path = self.tab.url.removeprefix(self.app_url or "").split("?")[0] or "/"
        await a11y.check_page(self.tab, f"{self.test_name}-{self.count:02d}-{label}-{path}")

    async def goto(self, url: str, **kwargs: object) -> Response | None:
        response = await self._goto(url, **kwargs)  # type: ignore[arg-type]
        if self.on_app():
            await self.check("goto")
        return response


@pytest.fixture
async def page(browser_context: BrowserContext, request: pytest.FixtureRequest
               ) -> AsyncIterator[Page]:
    """A new tab (so a new Reflex session), whose pages are checked (see the module docstring).
    """
    tab = await asyncio.wait_for(browser_context.new_page(), 60)  # no timeout of its own
    tab.set_default_timeout(15_000)
    app_url = None
    if "web" in request.fixturenames:  # a test of the web app: axe-core is needed
        request.getfixturevalue("axe_script")
        app_url = request.getfixturevalue("web").url
    checked = _CheckedTab(tab, app_url, f"{request.node.module.__name__.rsplit('.', 1)[-1]}-"
                                        f"{request.node.name}")
    tab.goto = checked.goto  # type: ignore[method-assign]
    findings = a11y.collect_on(tab)
    try:
        yield tab
        if request.node.stash.get(CALL_PASSED, False) and not tab.is_closed() \
                and checked.on_app():
            await checked.check("end")
    finally:
        await a11y.bounded(tab.close(), tab, "closing the tab", seconds=30)
        # The tabs share one browser profile: a language chosen by this test (the
        # `carnet_lang` cookie) must not carry over to the next.
        await asyncio.wait_for(browser_context.clear_cookies(), 30)
    if findings.problems:
        pytest.fail(findings.report(), pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    count, seconds, skipped = a11y.CHECK_COST
    if count:
        terminalreporter.write_line(
            f"accessibility checks: {int(count)} in {seconds:.0f} s ({seconds / count:.2f} s "
            f"each); axe skipped on {int(skipped)} states identical to one found clean")
