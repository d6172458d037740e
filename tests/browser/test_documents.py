"""Mes documents in a real browser, against a real API: upload (rx.upload, then the Reflex
backend forwards the file as a GraphQL multipart request), the list with a professional's new
document, filters, a byte-identical download through the Reflex backend, renaming (titles stay
plain text), hiding from professionals, deleting with confirmation; the errors of an unsupported
file and a duplicate; a file over the API's limit refused as soon as it is picked; the whole
upload and the delete dialog with the keyboard only, in French and in English. Each state is
checked with axe at 390 and 1280 px (tests/browser/a11y.py).

The API under test accepts files up to 1 MiB (`MAX_UPLOAD_BYTES`): the web app takes the limit
from the API's reference data. Signed in with the code the API emails to a real SMTP server
(`mailbox`).
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from pathlib import Path

import pytest
from playwright.async_api import Page, Request, expect

from backend.identity import accounts
from backend.identity.lookup import account_by_identifier
from backend.records import services
from backend.records.models import Document, DocumentSource, Visibility
from tests.browser import a11y
from tests.browser.documents_helpers import (
    TEXTS,
    back_to_french,
    date_keys,
    open_documents,
    row,
    signed_in,
    tab_to,
    upload,
)
from tests.browser.reflex_app import WebApp
from tests.browser.signin import Mailbox, new_patient
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

# A PDF header, then bytes a text conversion would mangle (NUL, CR LF, high bytes).
PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\r\n1 0 obj<<>>endobj\n\x00\xff\x80\r\n"
       + secrets.token_bytes(2048) + b"\ntrailer<<>>\n%%EOF\n")


LIMIT = 1024 * 1024  # the API's MAX_UPLOAD_BYTES here
# The chooser opens from the button's key handler: on a loaded machine (CI runs the other
# tests beside these) it once took longer than Playwright's default 15 s.
FILE_CHOOSER_TIMEOUT = 60_000


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` and accepts files up to `LIMIT`
    (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port),
            "MAX_UPLOAD_BYTES": str(LIMIT)}


async def deposit_from_a_doctor(app: object, address: str, title: str) -> None:
    """A document a doctor's software put in the patient's record (not opened yet)."""
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
        data=services.DocumentInput(title, "11488-4", date(2025, 1, 20)),  # consultation
        chunks=services.bytes_chunks(b"Compte rendu de consultation\n"),
    )


async def test_upload_list_download_rename_hide_delete(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    address = await new_patient()
    await deposit_from_a_doctor(app, address, "Consultation du 20 janvier")
    await signed_in(page, web, mailbox, address)
    await open_documents(page, web)
    rows = page.locator("#documents-list li")
    await expect(rows).to_have_count(1)
    doctors = row(page, "Consultation du 20 janvier")
    await expect(doctors.locator(".new")).to_have_text("Nouveau")
    await expect(doctors.locator(".document-author")).to_have_text(
        "Médecin généraliste · Cabinet du Parc")
    await expect(doctors.locator(".document-type")).to_have_text("Compte rendu de consultation")

    # Upload: the file goes to the Reflex backend, which forwards it to the API.
    title = "Bilan sanguin de mars"
    await upload(page, PDF, filename="analyse.pdf", title=title)
    await expect(page.locator("#upload-info")).to_have_text(
        f"« {title} » a été ajouté à votre dossier.", timeout=30_000)
    await expect(page.locator("#upload-chosen")).to_have_text("Aucun fichier choisi.")
    await expect(page.get_by_label("Titre", exact=True)).to_have_value("")  # a fresh form
    await expect(rows).to_have_count(2)
    await expect(page.locator("#documents-count")).to_have_text("2 documents")
    mine = row(page, title)
    await expect(rows.first).to_contain_text(title)  # newest first
    await expect(mine.locator(".document-type")).to_have_text("Compte rendu de biologie")
    await expect(mine.locator(".document-date")).to_have_text("2 mars 2025")
    await expect(mine.locator(".document-author")).to_have_text("Moi")
    await expect(mine.locator(".document-size")).to_have_text("2,1 Ko")
    await expect(mine.locator(".new")).to_have_count(0)  # my own upload is not news to me
    # A PDF can be seen inside Carnet; the doctor's text document only downloaded.
    await expect(mine.get_by_role("link", name=f"Voir « {title} »")).to_have_attribute(
        "href", re.compile(r"^/documents/[0-9a-f-]{36}$"))
    await expect(doctors.get_by_role("link", name=re.compile("^Voir"))).to_have_count(0)
    await a11y.check_at_widths(page, "documents-list")

    # Filters: by type, then by words of the title.
    await page.get_by_label("Type", exact=True).select_option("LAB_REPORT")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(title)
    await page.get_by_role("button", name="Effacer les filtres").click()
    await expect(rows).to_have_count(2)
    await page.get_by_label("Rechercher dans les titres").fill("consultation")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Consultation du 20 janvier")
    await page.get_by_role("button", name="Effacer les filtres").click()
    await expect(rows).to_have_count(2)

    # Download, through the Reflex backend: byte-identical, named after the title.
    async with page.expect_download() as info:
        await mine.get_by_role("button", name="Télécharger").click()
    download = await info.value
    saved = tmp_path / "saved.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == PDF
    assert download.suggested_filename == f"{title}.pdf"
    assert "/_carnet/telechargement/" in download.url
    await expect(page).to_have_url(web.at("/documents"))  # the page stayed
    # The link worked once: the token never went to the browser, the ticket is spent.
    again = await page.request.get(download.url)
    assert again.status == 404

    # The doctor's document: downloaded, it is no longer new.
    async with page.expect_download() as info:
        await doctors.get_by_role("button", name="Télécharger").click()
    assert (await (await info.value).path()).read_bytes() == b"Compte rendu de consultation\n"
    await expect(doctors.locator(".new")).to_have_count(0)

    # Rename: whatever the title holds is shown as text, never as HTML.
    new_title = "Bilan <b>sanguin</b> & co"
    await mine.get_by_role("button", name="Renommer").click()
    await page.get_by_label("Nouveau titre").fill(new_title)
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.locator("#documents-info")).to_have_text("Le document a été renommé.")
    mine = row(page, new_title)
    await expect(mine.locator(".document-title")).to_have_text(new_title)
    assert await page.locator("#documents-list b").count() == 0

    # Hide from professionals, and show again.
    await mine.get_by_role("button", name="Masquer aux professionnels").click()
    await expect(mine.locator(".hidden-from-professionals")).to_have_text(
        "Masqué aux professionnels")
    await expect(page.locator("#documents-info")).to_have_text(
        f"« {new_title} » est maintenant masqué aux professionnels.")
    stored = await Document.filter(author_professional_id__isnull=True).get()
    assert stored.visibility is Visibility.HIDDEN_FROM_PROFESSIONALS
    await mine.get_by_role("button", name="Afficher aux professionnels").click()
    await expect(mine.locator(".hidden-from-professionals")).to_have_count(0)
    await expect(mine.get_by_role("button", name="Masquer aux professionnels")).to_be_visible()
    await stored.refresh_from_db()
    assert stored.visibility is Visibility.NORMAL

    # Delete, after confirming.
    await mine.get_by_role("button", name="Supprimer").click()
    dialog = page.get_by_role("alertdialog")
    await expect(dialog).to_contain_text(new_title)
    await a11y.check_at_widths(page, "documents-delete-dialog")
    await dialog.get_by_role("button", name="Annuler").click()
    await expect(dialog).to_have_count(0)
    await expect(rows).to_have_count(2)
    await mine.get_by_role("button", name="Supprimer").click()
    await dialog.get_by_role("button", name="Supprimer").click()
    await expect(page.locator("#documents-info")).to_have_text(
        f"« {new_title} » a été supprimé de votre dossier.")
    await expect(rows).to_have_count(1)
    await expect(mine).to_have_count(0)
    await expect(page.locator("#documents-count")).to_have_text("1 document")
    await stored.refresh_from_db()
    assert stored.deleted_at is not None


async def test_unsupported_and_duplicate_files_say_so_in_french(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    address = await new_patient()
    await signed_in(page, web, mailbox, address)
    await open_documents(page, web)
    error = page.locator("#upload-error")

    # Named .pdf, but the API reads the bytes: a GIF is refused.
    await upload(page, b"GIF89a" + b"\x00" * 64, filename="image.pdf", title="Pas un PDF")
    await expect(error).to_contain_text(
        "Format non accepté : envoyez un fichier de l'un de ces formats : PDF,", timeout=30_000)
    await expect(page.locator("#documents-empty")).to_contain_text(
        "Votre dossier ne contient encore aucun document.")
    await a11y.check_at_widths(page, "documents-upload-refused")

    # A slow connection: the progress of the file on its way shows.
    scan = PDF + secrets.token_bytes(768 * 1024)
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 256 * 1024,  # bytes per second
    })
    await upload(page, scan, filename="ordonnance.pdf", title="Ordonnance de janvier",
                 type_="PRESCRIPTION_HEALTH_PRODUCTS")
    await expect(page.locator("#upload-progress")).to_be_visible()
    await expect(page.locator("#upload-status")).to_have_text(
        re.compile(r"^Envoi du fichier… ([1-9]|[1-9]\d) %$"))
    await expect(page.locator("#upload-info")).to_have_text(
        "« Ordonnance de janvier » a été ajouté à votre dossier.", timeout=30_000)
    await cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1,
    })
    await expect(page.locator("#upload-progress")).to_have_count(0)
    await expect(error).to_have_count(0)
    await expect(page.locator("#documents-list .document-size")).to_have_text("770 Ko")

    # The same bytes again, under another name: already there, and where.
    await upload(page, scan, filename="copie.pdf", title="Copie")
    await expect(error).to_contain_text("Ce document est déjà dans votre dossier.",
                                        timeout=30_000)
    await expect(page.locator("#upload-duplicate")).to_have_text(
        "Il s'y trouve sous le titre « Ordonnance de janvier » (document du 2 mars 2025).")
    await expect(page.locator("#documents-list li")).to_have_count(1)
    await page.get_by_role("link", name="Voir ce document dans la liste").click()
    existing = page.locator("#documents-list li").first
    await expect(existing).to_be_in_viewport()
    assert page.url.endswith("#" + (await existing.get_attribute("id") or "?"))
    await expect(error).to_contain_text("Ce document est déjà dans votre dossier.")


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_upload_and_delete_with_the_keyboard_only(
    lang: str, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    """Tab, Enter and Space only, from the top of the page: the skip link, the file chooser,
    a form error, a file over the API's limit refused as soon as it is picked (nothing is
    sent), the upload, then the delete dialog. Messages of a finished action do not outlive the
    visit (another page and back, or a reload)."""
    words = TEXTS[lang]
    address = await new_patient()
    await signed_in(page, web, mailbox, address, lang)
    try:
        await open_documents(page, web, lang)
        sent: list[str] = []

        def on_request(request: Request) -> None:
            if "/_upload" in request.url:
                sent.append(request.url)

        page.on("request", on_request)
        await page.reload()  # from the very top of the page, as a visitor arrives
        await expect(page.get_by_role("button", name=words["add"])).to_be_enabled(
            timeout=30_000)
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name=words["skip"])).to_be_focused()
        await page.keyboard.press("Enter")
        choose = page.get_by_role("button", name=words["choose"])
        await tab_to(page, choose)

        # A file over the limit: refused when picked, before anything is sent.
        async with page.expect_file_chooser(timeout=FILE_CHOOSER_TIMEOUT) as chooser:
            await page.keyboard.press("Enter")
        await (await chooser.value).set_files(files=[{
            "name": "scanner.pdf", "mimeType": "application/pdf",
            "buffer": PDF + secrets.token_bytes(LIMIT)}])
        await expect(page.locator("#upload-file-error")).to_have_text(words["too_large"])
        await expect(page.locator("#upload-chosen")).to_have_text(words["none_chosen"])
        await a11y.check_at_widths(page, f"documents-{lang}-file-too-large")
        assert sent == []

        # The right file, with Space this time; then the form without a title.
        await expect(choose).to_be_focused()
        async with page.expect_file_chooser(timeout=FILE_CHOOSER_TIMEOUT) as chooser:
            await page.keyboard.press("Space")
        await (await chooser.value).set_files(files=[{
            "name": "bilan.pdf", "mimeType": "application/pdf", "buffer": PDF}])
        await expect(page.locator("#upload-chosen")).to_have_text(
            words["chosen"].format(name="bilan.pdf"))
        await expect(page.locator("#upload-file-error")).to_have_count(0)
        submit = page.get_by_role("button", name=words["add"])
        await tab_to(page, submit)
        await page.keyboard.press("Enter")
        title_field = page.get_by_label(words["title"], exact=True)
        await expect(page.locator("#upload-title-error")).to_have_text(words["title_required"])
        await expect(title_field).to_have_attribute("aria-invalid", "true")
        await a11y.check_at_widths(page, f"documents-{lang}-form-error")
        assert sent == []

        await tab_to(page, title_field, back=True)
        await page.keyboard.type("Bilan au clavier")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label(words["type"])).to_be_focused()
        await page.keyboard.press("ArrowDown")  # the first type of the API's list
        await page.keyboard.press("Tab")
        await expect(page.get_by_label(words["date"])).to_be_focused()
        await page.keyboard.type(await date_keys(page, "2025-03-02"))
        await tab_to(page, submit)
        await page.keyboard.press("Space")
        info = page.locator("#upload-info")
        await expect(info).to_have_text(words["added"].format(title="Bilan au clavier"),
                                        timeout=30_000)
        assert len(sent) == 1
        mine = row(page, "Bilan au clavier")
        await expect(mine.locator(".document-date")).to_have_text(
            "2 mars 2025" if lang == "fr" else "2 March 2025")

        # Deleting asks first; the dialog starts on "Annuler", Escape closes it, focus comes
        # back; then confirmed, with the keyboard.
        delete = mine.get_by_role("button", name=words["delete"].format(title="Bilan au clavier"))
        await tab_to(page, delete)
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("alertdialog", name=words["dialog"])
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_role("button", name=words["cancel"])).to_be_focused()
        await a11y.check_at_widths(page, f"documents-{lang}-delete-dialog")
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(delete).to_be_focused()

        # What the upload said does not outlive the visit.
        await expect(info).to_be_visible()
        await page.get_by_role("navigation", name=words["nav"]).get_by_role(
            "link", name=words["documents"]).click()  # the same page, visited again
        await page.goto(web.url + "/")
        await open_documents(page, web, lang)
        await expect(mine).to_have_count(1)
        await expect(info).to_have_count(0)

        await tab_to(page, delete)
        await page.keyboard.press("Enter")
        await expect(dialog).to_be_visible()
        await page.keyboard.press("Tab")
        await expect(dialog.get_by_role("button", name=words["confirm"])).to_be_focused()
        await page.keyboard.press("Enter")
        deleted = page.locator("#documents-info")
        await expect(deleted).to_have_text(words["deleted"].format(title="Bilan au clavier"))
        await expect(mine).to_have_count(0)
        await page.reload()
        await expect(page.locator("#documents-count")).to_be_visible(timeout=30_000)
        await expect(page.get_by_role("button", name=words["add"])).to_be_enabled()
        await expect(deleted).to_have_count(0)
    finally:
        await back_to_french(page, web)
