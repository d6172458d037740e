"""'Mon compte' (issue 11): language and notification preferences, and the notices of new
documents and messages that honour them (no health data, never failing what triggered them)."""

from __future__ import annotations

import logging

import pytest
from tortoise.transactions import in_transaction

from backend.identity import matching, notices
from backend.identity.models import Account, Person
from backend.records import services as records
from backend.records.models import Document, DocumentSource
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import sign_in
from tests.messaging_helpers import SEND, start

ME = """query { me { language emailVerified phoneVerified
  notificationPreferences { channel newDocument newMessage }
  patient { insMatricule birthName firstNames firstBirthFirstName matriculeType birthDate sex
            birthplaceCode identityStatus } } }"""

UPDATE = """mutation U($language: String, $channel: CodeChannel, $doc: Boolean, $msg: Boolean) {
  updatePreferences(language: $language, notificationChannel: $channel,
                    notifyNewDocument: $doc, notifyNewMessage: $msg) {
    __typename
    ... on Me { language notificationPreferences { channel newDocument newMessage } }
    ... on InvalidInput { field message }
    ... on Error { message }
  }
}"""

MARK_READ = """mutation M($c: ID!) { markRead(conversationId: $c) { __typename } }"""

TITLE = "Sérologie VIH — résultat"
BODY = "Votre biopsie montre une tumeur bénigne"
SUBJECT = "Résultats de la biopsie"


async def update(gql, token: str, **values) -> dict:
    body = await gql(UPDATE, values, token=token)
    assert "errors" not in body, body
    return body["data"]["updatePreferences"]


async def test_preferences_default_update_and_validation(gql, notifier, clean):
    account = await create_patient(email="prefs@example.fr")
    token = await sign_in(gql, notifier, "prefs@example.fr", PASSWORD)
    me = (await gql(ME, token=token))["data"]["me"]
    assert me["language"] == "fr" and me["emailVerified"] and not me["phoneVerified"]
    assert me["notificationPreferences"] == {"channel": "EMAIL", "newDocument": True,
                                             "newMessage": True}
    person = await Person.get(id=account.person_id)
    assert me["patient"]["firstBirthFirstName"] == person.first_names.split()[0]
    assert me["patient"]["firstNames"] == person.first_names
    assert me["patient"]["matriculeType"] == "NIR"
    assert me["patient"]["identityStatus"] == "PROV"

    changed = await update(gql, token, language="EN", doc=False)
    assert changed == {"__typename": "Me", "language": "en", "notificationPreferences": {
        "channel": "EMAIL", "newDocument": False, "newMessage": True}}
    # What is left out stays; a refusal writes nothing at all.
    refused = await update(gql, token, language="de", msg=False)
    assert refused["__typename"] == "InvalidInput" and refused["field"] == "language"
    no_phone = await update(gql, token, channel="SMS", msg=False)
    assert no_phone["__typename"] == "ChannelUnavailable"
    stored = await Account.get(id=account.id)
    assert (stored.language, stored.notify_new_document, stored.notify_new_message,
            stored.notification_channel) == ("en", False, True, None)

    # A verified phone may be chosen; an unverified one may not.
    await Account.filter(id=account.id).update(phone="+33612345678", phone_verified=False)
    assert (await update(gql, token, channel="SMS"))["__typename"] == "ChannelUnavailable"
    await Account.filter(id=account.id).update(phone_verified=True)
    chosen = await update(gql, token, channel="SMS")
    assert chosen["notificationPreferences"]["channel"] == "SMS"
    assert (await gql(UPDATE, {"language": "fr"}))["errors"][0]["extensions"]["code"] in {
        "NOT_AUTHENTICATED", "FORBIDDEN"}


# --- documents ---------------------------------------------------------------------------


async def _deposit(app, doctor: Account, patient: Account, title: str = TITLE) -> Document:
    person = await Person.get(id=patient.person_id)
    content = f"%PDF-1.4\n{title}\n%%EOF\n".encode()
    # The path of both the GraphQL deposit and the FHIR intake.
    return await records.deposit_document(
        app.state.runtime, professional_account_id=doctor.id,
        professional_id=doctor.professional_id,
        patient=matching.PatientClaim(person.matricule, person.birth_name, person.birth_date),
        data=records.DocumentInput(title, "11502-2", person.created_at.date()),
        chunks=records.bytes_chunks(content), size=len(content))


@pytest.fixture
async def doctor(clean):
    return await create_professional(email="doc-notices@example.fr")


async def test_a_deposited_document_is_announced_without_its_title(app, notifier, doctor):
    patient = await create_patient(email="told@example.fr")
    await _deposit(app, doctor, patient)
    message = await notifier.wait_for(to="told@example.fr")
    assert message.subject == "Carnet : nouveau document"
    assert message.text == "Vous avez un nouveau document dans Carnet."
    for secret in ("VIH", "Sérologie", "biologie", "Médecin", "Dupont"):
        assert secret not in f"{message.subject} {message.text}"
    await notices.drain()
    assert len(notifier.sent) == 1


async def test_document_notices_follow_language_channel_and_switch(app, notifier, doctor):
    english = await create_patient(email="english@example.fr", phone="06 11 22 33 44")
    await Account.filter(id=english.id).update(language="en", notification_channel="sms")
    silent = await create_patient(email="silent@example.fr")
    await Account.filter(id=silent.id).update(notify_new_document=False)
    await _deposit(app, doctor, english)
    document = await _deposit(app, doctor, silent, title="Autre compte rendu")
    await notices.drain()
    [sms] = notifier.sent
    assert (sms.channel, sms.to, sms.text) == ("sms", "+33611223344",
                                               "You have a new document in Carnet.")
    # Switched off: nothing sent, and the document is not announced later either.
    assert notifier.find(to="silent@example.fr") == []
    assert (await Document.get(id=document.id)).patient_notified_at is not None


