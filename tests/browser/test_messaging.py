"""Messagerie in a real browser, against a real API, in French and in English.

- A professional writes to the patient through the API; the patient's open conversation shows
  the new messages live (no reload), marks them read, replies with a document of their record
  attached (the professional's own GraphQL subscription receives the reply), and blocks then
  unblocks the professional. Message text stays plain text; long words and addresses wrap.
- In English: live messages, and a reply sent with the keyboard only (Tab and Enter).
- A professional writes to a patient with the new-conversation form, keyboard only; what to
  fix is said in French and in English; the patient's list shows the conversation live.
- A conversation that is not mine says so. Without a session, the pages send the tab to the
  login page; a revoked session does too.

Every state visited is checked with axe and for sideways scrolling at 390 and 1280 px
(`check_at_widths`; the `page` fixture also checks each `goto` and the last state).

Signed in with the code the API emails to a real SMTP server (`mailbox`); the other side's
session is minted in the API's Redis, as a login would create it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from playwright.async_api import BrowserContext, Page, expect

from backend.identity.lookup import account_by_identifier
from backend.identity.models import Account, Person
from backend.records import services
from backend.records.models import DocumentSource
from tests.browser import a11y
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, sign_in
from tests.factories import create_professional
from tests.messaging_helpers import patient_identity
from tests.test_messaging_live import START, Api, mint_session, subscription

pytestmark = pytest.mark.browser

# The professional's side: every field of the messages the patient sends.
REPLIES = """subscription Replies($c: ID!, $after: String) {
  messageAdded(conversationId: $c, after: $after) {
    body cursor isMine authorName attachments { documentId typeLabel } } }"""
SEND = """mutation Send($c: ID!, $body: String!) { sendMessage(conversationId: $c, body: $body) {
  __typename ... on MessageSent { sentMessage { cursor } } ... on Error { message } } }"""
INBOX = """subscription Inbox { inbox { body isMine conversationId } }"""

SUBJECT = "Résultats de votre bilan"
FIRST = "Bonjour, vos résultats sont arrivés."
# Looks like markup: must show as these very characters, never as HTML.
HOSTILE = 'Voici <b>le détail</b> <img src=x onerror="window.__xss = 1">\nDeuxième ligne'
# Must wrap on a phone instead of pushing the page sideways.
LONG = ("Le compte rendu : https://www.exemple-de-laboratoire.fr/resultats/2026/11/28/"
        "bilan-sanguin-complet-" + "0123456789" * 8 + " et "
        + "anticonstitutionnellement" * 4)
LIVE_TIMEOUT = 10_000
MAX_TABS = 60  # Tab presses before giving up on reaching a control


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture) and
    checks subscribers' sessions often (a revoked one is closed quickly)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port),
            "WS_SESSION_CHECK_SECONDS": "0.5"}


@pytest.fixture(autouse=True)
async def warm(browser_context: BrowserContext, web: WebApp) -> None:
    """The login page loaded once beforehand, with time to spare: the first load of a page
    compiles it (Vite dev mode), which on a busy machine takes longer than `page.goto` waits
    in the sign-in helper. Later loads are quick."""
    tab = await browser_context.new_page()
    try:
        await tab.goto(web.url + "/connexion", timeout=FIRST_LOAD_TIMEOUT)
    finally:
        await tab.close()


@pytest.fixture
async def french_again(browser_context: BrowserContext) -> AsyncIterator[None]:
    """A test that switches to English leaves the browser in French for the next ones (the
    language is a cookie of the shared browser context)."""
    yield
    await browser_context.clear_cookies(name="carnet_lang")


async def patient_document(app: object, patient: Account, title: str) -> str:
    """A document the patient put in their own record."""
    document = await services.store_document(
        app.state.runtime,  # type: ignore[attr-defined]
        person_id=patient.person_id,  # type: ignore[arg-type]
        author=services.Author(account_id=patient.id, professional_id=None),
        source=DocumentSource.PATIENT_UPLOAD,
        data=services.DocumentInput(title, "11502-2", date(2025, 3, 7)),  # lab report
        chunks=services.bytes_chunks(b"Glycemie a jeun : 0,95 g/L\n"),
    )
    return str(document.id)


def open_connections(port: int) -> int:
    """Established TCP connections to the API on `port` (its subscriptions' WebSockets: the
    HTTP clients involved here close their connections after each call)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "01":  # ESTABLISHED
                    count += 1
    return count


