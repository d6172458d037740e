"""Health apps in a real browser, against a real API (issue 14 parts 3 and 6).

An operator references an app (the catalogue's services, as `carnet apps submit` and
`reference` do), with a redirect URI this test catches in the browser. A patient, signed out,
opens the catalogue from the navigation (on a phone's width), searches and filters, opens the
app's page (its scopes in plain French). The app sends the patient to the API's GET
/oauth/authorize (with a PKCE S256 challenge and a state, made by authlib's client), which
sends the browser on to the consent page, which asks to sign in first and comes back with the
app's request; "Refuser" sends the browser back to the app with error=access_denied; a forged
request (an address the app did not declare) and an unknown app are refused and go nowhere;
then, with the keyboard, the patient unticks the optional scope and authorises. The test
exchanges the code at /oauth/token with the verifier and checks by introspection that the
token is active with exactly the granted scope. The app shows in
"Applications connectées" (reached from "Mon compte") with its scope and its last access; the
patient revokes it with the keyboard (a confirmation first): it disappears, introspection says
inactive and a refresh fails.

Every state visited is checked with axe (zero violations) and for sideways scrolling at 390
and 1280 px (`check_at_widths`; the `page` fixture also checks each `goto` landing on the web
app and the last state).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from playwright.async_api import Page, Route, expect

from backend.catalogue import services as catalogue
from backend.catalogue.models import AppStatus
from backend.oauth import services as oauth
from backend.settings import Settings
from tests.browser import a11y
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, submit_password
from tests.catalogue_helpers import ALL_CRITERIA, example
from tests.factories import PASSWORD
from tests.servers import free_port

pytestmark = pytest.mark.browser

CALLBACK = f"http://127.0.0.1:{free_port()}/oauth/callback"
APP_NAME = "Balance Connectée Test"
OTHER_NAME = "Glycémie Facile"
REQUIRED, OPTIONAL = "profile:read", "profile.measurements:write"
REQUIRED_LABEL = "Lire votre profil médical (allergies, traitements, mesures...)"
OPTIONAL_LABEL = "Ajouter des mesures (poids, tension...) à votre profil"


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox, web: WebApp) -> dict[str, str]:
    """Emails to `mailbox`; the web app's address as ALLOWED_ORIGINS (as docker-compose.yml
    sets it), from which GET /oauth/authorize derives the consent page's address."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port),
            "ALLOWED_ORIGINS": web.url}


async def check_at_widths(page: Page, name: str) -> None:
    await page.mouse.move(0, 0)
    await a11y.check_at_widths(page, name)


