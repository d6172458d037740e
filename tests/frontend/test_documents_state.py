"""Mes documents and a document's page: the states' helpers and handlers, called directly
against a fake API (the typed results as the schema defines them), in French and English, and
once end to end against the real API, in-process."""

from __future__ import annotations

import io
import json
import secrets
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import reflex as rx
from carnet_web import api
from carnet_web.documents_http import MAX_DOCUMENT_BYTES, TICKETS
from carnet_web.i18n import gettext
from carnet_web.state import documents
from carnet_web.state.document_view import DocumentViewState
from carnet_web.state.documents import (
    SEND_FILE_ID,
    DocumentsState,
    Filters,
    author_label,
    change_error_message,
    check_upload_form,
    document_item,
    parse_filters,
    picker_accept,
    rejection_message,
    upload_error_message,
)
from carnet_web.state.session import LOGIN_ROUTE
from graphql import GraphQLUnionType, build_schema
from reflex import constants
from reflex.istate.data import RouterData

from tests.frontend.fakes import FakeApi, client_calls, focused, redirects, run

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
TOKEN = "jeton-de-session-secret"
PDF = b"%PDF-1.4\n\x00\xff binaire\r\n%%EOF\n"
TYPES = {"LAB_REPORT", "CARE_PLAN", "CONSULTATION_REPORT"}
FORMATS = ["PDF", "Image JPEG", "Image PNG", "Texte", "Document CDA (XML)"]
FORMATS_TEXT = ", ".join(FORMATS)
KINDS = [
    {"contentType": "application/pdf", "label": "PDF", "extensions": [".pdf"],
     "pickerTypes": ["application/pdf"]},
    {"contentType": "image/jpeg", "label": "Image JPEG", "extensions": [".jpg", ".jpeg"],
     "pickerTypes": ["image/jpeg"]},
    {"contentType": "image/png", "label": "Image PNG", "extensions": [".png"],
     "pickerTypes": ["image/png"]},
    {"contentType": "text/plain; charset=utf-8", "label": "Texte", "extensions": [".txt"],
     "pickerTypes": ["text/plain"]},
    {"contentType": "application/hl7-cda+xml", "label": "Document CDA (XML)",
     "extensions": [".xml"], "pickerTypes": ["text/xml", "application/xml"]},
]
REFERENCE = {
    "documentTypes": [{"value": "LAB_REPORT", "label": "Compte rendu de biologie"},
                      {"value": "CARE_PLAN", "label": "Plan personnalisé de soins"},
                      {"value": "CONSULTATION_REPORT",
                       "label": "Compte rendu de consultation"}],
    "uploadLimits": {"maxDocumentBytes": 20 * 1024 * 1024, "maxTitleLength": 200,
                     "contentKinds": KINDS},
}


def node(**overrides: Any) -> dict[str, Any]:
    values = {
        "id": "d1", "title": "Bilan sanguin", "type": "LAB_REPORT",
        "typeLabel": "Compte rendu de biologie", "clinicalDate": "2025-03-02",
        "contentType": "application/pdf", "size": 2106, "visibility": "NORMAL", "isNew": False,
        "createdAt": "2026-11-28T17:54:00+00:00",
        "author": {"isPatient": True, "professional": None},
    }
    return {**values, **overrides}


def connection(*nodes: dict[str, Any], total: int | None = None, more: bool = False,
               cursor: str | None = "c-fin") -> dict[str, Any]:
    return {
        "totalCount": len(nodes) if total is None else total,
        "pageInfo": {"hasNextPage": more, "endCursor": cursor},
        "edges": [{"node": n} for n in nodes],
    }


def first_page(*nodes: dict[str, Any], reference: dict[str, Any] | None = None,
               **kwargs: Any) -> dict[str, Any]:
    """The answer to DocumentsPage: the first page and the reference data."""
    return {"documents": connection(*nodes, **kwargs), "referenceData": reference or REFERENCE}


