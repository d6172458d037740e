"""Secure messaging over GraphQL: rules, typed errors, privacy, encryption, no N+1."""

from __future__ import annotations

import uuid

import pytest

from backend.identity.models import Account, Professional
from tests.messaging_helpers import CONVERSATIONS, MESSAGES, SEND, people, start
from tests.querycount import count_queries


@pytest.fixture
async def cast(gql, notifier, clean):
    return await people(gql, notifier)


async def test_professional_opens_patient_replies_unread_counts(gql, cast):
    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    started = await start(gql, d_token, patient)
    assert started["__typename"] == "ConversationStarted"
    conv_id = started["conversation"]["id"]

    listed = (await gql(CONVERSATIONS, {"first": 10}, token=p_token))["data"]["conversations"]
    node = listed["edges"][0]["node"]
    assert node["subject"] == "Résultats" and node["unreadCount"] == 1
    assert node["lastMessage"]["body"] == "Bonjour, vos résultats sont arrivés."
    assert node["lastMessage"]["authorName"].startswith("Médecin")
    assert {p["isPatient"] for p in node["participants"]} == {True, False}

    reply = await gql(SEND, {"c": conv_id, "body": "Merci docteur"}, token=p_token)
    assert reply["data"]["sendMessage"]["sentMessage"]["isMine"] is True
    doctor_view = (await gql(CONVERSATIONS, {"first": 10}, token=d_token))["data"]
    assert doctor_view["conversations"]["edges"][0]["node"]["unreadCount"] == 1
    # Replying implies the patient read what came before.
    patient_view = (await gql(CONVERSATIONS, {"first": 10}, token=p_token))["data"]
    assert patient_view["conversations"]["edges"][0]["node"]["unreadCount"] == 0

    marked = await gql('mutation M($c: ID!) { markRead(conversationId: $c) { ... on ReadMarked'
                       " { unreadCount } } }", {"c": conv_id}, token=d_token)
    assert marked["data"]["markRead"]["unreadCount"] == 0


