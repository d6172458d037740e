"""Mes documents: the state's helpers and handlers, called directly against a fake API (the
typed results as the schema defines them), and once end to end against the real API,
in-process."""

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
from carnet_web.state import documents
from carnet_web.state.documents import (
    DOCUMENT_TYPES,
    DocumentsState,
    Filters,
    author_label,
    change_error_message,
    check_upload_form,
    document_item,
    parse_filters,
    rejection_message,
    upload_error_message,
)
from carnet_web.state.session import LOGIN_ROUTE
from graphql import GraphQLEnumType, GraphQLUnionType, build_schema

from backend.document_types import LABELS
from tests.frontend.fakes import FakeApi, client_calls, redirects, run

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
TOKEN = "jeton-de-session-secret"
PDF = b"%PDF-1.4\n\x00\xff binaire\r\n%%EOF\n"


def node(**overrides: Any) -> dict[str, Any]:
    values = {
        "id": "d1", "title": "Bilan sanguin", "type": "LAB_REPORT",
        "typeLabel": "Compte rendu de biologie", "clinicalDate": "2025-03-02",
        "contentType": "application/pdf", "size": 2106, "visibility": "NORMAL", "isNew": False,
        "createdAt": "2026-11-28T17:54:00+00:00",
        "author": {"isPatient": True, "professional": None},
    }
    return {**values, **overrides}


def page(*nodes: dict[str, Any], total: int | None = None, more: bool = False,
         cursor: str | None = "c-fin") -> dict[str, Any]:
    return {"documents": {
        "totalCount": len(nodes) if total is None else total,
        "pageInfo": {"hasNextPage": more, "endCursor": cursor},
        "edges": [{"node": n} for n in nodes],
    }}


def error(kind: str, **fields: Any) -> dict[str, Any]:
    return {"__typename": kind, "message": f"Message de l'API ({kind}).", **fields}


def signed_in(state: DocumentsState | None = None) -> DocumentsState:
    state = state or DocumentsState()
    state._sign_in(TOKEN, "jean@example.fr")
    return state


async def loaded(fake_api: FakeApi, *nodes: dict[str, Any], **kwargs: Any) -> DocumentsState:
    fake_api.answer("Documents", page(*nodes, **kwargs))
    state = signed_in()
    await run(state.load())
    return state


def upload_file(data: bytes = PDF, name: str = "dossier/analyse.pdf") -> rx.UploadFile:
    return rx.UploadFile(file=io.BytesIO(data), path=Path(name), size=len(data))


def ready_to_upload(state: DocumentsState, **form: str) -> DocumentsState:
    values = {"title": " Bilan  sanguin ", "type": "LAB_REPORT", "clinicalDate": "2025-03-02"}
    state.start_upload({**values, **form})
    return state


# --- helpers ------------------------------------------------------------------------------


def test_document_types_are_the_apis_with_its_french_labels() -> None:
    enum = SCHEMA.type_map["DocumentType"]
    assert isinstance(enum, GraphQLEnumType)
    assert [name for name, _ in DOCUMENT_TYPES] == list(enum.values)
    assert dict(DOCUMENT_TYPES) == {kind.name: label for kind, label in LABELS.items()}


