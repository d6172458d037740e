"""Espace professionnel in a real browser, against a real API: a doctor signs in with password
and emailed code and lands on "Mes patients" (professional navigation, no patient items),
declares a care relationship with a patient's INS traits (a wrong birth date is refused first,
with the one mismatch message), then opens the patient's record and sees a document deposited
for them and an allowed profile section.
"""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page, expect

from backend.identity.lookup import account_by_identifier
from tests.access_helpers import add_allergy, identity_of, seed_matrix, store
from tests.browser.reflex_app import WebApp
from tests.browser.signin import FIRST_LOAD_TIMEOUT, Mailbox, open_login_page, submit_password
from tests.factories import PASSWORD, create_patient, create_professional

pytestmark = pytest.mark.browser

MISMATCH = "Aucun patient ne correspond à ces traits d'identité."


@pytest.fixture
def api_env(server_env: dict[str, str], mailbox: Mailbox) -> dict[str, str]:
    """The API under test sends its emails to `mailbox` (overrides the conftest fixture)."""
    return {**server_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailbox.port)}


async def sign_in_professional(page: Page, web: WebApp, mailbox: Mailbox, address: str) -> None:
    seen = len(mailbox.messages_to(address))
    await open_login_page(page, web)
    await submit_password(page, address, PASSWORD)
    await expect(page).to_have_url(web.at("/connexion/code"), timeout=FIRST_LOAD_TIMEOUT)
    await page.get_by_label("Code à 6 chiffres").fill(await mailbox.next_code(address, seen=seen))
    await page.get_by_role("button", name="Valider").click()
    await expect(page).to_have_url(web.at("/pro"), timeout=FIRST_LOAD_TIMEOUT)


async def fill_traits(page: Page, traits: dict[str, str], birth_date: str) -> None:
    await page.get_by_label("Matricule INS").fill(traits["insMatricule"])
    await page.get_by_label("Nom de naissance").fill(traits["birthName"])
    await page.get_by_label("Date de naissance").fill(birth_date)


async def test_professional_declares_then_reads_the_record(
    app: object, clean: None, api_server: str, web: WebApp, page: Page, mailbox: Mailbox,
) -> None:
    await seed_matrix()  # `clean` emptied the access matrix the migration seeds
    runtime = app.state.runtime  # type: ignore[attr-defined]
    doctor_address = f"dr-{secrets.token_hex(4)}@example.fr"
    await create_professional(email=doctor_address)  # Médecin: reads everything
    patient_address = f"patient-{secrets.token_hex(4)}@example.fr"
    await create_patient(email=patient_address)
    patient = await account_by_identifier(patient_address)
    assert patient is not None and patient.person_id is not None
    traits = await identity_of(patient)
    await store(runtime, patient.person_id, title="Bilan sanguin de janvier")
    await add_allergy(runtime, patient.person_id, "Pénicilline")

    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in_professional(page, web, mailbox, doctor_address)
    nav = page.get_by_role("navigation", name="Navigation principale")
    await expect(nav.get_by_role("link", name="Mes patients")).to_be_hidden()  # folded at 390 px
    await page.get_by_role("button", name="Menu").click()
    await expect(nav.get_by_role("link", name="Mes patients")).to_be_visible()
    await expect(nav.get_by_role("link", name="Mes documents")).to_have_count(0)
    await expect(page.locator("#patients-empty")).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)

    # Declaring: a wrong birth date first gets the one refusal, then the right traits work.
    await nav.get_by_role("link", name="Déclarer une relation de soins").click()
    await expect(page).to_have_url(web.at("/pro/declarer"))
    submit = page.get_by_role("button", name="Déclarer la relation de soins")
    await expect(submit).to_be_enabled(timeout=FIRST_LOAD_TIMEOUT)
    year, month, day = traits["birthDate"].split("-")
    wrong_day = f"{year}-{month}-{int(day) % 28 + 1:02d}"
    await fill_traits(page, traits, wrong_day)
    await submit.click()
    await expect(page.locator("#declare-error")).to_contain_text(MISMATCH)
    await page.get_by_label("Date de naissance").fill(traits["birthDate"])
    await submit.click()
    await expect(page.locator("#declare-info")).to_contain_text("relation de soins est")
    await expect(page.locator("#declare-error")).to_have_count(0)

    # The record: the document deposited for the patient, and an allowed profile section.
    await page.get_by_role("link", name="Ouvrir le dossier").click()
    await expect(page).to_have_url(web.at("/pro/patients/" + await record_id(patient)))
    await expect(page.locator("#record-patient")).to_contain_text("DUPONT Jean",
                                                                  timeout=FIRST_LOAD_TIMEOUT)
    await expect(page.locator("#record-ground")).to_have_text("Relation de soins déclarée")
    documents = page.locator("#record-documents")
    await expect(documents).to_contain_text("Bilan sanguin de janvier")
    await expect(documents.get_by_role("button", name="Télécharger « Bilan sanguin de janvier »")
                 ).to_be_visible()
    allergies = page.get_by_role("heading", name="Allergies et intolérances", level=3)
    await expect(allergies).to_be_visible()
    await expect(page.locator(".record-section").filter(has=allergies)).to_contain_text(
        "Pénicilline")

    # Back on "Mes patients": the patient, with the ground.
    await page.get_by_role("link", name="← Mes patients").click()
    await expect(page.locator("#patients-list")).to_contain_text("DUPONT Jean")
    await expect(page.locator("#patients-list")).to_contain_text("Relation de soins déclarée")


async def record_id(patient: object) -> str:
    from backend.identity.models import Person

    person = await Person.get(id=patient.person_id)  # type: ignore[attr-defined]
    return str(person.public_id)