async def test_a_patients_own_upload_is_not_announced(app, notifier, clean):
    patient = await create_patient(email="self-upload@example.fr")
    await records.store_document(
        app.state.runtime, person_id=patient.person_id,
        author=records.Author(account_id=patient.id, professional_id=None),
        source=DocumentSource.PATIENT_UPLOAD,
        data=records.DocumentInput("Mon ordonnance", "57833-6",
                                   (await Person.get(id=patient.person_id)).created_at.date()),
        chunks=records.bytes_chunks(b"%PDF-1.4\n%%EOF\n"))
    await notices.drain()
    assert notifier.sent == []


async def test_a_failing_delivery_never_fails_the_deposit(app, notifier, doctor, caplog):
    patient = await create_patient(email="bounce@example.fr")
    notifier.failing.add("email")
    with caplog.at_level(logging.INFO):
        document = await _deposit(app, doctor, patient)
        await notices.drain()
    assert await Document.filter(id=document.id).exists()
    assert notifier.sent == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "notice failed" in logged
    for personal in ("bounce", "example.fr", "VIH", "Dupont"):
        assert personal not in logged


# --- messages ----------------------------------------------------------------------------


@pytest.fixture
async def pair(gql, notifier, clean):
    patient = await create_patient(email="msg-patient@example.fr")
    doctor = await create_professional(email="msg-doctor@example.fr")
    tokens = (await sign_in(gql, notifier, "msg-patient@example.fr", PASSWORD),
              await sign_in(gql, notifier, "msg-doctor@example.fr", PASSWORD))
    notifier.clear()
    return patient, doctor, tokens


async def test_a_message_to_the_patient_is_announced_once_per_unread_streak(gql, notifier,
                                                                            pair):
    patient, _, (p_token, d_token) = pair
    started = await start(gql, d_token, patient, subject=SUBJECT, body=BODY)
    conv_id = started["conversation"]["id"]
    message = await notifier.wait_for(to="msg-patient@example.fr")
    assert message.subject == "Carnet : nouveau message"
    assert message.text == "Vous avez un nouveau message dans Carnet."
    for secret in ("biopsie", "tumeur", "Médecin", "msg-doctor"):
        assert secret not in f"{message.subject} {message.text}"
    # Still unread: a second message is not announced again.
    await gql(SEND, {"c": conv_id, "body": "Et un second message"}, token=d_token)
    await notices.drain()
    assert len(notifier.sent) == 1
    # Once read, the next one is.
    await gql(MARK_READ, {"c": conv_id}, token=p_token)
    await gql(SEND, {"c": conv_id, "body": "Un troisième"}, token=d_token)
    await notices.drain()
    assert len(notifier.find(to="msg-patient@example.fr")) == 2
    # The patient's own message: nobody is told at once (professionals get a reminder later).
    await gql(SEND, {"c": conv_id, "body": "Merci docteur"}, token=p_token)
    await notices.drain()
    assert len(notifier.sent) == 2


async def test_message_notices_follow_language_and_switch(gql, notifier, pair):
    patient, _, (p_token, d_token) = pair
    assert (await update(gql, p_token, msg=False))["__typename"] == "Me"
    conv_id = (await start(gql, d_token, patient, subject=SUBJECT, body=BODY))[
        "conversation"]["id"]
    await notices.drain()
    assert notifier.sent == []
    await update(gql, p_token, msg=True, language="en")
    await gql(MARK_READ, {"c": conv_id}, token=p_token)
    sent = await gql(SEND, {"c": conv_id, "body": BODY}, token=d_token)
    assert sent["data"]["sendMessage"]["__typename"] == "MessageSent"
    message = await notifier.wait_for(to="msg-patient@example.fr")
    assert (message.subject, message.text) == ("Carnet: new message",
                                               "You have a new message in Carnet.")


async def test_a_failing_delivery_never_fails_the_message(gql, notifier, pair):
    patient, _, (_, d_token) = pair
    notifier.failing.add("email")
    started = await start(gql, d_token, patient, subject=SUBJECT, body=BODY)
    assert started["__typename"] == "ConversationStarted"
    await notices.drain()
    assert notifier.sent == []


async def test_notices_are_never_scheduled_inside_a_transaction(app, clean):
    patient = await create_patient(email="in-tx@example.fr")
    work = notices.tell_patient(app.state.runtime, patient.person_id,
                                notices.Event.NEW_DOCUMENT)
    async with in_transaction():
        with pytest.raises(RuntimeError, match="after the commit"):
            notices.later(work, what="test")


def test_every_notice_and_code_text_has_an_english_translation():
    from backend.i18n import catalogue
    from backend.identity.services import CODE_TEXTS

    english = catalogue("en")
    texts = [t for notice in (notices.NEW_DOCUMENT, notices.NEW_MESSAGE,
                              notices.WAITING_MESSAGE, notices.PASSWORD_CHANGED)
             for t in (notice.subject, notice.body)]
    texts += [t for pair in CODE_TEXTS.values() for t in pair]
    missing = [t for t in texts if t not in english]
    assert missing == []
    assert english[CODE_TEXTS["login"][1]].format(code="123456", minutes=15).startswith(
        "Your Carnet sign-in code is 123456.")