def next_page(*nodes: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return {"documents": connection(*nodes, **kwargs)}


def error(kind: str, **fields: Any) -> dict[str, Any]:
    return {"__typename": kind, "message": f"Message de l'API ({kind}).", **fields}


def signed_in(state: DocumentsState | None = None, lang: str = "fr") -> DocumentsState:
    state = state or DocumentsState()
    state._sign_in(TOKEN, "jean@example.fr")
    state.lang = lang
    return state


async def loaded(fake_api: FakeApi, *nodes: dict[str, Any], lang: str = "fr",
                 **kwargs: Any) -> DocumentsState:
    fake_api.answer("DocumentsPage", first_page(*nodes, **kwargs))
    state = signed_in(lang=lang)
    await run(state.load())
    return state


def at(state: Any, path: str, **params: str) -> Any:
    """The state as seen from the page at `path` (with its route's `params`)."""
    state.router = RouterData.from_router_data({
        constants.RouteVar.ORIGIN: "http://localhost:3000" + path,
        constants.RouteVar.PATH: path,
        constants.RouteVar.QUERY: params,
    })
    return state


def upload_file(data: bytes = PDF, name: str = "dossier/analyse.pdf") -> rx.UploadFile:
    return rx.UploadFile(file=io.BytesIO(data), path=Path(name), size=len(data))


def ready_to_upload(state: DocumentsState, **form: str) -> DocumentsState:
    values = {"title": " Bilan  sanguin ", "type": "LAB_REPORT", "clinicalDate": "2025-03-02"}
    state.start_upload({**values, **form})
    return state


# --- helpers ------------------------------------------------------------------------------


def test_every_error_of_the_upload_and_change_results_has_a_message() -> None:
    union = SCHEMA.type_map["UploadDocumentResult"]
    assert isinstance(union, GraphQLUnionType)
    for member in union.types:
        if member.name != "Document":
            for lang in ("fr", "en"):
                message = upload_error_message({"__typename": member.name, "message": "API"},
                                               lang, formats=FORMATS)
                assert message and message != api.UNEXPECTED_MESSAGE
    assert upload_error_message(error("UnsupportedContent"), "fr", formats=FORMATS) == (
        f"Format non accepté : envoyez un fichier de l'un de ces formats : {FORMATS_TEXT}.")
    assert upload_error_message(error("UnsupportedContent"), "en", formats=["PDF"]) == (
        "This format is not accepted. Send a file in one of these formats: PDF.")
    assert upload_error_message(error("FileTooLarge", maxBytes=20 * 1024 * 1024), "fr") == (
        "Fichier trop volumineux : 20 Mo au maximum.")
    assert upload_error_message(error("FileTooLarge", maxBytes=20 * 1024 * 1024), "en") == (
        "This file is too large. The maximum is 20 MB.")
    assert upload_error_message(error("DuplicateDocument", existingDocumentId="d0"), "fr") == (
        "Ce document est déjà dans votre dossier.")
    # Invalid input: the API says what is wrong with which field, in the request's language.
    invalid = {"__typename": "InvalidDocumentInput", "field": "clinicalDate",
               "message": "The date of the document is in the future."}
    assert upload_error_message(invalid, "en") == "The date of the document is in the future."
    assert upload_error_message({"__typename": "Nouveau"}, "fr") == api.UNEXPECTED_MESSAGE
    assert change_error_message(error("DocumentNotFound"), "fr") == documents.DOCUMENT_GONE
    assert change_error_message(error("DocumentNotFound"), "en") == (
        "This document no longer exists. It may have been deleted.")


@pytest.mark.parametrize(
    ("codes", "lang", "message"),
    [
        (["too-many-files"], "fr", "Choisissez un seul fichier à la fois."),
        (["file-too-large"], "fr", "Fichier trop volumineux : 5 Mo au maximum."),
        (["file-too-large"], "en", "This file is too large. The maximum is 5 MB."),
        (["file-invalid-type"], "fr",
         "Format non accepté : envoyez un fichier de l'un de ces formats : PDF, Texte."),
        (["autre"], "en", "This file cannot be sent."),
    ],
)
def test_files_the_picker_refuses_are_explained(codes: list[str], lang: str,
                                                message: str) -> None:
    assert rejection_message(codes, lang, formats=["PDF", "Texte"],
                             max_bytes=5 * 1024 * 1024) == message


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (("Bilan", "LAB_REPORT", "2025-03-02"), None),
        (("  ", "LAB_REPORT", "2025-03-02"), ("title", documents.TITLE_REQUIRED, {})),
        (("x" * 121, "LAB_REPORT", "2025-03-02"),
         ("title", documents.TITLE_TOO_LONG, {"max": 120})),
        (("Bilan", "", "2025-03-02"), ("type", documents.TYPE_REQUIRED, {})),
        (("Bilan", "HOROSCOPE", "2025-03-02"), ("type", documents.TYPE_REQUIRED, {})),
        (("Bilan", "LAB_REPORT", ""), ("clinicalDate", documents.DATE_REQUIRED, {})),
        (("Bilan", "LAB_REPORT", "02/03/2025"), ("clinicalDate", documents.DATE_INVALID, {})),
        (("Bilan", "LAB_REPORT", "1850-01-01"), ("clinicalDate", documents.DATE_INVALID, {})),
        (("Bilan", "LAB_REPORT", "2025-06-02"), ("clinicalDate", documents.DATE_IN_FUTURE, {})),
    ],
)
def test_the_upload_form_is_checked_before_sending(
    form: tuple[str, str, str], problem: tuple[str, str, dict[str, Any]] | None
) -> None:
    assert check_upload_form(*form, types=TYPES, max_title=120,
                             today=date(2025, 6, 1)) == problem


def test_filters() -> None:
    filters, problem = parse_filters({"type": "LAB_REPORT", "from": "2025-01-01",
                                      "to": "2025-12-31", "text": "  prise   de sang "},
                                     types=TYPES)
    assert problem == ""
    assert filters.variables() == {"types": ["LAB_REPORT"], "from": "2025-01-01",
                                   "to": "2025-12-31", "text": "prise de sang"}
    assert Filters().variables() is None
    assert parse_filters({"type": "INCONNU"}, types=TYPES)[0].type == ""
    assert parse_filters({"from": "2025-02-01", "to": "2025-01-01"}, types=TYPES)[1] == (
        documents.DATES_REVERSED)
    assert parse_filters({"from": "hier"}, types=TYPES)[1] == documents.DATE_INVALID
    assert parse_filters({"text": "x" * 50}, types=TYPES, max_title=10)[0].text == "x" * 10


