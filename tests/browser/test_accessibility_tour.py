"""Accessibility tour (issue 11): every page of the web app, in each language, at 390 and 1280 px
wide, for a signed-out visitor, the demo patient and the demo professional (`carnet dev`'s demo
data, plus a care relationship and profile entries so lists and charts have something in them),
with no axe-core violation of any impact and nothing scrolling sideways (tests/browser/a11y.py).
A few dialogs and form states are checked too (`STATES`).

Every route registered with Reflex must be in `ROUTES`: `test_every_page_is_in_the_tour` fails
when a page is added without it.

Expected to pass only once the redesign of issue 11 has fixed the pages' violations: until
then the three tours fail, listing every violation of every page (screenshots and `.axe.json`
reports in var/screenshots/).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.async_api import Page, expect

from backend.access import services as access
from backend.access.policy import PatientViewer
from backend.catalogue.models import AppStatus, CatalogueApp
from backend.demo import DEMO_PASSWORD, seed_demo
from backend.identity.lookup import account_by_identifier
from backend.identity.models import Account, Person
from backend.messaging.models import Conversation
from backend.profile import services as profile
from backend.profile.models import MeasurementKind
from backend.records.models import Document
from backend.settings import Settings
from tests.access_helpers import add_allergy, seed_matrix
from tests.browser import a11y
from tests.browser.reflex_app import FRONTEND_DIR, WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, sign_in
from tests.conftest import truncate_all
from tests.test_messaging_live import Api, mint_session

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

#: The languages of the web app.
LANGUAGES = ("fr", "en")

VISITOR, PATIENT, PROFESSIONAL = "visitor", "patient", "professional"
PATIENT_LOGIN = "camille.martin@demo.carnet.fr"
PROFESSIONAL_LOGIN = "dr.durand@demo.carnet.fr"
NOT_FOUND = "/404"  # Reflex's key for the page of any address the app does not know
RECORD_READ = """query Rec($id: ID!) { patientRecord(patientId: $id) {
  patientId ground documents(first: 5) { totalCount } } }"""


@dataclass(frozen=True)
class Stop:
    path: str  # `{conversation}`, `{patient}`, `{document}` are filled in from the demo data
    who: tuple[str, ...]  # visited signed out, as the patient, as the professional


#: Every page of the web app (keyed by the route it is registered under with Reflex), and who
#: visits it. Signed out, a page that needs a session shows the login page with its notice.
ROUTES: dict[str, Stop] = {
    "/": Stop("/", (VISITOR, PATIENT)),
    "/connexion": Stop("/connexion", (VISITOR,)),
    "/connexion/code": Stop("/connexion/code", (VISITOR,)),  # also checked while signing in
    "/connexion/psc": Stop("/connexion/psc", (VISITOR,)),
    "/mot-de-passe-oublie": Stop("/mot-de-passe-oublie", (VISITOR,)),
    "/activation": Stop("/activation", (VISITOR,)),
    "/sessions": Stop("/sessions", (PATIENT, PROFESSIONAL)),
    "/mon-compte": Stop("/mon-compte", (VISITOR, PATIENT, PROFESSIONAL)),
    "/documents": Stop("/documents", (VISITOR, PATIENT)),
    "/documents/[document_id]": Stop("/documents/{document}", (PATIENT,)),
    "/profil": Stop("/profil", (PATIENT,)),
    "/messagerie": Stop("/messagerie", (PATIENT, PROFESSIONAL)),
    "/messagerie/[conversation_id]": Stop("/messagerie/{conversation}", (PATIENT, PROFESSIONAL)),
    "/agenda": Stop("/agenda", (VISITOR, PATIENT)),
    "/equipe-de-soins": Stop("/equipe-de-soins", (PATIENT,)),
    "/historique-des-acces": Stop("/historique-des-acces", (PATIENT,)),
    "/catalogue": Stop("/catalogue", (VISITOR, PATIENT)),
    "/catalogue/[app_id]": Stop("/catalogue/{app}", (VISITOR, PATIENT)),
    # Without an app's request: the page says the link is incomplete (tests/browser/
    # test_apps.py checks it with a real request).
    "/autorisation": Stop("/autorisation", (VISITOR, PATIENT)),
    "/applications-connectees": Stop("/applications-connectees", (PATIENT,)),
    "/mes-aidants": Stop("/mes-aidants", (PATIENT,)),
    "/pro": Stop("/pro", (PROFESSIONAL,)),
    "/pro/declarer": Stop("/pro/declarer", (PROFESSIONAL,)),
    "/pro/urgence": Stop("/pro/urgence", (PROFESSIONAL,)),
    "/pro/agenda": Stop("/pro/agenda", (PROFESSIONAL,)),
    "/pro/patients/[patient_id]": Stop("/pro/patients/{patient}", (PROFESSIONAL,)),
    NOT_FOUND: Stop("/cette-page-n-existe-pas", (VISITOR, PATIENT)),
}

# The routes Reflex registers: @rx.page decorators and app.add_page calls (in a subprocess:
# building the app object registers states, which this test process should not do).
_ROUTES_SCRIPT = """
import json
from carnet_web.carnet_web import app
ctx = app._registration_context
routes = {app._page_route_key(render, kw.get("route")) for render, kw in ctx.decorated_pages}
print(json.dumps(sorted(routes | set(app._unevaluated_pages))))
"""


def registered_routes() -> set[str]:
    out = subprocess.run([sys.executable, "-c", _ROUTES_SCRIPT], cwd=FRONTEND_DIR, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    # Reflex normalises "/" to "index" and drops the leading slash.
    return {"/" if route == "index" else "/" + route for route in json.loads(out.splitlines()[-1])}


def test_every_page_is_in_the_tour() -> None:
    registered = registered_routes()
    tour = set(ROUTES)
    assert registered - tour == set(), "pages missing from ROUTES (add them to the tour)"
    assert tour - registered == set(), "ROUTES lists pages the web app no longer has"


async def set_language(page: Page, web: WebApp, lang: str) -> None:
    """Show the web app in `lang` in this tab: the cookie the header's switch stores
    (frontend/carnet_web/i18n.py, `COOKIE_NAME`), then a reload if a page is open. The `page`
    fixture clears cookies after each test, so other tests start in French."""
    await page.context.add_cookies([{"name": "carnet_lang", "value": lang, "url": web.url}])
    if page.url.startswith(web.url):
        await page.reload()


@dataclass(frozen=True)
class Demo:
    conversation: str
    patient: str  # the record's public id
    document: str  # the document Dr Durand deposited
    app: str  # a referenced app of the catalogue
    doctor: Account
    traits: dict[str, str]  # the patient's INS traits, by form field


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


@pytest.fixture
async def demo(app: object, clean: None, migrated: Settings) -> AsyncIterator[Demo]:
    """`carnet dev`'s demo data; Dr Durand in Camille's care team; an allergy and three
    weights (a chart) in her profile. Removed after the test: tests that do not start from
    empty tables (`clean`) must not find the demo's announcements, accounts or messages."""
    await seed_matrix()  # `clean` emptied the access matrix the migration seeds
    await seed_demo(migrated)
    patient = await account_by_identifier(PATIENT_LOGIN)
    doctor = await account_by_identifier(PROFESSIONAL_LOGIN)
    assert patient is not None and patient.person_id is not None and doctor is not None
    await doctor.fetch_related("professional")
    await access.add_to_care_team(PatientViewer(patient.id, patient.person_id),
                                  doctor.professional.rpps)
    await add_allergy(app.state.runtime, patient.person_id)  # type: ignore[attr-defined]
    for day, kilograms in ((5, "72.4"), (12, "71.8"), (19, "71.1")):
        await profile.add_entry(
            migrated, person_id=patient.person_id, author=profile.Author(0, None),
            data=profile.MeasurementInput(kind=MeasurementKind.WEIGHT, value=Decimal(kilograms),
                                          measured_at=datetime(2026, 1, day, 8, tzinfo=UTC)))
    person = await Person.get(id=patient.person_id)
    conversation = await Conversation.filter(patient_id=person.id).first()
    assert conversation is not None
    document = await Document.filter(person_id=person.id).first()
    assert document is not None
    app = await CatalogueApp.filter(status=AppStatus.REFERENCED).order_by("name").first()
    assert app is not None
    yield Demo(conversation=str(conversation.id), patient=str(person.public_id), doctor=doctor,
               document=str(document.id), app=str(app.id),
               traits={"insMatricule": person.matricule, "birthName": person.birth_name,
                       "birthDate": person.birth_date.isoformat()})
    await truncate_all()


