"""The access policy (backend/access/policy.py), per viewer kind and ground, at the service
level: what each viewer's `Access` lets the record and profile services read."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from backend.access import policy
from backend.access import services as access
from backend.access.errors import EmergencyAccessNotAllowed, EmergencyAccessRefused
from backend.access.models import CareRelationship, EmergencyAccess
from backend.access.policy import Ground, Section
from backend.identity import matching, notices
from backend.identity.models import Account, Person
from backend.identity.services import Viewer
from backend.messaging import services as messaging
from backend.profile import services as profile
from backend.records import services as records
from backend.records.models import Document, Visibility
from tests.access_helpers import (
    add_allergy,
    add_treatment,
    make_professional,
    now,
    seed_matrix,
    store,
)
from tests.factories import create_patient

EXPIRY = 1095
LAB, PRESCRIPTION, CONSULTATION = "11502-2", "57833-6", "11488-4"


@pytest.fixture
async def rt(app, clean):
    await seed_matrix()
    return app.state.runtime


def pv(account) -> policy.PatientViewer:
    return policy.PatientViewer(account.id, account.person_id)


def prv(account) -> policy.ProfessionalViewer:
    return policy.ProfessionalViewer(account.id, account.professional_id)


async def decide(viewer, patient_account, **kwargs) -> policy.Access:
    return await policy.access_for(viewer, patient_account.person_id, expiry_days=EXPIRY,
                                   **kwargs)


async def readable(access_: policy.Access) -> set:
    return set(await Document.filter(access_.documents()).values_list("id", flat=True))


async def sections_read(rt, access_: policy.Access) -> dict[str, int]:
    ring = profile.KeyRing(rt.settings)
    return {kind.KIND: len(await profile.list_entries(ring, kind, access_))
            for kind in (profile.AllergyInput, profile.TreatmentInput)}


async def record(rt):
    """A patient with documents of several kinds and two profile entries."""
    patient = await create_patient()
    author = await make_professional("Médecin", "Cardiologie")
    pid = patient.person_id
    docs = {
        "lab": await store(rt, pid, type_code=LAB),
        "prescription": await store(rt, pid, type_code=PRESCRIPTION),
        "hidden": await store(rt, pid, type_code=CONSULTATION,
                              visibility=Visibility.HIDDEN_FROM_PROFESSIONALS),
        "unreleased": await store(rt, pid, type_code=LAB, author=author,
                                  visibility=Visibility.NOT_YET_VISIBLE_TO_PATIENT,
                                  release_at=now() + timedelta(days=5)),
        "deleted": await store(rt, pid, type_code=LAB),
    }
    await records.delete_document(pid, str(docs["deleted"].id))
    await add_allergy(rt, pid)
    await add_treatment(rt, pid)
    return patient, author, {k: d.id for k, d in docs.items()}


async def test_the_patient_reads_their_own_record_as_before(rt):
    patient, _, docs = await record(rt)
    other = await create_patient()
    mine = await decide(pv(patient), patient)
    assert mine.ground is Ground.SELF and mine.sections == policy.ALL_SECTIONS
    # Hidden-from-professionals is the patient's own choice: they see it; not yet released and
    # deleted documents stay hidden from them.
    assert await readable(mine) == {docs["lab"], docs["prescription"], docs["hidden"]}
    assert await sections_read(rt, mine) == {"allergy": 1, "treatment": 1}
    # Another patient's record: nothing, without an error.
    theirs = await decide(pv(other), patient)
    assert not theirs.granted and await readable(theirs) == set()
    assert await sections_read(rt, theirs) == {"allergy": 0, "treatment": 0}


async def test_a_professional_without_a_ground_reads_nothing(rt):
    patient, author, docs = await record(rt)
    doctor = await make_professional()
    for viewer in (prv(doctor), prv(author)):  # even the author of a document, without a ground
        decision = await decide(viewer, patient)
        assert not decision.granted
        assert await readable(decision) == set()
        assert await sections_read(rt, decision) == {"allergy": 0, "treatment": 0}


async def test_care_team_doctor_reads_everything_but_hidden_documents(rt):
    patient, _, docs = await record(rt)
    doctor = await make_professional("Médecin", "Médecine générale")
    await access.add_to_care_team(pv(patient), (await doctor_rpps(doctor)))
    decision = await decide(prv(doctor), patient)
    assert decision.ground is Ground.CARE_TEAM
    # Not-yet-visible-to-the-patient is for the patient only: professionals read it.
    assert await readable(decision) == {docs["lab"], docs["prescription"], docs["unreleased"]}
    assert await sections_read(rt, decision) == {"allergy": 1, "treatment": 1}


async def doctor_rpps(account) -> str:
    from backend.identity.models import Professional

    return (await Professional.get(id=account.professional_id)).rpps


async def test_the_treating_doctor_reads_hidden_documents_and_the_author_their_own(rt):
    patient, author, docs = await record(rt)
    treating = await make_professional("Médecin", "Médecine générale")
    await access.set_treating_doctor(pv(patient), await doctor_rpps(treating))
    decision = await decide(prv(treating), patient)
    assert decision.ground is Ground.TREATING_DOCTOR
    assert docs["hidden"] in await readable(decision)
    # The author of a hidden document reads it (and any type), on a ground.
    hidden_own = await store(rt, patient.person_id, type_code="11526-1", author=author,
                             visibility=Visibility.HIDDEN_FROM_PROFESSIONALS)
    await access.add_to_care_team(pv(patient), await doctor_rpps(author))
    await access.restrict_professional(pv(patient), author.professional_id,
                                       document_types=[LAB], sections=[])
    by_author = await decide(prv(author), patient)
    assert await readable(by_author) == {docs["lab"], docs["unreleased"], hidden_own.id}
    assert docs["hidden"] not in await readable(by_author)


async def test_a_declared_relationship_is_a_ground_and_the_patient_is_told(rt, notifier):
    patient, _, docs = await record(rt)
    nurse = await make_professional("Infirmier")
    person = await Person.get(id=patient.person_id)
    claim = matching.PatientClaim(person.matricule, person.birth_name, person.birth_date)
    await access.declare_care_relationship(rt, prv(nurse), claim)
    decision = await decide(prv(nurse), patient)
    assert decision.ground is Ground.DECLARED
    # Nurses: lab reports and prescriptions yes (matrix), consultation reports no.
    assert await readable(decision) == {docs["lab"], docs["prescription"], docs["unreleased"]}
    assert Section.FAMILY_HISTORY not in decision.sections
    await notices.drain()
    [sent] = notifier.sent
    assert "indiqué vous suivre" in sent.text
    # No health detail, no name nor profession (a specialty alone can reveal a condition).
    for secret in ("Infirmier", "Pénicilline", "Metformine", person.birth_name):
        assert secret not in sent.text
    # Declaring again while active tells nobody twice.
    await access.declare_care_relationship(rt, prv(nurse), claim)
    await notices.drain()
    assert len(notifier.sent) == 1


async def test_expired_and_ended_relationships_are_no_ground(rt):
    patient, _, _ = await record(rt)
    doctor = await make_professional()
    await access.add_to_care_team(pv(patient), await doctor_rpps(doctor))
    later = now() + timedelta(days=EXPIRY + 1)
    assert not (await decide(prv(doctor), patient, now=later)).granted
    # A read keeps it alive (at most one write a day).
    relationship = await CareRelationship.get(professional_id=doctor.professional_id)
    await CareRelationship.filter(id=relationship.id).update(
        last_access_at=now() - timedelta(days=EXPIRY - 10))
    decision = await decide(prv(doctor), patient)
    assert decision.granted
    await policy.touch(decision)
    assert (await decide(prv(doctor), patient, now=now() + timedelta(days=EXPIRY - 5))).granted
    await access.remove_from_care_team(pv(patient), doctor.professional_id)
    assert not (await decide(prv(doctor), patient)).granted


async def test_a_block_wins_over_every_ground_and_deposits_still_work(rt):
    patient, _, _ = await record(rt)
    doctor = await make_professional("Médecin", "Médecine d'urgence")
    await access.set_treating_doctor(pv(patient), await doctor_rpps(doctor))
    session = Viewer(account_id=patient.id, role="patient", session_id="s",
                     person_id=patient.person_id)
    await messaging.block(session, doctor.professional_id)
    assert not (await decide(prv(doctor), patient)).granted
    person = await Person.get(id=patient.person_id)
    claim = matching.PatientClaim(person.matricule, person.birth_name, person.birth_date)
    with pytest.raises(EmergencyAccessRefused):
        await access.emergency_access(rt, prv(doctor), claim, "Inconscient")
    deposited = await records.deposit_document(
        rt, professional_account_id=doctor.id, professional_id=doctor.professional_id,
        patient=claim, data=records.DocumentInput("CR", LAB, now().date()),
        chunks=records.bytes_chunks(b"%PDF-1.4 blocked but depositing"), size=31)
    assert await Document.filter(id=deposited.id, person_id=patient.person_id).exists()


async def test_a_profession_the_matrix_excludes_reads_nothing(rt):
    patient, _, _ = await record(rt)
    osteo = await make_professional("Ostéopathe")
    await access.add_to_care_team(pv(patient), await doctor_rpps(osteo))
    decision = await decide(prv(osteo), patient)
    assert not decision.granted and await readable(decision) == set()


async def test_the_pharmacist_reads_the_matrix_subset_and_patient_restrictions_narrow_it(rt):
    patient, _, docs = await record(rt)
    pharmacist = await make_professional("pharmacien")  # case and accents do not matter
    await access.add_to_care_team(pv(patient), await doctor_rpps(pharmacist))
    decision = await decide(prv(pharmacist), patient)
    assert await readable(decision) == {docs["prescription"]}
    assert decision.sections == {Section.ALLERGIES, Section.VACCINATIONS, Section.TREATMENTS}
    await access.restrict_professional(pv(patient), pharmacist.professional_id,
                                       document_types=[], sections=["treatments",
                                                                    "family_history"])
    narrowed = await decide(prv(pharmacist), patient)
    assert await readable(narrowed) == set()
    # A restriction never widens the matrix (family history stays out).
    assert narrowed.sections == {Section.TREATMENTS}
    assert await sections_read(rt, narrowed) == {"allergy": 0, "treatment": 1}


async def test_emergency_access_allowed_refused_and_expired(rt, notifier):
    patient, _, docs = await record(rt)
    person = await Person.get(id=patient.person_id)
    claim = matching.PatientClaim(person.matricule, person.birth_name, person.birth_date)
    general = await make_professional("Médecin", "Médecine générale")
    with pytest.raises(EmergencyAccessNotAllowed):
        await access.emergency_access(rt, prv(general), claim, "Malaise")
    urgentist = await make_professional("Médecin", "Médecine d'urgence")
    opened = await access.emergency_access(rt, prv(urgentist), claim, "Patient inconscient")
    assert opened.access.expires_at - opened.access.opened_at == timedelta(hours=24)
    decision = await decide(prv(urgentist), patient)
    assert decision.ground is Ground.EMERGENCY and decision.relationship_id is None
    assert docs["lab"] in await readable(decision)
    # The reason is stored, encrypted (never in clear in the row).
    row = await EmergencyAccess.get(id=opened.access.id)
    assert b"inconscient" not in bytes(row.reason_encrypted)
    assert await access.emergency_reason(rt, row) == "Patient inconscient"
    await notices.drain()
    [told] = notifier.sent
    assert "urgence" in told.text and "inconscient" not in told.text
    # Expired: nothing.
    assert not (await decide(prv(urgentist), patient,
                             now=now() + timedelta(hours=25))).granted
    # Refused by the patient: refused, and an open access stops counting at once.
    await access.set_emergency_access(pv(patient), False)
    assert not (await decide(prv(urgentist), patient)).granted
    regulator = await make_professional("Médecin", "Régulation médicale")
    with pytest.raises(EmergencyAccessRefused):
        await access.emergency_access(rt, prv(regulator), claim, "Appel au 15")
    await notices.drain()
    assert len(notifier.sent) == 1


async def test_an_empty_reason_is_refused_before_the_identity_match(rt):
    patient, _, _ = await record(rt)
    urgentist = await make_professional("Médecin", "Médecine d'urgence")
    wrong = matching.PatientClaim("1" * 15, "NOBODY", now().date())
    with pytest.raises(access.InvalidAccessInput):
        await access.emergency_access(rt, prv(urgentist), wrong, "   ")


# --- safety notices (identity.notices.warn_patient) ----------------------------------------


async def _claim_of(patient) -> matching.PatientClaim:
    person = await Person.get(id=patient.person_id)
    return matching.PatientClaim(person.matricule, person.birth_name, person.birth_date)


async def test_safety_notices_are_in_the_account_language_whatever_the_switches(rt, notifier):
    patient = await create_patient(email="english-patient@example.fr")
    # Every event switched off: the safety notices go all the same.
    await Account.filter(id=patient.id).update(language="en", notify_new_document=False,
                                                notify_new_message=False)
    claim = await _claim_of(patient)
    await access.declare_care_relationship(rt, prv(await make_professional("Infirmier")), claim)
    await access.emergency_access(rt, prv(await make_professional("Médecin",
                                                                  "Médecine d'urgence")),
                                  claim, "Patient inconscient")
    await notices.drain()
    assert [(m.to, m.subject) for m in notifier.sent] == [
        ("english-patient@example.fr", "Carnet: a professional is following your record"),
        ("english-patient@example.fr", "Carnet: emergency access to your record")]
    declared, emergency = notifier.sent
    assert declared.text.startswith("A healthcare professional has stated that they are")
    assert emergency.text.startswith("Your Carnet record has just been opened in an emergency")
    assert "inconscient" not in emergency.text


async def test_safety_notices_never_go_to_an_unverified_phone(rt, notifier):
    urgentist = await make_professional("Médecin", "Médecine d'urgence")
    # Codes and notices on SMS, but the phone is not verified: the verified e-mail instead.
    patient = await create_patient(email="verified@example.fr", phone="06 11 22 33 44",
                                   channel="sms")
    await Account.filter(id=patient.id).update(phone_verified=False, notification_channel="sms")
    await access.emergency_access(rt, prv(urgentist), await _claim_of(patient), "Coma")
    await notices.drain()
    assert [(m.channel, m.to) for m in notifier.sent] == [("email", "verified@example.fr")]
    # Only an unverified phone: nobody is told on it (and the opening stands).
    lone = await create_patient(email="", phone="06 55 66 77 88", channel="sms",
                                identifier="lone-patient")
    await Account.filter(id=lone.id).update(phone_verified=False)
    opened = await access.emergency_access(rt, prv(urgentist), await _claim_of(lone), "Coma")
    await notices.drain()
    assert len(notifier.sent) == 1 and notifier.sms == []
    assert await EmergencyAccess.filter(id=opened.access.id).exists()


async def test_a_failing_transport_never_fails_the_emergency_opening(rt, notifier, caplog):
    patient = await create_patient(email="unreachable@example.fr")
    urgentist = await make_professional("Médecin", "Médecine d'urgence")
    notifier.failing.add("email")
    with caplog.at_level(logging.WARNING):
        opened = await access.emergency_access(rt, prv(urgentist), await _claim_of(patient),
                                               "Détresse respiratoire")
        await notices.drain()
    assert notifier.sent == []
    assert await EmergencyAccess.filter(id=opened.access.id).exists()
    assert (await decide(prv(urgentist), patient)).ground is Ground.EMERGENCY
    assert "emergency access notice failed (email, DeliveryFailed)" in caplog.text
    assert "unreachable@example.fr" not in caplog.text and "Détresse" not in caplog.text


def test_every_safety_notice_has_an_english_translation():
    from backend.i18n import catalogue

    english = catalogue("en")
    assert [t for n in access.SAFETY_NOTICES for t in (n.subject, n.body)
            if t not in english] == []