def test_document_items_in_both_languages() -> None:
    kinds = {k["contentType"]: k["label"] for k in KINDS}
    big = node(size=1536 * 1024, isNew=True, visibility="HIDDEN_FROM_PROFESSIONALS")
    item = document_item(big, "fr", kinds)
    assert item.title == "Bilan sanguin"
    assert item.type_label == "Compte rendu de biologie"  # the API's, in the tab's language
    assert item.clinical_date == "2 mars 2025"
    assert item.added == "28 novembre 2026"
    assert item.size == "1,5 Mo"
    assert item.kind == "PDF"
    assert item.author == "Moi"
    assert item.is_new and item.hidden
    assert item.viewable and item.view_path == "/documents/d1"
    english = document_item({**big, "typeLabel": "Laboratory report"}, "en", kinds)
    assert (english.type_label, english.clinical_date, english.added, english.size,
            english.author) == ("Laboratory report", "2 March 2025", "28 November 2026",
                                "1.5 MB", "Me")
    text = document_item(node(contentType="text/plain; charset=utf-8", size=12), "fr", kinds)
    assert (text.kind, text.size, text.hidden, text.viewable) == ("Texte", "12 octets", False,
                                                                  False)
    unknown = document_item(node(contentType="application/x-nouveau"), "en", kinds)
    assert (unknown.kind, unknown.viewable) == ("File", False)
    for content_type in ("image/png", "image/jpeg"):
        assert document_item(node(contentType=content_type), "fr").viewable
    for content_type in ("image/svg+xml", "text/html", "application/hl7-cda+xml"):
        assert not document_item(node(contentType=content_type), "fr").viewable
    doctor = {"isPatient": False,
              "professional": {"profession": "Médecin généraliste", "practiceName": "Cabinet"}}
    assert author_label(doctor, "en") == "Médecin généraliste · Cabinet"
    assert author_label({"isPatient": False, "professional": {
        "profession": "Infirmier", "practiceName": None}}, "fr") == "Infirmier"
    assert author_label({"isPatient": False, "professional": None}, "fr") == (
        "Professionnel de santé")
    assert author_label({"isPatient": False, "professional": None}, "en") == (
        "Health professional")


def test_the_file_picker_accepts_what_the_api_accepts() -> None:
    assert picker_accept(KINDS) == {
        "application/pdf": [".pdf"], "image/jpeg": [".jpg", ".jpeg"], "image/png": [".png"],
        "text/plain": [".txt"], "text/xml": [".xml"], "application/xml": [".xml"],
    }


# --- the list -----------------------------------------------------------------------------


async def test_without_a_session_the_page_goes_to_login(fake_api: FakeApi) -> None:
    state = DocumentsState()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert fake_api.calls == []


async def test_load_lists_my_documents_and_takes_the_apis_lists_and_limits(
    fake_api: FakeApi,
) -> None:
    reference = {**REFERENCE, "uploadLimits": {**REFERENCE["uploadLimits"],
                                               "maxDocumentBytes": 5 * 1024 * 1024,
                                               "maxTitleLength": 120}}
    fake_api.answer("DocumentsPage", first_page(node(), node(id="d2", title="Ordonnance"),
                                                total=25, more=True, reference=reference))
    state = signed_in()
    await run(state.load())
    (call,) = fake_api.calls
    assert call.variables == {"first": 20, "filter": None}
    assert call.token == TOKEN
    assert call.headers["Accept-Language"] == "fr"
    assert [item.id for item in state.documents] == ["d1", "d2"]
    assert (state.total_count, state.count_text, state.has_more) == (25, "25 documents", True)
    assert not state.loading and state.error == ""
    assert state.type_options == [[t["value"], t["label"]] for t in REFERENCE["documentTypes"]]
    assert (state.max_document_bytes, state.max_title) == (5 * 1024 * 1024, 120)
    assert state.accept["application/pdf"] == [".pdf"]
    assert state.formats_hint == f"Formats acceptés : {FORMATS_TEXT} ; 5 Mo au maximum."
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_the_page_in_english(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(typeLabel="Laboratory report"), lang="en")
    assert fake_api.calls[0].headers["Accept-Language"] == "en"  # the API's labels in English
    assert state.count_text == "1 document"
    assert state.documents[0].type_label == "Laboratory report"
    assert state.formats_hint.endswith("Maximum size: 20 MB.")
    fake_api.answer("DocumentsPage", first_page())
    await run(state.load())
    assert state.count_text == "No documents"


async def test_more_documents_come_after_the_last_cursor(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(), total=2, more=True, cursor="c1")
    fake_api.answer("Documents", next_page(node(id="d2"), total=2, more=False, cursor="c2"))
    await run(state.load_more())
    assert fake_api.calls[-1].operation == "Documents"
    assert fake_api.calls[-1].variables == {"first": 20, "filter": None, "after": "c1"}
    assert [item.id for item in state.documents] == ["d1", "d2"]
    assert not state.has_more and not state.loading_more
    calls = len(fake_api.calls)
    await run(state.load_more())  # nothing more: no call
    assert len(fake_api.calls) == calls


