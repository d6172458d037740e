"""A document's page in a real browser, against a real API: a PDF uploaded through the page
opens inside Carnet in the pdf.js viewer (a sandboxed iframe: pdf.js paints the pages on a
canvas; previous/next and zoom with the keyboard), an image opens in an <img>, a text document
is offered for download only, someone else's (or a missing) document is "not found"; in French
and in English, checked with axe at 390 and 1280 px, the viewer's own page included.

Signed in with the code the API emails to a real SMTP server (`mailbox`).
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from backend.identity import accounts
from backend.identity.lookup import account_by_identifier
from backend.records import services
from backend.records.models import Document, DocumentSource
from tests.browser import a11y
from tests.browser.documents_helpers import (
    TEXTS,
    VIEWER_FRAME,
    back_to_french,
    canvas_ink,
    check_viewer_at_widths,
    open_documents,
    pdf,
    png,
    row,
    signed_in,
    tab_to,
    upload,
    wait_for_pages,
)
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


async def deposit_text(app: object, address: str, title: str) -> None:
    """A text document from a doctor's software (shown as a download only)."""
    patient = await account_by_identifier(address)
    doctor, _ = await accounts.create_professional(
        rpps=f"{10_000_000_000 + secrets.randbelow(89_999_999_999):011d}",
        profession="Médecin généraliste", practice_name="Cabinet du Parc",
        contact=accounts.ContactInput(email=f"dr-{secrets.token_hex(4)}@example.fr", phone=None,
                                      identifier=None, password=PASSWORD),
    )
    await services.store_document(
        app.state.runtime,  # type: ignore[attr-defined]
        person_id=patient.person_id,  # type: ignore[arg-type]
        author=services.Author(account_id=doctor.id, professional_id=doctor.professional_id),
        source=DocumentSource.PROFESSIONAL_SOFTWARE,
        data=services.DocumentInput(title, "11488-4", date(2025, 1, 20)),
        chunks=services.bytes_chunks(b"Compte rendu de consultation\n"),
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_a_pdf_and_an_image_open_inside_carnet(
    lang: str, app: object, clean: None, api_server: str, web: WebApp, page: Page,
    mailbox: Mailbox, tmp_path: Path,
) -> None:
    words = TEXTS[lang]
    shown: list[str] = []  # the one-time inline links the browser fetched
    page.on("request", lambda request: shown.append(request.url)
            if "/_carnet/affichage/" in request.url else None)
    address = await new_patient()
    await deposit_text(app, address, "Consultation en texte")
    await signed_in(page, web, mailbox, address, lang)
    try:
        await open_documents(page, web, lang)
        document = pdf(pages=2)
        await upload(page, document, filename="compte-rendu.pdf", title="Compte rendu PDF",
                     lang=lang)
        await expect(page.locator("#upload-info")).to_have_text(
            words["added"].format(title="Compte rendu PDF"), timeout=30_000)
        await upload(page, png(), filename="radio.png", title="Radio du genou", lang=lang,
                     type_="IMAGING_REPORT", mime="image/png")
        await expect(page.locator("#upload-info")).to_have_text(
            words["added"].format(title="Radio du genou"), timeout=30_000)
        await expect(row(page, "Consultation en texte").get_by_role(
            "link", name=re.compile("^(Voir|View)"))).to_have_count(0)

        # "Voir", with the keyboard: the document's page, the PDF in Carnet's viewer.
        view = page.get_by_role("link", name=words["view"].format(title="Compte rendu PDF"))
        await tab_to(page, view)
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(  # a first visit compiles the page in Vite: wait
            re.compile(re.escape(web.url) + r"/documents/[0-9a-f-]{36}/?$"),
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Compte rendu PDF", timeout=FIRST_LOAD_TIMEOUT)
        frame_element = page.locator(VIEWER_FRAME)
        await expect(frame_element).to_have_attribute("sandbox", "allow-scripts")
        await expect(frame_element).to_have_attribute(
            "title", words["viewer"].format(title="Compte rendu PDF"))
        frame = await wait_for_pages(page, lang, current=1, pages=2)
        # pdf.js painted the page: the blue band and the text, not a blank canvas.
        ink = await canvas_ink(frame)
        assert ink["width"] > 200 and ink["height"] > 200, ink
        assert ink["blue"] > ink["width"] * 20, ink
        assert ink["ink"] > ink["blue"], ink  # the text too
        # The viewer is sandboxed: an opaque origin, which sees nothing of Carnet.
        assert await frame.evaluate("() => self.origin") == "null"
        assert await frame.evaluate("() => { try { return !!parent.document; }"
                                    " catch (e) { return 'refused'; } }") == "refused"
        await check_viewer_at_widths(page, f"document-view-{lang}-pdf")

        # Next page, zoom and back to the page's width, with the keyboard only.
        viewer = page.frame_locator(VIEWER_FRAME)
        next_page = viewer.get_by_role("button", name=words["next"])
        await tab_to(page, next_page)
        await page.keyboard.press("Enter")
        await wait_for_pages(page, lang, current=2, pages=2)
        await expect(next_page).to_have_attribute("aria-disabled", "true")
        await expect(next_page).to_be_focused()  # the last page: still focusable
        width = (await canvas_ink(frame))["width"]
        zoom_in = viewer.get_by_role("button", name=words["zoom_in"])
        await tab_to(page, zoom_in)
        await page.keyboard.press("Space")
        await expect(viewer.get_by_role("button", name=words["fit"])).to_have_attribute(
            "aria-pressed", "false")
        await frame.wait_for_function(f"document.getElementById('page').width > {width}")
        await tab_to(page, viewer.get_by_role("button", name=words["fit"]))
        await page.keyboard.press("Enter")
        await frame.wait_for_function(f"document.getElementById('page').width === {width}")
        await tab_to(page, viewer.get_by_role("button", name=words["previous"]), back=True)
        await page.keyboard.press("Enter")
        await wait_for_pages(page, lang, current=1, pages=2)

        # "Télécharger" from the document's page: the same bytes.
        async with page.expect_download() as info:
            await page.get_by_role("button", name=words["download"]).click()
        saved = tmp_path / "saved.pdf"
        await (await info.value).save_as(saved)
        assert saved.read_bytes() == document

        # The image, in an <img> with its alternative text.
        await page.get_by_role("link", name=words["back"]).click()
        await expect(page.locator("#documents-count")).to_be_visible()
        await page.get_by_role("link", name=words["view"].format(title="Radio du genou")).click()
        image = page.get_by_role("img", name=words["image"].format(title="Radio du genou"))
        await expect(image).to_be_visible(timeout=30_000)
        await page.wait_for_function(
            "document.getElementById('document-image').complete"
            " && document.getElementById('document-image').naturalWidth === 40")
        await expect(page.locator(VIEWER_FRAME)).to_have_count(0)
        await a11y.check_at_widths(page, f"document-view-{lang}-image")

        # A text document: its page says it can only be downloaded.
        text = await Document.filter(author_professional_id__isnull=False).get()
        await page.goto(f"{web.url}/documents/{text.id}")
        await expect(page.locator("#document-not-shown")).to_contain_text(words["not_shown"],
                                                                           timeout=30_000)
        await expect(page.get_by_role("button", name=words["download"])).to_be_visible()
        await expect(page.locator(VIEWER_FRAME)).to_have_count(0)
        # Each link fetched once (the PDF, the image); none by a page left behind.
        assert len(shown) == len(set(shown)) == 2, shown
    finally:
        await back_to_french(page, web)


async def test_someone_elses_document_is_not_found_like_a_missing_one(
    clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    owner, me = await new_patient(), await new_patient()
    await signed_in(page, web, mailbox, owner)
    await open_documents(page, web)
    await upload(page, pdf(1), filename="a-moi.pdf", title="Le mien")
    await expect(page.locator("#upload-info")).to_be_visible(timeout=30_000)
    theirs = await Document.get()

    other = await page.context.new_page()
    try:
        await signed_in(other, web, mailbox, me)
        for document_id in (str(theirs.id), "00000000-0000-0000-0000-000000000000"):
            await other.goto(f"{web.url}/documents/{document_id}")
            await expect(other.get_by_role("heading", level=1)).to_have_text(
                TEXTS["fr"]["missing"], timeout=30_000)
            await expect(other.locator(VIEWER_FRAME)).to_have_count(0)
            await expect(other.get_by_text("Le mien")).to_have_count(0)
        await a11y.check_at_widths(other, "document-view-missing")
    finally:
        await other.close()
