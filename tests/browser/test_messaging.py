"""Messagerie in a real browser, against a real API: a professional writes to the patient
through the API; the patient's open conversation shows the new messages live (no reload),
marks them read, replies with a document of their record attached (the professional's own
GraphQL subscription receives the reply), and blocks then unblocks the professional. Message
text stays plain text. Without a session, the pages send the tab to the login page.

Signed in with the code the API emails to a real SMTP server (`mailbox`); the professional's
session is minted in the API's Redis, as a login would create it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import date

import pytest
from playwright.async_api import Page, expect

from backend.identity.lookup import account_by_identifier
from backend.identity.models import Account
from backend.records import services
from backend.records.models import DocumentSource
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

SUBJECT = "Résultats de votre bilan"
FIRST = "Bonjour, vos résultats sont arrivés."
# Looks like markup: must show as these very characters, never as HTML.
HOSTILE = 'Voici <b>le détail</b> <img src=x onerror="window.__xss = 1">\nDeuxième ligne'
LIVE_TIMEOUT = 10_000


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture) and
    checks subscribers' sessions often (a revoked one is closed quickly)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port),
            "WS_SESSION_CHECK_SECONDS": "0.5"}


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


async def next_message(ws, timeout: float = 15.0) -> dict:
    """The next message the professional's subscription receives."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no message on the professional's subscription"
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if frame["type"] == "next":
            assert "errors" not in frame["payload"], frame
            return frame["payload"]["data"]["messageAdded"]
        assert frame["type"] not in ("error", "complete"), frame


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
    started = await api(START, {"input": {"subject": SUBJECT, "body": FIRST,
                                          "patient": await patient_identity(patient)}},
                        doctor_token)
    conversation_id = started["data"]["startConversation"]["conversation"]["id"]

    await sign_in(page, web, mailbox, address)

    # The list: subject, who, the last message, unread; it follows new messages too.
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Messagerie").click()
    await expect(page).to_have_url(web.url + "/messagerie")
    card = page.locator("#conversations > li").filter(has_text=SUBJECT)
    await expect(card).to_have_count(1, timeout=FIRST_LOAD_TIMEOUT)
    await expect(card).to_contain_text(FIRST)
    await expect(card.locator(".participants")).to_have_text(re.compile(r"^Avec Médecin"))
    await expect(card.locator(".unread-badge")).to_have_text("1 non lu")
    await expect(page.locator("#live-status")).to_have_text("En direct")
    await api.send(conversation_id, "Pouvez-vous me rappeler ?", doctor_token)
    await expect(card.locator(".unread-badge")).to_have_text("2 non lus", timeout=LIVE_TIMEOUT)
    await expect(card).to_contain_text("Pouvez-vous me rappeler ?")

    # The conversation: its messages, oldest first, then live.
    await card.get_by_role("link").click()
    await expect(page).to_have_url(web.url + f"/messagerie/{conversation_id}")
    await expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    messages = page.locator("#messages > li")
    await expect(messages).to_have_count(2)
    await expect(messages.nth(0)).to_contain_text(FIRST)
    await expect(page.locator("#live-status")).to_have_text("En direct")
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloaded

    doctor_seen = await api.send(conversation_id, HOSTILE, doctor_token)
    await expect(messages).to_have_count(3, timeout=LIVE_TIMEOUT)
    body = messages.nth(2).locator(".message-body")
    await expect(body).to_contain_text("Deuxième ligne")
    assert await body.evaluate("node => node.textContent") == HOSTILE
    assert await messages.nth(2).locator("b, img").count() == 0
    assert await page.evaluate("window.__xss") is None
    assert await page.evaluate("window.__sameDocument") is True

    # The reply, with a document of my record: shown once, and received by the professional.
    async with subscription(api_server, doctor_token, REPLIES,
                            {"c": conversation_id, "after": doctor_seen}) as ws:
        await page.get_by_label("Votre réponse").fill("Merci docteur,\nvoici mon bilan.")
        picker = page.get_by_label("Joindre un document de mon dossier")
        await picker.select_option(label="Bilan sanguin de mars (7 mars 2025)")
        attached = page.locator("#attached-documents")
        await expect(attached).to_contain_text("Bilan sanguin de mars")
        await expect(picker).to_have_value("")
        await page.get_by_role("button", name="Envoyer").click()

        await expect(messages).to_have_count(4)
        mine = messages.nth(3)
        await expect(mine).to_contain_text("Vous")
        await expect(mine.locator(".message-body")).to_have_text("Merci docteur,\nvoici mon bilan.")
        await expect(mine.locator(".attachment")).to_contain_text("Bilan sanguin de mars")
        await expect(page.get_by_label("Votre réponse")).to_have_value("")
        await expect(attached).to_have_count(0)

        reply = await next_message(ws)
        assert reply["body"] == "Merci docteur,\nvoici mon bilan."
        assert reply["isMine"] is False
        assert [a["documentId"] for a in reply["attachments"]] == [document_id]

    await page.wait_for_timeout(700)
    await expect(messages).to_have_count(4)  # the subscription's copy was not added again

    # An empty reply: a French error, nothing sent.
    await page.get_by_role("button", name="Envoyer").click()
    await expect(page.locator("#reply-error")).to_have_text(
        "Écrivez votre message avant de l'envoyer.")
    await expect(messages).to_have_count(4)

    # Blocking the professional: they can no longer write; unblocking lets them again.
    await page.get_by_role("button", name=re.compile(r"^Bloquer Médecin")).click()
    await expect(page.locator("#messaging-info")).to_contain_text("Vous avez bloqué Médecin")
    await expect(page.locator("#participants .blocked-badge")).to_have_text("Bloqué")
    refused = await api(SEND, {"c": conversation_id, "body": "Encore moi"}, doctor_token)
    assert refused["data"]["sendMessage"]["__typename"] == "BlockedByPatient"

    await page.get_by_role("button", name=re.compile(r"^Débloquer Médecin")).click()
    await expect(page.locator("#messaging-info")).to_contain_text("Vous avez débloqué Médecin")
    await expect(page.locator("#participants .blocked-badge")).to_have_count(0)
    await api.send(conversation_id, "Bien reçu, merci.", doctor_token)
    await expect(messages).to_have_count(5, timeout=LIVE_TIMEOUT)
    await expect(messages.nth(4)).to_contain_text("Bien reçu, merci.")
    assert await page.evaluate("window.__sameDocument") is True

    # Back to the list: everything that came while the conversation was open is read.
    await page.get_by_role("link", name="Toutes mes conversations").click()
    await expect(page).to_have_url(web.url + "/messagerie")
    await expect(card).to_contain_text("Bien reçu, merci.")
    await expect(card.locator(".unread-badge")).to_have_count(0)

    # Leaving Messagerie closes the tab's subscription (one at a time while it was open).
    await until_connections(api_port, 1)
    await page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Agenda").click()
    await expect(page).to_have_url(web.url + "/agenda")
    await until_connections(api_port, 0)


