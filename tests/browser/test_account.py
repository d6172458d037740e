"""Mon compte and Mot de passe oublié in a real browser, against a real API whose codes go to a
real SMTP server (`mailbox`) and a real SMS gateway (`sms`, the API's SMS_WEBHOOK_URL).

Mon compte: my identity as the INS holds it (read-only, with who corrects it), a new phone
number and a new e-mail address each confirmed with the code sent to them, a new password
confirmed with the emailed code, notices and language (saving English switches the tab). A
finished action's message does not come back with the page.

Mot de passe oublié: the identifier, the emailed code with the new password, "done"; a tab
signed in before is signed out; an unknown identifier gets the same screens; too many
requests say how long to wait. Every step is checked with axe at 390 and 1280 px, in French
and in English; the main actions are also done with the keyboard only.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.async_api import BrowserContext, Page, expect

from backend.identity.lookup import account_by_identifier
from backend.identity.models import Account, CodeChannel, Person
from backend.notifications.masking import mask_email
from tests.browser.a11y import check_at_widths
from tests.browser.login_helpers import SmsInbox, language, tab_to
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, new_patient, open_login_page, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "un tout nouveau mot de passe"
PHONE = "06 12 34 56 78"
PHONE_E164 = "+33612345678"


@pytest.fixture
def sms() -> Iterator[SmsInbox]:
    inbox = SmsInbox()
    with inbox.running():
        yield inbox


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox, sms: SmsInbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` and its SMS to `sms`."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port),
            "SMS_WEBHOOK_URL": sms.url}


@pytest.fixture(autouse=True)
def first_loads(api_server: str, page: Page) -> None:
    """The first visit of a page compiles it (Vite dev mode): give navigations time.
    (`api_server` first: the tab, set up after it, is checked for the last time before the
    API stops.)"""
    page.set_default_navigation_timeout(FIRST_LOAD_TIMEOUT)


async def open_account(page: Page) -> None:
    await page.get_by_role("banner").get_by_role("link", name="Mon compte").click()
    await expect(page.get_by_role("heading", name="Mon compte", level=1)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#identity-traits, #identity-professional")).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)


async def test_mon_compte_identity_contacts_password_and_preferences(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    sms: SmsInbox,
) -> None:
    address = await new_patient()
    account = await account_by_identifier(address)
    assert account is not None
    person = await Person.get(id=account.person_id)
    await sign_in(page, web, mailbox, address)
    await open_account(page)

    # My identity, as the INS holds it, read-only, and who corrects it.
    await expect(page.locator("#identity-birth-name")).to_have_text(person.birth_name)
    await expect(page.locator("#identity-first-names")).to_have_text(person.first_names)
    await expect(page.locator("#identity-birth-date")).to_have_text("2 mars 1985")
    await expect(page.locator("#identity-sex")).to_have_text("Masculin")
    await expect(page.locator("#identity-birthplace")).to_have_text("75056")
    await expect(page.locator("#identity-matricule")).to_have_text(
        " ".join([person.matricule[0], person.matricule[1:3], person.matricule[3:5],
                  person.matricule[5:7], person.matricule[7:10], person.matricule[10:13],
                  person.matricule[13:]]))
    await expect(page.locator("#identity-status")).to_have_text(re.compile(r"^Identité "))
    await expect(page.locator("#identity-correction")).to_contain_text(
        "caisse d'assurance maladie")
    await expect(page.locator("#identity-traits input")).to_have_count(0)  # nothing to edit
    await expect(page.locator("#account-email")).to_have_text(address)
    await expect(page.locator("#account-phone")).to_have_text("Aucun")
    await check_at_widths(page, "account")

    # A phone number: the code goes to it by SMS.
    await page.get_by_role("button", name="Ajouter un numéro de téléphone").click()
    phone_field = page.get_by_label("Nouveau numéro de téléphone")
    await expect(phone_field).to_be_focused()
    await check_at_widths(page, "account-phone-form")
    await phone_field.fill(PHONE)
    await page.locator("#account-contact-password").fill(PASSWORD)
    await page.get_by_role("button", name="Recevoir un code").click()
    code_field = page.locator("#account-contact-code")
    await expect(code_field).to_be_focused()
    await expect(page.locator("#account-contact-destination")).not_to_be_empty()
    await check_at_widths(page, "account-phone-code")
    to, code = await sms.next_code()
    assert to == PHONE_E164
    await code_field.fill(code)
    await page.get_by_role("button", name="Confirmer").click()
    await expect(page.locator("#account-contact-info")).to_have_text(
        f"Votre numéro de téléphone est maintenant {PHONE_E164}.")
    await expect(page.locator("#account-phone")).to_have_text(PHONE_E164)
    change_phone = page.get_by_role("button", name="Changer de numéro de téléphone")
    await expect(change_phone).to_be_focused()  # back where the change started
    await check_at_widths(page, "account-phone-changed")

    # A new e-mail address: a wrong password first, then the code sent to the new address.
    new_address = f"nouveau-{secrets.token_hex(4)}@example.fr"
    await page.get_by_role("button", name="Changer d'adresse e-mail").click()
    await page.get_by_label("Nouvelle adresse e-mail").fill(new_address)
    await page.locator("#account-contact-password").fill("pas le bon")
    await page.get_by_role("button", name="Recevoir un code").click()
    await expect(page.locator("#account-contact-error")).to_have_text(
        "Mot de passe actuel incorrect.")
    await expect(page.locator("#account-contact-password")).to_have_value("")
    await check_at_widths(page, "account-email-wrong-password")
    await page.locator("#account-contact-password").fill(PASSWORD)
    await page.get_by_role("button", name="Recevoir un code").click()
    await expect(page.locator("#account-contact-destination")).to_have_text(
        mask_email(new_address))
    code = await mailbox.next_code(new_address)
    await page.locator("#account-contact-code").fill(code)
    await page.get_by_role("button", name="Confirmer").click()
    await expect(page.locator("#account-contact-info")).to_have_text(
        f"Votre adresse e-mail est maintenant {new_address}.")
    await expect(page.locator("#account-email")).to_have_text(new_address)

    # A new password: the current one, then the code (to the new address) and the new one.
    await page.get_by_role("button", name="Changer de mot de passe").click()
    await page.get_by_label("Mot de passe actuel").fill(PASSWORD)
    await page.get_by_role("button", name="Recevoir un code").click()
    await expect(page.locator("#account-password-code")).to_be_focused()
    await expect(page.locator("#account-password-destination")).to_have_text(
        mask_email(new_address))
    await check_at_widths(page, "account-password-code")
    code = await mailbox.next_code(new_address, seen=1)
    await page.locator("#account-password-code").fill(code)
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(NEW_PASSWORD + "!")
    await page.get_by_role("button", name="Changer le mot de passe").click()
    await expect(page.locator("#account-password-error")).to_have_text(
        "Les deux mots de passe ne sont pas identiques.")
    await check_at_widths(page, "account-password-mismatch")
    await page.locator("#account-password-code").fill(code)
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Changer le mot de passe").click()
    done = page.locator("#account-password-info")
    await expect(done).to_contain_text("Votre mot de passe a été changé.")
    await check_at_widths(page, "account-password-changed")
    # The message of a finished action does not come back: not after a reload, not when
    # coming back from another page.
    await page.reload()
    await expect(page.locator("#identity-traits")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await expect(done).to_have_count(0)
    await page.get_by_role("banner").get_by_role("link", name="Mes sessions").click()
    await expect(page).to_have_url(web.at("/sessions"), timeout=FIRST_LOAD_TIMEOUT)
    await open_account(page)
    await expect(done).to_have_count(0)
    await expect(page.locator("#account-contact-info")).to_have_count(0)

    # Notices and language: by SMS (the phone is verified now), no new-document notice,
    # in English. Saving switches this tab to English and says so, once.
    try:
        await page.get_by_role("radio", name="SMS").click()
        await page.get_by_role("checkbox", name="un document est ajouté à mon dossier").click()
        await page.get_by_label("Langue", exact=True).select_option("en")
        await page.get_by_role("button", name="Enregistrer les préférences").click()
        await expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("#preferences-info")).to_have_text(
            "Your preferences have been saved.", timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_label("Language", exact=True)).to_have_value("en")
        await expect(page.get_by_role("radio", name="Text message")).to_be_checked()
        await expect(page.get_by_role("checkbox", name="a document is added to my record")
                     ).not_to_be_checked()
        await expect(page.get_by_role("checkbox", name="I receive a message")).to_be_checked()
        await expect(page.locator("#identity-sex")).to_have_text("Male")
        await check_at_widths(page, "account-en-saved")
        saved = await Account.get(id=account.id)
        assert saved.language == "en"
        assert saved.notification_channel is CodeChannel.SMS
        assert not saved.notify_new_document and saved.notify_new_message
        await page.reload()
        await expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("#identity-traits")).to_be_visible()
        await expect(page.locator("#preferences-info")).to_have_count(0)
    finally:
        await page.context.add_cookies([{"name": "carnet_lang", "value": "fr",
                                         "url": web.url}])


async def test_mon_compte_in_english(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    """Each state of Mon compte in English: identity, a contact change's code step and its
    wrong code, a wrong current password, a channel without a verified contact."""
    address = await new_patient()
    await sign_in(page, web, mailbox, address)  # in French (the helper reads French labels)
    async with language(page.context, web.url, "en"):
        await page.reload()
        await page.get_by_role("banner").get_by_role("link", name="My account").click()
        await expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("#identity-birth-date")).to_have_text("2 March 1985",
                                                                        timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.locator("#identity-correction")).to_contain_text(
            "health insurance fund")
        await expect(page.locator("#account-phone")).to_have_text("None")
        await check_at_widths(page, "account-en")

        new_address = f"new-{secrets.token_hex(4)}@example.fr"
        await page.get_by_role("button", name="Change email address").click()
        await page.get_by_label("New email address").fill(new_address)
        await page.get_by_label("Current password").fill(PASSWORD)
        await page.get_by_role("button", name="Get a code").click()
        await expect(page.get_by_text("A 6-digit code has just been sent to")).to_be_visible()
        await check_at_widths(page, "account-en-email-code")
        code = await mailbox.next_code(new_address)
        wrong = "000000" if code != "000000" else "111111"
        await page.get_by_label("6-digit code").fill(wrong)
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.locator("#account-contact-error")).to_have_text(
            "Incorrect code. You have 4 tries left.")
        await check_at_widths(page, "account-en-email-wrong-code")
        await page.get_by_role("button", name="Cancel").click()
        await expect(page.get_by_role("button", name="Change email address")).to_be_focused()
        await expect(page.locator("#account-email")).to_have_text(address)  # unchanged

        await page.get_by_role("button", name="Change password").click()
        await page.get_by_label("Current password").fill("not the right one")
        await page.get_by_role("button", name="Get a code").click()
        await expect(page.locator("#account-password-error")).to_have_text(
            "Incorrect current password.")
        await check_at_widths(page, "account-en-password-wrong")

        await page.get_by_role("radio", name="Text message").click()
        await page.get_by_role("button", name="Save preferences").click()
        await expect(page.locator("#preferences-error")).to_have_text(
            "To get notifications by text message, first add a verified phone number.")
        await check_at_widths(page, "account-en-preferences-refused")


async def test_changing_my_password_with_the_keyboard(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    """Mon compte's main action with Tab, Enter and typing only; focus follows each step."""
    address = await new_patient()
    await sign_in(page, web, mailbox, address)
    await page.goto(web.url + "/mon-compte")
    await expect(page.locator("#identity-traits")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    await tab_to(page, "account-change-password")
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Mot de passe actuel")).to_be_focused()
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#account-password-code")).to_be_focused()
    code = await mailbox.next_code(address, seen=1)  # the first was the sign-in code
    await page.keyboard.type(code)
    await page.keyboard.press("Tab")
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press("Tab")
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#account-password-info")).to_contain_text(
        "Votre mot de passe a été changé.")
    await expect(page.locator("#account-change-password")).to_be_focused()