def test_every_error_of_the_upload_and_change_results_has_a_french_message() -> None:
    union = SCHEMA.type_map["UploadDocumentResult"]
    assert isinstance(union, GraphQLUnionType)
    for member in union.types:
        if member.name != "Document":
            message = upload_error_message({"__typename": member.name, "message": "API"})
            assert message and message != api.UNEXPECTED_MESSAGE
    assert upload_error_message(error("UnsupportedContent")) == documents.UNSUPPORTED_FORMAT
    assert upload_error_message(error("FileTooLarge", maxBytes=20 * 1024 * 1024)) == (
        "Fichier trop volumineux : 20 Mo au maximum.")
    assert upload_error_message(error("DuplicateDocument", existingDocumentId="d0")) == (
        "Ce document est déjà dans votre dossier.")
    # Invalid input: the API says what is wrong with which field, in French.
    invalid = {"__typename": "InvalidDocumentInput", "field": "clinicalDate",
               "message": "La date du document est dans le futur."}
    assert upload_error_message(invalid) == "La date du document est dans le futur."
    assert upload_error_message({"__typename": "Nouveau"}) == api.UNEXPECTED_MESSAGE
    assert change_error_message(error("DocumentNotFound")) == documents.DOCUMENT_GONE


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (["too-many-files"], "Choisissez un seul fichier à la fois."),
        (["file-too-large"], "Fichier trop volumineux : 20 Mo au maximum."),
        (["file-invalid-type"], documents.UNSUPPORTED_FORMAT),
        (["autre"], "Ce fichier ne peut pas être envoyé."),
    ],
)
def test_files_the_picker_refuses_are_explained(codes: list[str], message: str) -> None:
    rejected = [{"file": {"path": "x"}, "errors": [{"code": c, "message": "en"} for c in codes]}]
    assert rejection_message(rejected) == message


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (("Bilan", "LAB_REPORT", "2025-03-02"), None),
        (("  ", "LAB_REPORT", "2025-03-02"), ("title", "Le titre est obligatoire.")),
        (("x" * 201, "LAB_REPORT", "2025-03-02"), ("title", "Le titre dépasse 200 caractères.")),
        (("Bilan", "", "2025-03-02"), ("type", "Choisissez le type du document.")),
        (("Bilan", "HOROSCOPE", "2025-03-02"), ("type", "Choisissez le type du document.")),
        (("Bilan", "LAB_REPORT", ""), ("clinicalDate", "Indiquez la date du document.")),
        (("Bilan", "LAB_REPORT", "02/03/2025"), ("clinicalDate", "Date invalide.")),
        (("Bilan", "LAB_REPORT", "1850-01-01"), ("clinicalDate", "Date invalide.")),
        (("Bilan", "LAB_REPORT", "2025-06-02"),
         ("clinicalDate", "La date du document est dans le futur.")),
    ],
)
def test_the_upload_form_is_checked_before_sending(
    form: tuple[str, str, str], problem: tuple[str, str] | None
) -> None:
    assert check_upload_form(*form, today=date(2025, 6, 1)) == problem


def test_filters() -> None:
    filters, problem = parse_filters({"type": "LAB_REPORT", "from": "2025-01-01",
                                      "to": "2025-12-31", "text": "  prise   de sang "})
    assert problem == ""
    assert filters.variables() == {"types": ["LAB_REPORT"], "from": "2025-01-01",
                                   "to": "2025-12-31", "text": "prise de sang"}
    assert Filters().variables() is None
    assert parse_filters({"type": "INCONNU"})[0].type == ""
    assert parse_filters({"from": "2025-02-01", "to": "2025-01-01"})[1] == (
        "La date de début doit précéder la date de fin.")
    assert parse_filters({"from": "hier"})[1] == "Date invalide."


def test_document_items_in_french() -> None:
    item = document_item(node(size=1536 * 1024, isNew=True, visibility="HIDDEN_FROM_PROFESSIONALS"))
    assert item.title == "Bilan sanguin"
    assert item.type_label == "Compte rendu de biologie"
    assert item.clinical_date == "2 mars 2025"
    assert item.added == "28 novembre 2026"
    assert item.size == "1,5 Mo"
    assert item.kind == "PDF"
    assert item.author == "Moi"
    assert item.is_new and item.hidden
    text = document_item(node(contentType="text/plain; charset=utf-8", size=12))
    assert (text.kind, text.size, text.hidden) == ("Texte", "12 octets", False)
    doctor = {"isPatient": False,
              "professional": {"profession": "Médecin généraliste", "practiceName": "Cabinet"}}
    assert author_label(doctor) == "Médecin généraliste · Cabinet"
    assert author_label({"isPatient": False, "professional": {"profession": "Infirmier",
                                                              "practiceName": None}}) == "Infirmier"
    assert author_label({"isPatient": False, "professional": None}) == "Professionnel de santé"


# --- the list -----------------------------------------------------------------------------


async def test_without_a_session_the_page_goes_to_login(fake_api: FakeApi) -> None:
    state = DocumentsState()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == "Connectez-vous pour accéder à cette page."
    assert fake_api.calls == []


async def test_load_lists_my_documents_with_the_tab_token(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(), node(id="d2", title="Ordonnance"), total=25,
                         more=True)
    (call,) = fake_api.calls
    assert call.variables == {"first": 20, "filter": None}
    assert call.token == TOKEN
    assert [item.id for item in state.documents] == ["d1", "d2"]
    assert (state.total_count, state.count_label, state.has_more) == (25, "25 documents", True)
    assert not state.loading and state.error == ""
    assert TOKEN not in json.dumps(state.dict(), default=str)


