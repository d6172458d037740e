"""Messagerie state: the list, one conversation, replying with attachments, blocking, and
applying live events (de-duplication by cursor), with a fake `api.execute`."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from carnet_web import api, live
from carnet_web.state import messaging
from carnet_web.state.messaging import MessagingState
from carnet_web.state.session import LOGIN_ROUTE
from graphql import build_schema, validate

from tests.frontend.fakes import FakeApi, handler_names, redirects, run

TOKEN = "jeton-de-session-secret"
CONV = "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"msg:{seq}".encode()).decode()


def message(seq: int, body: str, *, mine: bool = False, author: str = "Médecin (RPPS 1)",
            attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": f"m{seq}", "cursor": cursor(seq), "body": body,
            "sentAt": "2026-11-28T17:54:00+00:00", "authorName": "Jean Dupont" if mine else author,
            "isMine": mine, "attachments": attachments or []}


PARTICIPANTS = [
    {"accountId": "1", "displayName": "Jean Dupont", "isPatient": True, "isMe": True,
     "professionalId": None},
    {"accountId": "2", "displayName": "Médecin (Cabinet du Parc)", "isPatient": False,
     "isMe": False, "professionalId": "42"},
    {"accountId": "3", "displayName": "Infirmière (RPPS 2)", "isPatient": False,
     "isMe": False, "professionalId": "43"},
]
LAB = {"documentId": "d1", "typeLabel": "Compte rendu d'analyses", "contentType":
       "application/pdf", "size": 1536}


def conversation_answer(*, unread: int = 2, has_previous: bool = False,
                        participants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    nodes = [message(10, "Bonjour, vos résultats sont arrivés.", attachments=[LAB]),
             message(11, "Merci !", mine=True)]
    return {
        "conversation": {"id": CONV, "subject": "Résultats", "unreadCount": unread,
                         "participants": participants or PARTICIPANTS},
        "messages": {"edges": [{"cursor": n["cursor"], "node": n} for n in nodes],
                     "pageInfo": {"hasPreviousPage": has_previous, "startCursor": cursor(10),
                                  "endCursor": cursor(11)}},
    }


EXTRAS = {
    "documents": {"edges": [
        {"node": {"id": "d1", "title": "Bilan sanguin", "typeLabel": "Compte rendu d'analyses",
                  "clinicalDate": "2025-03-07"}},
        {"node": {"id": "d2", "title": "Radio du genou", "typeLabel": "Imagerie",
                  "clinicalDate": "2024-11-02", "visibility": "HIDDEN_FROM_PROFESSIONALS"}},
    ]},
    "blockedProfessionals": [{"id": "43"}],
}


def signed_in(state: MessagingState) -> MessagingState:
    state._sign_in(TOKEN, "jean@example.fr")
    return state


@pytest.fixture
def on_conversation_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MessagingState, "_path_conversation_id", lambda self: CONV)


async def opened(fake_api: FakeApi, **answer: Any) -> MessagingState:
    fake_api.answer("MessagingConversation", conversation_answer(**answer))
    fake_api.answer("MessagingPatientExtras", EXTRAS)
    fake_api.answer("MessagingMarkRead", {"markRead": {"__typename": "ReadMarked",
                                                       "unreadCount": 0}})
    state = signed_in(MessagingState())
    await run(state.load_conversation())
    return state


def test_operations_are_valid_against_the_schema() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    ours = [messaging.CONVERSATIONS, messaging.CONVERSATION, messaging.EARLIER_MESSAGES,
            messaging.PATIENT_EXTRAS, messaging.SEND_MESSAGE, messaging.MARK_READ,
            messaging.BLOCK, messaging.UNBLOCK, messaging.MESSAGE_ADDED, messaging.INBOX]
    for request in ours:
        assert request in api.OPERATIONS
        assert validate(schema, request.document) == []


def test_route_conversation_id() -> None:
    assert messaging._route_conversation_id(f"/messagerie/{CONV}") == CONV
    assert messaging._route_conversation_id(f"/messagerie/{CONV}/") == CONV
    assert messaging._route_conversation_id("/messagerie") == ""
    assert messaging._route_conversation_id("/documents/x") == ""


def test_one_line_previews() -> None:
    assert messaging.one_line("Bonjour,\n\n  à demain") == "Bonjour, à demain"
    long = "mot " * 100
    preview = messaging.one_line(long)
    assert len(preview) <= messaging.PREVIEW_CHARS and preview.endswith("…")


# --- the list ------------------------------------------------------------------------------


async def test_list_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = MessagingState()
    assert redirects(await run(state.load_list())) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert fake_api.calls == []


async def test_list_shows_my_conversations_then_follows_the_inbox(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingConversations", {"conversations": {
        "edges": [
            {"node": {"id": "c1", "subject": "Résultats", "unreadCount": 2,
                      "patientParticipates": True, "createdAt": "2026-11-27T08:00:00+00:00",
                      "cursor": cursor(30),
                      "lastMessage": {"body": "Bonjour,\nvos résultats\tsont là.",
                                      "sentAt": "2026-11-28T17:54:00+00:00",
                                      "authorName": "Médecin (Cabinet du Parc)",
                                      "isMine": False},
                      "participants": PARTICIPANTS[:2]}},
            {"node": {"id": "c2", "subject": "<b>Ordonnance</b>", "unreadCount": 0,
                      "patientParticipates": True, "createdAt": "2026-11-20T08:00:00+00:00",
                      "cursor": cursor(7),
                      "lastMessage": {"body": "Merci", "sentAt": "2026-11-21T08:00:00+00:00",
                                      "authorName": "Jean Dupont", "isMine": True},
                      "participants": PARTICIPANTS}},
        ],
        "pageInfo": {"hasNextPage": True, "endCursor": "c2-cursor"},
    }})
    state = signed_in(MessagingState())
    events = await run(state.load_list())
    assert redirects(events) == []
    assert handler_names(events) == ["follow_inbox"]
    first, second = state.conversations
    assert (first.id, first.href, first.subject) == ("c1", "/messagerie/c1", "Résultats")
    assert (first.unread, first.unread_label) == (2, "2 non lus")
    assert first.with_label == "Avec Médecin (Cabinet du Parc)"
    assert (first.preview_author, first.preview) == ("Médecin (Cabinet du Parc)",
                                                     "Bonjour, vos résultats sont là.")
    assert first.last_activity == "28 novembre 2026 à 18:54"
    assert second.subject == "<b>Ordonnance</b>"  # as is: the page shows it as text
    assert (second.preview_author, second.unread_label) == ("Vous", "0 non lu")
    assert second.with_label == "Avec Médecin (Cabinet du Parc), Infirmière (RPPS 2)"
    assert state.has_more_conversations and not state.list_loading
    assert state._newest_cursor() == cursor(30)
    assert fake_api.calls[0].token == TOKEN
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_list_with_the_api_down_or_an_expired_session(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingConversations", api.ApiUnavailable(),
                    api.ApiUnauthenticated(detail="expired"))
    state = signed_in(MessagingState())
    events = await run(state.load_list())
    assert state.list_error == api.UNAVAILABLE_MESSAGE
    assert handler_names(events) == [] and redirects(events) == []
    assert redirects(await run(state.load_list())) == [LOGIN_ROUTE]
    assert state.notice == api.UNAUTHENTICATED_MESSAGE and not state.signed_in


def test_inbox_events_say_when_to_refresh_the_list() -> None:
    state = signed_in(MessagingState())
    refresh, redirect = state._apply_inbox([live.Connected()], cursor_known=True)
    assert (refresh, redirect, state.live_status) == (False, None, "live")
    assert state._apply_inbox([live.Connected()], cursor_known=False)[0]
    assert state._apply_inbox([live.Received({"id": "m", "cursor": cursor(3)})],
                              cursor_known=True)[0]
    state._apply_inbox([live.Disconnected(1.0)], cursor_known=True)
    assert state.live_status == "reconnecting"
    refresh, redirect = state._apply_inbox([live.Ended(live.ENDED_UNAUTHENTICATED)],
                                           cursor_known=True)
    assert redirects([redirect]) == [LOGIN_ROUTE] and not state.signed_in


# --- one conversation ------------------------------------------------------------------------


async def test_conversation_without_a_session_goes_to_login(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    state = MessagingState()
    assert redirects(await run(state.load_conversation())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


async def test_conversation_shows_messages_marks_read_then_follows(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    fake_api.answer("MessagingConversation", conversation_answer(unread=2, has_previous=True))
    fake_api.answer("MessagingPatientExtras", EXTRAS)
    fake_api.answer("MessagingMarkRead", {"markRead": {"__typename": "ReadMarked",
                                                       "unreadCount": 0}})
    state = signed_in(MessagingState())
    events = await run(state.load_conversation())
    assert handler_names(events) == ["follow_conversation"]
    assert (state.open_id, state.subject) == (CONV, "Résultats")
    assert not state.conversation_loading and state.conversation_error == ""
    assert [m.body for m in state.messages] == ["Bonjour, vos résultats sont arrivés.", "Merci !"]
    theirs, mine = state.messages
    assert (theirs.author, theirs.is_mine, mine.author, mine.is_mine) == (
        "Médecin (RPPS 1)", False, "Vous", True)
    # An attachment from my record shows its title; its kind and size in French.
    assert [(a.document_id, a.label, a.details) for a in theirs.attachments] == [
        ("d1", "Bilan sanguin", "PDF · 1,5 Ko")]
    me, doctor, nurse = state.participants
    assert (me.is_me, me.professional_id) == (True, "")
    assert (doctor.professional_id, doctor.blocked) == ("42", False)
    assert (nurse.professional_id, nurse.blocked) == ("43", True)
    assert state.is_patient
    assert [d.label for d in state.documents] == [
        "Bilan sanguin (7 mars 2025)",
        "Radio du genou (2 novembre 2024) — masqué aux professionnels"]
    assert state.has_earlier and state._earlier_before == cursor(10)
    assert state._live_cursor == cursor(11)
    (mark,) = fake_api.called("MessagingMarkRead")
    assert mark.variables == {"id": CONV, "upTo": cursor(11)}
    assert fake_api.called("MessagingConversation")[0].variables == {"id": CONV, "last": 50}


async def test_conversation_already_read_is_not_marked_again(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    await opened(fake_api, unread=0)
    assert fake_api.called("MessagingMarkRead") == []


async def test_conversation_not_mine_or_gone(fake_api: FakeApi, on_conversation_page: None
                                             ) -> None:
    fake_api.answer("MessagingConversation", {"conversation": None, "messages": None})
    state = signed_in(MessagingState())
    events = await run(state.load_conversation())
    assert handler_names(events) == []
    assert state.not_found and state.conversation_error == messaging.CONVERSATION_GONE
    assert state.messages == [] and not state.conversation_loading
    assert fake_api.called("MessagingMarkRead") == []


async def test_conversation_for_someone_who_is_not_a_patient(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    """No documents to attach nor anyone to block (the API refuses those queries to
    professionals): the conversation itself still works."""
    fake_api.answer("MessagingConversation", conversation_answer(unread=0))
    fake_api.answer("MessagingPatientExtras", api.ApiError("x", code="FORBIDDEN"))
    state = signed_in(MessagingState())
    events = await run(state.load_conversation())
    assert handler_names(events) == ["follow_conversation"]
    assert not state.is_patient and state.documents == []
    assert len(state.messages) == 2 and state.conversation_error == ""
    assert state.messages[0].attachments[0].label == "Compte rendu d'analyses"  # no title


async def test_participants_without_a_professional_id_cannot_be_blocked(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    older_api = [{k: v for k, v in p.items() if k != "professionalId"} for p in PARTICIPANTS]
    state = await opened(fake_api, participants=older_api)
    assert [p.professional_id for p in state.participants] == ["", "", ""]
    assert not any(p.blocked for p in state.participants)


async def test_conversation_with_an_expired_session(fake_api: FakeApi,
                                                    on_conversation_page: None) -> None:
    fake_api.answer("MessagingConversation", api.ApiUnauthenticated(detail="expired"))
    state = signed_in(MessagingState())
    assert redirects(await run(state.load_conversation())) == [LOGIN_ROUTE]
    assert not state.signed_in and state._api_token == ""


async def test_earlier_messages_come_before(fake_api: FakeApi, on_conversation_page: None
                                            ) -> None:
    state = await opened(fake_api, has_previous=True)
    older = [message(3, "Premier"), message(4, "Deuxième", mine=True)]
    fake_api.answer("MessagingEarlierMessages", {"messages": {
        "edges": [{"cursor": n["cursor"], "node": n} for n in older],
        "pageInfo": {"hasPreviousPage": False, "startCursor": cursor(3),
                     "endCursor": cursor(4)}}})
    await run(state.load_earlier())
    assert [m.body for m in state.messages][:2] == ["Premier", "Deuxième"]
    assert len(state.messages) == 4 and not state.has_earlier
    assert fake_api.called("MessagingEarlierMessages")[0].variables == {
        "id": CONV, "before": cursor(10), "last": 50}


# --- live events -----------------------------------------------------------------------------


async def test_live_messages_are_applied_once_in_order(fake_api: FakeApi,
                                                       on_conversation_page: None) -> None:
    state = await opened(fake_api)
    assert state._apply_live([live.Connected()]) is None
    assert state.live_status == "live"
    state._apply_live([live.Received(message(12, "Nouveau")),
                       live.Received(message(12, "Nouveau")),  # twice in a batch
                       live.Received(message(11, "Merci !", mine=True))])  # a replay
    assert [m.cursor for m in state.messages] == [cursor(10), cursor(11), cursor(12)]
    state._apply_live([live.Received(message(12, "Nouveau"))])  # after a reconnection
    assert len(state.messages) == 3
    state._apply_live([live.Disconnected(0.5)])
    assert state.live_status == "reconnecting"


async def test_my_reply_and_its_live_copy_show_once(fake_api: FakeApi,
                                                    on_conversation_page: None) -> None:
    state = await opened(fake_api)
    fake_api.answer("MessagingSendMessage", {"sendMessage": {
        "__typename": "MessageSent", "sentMessage": message(14, "Ma réponse", mine=True)}})
    await run(state.send_reply({"body": "Ma réponse"}))
    # The subscription brings a message committed just before mine, then mine again.
    state._apply_live([live.Received(message(13, "Croisé")),
                       live.Received(message(14, "Ma réponse", mine=True))])
    assert [m.body for m in state.messages][2:] == ["Croisé", "Ma réponse"]


async def test_the_end_of_the_session_or_of_the_subscription(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    state = await opened(fake_api)
    redirect = state._apply_live([live.Ended(live.ENDED_REFUSED)])
    assert redirect is None
    assert state.live_status == "ended" and state.error == messaging.LIVE_ENDED
    redirect = state._apply_live([live.Ended(live.ENDED_UNAUTHENTICATED)])
    assert redirects([redirect]) == [LOGIN_ROUTE]
    assert not state.signed_in and state.messages == []


def test_read_cursor_is_the_last_message_from_someone_else() -> None:
    assert messaging.read_cursor([]) == ""
    assert messaging.read_cursor([live.Connected(),
                                  live.Received(message(5, "a", mine=True))]) == ""
    assert messaging.read_cursor([live.Received(message(5, "a")),
                                  live.Received(message(6, "b")),
                                  live.Received(message(7, "c", mine=True))]) == cursor(6)


async def test_mark_read_soon_does_not_hold_live_messages_back(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    done: list[dict[str, Any]] = []

    async def slow_execute(document: Any, variables: Any = None, **kwargs: Any) -> dict:
        await asyncio.sleep(0.3)
        done.append(dict(variables))
        raise api.ApiUnavailable()  # a failure is only logged

    monkeypatch.setattr(api, "execute", slow_execute)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await messaging.mark_read_soon(CONV, cursor(5), token=TOKEN, headers={}, wait=0.05)
    assert loop.time() - started < 0.25
    await asyncio.sleep(0.4)
    assert done == [{"id": CONV, "upTo": cursor(5)}]  # carried on to the end

    # Cancelled meanwhile (the tab left the page): the call still completes.
    done.clear()
    waiting = asyncio.create_task(
        messaging.mark_read_soon(CONV, cursor(6), token=TOKEN, headers={}, wait=5))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.sleep(0.4)
    assert done == [{"id": CONV, "upTo": cursor(6)}]


# --- replying ------------------------------------------------------------------------------


async def test_reply_with_attachments(fake_api: FakeApi, on_conversation_page: None) -> None:
    state = await opened(fake_api)
    key = state.reply_form_key
    state.attach_document("d2")
    state.attach_document("d2")  # once only
    state.attach_document("unknown")
    state.attach_document("")
    assert [d.id for d in state.attached] == ["d2"]
    assert [d.id for d in state.attachable] == ["d1"]
    fake_api.answer("MessagingSendMessage", {"sendMessage": {
        "__typename": "MessageSent",
        "sentMessage": message(12, "Voici ma radio", mine=True, attachments=[
            {"documentId": "d2", "typeLabel": "Imagerie", "contentType": "image/jpeg",
             "size": 2_500_000}])}})
    events = await run(state.send_reply({"body": "  Voici ma radio \n"}))
    assert redirects(events) == []
    (call,) = fake_api.called("MessagingSendMessage")
    assert call.variables == {"id": CONV, "body": "Voici ma radio", "attachmentIds": ["d2"]}
    assert call.token == TOKEN
    sent = state.messages[-1]
    assert (sent.body, sent.author, sent.is_mine) == ("Voici ma radio", "Vous", True)
    assert [(a.label, a.details) for a in sent.attachments] == [
        ("Radio du genou", "Image JPEG · 2,4 Mo")]
    assert state.attached == [] and state.reply_form_key == key + 1
    assert state.reply_error == "" and not state.sending


async def test_reply_errors_are_french_and_keep_the_text(fake_api: FakeApi,
                                                         on_conversation_page: None) -> None:
    state = await opened(fake_api)
    key = state.reply_form_key
    await run(state.send_reply({"body": "   \n "}))
    assert state.reply_error == "Écrivez votre message avant de l'envoyer."
    await run(state.send_reply({"body": "x" * 10_001}))
    assert state.reply_error == "Votre message dépasse la limite de 10000 caractères."
    assert fake_api.called("MessagingSendMessage") == []

    state.attach_document("d1")
    fake_api.answer(
        "MessagingSendMessage",
        {"sendMessage": {"__typename": "AttachmentNotFound",
                         "message": "Pièce jointe introuvable dans le dossier du patient."}},
        {"sendMessage": {"__typename": "InvalidMessage", "field": "body",
                         "message": "Le message est vide."}},
        api.ApiUnavailable(),
        {"sendMessage": {"__typename": "ConversationNotFound"}},
    )
    await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error == "Pièce jointe introuvable dans le dossier du patient."
    await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error == "Le message est vide."
    await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error == api.UNAVAILABLE_MESSAGE
    await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error == api.UNEXPECTED_MESSAGE
    # Nothing was sent: the text (not reset) and the attachment stay for another try.
    assert state.reply_form_key == key and [d.id for d in state.attached] == ["d1"]
    assert len(state.messages) == 2 and not state.sending


async def test_reply_with_an_expired_session(fake_api: FakeApi, on_conversation_page: None
                                             ) -> None:
    state = await opened(fake_api)
    fake_api.answer("MessagingSendMessage", api.ApiUnauthenticated(detail="revoked"))
    assert redirects(await run(state.send_reply({"body": "Bonjour"}))) == [LOGIN_ROUTE]
    assert not state.signed_in


async def test_at_most_ten_attachments(fake_api: FakeApi, on_conversation_page: None) -> None:
    state = await opened(fake_api)
    state.documents = [messaging.DocumentOption(id=f"d{i}", label=f"Doc {i}")
                       for i in range(12)]
    for i in range(11):
        state.attach_document(f"d{i}")
    assert len(state.attached) == 10 and not state.can_attach_more
    assert state.reply_error == "Vous pouvez joindre au plus 10 documents."
    state.detach_document("d0")
    assert len(state.attached) == 9 and state.can_attach_more


# --- blocking ------------------------------------------------------------------------------


async def test_block_then_unblock_a_professional(fake_api: FakeApi,
                                                 on_conversation_page: None) -> None:
    state = await opened(fake_api)
    fake_api.answer("MessagingBlock", {"blockProfessional": {
        "__typename": "BlockChanged", "professionalId": "42", "blocked": True}})
    fake_api.answer("MessagingUnblock", {"unblockProfessional": {
        "__typename": "BlockChanged", "professionalId": "43", "blocked": False}})
    await run(state.set_blocked("42", True))
    assert fake_api.called("MessagingBlock")[0].variables == {"professionalId": "42"}
    assert [p.blocked for p in state.participants] == [False, True, True]
    assert state.info == ("Vous avez bloqué Médecin (Cabinet du Parc) : ce professionnel ne "
                          "peut plus vous écrire.")
    await run(state.set_blocked("43", False))
    assert [p.blocked for p in state.participants] == [False, True, False]
    assert state.info == ("Vous avez débloqué Infirmière (RPPS 2) : ce professionnel peut de "
                          "nouveau vous écrire.")
    assert state.block_busy == ""


async def test_block_refused(fake_api: FakeApi, on_conversation_page: None) -> None:
    state = await opened(fake_api)
    fake_api.answer("MessagingBlock",
                    {"blockProfessional": {"__typename": "ProfessionalNotFound",
                                           "message": "Professionnel introuvable (RPPS)."}},
                    api.ApiUnavailable())
    await run(state.set_blocked("42", True))
    assert state.error == "Professionnel introuvable (RPPS)."
    await run(state.set_blocked("42", True))
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert not any(p.blocked and p.professional_id == "42" for p in state.participants)
    assert state.info == ""
