"""Demo data for `carnet dev` (idempotent: running it twice creates nothing new)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.announcements.models import Announcement
from backend.catalogue.models import Criterion
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


async def seed_demo(settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """`now` (the clock by default) places the agenda's slots and appointments."""
    created = 0
    now = now or datetime.now(UTC)
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
    extras.update(await _seed_agenda(settings, now))
    extras.update(await _seed_catalogue(now))
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


# --- agenda (issue 13) ------------------------------------------------------------------------

DEMO_PLACE = "Cabinet Durand, 12 rue de la Paix, 14000 Caen"
# The doctor's practice software's identifiers of the two past (done) consultations.
DEMO_SOFTWARE_SYSTEM = "urn:demo:carnet:logiciel-cabinet-durand"
DEMO_PAST = [  # (identifier, days ago, reason)
    ("consultation-1", 45, "Suivi de la tension artérielle"),
    ("consultation-2", 150, "Vaccination contre la grippe"),
]


def _paris(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Paris, as UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo("Europe/Paris")
                            ).astimezone(UTC)


def _weekday_after(day: date, days: int) -> date:
    """`days` after `day`, pushed to the next Monday when it falls on a weekend."""
    out = day + timedelta(days=days)
    while out.weekday() > 4:
        out += timedelta(days=1)
    return out


async def _seed_agenda(settings: Settings, now: datetime) -> dict[str, int]:
    """Dr Durand's bookable slots for the coming two weeks (weekday mornings, 20 min), and
    Camille's agenda: a booked slot, an appointment Dr Durand set, one of her own (another
    practitioner), and two past consultations (done) from the practice's software. Each is
    created through the agenda's services (sealed, versioned), only when missing: an
    upcoming one of its kind, or the software's identifier."""
    from backend.access import policy
    from backend.access import services as access
    from backend.agenda import services as agenda
    from backend.agenda.models import Appointment, AppointmentSource, AppointmentStatus
    from backend.bootstrap import build_runtime
    from backend.identity.models import Professional
    from backend.notifications.testing import RecordingNotifier

    patient = await account_by_identifier("camille.martin@demo.carnet.fr")
    doctor = await account_by_identifier("dr.durand@demo.carnet.fr")
    if patient is None or doctor is None or doctor.professional_id is None:
        return {}
    person_id = patient.person_id
    as_patient = policy.PatientViewer(account_id=patient.id, person_id=person_id)
    as_doctor = policy.ProfessionalViewer(account_id=doctor.id,
                                          professional_id=doctor.professional_id)
    created = {"slotsCreated": 0, "appointmentsCreated": 0}
    runtime = build_runtime(settings)
    runtime.notifier = RecordingNotifier()
    try:
        # scheduleAppointment needs an active care relationship: Dr Durand in her care team.
        grant = await policy.access_for(as_doctor, person_id, now=now,
                                        expiry_days=settings.care_relationship_expiry_days)
        if grant.ground not in agenda.SCHEDULING_GROUNDS:
            rpps = (await Professional.get(id=doctor.professional_id)).rpps
            await access.add_to_care_team(as_patient, rpps)

        today = now.astimezone(ZoneInfo(agenda.PARIS)).date()
        published = await agenda.publish_slots(runtime, as_doctor, agenda.Recurrence(
            start_date=today + timedelta(days=1), end_date=today + timedelta(days=14),
            weekdays=[0, 1, 2, 3, 4], day_start=time(8, 40), day_end=time(12),
            duration_minutes=20, place_address=DEMO_PLACE))
        created["slotsCreated"] = published.created

        async def upcoming(source: AppointmentSource) -> bool:
            return await Appointment.filter(
                person_id=person_id, source=source, end_at__gt=now,
                status__in=list(agenda.OPEN_STATUSES)).exists()

        if not await upcoming(AppointmentSource.BOOKED_SLOT):
            free = await agenda.free_slots(doctor.professional_id, now + timedelta(days=2),
                                           now + timedelta(days=15), now=now, limit=1)
            if free:
                await agenda.book_slot(runtime, as_patient, str(free[0].id),
                                       "Renouvellement d'ordonnance", now=now)
                created["appointmentsCreated"] += 1
        if not await upcoming(AppointmentSource.PROFESSIONAL):
            day = _weekday_after(today, 9)
            await agenda.schedule(runtime, as_doctor, str((await patient.person).public_id),
                                  agenda.AppointmentInput(
                                      start_at=_paris(day, 14, 30), end_at=_paris(day, 15),
                                      place=DEMO_PLACE, reason="Résultats du bilan sanguin",
                                      notes="Apporter la liste de vos traitements."),
                                  now=now)
            created["appointmentsCreated"] += 1
        if not await upcoming(AppointmentSource.PATIENT):
            day = _weekday_after(today, 17)
            await agenda.add_own(runtime, as_patient, agenda.AppointmentInput(
                start_at=_paris(day, 10, 30), end_at=_paris(day, 11),
                place="Centre d'ophtalmologie, 5 place Saint-Pierre, 14000 Caen",
                reason="Contrôle annuel de la vue",
                practitioner="Dr Claire Lefèvre, ophtalmologue"))
            created["appointmentsCreated"] += 1
        for identifier, days_ago, reason in DEMO_PAST:
            day = _weekday_after(today, -days_ago)
            _, was_created = await agenda.upsert_from_software(
                runtime, professional_account_id=doctor.id,
                professional_id=doctor.professional_id, person_id=person_id,
                incoming=agenda.SoftwareAppointment(
                    data=agenda.AppointmentInput(start_at=_paris(day, 9),
                                                 end_at=_paris(day, 9, 20), place=DEMO_PLACE,
                                                 reason=reason),
                    status=AppointmentStatus.DONE,
                    source_key=agenda.source_key(DEMO_SOFTWARE_SYSTEM, identifier)),
                now=now)
            created["appointmentsCreated"] += int(was_created)
    finally:
        await notices.drain()
        await runtime.aclose()
    return created


