"""Login in a real browser: password, then the 6-digit code read from a real SMTP server, the
header, "Mes sessions" (revoking another session, signing out everywhere), logging out; a wrong
password, a wrong code and a resend; signing in with the keyboard only; back to the page asked
for (a professional to their own area); all of it in English too, checked with axe at 390 and
1280 px.

The API (`carnet serve`) sends its codes to an aiosmtpd server started here (see `api_env`).
"""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from playwright.async_api import Page, expect

from backend.notifications.masking import mask_email
from tests.browser.a11y import check_at_widths
from tests.browser.login_helpers import language, tab_to
from tests.browser.reflex_app import WebApp
from tests.browser.signin import (
    FIRST_LOAD_TIMEOUT,
    Mailbox,
    new_patient,
    open_login_page,
    sign_in,
    submit_password,
)
from tests.factories import PASSWORD, create_professional

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def first_loads(api_server: str, page: Page) -> None:
    """The first visit of a page compiles it (Vite dev mode): give navigations time.
    (`api_server` first: the tab, set up after it, is checked for the last time before the
    API stops.)"""
    page.set_default_navigation_timeout(FIRST_LOAD_TIMEOUT)

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"
LOGIN = """mutation ($identifier: String!, $password: String!) {
  login(identifier: $identifier, password: $password) { ... on LoginChallenge { challengeId } }
}"""
VERIFY = """mutation ($challengeId: String!, $code: String!) {
  verifyLoginCode(challengeId: $challengeId, code: $code) { __typename }
}"""


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


async def sign_in_elsewhere(api: str, mailbox: Mailbox, address: str) -> None:
    """Open another session of `address`, as from Firefox on another computer."""
    async with httpx.AsyncClient(base_url=api, headers={"User-Agent": FIREFOX}) as http:
        seen = len(mailbox.messages_to(address))
        answer = await http.post("/graphql", json={
            "query": LOGIN, "variables": {"identifier": address, "password": PASSWORD},
        })
        challenge_id = answer.json()["data"]["login"]["challengeId"]
        code = await mailbox.next_code(address, seen=seen)
        answer = await http.post("/graphql", json={
            "query": VERIFY, "variables": {"challengeId": challenge_id, "code": code},
        })
        assert answer.json()["data"]["verifyLoginCode"]["__typename"] == "Session"


def seconds(mm_ss: str) -> int:
    minutes, _, secs = mm_ss.strip().partition(":")
    return int(minutes) * 60 + int(secs)


