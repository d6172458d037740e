"""Pro Santé Connect login end to end in a real browser (issue 10, items 8 and 9): the local
OpenID provider (tests/oidc_provider.py, auto-approving its test user), `carnet serve` with
PSC_* pointing at it and back at the web app's /connexion/psc, and headless Chromium.

A professional clicks "Se connecter avec Pro Santé Connect" on the login page, goes through the
API, the provider and the API's callback, and lands on "Mes patients" signed in; the one-time
ticket leaves the address bar, and replaying it is refused. A ticket link carried to another tab
(login CSRF: someone sends their own fresh ticket to a victim) is refused there and burnt. An
unknown RPPS at the provider gets the API's French refusal page, whose "Revenir à Carnet" link
leads back to the web app. The login page's Pro Santé Connect part and the landing page's
refusals are checked with axe at both widths, in French and in English.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, Response, Route, expect

from backend.audit.models import AuditEvent, AuditKind
from tests.browser.a11y import check_at_widths
from tests.browser.login_helpers import language
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, open_login_page
from tests.factories import create_professional
from tests.oidc_provider import OidcProvider, running_provider

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def first_loads(api_server: str, page: Page) -> None:
    """The first visit of a page compiles it (Vite dev mode): give navigations time.
    (`api_server` first: the tab, set up after it, is checked for the last time before the
    API stops.)"""
    page.set_default_navigation_timeout(FIRST_LOAD_TIMEOUT)

CLIENT_ID = "carnet-browser-test"
CLIENT_SECRET = secrets.token_urlsafe(24)
LANDING = "/connexion/psc"
TICKET_REFUSED = (
    "Ce lien de connexion a expiré ou a déjà servi. Reconnectez-vous avec Pro Santé Connect."
)
UNKNOWN_RPPS = "Aucun compte professionnel Carnet ne correspond à votre identité Pro Santé"


@pytest.fixture(scope="module")
def provider(api_port: int) -> Iterator[OidcProvider]:
    """The provider sends the browser back to the API's callback, as PSC would."""
    with running_provider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                          redirect_uri=f"http://127.0.0.1:{api_port}/auth/psc/callback"
                          ) as running:
        yield running


@pytest.fixture
def api_env(server_env: dict[str, str], provider: OidcProvider, api_port: int,
            web: WebApp) -> dict[str, str]:
    """The API under test logs professionals in with `provider` (overrides the conftest
    fixture) and sends them on to the web app's landing page."""
    provider.reset()
    return {
        **server_env,
        "PSC_ISSUER": provider.issuer,
        "PSC_CLIENT_ID": CLIENT_ID,
        "PSC_CLIENT_SECRET": CLIENT_SECRET,
        "PSC_REDIRECT_URI": f"http://127.0.0.1:{api_port}/auth/psc/callback",
        "PSC_POST_LOGIN_URL": web.url + LANDING,
    }


def watch_callback(page: Page) -> list[str]:
    """Where the API's callback redirected this tab (its 303's Location), as they happen."""
    locations: list[str] = []

    def on_response(response: Response) -> None:
        if urlsplit(response.url).path == "/auth/psc/callback":
            location = response.headers.get("location")
            if location:
                locations.append(location)

    page.on("response", on_response)
    return locations


async def click_psc(page: Page, web: WebApp) -> None:
    await open_login_page(page, web)
    button = page.get_by_role("button", name="Se connecter avec Pro Santé Connect")
    await expect(button).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
    await button.click()


