"""The web app's two languages: French (the source language, and the default) and English.

Every string of the web app is written in French in the code and goes through one of:

- `t("Mes documents")` in components: a Var that shows the French or the English text according
  to the tab's language (`LanguageState.lang`), so the page never needs recompiling;
- `tf("Bonjour {name}", name=State.first_name)` the same with named placeholders filled by Vars
  (or plain values);
- `self._t("...", **values)` in state handlers (a plain str in the tab's language, for messages
  computed on the server: errors, formatted dates);
- `N_("...")` to mark a constant defined at import time (a list of labels) that is translated
  later with `t()` / `_t()` / `gettext()`.

English translations live in gettext catalogues, `carnet_web/locales/en/LC_MESSAGES/*.po` (one
file per area of the web app, merged at load, read with babel: no compile step). tests/frontend
/test_i18n.py extracts every marked string and fails when one has no translation, when a
translation is stale, or when placeholders differ.

The language is a cookie (`carnet_lang`, a year), so it is remembered across tabs and visits; the
API is told it with `Accept-Language` on every call (state/session.py).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Final

import reflex as rx
from babel.messages.pofile import read_po

DEFAULT_LANGUAGE: Final = "fr"
LANGUAGES: Final = ("fr", "en")
#: How each language names itself, for the switch in the header.
LANGUAGE_NAMES: Final = {"fr": "Français", "en": "English"}
#: babel locale used to format dates and numbers in each language.
BABEL_LOCALES: Final = {"fr": "fr_FR", "en": "en_GB"}
LOCALES_DIR: Final = Path(__file__).parent / "locales"
COOKIE_NAME: Final = "carnet_lang"
COOKIE_MAX_AGE: Final = 365 * 24 * 3600

_PLACEHOLDER: Final = re.compile(r"\{(\w+)\}")


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark a French string for the catalogue; translated where it is shown."""
    return message


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """msgid -> translation, merged from every .po file of `language` (French: empty)."""
    translations: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string and not message.fuzzy:
                    translations[str(message.id)] = str(message.string)
    return translations


def normalise(language: str | None) -> str:
    if not language:
        return DEFAULT_LANGUAGE
    code = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def gettext(language: str, message: str, **values: Any) -> str:
    """`message` (French) in `language`, placeholders filled with `values`."""
    language = normalise(language)
    text = message if language == DEFAULT_LANGUAGE else catalogue(language).get(message, message)
    return text.format(**values) if values else text


def _fill(text: str, values: dict[str, Any]) -> Any:
    """'Bonjour {name} !' with name=<Var> -> a string Var ('Bonjour ' + name + ' !')."""
    if not values:
        return text
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position:match.start()])
        value = values[match.group(1)]
        # A Var formatted into a str becomes a marker that Reflex turns back into the Var when
        # the string is given to a component: the result concatenates in the browser.
        parts.append(f"{value}")
        position = match.end()
    parts.append(text[position:])
    return rx.Var.create("".join(parts))


class LanguageState(rx.State):
    """The tab's language. The base of SessionState, so every page state has `lang` and `_t`."""

    lang: str = rx.Cookie(DEFAULT_LANGUAGE, name=COOKIE_NAME, max_age=COOKIE_MAX_AGE,
                          same_site="lax", path="/")

    @rx.var
    def language(self) -> str:
        """`lang` made safe (a cookie edited by hand can hold anything)."""
        return normalise(self.lang)

    def _t(self, message: str, **values: Any) -> str:
        return gettext(self.lang, message, **values)

    @rx.event
    def set_language(self, language: str) -> rx.event.EventSpec:
        """The switch in the header: remember the language and reload the page, so what the
        server computed in the old language (dates, messages) is computed again.

        The cookie is written by the script itself, before the reload: Reflex writes a cookie
        Var only from a delta that arrives once the page is hydrated, so a click while the
        page was still loading (its on_load handlers calling the API) reloaded it in the old
        language."""
        self.lang = normalise(language)
        return rx.call_script(language_script(self.lang) + "window.location.reload();")

    @rx.event
    def apply_document_language(self, title: str = "") -> rx.event.EventSpec:
        """Tell the browser (and screen readers) which language the page is in, and give the
        tab its title in that language (`title`: the page's French title, from the catalogue;
        Reflex fixes titles in French when it compiles)."""
        language = normalise(self.lang)
        script = f"document.documentElement.lang = {json.dumps(language)};"
        if title:
            script += f"document.title = {json.dumps(gettext(language, title) + ' · Carnet')};"
        return rx.call_script(script)


def language_script(language: str) -> str:
    """JavaScript that stores `language` in the cookie, as the LanguageState Var declares it."""
    cookie = (f"{COOKIE_NAME}={normalise(language)}; path=/; max-age={COOKIE_MAX_AGE}; "
              "samesite=lax")
    return f"document.cookie = {json.dumps(cookie)};"


def t(message: str, **values: Any) -> Any:
    """A component string: French or English according to the tab's language."""
    english = catalogue("en").get(message, message)
    return rx.cond(LanguageState.language == "en", _fill(english, values), _fill(message, values))


def tf(message: str, **values: Any) -> Any:
    """`t()` with named placeholders (`{name}`) filled with Vars or plain values."""
    return t(message, **values)
