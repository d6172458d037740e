"""The main action of each page, with the keyboard only: Tab / Shift+Tab to move, Enter / Space
to act, Escape to cancel, and `page.keyboard.type` for what is typed into the field Tab reached.
No click and no `fill` on the controls under test (signing in, which has its own tests, uses the
shared helper). After each action the test checks where focus landed: where a keyboard user
expects to go on, never lost on the page's body.

- Mon équipe de soins: add a professional by RPPS (focus back on the emptied field), then
  "Retirer de mon équipe": the confirmation takes focus, Escape gives it back to the button,
  "Retirer" removes and moves focus to the team's heading (French and English).
- Historique des accès, 25 entries: "Voir plus" shows the older ones and focuses the first.
- Espace professionnel: the declare form (a refusal focuses the traits again, then success
  focuses "Ouvrir le dossier") and the emergency form.
- Accueil: the skip link, then the content's first link.
- At 390 px: "Menu", into the navigation, Enter on a link.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Locator, Page, expect

from backend.audit import access_log
from backend.audit.models import AccessGround, AccessKind
from backend.identity.lookup import account_by_identifier
from backend.identity.models import Person, Professional
from tests.access_helpers import identity_of, make_professional, seed_matrix
from tests.browser.a11y import check_at_widths, check_page
from tests.browser.documents_helpers import date_keys
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, sign_in
from tests.factories import create_professional
from tests.servers import ROOT

pytestmark = pytest.mark.browser

LANGUAGES = ("fr", "en")
LOCALES = ROOT / "frontend" / "carnet_web" / "locales"


@functools.cache
def _catalogue(lang: str) -> dict[str, str]:
    """The web app's English texts, read like carnet_web/i18n.py reads them (importing it here
    would register the app's states in this process)."""
    texts: dict[str, str] = {}
    for path in sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as file:
            texts.update({m.id: m.string for m in read_po(file) if m.id and m.string})
    return texts


def gettext(lang: str, text: str, **values: str) -> str:
    """`text` (French, the web app's msgid) as the tab shows it in `lang`."""
    shown = text if lang == "fr" else _catalogue(lang)[text]
    return shown.format(**values) if values else shown
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
MAX_TABS = 80  # more Tab presses than any of these pages has stops before the target


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


@pytest.fixture(autouse=True)
def _slow_first_loads(page: Page) -> None:
    """A page's first load compiles its modules in Vite dev mode (slower still when the
    machine is busy): navigations get the time a first load needs."""
    page.set_default_navigation_timeout(FIRST_LOAD_TIMEOUT)


async def set_language(page: Page, web: WebApp, lang: str) -> None:
    """The cookie the header's language button stores (cleared after each test)."""
    await page.context.add_cookies([{"name": "carnet_lang", "value": lang, "url": web.url}])


async def focused(page: Page) -> str:
    """What has focus, for failure messages: tag, id and text."""
    return await page.evaluate("""() => { const el = document.activeElement;
        return el ? `${el.tagName.toLowerCase()}#${el.id} «${(el.innerText || el.value || '')
          .trim().slice(0, 60)}» ${el.getAttribute('aria-label') || ''}` : 'nothing'; }""")


async def has_focus(target: Locator) -> bool:
    return await target.count() == 1 and await target.evaluate(
        "el => el === document.activeElement")


async def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> int:
    """Press Tab (Shift+Tab) until `target` has focus; the number of presses."""
    key = "Shift+Tab" if backwards else "Tab"
    for presses in range(1, MAX_TABS + 1):
        await page.keyboard.press(key)
        if await has_focus(target):
            return presses
    raise AssertionError(f"{key} never reached {target} (focus on {await focused(page)})")


async def start_from_the_top(page: Page) -> None:
    """Focus back at the document's start, as after loading it: the next Tab reaches the skip
    link. (Blurring what has focus is not a control of the page.)"""
    await page.evaluate("() => document.activeElement && document.activeElement.blur()")