# Dialogs and form states, reached from a route's page (and left, when the tour goes on there).
async def _wrong_password(page: Page, demo: Demo) -> None:
    await page.locator("#login-identifier").fill(PATIENT_LOGIN)
    await page.locator("#login-password").fill("pas le bon mot de passe")
    await page.locator("#login-submit").click()
    await expect(page.locator("#login-error")).to_be_visible()


async def _delete_dialog(page: Page, demo: Demo) -> None:
    await page.get_by_role("button", name=re.compile("^(Supprimer «|Delete “)")).first.click()
    await expect(page.get_by_role("alertdialog")).to_be_visible()


async def _close_dialog(page: Page, demo: Demo) -> None:
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("alertdialog")).to_have_count(0)


def _refused_traits(form: str) -> Callable[[Page, Demo], Awaitable[None]]:
    """The patient's traits with a wrong birth date: the form's refusal."""
    async def submit(page: Page, demo: Demo) -> None:
        await expect(page.locator(f"#{form}-submit")).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
        year, month, day = demo.traits["birthDate"].split("-")
        wrong = {**demo.traits, "birthDate": f"{year}-{month}-{int(day) % 28 + 1:02d}"}
        for field, value in wrong.items():
            await page.locator(f"#traits-{field}").fill(value)
        if form == "emergency":
            await page.locator("#emergency-reason").fill("Patiente inconsciente aux urgences")
        await page.locator(f"#{form}-submit").click()
        await expect(page.locator(f"#{form}-error")).to_be_visible()
    return submit