async def until_connections(port: int, expected: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while open_connections(port) != expected:
        assert time.monotonic() < deadline, (
            f"{open_connections(port)} connections to the API, expected {expected}")
        await asyncio.sleep(0.1)


async def next_data(ws, field: str, timeout: float = 15.0) -> dict:
    """The next item the other side's subscription receives."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"nothing on the {field} subscription"
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if frame["type"] == "next":
            assert "errors" not in frame["payload"], frame
            return frame["payload"]["data"][field]
        assert frame["type"] not in ("error", "complete"), frame


async def check_at_widths(page: Page, name: str) -> None:
    """axe and sideways scrolling at 390 and 1280 px, the pointer out of the way (a hovered
    navigation link is drawn in a lighter colour: the app shell's business, not this page's)."""
    await page.mouse.move(0, 0)
    await a11y.check_at_widths(page, name)


async def tab_to(page: Page, target, *, shift: bool = False) -> None:
    """Press Tab (Shift+Tab) until `target` has the focus: the keyboard's way there."""
    for _ in range(MAX_TABS):
        if await target.evaluate("node => node === document.activeElement"):
            return
        await page.keyboard.press("Shift+Tab" if shift else "Tab")
    raise AssertionError(f"{MAX_TABS} Tab presses did not reach {target}")


async def to_english(page: Page) -> None:
    """The header's switch (the page reloads in English)."""
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)


async def started_conversation(api: Api, doctor_token: str, patient: Account,
                               body: str = FIRST) -> str:
    started = await api(START, {"input": {"subject": SUBJECT, "body": body,
                                          "patient": await patient_identity(patient)}},
                        doctor_token)
    return started["data"]["startConversation"]["conversation"]["id"]