async def loaded(page: Page, web: WebApp, route: str, heading: str) -> None:
    await page.goto(web.url + route)
    await expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await start_from_the_top(page)


async def skip_to_content(page: Page, lang: str) -> None:
    """Tab first reaches the skip link; Enter puts focus on <main>."""
    skip = page.get_by_role("link", name=gettext(lang, "Aller au contenu"))
    await page.keyboard.press("Tab")
    assert await has_focus(skip), f"the first Tab stop is {await focused(page)}"
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()


# Mon équipe de soins ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_care_team_add_and_remove_by_keyboard(
    lang: str, app: object, clean: None, api_server: str, web: WebApp, page: Page,
    mailbox: Mailbox,
) -> None:
    def _(text: str, **values: str) -> str:
        return gettext(lang, text, **values)

    await seed_matrix()
    address = await new_patient()
    doctor = await create_professional()
    professional = await Professional.get(id=doctor.professional_id)
    name = "Médecin (Médecine générale)"  # the API's words (RPPS professions), in any language

    await page.set_viewport_size(PHONE if lang == "en" else LAPTOP)
    await sign_in(page, web, mailbox, address)
    await set_language(page, web, lang)
    await loaded(page, web, "/equipe-de-soins", _("Mon équipe de soins"))

    # From the page's start: the skip link, the content, then the RPPS field.
    await skip_to_content(page, lang)
    rpps_field = page.get_by_label(_("Numéro RPPS du professionnel"))
    await tab_to(page, rpps_field)
    await page.keyboard.type(professional.rpps)
    await page.keyboard.press("Enter")
    cards = page.locator("#care-team > li")
    await expect(cards).to_have_count(1)
    await expect(cards.locator(".member-name")).to_have_text(name)
    await expect(page.locator("#care-team-info")).to_have_text(
        _("{name} fait maintenant partie de votre équipe de soins.", name=name))
    # Ready for the next one: the field, emptied, has focus.
    await expect(rpps_field).to_have_value("")
    await expect(rpps_field).to_be_focused()

    # "Retirer de mon équipe", reached by Tab from the field: it asks first.
    remove = page.get_by_role("button", name=_("Retirer de mon équipe : {name}", name=name))
    await tab_to(page, remove)
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("alertdialog",
                              name=_("Retirer ce professionnel de votre équipe de soins ?"))
    await expect(dialog).to_be_visible()
    cancel = dialog.get_by_role("button", name=_("Annuler"))
    confirm = dialog.get_by_role("button", name=_("Retirer"), exact=True)
    await expect(cancel).to_be_focused()  # the safe choice first
    await check_at_widths(page, f"keyboard-{lang}-care-team-remove-dialog")
    await page.set_viewport_size(PHONE if lang == "en" else LAPTOP)
    # Focus stays in the dialog: Tab goes round its two buttons.
    await page.keyboard.press("Tab")
    await expect(confirm).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(cancel).to_be_focused()

    # Escape cancels: nothing removed, focus back on the button that opened it.
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(remove).to_be_focused()
    await expect(cards).to_have_count(1)

    # Space opens it again; Shift+Tab to "Retirer", Enter removes.
    await page.keyboard.press("Space")
    await expect(cancel).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(confirm).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#care-team-empty")).to_be_visible()
    await expect(page.locator("#care-team-info")).to_have_text(
        _("{name} ne fait plus partie de votre équipe de soins : ce professionnel ne peut plus "
          "lire votre dossier.", name=name))
    # The button is gone: focus on the team's heading, not lost on the page.
    await expect(page.get_by_role(
        "heading", name=_("Professionnels qui peuvent lire mon dossier"))).to_be_focused()
    await check_at_widths(page, f"keyboard-{lang}-care-team-removed")


# Historique des accès -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    account_id: int
    professional_id: int
    profession: str


ENTRIES = 25  # more than a page (20)


