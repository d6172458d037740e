"""The web app's message catalogue: every marked string has an English translation, no
translation is stale, placeholders match; and no page passes French text to a component
without going through the catalogue."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from carnet_web import i18n

WEB_APP = Path(i18n.__file__).parent
#: Functions whose first argument is a French msgid (`gettext(language, message)`: the second).
KEYWORDS = {"t": None, "tf": None, "N_": None, "_t": None, "gettext": (2,)}
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def extracted() -> dict[str, list[str]]:
    """msgid -> where it is used ('file:line')."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(WEB_APP), method_map=[("**.py", "python")], keywords=KEYWORDS,
    ):
        if isinstance(message, tuple):
            message = message[0]
        if message:
            found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def test_every_string_of_the_web_app_has_an_english_translation() -> None:
    english = i18n.catalogue("en")
    missing = {msgid: places[0] for msgid, places in extracted().items() if msgid not in english}
    lines = [f"  {place}: {msgid!r}" for msgid, place in sorted(missing.items(),
                                                                  key=lambda kv: kv[1])]
    assert not missing, "no English in carnet_web/locales/en/LC_MESSAGES/*.po for:\n" + (
        "\n".join(lines))


def test_no_translation_is_stale() -> None:
    used = extracted()
    stale = sorted(msgid for msgid in i18n.catalogue("en") if msgid not in used)
    assert not stale, f"translations of strings the web app no longer uses: {stale}"


def test_placeholders_are_the_same_in_both_languages() -> None:
    for msgid, english in i18n.catalogue("en").items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(english)), msgid


def test_runtime_translation_and_fallback() -> None:
    assert i18n.gettext("en", "Mes documents") == "My documents"
    assert i18n.gettext("fr", "Mes documents") == "Mes documents"
    assert i18n.gettext("de-DE", "Mes documents") == "Mes documents"  # unsupported: French
    assert i18n.gettext("en-GB", "Mes documents") == "My documents"


def test_component_strings_switch_language_in_the_browser() -> None:
    rendered = str(i18n.t("Mes documents"))
    assert '"My documents"' in rendered and '"Mes documents"' in rendered


# Components whose positional text arguments are what people read.
TEXT_COMPONENTS = {"text", "heading", "button", "link", "badge", "strong", "em", "label",
                   "option", "title", "description", "th", "td", "li", "p", "span", "code", "a"}
#: Keyword arguments that people read (or hear), whatever the function.
TEXT_KEYWORDS = {"placeholder", "aria_label", "title", "alt", "label", "hint", "description",
                 "confirm_label", "cancel_label", "text"}
#: Calls whose string arguments are msgids (or where a literal is not text: keys, logs...).
CATALOGUE_CALLS = {"t", "tf", "N_", "_t", "gettext", "operation", "debug", "info", "warning",
                   "error", "exception", "getLogger", "call_script"}
#: Texts that are the same in every language (names, symbols).
UNTRANSLATED = {"Carnet", "Français", "English", " : ", " · ", "·", "—", "…", "Pro Santé Connect",
                "INS", "NIR", "RPPS", "FHIR", "GraphQL", "PDF", "*", "/", ":", "-", "(", ")"}
WORD = re.compile(r"[A-Za-zÀ-ÿ]{2,}")
FRENCH = re.compile(r"[éèêàâùûôîçœÉÈÀÇ]|\b(?:le|la|les|de|du|des|et|vous|votre|vos|une|pour|"
                    r"sur|dans|aux|est|pas|ou|ce|cette|ces|qui|que)\b", re.IGNORECASE)


def _call_name(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def literal_texts(path: Path) -> list[tuple[int, str]]:
    """French-looking string literals shown to people without the catalogue in `path`: given
    to a text component or a text keyword, or any literal that reads as French prose."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = node.value
        if not WORD.search(text) or text.strip() in UNTRANSLATED:
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Expr):
            continue  # a docstring
        if isinstance(parent, ast.JoinedStr):
            parent = parents.get(parent)
        chain, shown = parent, False
        while chain is not None and not isinstance(chain, ast.Call):
            chain = parents.get(chain)
        if isinstance(chain, ast.Call) and _call_name(chain) in CATALOGUE_CALLS:
            continue
        if isinstance(parent, ast.Call) and _call_name(parent) in TEXT_COMPONENTS and (
                node in parent.args):
            shown = True
        if isinstance(parent, ast.keyword) and parent.arg in TEXT_KEYWORDS:
            shown = True
        if shown or (FRENCH.search(text) and len(WORD.findall(text)) >= 2):
            found.add((node.lineno, text))
    return sorted(found)
UI_MODULES = sorted([*(WEB_APP / "pages").glob("*.py"), *(WEB_APP / "components").glob("*.py"),
                     *(WEB_APP / "state").rglob("*.py")])


@pytest.mark.parametrize("path", UI_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pages_show_no_text_outside_the_catalogue(path: Path) -> None:
    literals = literal_texts(path)
    assert not literals, f"{path.name}: texts not from the catalogue (wrap them in t()):\n" + (
        "\n".join(f"  line {line}: {text!r}" for line, text in literals))


def test_one_english_per_msgid_across_the_catalogues() -> None:
    """Catalogues are merged: a msgid translated two ways would show one of them at random
    (whichever file sorts last). Same French, different meaning: make the French differ."""
    from babel.messages.pofile import read_po

    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path in sorted((WEB_APP / "locales" / "en" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="en"):
                if not message.id or not message.string:
                    continue
                msgid, english = str(message.id), str(message.string)
                if msgid in seen and seen[msgid][1] != english:
                    clashes.append(f"{msgid!r}: {seen[msgid][0]} {seen[msgid][1]!r} / "
                                   f"{path.name} {english!r}")
                seen.setdefault(msgid, (path.name, english))
    assert not clashes, "\n".join(clashes)


def test_the_language_switch_writes_its_cookie_itself() -> None:
    """The switch's script stores the language before reloading (not left to a Reflex delta,
    which a page still loading would ignore), with the Var's cookie name, path and lifetime."""
    assert i18n.language_script("en-GB") == (
        f'document.cookie = "{i18n.COOKIE_NAME}=en; path=/; max-age={i18n.COOKIE_MAX_AGE}; '
        'samesite=lax";')
    assert f"{i18n.COOKIE_NAME}=fr;" in i18n.language_script("<script>")