# --- Mot de passe oublié ---------------------------------------------------------------------


async def test_forgotten_password_ends_every_session(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
    browser_context: BrowserContext,
) -> None:
    address = await new_patient()
    other_tab = await browser_context.new_page()  # signed in before the reset
    other_tab.set_default_timeout(15_000)
    try:
        await sign_in(other_tab, web, mailbox, address)

        await open_login_page(page, web)
        await page.get_by_role("link", name="Mot de passe oublié ?").click()
        await expect(page).to_have_url(web.at("/mot-de-passe-oublie"),
                                       timeout=FIRST_LOAD_TIMEOUT)
        identifier = page.get_by_label("Identifiant")
        await expect(identifier).to_be_focused(timeout=FIRST_LOAD_TIMEOUT)
        await check_at_widths(page, "reset-identifier")
        seen = len(mailbox.messages_to(address))
        await identifier.fill(address)
        await page.get_by_role("button", name="Recevoir un code").click()

        await expect(page.get_by_role("heading", name="Choisissez un nouveau mot de passe",
                                      level=1)).to_be_visible()
        await expect(page.locator("#reset-sent")).to_contain_text("Il est valable 15 minutes.")
        code_field = page.get_by_label("Code à 6 chiffres")
        await expect(code_field).to_be_focused()
        await check_at_widths(page, "reset-code")
        code = await mailbox.next_code(address, seen=seen)
        assert mailbox.messages_to(address)[seen]["Subject"] == (
            "Carnet : votre code de réinitialisation du mot de passe")

        wrong = "000000" if code != "000000" else "111111"
        new_password = page.get_by_label("Nouveau mot de passe", exact=True)
        confirmation = page.get_by_label("Confirmez le nouveau mot de passe")
        await code_field.fill(wrong)
        await new_password.fill(NEW_PASSWORD)
        await confirmation.fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Changer le mot de passe").click()
        await expect(page.locator("#reset-error")).to_have_text(
            "Code incorrect. Il vous reste 4 essais.")
        await expect(new_password).to_have_value("")  # emptied after a failure
        await check_at_widths(page, "reset-wrong-code")
        await code_field.fill(code)
        await new_password.fill(NEW_PASSWORD)
        await confirmation.fill("autre chose encore")
        await page.get_by_role("button", name="Changer le mot de passe").click()
        await expect(page.locator("#reset-error")).to_have_text(
            "Les deux mots de passe ne sont pas identiques.")
        await code_field.fill(code)
        await new_password.fill(NEW_PASSWORD)
        await confirmation.fill(NEW_PASSWORD)
        await page.get_by_role("button", name="Changer le mot de passe").click()

        await expect(page.get_by_role("heading", name="Mot de passe changé", level=1)
                     ).to_be_visible()
        await expect(page.locator("#reset-done")).to_be_focused()
        await expect(page.locator("#reset-sessions-ended")).to_contain_text(
            "toutes les sessions ouvertes sur votre compte ont été fermées")
        await check_at_widths(page, "reset-done")

        # The tab signed in before is signed out at its next step.
        await other_tab.get_by_role("banner").get_by_role("link", name="Mes sessions").click()
        await expect(other_tab).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(other_tab.locator("#login-notice")).to_have_text(
            "Votre session a expiré. Veuillez vous reconnecter.")
        await expect(other_tab.get_by_role("banner").locator("#signed-in-as")).to_have_count(0)
    finally:
        await other_tab.close()

    # "Done" is shown once: coming back starts afresh.
    await page.reload()
    await expect(page.get_by_role("heading", name="Mot de passe oublié", level=1)).to_be_visible(
        timeout=FIRST_LOAD_TIMEOUT)
    # The old password no longer works; the new one does (and leads back to the page asked
    # for).
    await page.goto(web.url + "/mon-compte")
    await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.get_by_role("button", name="Continuer")).to_be_enabled(
        timeout=FIRST_LOAD_TIMEOUT)
    await page.get_by_label("Identifiant").fill(address)
    await page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Continuer").click()
    await expect(page.locator("#login-error")).to_have_text(
        "Identifiant ou mot de passe incorrect.")
    await sign_in(page, web, mailbox, address, password=NEW_PASSWORD, home="/mon-compte")
    await expect(page.locator("#identity-traits")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)