async def test_more_documents_come_after_the_last_cursor(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(), total=2, more=True, cursor="c1")
    fake_api.answer("Documents", page(node(id="d2"), total=2, more=False, cursor="c2"))
    await run(state.load_more())
    assert fake_api.calls[-1].variables == {"first": 20, "filter": None, "after": "c1"}
    assert [item.id for item in state.documents] == ["d1", "d2"]
    assert not state.has_more and not state.loading_more
    calls = len(fake_api.calls)
    await run(state.load_more())  # nothing more: no call
    assert len(fake_api.calls) == calls


async def test_filters_are_sent_and_kept_for_the_next_pages(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    fake_api.answer("Documents", page(node(), more=True, cursor="c1"))
    await run(state.apply_filters({"type": "LAB_REPORT", "from": "2025-01-01", "to": "",
                                   "text": "sang"}))
    expected = {"types": ["LAB_REPORT"], "from": "2025-01-01", "text": "sang"}
    assert fake_api.calls[-1].variables == {"first": 20, "filter": expected}
    assert state.filters_active
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
    assert len(fake_api.calls) == calls


async def test_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    fake_api.answer("Documents", api.ApiUnauthenticated(detail="expired"))
    state = signed_in()
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state.notice == api.UNAUTHENTICATED_MESSAGE
    assert (state._api_token, state.signed_in) == ("", False)


async def test_the_api_down_is_said_in_french(fake_api: FakeApi) -> None:
    fake_api.answer("Documents", api.ApiUnavailable())
    state = signed_in()
    assert redirects(await run(state.load())) == []
    assert state.error == api.UNAVAILABLE_MESSAGE
    assert state.signed_in and not state.loading


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
    fake_api.answer("Documents", page(node()))
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
        (error("UnsupportedContent"), documents.UNSUPPORTED_FORMAT, "file"),
        (error("FileTooLarge", maxBytes=10 * 1024 * 1024),
         "Fichier trop volumineux : 10 Mo au maximum.", "file"),
        ({"__typename": "InvalidDocumentInput", "field": "title",
          "message": "Le titre dépasse 200 caractères."},
         "Le titre dépasse 200 caractères.", "title"),
    ],
)
async def test_typed_upload_errors_in_french(
    fake_api: FakeApi, result: dict[str, Any], message: str, field: str
) -> None:
    state = ready_to_upload(await loaded(fake_api))
    fake_api.answer("UploadDocument", {"uploadDocument": result})
    await run(state.upload_document([upload_file()]))
    assert (state.upload_error, state.upload_error_field) == (message, field)
    assert state.upload_phase == "" and state.upload_info == ""
    assert fake_api.called("Documents")[1:] == []  # nothing new to list


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


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (api.ApiPayloadTooLarge(), "Fichier trop volumineux : 20 Mo au maximum."),
        (api.ApiUnavailable(), api.UNAVAILABLE_MESSAGE),
    ],
)
async def test_upload_failures_in_french(
    fake_api: FakeApi, failure: api.ApiError, message: str
) -> None:
    state = ready_to_upload(await loaded(fake_api))
    fake_api.answer("UploadDocument", failure)
    await run(state.upload_document([upload_file()]))
    assert state.upload_error == message and state.upload_phase == ""
    assert state.signed_in


async def test_upload_with_an_expired_session_goes_to_login(fake_api: FakeApi) -> None:
    state = ready_to_upload(await loaded(fake_api))
    fake_api.answer("UploadDocument", api.ApiUnauthenticated())
    assert redirects(await run(state.upload_document([upload_file()]))) == [LOGIN_ROUTE]
    assert not state.signed_in and state.upload_phase == ""


