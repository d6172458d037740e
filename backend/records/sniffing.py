"""Content type from the bytes themselves, never from the client's claim.

Accepted: PDF, JPEG, PNG, plain UTF-8 text, and HL7 CDA R2 XML. Only the first bytes are
needed (SNIFF_BYTES); everything else is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backend.i18n import N_

SNIFF_BYTES = 4096

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
TEXT = "text/plain; charset=utf-8"
CDA = "application/hl7-cda+xml"

ACCEPTED = (PDF, JPEG, PNG, TEXT, CDA)

_CDA_ROOT = re.compile(rb"<(?:\w+:)?ClinicalDocument\b[^>]*urn:hl7-org:v3", re.S)
_REFUSED_SIGNATURES = (b"GIF87a", b"GIF89a", b"RIFF", b"#!", b"{\\rtf", b"%!PS")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sniff(head: bytes, *, complete: bool) -> str | None:
    """The content type of a document starting with `head` (None: not accepted).

    `complete` says whether `head` is the whole document (a short file): a UTF-8 sequence cut
    at the end of a longer head is then not an error.
    """
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(_REFUSED_SIGNATURES):
        return None  # known formats whose first bytes happen to be printable
    body = head.removeprefix(b"\xef\xbb\xbf")
    if not body.strip():
        return None
    if body.lstrip().startswith(b"<"):
        return CDA if _CDA_ROOT.search(body) else None
    if _CONTROL.search(body):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is fine; anything else is binary.
        if complete or exc.start < len(body) - 4:
            return None
    return TEXT


EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png", TEXT: "txt", CDA: "xml"}



@dataclass(frozen=True)
class ContentKind:
    """An accepted content type as people and file pickers know it."""

    content_type: str  # as stored and served
    label: str  # msgid
    extensions: tuple[str, ...]  # file name extensions a picker offers
    picker_types: tuple[str, ...]  # media types browsers give such files


KINDS = (
    ContentKind(PDF, N_("PDF"), (".pdf",), (PDF,)),
    ContentKind(JPEG, N_("Image JPEG"), (".jpg", ".jpeg"), (JPEG,)),
    ContentKind(PNG, N_("Image PNG"), (".png",), (PNG,)),
    ContentKind(TEXT, N_("Texte"), (".txt",), ("text/plain",)),
    ContentKind(CDA, N_("Document CDA (XML)"), (".xml",), ("text/xml", "application/xml")),
)
