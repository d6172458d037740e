"""Login in a real browser: password, then the 6-digit code read from a real SMTP server, the
header, "Mes sessions" (revoking another session), logging out; and a wrong password, a wrong
code and a resend.

The API (`carnet serve`) sends its codes to an aiosmtpd server started here (see `api_env`).
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from backend.notifications.masking import mask_email
from tests.browser.reflex_app import WebApp
from tests.browser.signin import (
    FIRST_LOAD_TIMEOUT,
    Mailbox,
    new_patient,
    open_login_page,
    submit_password,
)
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

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
    # The form is what password managers and phones expect.
    password_field = page.get_by_label("Mot de passe")
    await expect(page.get_by_label("Identifiant")).to_have_attribute("autocomplete", "username")
    await expect(password_field).to_have_attribute("type", "password")
    await expect(password_field).to_have_attribute("autocomplete", "current-password")
    await expect(page.get_by_role("radio", name="E-mail")).to_be_checked()
    await submit_password(page, address, PASSWORD)

    # The code page says where the code went and counts down.
    await expect(page).to_have_url(web.url + "/connexion/code", timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#code-destination")).to_have_text(mask_email(address),
                                                                 timeout=FIRST_LOAD_TIMEOUT)
    code_field = page.get_by_label("Code à 6 chiffres")
    await expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    await expect(code_field).to_have_attribute("inputmode", "numeric")
    timer = page.get_by_role("timer")
    await expect(timer).to_have_text(re.compile(r"^1[45]:\d\d$"))  # 15 minutes by default
    first = seconds(await timer.inner_text())
    await expect(timer).not_to_have_text(await timer.inner_text(), timeout=5_000)
    assert seconds(await timer.inner_text()) < first  # it really counts down
    await expect(page.locator("#code-resends-left")).to_have_text("Encore 3 renvois possibles.")

    code = await mailbox.next_code(address)
    message = mailbox.messages_to(address)[0]
    assert message["Subject"] == "Carnet : votre code de connexion"
    await code_field.fill(code)
    await page.get_by_role("button", name="Valider").click()

    # Signed in: the home page, with who I am in the header.
    await expect(page).to_have_url(web.url + "/")
    await expect(header.locator("#signed-in-as")).to_have_text(f"Connecté : {address}")
    await expect(header.get_by_role("link", name="Se connecter")).to_have_count(0)
    await expect(page.get_by_role("heading", name="Bienvenue sur Carnet")).to_be_visible()

    # Mes sessions: this one, marked as such, seen from this browser (not from the web
    # server), and one opened elsewhere, which I revoke.
    await sign_in_elsewhere(api_server, mailbox, address)
    await header.get_by_role("link", name="Mes sessions").click()
    await expect(page).to_have_url(web.url + "/sessions")
    rows = page.locator("#sessions-table tbody tr")
    await expect(rows).to_have_count(2, timeout=FIRST_LOAD_TIMEOUT)
    here, elsewhere = rows.nth(0), rows.nth(1)
    await expect(here).to_contain_text("cette session")
    await expect(here).to_contain_text("Chrome sur Linux")
    user_agent = await page.evaluate("navigator.userAgent")
    await expect(here.locator(".user-agent")).to_have_text(user_agent)
    await expect(here).to_contain_text("127.0.0.1")
    await expect(here.get_by_role("button", name="Révoquer")).to_have_count(0)
    await expect(elsewhere).to_contain_text("Firefox sur Windows")
    await expect(elsewhere).not_to_contain_text("cette session")
    await elsewhere.get_by_role("button", name="Révoquer").click()
    await expect(page.get_by_role("status")).to_have_text("La session a été fermée.")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("cette session")
    await expect(page.get_by_role("button", name="Se déconnecter partout")).to_be_enabled()

    # Log out: back to the login page, the login link again, and /sessions is closed.
    await header.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(web.url + "/connexion")
    await expect(header.get_by_role("link", name="Se connecter")).to_be_visible()
    await expect(header.get_by_text(address)).to_have_count(0)
    await expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")

    await page.goto(web.url + "/sessions")
    await expect(page).to_have_url(web.url + "/connexion")
    await expect(page.get_by_role("status")).to_have_text(
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
    await expect(page).to_have_url(web.url + "/connexion")
    await expect(page.get_by_label("Mot de passe")).to_have_value("")  # emptied after a failure
    assert mailbox.messages_to(address) == []

    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Continuer").click()
    await expect(page).to_have_url(web.url + "/connexion/code", timeout=FIRST_LOAD_TIMEOUT)
    code = await mailbox.next_code(address)

    wrong = "000000" if code != "000000" else "111111"
    await page.get_by_label("Code à 6 chiffres").fill(wrong)
    await page.get_by_role("button", name="Valider").click()
    await expect(alert).to_have_text("Code incorrect. Il vous reste 4 essais.")
    await expect(page).to_have_url(web.url + "/connexion/code")
    await expect(header.get_by_role("link", name="Se connecter")).to_be_visible()

    # A new code: the old one stops working (tries count afresh), one resend fewer.
    await page.get_by_role("button", name="Renvoyer le code").click()
    await expect(page.get_by_role("status")).to_contain_text("Un nouveau code vous a été envoyé")
    await expect(alert).to_have_count(0)
    await expect(page.locator("#code-resends-left")).to_have_text("Encore 2 renvois possibles.")
    new_code = await mailbox.next_code(address, seen=1)
    if new_code != code:
        await page.get_by_label("Code à 6 chiffres").fill(code)
        await page.get_by_role("button", name="Valider").click()
        await expect(alert).to_have_text("Code incorrect. Il vous reste 4 essais.")

    await page.get_by_label("Code à 6 chiffres").fill(new_code)
    await page.get_by_role("button", name="Valider").click()
    await expect(page).to_have_url(web.url + "/")
    await expect(header.locator("#signed-in-as")).to_contain_text(address)


async def test_signing_in_with_the_keyboard_only(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox
) -> None:
    """Tab through the fields and press Enter: no mouse needed to sign in."""
    address = await new_patient()
    await open_login_page(page, web)
    await page.get_by_label("Identifiant").focus()
    await page.keyboard.type(address)
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.getAttribute('type')")
    assert focused == "password", "Tab from the identifier goes to the password"
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.url + "/connexion/code", timeout=FIRST_LOAD_TIMEOUT)
    code = await mailbox.next_code(address)
    await page.get_by_label("Code à 6 chiffres").focus()
    await page.keyboard.type(code)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.url + "/", timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("banner").locator("#signed-in-as")).to_contain_text(address)