async def test_patients_cannot_open_conversations(gql, cast):
    patient, p_token = cast["patient"]
    body = await gql("mutation S($i: StartConversationInput!) { startConversation(input: $i)"
                     " { __typename } }", {"i": {"subject": "x", "body": "y", "patient": {
                         "insMatricule": "1", "birthName": "x", "birthDate": "2000-01-01"}}},
                     token=p_token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_outsiders_see_exactly_what_a_missing_conversation_gives(gql, notifier, cast):
    patient, _ = cast["patient"]
    _, d_token = cast["doctor"]
    _, n_token = cast["nurse"]  # not a participant
    conv_id = (await start(gql, d_token, patient))["conversation"]["id"]
    missing = str(uuid.uuid4())
    for target in (conv_id, missing):
        one = await gql("query C($c: ID!) { conversation(id: $c) { id } }", {"c": target},
                        token=n_token)
        assert one == {"data": {"conversation": None}}
        msgs = await gql(MESSAGES, {"c": target, "first": 10}, token=n_token)
        assert msgs == {"data": {"messages": None}}
        sent = await gql(SEND, {"c": target, "body": "intrusion"}, token=n_token)
        assert sent["data"]["sendMessage"]["__typename"] == "ConversationNotFound"
    listed = await gql(CONVERSATIONS, {"first": 10}, token=n_token)
    assert listed["data"]["conversations"]["edges"] == []


async def test_professionals_only_conversation_about_a_patient(gql, cast):
    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    nurse, n_token = cast["nurse"]
    nurse_rpps = (await Account.get(id=nurse.id).prefetch_related("professional")
                  ).professional.rpps
    started = await start(gql, d_token, patient, include_patient=False, rpps=[nurse_rpps],
                          subject="Avis sur le traitement")
    conv_id = started["conversation"]["id"]
    seen = (await gql(CONVERSATIONS, {"first": 5}, token=n_token))["data"]["conversations"]
    assert seen["edges"][0]["node"]["patientParticipates"] is False
    assert (await gql(CONVERSATIONS, {"first": 5}, token=p_token))["data"][
        "conversations"]["edges"] == []
    hidden = await gql("query C($c: ID!) { conversation(id: $c) { id } }", {"c": conv_id},
                       token=p_token)
    assert hidden["data"]["conversation"] is None
    alone = await start(gql, d_token, patient, include_patient=False)
    assert alone["__typename"] == "InvalidMessage"


async def test_blocking_a_professional(gql, cast):
    patient, p_token = cast["patient"]
    doctor, d_token = cast["doctor"]
    conv_id = (await start(gql, d_token, patient))["conversation"]["id"]
    blocked = await gql('mutation B($p: ID!) { blockProfessional(professionalId: $p) '
                        "{ __typename ... on BlockChanged { blocked } } }",
                        {"p": str(doctor.professional_id)}, token=p_token)
    assert blocked["data"]["blockProfessional"]["blocked"] is True
    refused = await gql(SEND, {"c": conv_id, "body": "Encore moi"}, token=d_token)
    assert refused["data"]["sendMessage"]["__typename"] == "BlockedByPatient"
    assert (await start(gql, d_token, patient))["__typename"] == "BlockedByPatient"
    # The patient can still write; professionals-only exchanges about them go on.
    ok = await gql(SEND, {"c": conv_id, "body": "Je préfère un autre médecin."}, token=p_token)
    assert ok["data"]["sendMessage"]["__typename"] == "MessageSent"
    listed = await gql("query { blockedProfessionals { id } }", token=p_token)
    assert listed["data"]["blockedProfessionals"] == [{"id": str(doctor.professional_id)}]
    await gql('mutation U($p: ID!) { unblockProfessional(professionalId: $p) { __typename } }',
              {"p": str(doctor.professional_id)}, token=p_token)
    again = await gql(SEND, {"c": conv_id, "body": "Merci de votre retour"}, token=d_token)
    assert again["data"]["sendMessage"]["__typename"] == "MessageSent"


async def test_message_validation(gql, cast):
    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    conv_id = (await start(gql, d_token, patient))["conversation"]["id"]
    for body, field in (("   ", "body"), ("x" * 10_001, "body")):
        result = await gql(SEND, {"c": conv_id, "body": body}, token=p_token)
        error = result["data"]["sendMessage"]
        assert error["__typename"] == "InvalidMessage" and error["field"] == field
        assert error["message"]
    exact = await gql(SEND, {"c": conv_id, "body": "é" * 10_000}, token=p_token)
    assert exact["data"]["sendMessage"]["__typename"] == "MessageSent"
    html = await gql(SEND, {"c": conv_id, "body": "<script>alert(1)</script>"}, token=p_token)
    # Stored and returned as plain text; the frontend never renders it as HTML.
    assert html["data"]["sendMessage"]["sentMessage"]["body"] == "<script>alert(1)</script>"


async def test_attachments_must_be_documents_of_the_patient(app, client, gql, notifier, cast):
    from tests.test_records import PDF, upload

    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    conv_id = (await start(gql, d_token, patient))["conversation"]["id"]
    doc = (await upload(client, p_token, PDF)).json()["data"]["uploadDocument"]
    shared = await gql(SEND, {"c": conv_id, "body": "Voici l'ordonnance", "att": [doc["id"]]},
                       token=p_token)
    assert shared["data"]["sendMessage"]["sentMessage"]["attachments"] == [
        {"documentId": doc["id"]}]
    # The doctor cannot attach the patient's document (not theirs to share), nor a random id.
    for att in ([doc["id"]], [str(uuid.uuid4())], ["garbage"]):
        refused = await gql(SEND, {"c": conv_id, "body": "x", "att": att}, token=d_token)
        assert refused["data"]["sendMessage"]["__typename"] == "AttachmentNotFound"


async def test_pagination_of_messages(gql, cast):
    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    conv_id = (await start(gql, d_token, patient, body="m0"))["conversation"]["id"]
    for i in range(1, 7):
        await gql(SEND, {"c": conv_id, "body": f"m{i}"}, token=d_token if i % 2 else p_token)
    latest = (await gql(MESSAGES, {"c": conv_id, "first": 3}, token=p_token))["data"]["messages"]
    assert [e["node"]["body"] for e in latest["edges"]] == ["m4", "m5", "m6"]
    assert latest["pageInfo"]["hasPreviousPage"] is True
    older = (await gql(MESSAGES, {"c": conv_id, "first": 3,
                                  "before": latest["pageInfo"]["startCursor"]},
                       token=p_token))["data"]["messages"]
    assert [e["node"]["body"] for e in older["edges"]] == ["m1", "m2", "m3"]
    newer = (await gql(MESSAGES, {"c": conv_id, "first": 10,
                                  "after": older["edges"][0]["cursor"]},
                       token=p_token))["data"]["messages"]
    assert [e["node"]["body"] for e in newer["edges"]] == ["m2", "m3", "m4", "m5", "m6"]
    assert all(e["cursor"] == e["node"]["cursor"] for e in newer["edges"])


async def test_bodies_and_subjects_are_encrypted_at_rest(gql, cast):
    from tortoise import connections

    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    conv_id = (await start(gql, d_token, patient, subject="Suivi diabète"))["conversation"]["id"]
    await gql(SEND, {"c": conv_id, "body": "Ma glycémie est à 2,1 g/L"}, token=p_token)
    conn = connections.get("default")
    dump = ""
    for table in ("conversation", "message"):
        _, rows = await conn.execute_query(f"SELECT * FROM {table}")  # noqa: S608
        dump += repr(rows)
    assert "diabète" not in dump and "glycémie" not in dump and "glyc" not in dump


async def test_waiting_message_notification_is_sent_once(app, gql, notifier, cast):
    """Professionals get a reminder for a message left unread; patients are told at once
    instead (tests/test_account.py), so the sweep leaves them out."""
    from backend.identity import notices
    from backend.messaging.services import notify_waiting_messages

    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    conv_id = (await start(gql, d_token, patient, body="Bonjour"))["conversation"]["id"]
    await gql(SEND, {"c": conv_id, "body": "Contenu médical confidentiel"}, token=p_token)
    await notices.drain()
    notifier.clear()
    runtime = app.state.runtime
    assert await notify_waiting_messages(runtime, delay_seconds=3600) == 0  # not yet
    assert await notify_waiting_messages(runtime, delay_seconds=0) == 1
    [message] = notifier.sent
    assert message.to == "doctor@example.fr"
    assert "message vous attend" in message.text
    assert "confidentiel" not in message.text
    assert await notify_waiting_messages(runtime, delay_seconds=0) == 0  # once per message


async def test_conversation_list_runs_a_constant_number_of_queries(gql, cast):
    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]

    async def add(n: int) -> None:
        for i in range(n):
            conv_id = (await start(gql, d_token, patient, subject=f"Sujet {i}"))[
                "conversation"]["id"]
            await gql(SEND, {"c": conv_id, "body": "réponse"}, token=p_token)

    async def count() -> int:
        with count_queries() as counter:
            body = await gql(CONVERSATIONS, {"first": 20}, token=p_token)
        assert body.get("data"), body
        return counter.count, len(body["data"]["conversations"]["edges"])

    await add(1)
    small = await count()
    await add(11)
    large = await count()
    assert (small[1], large[1]) == (1, 12)
    assert small[0] == large[0], (small, large)
    # conversations, read positions, unread counts, last messages, data key, participants,
    # and two account batches (authors, participants) with their profile prefetches.
    assert large[0] <= 10