async def test_filters_are_sent_and_kept_for_the_next_pages(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    fake_api.answer("DocumentsPage", first_page(node(), more=True, cursor="c1"))
    await run(state.apply_filters({"type": "LAB_REPORT", "from": "2025-01-01", "to": "",
                                   "text": "sang"}))
    expected = {"types": ["LAB_REPORT"], "from": "2025-01-01", "text": "sang"}
    assert fake_api.calls[-1].variables == {"first": 20, "filter": expected}
    assert state.filters_active
    fake_api.answer("Documents", next_page(node(id="d2")))
    await run(state.load_more())
    assert fake_api.calls[-1].variables["filter"] == expected

    key = state.filters_key
    await run(state.clear_filters())
    assert fake_api.calls[-1].variables == {"first": 20, "filter": None}
    assert not state.filters_active and state.filters_key == key + 1


async def test_filters_that_make_no_sense_are_not_sent(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    calls = len(fake_api.calls)
    await run(state.apply_filters({"from": "2025-02-01", "to": "2025-01-01"}))
    assert state.error == "La date de début doit précéder la date de fin."
    state.lang = "en"
    await run(state.apply_filters({"from": "hier"}))
    assert state.error == "Enter a real date."
    assert len(fake_api.calls) == calls


async def test_an_expired_session_goes_to_login_and_comes_back(fake_api: FakeApi) -> None:
    fake_api.answer("DocumentsPage", api.ApiUnauthenticated(detail="expired"))
    state = signed_in()
    at(state, "/documents")
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == api.UNAUTHENTICATED_MESSAGE
    assert (state._api_token, state.signed_in) == ("", False)
    assert state._return_to == "/documents"
    assert not state.loading


async def test_the_api_down_is_said_in_the_tabs_language(fake_api: FakeApi) -> None:
    fake_api.answer("DocumentsPage", api.ApiUnavailable())
    state = signed_in(lang="en")
    assert redirects(await run(state.load())) == []
    assert state.error == gettext("en", api.UNAVAILABLE_MESSAGE)
    assert state.signed_in and not state.loading


async def test_messages_of_a_finished_action_do_not_survive_a_new_visit(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api, node())
    state.info = "« Bilan sanguin » a été supprimé de votre dossier."
    state.upload_info = "« Bilan sanguin » a été ajouté à votre dossier."
    state.pick_error = "Fichier trop volumineux : 20 Mo au maximum."
    state.upload_error, state.upload_error_field = "Le titre est obligatoire.", "title"
    state.duplicate_id, state.duplicate_notice = "d0", "Il s'y trouve..."
    state.rename_error = "Le titre est obligatoire."
    await run(state.load())  # another visit, or a reload
    assert (state.info, state.upload_info, state.pick_error, state.upload_error,
            state.upload_error_field, state.duplicate_id, state.duplicate_notice,
            state.rename_error, state.error) == ("",) * 9


# --- adding a document --------------------------------------------------------------------


async def test_upload_forwards_the_file_and_refreshes_the_list(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    ready_to_upload(state)
    assert (state.upload_phase, state.upload_percent) == ("sending", 0)
    state.upload_progress({"loaded": 10, "total": 40, "progress": 0.25})
    assert state.upload_percent == 25
    state.upload_progress({"progress": 0.1})  # out of order: never backwards
    assert state.upload_percent == 25

    fake_api.answer("UploadDocument", {"uploadDocument": {"__typename": "Document",
                                                          **node(title="Bilan sanguin")}})
    fake_api.answer("DocumentsPage", first_page(node()))
    events = await run(state.upload_document([upload_file()]))
    (call,) = fake_api.called("UploadDocument")
    assert call.variables == {"input": {"title": "Bilan sanguin", "type": "LAB_REPORT",
                                        "clinicalDate": "2025-03-02"}}
    assert (call.file_variable, call.filename, call.content) == ("file", "analyse.pdf", PDF)
    assert call.token == TOKEN
    assert state.upload_info == "« Bilan sanguin » a été ajouté à votre dossier."
    assert state.upload_phase == "" and state.upload_error == ""
    assert [item.id for item in state.documents] == ["d1"]
    assert client_calls(events) == [
        ("_call_function", '(() => (refs["__clear_selected_files"]("document-upload")))')]
    assert state.upload_title == "" and state.upload_form_key == 1  # a fresh form
    state.upload_progress({"progress": 1.0})  # a late report changes nothing
    assert state.upload_phase == ""


async def test_a_refused_form_sends_nothing_to_the_api(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    ready_to_upload(state, title="  ")
    assert state.upload_phase == ""
    assert (state.upload_error, state.upload_error_field) == ("Le titre est obligatoire.",
                                                              "title")
    await run(state.upload_document([upload_file()]))  # the browser sent the file anyway
    assert fake_api.called("UploadDocument") == []
    state.lang = "en"
    ready_to_upload(state, type="HOROSCOPE")  # not a type the API listed
    assert (state.upload_error, state.upload_error_field) == ("Choose the type of document.",
                                                              "type")
    ready_to_upload(state, title="x" * 201)
    assert state.upload_error == "The title must be 200 characters or fewer."


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "Choisissez un fichier à envoyer."),
        ([upload_file(), upload_file()], "Choisissez un seul fichier à la fois."),
        ([upload_file(b"")], "Ce fichier est vide."),
        ([rx.UploadFile(file=io.BytesIO(b"%PDF-"), path=Path("gros.pdf"),
                        size=MAX_DOCUMENT_BYTES + 1)],
         "Fichier trop volumineux : 20 Mo au maximum."),
    ],
)
async def test_files_this_server_refuses(
    fake_api: FakeApi, files: list[rx.UploadFile], message: str
) -> None:
    state = ready_to_upload(await loaded(fake_api))
    await run(state.upload_document(files))
    assert (state.upload_error, state.upload_error_field) == (message, "file")
    assert state.upload_phase == ""
    assert fake_api.called("UploadDocument") == []


@pytest.mark.parametrize(
    ("result", "message", "field"),
    [
        (error("UnsupportedContent"),
         f"Format non accepté : envoyez un fichier de l'un de ces formats : {FORMATS_TEXT}.",
         "file"),
        (error("FileTooLarge", maxBytes=10 * 1024 * 1024),
         "Fichier trop volumineux : 10 Mo au maximum.", "file"),
        ({"__typename": "InvalidDocumentInput", "field": "title",
          "message": "Le titre dépasse 200 caractères."},
         "Le titre dépasse 200 caractères.", "title"),
    ],
)
async def test_typed_upload_errors(
    fake_api: FakeApi, result: dict[str, Any], message: str, field: str
) -> None:
    state = ready_to_upload(await loaded(fake_api))
    fake_api.answer("UploadDocument", {"uploadDocument": result})
    await run(state.upload_document([upload_file()]))
    assert (state.upload_error, state.upload_error_field) == (message, field)
    assert state.upload_phase == "" and state.upload_info == ""
    assert fake_api.called("DocumentsPage")[1:] == []  # nothing new to list


async def test_a_duplicate_says_where_the_document_already_is(fake_api: FakeApi) -> None:
    state = ready_to_upload(await loaded(fake_api))
    fake_api.answer("UploadDocument", {"uploadDocument": error("DuplicateDocument",
                                                               existingDocumentId="d0")})
    fake_api.answer("Document", {"document": {"id": "d0", "title": "Ordonnance <i>x</i>",
                                              "clinicalDate": "2025-01-20"}})
    await run(state.upload_document([upload_file()]))
    assert state.upload_error == "Ce document est déjà dans votre dossier."
    assert state.duplicate_id == "d0"
    assert state.duplicate_notice == (
        "Il s'y trouve sous le titre « Ordonnance <i>x</i> » (document du 20 janvier 2025).")
    assert fake_api.called("Document")[0].variables == {"id": "d0"}

    state.lang = "en"
    ready_to_upload(state)
    await run(state.upload_document([upload_file()]))
    assert state.upload_error == "This document is already in your record."
    assert state.duplicate_notice == "It is there as “Ordonnance <i>x</i>” (dated 20 January 2025)."


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (api.ApiPayloadTooLarge(), "Fichier trop volumineux : 20 Mo au maximum."),
        (api.ApiUnavailable(), api.UNAVAILABLE_MESSAGE),
    ],
)
async def test_upload_failures(fake_api: FakeApi, failure: api.ApiError, message: str) -> None:
    state = ready_to_upload(await loaded(fake_api))
    fake_api.answer("UploadDocument", failure)
    await run(state.upload_document([upload_file()]))
    assert state.upload_error == message and state.upload_phase == ""
    assert state.upload_percent == 0
    assert state.signed_in


