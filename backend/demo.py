"""Demo data for `carnet dev` (idempotent: running it twice creates nothing new)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.announcements.models import Announcement
from backend.identity import accounts, notices
from backend.identity.lookup import account_by_identifier
from backend.settings import Settings

DEMO_PASSWORD = "demo-carnet-2026"  # noqa: S105 - published demo credentials, dev data only

# identifier -> password, printed by `carnet dev`.
DEMO_LOGINS: dict[str, str] = {
    "camille.martin@demo.carnet.fr": DEMO_PASSWORD,
    "dr.durand@demo.carnet.fr": DEMO_PASSWORD,
}

DEMO_ANNOUNCEMENTS = [
    (
        "Bienvenue sur Carnet",
        "Votre espace santé personnel : vos documents, votre profil médical et une messagerie "
        "sécurisée avec les professionnels qui vous soignent.",
    ),
    (
        "Maintenance programmée",
        "Le service sera brièvement indisponible dimanche entre 2 h et 3 h.",
    ),
]


async def seed_demo(settings: Settings) -> dict[str, Any]:
    created = 0
    now = datetime.now(UTC)
    for offset, (title, body) in enumerate(DEMO_ANNOUNCEMENTS):
        _, was_created = await Announcement.get_or_create(
            title=title,
            defaults={"body": body, "published_at": now - timedelta(minutes=offset)},
        )
        created += int(was_created)
    accounts_created = 0
    if await account_by_identifier("camille.martin@demo.carnet.fr") is None:
        await accounts.create_patient(
            nir="2 55 08 14 168 025 38", birth_name="Martin", first_names="Camille Marie",
            birth_date=date(1955, 8, 14), sex="F", birthplace="14168",
            contact=accounts.ContactInput(email="camille.martin@demo.carnet.fr", phone=None,
                                          identifier=None, password=DEMO_PASSWORD),
            test_identity=True,
        )
        accounts_created += 1
    if await account_by_identifier("dr.durand@demo.carnet.fr") is None:
        await accounts.create_professional(
            rpps="10002727377", profession="Médecin", specialty="Médecine générale",
            practice_name="Cabinet Durand", practice_address="12 rue de la Paix, 14000 Caen",
            contact=accounts.ContactInput(email="dr.durand@demo.carnet.fr", phone=None,
                                          identifier=None, password=DEMO_PASSWORD),
        )
        accounts_created += 1
    extras = await _seed_record_and_messages(settings)
    return {"announcementsCreated": created, "accountsCreated": accounts_created,
            **extras, "logins": DEMO_LOGINS}


async def _seed_record_and_messages(settings: Settings) -> dict[str, int]:
    """A document deposited by Dr Durand and a conversation with Camille (once)."""
    from backend.bootstrap import build_runtime
    from backend.identity.matching import PatientClaim
    from backend.identity.services import Viewer
    from backend.messaging import services as messaging
    from backend.messaging.models import Conversation
    from backend.notifications.testing import RecordingNotifier
    from backend.records import services as records
    from backend.records.models import Document

    patient = await account_by_identifier("camille.martin@demo.carnet.fr")
    doctor = await account_by_identifier("dr.durand@demo.carnet.fr")
    if patient is None or doctor is None:
        return {}
    person = await patient.person
    runtime = build_runtime(settings)
    runtime.notifier = RecordingNotifier()  # demo data: no emails or console noise
    created = {"documentsCreated": 0, "conversationsCreated": 0}
    try:
        if not await Document.filter(person_id=person.id).exists():
            text = ("Compte rendu de consultation\n\nPatiente vue ce jour pour un bilan "
                    "annuel. Examen clinique normal. Bilan sanguin prescrit.\n\nDr Durand")
            await records.deposit_document(
                runtime, professional_account_id=doctor.id,
                professional_id=doctor.professional_id,
                patient=PatientClaim(person.matricule, person.birth_name, person.birth_date),
                data=records.DocumentInput("Consultation du médecin traitant", "11488-4",
                                           datetime.now(UTC).date()),
                chunks=records.bytes_chunks(text.encode()), size=len(text.encode()),
            )
            created["documentsCreated"] = 1
        if not await Conversation.filter(patient_id=person.id).exists():
            viewer = Viewer(account_id=doctor.id, role="professional", session_id="demo",
                            professional_id=doctor.professional_id)
            await messaging.start_conversation(
                runtime, viewer, subject="Votre bilan annuel",
                patient=PatientClaim(person.matricule, person.birth_name, person.birth_date),
                include_patient=True, professional_rpps=[],
                body="Bonjour, le compte rendu de votre consultation est dans vos documents. "
                     "N'hésitez pas à me poser vos questions ici.",
            )
            created["conversationsCreated"] = 1
    finally:
        await notices.drain()  # the notices of the deposit and the message, sent or dropped
        await runtime.aclose()
    return created