async def test_live_conversation_reply_with_attachment_and_blocking(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    redis_url: str, api_port: int,
) -> None:
    address = await new_patient()
    patient = await account_by_identifier(address)
    document_id = await patient_document(app, patient, "Bilan sanguin de mars")
    doctor = await create_professional()
    doctor_token = await mint_session(redis_url, doctor)
    api = Api(api_server)
    conversation_id = await started_conversation(api, doctor_token, patient)

    await sign_in(page, web, mailbox, address)

    # The list: subject, who, the last message, unread; it follows new messages too.
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Messagerie").click()
    await expect(page).to_have_url(web.at("/messagerie"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1, name="Messagerie")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    card = page.locator("#conversations > li").filter(has_text=SUBJECT)
    await expect(card).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
    await expect(card).to_contain_text(FIRST)
    await expect(card.locator(".participants")).to_have_text(re.compile(r"^Avec Médecin"))
    await expect(card.locator(".unread-badge")).to_have_text("1 non lu")
    await expect(page.locator("#live-status")).to_have_text("En direct")
    await api.send(conversation_id, "Pouvez-vous me rappeler ?", doctor_token)
    await expect(card.locator(".unread-badge")).to_have_text("2 non lus", timeout=LIVE_TIMEOUT)
    await expect(card).to_contain_text("Pouvez-vous me rappeler ?")
    await expect(card).to_contain_text(re.compile(r"\d{1,2}(er)? \S+ \d{4} à \d\d:\d\d"))
    await check_at_widths(page, "messaging-list-fr")

    # The conversation: its messages, oldest first, then live.
    await card.get_by_role("link").click()
    await expect(page).to_have_url(web.at(f"/messagerie/{conversation_id}"),
                                   timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1, name=SUBJECT)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    messages = page.locator("#messages > li")
    await expect(messages).to_have_count(2)
    await expect(messages.nth(0)).to_contain_text(FIRST)
    await expect(page.locator("#live-status")).to_have_text("En direct")
    log = page.get_by_role("log", name="Messages")
    await expect(log).to_have_attribute("aria-live", "polite")
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloaded

    doctor_seen = await api.send(conversation_id, HOSTILE, doctor_token)
    await expect(messages).to_have_count(3, timeout=LIVE_TIMEOUT)
    body = messages.nth(2).locator(".message-body")
    await expect(body).to_contain_text("Deuxième ligne")
    assert await body.evaluate("node => node.textContent") == HOSTILE
    assert await messages.nth(2).locator("b, img").count() == 0
    assert await page.evaluate("window.__xss") is None
    doctor_seen = await api.send(conversation_id, LONG, doctor_token)
    await expect(messages).to_have_count(4, timeout=LIVE_TIMEOUT)
    await expect(messages.nth(3)).to_contain_text("anticonstitutionnellement")
    assert await page.evaluate("window.__sameDocument") is True
    await check_at_widths(page, "conversation-fr")

    # The reply, with a document of my record: shown once, and received by the professional.
    async with subscription(api_server, doctor_token, REPLIES,
                            {"c": conversation_id, "after": doctor_seen}) as ws:
        await page.get_by_label("Votre réponse").fill("Merci docteur,\nvoici mon bilan.")
        picker = page.get_by_label("Joindre un document de mon dossier")
        await picker.select_option(label="Bilan sanguin de mars (7 mars 2025)")
        attached = page.locator("#attached-documents")
        await expect(attached).to_contain_text("Bilan sanguin de mars")
        await expect(picker).to_have_value("")
        await check_at_widths(page, "conversation-attachment-fr")
        await page.get_by_role("button", name="Envoyer").click()

        await expect(messages).to_have_count(5)
        mine = messages.nth(4)
        await expect(mine).to_contain_text("Vous")
        await expect(mine.locator(".message-body")).to_have_text("Merci docteur,\nvoici mon bilan.")
        await expect(mine.locator(".attachment")).to_contain_text("Bilan sanguin de mars")
        await expect(page.get_by_label("Votre réponse")).to_have_value("")
        await expect(page.get_by_label("Votre réponse")).to_be_focused()
        await expect(attached).to_have_count(0)

        reply = await next_data(ws, "messageAdded")
        assert reply["body"] == "Merci docteur,\nvoici mon bilan."
        assert reply["isMine"] is False
        assert [a["documentId"] for a in reply["attachments"]] == [document_id]

    # The professional answers at once: it comes after my reply (which the subscription
    # brought too, and was not shown twice).
    await api.send(conversation_id, "Bien reçu.", doctor_token)
    await expect(messages).to_have_count(6, timeout=LIVE_TIMEOUT)
    await expect(messages.nth(5)).to_contain_text("Bien reçu.")
    await expect(messages.nth(4)).to_contain_text("Merci docteur")

    # An empty reply: a French error on the text box, nothing sent.
    await page.get_by_role("button", name="Envoyer").click()
    await expect(page.locator("#reply-body-error")).to_have_text(
        "Écrivez votre message avant de l'envoyer.")
    await expect(page.get_by_label("Votre réponse")).to_have_attribute("aria-invalid", "true")
    await expect(messages).to_have_count(6)
    await check_at_widths(page, "conversation-reply-error-fr")

    # Blocking the professional: they can no longer write; unblocking lets them again.
    await page.get_by_role("button", name=re.compile(r"^Bloquer Médecin")).click()
    await expect(page.locator("#messaging-info")).to_contain_text("Vous avez bloqué Médecin")
    await expect(page.locator("#participants .blocked-badge")).to_have_text("Bloqué")
    refused = await api(SEND, {"c": conversation_id, "body": "Encore moi"}, doctor_token)
    assert refused["data"]["sendMessage"]["__typename"] == "BlockedByPatient"
    await check_at_widths(page, "conversation-blocked-fr")

    await page.get_by_role("button", name=re.compile(r"^Débloquer Médecin")).click()
    await expect(page.locator("#messaging-info")).to_contain_text("Vous avez débloqué Médecin")
    await expect(page.locator("#participants .blocked-badge")).to_have_count(0)
    await api.send(conversation_id, "Bien reçu, merci.", doctor_token)
    await expect(messages).to_have_count(7, timeout=LIVE_TIMEOUT)
    await expect(messages.nth(6)).to_contain_text("Bien reçu, merci.")
    assert await page.evaluate("window.__sameDocument") is True

    # A reload: what the last action said is gone; the messages are all there.
    await page.reload()
    await expect(messages).to_have_count(7, timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#messaging-info")).to_have_count(0)
    await expect(page.locator("#reply-body-error")).to_have_count(0)

    # Back to the list: everything that came while the conversation was open is read.
    await page.get_by_role("link", name="Toutes mes conversations").click()
    await expect(page).to_have_url(web.at("/messagerie"))
    await expect(card).to_contain_text("Bien reçu, merci.")
    await expect(card.locator(".unread-badge")).to_have_count(0)

    # Leaving Messagerie closes the tab's subscription (one at a time while it was open).
    await until_connections(api_port, 1)
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mes documents").click()
    await expect(page).to_have_url(web.at("/documents"), timeout=FIRST_LOAD_TIMEOUT)
    await until_connections(api_port, 0)
    await page.go_back()
    await expect(page).to_have_url(web.at("/messagerie"))
    await expect(card).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
    await page.mouse.move(0, 0)  # (for the last state's check, see `check_at_widths`)


async def test_in_english_live_messages_and_a_reply_by_keyboard_only(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    redis_url: str, french_again: None,
) -> None:
    address = await new_patient()
    patient = await account_by_identifier(address)
    doctor_token = await mint_session(redis_url, await create_professional())
    api = Api(api_server)
    conversation_id = await started_conversation(api, doctor_token, patient)
    await sign_in(page, web, mailbox, address)
    await to_english(page)

    await page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Messages").click()
    await expect(page.get_by_role("heading", level=1, name="Messages")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    card = page.locator("#conversations > li").filter(has_text=SUBJECT)
    await expect(card.locator(".unread-badge")).to_have_text("1 unread",
                                                             timeout=FIRST_LOAD_TIMEOUT)
    await expect(card.locator(".participants")).to_have_text(re.compile(r"^With "))
    await expect(card).to_contain_text(re.compile(r"\d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d"))
    await expect(page.locator("#live-status")).to_have_text("Live")
    await check_at_widths(page, "messaging-list-en")

    # Keyboard only, from the top of the page: Tab to the conversation, Enter.
    await page.locator("body").focus()
    link = card.get_by_role("link")
    await tab_to(page, link)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.at(f"/messagerie/{conversation_id}"),
                                   timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1, name=SUBJECT)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#live-status")).to_have_text("Live")
    messages = page.locator("#messages > li")
    await expect(messages).to_have_count(1)
    await expect(messages.nth(0)).to_contain_text(re.compile(r"\d{4} at \d\d:\d\d"))

    # Received live, in English.
    await api.send(conversation_id, "Could you call me back?", doctor_token)
    await expect(messages).to_have_count(2, timeout=LIVE_TIMEOUT)
    await expect(messages.nth(1)).to_contain_text("Could you call me back?")

    # The reply, by keyboard only: Tab to the text box, type, Tab to "Send", Enter.
    box = page.get_by_label("Your reply")
    await tab_to(page, box)
    await page.keyboard.type("Yes, after 5 pm.")
    send = page.get_by_role("button", name="Send")
    await tab_to(page, send)
    await page.keyboard.press("Enter")
    await expect(messages).to_have_count(3)
    await expect(messages.nth(2)).to_contain_text("You")
    await expect(messages.nth(2).locator(".message-body")).to_have_text("Yes, after 5 pm.")
    await expect(box).to_have_value("")
    await expect(box).to_be_focused()
    await check_at_widths(page, "conversation-en")

    # Enter on "Send" with nothing typed: the error, in English, on the text box.
    await tab_to(page, send)
    await page.keyboard.press("Enter")
    await expect(page.locator("#reply-body-error")).to_have_text(
        "Write your message before sending it.")
    await expect(messages).to_have_count(3)
    await check_at_widths(page, "conversation-reply-error-en")

    # A conversation that is not mine (or no longer exists): said so, in English.
    await page.goto(web.url + f"/messagerie/{uuid.uuid4()}")
    await expect(page.locator("#conversation-error")).to_contain_text(
        "This conversation does not exist, or you are not part of it.",
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1, name="Conversation")).to_be_visible()
    await check_at_widths(page, "conversation-not-found-en")

    await page.get_by_role("button", name="Français").click()
    await expect(page.locator("#conversation-error")).to_contain_text(
        "Cette conversation n'existe pas ou vous n'y participez pas.",
        timeout=FIRST_LOAD_TIMEOUT)
    await check_at_widths(page, "conversation-not-found-fr")


async def test_a_professional_writes_to_a_patient_by_keyboard_only(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    redis_url: str, french_again: None,
) -> None:
    doctor_address = f"dr-{uuid.uuid4().hex[:8]}@example.fr"
    await create_professional(email=doctor_address)
    patient = await account_by_identifier(await new_patient())
    person = await Person.get(id=patient.person_id)
    patient_token = await mint_session(redis_url, patient)
    await sign_in(page, web, mailbox, doctor_address, home="/pro")

    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Messagerie").click()
    await expect(page.locator("#no-conversation")).to_contain_text(
        "Vous n'avez encore aucune conversation.", timeout=FIRST_LOAD_TIMEOUT)
    await check_at_widths(page, "messaging-list-professional-fr")

    # Keyboard only: Tab to "Écrire à un patient", Enter: the form opens on its first field.
    await page.locator("body").focus()
    toggle = page.get_by_role("button", name="Écrire à un patient")
    await tab_to(page, toggle)
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    subject = page.get_by_label("Objet", exact=True)
    await expect(subject).to_be_focused()
    await check_at_widths(page, "new-conversation-fr")

    # Sent without a subject: said on the subject, which gets the focus back.
    send = page.locator("#compose-submit")
    await tab_to(page, send)
    await page.keyboard.press("Enter")
    await expect(page.locator("#compose-subject-error")).to_have_text(
        "Donnez un objet à la conversation.")
    await expect(subject).to_be_focused()
    await expect(subject).to_have_attribute("aria-invalid", "true")
    await check_at_widths(page, "new-conversation-error-fr")

    # A trait that does not match: the API's one answer, on the matricule.
    await page.keyboard.type("Suivi de votre traitement")
    await page.keyboard.press("Tab")
    await page.keyboard.type(person.matricule)
    await page.keyboard.press("Tab")
    await page.keyboard.type("Autrenom")
    await tab_to(page, page.get_by_label("Date de naissance"))
    await page.keyboard.type(person.birth_date.strftime("%d/%m/%Y"))
    await tab_to(page, page.get_by_label("Message", exact=True))
    await page.keyboard.type("Bonjour, pouvez-vous passer au cabinet ?")
    await tab_to(page, send)
    await page.keyboard.press("Enter")
    matricule = page.get_by_label("Matricule INS")
    await expect(page.locator("#compose-insMatricule-error")).to_contain_text(
        "Aucun patient", timeout=LIVE_TIMEOUT)
    await expect(matricule).to_be_focused()

    # In English: the form and what to fix.
    await to_english(page)
    await expect(page.locator("#no-conversation")).to_contain_text(
        "You do not have any conversations yet.", timeout=FIRST_LOAD_TIMEOUT)
    await page.get_by_role("button", name="Write to a patient").click()
    await expect(page.get_by_label("Subject", exact=True)).to_be_focused()
    await page.locator("#compose-submit").click()
    await expect(page.locator("#compose-subject-error")).to_have_text(
        "Give the conversation a subject.")
    await check_at_widths(page, "new-conversation-error-en")
    await page.get_by_role("button", name="Cancel").click()  # closed: focus back on the button
    await expect(page.get_by_role("button", name="Write to a patient")).to_be_focused()
    await expect(page.locator("#compose-form")).to_have_count(0)
    await page.get_by_role("button", name="Français").click()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")

    # The right traits: the conversation opens; the patient receives it live.
    await page.get_by_role("button", name="Écrire à un patient").click(
        timeout=FIRST_LOAD_TIMEOUT)
    async with subscription(api_server, patient_token, INBOX, {}) as ws:
        await page.get_by_label("Objet", exact=True).fill("Suivi de votre traitement")
        await page.get_by_label("Matricule INS").fill(person.matricule)
        await page.get_by_label("Nom de naissance").fill(person.birth_name)
        await page.get_by_label("Date de naissance").fill(person.birth_date.strftime("%d/%m/%Y"))
        await page.get_by_label("Message", exact=True).fill(
            "Bonjour, pouvez-vous passer au cabinet ?")
        await page.locator("#compose-submit").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1,
                                      name="Suivi de votre traitement")).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("#messages > li")).to_have_count(1)
        arrived = await next_data(ws, "inbox")
        assert arrived["body"] == "Bonjour, pouvez-vous passer au cabinet ?"
        assert arrived["isMine"] is False
        assert web.at(f"/messagerie/{arrived['conversationId']}").match(page.url)
    await check_at_widths(page, "conversation-professional-fr")