async def test_access_history_voir_plus_by_keyboard(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    await seed_matrix()
    address = await new_patient()
    patient = await account_by_identifier(address)
    person = await Person.get(id=patient.person_id)
    doctor = await create_professional()
    professional = await Professional.get(id=doctor.professional_id)
    reader = _Reader(doctor.id, professional.id, professional.profession)
    for _ in range(ENTRIES):
        async with access_log.recording():
            access_log.record(patient_id=person.id, reader=reader,
                              kind=AccessKind.DOCUMENT_LIST, ground=AccessGround.CARE_TEAM)

    await page.set_viewport_size(LAPTOP)
    await sign_in(page, web, mailbox, address)
    await loaded(page, web, "/historique-des-acces", "Historique des accès")
    rows = page.locator("#access-log > li")
    await expect(rows).to_have_count(20)

    await skip_to_content(page, "fr")
    more = page.get_by_role("button", name="Voir plus")
    await tab_to(page, more)
    await page.keyboard.press("Enter")
    await expect(rows).to_have_count(ENTRIES)
    await expect(more).to_have_count(0)  # nothing older
    # Focus on the first of the older entries: reading goes on from there.
    await expect(rows.nth(20)).to_be_focused()
    await expect(page.locator("#access-count")).to_contain_text(str(ENTRIES))
    await check_at_widths(page, "keyboard-access-history-more")


# Espace professionnel -----------------------------------------------------------------------


async def type_traits(page: Page, lang: str, traits: dict[str, str], birth_date: str) -> None:
    """From before the form: Tab to each trait and type it."""
    await tab_to(page, page.get_by_label(gettext(lang, "Matricule INS")))
    await page.keyboard.type(traits["insMatricule"])
    await page.keyboard.press("Tab")
    await expect(page.get_by_label(gettext(lang, "Nom de naissance"))).to_be_focused()
    await page.keyboard.type(traits["birthName"])
    await page.keyboard.press("Tab")
    await expect(page.get_by_label(gettext(lang, "Date de naissance"))).to_be_focused()
    await page.keyboard.type(await date_keys(page, birth_date))


async def test_professional_declares_by_keyboard(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    await seed_matrix()
    doctor_address = f"dr-{secrets.token_hex(4)}@example.fr"
    await create_professional(email=doctor_address)
    patient_address = await new_patient()
    traits = await identity_of(await account_by_identifier(patient_address))

    await page.set_viewport_size(LAPTOP)
    await sign_in(page, web, mailbox, doctor_address, home="/pro")
    await loaded(page, web, "/pro/declarer", "Déclarer une relation de soins")
    submit = page.get_by_role("button", name="Déclarer la relation de soins")
    await expect(submit).to_be_enabled()

    # A wrong birth date: refused, and focus goes back to the traits to check them.
    year, month, day = traits["birthDate"].split("-")
    await skip_to_content(page, "fr")
    await type_traits(page, "fr", traits, f"{year}-{month}-{int(day) % 28 + 1:02d}")
    await tab_to(page, submit)
    await page.keyboard.press("Enter")
    await expect(page.locator("#declare-error")).to_contain_text(
        "Aucun patient ne correspond à ces traits d'identité.")
    matricule = page.get_by_label("Matricule INS")
    await expect(matricule).to_be_focused()
    await expect(matricule).to_have_value(traits["insMatricule"])  # kept, to correct
    await check_page(page, "keyboard-pro-declare-refused")

    # The right date (typed over the wrong one), then Space on the button.
    date_field = page.get_by_label("Date de naissance")
    await tab_to(page, date_field)
    await page.keyboard.type(await date_keys(page, traits["birthDate"]))
    await tab_to(page, submit)
    await page.keyboard.press("Space")
    await expect(page.locator("#declare-info")).to_contain_text("relation de soins est")
    open_record = page.get_by_role("link", name="Ouvrir le dossier")
    await expect(open_record).to_be_focused()
    await check_at_widths(page, "keyboard-pro-declared")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.at("/pro/patients/" + await _public_id(patient_address)))
    await expect(page.locator("#record-patient")).to_contain_text("DUPONT Jean",
                                                                  timeout=FIRST_LOAD_TIMEOUT)


async def test_emergency_access_by_keyboard(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    lang = "en"
    await seed_matrix()
    doctor_address = f"urgences-{secrets.token_hex(4)}@example.fr"
    await make_professional("Médecin", "Médecine d'urgence", email=doctor_address)
    patient_address = await new_patient()
    traits = await identity_of(await account_by_identifier(patient_address))

    await page.set_viewport_size(PHONE)
    await sign_in(page, web, mailbox, doctor_address, home="/pro")
    await set_language(page, web, lang)
    await loaded(page, web, "/pro/urgence", gettext(lang, "Accès d'urgence"))
    submit = page.get_by_role("button", name=gettext(lang, "Ouvrir le dossier en urgence"))
    await expect(submit).to_be_enabled()

    await skip_to_content(page, lang)
    await type_traits(page, lang, traits, traits["birthDate"])
    # No reason yet: the browser's own check of the required field puts focus on it.
    await tab_to(page, submit)
    await page.keyboard.press("Enter")
    reason = page.get_by_label(gettext(lang, "Motif de l'accès"))
    await expect(reason).to_be_focused()
    await page.keyboard.type("Unconscious patient in A&E")
    await page.keyboard.press("Tab")
    await expect(submit).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#emergency-info")).to_be_visible()
    open_record = page.get_by_role("link", name=gettext(lang, "Ouvrir le dossier"))
    await expect(open_record).to_be_focused()
    await check_at_widths(page, "keyboard-en-pro-emergency-opened")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.at("/pro/patients/" + await _public_id(patient_address)))


async def _public_id(address: str) -> str:
    account = await account_by_identifier(address)
    person = await Person.get(id=account.person_id)
    return str(person.public_id)


# Accueil and the navigation -----------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_home_skip_link_then_first_link(
    lang: str, api_server: str, web: WebApp, page: Page
) -> None:
    await page.set_viewport_size(LAPTOP)
    await set_language(page, web, lang)
    await loaded(page, web, "/", gettext(lang, "Carnet, votre espace santé"))
    await skip_to_content(page, lang)
    # The next Tab: the first link of the content (past the whole header).
    first = page.locator("main").locator("a[href]").first
    await page.keyboard.press("Tab")
    assert await has_focus(first), f"after the skip link, focus is on {await focused(page)}"
    await expect(first).to_have_text(gettext(lang, "Se connecter"))
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_phone_menu_by_keyboard(lang: str, api_server: str, web: WebApp, page: Page
                                      ) -> None:
    await page.set_viewport_size(PHONE)
    await set_language(page, web, lang)
    await loaded(page, web, "/", gettext(lang, "Carnet, votre espace santé"))
    menu = page.get_by_role("button", name=gettext(lang, "Menu"))
    nav = page.get_by_role("navigation", name=gettext(lang, "Navigation principale"))
    home = nav.get_by_role("link", name=gettext(lang, "Accueil"))
    await expect(home).to_be_hidden()  # folded

    await tab_to(page, menu)
    await page.keyboard.press("Enter")
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await expect(home).to_be_visible()
    await check_page(page, f"keyboard-{lang}-menu-open")
    # The next Tab goes into the navigation, at its first link.
    await page.keyboard.press("Tab")
    await expect(home).to_be_focused()
    agenda = nav.get_by_role("link", name=gettext(lang, "Agenda"))
    await tab_to(page, agenda)
    await page.keyboard.press("Enter")
    # The agenda needs a session: a visitor is taken to the login page (and back there after
    # signing in). The menu link worked if the tab got there through the agenda.
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        gettext(lang, "Connexion"))
    await expect(menu).to_have_attribute("aria-expanded", "false")  # folded again