# --- catalogue (issue 14) ---------------------------------------------------------------------

# Every referencing criterion (a criterion added later is checked here too).
ALL_CRITERIA = [criterion.value for criterion in Criterion]

# Referenced: every criterion checked (the public catalogue lists them).
DEMO_APPS: list[dict[str, Any]] = [
    {
        "name": "Glycémie Facile",
        "publisher": "Diabète Compagnon SAS",
        "description": "Votre carnet de diabète : notez vos glycémies, vos doses d'insuline et "
                       "vos repas, et partagez un résumé clair avec votre médecin avant chaque "
                       "consultation.",
        "categories": ["diabetes", "chronic_disease"],
        "logoUrl": "https://glycemie.example.fr/logo.png",
        "websiteUrl": "https://glycemie.example.fr/",
        "privacyPolicyUrl": "https://glycemie.example.fr/confidentialite",
        "scopes": [{"scope": "profile:read"},
                   {"scope": "profile.measurements:write"},
                   {"scope": "documents:read", "optional": True}],
        "redirectUris": ["https://glycemie.example.fr/oauth/retour"],
        "clientType": "confidential",
        "criteria": ALL_CRITERIA,
    },
    {
        "name": "Balance & Mesures",
        "publisher": "Forme et Santé SARL",
        "description": "Suivez votre poids, votre tour de taille et votre tension : "
                       "l'application reprend vos mesures de Carnet et y ajoute celles de votre "
                       "balance ou de votre tensiomètre connectés.",
        "categories": ["nutrition", "physical_activity", "prevention"],
        "websiteUrl": "https://mesures.example.fr/",
        "privacyPolicyUrl": "https://mesures.example.fr/vie-privee",
        "scopes": [{"scope": "profile:read"},
                   {"scope": "profile.measurements:write", "optional": True}],
        "redirectUris": ["https://mesures.example.fr/oauth/callback",
                         "http://127.0.0.1:8765/callback"],
        "clientType": "public",
        "criteria": ALL_CRITERIA,
    },
    {
        "name": "RDV Malin",
        "publisher": "Agenda Santé Coopérative",
        "description": "Trouvez un créneau chez vos soignants, recevez un rappel la veille et "
                       "déplacez ou annulez un rendez-vous en deux gestes, depuis votre "
                       "téléphone.",
        "categories": ["appointments"],
        "logoUrl": "https://rdv-malin.example.fr/logo.svg",
        "websiteUrl": "https://rdv-malin.example.fr/",
        "privacyPolicyUrl": "https://rdv-malin.example.fr/confidentialite",
        "scopes": [{"scope": "agenda:read"},
                   {"scope": "agenda:write", "optional": True}],
        "redirectUris": ["https://rdv-malin.example.fr/oauth/retour"],
        "clientType": "public",
        "criteria": ALL_CRITERIA,
    },
]
# Submitted, under review: NOT in the public catalogue.
DEMO_SUBMITTED_APP: dict[str, Any] = {
    "name": "Sommeil Serein",
    "publisher": "Nuits Calmes SAS",
    "description": "Un journal du sommeil et des exercices de relaxation guidés, avec un bilan "
                   "mensuel à montrer à votre médecin.",
    "categories": ["mental_health"],
    "websiteUrl": "https://sommeil.example.fr/",
    "privacyPolicyUrl": "https://sommeil.example.fr/confidentialite",
    "scopes": [{"scope": "profile:read", "optional": True}],
    "redirectUris": ["https://sommeil.example.fr/oauth/callback"],
    "clientType": "public",
    "criteria": ["gdpr_compliance", "privacy_policy"],
}
DEMO_OPERATOR = "Équipe Carnet (démo)"


async def _seed_catalogue(now: datetime) -> dict[str, int]:
    """The catalogue's apps through its services (`carnet apps submit` then `reference`), each
    once (by name)."""
    from backend.catalogue import services as catalogue
    from backend.catalogue.models import AppStatus, CatalogueApp

    created = 0
    for data, referenced in [*((app, True) for app in DEMO_APPS), (DEMO_SUBMITTED_APP, False)]:
        if await CatalogueApp.filter(name=data["name"]).exists():
            continue
        row = await catalogue.submit(data, operator=DEMO_OPERATOR, now=now,
                                     reason="Soumission (données de démonstration)")
        if referenced:
            await catalogue.change_status(
                str(row.id), AppStatus.REFERENCED, operator=DEMO_OPERATOR, now=now,
                reason="Critères vérifiés (données de démonstration)")
        created += 1
    return {"catalogueAppsCreated": created}