async def test_an_unknown_identifier_gets_the_same_screens_and_rate_limits_say_the_wait(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    address = await new_patient()
    unknown = f"personne-{secrets.token_hex(4)}@example.fr"
    await page.goto(web.url + "/mot-de-passe-oublie")
    request = page.get_by_role("button", name="Recevoir un code")
    await expect(request).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)

    screens = []
    for identifier in (address, unknown):
        await page.get_by_label("Identifiant").fill(identifier)
        await request.click()
        await expect(page.locator("#reset-sent")).to_be_visible()
        screens.append(await page.locator("main").inner_text())
        await page.get_by_role("button", name="Recommencer").click()
        await expect(request).to_be_visible()
    assert screens[0] == screens[1]
    assert mailbox.messages_to(unknown) == []

    # A code typed for an unknown identifier gets the same refusal as a wrong one.
    await page.get_by_label("Identifiant").fill(unknown)
    await request.click()
    await page.get_by_label("Code à 6 chiffres").fill("123456")
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Changer le mot de passe").click()
    await expect(page.locator("#reset-error")).to_have_text(
        "Code incorrect. Il vous reste 4 essais.")

    # In English (a reload: the pending step stays), new codes until the limit, which says
    # how long to wait.
    async with language(page.context, web.url, "en"):
        await page.reload()
        await expect(page.get_by_role("heading", name="Choose a new password", level=1)
                     ).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
        await check_at_widths(page, "reset-en-code")
        again = page.get_by_role("button", name="Get a new code")
        error = page.locator("#reset-error")
        for _ in range(10):
            await again.click()
            await expect(page.locator("#reset-info").or_(error)).to_be_visible()
            if await error.count():
                break
        await expect(error).to_have_text(re.compile(
            r"^Too many password reset requests\. Please try again in \d+ minutes?\.$"))
        await check_at_widths(page, "reset-en-rate-limited")


