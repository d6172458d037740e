"""Messagerie state: the list, one conversation, replying with attachments, blocking, writing to a
patient (professionals), and applying live events, with a fake `api.execute`; in French and in
English. Cursors are opaque here (`cursor()` makes strings nothing could decode): the state only
passes them back to the API, and tells messages apart by id."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from carnet_web import api, live
from carnet_web.state import messaging
from carnet_web.state.messaging import MessageItem, MessagingState
from carnet_web.state.session import LOGIN_ROUTE, PROFESSIONAL_ROLE
from graphql import build_schema, validate
from reflex.event import EventSpec
from reflex.utils.format import format_ref

from tests.frontend.fakes import FakeApi, focused, handler_names, redirects, run

TOKEN = "jeton-de-session-secret"
CONV = "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def cursor(seq: int) -> str:
    """Opaque: no number to read in it (and later ones do not sort after earlier ones)."""
    return f"~{'zyxwvutsrq'[seq % 10]}{seq * 7919 % 1000:03d}"


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

LIST = {"conversations": {
    "edges": [
        {"node": {"id": "c1", "subject": "Résultats", "unreadCount": 2,
                  "patientParticipates": True, "createdAt": "2026-11-27T08:00:00+00:00",
                  "lastMessage": {"body": "Bonjour,\nvos résultats\tsont là.",
                                  "sentAt": "2026-11-28T17:54:00+00:00",
                                  "authorName": "Médecin (Cabinet du Parc)", "isMine": False},
                  "participants": PARTICIPANTS[:2]}},
        {"node": {"id": "c2", "subject": "<b>Ordonnance</b>", "unreadCount": 1,
                  "patientParticipates": True, "createdAt": "2026-11-20T08:00:00+00:00",
                  "lastMessage": {"body": "Merci",
                                  "sentAt": "2026-06-01T08:00:00+00:00",
                                  "authorName": "Jean Dupont", "isMine": True},
                  "participants": PARTICIPANTS}},
    ],
    "pageInfo": {"hasNextPage": True, "endCursor": "c2-cursor"},
    "latestCursor": cursor(30),
}}


def signed_in(state: MessagingState, *, lang: str = "fr", role: str = "") -> MessagingState:
    state._sign_in(TOKEN, "jean@example.fr", role)
    state.lang = lang
    return state


def _refs(events: list[Any], handler: str) -> list[str]:
    """The elements (by their React ref) the `rx.set_value` events among `events` act on."""
    return [dict((k._js_expr, v) for k, v in event.args)["ref"]._var_value
            for event in events
            if isinstance(event, EventSpec) and event.handler.fn.__qualname__ == handler]


def ids(*element_ids: str) -> list[str]:
    """The DOM ids focus is expected to move to, in order."""
    return list(element_ids)


@pytest.fixture
def on_conversation_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MessagingState, "_path_conversation_id", lambda self: CONV)


async def opened(fake_api: FakeApi, *, lang: str = "fr", **answer: Any) -> MessagingState:
    fake_api.answer("MessagingConversation", conversation_answer(**answer))
    fake_api.answer("MessagingPatientExtras", EXTRAS)
    fake_api.answer("MessagingMarkRead", {"markRead": {"__typename": "ReadMarked",
                                                       "unreadCount": 0}})
    state = signed_in(MessagingState(), lang=lang)
    await run(state.load_conversation())
    return state


def test_operations_are_valid_against_the_schema() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    ours = [messaging.CONVERSATIONS, messaging.CONVERSATION, messaging.EARLIER_MESSAGES,
            messaging.PATIENT_EXTRAS, messaging.SEND_MESSAGE, messaging.START_CONVERSATION,
            messaging.MARK_READ, messaging.BLOCK, messaging.UNBLOCK, messaging.MESSAGE_ADDED,
            messaging.INBOX]
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


def test_rpps_lists() -> None:
    assert messaging.rpps_list("") == []
    assert messaging.rpps_list(" 10000000001, 10000000002;10000000001\n") == [
        "10000000001", "10000000002"]
    assert messaging.rpps_list("10000000001, 1234") == "1234"


# --- the list ------------------------------------------------------------------------------


async def test_list_without_a_session_goes_to_login(fake_api: FakeApi) -> None:
    state = MessagingState()
    assert redirects(await run(state.load_list())) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert fake_api.calls == []


async def test_list_shows_my_conversations_then_follows_the_inbox(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingConversations", LIST)
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
    assert (second.preview_author, second.unread_label) == ("Vous", "1 non lu")
    assert second.last_activity == "1er juin 2026 à 10:00"
    assert second.with_label == "Avec Médecin (Cabinet du Parc), Infirmière (RPPS 2)"
    assert state.has_more_conversations and not state.list_loading
    # The inbox resumes from the latest message of all, as the API gave it.
    assert state._inbox_after == cursor(30)
    assert fake_api.calls[0].variables == {"first": 30, "withLatest": True}
    assert fake_api.calls[0].token == TOKEN
    assert fake_api.calls[0].headers["Accept-Language"] == "fr"
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_list_in_english(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingConversations", LIST)
    state = signed_in(MessagingState(), lang="en")
    await run(state.load_list())
    first, second = state.conversations
    assert (first.unread_label, second.unread_label) == ("2 unread", "1 unread")
    assert first.with_label == "With Médecin (Cabinet du Parc)"
    assert first.last_activity == "28 November 2026 at 18:54"
    assert second.preview_author == "You"
    assert fake_api.calls[0].headers["Accept-Language"] == "en"


async def test_more_conversations_are_added_once(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingConversations", LIST, {"conversations": {
        "edges": [LIST["conversations"]["edges"][1],
                  {"node": {"id": "c3", "subject": "Vaccins", "unreadCount": 0,
                            "patientParticipates": True,
                            "createdAt": "2026-10-01T08:00:00+00:00", "lastMessage": None,
                            "participants": PARTICIPANTS}}],
        "pageInfo": {"hasNextPage": False, "endCursor": "c3-cursor"}}})
    state = signed_in(MessagingState())
    await run(state.load_list())
    await run(state.load_more_conversations())
    assert [c.id for c in state.conversations] == ["c1", "c2", "c3"]
    assert fake_api.called("MessagingConversations")[1].variables == {
        "first": 30, "after": "c2-cursor", "withLatest": False}
    assert state.conversations[2].last_activity == "1er octobre 2026 à 10:00"
    assert not state.has_more_conversations and not state.loading_more_conversations
    assert state._inbox_after == cursor(30)  # still the latest of all


async def test_list_with_the_api_down_or_an_expired_session(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingConversations", api.ApiUnavailable(),
                    api.ApiUnauthenticated(detail="expired"))
    state = signed_in(MessagingState(), lang="en")
    events = await run(state.load_list())
    assert state.list_error == (
        "The service is temporarily unavailable. Please try again in a few moments.")
    assert handler_names(events) == [] and redirects(events) == []
    assert not state.list_loading
    assert redirects(await run(state.load_list())) == [LOGIN_ROUTE]
    assert state.notice == "Your session has expired. Please sign in again."
    assert not state.signed_in and state.conversations == []


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


async def test_quiet_calls_log_failures_and_tell_an_ended_session(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingConversations", LIST, api.ApiUnavailable(),
                    api.ApiUnauthenticated(detail="revoked"))
    call = {"token": TOKEN, "headers": {}, "what": "list refresh"}
    ok = await messaging.quiet_call(messaging.CONVERSATIONS, {"first": 30}, **call)
    assert ok == messaging.Answer(LIST, False)
    assert await messaging.quiet_call(messaging.CONVERSATIONS, {"first": 30}, **call) == (
        messaging.Answer(None, False))
    assert await messaging.quiet_call(messaging.CONVERSATIONS, {"first": 30}, **call) == (
        messaging.Answer(None, True))


# --- writing to a patient (professionals) ------------------------------------------------------

FORM = {"subject": "  Vos  résultats ", "insMatricule": "1 85 03 75 123 456 78",
        "birthName": " Dupont ", "birthDate": "02/03/1985", "includePatient": "on",
        "professionalRpps": "", "body": " Bonjour,\nvos résultats sont arrivés. "}


async def test_a_professional_starts_a_conversation(fake_api: FakeApi) -> None:
    fake_api.answer("MessagingStartConversation", {"startConversation": {
        "__typename": "ConversationStarted", "conversation": {"id": CONV}}})
    state = signed_in(MessagingState(), role=PROFESSIONAL_ROLE)
    assert state.toggle_compose() is None  # (the form's first field has autofocus)
    assert state.compose_open
    assert focused([state.toggle_compose()]) == ids("compose-toggle")  # "Annuler"
    assert not state.compose_open
    state.toggle_compose()
    events = await run(state.start_conversation(dict(FORM, professionalRpps="10000000001")))
    assert redirects(events) == [f"/messagerie/{CONV}"]
    (call,) = fake_api.called("MessagingStartConversation")
    assert call.variables == {"input": {
        "subject": "Vos résultats",
        "patient": {"insMatricule": "185037512345678", "birthName": "Dupont",
                    "birthDate": "1985-03-02"},
        "includePatient": True, "professionalRpps": ["10000000001"],
        "body": "Bonjour,\nvos résultats sont arrivés."}}
    assert not state.compose_open and not state.composing and state.compose_error == ""


@pytest.mark.parametrize(("change", "field", "french", "english"), [
    ({"subject": " "}, "subject", "Donnez un objet à la conversation.",
     "Give the conversation a subject."),
    ({"subject": "x" * 201}, "subject", "L'objet dépasse la limite de 200 caractères.",
     "The subject is longer than the 200-character limit."),
    ({"professionalRpps": "10000000001 123"}, "professionalRpps",
     "Un numéro RPPS compte 11 chiffres : 123 n'en est pas un.",
     "An RPPS number has 11 digits: 123 is not one."),
    ({"includePatient": None}, "professionalRpps",
     "Ajoutez le patient à la conversation, ou au moins un autre professionnel (RPPS).",
     "Add the patient to the conversation, or at least one other professional (RPPS)."),
    ({"body": "  "}, "body", "Écrivez votre message avant de l'envoyer.",
     "Write your message before sending it."),
    ({"insMatricule": ""}, "insMatricule", "Saisissez le matricule INS du patient.", None),
])
async def test_the_new_conversation_form_says_what_to_fix(
    fake_api: FakeApi, change: dict[str, Any], field: str, french: str, english: str | None
) -> None:
    for lang, expected in (("fr", french), ("en", english)):
        state = signed_in(MessagingState(), lang=lang, role=PROFESSIONAL_ROLE)
        events = await run(state.start_conversation({**FORM, **change}))
        assert (state.compose_field, focused(events)) == (field, ids(f"compose-{field}"))
        if expected is not None:  # (the identity traits' messages are the pro pages')
            assert state.compose_error == expected
        assert not state.composing
    assert fake_api.calls == []


async def test_the_api_refuses_a_new_conversation(fake_api: FakeApi) -> None:
    fake_api.answer(
        "MessagingStartConversation",
        {"startConversation": {"__typename": "PatientNotFound",
                               "message": "No patient matches this identity."}},
        {"startConversation": {"__typename": "ProfessionalNotFound",
                               "message": "Professional not found (RPPS)."}},
        {"startConversation": {"__typename": "InvalidMessage", "field": "body",
                               "message": "The message is empty."}},
        api.ApiUnavailable(),
    )
    state = signed_in(MessagingState(), lang="en", role=PROFESSIONAL_ROLE)
    state.compose_open = True
    events = await run(state.start_conversation(FORM))
    assert (state.compose_field, state.compose_error) == (
        "insMatricule", "No patient matches this identity.")
    assert focused(events) == ids("compose-insMatricule") and redirects(events) == []
    await run(state.start_conversation(FORM))
    assert (state.compose_field, state.compose_error) == (
        "professionalRpps", "Professional not found (RPPS).")
    await run(state.start_conversation(FORM))
    assert (state.compose_field, state.compose_error) == ("body", "The message is empty.")
    await run(state.start_conversation(FORM))
    assert state.compose_error.startswith("The service is temporarily unavailable")
    assert state.compose_open and not state.composing


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
    assert theirs.sent_at == "28 novembre 2026 à 18:54"
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
    assert state.attach_options == [["", "Choisissez un document…"],
                                    ["d1", "Bilan sanguin (7 mars 2025)"],
                                    ["d2", state.documents[1].label]]
    # The API's cursors, passed back as they came.
    assert state.has_earlier and state._earlier_before == cursor(10)
    assert state._live_cursor == cursor(11)
    (mark,) = fake_api.called("MessagingMarkRead")
    assert mark.variables == {"id": CONV, "upTo": cursor(11)}
    assert fake_api.called("MessagingConversation")[0].variables == {"id": CONV, "last": 50}


async def test_conversation_in_english(fake_api: FakeApi, on_conversation_page: None) -> None:
    state = await opened(fake_api, lang="en")
    theirs, mine = state.messages
    assert (mine.author, theirs.sent_at) == ("You", "28 November 2026 at 18:54")
    assert [a.details for a in theirs.attachments] == ["PDF · 1.5 KB"]
    assert [d.label for d in state.documents] == [
        "Bilan sanguin (7 March 2025)",
        "Radio du genou (2 November 2024) — hidden from professionals"]
    assert state.attach_options[0] == ["", "Choose a document…"]
    kinds = [messaging.content_kind(kind, "en") for kind in (
        "image/jpeg", "image/png; charset=binary", "text/plain", "application/hl7-cda+xml",
        "application/zip")]
    assert kinds == ["JPEG image", "PNG image", "Text", "CDA document (XML)", "File"]


async def test_conversation_already_read_is_not_marked_again(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    await opened(fake_api, unread=0)
    assert fake_api.called("MessagingMarkRead") == []


async def test_conversation_not_mine_or_gone(fake_api: FakeApi, on_conversation_page: None
                                             ) -> None:
    fake_api.answer("MessagingConversation", {"conversation": None, "messages": None})
    state = signed_in(MessagingState(), lang="en")
    events = await run(state.load_conversation())
    assert handler_names(events) == []
    assert state.not_found
    assert state.conversation_error == (
        "This conversation does not exist, or you are not part of it.")
    assert state.messages == [] and not state.conversation_loading
    assert fake_api.called("MessagingMarkRead") == []


async def test_conversation_with_the_api_down(fake_api: FakeApi, on_conversation_page: None
                                              ) -> None:
    fake_api.answer("MessagingConversation", api.ApiUnavailable())
    state = signed_in(MessagingState())
    events = await run(state.load_conversation())
    assert handler_names(events) == [] and redirects(events) == []
    assert state.conversation_error == api.UNAVAILABLE_MESSAGE and not state.not_found
    assert not state.conversation_loading


async def test_a_professional_has_no_documents_to_attach_nor_anyone_to_block(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    """Known as a professional: the patients' queries are not even asked."""
    fake_api.answer("MessagingConversation", conversation_answer(unread=0))
    state = signed_in(MessagingState(), role=PROFESSIONAL_ROLE)
    events = await run(state.load_conversation())
    assert handler_names(events) == ["follow_conversation"]
    assert fake_api.called("MessagingPatientExtras") == []
    assert not state.is_patient and state.documents == []
    assert state.messages[0].attachments[0].label == "Compte rendu d'analyses"  # no title