async def test_upload_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    state = ready_to_upload(await loaded(fake_api))
    fake_api.answer("UploadDocument", api.ApiUnauthenticated())
    assert redirects(await run(state.upload_document([upload_file()]))) == [LOGIN_ROUTE]
    assert not state.signed_in and state.upload_phase == ""


async def test_the_file_is_sent_only_once_the_form_is_right(fake_api: FakeApi) -> None:
    """start_upload presses the hidden send button (which makes the browser send the file) only
    when the form is right: a refused form sends nothing."""
    fake_api.answer("DocumentsPage", first_page())
    state = signed_in()
    await run(state.load())
    refused = state.start_upload({"title": "   ", "type": "LAB_REPORT",
                                  "clinicalDate": "2025-03-02"})
    assert refused is None and state.upload_phase == "" and state.upload_error_field == "title"
    sent = state.start_upload({"title": "Bilan", "type": "LAB_REPORT",
                               "clinicalDate": "2025-03-02"})
    assert sent is not None and SEND_FILE_ID in str(sent.args)
    assert state.upload_phase == "sending"
    assert state.start_upload({"title": "Bilan", "type": "LAB_REPORT",
                               "clinicalDate": "2025-03-02"}) is None  # already sending


async def test_a_file_refused_when_picked_is_said_at_once(fake_api: FakeApi) -> None:
    reference = {**REFERENCE, "uploadLimits": {**REFERENCE["uploadLimits"],
                                               "maxDocumentBytes": 2 * 1024 * 1024}}
    fake_api.answer("DocumentsPage", first_page(reference=reference))
    state = signed_in()
    await run(state.load())
    state.upload_rejected(["file-too-large"])
    assert state.pick_error == "Fichier trop volumineux : 2 Mo au maximum."  # the API's limit
    assert fake_api.called("UploadDocument") == []
    state.upload_rejected(["file-invalid-type"])
    assert state.pick_error == (
        f"Format non accepté : envoyez un fichier de l'un de ces formats : {FORMATS_TEXT}.")
    ready_to_upload(state)
    assert state.pick_error == "" and state.upload_error == ""
    state.upload_cancelled()
    assert (state.upload_phase, state.upload_info) == ("", "Envoi annulé.")
    await run(state.upload_document([upload_file()]))  # cancelled: not forwarded
    assert fake_api.called("UploadDocument") == []


