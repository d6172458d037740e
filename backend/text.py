"""Cleaning user-supplied labels (document titles, file names, conversation subjects).

Control characters (Unicode category Cc: NUL, escape, ...) and format characters (Cf: the
bidirectional overrides and isolates U+202A-U+202E and U+2066-U+2069, the marks U+200E/U+200F,
zero-width characters, the BOM ...) are STRIPPED, never stored: they cannot be seen, yet they can
reorder what a reader sees ("rapport\u202efdp.exe" shows as "rapportexe.pdf"), cut a string
short (NUL) or forge lines in a file name. Whitespace controls (tab, newline) become spaces in
a single-line label. Core module: it imports no domain.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE = {"Cc", "Cf"}
_KEPT_IN_TEXT = {"\n", "\t"}


def _visible(char: str) -> bool:
    return unicodedata.category(char) not in _INVISIBLE


def clean_label(value: str) -> str:
    """One line of visible text: controls and format characters removed, whitespace runs
    (tabs and newlines included) collapsed to one space, ends trimmed."""
    spaced = "".join(" " if char.isspace() else char for char in value)
    return " ".join("".join(char for char in spaced if _visible(char)).split())


def clean_text(value: str) -> str:
    """Multi-line text: the same characters removed, newlines and tabs kept."""
    return "".join(char for char in value
                   if char in _KEPT_IN_TEXT or _visible(char)).strip()