async def test_forgotten_password_with_the_keyboard_in_english(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    """From the sign-in page to "done" with Tab, Enter and typing only, in English; each step
    checked with axe."""
    address = await new_patient()
    async with language(page.context, web.url, "en"):
        await page.goto(web.url + "/connexion")
        await expect(page.get_by_role("button", name="Continue")).to_be_enabled(
            timeout=FIRST_LOAD_TIMEOUT)
        await tab_to(page, "login-forgot")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(web.at("/mot-de-passe-oublie"),
                                       timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_label("Username")).to_be_focused(timeout=FIRST_LOAD_TIMEOUT)
        await check_at_widths(page, "reset-en-identifier")
        await page.keyboard.type(address)
        await page.keyboard.press("Enter")
        await expect(page.get_by_label("6-digit code")).to_be_focused()
        await expect(page.locator("#reset-sent")).to_contain_text("It is valid for 15 minutes.")
        code = await mailbox.next_code(address)
        await page.keyboard.type(code)
        await page.keyboard.press("Tab")
        await page.keyboard.type(NEW_PASSWORD)
        await page.keyboard.press("Tab")
        await page.keyboard.type(NEW_PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Password changed", level=1)
                     ).to_be_visible()
        await expect(page.locator("#reset-done")).to_be_focused()
        await expect(page.locator("#reset-sessions-ended")).to_contain_text(
            "every session open on your account has been closed")
        await check_at_widths(page, "reset-en-done")
        await tab_to(page, "reset-sign-in")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(web.at("/connexion"), timeout=FIRST_LOAD_TIMEOUT)
        await expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
