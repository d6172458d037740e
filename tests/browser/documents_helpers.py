"""What the documents' browser tests share: real files (a PDF pdf.js can render, a PNG), the
upload through the page, the language of the tab, keyboard-only navigation, and axe inside the
sandboxed PDF viewer (the `page` fixture checks the page around it, not the frame)."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

from playwright.async_api import Frame, Locator, Page, expect

from tests.browser import a11y, axe
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, sign_in

VIEWER_FRAME = "#document-viewer-frame"


def pdf(pages: int = 2) -> bytes:
    """A valid PDF of `pages` A4 pages, each with a dark blue band and 'Page n' in Helvetica
    (one of the 14 standard fonts: not embedded, pdf.js uses its own copy)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font = 3 + 2 * pages
    for i in range(pages):
        content = (f"0.2 0.3 0.7 rg 50 700 495 60 re f BT /F1 36 Tf 0 0 0 rg 72 600 Td "
                   f"(Page {i + 1}) Tj ET").encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> "
                       f"/Contents {4 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def png(width: int = 40, height: int = 30) -> bytes:
    """A plain red PNG."""
    rows = b"".join(b"\x00" + bytes([200, 40, 40]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


#: The texts the tests look for, in each language.
TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "nav": "Navigation principale", "documents": "Mes documents", "add": "Ajouter au dossier",
        "title": "Titre", "type": "Type de document", "date": "Date du document",
        "chosen": "Fichier choisi : {name}", "none_chosen": "Aucun fichier choisi.",
        "added": "« {title} » a été ajouté à votre dossier.", "view": "Voir « {title} »",
        "delete": "Supprimer « {title} »", "cancel": "Annuler", "confirm": "Supprimer",
        "deleted": "« {title} » a été supprimé de votre dossier.",
        "too_large": "Fichier trop volumineux : 1 Mo au maximum.",
        "title_required": "Le titre est obligatoire.", "skip": "Aller au contenu",
        "choose": "Choisir un fichier", "download": "Télécharger",
        "page": "Page {page} sur {pages}", "next": "Page suivante", "previous": "Page précédente",
        "zoom_in": "Zoom avant", "fit": "Ajuster à la largeur",
        "viewer": "Visionneuse PDF : {title}", "image": "Image du document « {title} »",
        "not_shown": "Ce type de document ne peut pas être affiché dans Carnet.",
        "missing": "Document introuvable", "back": "Retour à mes documents",
        "dialog": "Supprimer ce document ?",
    },
    "en": {
        "nav": "Main navigation", "documents": "My documents", "add": "Add to my record",
        "title": "Title", "type": "Type of document", "date": "Date of the document",
        "chosen": "File chosen: {name}", "none_chosen": "No file chosen.",
        "added": "“{title}” has been added to your record.", "view": "View “{title}”",
        "delete": "Delete “{title}”", "cancel": "Cancel", "confirm": "Delete",
        "deleted": "“{title}” has been deleted from your record.",
        "too_large": "This file is too large. The maximum is 1 MB.",
        "title_required": "Enter a title.", "skip": "Skip to content",
        "choose": "Choose a file", "download": "Download",
        "page": "Page {page} of {pages}", "next": "Next page", "previous": "Previous page",
        "zoom_in": "Zoom in", "fit": "Fit to width",
        "viewer": "PDF viewer: {title}", "image": "Image of the document “{title}”",
        "not_shown": "This type of document cannot be shown in Carnet.",
        "missing": "Document not found", "back": "Back to my documents",
        "dialog": "Delete this document?",
    },
}


async def signed_in(page: Page, web: WebApp, mailbox: Mailbox, address: str,
                    lang: str = "fr") -> None:
    """Sign in (in French: the login helpers read French), then switch to `lang`. The login
    page is first opened with the long first-load timeout: on a busy machine Vite may take
    longer than a navigation's default to compile it."""
    await page.goto(web.url + "/connexion", timeout=FIRST_LOAD_TIMEOUT)
    await sign_in(page, web, mailbox, address)
    await use_language(page, lang)


async def use_language(page: Page, lang: str) -> None:
    """Switch the tab (signed in already) to `lang` with the header's switch."""
    if lang == "en":
        await page.get_by_role("button", name="English").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT)


async def back_to_french(page: Page, web: WebApp) -> None:
    """The language is a cookie of the (shared) browser: leave it as the next test expects."""
    await page.context.add_cookies([{"name": "carnet_lang", "value": "fr", "url": web.url}])


async def open_documents(page: Page, web: WebApp, lang: str = "fr") -> None:
    words = TEXTS[lang]
    await page.get_by_role("navigation", name=words["nav"]).get_by_role(
        "link", name=words["documents"]).click()
    await expect(page).to_have_url(web.at("/documents"))
    await expect(page.locator("#documents-count")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("button", name=words["add"])).to_be_enabled()
    await expect(page.locator("#upload-formats")).not_to_be_empty()  # the API's lists are in


