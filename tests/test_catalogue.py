"""The catalogue of health apps (issue 14, part 1): submission checks per field, the status
machine and its append-only history, and the public GraphQL catalogue (search ignoring accents
and case, category, pagination, only referenced apps, in list and by id). Runs on PostgreSQL and
on SQLite (CARNET_TEST_DATABASE=sqlite)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from backend.catalogue import services
from backend.catalogue.errors import AppNotFound, CriteriaIncomplete, InvalidApp, TransitionRefused
from backend.catalogue.models import (
    AppStatus,
    CatalogueApp,
    CatalogueAppCategory,
    CatalogueStatusChange,
)
from tests.catalogue_helpers import ALL_CRITERIA, NOW, example, referenced

# --- submission ------------------------------------------------------------------------------

INVALID = [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": 3}, "name"),
    ({"publisher": "  "}, "publisher"),
    ({"description": None}, "description"),
    ({"categories": []}, "categories"),
    ({"categories": ["nutrition", "astrology"]}, "categories[1]"),
    ({"categories": ["nutrition", "nutrition"]}, "categories[1]"),
    ({"logoUrl": "http://poids.example.fr/logo.png"}, "logoUrl"),
    ({"websiteUrl": "ftp://poids.example.fr/"}, "websiteUrl"),
    ({"websiteUrl": "https://"}, "websiteUrl"),
    ({"privacyPolicyUrl": "http://poids.example.fr/confidentialite"}, "privacyPolicyUrl"),
    ({"privacyPolicyUrl": "https://user:pw@poids.example.fr/"}, "privacyPolicyUrl"),
    ({"privacyPolicyUrl": "https://poids.example.fr/a b"}, "privacyPolicyUrl"),
    ({"scopes": []}, "scopes"),
    ({"scopes": ["profile:read"]}, "scopes[0]"),
    ({"scopes": [{"scope": "profile:admin"}]}, "scopes[0].scope"),
    ({"scopes": [{"scope": "profile:read", "optional": "yes"}]}, "scopes[0].optional"),
    ({"scopes": [{"scope": "agenda:read"}, {"scope": "agenda:read"}]}, "scopes[1].scope"),
    ({"scopes": [{"scope": "agenda:read", "why": "x"}]}, "scopes[0]"),
    ({"redirectUris": []}, "redirectUris"),
    ({"redirectUris": ["http://poids.example.fr/cb"]}, "redirectUris[0]"),
    ({"redirectUris": ["https://poids.example.fr/cb#frag"]}, "redirectUris[0]"),
    ({"redirectUris": ["https://*.example.fr/cb"]}, "redirectUris[0]"),
    ({"redirectUris": ["https://a.fr/cb", "https://a.fr/cb"]}, "redirectUris[1]"),
    ({"redirectUris": ["com.example.poids:/cb"]}, "redirectUris[0]"),
    ({"redirectUris": [f"https://a.fr/{i}" for i in range(11)]}, "redirectUris"),
    ({"clientType": "secret"}, "clientType"),
    ({"criteria": ["hds_hosting", "nice_logo"]}, "criteria[1]"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("changes", "field"), INVALID)
async def test_an_invalid_submission_names_its_field_and_creates_nothing(clean, changes, field):
    data = example()
    data.update(changes)
    if changes.get("description", "") is None:
        del data["description"]
    with pytest.raises(InvalidApp) as caught:
        await services.submit(data, operator="test", now=NOW)
    assert caught.value.field == field, caught.value
    assert await CatalogueApp.all().count() == 0
    assert await CatalogueStatusChange.all().count() == 0


async def test_a_submission_is_stored_with_its_first_history_row(clean):
    data = example(logoUrl=None, criteria=None,
                   redirectUris=["https://poids.example.fr/cb", "http://localhost:9000/cb"])
    app = await services.submit(data, operator="alice", now=NOW)
    row = await CatalogueApp.get(id=app.id).prefetch_related("categories")
    assert isinstance(row.id, uuid.UUID) and row.status is AppStatus.SUBMITTED
    assert row.logo_url is None and row.criteria == []
    assert row.scopes == [{"scope": "profile:read", "optional": False},
                          {"scope": "profile.measurements:write", "optional": True}]
    assert row.redirect_uris == ["https://poids.example.fr/cb", "http://localhost:9000/cb"]
    assert [c.value for c in services.categories_of(row)] == ["nutrition", "chronic_disease"]
    assert row.search_text.startswith("carnet poids exemple sante sas suivez votre poids")
    [first] = await services.history(str(app.id))
    assert (first.status, first.operator, first.changed_at) == (AppStatus.SUBMITTED, "alice",
                                                                NOW)


# --- the status machine ------------------------------------------------------------------------


async def test_the_status_machine_and_its_history(clean):
    app = await services.submit(example(criteria=None), operator="test", now=NOW)
    ident = str(app.id)
    with pytest.raises(TransitionRefused):
        await services.change_status(ident, AppStatus.SUSPENDED, reason="r", operator="o",
                                     now=NOW)
    with pytest.raises(CriteriaIncomplete) as incomplete:
        await services.change_status(ident, AppStatus.REFERENCED, reason="r", operator="o",
                                     now=NOW, criteria=ALL_CRITERIA[:3])
    assert incomplete.value.missing == ALL_CRITERIA[3:]
    row = await CatalogueApp.get(id=app.id)
    assert row.status is AppStatus.SUBMITTED and row.criteria == []  # nothing kept on refusal
    steps = [(AppStatus.REFERENCED, ALL_CRITERIA), (AppStatus.SUSPENDED, ()),
             (AppStatus.REFERENCED, ()), (AppStatus.WITHDRAWN, ())]
    for hours, (target, criteria) in enumerate(steps, start=1):
        moved = await services.change_status(ident, target, reason=f"raison {hours}",
                                             operator="bob", now=NOW + timedelta(hours=hours),
                                             criteria=criteria)
        assert moved.status is target
    row = await CatalogueApp.get(id=app.id)
    assert row.referenced_at == NOW + timedelta(hours=3)  # the last referencing
    assert row.criteria == ALL_CRITERIA
    for target in (AppStatus.REFERENCED, AppStatus.SUSPENDED, AppStatus.WITHDRAWN):
        with pytest.raises(TransitionRefused):  # withdrawn is final
            await services.change_status(ident, target, reason="r", operator="o", now=NOW,
                                         criteria=ALL_CRITERIA)
    history = await services.history(ident)
    assert [(h.status, h.reason) for h in history] == [
        (AppStatus.SUBMITTED, "Soumission"), (AppStatus.REFERENCED, "raison 1"),
        (AppStatus.SUSPENDED, "raison 2"), (AppStatus.REFERENCED, "raison 3"),
        (AppStatus.WITHDRAWN, "raison 4")]
    assert history[1].criteria == ALL_CRITERIA and history[0].criteria == []


async def test_a_status_change_needs_a_reason_and_a_known_app(clean):
    app = await services.submit(example(), operator="test", now=NOW)
    with pytest.raises(InvalidApp) as caught:
        await services.change_status(str(app.id), AppStatus.REFERENCED, reason=" \n",
                                     operator="o", now=NOW)
    assert caught.value.field == "reason"
    with pytest.raises(InvalidApp) as caught:
        await services.change_status(str(app.id), AppStatus.REFERENCED, reason="ok",
                                     operator="o", now=NOW, criteria=["nope"])
    assert caught.value.field == "criteria[0]"
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(AppNotFound):
            await services.change_status(unknown, AppStatus.WITHDRAWN, reason="r",
                                         operator="o", now=NOW)
    assert await CatalogueStatusChange.all().count() == 1  # the submission only
    # the file's checklist is enough to reference
    moved = await services.change_status(str(app.id), AppStatus.REFERENCED, reason="ok",
                                         operator="o", now=NOW)
    assert moved.status is AppStatus.REFERENCED


# --- the public catalogue --------------------------------------------------------------------

CATALOGUE = """query Catalogue($search: String, $category: AppCategory, $first: Int,
  $after: String) {
  catalogue(search: $search, category: $category, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name publisher description categories { value label }
      logoUrl websiteUrl privacyPolicyUrl scopes { scope label optional } referencedAt } } } }"""
ONE = """query App($id: ID!) { catalogueApp(id: $id) { id name categories { value label }
  scopes { scope label optional } referencedAt } }"""


def _names(body: dict) -> list[str]:
    assert "errors" not in body, body
    return [e["node"]["name"] for e in body["data"]["catalogue"]["edges"]]


@pytest.fixture
async def catalogue(clean):
    apps = {
        "Santé Mentale+": await referenced(name="Santé Mentale+", publisher="Psy & Co",
                                           categories=["mental_health"]),
        "Diabète Facile": await referenced(name="Diabète Facile", publisher="Glyco SAS",
                                           categories=["diabetes", "nutrition"],
                                           description="Votre glycémie au quotidien."),
        "Carnet Poids": await referenced(),
        "équilibre": await referenced(name="équilibre", publisher="Ëquipe Santé",
                                      categories=["physical_activity"],
                                      description="Bouger plus, 100% en ligne."),
    }
    submitted = await services.submit(example(name="Santé Soumise"), operator="t", now=NOW)
    suspended = await referenced(name="Santé Suspendue")
    await services.change_status(str(suspended.id), AppStatus.SUSPENDED, reason="Faille",
                                 operator="t", now=NOW)
    withdrawn = await referenced(name="Santé Retirée")
    await services.change_status(str(withdrawn.id), AppStatus.WITHDRAWN, reason="Fin",
                                 operator="t", now=NOW)
    return {"listed": apps, "hidden": [submitted, suspended, withdrawn]}


async def test_the_catalogue_lists_referenced_apps_by_name(gql, catalogue):
    body = await gql(CATALOGUE)
    assert _names(body) == ["Carnet Poids", "Diabète Facile", "équilibre", "Santé Mentale+"]
    node = body["data"]["catalogue"]["edges"][0]["node"]
    assert node == {
        "id": str(catalogue["listed"]["Carnet Poids"].id), "name": "Carnet Poids",
        "publisher": "Exemple Santé SAS", "description": node["description"],
        "categories": [{"value": "NUTRITION", "label": "Nutrition"},
                       {"value": "CHRONIC_DISEASE", "label": "Maladies chroniques"}],
        "logoUrl": "https://poids.example.fr/logo.png",
        "websiteUrl": "https://poids.example.fr/",
        "privacyPolicyUrl": "https://poids.example.fr/confidentialite",
        "scopes": [{"scope": "profile:read", "optional": False,
                    "label": "Lire votre profil médical (allergies, traitements, mesures...)"},
                   {"scope": "profile.measurements:write", "optional": True,
                    "label": "Ajouter des mesures (poids, tension...) à votre profil"}],
        "referencedAt": NOW.isoformat(),
    }


@pytest.mark.parametrize(("search", "expected"), [
    ("sante", ["Carnet Poids", "équilibre", "Santé Mentale+"]),  # publisher, accents
    ("SANTÉ mentale", ["Santé Mentale+"]),
    ("EQUIPE", ["équilibre"]),
    ("glycemie", ["Diabète Facile"]),  # description
    ("diabete", ["Diabète Facile"]),
    ("100%", ["équilibre"]),  # a LIKE wildcard is a plain character
    ("%", ["équilibre"]),
    ("_", []),
    ("retiree", []),  # withdrawn
    ("suspendue", []),
    ("soumise", []),
    ("   ", ["Carnet Poids", "Diabète Facile", "équilibre", "Santé Mentale+"]),
])
async def test_search_ignores_accents_and_case(gql, catalogue, search, expected):
    assert _names(await gql(CATALOGUE, {"search": search})) == expected


async def test_category_filter(gql, catalogue):
    assert _names(await gql(CATALOGUE, {"category": "NUTRITION"})) == ["Carnet Poids",
                                                                         "Diabète Facile"]
    assert _names(await gql(CATALOGUE, {"category": "DIABETES", "search": "glyco"})) == [
        "Diabète Facile"]
    assert _names(await gql(CATALOGUE, {"category": "PREGNANCY"})) == []


async def test_pagination_round_trip(gql, catalogue):
    seen, after, pages = [], None, 0
    while True:
        body = await gql(CATALOGUE, {"first": 1, "after": after})
        names = _names(body)
        info = body["data"]["catalogue"]["pageInfo"]
        seen += names
        pages += 1
        assert info["endCursor"] == (body["data"]["catalogue"]["edges"][-1]["cursor"]
                                     if names else None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == 4
    assert seen == _names(await gql(CATALOGUE, {"first": 50}))
    body = await gql(CATALOGUE, {"first": 2, "search": "sante"})
    after = body["data"]["catalogue"]["pageInfo"]["endCursor"]
    rest = await gql(CATALOGUE, {"first": 2, "search": "sante", "after": after})
    assert _names(body) + _names(rest) == ["Carnet Poids", "équilibre", "Santé Mentale+"]


async def test_same_names_are_ordered_by_id(gql, clean):
    twins = [await referenced(name="Jumelle") for _ in range(3)]
    body = await gql(CATALOGUE, {"first": 2})
    after = body["data"]["catalogue"]["pageInfo"]["endCursor"]
    rest = await gql(CATALOGUE, {"first": 2, "after": after})
    ids = [e["node"]["id"] for b in (body, rest) for e in b["data"]["catalogue"]["edges"]]
    assert ids == sorted(str(t.id) for t in twins)


@pytest.mark.parametrize("variables", [{"first": 0}, {"first": 51}, {"after": "!!"},
                                       {"after": "bm90IGEgY3Vyc29y"},
                                       {"search": " ".join("abcdefghijk")}])
async def test_bad_arguments_are_public_errors(gql, clean, variables):
    body = await gql(CATALOGUE, variables)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error


async def test_one_app_by_id_and_hidden_ones_answer_like_missing(gql, catalogue):
    app = catalogue["listed"]["Diabète Facile"]
    body = await gql(ONE, {"id": str(app.id)})
    assert body["data"]["catalogueApp"]["name"] == "Diabète Facile"
    assert [c["value"] for c in body["data"]["catalogueApp"]["categories"]] == ["DIABETES",
                                                                                 "NUTRITION"]
    missing = await gql(ONE, {"id": str(uuid.uuid4())})
    assert missing == {"data": {"catalogueApp": None}}
    for hidden in catalogue["hidden"]:
        assert await gql(ONE, {"id": str(hidden.id)}) == missing
    assert await gql(ONE, {"id": "not-a-uuid"}) == missing


async def test_labels_follow_the_request_language(client, catalogue):
    response = await client.post("/graphql", json={"query": ONE, "variables": {
        "id": str(catalogue["listed"]["Carnet Poids"].id)}},
        headers={"Accept-Language": "en"})
    app = response.json()["data"]["catalogueApp"]
    assert app["categories"][0]["label"] == "Nutrition"
    assert app["categories"][1]["label"] == "Chronic diseases"
    assert app["scopes"][0]["label"] == ("Read your medical profile (allergies, treatments, "
                                         "measurements...)")


async def test_the_public_type_shows_no_operator_data():
    from backend.schema import build_schema

    schema = build_schema()._schema
    fields = set(schema.get_type("CatalogueApp").fields)
    assert fields == {"id", "name", "publisher", "description", "categories", "logoUrl",
                      "websiteUrl", "privacyPolicyUrl", "scopes", "referencedAt"}


async def test_writes_bump_the_global_data_version(clean):
    from tortoise import connections

    async def version() -> int:
        rows = await connections.get("default").execute_query_dict(
            "SELECT version FROM data_version WHERE scope = 0")
        return int(rows[0]["version"]) if rows else 0

    before = await version()
    app = await services.submit(example(), operator="t", now=NOW)
    after_submit = await version()
    assert after_submit > before
    await services.change_status(str(app.id), AppStatus.REFERENCED, reason="ok", operator="t",
                                 now=NOW)
    assert await version() > after_submit
    assert await CatalogueAppCategory.all().count() == 2
