"""The API's languages: French (the source language of every message) and English.

Every message a client may read (typed errors, notifications, labels) is written in French in
the code, marked with `N_()` where it is defined (so `pybabel extract` and the catalogue test
find it), and translated where it leaves the API with `gettext(message, locale)`. English
translations live in gettext catalogues, `backend/locales/en/LC_MESSAGES/*.po` (several files, one
per area, merged at load; read with babel, no compile step).

The language of the current request is a context variable (`current_locale()`), set from the
request's `Accept-Language` by the middleware (backend/middleware.py; websockets: per operation,
see backend/graphql_view.py); code that runs outside a request (a notification sent for an
event) passes the recipient's language explicitly.

A message with values is translated BEFORE its values are filled in: its msgid has named
placeholders (`N_("Le fichier dépasse {limit} Mo.")`) and travels as a `Message` (msgid +
values) until it is shown; `Message.render(locale)` translates the msgid, then fills in the
values (a value that is itself a `Message`, such as a field label, is translated too; decimal
numbers are written the language's way: "37,5" / "37.5").

Out of the catalogue, on purpose: diagnostics about the protocol itself, written for the
developer of a client and produced mostly by libraries (GraphQL syntax and validation errors of
graphql-core, document limits, malformed JSON bodies, FHIR structure errors of fhir.resources,
unsupported FHIR search parameters). They stay in English, the language of those libraries.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from babel.messages.pofile import read_po

DEFAULT_LOCALE: Final = "fr"
LOCALES: Final = ("fr", "en")
LOCALES_DIR: Final = Path(__file__).parent / "locales"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("carnet_locale",
                                                               default=DEFAULT_LOCALE)


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark a French message for the catalogue; it is translated later, where it is shown."""
    return message


@functools.cache
def catalogue(locale: str) -> dict[str, str]:
    """msgid -> translation for `locale`, from every .po file of that language (French: empty,
    the msgids are French). Fuzzy and empty entries are left out: they fall back to French."""
    translations: dict[str, str] = {}
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=locale):
                if message.id and message.string and not message.fuzzy:
                    translations[str(message.id)] = str(message.string)
    return translations


def normalise(locale: str | None) -> str:
    """'en-GB' / 'EN' / 'en_US' -> 'en'; anything unsupported -> French."""
    if not locale:
        return DEFAULT_LOCALE
    language = locale.strip().replace("_", "-").split("-", 1)[0].lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def negotiate(accept_language: str | None) -> str:
    """The best supported language for an `Accept-Language` header (q-values honoured;
    French when none is supported or the header is missing or malformed)."""
    if not accept_language:
        return DEFAULT_LOCALE
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = tag.strip().replace("_", "-").split("-", 1)[0].lower()
        if language in LOCALES and quality > 0:
            choices.append((-quality, index, language))
    return min(choices)[2] if choices else DEFAULT_LOCALE


def current_locale() -> str:
    return _current.get()


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Run a block in `locale` (normalised); restores the previous language after."""
    token = _current.set(normalise(locale))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def gettext(message: str, locale: str | None = None) -> str:
    """`message` (a French msgid) in `locale`, by default the current request's language.
    A message without translation stays French (the catalogue test keeps that from happening)."""
    language = normalise(locale) if locale is not None else current_locale()
    if language == DEFAULT_LOCALE:
        return message
    return catalogue(language).get(message, message)


def translate(message: str | Message, locale: str | None = None) -> str:
    """A msgid or a `Message`, in `locale` (by default the current request's language)."""
    if isinstance(message, Message):
        return message.render(locale)
    return gettext(message, locale)


def format_number(value: Decimal | float | int, locale: str | None = None) -> str:
    """A number as people read it in `locale`: no exponent, no trailing zeros, French decimal
    comma ("0,3", "37,5", "500"), English decimal point ("0.3")."""
    language = normalise(locale) if locale is not None else current_locale()
    text = format(Decimal(str(value)).normalize(), "f")
    return text.replace(".", ",") if language == "fr" else text


class Message:
    """A message to show: a French msgid and the values of its named placeholders, translated
    only when shown (`render`). `str()` gives the French text (logs, exception arguments)."""

    __slots__ = ("msgid", "values")

    def __init__(self, msgid: str, /, **values: Any) -> None:
        self.msgid = msgid
        self.values: Mapping[str, Any] = values

    def render(self, locale: str | None = None) -> str:
        language = normalise(locale) if locale is not None else current_locale()
        text = gettext(self.msgid, language)
        if not self.values:
            return text
        return text.format(**{name: _shown(value, language)
                              for name, value in self.values.items()})

    def __str__(self) -> str:
        return self.render(DEFAULT_LOCALE)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{dict(self.values)!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Message) and other.msgid == self.msgid
                and dict(other.values) == dict(self.values))

    def __hash__(self) -> int:
        return hash(self.msgid)


def _shown(value: Any, language: str) -> Any:
    if isinstance(value, Message):
        return value.render(language)
    if isinstance(value, Decimal | float):
        return format_number(value, language)
    return value