async def test_professional_signs_in_with_pro_sante_connect(
    clean: None, provider: OidcProvider, api_server: str, web: WebApp, page: Page,
) -> None:
    address = f"dr-psc-{secrets.token_hex(4)}@example.fr"
    account = await create_professional(email=address)
    await account.fetch_related("professional")
    provider.user.national_id = "8" + account.professional.rpps
    callbacks = watch_callback(page)
    addresses: list[str] = []
    page.on("framenavigated",
            lambda frame: addresses.append(frame.url) if frame == page.main_frame else None)

    logins: list[str] = []
    page.on("request", lambda request: logins.append(request.url)
            if urlsplit(request.url).path == "/auth/psc/login" else None)

    await click_psc(page, web)
    # Login -> provider (auto-approves) -> callback -> /connexion/psc?ticket= -> /pro.
    await expect(page).to_have_url(web.at("/pro"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", name="Mes patients", level=1)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_contain_text(address)
    await expect(page.locator("#patients-empty")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    assert provider.requests["authorize"] == 1 and provider.requests["token"] == 1

    # The login started with this tab's binding (a SHA-256; the secret stays server-side).
    (login,) = logins
    (binding,) = parse_qs(urlsplit(login).query)["binding"]
    assert len(binding) == 43
    (location,) = callbacks
    assert location.startswith(web.url + LANDING + "?ticket=")
    ticket = parse_qs(urlsplit(location).query)["ticket"][0]
    # The ticket is in neither the address bar nor the current history entry.
    assert "ticket" not in page.url
    assert ticket not in await page.evaluate("window.location.href")

    # The landing page replaced its address (and history entry) by one without the ticket
    # before going on to /pro.
    # (A page loaded from the production build's server gets a "/" before its query: see
    # WebApp.at.)
    assert [re.sub(r"/(?=\?|$)", "", a) for a in addresses[-3:]] == [
        location, web.url + LANDING, web.url + "/pro"], addresses
    # Single use: the same ticket again is refused, in French, and drops out of the URL.
    await page.goto(f"{web.url}{LANDING}?ticket={ticket}")
    await expect(page.locator("#psc-error")).to_have_text(TICKET_REFUSED,
                                                          timeout=FIRST_LOAD_TIMEOUT)
    await expect(page).to_have_url(web.at(LANDING))
    await expect(page.get_by_role("link", name="Revenir à la page de connexion")).to_be_visible()
    await check_at_widths(page, "psc-landing-replayed")
    assert provider.requests["token"] == 1  # the replay never reached the provider
    # A refused link signs nobody out: the session opened with Pro Santé Connect still works.
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_contain_text(address)
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mes patients").click()
    await expect(page).to_have_url(web.at("/pro"))
    await expect(page.locator("#patients-empty")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)


def _is_landing(url: str) -> bool:
    return urlsplit(url).path == LANDING and "ticket=" in urlsplit(url).query


async def test_a_ticket_link_opened_in_another_tab_is_refused_and_burnt(
    clean: None, provider: OidcProvider, api_server: str, web: WebApp, page: Page,
    browser_context: BrowserContext,
) -> None:
    """Login CSRF: the attacker logs in (tab A), stops before the landing page and sends the
    fresh ticket link to a victim. The victim's tab (B: another Reflex session, which started
    no login, in the same browser even, with the API's cookie) is refused, in French, and
    signs in to nobody's account; the ticket is then spent, for A too."""
    account = await create_professional()
    await account.fetch_related("professional")
    provider.user.national_id = "8" + account.professional.rpps

    # Browsers follow the redirects (API login -> provider -> callback -> landing) by
    # themselves, and Playwright cannot intercept a redirect: the first request of the chain
    # is taken over and the rest of it followed by hand, in A's cookie jar, up to the link.
    links: list[str] = []

    async def stop_before_landing(route: Route) -> None:
        response = await route.fetch(max_redirects=0)  # the API: 302 to the provider
        location = response.headers["location"]
        while not _is_landing(location):
            response = await browser_context.request.get(location, max_redirects=0)
            assert response.status in (302, 303), await response.text()
            location = response.headers["location"]
        links.append(location)
        await route.fulfill(status=200, content_type="text/html; charset=utf-8",
                            body='<p id="stopped">arrêt</p>')

    def is_login(url: str) -> bool:
        return urlsplit(url).path == "/auth/psc/login"

    await page.route(is_login, stop_before_landing)
    await click_psc(page, web)
    await expect(page.locator("#stopped")).to_have_text("arrêt", timeout=FIRST_LOAD_TIMEOUT)
    await page.unroute(is_login, stop_before_landing)
    (link,) = links
    assert provider.requests["token"] == 1

    victim = await browser_context.new_page()
    try:
        await victim.goto(link)
        await expect(victim.locator("#psc-error")).to_have_text(TICKET_REFUSED,
                                                                timeout=FIRST_LOAD_TIMEOUT)
        await expect(victim).to_have_url(web.at(LANDING))
        await expect(victim.get_by_role("banner").locator("#signed-in-as")).to_have_count(0)
    finally:
        await victim.close()
    # Burnt: even the tab that started the login cannot use it now.
    await page.goto(link)
    await expect(page.locator("#psc-error")).to_have_text(TICKET_REFUSED,
                                                          timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_have_count(0)
    assert not await AuditEvent.filter(kind=AuditKind.LOGIN_SUCCEEDED).exists()

    # A bare link to the API's login (not started from the web app) gets the refusal page.
    bare = await page.goto(f"{api_server}/auth/psc/login")
    assert bare is not None and bare.status == 400
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Connexion avec Pro Santé Connect impossible")
    await expect(page.locator("main")).to_contain_text(
        "doit commencer depuis la page de connexion de Carnet")
    assert provider.requests["authorize"] == 1


async def test_unknown_rpps_gets_the_refusal_page(
    clean: None, provider: OidcProvider, api_server: str, web: WebApp, page: Page,
) -> None:
    await create_professional()  # someone else: the provider's RPPS matches no account
    provider.user.national_id = "8" + "".join(secrets.choice("0123456789") for _ in range(11))
    callbacks = watch_callback(page)

    await click_psc(page, web)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Connexion avec Pro Santé Connect impossible", timeout=30_000)
    assert urlsplit(page.url).path == "/auth/psc/callback"
    await expect(page.locator("main")).to_contain_text(UNKNOWN_RPPS)
    assert callbacks == []  # no redirect: no ticket was ever issued
    back = page.get_by_role("link", name="Revenir à Carnet")
    await expect(back).to_have_attribute("href", web.url + "/")
    await back.click()
    await expect(page).to_have_url(web.at("/"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1)).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_have_count(0)


async def test_pro_sante_connect_pages_in_english(
    clean: None, provider: OidcProvider, api_server: str, web: WebApp, page: Page,
) -> None:
    """The login page's Pro Santé Connect part, and the landing page without a ticket and
    with a stale one, in English (then the login page in French), at both widths."""
    async with language(page.context, web.url, "en"):
        await page.goto(web.url + "/connexion")
        button = page.get_by_role("button", name="Sign in with Pro Santé Connect")
        await expect(button).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("heading", name="Are you a health professional?",
                                      level=2)).to_be_visible()
        await check_at_widths(page, "login-psc-en")

        await page.goto(web.url + LANDING)
        await expect(page.locator("#psc-error")).to_have_text(
            "No Pro Santé Connect sign-in is in progress. Sign in from the sign-in page.",
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("heading", name="Signing in with Pro Santé Connect",
                                      level=1)).to_be_visible()
        await check_at_widths(page, "psc-landing-en-no-ticket")

        await page.goto(f"{web.url}{LANDING}?ticket={secrets.token_urlsafe(24)}")
        await expect(page.locator("#psc-error")).to_have_text(
            "This sign-in link has expired or has already been used. Sign in with Pro Santé "
            "Connect again.", timeout=FIRST_LOAD_TIMEOUT)
        await expect(page).to_have_url(web.at(LANDING))  # the ticket left the address bar
        await check_at_widths(page, "psc-landing-en-stale-ticket")
        await page.get_by_role("link", name="Back to the sign-in page").click()
        await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(button).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
        # Leave the app before the cookie goes back to French: the English page's own loading
        # writes the cookie it read (a delta carrying `lang`), and one arriving after the
        # reset would put English back.
        await page.goto("about:blank")

    await page.goto(web.url + "/connexion")
    await expect(page.get_by_role("button", name="Se connecter avec Pro Santé Connect")
                 ).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
    await check_at_widths(page, "login-psc")