async def test_messaging_pages_need_a_session(
    app: object, clean: None, api_server: str, web: WebApp, page: Page
) -> None:
    for path in ("/messagerie", "/messagerie/7b0c3f5e-0000-4000-8000-000000000000"):
        await page.goto(web.url + path)
        await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("#login-notice")).to_have_text(
            "Connectez-vous pour accéder à cette page.")


async def test_a_revoked_session_sends_the_open_conversation_to_the_login_page(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    redis_url: str,
) -> None:
    address = await new_patient()
    patient = await account_by_identifier(address)
    doctor_token = await mint_session(redis_url, await create_professional())
    api = Api(api_server)
    conversation_id = await started_conversation(api, doctor_token, patient)
    await sign_in(page, web, mailbox, address)
    await page.goto(web.url + f"/messagerie/{conversation_id}")
    await expect(page.locator("#live-status")).to_have_text("En direct",
                                                            timeout=FIRST_LOAD_TIMEOUT)

    # "Se déconnecter partout" from another device: the API closes the tab's subscription.
    elsewhere = await mint_session(redis_url, patient)
    out = await api("mutation { logoutEverywhere { sessionsClosed } }", {}, elsewhere)
    assert out["data"]["logoutEverywhere"]["sessionsClosed"] == 2
    await expect(page).to_have_url(web.at("/connexion"), timeout=LIVE_TIMEOUT)
    await expect(page.locator("#login-notice")).to_have_text(
        "Votre session a expiré. Veuillez vous reconnecter.")