async def test_picker_refusals_and_cancelling(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    state.upload_rejected([{"file": {"path": "film.mp4"},
                            "errors": [{"code": "file-invalid-type"}]}])
    assert state.upload_error == documents.UNSUPPORTED_FORMAT
    ready_to_upload(state)
    assert state.upload_error == ""
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
    assert (ticket.token, ticket.path) == (TOKEN, "/documents/d1/content")
    assert TICKETS.redeem(url.rpartition("/")[2]) is None  # once only
    assert not state.documents[0].is_new  # opening it marks it as seen


async def test_download_of_a_document_gone_meanwhile(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(), node(id="d2"))
    fake_api.answer("Document", {"document": None})
    assert client_calls(await run(state.download("d1"))) == []
    assert state.error == documents.DOCUMENT_GONE
    assert [item.id for item in state.documents] == ["d2"]
    assert state.total_count == 1


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


async def test_rename_refused_by_the_api(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    state.start_rename("d1")
    fake_api.answer("RenameDocument", {"renameDocument": {
        "__typename": "InvalidDocumentInput", "field": "title",
        "message": "Le titre dépasse 200 caractères."}})
    await run(state.rename({"title": "Long"}))
    assert state.rename_error == "Le titre dépasse 200 caractères."
    assert state.renaming_id == "d1"  # the form stays open


async def test_hide_from_professionals_then_show_again(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    fake_api.answer("SetDocumentHidden", {"setDocumentHidden": {
        "__typename": "Document", **node(visibility="HIDDEN_FROM_PROFESSIONALS")}})
    await run(state.set_hidden("d1", True))
    assert fake_api.called("SetDocumentHidden")[0].variables == {"id": "d1", "hidden": True}
    assert state.documents[0].hidden
    assert state.info == "« Bilan sanguin » est maintenant masqué aux professionnels."
    assert state.busy_id == ""

    fake_api.answer("SetDocumentHidden", {"setDocumentHidden": {"__typename": "Document",
                                                                **node()}})
    await run(state.set_hidden("d1", False))
    assert not state.documents[0].hidden
    assert state.info == "« Bilan sanguin » est de nouveau visible par les professionnels."


async def test_hiding_a_document_gone_meanwhile(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    fake_api.answer("SetDocumentHidden", {"setDocumentHidden": error("DocumentNotFound")})
    await run(state.set_hidden("d1", True))
    assert state.error == documents.DOCUMENT_GONE
    assert state.documents == []


async def test_delete_asks_first(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node(), node(id="d2", title="Ordonnance"))
    state.ask_delete("d2")
    assert (state.deleting_id, state.deleting_title) == ("d2", "Ordonnance")
    state.cancel_delete()
    assert state.deleting_id == ""
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


async def test_closing_the_confirmation_deletes_nothing(fake_api: FakeApi) -> None:
    state = await loaded(fake_api, node())
    state.ask_delete("d1")
    state.delete_dialog_changed(False)  # Escape, or a click outside
    await run(state.confirm_delete())
    assert fake_api.called("DeleteDocument") == []
    assert len(state.documents) == 1


# --- against the real API -----------------------------------------------------------------


async def test_documents_against_the_real_api(
    monkeypatch: pytest.MonkeyPatch, in_process: dict[str, Any], notifier: Any
) -> None:
    """Every document of this page, with the API's own schema and answers: upload (a real
    multipart request), list, rename, hide, delete."""
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
    assert state.error == "" and state.documents == [] and state.count_label == "Aucun document"

    content = PDF + secrets.token_bytes(64)
    ready_to_upload(state, title="Bilan <b>sanguin</b>")
    await run(state.upload_document([upload_file(content)]))
    assert state.upload_error == "", state.upload_error
    (item,) = state.documents
    assert (item.title, item.type_label, item.author, item.kind) == (
        "Bilan <b>sanguin</b>", "Compte rendu de biologie", "Moi", "PDF")

    ready_to_upload(state, title="Encore")
    await run(state.upload_document([upload_file(content)]))
    assert state.upload_error == "Ce document est déjà dans votre dossier."
    assert state.duplicate_notice.startswith("Il s'y trouve sous le titre « Bilan <b>sanguin")

    ready_to_upload(state, title="Image")
    await run(state.upload_document([upload_file(b"GIF89a" + bytes(16), "image.pdf")]))
    assert state.upload_error == documents.UNSUPPORTED_FORMAT

    await run(state.apply_filters({"type": "CARE_PLAN"}))
    assert state.documents == [] and state.filters_active
    await run(state.apply_filters({"text": "SANGUIN"}))
    assert [d.id for d in state.documents] == [item.id]

    state.start_rename(item.id)
    await run(state.rename({"title": "Bilan de mars"}))
    await run(state.set_hidden(item.id, True))
    assert state.documents[0].title == "Bilan de mars" and state.documents[0].hidden
    state.ask_delete(item.id)
    await run(state.confirm_delete())
    assert state.error == "" and state.documents == [] and state.total_count == 0