BLOCK = """mutation B($p: ID!) { blockProfessional(professionalId: $p) {
  __typename ... on BlockChanged { blocked } ... on Error { message } } }"""


async def test_blocking_answers_alike_whether_the_professional_exists(gql, cast):
    """Issue 9 item 10: blockProfessional must not tell which ids name a professional."""
    from backend.messaging.models import Block

    _, p_token = cast["patient"]
    doctor, _ = cast["doctor"]
    answers = [(await gql(BLOCK, {"p": p}, token=p_token))["data"]["blockProfessional"]
               for p in (str(doctor.professional_id), str(doctor.professional_id),
                         "987654", "99999999999999", "-3", "abc")]
    assert answers == [{"__typename": "BlockChanged", "blocked": True}] * len(answers)
    # only the real one is stored (once)
    assert await Block.all().values_list("professional_id", flat=True) == [
        doctor.professional_id]
    listed = await gql("query { blockedProfessionals { id } }", token=p_token)
    assert listed["data"]["blockedProfessionals"] == [{"id": str(doctor.professional_id)}]


async def test_subjects_and_bodies_lose_control_and_bidi_characters(gql, cast):
    """Issue 9 item 12: stripped (not refused), like document titles."""
    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    started = await start(gql, d_token, patient, subject="R\u00e9sultats\u202e fdp.exe\x00\u200f",
                          body="Ligne 1\n\u2066Ligne\u2069 2\x00")
    assert started["__typename"] == "ConversationStarted", started
    assert started["conversation"]["subject"] == "Résultats fdp.exe"
    messages = await gql(MESSAGES, {"c": started["conversation"]["id"], "first": 5},
                         token=p_token)
    assert messages["data"]["messages"]["edges"][0]["node"]["body"] == "Ligne 1\nLigne 2"
    only_controls = await start(gql, d_token, patient, subject="\u202a\u202c\x07")
    assert only_controls["__typename"] == "InvalidMessage"