async def test_messaging_pages_need_a_session(
    app: object, clean: None, api_server: str, web: WebApp, page: Page
) -> None:
    for path in ("/messagerie", "/messagerie/7b0c3f5e-0000-4000-8000-000000000000"):
        await page.goto(web.url + path)
        await expect(page).to_have_url(web.url + "/connexion", timeout=FIRST_LOAD_TIMEOUT)
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
    started = await api(START, {"input": {"subject": SUBJECT, "body": FIRST,
                                          "patient": await patient_identity(patient)}},
                        doctor_token)
    conversation_id = started["data"]["startConversation"]["conversation"]["id"]
    await sign_in(page, web, mailbox, address)
    await page.goto(web.url + f"/messagerie/{conversation_id}")
    await expect(page.locator("#live-status")).to_have_text("En direct",
                                                            timeout=FIRST_LOAD_TIMEOUT)

    # "Se déconnecter partout" from another device: the API closes the tab's subscription.
    elsewhere = await mint_session(redis_url, patient)
    out = await api("mutation { logoutEverywhere { sessionsClosed } }", {}, elsewhere)
    assert out["data"]["logoutEverywhere"]["sessionsClosed"] == 2
    await expect(page).to_have_url(web.url + "/connexion", timeout=LIVE_TIMEOUT)
    await expect(page.locator("#login-notice")).to_have_text(
        "Votre session a expiré. Veuillez vous reconnecter.")