async def test_login_with_the_emailed_code_sessions_then_logout(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    address = await new_patient()
    header = page.get_by_role("banner")

    await open_login_page(page, web)
    await check_at_widths(page, "login")
    # The form is what password managers and phones expect.
    password_field = page.get_by_label("Mot de passe", exact=True)
    await expect(page.get_by_label("Identifiant")).to_have_attribute("autocomplete", "username")
    await expect(password_field).to_have_attribute("type", "password")
    await expect(password_field).to_have_attribute("autocomplete", "current-password")
    await expect(page.get_by_role("radio", name="E-mail")).to_be_checked()
    await expect(page.get_by_role("link", name="Mot de passe oublié ?")).to_have_attribute(
        "href", "/mot-de-passe-oublie")
    await submit_password(page, address, PASSWORD)

    # The code page says where the code went, counts down, and has the focus in the field.
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#code-destination")).to_have_text(mask_email(address),
                                                                 timeout=FIRST_LOAD_TIMEOUT)
    code_field = page.get_by_label("Code à 6 chiffres")
    await expect(code_field).to_be_focused()
    await expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    await expect(code_field).to_have_attribute("inputmode", "numeric")
    timer = page.get_by_role("timer")
    await expect(timer).to_have_text(re.compile(r"^1[45]:\d\d$"))  # 15 minutes by default
    first = seconds(await timer.inner_text())
    await expect(timer).not_to_have_text(await timer.inner_text(), timeout=5_000)
    assert seconds(await timer.inner_text()) < first  # it really counts down
    await expect(page.locator("#code-resends-left")).to_have_text("Encore 3 renvois possibles.")
    await check_at_widths(page, "login-code")

    code = await mailbox.next_code(address)
    message = mailbox.messages_to(address)[0]
    assert message["Subject"] == "Carnet : votre code de connexion"
    await code_field.fill(code)
    await page.get_by_role("button", name="Valider").click()

    # Signed in: the home page, with who I am in the header.
    await expect(page).to_have_url(web.at("/"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(header.locator("#signed-in-as")).to_have_text(f"Connecté : {address}")
    await expect(header.get_by_role("link", name="Se connecter")).to_have_count(0)

    # Mes sessions: this one, marked as such, seen from this browser (not from the web
    # server), and one opened elsewhere, which I revoke.
    await sign_in_elsewhere(api_server, mailbox, address)
    await header.get_by_role("link", name="Mes sessions").click()
    await expect(page).to_have_url(web.at("/sessions"), timeout=FIRST_LOAD_TIMEOUT)
    rows = page.locator("#sessions-list > li")
    await expect(rows).to_have_count(2, timeout=FIRST_LOAD_TIMEOUT)
    here, elsewhere = rows.nth(0), rows.nth(1)
    await expect(here).to_contain_text("cette session")
    await expect(here).to_contain_text("Chrome sur Linux")
    user_agent = await page.evaluate("navigator.userAgent")
    await expect(here.locator(".user-agent")).to_have_text(user_agent)
    await expect(here).to_contain_text("127.0.0.1")
    await expect(here.get_by_role("button", name=re.compile("^Révoquer"))).to_have_count(0)
    await expect(elsewhere).to_contain_text("Firefox sur Windows")
    await expect(elsewhere).not_to_contain_text("cette session")
    await check_at_widths(page, "sessions")
    await elsewhere.get_by_role("button", name="Révoquer la session Firefox sur Windows").click()
    await expect(page.locator("#sessions-info")).to_have_text("La session a été fermée.")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("cette session")
    await check_at_widths(page, "sessions-revoked")
    # What the revoke said does not come back with the page.
    await page.reload()
    await expect(rows).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#sessions-info")).to_have_count(0)

    # "Se déconnecter partout" asks first; cancelling keeps everything.
    everywhere = page.get_by_role("button", name="Se déconnecter partout")
    await everywhere.click()
    dialog = page.get_by_role("alertdialog")
    await expect(dialog).to_contain_text("Toutes vos sessions seront fermées")
    await check_at_widths(page, "sessions-logout-everywhere-dialog")
    await dialog.get_by_role("button", name="Annuler").click()
    await expect(dialog).to_have_count(0)
    await expect(everywhere).to_be_focused()  # focus back where it was

    # Log out: back to the login page, the login link again, and /sessions is closed.
    await header.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(header.get_by_role("link", name="Se connecter")).to_be_visible()
    await expect(header.get_by_text(address)).to_have_count(0)
    await expect(page.locator("#login-notice")).to_have_text("Vous êtes déconnecté.")
    await check_at_widths(page, "login-signed-out")

    await page.goto(web.url + "/sessions")
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#login-notice")).to_have_text(
        "Connectez-vous pour accéder à cette page."
    )
    await expect(header.get_by_role("link", name="Se connecter")).to_be_visible()


async def test_wrong_password_wrong_code_and_resend_say_so_in_french(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    address = await new_patient()
    alert = page.get_by_role("alert")
    header = page.get_by_role("banner")

    await open_login_page(page, web)
    await submit_password(page, address, "pas le bon mot de passe")
    await expect(alert).to_have_text("Identifiant ou mot de passe incorrect.")
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    password = page.get_by_label("Mot de passe", exact=True)
    await expect(password).to_have_value("")  # emptied after a failure
    assert mailbox.messages_to(address) == []
    await check_at_widths(page, "login-wrong-password")

    await password.fill(PASSWORD)
    await page.get_by_role("button", name="Continuer").click()
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    code = await mailbox.next_code(address)

    wrong = "000000" if code != "000000" else "111111"
    code_field = page.get_by_label("Code à 6 chiffres")
    await code_field.fill(wrong)
    await page.get_by_role("button", name="Valider").click()
    await expect(alert).to_have_text("Code incorrect. Il vous reste 4 essais.")
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(header.get_by_role("link", name="Se connecter")).to_be_visible()
    await expect(code_field).to_be_focused()  # emptied, and ready for the next try
    await expect(code_field).to_have_value("")
    await check_at_widths(page, "login-wrong-code")

    # A new code: the old one stops working (tries count afresh), one resend fewer.
    await page.get_by_role("button", name="Renvoyer le code").click()
    await expect(page.locator("#login-info")).to_contain_text("Un nouveau code vous a été envoyé")
    await expect(alert).to_have_count(0)
    await expect(page.locator("#code-resends-left")).to_have_text("Encore 2 renvois possibles.")
    await check_at_widths(page, "login-code-resent")
    new_code = await mailbox.next_code(address, seen=1)
    if new_code != code:
        await code_field.fill(code)
        await page.get_by_role("button", name="Valider").click()
        await expect(alert).to_have_text("Code incorrect. Il vous reste 4 essais.")

    await code_field.fill(new_code)
    await page.get_by_role("button", name="Valider").click()
    await expect(page).to_have_url(web.at("/"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(header.locator("#signed-in-as")).to_contain_text(address)


async def test_signing_in_with_the_keyboard_only(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    """Tab through the page and press Enter: no mouse, no click, to sign in."""
    address = await new_patient()
    await open_login_page(page, web)
    await tab_to(page, "login-identifier")  # from the top of the page, past the header
    await page.keyboard.type(address)
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.getAttribute('type')")
    assert focused == "password", "Tab from the identifier goes to the password"
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    code = await mailbox.next_code(address)
    # On arrival the code field has the focus: type, then Enter.
    await expect(page.get_by_label("Code à 6 chiffres")).to_be_focused(
        timeout=FIRST_LOAD_TIMEOUT)
    await page.keyboard.type(code)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.at("/"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_contain_text(address)


async def test_signing_in_in_english(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    """Every page and state of signing in, in English (the language cookie the header's
    switch sets), checked with axe at both widths."""
    address = await new_patient()
    alert = page.get_by_role("alert")
    async with language(page.context, web.url, "en"):
        await page.goto(web.url + "/sessions")  # needs a session: the sign-in page says so
        await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("#login-notice")).to_have_text(
            "Sign in to see this page.")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        submit = page.get_by_role("button", name="Continue")
        await expect(submit).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("radio", name="Email")).to_be_checked()
        await expect(page.get_by_role("link", name="Forgotten your password?")).to_be_visible()
        await check_at_widths(page, "login-en")
        await page.get_by_label("Username").fill(address)
        await page.get_by_label("Password", exact=True).fill("not the right one")
        await submit.click()
        await expect(alert).to_have_text("Incorrect username or password.")
        await check_at_widths(page, "login-en-wrong-password")

        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await submit.click()
        await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("heading", name="Enter your code", level=1)
                     ).to_be_visible()
        await expect(page.get_by_text("A 6-digit code has been sent by email to")).to_be_visible()
        await expect(page.locator("#code-resends-left")).to_have_text(
            "It can be sent again 3 more times.")
        code = await mailbox.next_code(address)
        wrong = "000000" if code != "000000" else "111111"
        await page.get_by_label("6-digit code").fill(wrong)
        await page.get_by_role("button", name="Confirm").click()
        await expect(alert).to_have_text("Incorrect code. You have 4 tries left.")
        await check_at_widths(page, "login-code-en")
        await page.get_by_label("6-digit code").fill(code)
        await page.get_by_role("button", name="Confirm").click()

        # Back to the page asked for: my sessions, in English.
        await expect(page).to_have_url(web.at("/sessions"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("heading", name="My sessions", level=1)).to_be_visible()
        rows = page.locator("#sessions-list > li")
        await expect(rows).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
        await expect(rows.first).to_contain_text("this session")
        await expect(rows.first).to_contain_text("Chrome on Linux")
        await expect(rows.first).to_contain_text(re.compile(r"\d{1,2} [A-Z][a-z]+ \d{4} at "
                                                            r"\d\d:\d\d"))
        await check_at_widths(page, "sessions-en")
        await page.get_by_role("button", name="Sign out everywhere").click()
        await check_at_widths(page, "sessions-en-dialog")
        await page.get_by_role("alertdialog").get_by_role(
            "button", name="Sign out everywhere").click()
        await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("#login-notice")).to_have_text(
            "You have been signed out of all your sessions.")
        await check_at_widths(page, "login-en-signed-out")


async def test_signing_out_everywhere_with_the_keyboard(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    """Mes sessions' main action with Tab and Enter only: the dialog opens on "Annuler"."""
    address = await new_patient()
    await sign_in(page, web, mailbox, address)
    await page.goto(web.url + "/sessions")
    await expect(page.locator("#sessions-list > li")).to_have_count(1,
                                                                   timeout=FIRST_LOAD_TIMEOUT)
    await tab_to(page, "logout-everywhere")
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("alertdialog")
    await expect(dialog.get_by_role("button", name="Annuler")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Se déconnecter partout")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#login-notice")).to_have_text(
        "Vous avez été déconnecté de toutes vos sessions.")


async def test_a_professional_lands_in_their_own_area(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    """Asked for a patient's page before signing in, a professional lands on "Mes patients"
    (no error), and on a page of theirs when they asked for one."""
    address = f"dr-{secrets.token_hex(4)}@example.fr"
    await create_professional(email=address)
    await page.goto(web.url + "/documents")  # a patient's page
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await sign_in(page, web, mailbox, address, home="/pro")
    await expect(page.get_by_role("heading", name="Mes patients", level=1)).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_count(0)
    await page.get_by_role("banner").get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)

    await page.goto(web.url + "/mon-compte")  # one of theirs
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await sign_in(page, web, mailbox, address, home="/mon-compte")
    await expect(page.locator("#identity-rpps")).not_to_be_empty(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("alert")).to_have_count(0)