# --- one document -------------------------------------------------------------------------


async def test_download_gives_the_browser_a_one_time_link_not_the_token(
    fake_api: FakeApi,
) -> None:
    state = await loaded(fake_api, node(isNew=True))
    fake_api.answer("Document", {"document": {"id": "d1", "title": "Bilan sanguin",
                                              "clinicalDate": "2025-03-02",
                                              "downloadUrl": "/documents/d1/content"}})
    events = await run(state.download("d1"))
    ((name, script),) = client_calls(events)
    assert name == "_call_script"
    assert TOKEN not in script
    url = json.loads(script.split("frame.src = ")[1].split(";")[0])
    assert url.startswith("http://localhost:8000/_carnet/telechargement/")
    ticket = TICKETS.redeem(url.rpartition("/")[2])
    assert ticket is not None
    assert (ticket.token, ticket.path, ticket.kind) == (TOKEN, "/documents/d1/content",
                                                        "download")
    assert TICKETS.redeem(url.rpartition("/")[2]) is None  # once only
    assert not state.documents[0].is_new  # opening it marks it as seen


async def test_download_of_a_document_gone_meanwhile(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(), node(id="d2"))
    fake_api.answer("Document", {"document": None})
    assert client_calls(await run(state.download("d1"))) == []
    assert state.error == documents.DOCUMENT_GONE
    assert [item.id for item in state.documents] == ["d2"]
    assert (state.total_count, state.count_text) == (1, "1 document")