LATEST = """query L($first: Int!, $after: String) {
  conversations(first: $first, after: $after) { latestCursor edges { node { id } } }
  messagingSummary { unreadCount unreadConversations latestCursor }
}"""


async def test_latest_cursor_and_unread_summary_across_conversations(gql, cast):
    """The web app resumes `inbox` from `latestCursor` (past the latest message of each of my
    conversations, whatever the page) instead of comparing cursors itself."""
    patient, p_token = cast["patient"]
    _, d_token = cast["doctor"]
    _, n_token = cast["nurse"]
    empty = (await gql(LATEST, {"first": 1}, token=p_token))["data"]
    assert empty["conversations"]["latestCursor"] is None
    assert empty["messagingSummary"] == {"unreadCount": 0, "unreadConversations": 0,
                                         "latestCursor": None}
    first = (await start(gql, d_token, patient, subject="Un"))["conversation"]["id"]
    second = (await start(gql, n_token, patient, subject="Deux"))["conversation"]["id"]
    # Between the doctor and the nurse only: not the patient's, so not in her latest cursor.
    nurse_rpps = (await Professional.get(id=cast["nurse"][0].professional_id)).rpps
    await start(gql, d_token, patient, subject="Entre nous", include_patient=False,
                rpps=[nurse_rpps])
    sent = await gql(SEND, {"c": first, "body": "Autre chose"}, token=d_token)
    cursor = sent["data"]["sendMessage"]["sentMessage"]["cursor"]
    page_one = (await gql(LATEST, {"first": 1}, token=p_token))["data"]
    after = page_one["conversations"]["edges"][0]["node"]["id"]
    assert after == first
    latest = page_one["conversations"]["latestCursor"]
    assert latest
    assert page_one["messagingSummary"] == {"unreadCount": 3, "unreadConversations": 2,
                                            "latestCursor": latest}
    conversations_page = await gql("query C { conversations(first: 1) { pageInfo { endCursor }"
                                   " } }", token=p_token)
    end = conversations_page["data"]["conversations"]["pageInfo"]["endCursor"]
    page_two = (await gql(LATEST, {"first": 1, "after": end}, token=p_token))["data"]
    assert [e["node"]["id"] for e in page_two["conversations"]["edges"]] == [second]
    assert page_two["conversations"]["latestCursor"] == latest  # whatever the page
    # Nothing after it in that conversation; the nurse's professionals-only one is hers.
    after_latest = await gql(MESSAGES, {"c": first, "first": 10, "after": cursor}, token=p_token)
    assert after_latest["data"]["messages"]["edges"] == []
    nurse = (await gql(LATEST, {"first": 5}, token=n_token))["data"]
    assert nurse["messagingSummary"]["unreadConversations"] == 1  # the doctor's "Entre nous"
    assert nurse["conversations"]["latestCursor"] != latest
    # A message in any of my conversations moves it on (here the second one).
    await gql(SEND, {"c": second, "body": "Encore"}, token=n_token)
    moved = (await gql(LATEST, {"first": 1}, token=p_token))["data"]
    assert moved["conversations"]["latestCursor"] not in (None, latest)
    assert moved["conversations"]["edges"][0]["node"]["id"] == second