async def upload(page: Page, content: bytes, *, filename: str, title: str,
                 type_: str = "LAB_REPORT", clinical_date: str = "2025-03-02",
                 lang: str = "fr", mime: str = "application/pdf") -> None:
    words = TEXTS[lang]
    await page.locator("input[type=file]").set_input_files(
        files=[{"name": filename, "mimeType": mime, "buffer": content}]
    )
    await expect(page.locator("#upload-chosen")).to_have_text(
        words["chosen"].format(name=filename))
    await page.get_by_label(words["title"], exact=True).fill(title)
    await page.get_by_label(words["type"]).select_option(type_)
    await page.get_by_label(words["date"]).fill(clinical_date)
    await page.get_by_role("button", name=words["add"]).click()


def row(page: Page, title: str) -> Locator:
    return page.locator("#documents-list li").filter(
        has=page.locator(".document-title", has_text=title))


async def tab_to(page: Page, target: Locator, *, limit: int = 60, back: bool = False) -> None:
    """Press Tab (Shift+Tab with `back`) until `target` has the focus: keyboard only."""
    for _ in range(limit):
        if await target.evaluate("el => el === el.ownerDocument.activeElement"
                                 " && el.ownerDocument.hasFocus()"):
            return
        await page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{target} never got the focus in {limit} presses of Tab")


def viewer_frame(page: Page) -> Frame:
    frame = page.frame(url=re.compile(r"/_carnet/visionneuse/"))
    assert frame is not None, "no PDF viewer frame"
    return frame


async def wait_for_pages(page: Page, lang: str, *, current: int, pages: int) -> Frame:
    """The viewer shows page `current` of `pages`, rendered."""
    viewer = page.frame_locator(VIEWER_FRAME)
    await expect(viewer.locator("#page-status")).to_have_text(
        TEXTS[lang]["page"].format(page=current, pages=pages), timeout=30_000)
    frame = viewer_frame(page)
    await frame.wait_for_function(f"document.documentElement.dataset.rendered === '{current}'")
    return frame


# How much of the canvas pdf.js painted: pixels that are not white (the page's background).
_INK_JS = """() => {
  const canvas = document.getElementById('page');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0, blue = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) ink++;
    if (data[i + 2] > 120 && data[i] < 90) blue++;
  }
  return {width: canvas.width, height: canvas.height, ink, blue};
}"""


async def canvas_ink(frame: Frame) -> dict[str, int]:
    return await frame.evaluate(_INK_JS)


_AXE_IN_FRAME_JS = """async (tags) => {
  const results = await window.axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
  });
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, impact: n.impact,
                              summary: n.failureSummary})),
  }));
}"""


async def viewer_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core inside the sandboxed viewer (its CSP refuses injected <script>: axe is
    evaluated there through the browser's debugging protocol instead)."""
    frame = viewer_frame(page)
    if not await frame.evaluate("() => typeof window.axe === 'object'"):
        await frame.evaluate(axe.script())
    return await frame.evaluate(_AXE_IN_FRAME_JS, list(a11y.AXE_TAGS))


async def check_viewer_at_widths(page: Page, name: str) -> None:
    """The page around the viewer (check_page) and the viewer itself, at 390 and 1280 px."""
    async for width in a11y.each_width(page):
        await a11y.check_page(page, name)
        violations = await viewer_violations(page)
        assert not violations, a11y.format_violations(
            violations, context=f"{name} (the PDF viewer at {width} px)")
        scroll = await viewer_frame(page).evaluate(
            "document.scrollingElement.scrollWidth <= window.innerWidth")
        assert scroll, f"{name}: the viewer scrolls sideways at {width} px"


_DATE_ORDER: list[str] = []  # "DMY" or "MDY", probed once


async def date_keys(page: Page, iso: str) -> str:
    """What is typed into a date field, in the order of its segments. Chromium lays a date field
    out in its own ICU locale, not the context's `locale` (here fr-FR) nor the page's language,
    so the order is probed once, on a blank tab: type 01, 02, 2003 and read the value."""
    if not _DATE_ORDER:
        probe = await page.context.new_page()
        try:
            await probe.set_content('<input type="date" id="probe" aria-label="probe">')
            await probe.focus("#probe")
            await probe.keyboard.type("01022003")
            value = await probe.eval_on_selector("#probe", "el => el.value")
        finally:
            await probe.close()
        assert value in ("2003-02-01", "2003-01-02"), value
        _DATE_ORDER.append("DMY" if value == "2003-02-01" else "MDY")
    year, month, day = iso.split("-")
    return f"{day}{month}{year}" if _DATE_ORDER[0] == "DMY" else f"{month}{day}{year}"