async def test_conversation_when_the_role_is_unknown_and_not_a_patient(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    """Role unknown at sign-in: the API refuses the patients' queries; the conversation itself
    still works."""
    fake_api.answer("MessagingConversation", conversation_answer(unread=0))
    fake_api.answer("MessagingPatientExtras", api.ApiError("x", code="FORBIDDEN"))
    state = signed_in(MessagingState())
    events = await run(state.load_conversation())
    assert handler_names(events) == ["follow_conversation"]
    assert not state.is_patient and state.documents == []
    assert len(state.messages) == 2 and state.conversation_error == ""


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
    older = [message(3, "Premier"), message(4, "Deuxième", mine=True),
             message(10, "Bonjour, vos résultats sont arrivés.")]  # overlaps what is shown
    fake_api.answer("MessagingEarlierMessages", {"messages": {
        "edges": [{"cursor": n["cursor"], "node": n} for n in older],
        "pageInfo": {"hasPreviousPage": False, "startCursor": cursor(3),
                     "endCursor": cursor(10)}}})
    await run(state.load_earlier())
    assert [m.id for m in state.messages] == ["m3", "m4", "m10", "m11"]
    assert not state.has_earlier and not state.loading_earlier
    assert fake_api.called("MessagingEarlierMessages")[0].variables == {
        "id": CONV, "before": cursor(10), "last": 50}


async def test_messages_of_a_finished_action_do_not_survive_loading_a_page(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    state = await opened(fake_api)
    state.info, state.error, state.reply_error = "Vous avez bloqué X.", "Erreur", "Vide"
    state.list_error, state.compose_error, state.compose_open = "Erreur", "Objet ?", True
    state.live_status = "ended"
    await run(state.load_conversation())  # a reload
    assert (state.info, state.error, state.reply_error) == ("", "", "")
    assert (state.compose_error, state.compose_open, state.live_status) == ("", False, "")
    state.info, state.error, state.reply_error = "Vous avez bloqué X.", "Erreur", "Vide"
    fake_api.answer("MessagingConversations", LIST)
    await run(state.load_list())  # back to the list
    assert (state.info, state.error, state.reply_error, state.list_error) == ("", "", "", "")
    assert state.open_id == "" and state.messages == [] and state.subject == ""


# --- live events -----------------------------------------------------------------------------


async def test_live_messages_are_applied_once_in_order(fake_api: FakeApi,
                                                       on_conversation_page: None) -> None:
    state = await opened(fake_api)
    assert state._apply_live([live.Connected()]) is None
    assert state.live_status == "live"
    state._apply_live([live.Received(message(12, "Nouveau")),
                       live.Received(message(12, "Nouveau")),  # twice in a batch
                       live.Received(message(11, "Merci !", mine=True))])  # a replay
    assert [m.id for m in state.messages] == ["m10", "m11", "m12"]
    assert state._live_cursor == cursor(11)  # the last one received, as it came
    state._apply_live([live.Received(message(12, "Nouveau"))])  # after a reconnection
    state._apply_live([live.Received(message(13, "Encore"))])
    assert [m.id for m in state.messages] == ["m10", "m11", "m12", "m13"]
    assert state._live_cursor == cursor(13)
    state._apply_live([live.Disconnected(0.5)])
    assert state.live_status == "reconnecting"


async def test_my_reply_and_its_live_copy_show_once(fake_api: FakeApi,
                                                    on_conversation_page: None) -> None:
    state = await opened(fake_api)
    fake_api.answer("MessagingSendMessage", {"sendMessage": {
        "__typename": "MessageSent", "sentMessage": message(14, "Ma réponse", mine=True)}})
    events = await run(state.send_reply({"body": "Ma réponse"}))
    assert [m.id for m in state.messages] == ["m10", "m11", "m14"]
    assert focused(events) == ids("reply-body")
    # The subscription brings a message stored just before mine, then mine: the subscription's
    # order wins; mine is not shown twice.
    state._apply_live([live.Received(message(13, "Croisé"))])
    assert [m.id for m in state.messages] == ["m10", "m11", "m13", "m14"]
    state._apply_live([live.Received(message(14, "Ma réponse", mine=True)),
                       live.Received(message(15, "Après"))])
    assert [m.id for m in state.messages] == ["m10", "m11", "m13", "m14", "m15"]
    assert state._pending_ids == []


async def test_my_reply_brought_by_the_subscription_first_shows_once(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    state = await opened(fake_api)
    state._apply_live([live.Received(message(14, "Ma réponse", mine=True))])
    fake_api.answer("MessagingSendMessage", {"sendMessage": {
        "__typename": "MessageSent", "sentMessage": message(14, "Ma réponse", mine=True)}})
    await run(state.send_reply({"body": "Ma réponse"}))
    assert [m.id for m in state.messages] == ["m10", "m11", "m14"]
    assert state._pending_ids == []


def _item(seq: int) -> MessageItem:
    return messaging.message_item(message(seq, str(seq)), {})


def test_merge_live_keeps_my_unconfirmed_messages_last() -> None:
    shown = [_item(1), _item(5), _item(6)]  # 5 and 6: mine, from the mutations' answers
    merged, pending = messaging.merge_live(shown, [_item(2), _item(6), _item(3)], ["m5", "m6"])
    assert [m.id for m in merged] == ["m1", "m2", "m6", "m3", "m5"]
    assert pending == ["m5"]
    merged, pending = messaging.merge_live(merged, [_item(1), _item(5)], pending)
    assert [m.id for m in merged] == ["m1", "m2", "m6", "m3", "m5"] and pending == []


def test_earlier_pages_skip_what_is_shown() -> None:
    assert [m.id for m in messaging.prepend_earlier([_item(4), _item(5)],
                                                    [_item(2), _item(3), _item(4)])] == [
        "m2", "m3", "m4", "m5"]


async def test_the_end_of_the_session_or_of_the_subscription(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    state = await opened(fake_api, lang="en")
    redirect = state._apply_live([live.Ended(live.ENDED_REFUSED)])
    assert redirect is None
    assert state.live_status == "ended"
    assert state.error == "New messages are no longer shown automatically. Reload the page."
    redirect = state._apply_live([live.Ended(live.ENDED_UNAUTHENTICATED)])
    assert redirects([redirect]) == [LOGIN_ROUTE]
    assert not state.signed_in and state.messages == [] and state.documents == []


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
    release = asyncio.Event()

    async def slow_execute(document: Any, variables: Any = None, **kwargs: Any) -> dict:
        await release.wait()
        done.append(dict(variables))
        raise api.ApiUnavailable()  # a failure is only logged

    monkeypatch.setattr(api, "execute", slow_execute)
    await messaging.mark_read_soon(CONV, cursor(5), token=TOKEN, headers={}, wait=0.01)
    assert done == []  # returned before the API answered
    release.set()
    while messaging._PENDING:
        await asyncio.sleep(0)
    assert done == [{"id": CONV, "upTo": cursor(5)}]  # carried on to the end

    # Cancelled meanwhile (the tab left the page): the call still completes.
    done.clear()
    release.clear()
    waiting = asyncio.create_task(
        messaging.mark_read_soon(CONV, cursor(6), token=TOKEN, headers={}, wait=5))
    while not messaging._PENDING:
        await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    while messaging._PENDING:
        await asyncio.sleep(0)
    assert done == [{"id": CONV, "upTo": cursor(6)}]


# --- replying ------------------------------------------------------------------------------


async def test_reply_with_attachments(fake_api: FakeApi, on_conversation_page: None) -> None:
    state = await opened(fake_api)
    state.attach_document("d2")
    state.attach_document("d2")  # once only
    state.attach_document("unknown")
    state.attach_document("")
    assert [d.id for d in state.attached] == ["d2"]
    assert [d.id for d in state.attachable] == ["d1"]
    assert [o[0] for o in state.attach_options] == ["", "d1"]
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
    # Sent: the text box is emptied and focused again.
    assert _refs(events, "_set_value") == [format_ref("reply-body")]
    assert focused(events) == ids("reply-body")
    assert state.attached == []
    assert state.reply_error == "" and not state.sending


async def test_detaching_gives_the_focus_back_to_the_picker(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    state = await opened(fake_api)
    state.attach_document("d1")
    assert focused([state.detach_document("d1")]) == ids("attach-select")
    assert state.attached == []


async def test_reply_errors_are_translated_and_keep_the_text(
    fake_api: FakeApi, on_conversation_page: None
) -> None:
    state = await opened(fake_api)
    events = await run(state.send_reply({"body": "   \n "}))
    assert state.reply_error == "Écrivez votre message avant de l'envoyer."
    assert focused(events) == ids("reply-body")
    await run(state.send_reply({"body": "x" * 10_001}))
    assert state.reply_error == "Votre message dépasse la limite de 10000 caractères."
    state.lang = "en"
    await run(state.send_reply({"body": "x" * 10_001}))
    assert state.reply_error == "Your message is longer than the 10000-character limit."
    assert fake_api.called("MessagingSendMessage") == []

    state.attach_document("d1")
    fake_api.answer(
        "MessagingSendMessage",
        {"sendMessage": {"__typename": "AttachmentNotFound",
                         "message": "Attachment not found in the patient's record."}},
        {"sendMessage": {"__typename": "InvalidMessage", "field": "body",
                         "message": "The message is empty."}},
        api.ApiUnavailable(),
        {"sendMessage": {"__typename": "ConversationNotFound"}},
    )
    events = await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error == "Attachment not found in the patient's record."
    assert _refs(events, "_set_value") == []  # the text stays
    await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error == "The message is empty."
    await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error.startswith("The service is temporarily unavailable")
    await run(state.send_reply({"body": "Bonjour"}))
    assert state.reply_error == "Something unexpected went wrong. Please try again."
    # Nothing was sent: the attachment stays for another try.
    assert [d.id for d in state.attached] == ["d1"]
    assert len(state.messages) == 2 and not state.sending


async def test_reply_with_an_expired_session(fake_api: FakeApi, on_conversation_page: None
                                             ) -> None:
    state = await opened(fake_api)
    fake_api.answer("MessagingSendMessage", api.ApiUnauthenticated(detail="revoked"))
    assert redirects(await run(state.send_reply({"body": "Bonjour"}))) == [LOGIN_ROUTE]
    assert not state.signed_in and state.messages == []


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
    state.lang = "en"
    await run(state.set_blocked("43", False))
    assert [p.blocked for p in state.participants] == [False, True, False]
    assert state.info == ("You have unblocked Infirmière (RPPS 2): this professional can write "
                          "to you again.")
    assert not state.blocking


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
    assert state.info == "" and not state.blocking