@dataclass(frozen=True)
class State:
    name: str
    reach: Callable[[Page, Demo], Awaitable[None]]
    leave: Callable[[Page, Demo], Awaitable[None]] | None = None


STATES: dict[tuple[str, str], list[State]] = {
    (VISITOR, "/connexion"): [State("wrong-password", _wrong_password)],
    (PATIENT, "/documents"): [State("delete-dialog", _delete_dialog, _close_dialog)],
    (PATIENT, "/profil"): [State("delete-dialog", _delete_dialog, _close_dialog)],
    (PROFESSIONAL, "/pro/declarer"): [State("refused", _refused_traits("declare"))],
    (PROFESSIONAL, "/pro/urgence"): [State("refused", _refused_traits("emergency"))],
}


async def tour(page: Page, web: WebApp, who: str, lang: str, demo: Demo) -> None:
    """Each page `who` visits, at each width, then its states; every problem is gathered (the
    `page` fixture's Findings) and the tour fails at its end with all of them."""
    for route, stop in ROUTES.items():
        if who not in stop.who:
            continue
        name = f"tour-{lang}-{who}-{route.strip('/') or 'home'}"
        await page.set_viewport_size(a11y.WIDTHS[390])
        await page.goto(web.url + stop.path.format(conversation=demo.conversation,
                                                   patient=demo.patient,
                                                   document=demo.document, app=demo.app))
        await a11y.check_at_widths(page, name)
        for state in STATES.get((who, route), []):
            await state.reach(page, demo)
            await a11y.check_at_widths(page, f"{name}-{state.name}")
            if state.leave is not None:
                await state.leave(page, demo)
    a11y.fail_on_findings(page)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_tour_signed_out(lang: str, demo: Demo, api_server: str, web: WebApp,
                               page: Page) -> None:
    await set_language(page, web, lang)
    await tour(page, web, VISITOR, lang, demo)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_tour_patient(lang: str, demo: Demo, api_server: str, web: WebApp, page: Page,
                            mailbox: Mailbox, redis_url: str) -> None:
    # Dr Durand reads the record (as his software would), so "Historique des accès" lists it.
    token = await mint_session(redis_url, demo.doctor)
    read = await Api(api_server)(RECORD_READ, {"id": demo.patient}, token)
    assert "errors" not in read, read

    async def code_page() -> None:
        await a11y.check_at_widths(page, f"tour-fr-{PATIENT}-connexion/code")

    # Signed in in French (the sign-in helper reads French labels), then in `lang`.
    await sign_in(page, web, mailbox, PATIENT_LOGIN, password=DEMO_PASSWORD,
                  on_code_page=code_page if lang == "fr" else None)
    await set_language(page, web, lang)
    await tour(page, web, PATIENT, lang, demo)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_tour_professional(lang: str, demo: Demo, api_server: str, web: WebApp,
                                 page: Page, mailbox: Mailbox) -> None:
    await sign_in(page, web, mailbox, PROFESSIONAL_LOGIN, password=DEMO_PASSWORD, home="/pro")
    await set_language(page, web, lang)
    await tour(page, web, PROFESSIONAL, lang, demo)