class Callback:
    """The app's redirect URI, answered inside the browser: every address it was sent to."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def handle(self, route: Route) -> None:
        self.urls.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html",
                            body="<!doctype html><html lang='fr'><title>App</title><p>OK</p>")

    def params(self, index: int = -1) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.urls[index]).query)


async def operator_references_apps(now: datetime) -> tuple[str, str]:
    """Our app (confidential: the test introspects its tokens) and another one, referenced."""
    app = await catalogue.submit(example(
        name=APP_NAME, publisher="Pesée SAS", redirectUris=[CALLBACK], clientType="confidential",
        description="Vos pesées de la balance connectée, ajoutées à votre profil.",
        categories=["nutrition"]), operator="test", now=now)
    await catalogue.change_status(str(app.id), AppStatus.REFERENCED, reason="Conforme",
                                  operator="test", now=now, criteria=ALL_CRITERIA)
    other = await catalogue.submit(example(
        name=OTHER_NAME, publisher="Diabète & Co", categories=["diabetes"],
        description="Un carnet de glycémie simple."), operator="test", now=now)
    await catalogue.change_status(str(other.id), AppStatus.REFERENCED, reason="Conforme",
                                  operator="test", now=now, criteria=ALL_CRITERIA)
    return str(app.id), str(other.id)


WEIGHTS = "query { measurements(kind: WEIGHT) { unit points { value } } }"


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def test_catalogue_consent_token_connected_apps_revoke(
    app: object, clean: None, migrated: Settings, api_server: str, web: WebApp, page: Page,
    mailbox: Mailbox,
) -> None:
    now = datetime.now(UTC)
    app_id, other_id = await operator_references_apps(now)
    secret = await oauth.create_client_secret(migrated, app_id, now=now)
    auth = basic(app_id, secret)
    address = await new_patient()
    callback = Callback()
    await page.route(CALLBACK + "**", callback.handle)

    # --- the catalogue (public), from the navigation, on a phone's width ----------------------
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(web.url + "/")
    menu = page.get_by_role("button", name="Menu")
    await expect(menu).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await menu.click()
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Catalogue d'applications").click()
    await expect(page).to_have_url(web.at("/catalogue"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1, name="Catalogue d'applications")
                 ).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    cards = page.locator("#catalogue-apps > li")
    await expect(cards).to_have_count(2)
    await expect(page.locator("#catalogue-count")).to_have_text("2 applications")
    await check_at_widths(page, "catalogue")

    await page.get_by_label("Catégorie").select_option(label="Diabète")
    await expect(cards).to_have_count(1)
    await expect(cards).to_contain_text(OTHER_NAME)
    await page.get_by_label("Catégorie").select_option(label="Toutes les catégories")
    await expect(cards).to_have_count(2)
    search = page.get_by_label("Rechercher une application")
    await search.fill("BALANCE connectee")  # accents and case ignored
    await search.press("Enter")
    await expect(cards).to_have_count(1)
    await expect(cards).to_contain_text(APP_NAME)
    await expect(cards).to_contain_text("Éditeur : Pesée SAS")
    await expect(cards).to_contain_text("Catégories : Nutrition")
    await search.fill("introuvable quelque part")
    await page.get_by_role("button", name="Rechercher", exact=True).click()
    await expect(cards).to_have_count(0)
    await expect(page.locator("#catalogue-count")).to_have_text(
        "Aucune application ne correspond à votre recherche.")
    await check_at_widths(page, "catalogue-nothing-found")
    await search.fill("pesées")
    await search.press("Enter")
    await expect(cards).to_have_count(1)

    # --- the app's page -------------------------------------------------------------------
    await page.get_by_role("link", name=APP_NAME).click()
    await expect(page).to_have_url(web.at(f"/catalogue/{app_id}"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1, name=APP_NAME)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    scopes = page.locator("#app-scopes > li")
    await expect(scopes).to_have_text([REQUIRED_LABEL,
                                       OPTIONAL_LABEL + " (facultatif : vous pourrez le refuser)"])
    await expect(page.get_by_role("link", name="Politique de confidentialité")).to_have_attribute(
        "href", "https://poids.example.fr/confidentialite")
    await check_at_widths(page, "catalogue-app")
    await page.goto(web.url + "/catalogue/00000000-0000-4000-8000-000000000000")
    await expect(page.get_by_role("heading", level=1, name="Application introuvable")
                 ).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)

    # --- the app sends the patient, signed out, to Carnet: sign in, then back here -----------
    client = AsyncOAuth2Client(client_id=app_id, client_secret=secret,
                               scope=f"{REQUIRED} {OPTIONAL}", redirect_uri=CALLBACK,
                               code_challenge_method="S256")
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(api_server + "/oauth/authorize",
                                                 code_verifier=verifier)
    seen = len(mailbox.messages_to(address))
    await page.goto(url)
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_text("Connectez-vous pour accéder à cette page.")).to_be_visible()
    await expect(page.get_by_role("button", name="Continuer")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)
    await submit_password(page, address, PASSWORD)
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    await page.get_by_label("Code à 6 chiffres").fill(await mailbox.next_code(address, seen=seen))
    await page.get_by_role("button", name="Valider").click()
    await expect(page).to_have_url(web.at("/autorisation?" + urlsplit(url).query),
                                   timeout=FIRST_LOAD_TIMEOUT)

    # --- "Refuser": back to the app with access_denied and its state -----------------------
    await expect(page.locator("#consent-app-name")).to_have_text(APP_NAME,
                                                                 timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#consent-intro")).to_contain_text("éditée par Pesée SAS")
    await check_at_widths(page, "consent")
    await page.get_by_role("button", name="Refuser").click()
    await expect(page).to_have_url(CALLBACK + "?" + urlencode(
        {"error": "access_denied", "state": state}), timeout=FIRST_LOAD_TIMEOUT)
    assert callback.params() == {"error": ["access_denied"], "state": [state]}

    # --- a forged address, an unknown app: said, and nowhere to go ----------------------------
    forged = url.replace("redirect_uri=", "redirect_uri=https%3A%2F%2Fevil.example%2F%3Fx%3D")
    assert forged != url
    await page.goto(forged)
    await expect(page).to_have_url(web.at("/autorisation?" + urlsplit(forged).query),
                                   timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#consent-error")).to_contain_text(
        "n'est pas celle que l'application a déclarée", timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("button", name="Autoriser")).to_have_count(0)
    await expect(page.get_by_role("button", name="Refuser")).to_have_count(0)
    await check_at_widths(page, "consent-forged")
    unknown = api_server + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": "00000000-0000-4000-8000-000000000000",
        "redirect_uri": CALLBACK})
    await page.goto(unknown)
    await expect(page.locator("#consent-error")).to_contain_text(
        "n'est pas référencée", timeout=FIRST_LOAD_TIMEOUT)
    assert len(callback.urls) == 1  # neither went anywhere

    # --- authorise with the keyboard, the optional scope unticked ---------------------------
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(api_server + "/oauth/authorize",
                                                 code_verifier=verifier)
    await page.goto(url)
    required = page.get_by_role("checkbox", name=REQUIRED_LABEL)
    optional = page.get_by_role("checkbox", name=OPTIONAL_LABEL)
    await expect(required).to_be_checked(timeout=FIRST_LOAD_TIMEOUT)
    await expect(required).to_be_disabled()  # required: cannot be unticked
    await expect(optional).to_be_checked()
    await expect(optional).to_be_enabled()
    await optional.focus()
    await page.keyboard.press("Space")
    await expect(optional).not_to_be_checked()
    await check_at_widths(page, "consent-optional-unticked")
    approve = page.get_by_role("button", name="Autoriser")
    await page.keyboard.press("Tab")  # past the privacy policy link...
    while not await approve.evaluate("button => button === document.activeElement"):
        await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    for _ in range(150):  # the browser is sent to the app's address with the code
        if len(callback.urls) == 2:
            break
        await page.wait_for_timeout(100)
    assert len(callback.urls) == 2, callback.urls
    sent = callback.params()
    assert sent["state"] == [state] and "error" not in sent

    # --- the app exchanges the code with its verifier, then introspects ---------------------
    async with httpx.AsyncClient(base_url=api_server, timeout=10) as http:
        exchanged = await http.post("/oauth/token", headers=auth, data={
            "grant_type": "authorization_code", "code": sent["code"][0],
            "redirect_uri": CALLBACK, "code_verifier": verifier})
        assert exchanged.status_code == 200, exchanged.text
        tokens = exchanged.json()
        assert tokens["scope"] == REQUIRED
        seen = (await http.post("/oauth/introspect", headers=auth,
                                data={"token": tokens["access_token"]})).json()
        assert seen["active"] is True and seen["client_id"] == app_id
        assert seen["scope"].split() == [REQUIRED]  # exactly what was granted
        # The app reads the patient's data with its token (GraphQL), within its scope only.
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        read = (await http.post("/graphql", headers=bearer, json={
            "query": WEIGHTS})).json()
        assert "errors" not in read and read["data"]["measurements"]["unit"] == "kg", read
        outside = (await http.post("/graphql", headers=bearer, json={
            "query": "query { documents(first: 1) { totalCount } }"})).json()
        assert outside["data"] is None
        assert outside["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"

    # --- "Applications connectées", from "Mon compte" ---------------------------------------
    await page.goto(web.url + "/mon-compte")
    await page.get_by_role("link", name="Voir mes applications connectées").click()
    await expect(page).to_have_url(web.at("/applications-connectees"),
                                   timeout=FIRST_LOAD_TIMEOUT)
    connected = page.locator("#connected-apps > li")
    await expect(connected).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
    await expect(connected.locator(".connected-app-name")).to_have_text(APP_NAME)
    await expect(connected.locator(".connected-app-scopes > li")).to_have_text([REQUIRED_LABEL])
    await expect(connected.locator(".connected-app-last-used")).to_contain_text(
        "Dernier accès : ")
    await check_at_widths(page, "connected-apps")

    # --- revoke, with the keyboard, after the confirmation ---------------------------------
    revoke = page.get_by_role("button", name=f"Révoquer l'accès de {APP_NAME}")
    await revoke.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("alertdialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(f"{APP_NAME} ne pourra plus lire ni modifier")
    await expect(dialog.get_by_role("button", name="Annuler")).to_be_focused()
    await check_at_widths(page, "connected-apps-confirm")
    await page.keyboard.press("Escape")  # cancelled: nothing revoked, focus back
    await expect(dialog).to_have_count(0)
    await expect(revoke).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(dialog.get_by_role("button", name="Annuler")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Révoquer")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#connected-apps-info")).to_have_text(
        f"{APP_NAME} n'a plus accès à votre dossier.")
    await expect(connected).to_have_count(0)
    await expect(page.locator("#connected-apps-empty")).to_contain_text(
        "Aucune application n'a accès à votre dossier.")
    await check_at_widths(page, "connected-apps-revoked")

    # --- the app's access ended at once -------------------------------------------------------
    async with httpx.AsyncClient(base_url=api_server, timeout=10) as http:
        seen = (await http.post("/oauth/introspect", headers=auth,
                                data={"token": tokens["access_token"]})).json()
        assert seen == {"active": False}
        # The app's next call fails: its token signs nobody in any more.
        after = (await http.post("/graphql", json={"query": WEIGHTS}, headers={
            "Authorization": f"Bearer {tokens['access_token']}"})).json()
        assert after["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED", after
        refreshed = await http.post("/oauth/token", headers=auth, data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 400, refreshed.text
        assert refreshed.json()["error"] == "invalid_grant"
    assert other_id  # the other app was never connected: only in the catalogue

    # --- in English: every text from the catalogues (the web app's and the API's) -----------
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1, name="Connected apps")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#connected-apps-empty")).to_contain_text(
        "No app has access to your record.")
    await check_at_widths(page, "connected-apps-english")
    url, state = client.create_authorization_url(api_server + "/oauth/authorize",
                                                 code_verifier=secrets.token_urlsafe(48))
    await page.goto(url)
    await expect(page.get_by_role("checkbox", name="Read your medical profile (allergies, "
                                  "treatments, measurements...)")).to_be_checked(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#consent-intro")).to_contain_text("published by Pesée SAS")
    await check_at_widths(page, "consent-english")
    await page.get_by_role("button", name="Refuse").click()
    await expect(page).to_have_url(CALLBACK + "?" + urlencode(
        {"error": "access_denied", "state": state}), timeout=FIRST_LOAD_TIMEOUT)
    await page.goto(web.url + "/catalogue")
    await expect(page.get_by_role("heading", level=1, name="App catalogue")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#catalogue-count")).to_have_text("2 apps")
    await page.get_by_role("link", name=APP_NAME).click()
    await expect(page.locator("#app-scopes > li").nth(1)).to_have_text(
        "Add measurements (weight, blood pressure...) to your profile (optional: you may "
        "refuse it)", timeout=FIRST_LOAD_TIMEOUT)
    await check_at_widths(page, "catalogue-app-english")