async def test_rename(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    state.start_rename("d1")
    await run(state.rename({"title": "   "}))
    assert state.rename_error == "Le titre est obligatoire."
    assert fake_api.called("RenameDocument") == []

    fake_api.answer("RenameDocument", {"renameDocument": {"__typename": "Document",
                                                          **node(title="Bilan <b>x</b>")}})
    await run(state.rename({"title": " Bilan  <b>x</b> "}))
    assert fake_api.called("RenameDocument")[0].variables == {"id": "d1",
                                                              "title": "Bilan <b>x</b>"}
    assert state.documents[0].title == "Bilan <b>x</b>"
    assert (state.renaming_id, state.rename_error, state.info) == ("", "",
                                                                   "Le document a été renommé.")


async def test_rename_refused_by_the_api_or_failing(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    state.start_rename("d1")
    fake_api.answer("RenameDocument", {"renameDocument": {
        "__typename": "InvalidDocumentInput", "field": "title",
        "message": "Le titre dépasse 200 caractères."}})
    await run(state.rename({"title": "Long"}))
    assert state.rename_error == "Le titre dépasse 200 caractères."
    assert state.renaming_id == "d1"  # the form stays open
    fake_api.answer("RenameDocument", api.ApiUnavailable())
    await run(state.rename({"title": "Long"}))
    assert state.rename_error == api.UNAVAILABLE_MESSAGE
    assert state.busy_id == "" and state.renaming_id == "d1"


async def test_hide_from_professionals_then_show_again(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    fake_api.answer("SetDocumentHidden", {"setDocumentHidden": {
        "__typename": "Document", **node(visibility="HIDDEN_FROM_PROFESSIONALS")}})
    await run(state.set_hidden("d1", True))
    assert fake_api.called("SetDocumentHidden")[0].variables == {"id": "d1", "hidden": True}
    assert state.documents[0].hidden
    assert state.info == "« Bilan sanguin » est maintenant masqué aux professionnels."
    assert state.busy_id == ""

    state.lang = "en"
    fake_api.answer("SetDocumentHidden", {"setDocumentHidden": {"__typename": "Document",
                                                                **node()}})
    await run(state.set_hidden("d1", False))
    assert not state.documents[0].hidden
    assert state.info == "“Bilan sanguin” is visible to professionals again."


async def test_hiding_a_document_gone_meanwhile(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    fake_api.answer("SetDocumentHidden", {"setDocumentHidden": error("DocumentNotFound")})
    await run(state.set_hidden("d1", True))
    assert state.error == documents.DOCUMENT_GONE
    assert state.documents == []


async def test_delete_asks_first(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(), node(id="d2", title="Ordonnance"))
    state.ask_delete("d2")
    assert state.deleting and (state.deleting_id, state.deleting_title) == ("d2", "Ordonnance")
    closed = state.delete_dialog_changed(False)  # "Annuler", Escape or a click outside
    assert state.deleting_id == "" and not state.deleting
    assert focused([closed]) == ["delete-document-d2"]  # back on its "Supprimer"
    await run(state.confirm_delete())
    assert fake_api.called("DeleteDocument") == []

    state.ask_delete("d2")
    state.delete_dialog_changed(True)
    assert state.deleting_id == "d2"
    fake_api.answer("DeleteDocument", {"deleteDocument": {"__typename": "DocumentDeleted",
                                                          "id": "d2"}})
    await run(state.confirm_delete())
    assert fake_api.called("DeleteDocument")[0].variables == {"id": "d2"}
    assert [item.id for item in state.documents] == ["d1"]
    assert state.total_count == 1
    assert state.info == "« Ordonnance » a été supprimé de votre dossier."
    assert state.deleting_id == "" and state.busy_id == ""


async def test_a_failed_delete_frees_the_list(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    state.ask_delete("d1")
    fake_api.answer("DeleteDocument", api.ApiUnavailable())
    await run(state.confirm_delete())
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert state.busy_id == "" and len(state.documents) == 1


# --- a document's page --------------------------------------------------------------------

VIEW = {"id": "d1", "title": "Bilan <b>sanguin</b>", "typeLabel": "Compte rendu de biologie",
        "clinicalDate": "2025-03-02", "contentType": "application/pdf", "size": 2106,
        "createdAt": "2026-11-28T17:54:00+00:00", "downloadUrl": "/documents/d1/content",
        "author": {"isPatient": True, "professional": None}}


def viewing(document_id: str = "d1", lang: str = "fr") -> DocumentViewState:
    state = DocumentViewState()
    state._sign_in(TOKEN, "jean@example.fr")
    state.lang = lang
    return at(state, f"/documents/{document_id}", document_id=document_id)


def view_answer(**overrides: Any) -> dict[str, Any]:
    return {"document": {**VIEW, **overrides},
            "referenceData": {"uploadLimits": {"contentKinds": KINDS}}}


async def test_a_pdf_is_shown_in_the_sandboxed_viewer(fake_api: FakeApi) -> None:
    fake_api.answer("DocumentView", view_answer())
    state = viewing()
    events = await run(state.load())
    (call,) = fake_api.calls
    assert call.variables == {"id": "d1"} and call.token == TOKEN
    assert (state.title, state.document_line, state.display) == (
        "Bilan <b>sanguin</b>", "Compte rendu de biologie · document du 2 mars 2025", "pdf")
    assert state.added_line == "Ajouté le 28 novembre 2026 · auteur : Moi · PDF · 2,1 Ko"
    assert state.viewer_src == "http://localhost:8000/_carnet/visionneuse/?lang=fr"
    assert not state.loading and state.error == "" and not state.missing
    ((name, script),) = client_calls(events)
    assert name == "_call_script" and TOKEN not in script
    url = json.loads(script.split("const url = ")[1].split(";")[0])
    assert url.startswith("http://localhost:8000/_carnet/affichage/")
    ticket = TICKETS.redeem(url.rpartition("/")[2], "inline")
    assert ticket is not None
    assert (ticket.token, ticket.path, ticket.kind, ticket.lang) == (
        TOKEN, "/documents/d1/content", "inline", "fr")
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_an_image_is_shown_in_an_img_and_its_failure_said(fake_api: FakeApi) -> None:
    fake_api.answer("DocumentView", view_answer(contentType="image/png", size=12))
    state = viewing(lang="en")
    assert client_calls(await run(state.load())) == []
    assert state.display == "image"
    assert state.document_line == "Compte rendu de biologie · dated 2 March 2025"
    assert state.added_line == "Added on 28 November 2026 · author: Me · Image PNG · 12 bytes"
    ticket = TICKETS.redeem(state.image_src.rpartition("/")[2], "inline")
    assert ticket is not None and ticket.lang == "en"
    state.image_error()
    assert state.image_failed


@pytest.mark.parametrize("content_type", ["text/plain; charset=utf-8", "application/hl7-cda+xml",
                                          "image/svg+xml", "text/html"])
async def test_other_documents_are_only_offered_for_download(
    fake_api: FakeApi, content_type: str
) -> None:
    fake_api.answer("DocumentView", view_answer(contentType=content_type))
    state = viewing()
    before = len(TICKETS)
    assert client_calls(await run(state.load())) == []
    assert state.display == "download"
    assert (state.viewer_src, state.image_src) == ("", "")
    assert len(TICKETS) == before  # no inline ticket for it


async def test_a_missing_document_and_the_download_from_its_page(fake_api: FakeApi) -> None:
    fake_api.answer("DocumentView", {"document": None, "referenceData": {
        "uploadLimits": {"contentKinds": KINDS}}})
    state = viewing("inconnu")
    await run(state.load())
    assert state.missing and state.title == "" and state.display == ""
    assert fake_api.calls[0].variables == {"id": "inconnu"}

    fake_api.answer("DocumentView", view_answer())
    state = viewing()
    await run(state.load())
    fake_api.answer("Document", {"document": {"id": "d1", "title": "Bilan",
                                              "clinicalDate": "2025-03-02",
                                              "downloadUrl": "/documents/d1/content"}})
    ((name, script),) = client_calls(await run(state.download()))
    url = json.loads(script.split("frame.src = ")[1].split(";")[0])
    ticket = TICKETS.redeem(url.rpartition("/")[2])  # a download ticket
    assert ticket is not None and ticket.kind == "download"
    fake_api.answer("Document", {"document": None})
    assert client_calls(await run(state.download())) == []
    assert state.missing and state.error == documents.DOCUMENT_GONE


async def test_the_document_page_needs_a_session_and_says_when_the_api_is_down(
    fake_api: FakeApi,
) -> None:
    state = at(DocumentViewState(), "/documents/d1", document_id="d1")
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state._return_to == "/documents/d1"
    fake_api.answer("DocumentView", api.ApiUnavailable())
    state = viewing()
    await run(state.load())
    assert state.error == api.UNAVAILABLE_MESSAGE and not state.loading
    fake_api.answer("DocumentView", api.ApiUnauthenticated())
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]


# --- against the real API -----------------------------------------------------------------


async def test_documents_against_the_real_api(
    monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any], notifier: Any
) -> None:
    """Every document of this page, with the API's own schema and answers: reference data,
    upload (a real multipart request), list, view, rename, hide, delete; in French, then the
    labels in English."""
    from tests.conftest import GraphQLClient
    from tests.factories import PASSWORD, create_patient
    from tests.identity_helpers import sign_in

    real_execute, real_upload = api.execute, api.upload

    async def execute(document: Any, variables: Any = None, **kwargs: Any) -> dict[str, Any]:
        return await real_execute(document, variables, **{**kwargs, **in_process})

    async def upload(document: Any, variables: Any, **kwargs: Any) -> dict[str, Any]:
        return await real_upload(document, variables, **{**kwargs, **in_process})

    monkeypatch.setattr(api, "execute", execute)
    monkeypatch.setattr(api, "upload", upload)
    address = f"docs-{secrets.token_hex(4)}@example.fr"
    await create_patient(email=address, password=PASSWORD)
    import httpx

    async with httpx.AsyncClient(transport=in_process["http_transport"],
                                 base_url="http://testserver") as http:
        token = await sign_in(GraphQLClient(http), notifier, address, PASSWORD)

    state = DocumentsState()
    state._sign_in(token, address)
    await run(state.load())
    assert state.error == "" and state.documents == [] and state.count_text == "Aucun document"
    assert ["LAB_REPORT", "Compte rendu de biologie"] in state.type_options
    assert state.max_document_bytes > 0 and state.max_title > 0
    assert state.accept["application/pdf"] == [".pdf"]

    content = PDF + secrets.token_bytes(64)
    ready_to_upload(state, title="Bilan <b>sanguin</b>")
    await run(state.upload_document([upload_file(content)]))
    assert state.upload_error == "", state.upload_error
    (item,) = state.documents
    assert (item.title, item.type_label, item.author, item.kind, item.viewable) == (
        "Bilan <b>sanguin</b>", "Compte rendu de biologie", "Moi", "PDF", True)

    ready_to_upload(state, title="Encore")
    await run(state.upload_document([upload_file(content)]))
    assert state.upload_error == "Ce document est déjà dans votre dossier."
    assert state.duplicate_notice.startswith("Il s'y trouve sous le titre « Bilan <b>sanguin")

    ready_to_upload(state, title="Image")
    await run(state.upload_document([upload_file(b"GIF89a" + bytes(16), "image.pdf")]))
    assert state.upload_error.startswith("Format non accepté : envoyez un fichier de l'un de "
                                         "ces formats : PDF, ")

    await run(state.apply_filters({"type": "CARE_PLAN"}))
    assert state.documents == [] and state.filters_active
    await run(state.apply_filters({"text": "SANGUIN"}))
    assert [d.id for d in state.documents] == [item.id]

    page = DocumentViewState()
    page._sign_in(token, address)
    at(page, f"/documents/{item.id}", document_id=item.id)
    await run(page.load())
    assert (page.title, page.display, page.error) == ("Bilan <b>sanguin</b>", "pdf", "")
    assert page.document_line == "Compte rendu de biologie · document du 2 mars 2025"

    state.start_rename(item.id)
    await run(state.rename({"title": "Bilan de mars"}))
    await run(state.set_hidden(item.id, True))
    assert state.documents[0].title == "Bilan de mars" and state.documents[0].hidden

    state.lang = "en"
    await run(state.clear_filters())
    assert state.documents[0].type_label != "Compte rendu de biologie"  # the API's English
    assert dict(map(tuple, state.type_options))["LAB_REPORT"] == state.documents[0].type_label
    assert state.count_text == "1 document"

    state.ask_delete(item.id)
    await run(state.confirm_delete())
    assert state.error == "" and state.documents == [] and state.total_count == 0
