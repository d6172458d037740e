"""The health apps' pages, with a fake `api.execute`: the catalogue (search, category, more),
the consent page (what it reads from the address, never a redirect before the API checked the
app and its address, "Refuser" and "Autoriser"), "Applications connectées" (revoke after a
confirmation), and every operation against the committed schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from carnet_web import api
from carnet_web.routes import AUTHORIZATION_ROUTE
from carnet_web.state import catalogue as catalogue_module
from carnet_web.state import connected_apps as connected_module
from carnet_web.state import consent as consent_module
from carnet_web.state.catalogue import CatalogueState, cleaned_search, count_label
from carnet_web.state.connected_apps import ConnectedAppsState, app_items
from carnet_web.state.consent import ConsentState, parse_request, with_query
from carnet_web.state.session import LOGIN_ROUTE
from graphql import build_schema, validate
from reflex import constants
from reflex.istate.data import RouterData

from backend.settings import CONSENT_PAGE_PATH
from tests.frontend.fakes import FakeApi, client_calls, focused, redirects, run

TOKEN = "jeton-de-session-secret"
APP = "1220ecd8-34dd-4196-a8c6-2002d6831662"
CALLBACK = "https://poids.example.fr/cb?from=carnet"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
QUERY = ("response_type=code&client_id=" + APP + "&redirect_uri=https%3A%2F%2Fpoids.example.fr"
         "%2Fcb%3Ffrom%3Dcarnet&scope=profile%3Aread+profile.measurements%3Awrite&state=xyz"
         "&code_challenge=" + CHALLENGE + "&code_challenge_method=S256")
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
REQUEST_OK = {"appAuthorizationRequest": {
    "__typename": "AppAuthorizationRequest", "clientId": APP, "name": "Carnet Poids",
    "publisher": "Exemple Santé SAS", "websiteUrl": "https://poids.example.fr/",
    "privacyPolicyUrl": "javascript:alert(1)", "redirectUri": CALLBACK,
    "scopes": [{"scope": "profile:read", "label": "Lire votre profil", "optional": False},
               {"scope": "profile.measurements:write", "label": "Ajouter des mesures",
                "optional": True}]}}


def signed_in(state: Any) -> Any:
    state._sign_in(TOKEN, "jeanne@example.fr", "PATIENT")
    return state


def at(state: Any, path: str, query: str = "") -> Any:
    origin = "http://127.0.0.1:3000" + path + ("?" + query if query else "")
    state.router = RouterData.from_router_data({constants.RouteVar.ORIGIN: origin,
                                                constants.RouteVar.PATH: path})
    return state


def test_every_operation_of_these_pages_is_valid_against_the_schema() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    documents = [catalogue_module.CATALOGUE, catalogue_module.APP_CATEGORIES,
                 catalogue_module.CATALOGUE_APP, consent_module.APP_AUTHORIZATION_REQUEST,
                 consent_module.AUTHORIZE_APP, connected_module.CONNECTED_APPS,
                 connected_module.REVOKE_APP_ACCESS]
    for document in documents:
        assert validate(schema, document.document) == []
        assert document in api.OPERATIONS


def test_the_api_sends_the_browser_to_this_page() -> None:
    assert AUTHORIZATION_ROUTE == CONSENT_PAGE_PATH


def test_the_search_limit_is_the_apis() -> None:
    from backend.catalogue.services import MAX_SEARCH_WORDS

    assert catalogue_module.MAX_SEARCH_WORDS == MAX_SEARCH_WORDS


# --- the catalogue ----------------------------------------------------------------------------


def node(i: int) -> dict[str, Any]:
    return {"id": f"app-{i}", "name": f"App {i}", "publisher": "Éditeur",
            "description": "Une application.",
            "categories": [{"value": "NUTRITION", "label": "Nutrition"},
                           {"value": "DIABETES", "label": "Diabète"}]}


def page_of(*ids: int, more: bool = False) -> dict[str, Any]:
    return {"catalogue": {"edges": [{"node": node(i)} for i in ids],
                          "pageInfo": {"hasNextPage": more,
                                       "endCursor": f"c{ids[-1]}" if ids else None}}}


CATEGORIES = {"referenceData": {"appCategories": [{"value": "NUTRITION", "label": "Nutrition"},
                                                  {"value": "DIABETES", "label": "Diabète"}]}}


async def test_catalogue_public_search_category_and_more(fake_api: FakeApi) -> None:
    fake_api.answer("AppCategories", CATEGORIES)
    fake_api.answer("Catalogue", page_of(1, 2, more=True))
    state = CatalogueState()  # no session: the catalogue is public
    await run(state.load())
    assert [a.name for a in state.apps] == ["App 1", "App 2"]
    assert state.apps[0].categories == "Nutrition, Diabète"
    assert state.apps[0].href == "/catalogue/app-1"
    assert state.categories == [["NUTRITION", "Nutrition"], ["DIABETES", "Diabète"]]
    assert state.has_more and state.count_text == "2 applications affichées, d'autres suivent"
    assert fake_api.calls[-1].token is None

    fake_api.answer("Catalogue", page_of(3))
    events = await run(state.load_more())
    assert [a.name for a in state.apps] == ["App 1", "App 2", "App 3"]
    assert fake_api.calls[-1].variables["after"] == "c2"
    assert focused(events) == ["catalogue-app-app-3"]
    assert not state.has_more and state.count_text == "3 applications"

    fake_api.answer("Catalogue", page_of())
    await run(state.apply_search({"search": "  tension   artérielle "}))
    assert fake_api.calls[-1].variables == {"search": "tension artérielle", "category": None,
                                            "first": 20, "after": None}
    assert state.count_text == "Aucune application ne correspond à votre recherche."
    await run(state.set_category("DIABETES"))
    assert fake_api.calls[-1].variables["category"] == "DIABETES"
    await run(state.set_category("<script>"))  # not a category: every category
    assert fake_api.calls[-1].variables["category"] is None
    await run(state.set_category("NUTRITION"))
    await run(state.retry())  # "Réessayer": the same search and category
    assert fake_api.calls[-1].variables["search"] == "tension artérielle"
    assert fake_api.calls[-1].variables["category"] == "NUTRITION"
    await run(state.load())  # the page drawn again: its search box is empty, every app
    assert fake_api.calls[-1].variables["search"] is None
    assert fake_api.calls[-1].variables["category"] is None and state.category == ""
    assert len(fake_api.called("AppCategories")) == 1


async def test_catalogue_api_down_says_so(fake_api: FakeApi) -> None:
    fake_api.answer("AppCategories", api.ApiUnavailable())
    state = CatalogueState()
    await run(state.load())
    assert state.error == api.UNAVAILABLE_MESSAGE and not state.loading


def test_count_labels_and_search_cleaning() -> None:
    assert count_label(0, False, False, "fr") == "Aucune application n'est référencée pour " \
        "l'instant."
    assert count_label(1, False, True, "fr") == "1 application"
    assert count_label(4, False, False, "en") == "4 apps"
    assert cleaned_search("a" * 300) == "a" * 100
    assert cleaned_search(" ".join(str(n) for n in range(15))) == "0 1 2 3 4 5 6 7 8 9"


# --- the consent page -------------------------------------------------------------------------


def test_parse_request() -> None:
    request = parse_request(QUERY)
    assert request is not None
    assert request.client_id == APP and request.redirect_uri == CALLBACK
    assert request.scopes == ["profile:read", "profile.measurements:write"]
    assert request.state == "xyz" and request.code_challenge_method == "S256"
    assert parse_request(QUERY.replace("&scope=profile%3Aread+profile.measurements%3Awrite",
                                       "")).scopes is None  # every declared scope
    assert parse_request(QUERY + "&state=again") is None  # repeated
    assert parse_request("client_id=" + APP) is None  # no redirect URI
    assert parse_request("") is None
    assert with_query(CALLBACK, {"error": "access_denied", "state": None}) == \
        "https://poids.example.fr/cb?from=carnet&error=access_denied"


async def test_signed_out_goes_to_the_login_page_and_comes_back(fake_api: FakeApi) -> None:
    state = at(ConsentState(), "/autorisation", QUERY)
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert state._return_to == "/autorisation?" + QUERY
    assert fake_api.calls == []


@pytest.mark.parametrize("typename,expected", [
    ("UnknownApp", consent_module.UNKNOWN_APP),
    ("InvalidRedirectUri", consent_module.BAD_REDIRECT),
])
async def test_an_unchecked_request_never_redirects(fake_api: FakeApi, typename: str,
                                                    expected: str) -> None:
    fake_api.answer("AppAuthorizationRequest", {"appAuthorizationRequest": {
        "__typename": typename, "message": "…"}})
    state = signed_in(at(ConsentState(), "/autorisation", QUERY))
    await run(state.load())
    assert state.error == expected and not state.ready
    assert redirects(await run(state.deny())) == []
    assert redirects(await run(state.return_with_error())) == []
    assert redirects(await run(state.approve())) == []
    assert fake_api.called("AuthorizeApp") == []


async def test_a_malformed_link_asks_nothing(fake_api: FakeApi) -> None:
    state = signed_in(at(ConsentState(), "/autorisation", "client_id=x&client_id=y"))
    await run(state.load())
    assert state.error == consent_module.INVALID_LINK
    assert fake_api.calls == [] and redirects(await run(state.deny())) == []


async def test_a_wrong_request_of_a_known_app_may_be_told(fake_api: FakeApi) -> None:
    fake_api.answer("AppAuthorizationRequest", REQUEST_OK)
    state = signed_in(at(ConsentState(), "/autorisation",
                         QUERY.replace("code_challenge_method=S256",
                                       "code_challenge_method=plain")))
    await run(state.load())
    assert state.problem == consent_module.NO_PKCE and not state.ready
    assert redirects(await run(state.deny())) == []  # nothing to refuse
    assert redirects(await run(state.return_with_error())) == [
        CALLBACK + "&error=invalid_request&state=xyz"]

    fake_api.answer("AppAuthorizationRequest", {"appAuthorizationRequest": {
        "__typename": "InvalidScope", "scope": "documents:read", "message": "…"}})
    state = signed_in(at(ConsentState(), "/autorisation", QUERY))
    await run(state.load())
    assert state.problem.endswith(": documents:read.")
    assert redirects(await run(state.return_with_error())) == [
        CALLBACK + "&error=invalid_scope&state=xyz"]


async def loaded(fake_api: FakeApi) -> ConsentState:
    """The page of QUERY, checked by the API, in a tab that is not framed."""
    fake_api.answer("AppAuthorizationRequest", REQUEST_OK)
    state = signed_in(at(ConsentState(), "/autorisation", QUERY))
    events = await run(state.load())
    assert [code for _name, code in client_calls(events)] == [consent_module.TOP_LEVEL_SCRIPT]
    assert not state.ready  # not before the browser said it is not framed
    state.set_top_level(True)
    return state


async def test_a_framed_page_offers_nothing(fake_api: FakeApi) -> None:
    fake_api.answer("AppAuthorizationRequest", REQUEST_OK)
    state = signed_in(at(ConsentState(), "/autorisation", QUERY))
    await run(state.load())
    state.set_top_level(False)
    assert not state.ready and state.error == consent_module.FRAMED
    assert redirects(await run(state.deny())) == []
    assert redirects(await run(state.approve())) == []
    assert fake_api.called("AuthorizeApp") == []


async def test_refuse_then_authorise_with_an_optional_scope_unticked(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    assert state.ready and state.app_name == "Carnet Poids"
    assert state.privacy_policy_url == ""  # never a javascript: link
    assert fake_api.calls[-1].variables == {
        "clientId": APP, "redirectUri": CALLBACK,
        "scopes": ["profile:read", "profile.measurements:write"]}
    assert redirects(await run(state.deny())) == [CALLBACK + "&error=access_denied&state=xyz"]

    state = await loaded(fake_api)  # the page again
    state.set_scope("profile:read", False)  # required: stays ticked
    state.set_scope("profile.measurements:write", False)
    assert [(s.scope, s.checked) for s in state.scopes] == [
        ("profile:read", True), ("profile.measurements:write", False)]
    granted = CALLBACK + "&code=abc&state=xyz"
    fake_api.answer("AuthorizeApp", {"authorizeApp": {"__typename": "AuthorizationGranted",
                                                      "redirectTo": granted}})
    assert redirects(await run(state.approve())) == [granted]
    assert fake_api.calls[-1].variables == {
        "clientId": APP, "redirectUri": CALLBACK, "scopes": ["profile:read"], "state": "xyz",
        "codeChallenge": CHALLENGE, "codeChallengeMethod": "S256"}


async def test_authorise_refused_is_said_next_to_the_buttons(fake_api: FakeApi) -> None:
    state = await loaded(fake_api)
    fake_api.answer("AuthorizeApp", {"authorizeApp": {"__typename": "UnknownApp",
                                                      "message": "Application inconnue."}})
    events = await run(state.approve())
    assert redirects(events) == [] and state.action_error == "Application inconnue."
    assert focused(events) == [consent_module.ERROR_ID] and not state.busy
    fake_api.answer("AuthorizeApp", api.ApiUnauthenticated())
    assert redirects(await run(state.approve())) == [LOGIN_ROUTE]


# --- Applications connectées ------------------------------------------------------------------


ROWS = [{"appId": "a1", "name": "Carnet Poids", "publisher": "Exemple Santé SAS",
         "grantedAt": "2030-05-06T09:30:00+00:00", "lastUsedAt": "2030-05-07T16:05:00+00:00",
         "inCatalogue": True, "scopes": [{"scope": "profile:read", "label": "Lire votre profil"}]},
        {"appId": "a2", "name": "Agenda Malin", "publisher": "RDV SARL",
         "grantedAt": "2030-05-06T09:30:00+00:00", "lastUsedAt": None, "inCatalogue": False,
         "scopes": []}]


def test_app_items_in_words() -> None:
    poids, agenda = app_items(ROWS)
    assert poids.granted == "Autorisée le 6 mai 2030"
    assert poids.last_used == "Dernier accès : 7 mai 2030 à 18:05"  # Paris time
    assert poids.scopes == ["Lire votre profil"]
    assert agenda.last_used == "Aucun accès à votre dossier pour l'instant"
    assert not agenda.in_catalogue
    assert app_items(ROWS, "en")[0].granted == "Allowed on 6 May 2030"


async def test_revoke_after_the_confirmation(fake_api: FakeApi) -> None:
    fake_api.answer("ConnectedApps", {"connectedApps": ROWS},
                    {"connectedApps": ROWS[1:]})
    state = signed_in(ConnectedAppsState())
    await run(state.load())
    assert [a.id for a in state.apps] == ["a1", "a2"]
    state.ask_revoke("a1")
    assert state.revoking_name == "Carnet Poids"
    # Cancelled: nothing revoked, the keyboard back on the button.
    events = await run(state.revoke_dialog_changed(False))
    assert focused(events) == ["connected-app-revoke-a1"] and state.revoking_id == ""
    assert fake_api.called("RevokeAppAccess") == []

    state.ask_revoke("a1")
    fake_api.answer("RevokeAppAccess", {"revokeAppAccess": {"__typename": "AppAccessRevoked",
                                                            "appId": "a1"}})
    events = await run(state.confirm_revoke())
    assert fake_api.called("RevokeAppAccess")[0].variables == {"appId": "a1"}
    assert state.info == "Carnet Poids n'a plus accès à votre dossier."
    assert [a.id for a in state.apps] == ["a2"] and not state.busy
    assert focused(events) == [connected_module.HEADING_ID]


async def test_revoke_refused_and_session_gone(fake_api: FakeApi) -> None:
    fake_api.answer("ConnectedApps", {"connectedApps": ROWS})
    state = signed_in(ConnectedAppsState())
    await run(state.load())
    state.ask_revoke("a2")
    fake_api.answer("RevokeAppAccess", {"revokeAppAccess": {
        "__typename": "AppNotConnected",
        "message": "Cette application n'a pas accès à votre dossier."}})
    await run(state.confirm_revoke())
    assert state.action_error == "Cette application n'a pas accès à votre dossier."
    assert state.info == ""
    state.ask_revoke("a2")
    fake_api.answer("RevokeAppAccess", api.ApiUnauthenticated())
    assert redirects(await run(state.confirm_revoke())) == [LOGIN_ROUTE]
    assert state.apps == [] and not state.signed_in


async def test_connected_apps_need_a_session(fake_api: FakeApi) -> None:
    state = at(ConnectedAppsState(), "/applications-connectees")
    assert redirects(await run(state.load())) == [LOGIN_ROUTE]
    assert fake_api.calls == []


def test_urls_of_the_api_answer_are_kept_whole() -> None:
    granted = with_query(CALLBACK, {"code": "c d", "state": "é&x"})
    assert parse_qs(urlsplit(granted).query) == {"from": ["carnet"], "code": ["c d"],
                                                 "state": ["é&x"]}


async def test_a_professional_is_told_and_not_offered_a_retry(fake_api: FakeApi) -> None:
    fake_api.answer("AppAuthorizationRequest", api.ApiError(api.UNEXPECTED_MESSAGE,
                                                            code="FORBIDDEN"))
    state = signed_in(at(ConsentState(), "/autorisation", QUERY))
    await run(state.load())
    assert state.error == consent_module.PATIENTS_ONLY and state.retry_error == ""
    assert redirects(await run(state.deny())) == []
    fake_api.answer("AppAuthorizationRequest", api.ApiUnavailable())
    await run(state.load())
    assert state.retry_error == api.UNAVAILABLE_MESSAGE and state.error == ""
