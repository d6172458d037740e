"""The public catalogue runs a constant number of SQL statements whatever the page size: the
page of apps, then the page's categories (one prefetch), also with a search, a category and a
cursor; `catalogueApp` ids of one request are batched. The response cache is off."""

from __future__ import annotations

import pytest

from tests.catalogue_helpers import referenced
from tests.querycount import count_queries
from tests.test_catalogue import CATALOGUE

ONE_OF_EACH = """query Two($a: ID!, $b: ID!) { a: catalogueApp(id: $a) { name categories {
  label } scopes { label } } b: catalogueApp(id: $b) { name categories { label } } }"""


@pytest.fixture(autouse=True)
def no_response_cache(app):
    cache = app.state.response_cache
    budget, cache.budget = cache.budget, 0
    yield
    cache.budget = budget


async def _count(gql, query, variables):
    with count_queries() as counter:
        body = await gql(query, variables)
    assert not body.get("errors"), body
    return counter.count, body["data"]


async def test_catalogue_first_20_is_constant(gql, clean):
    apps = [await referenced(name=f"Appli {n:02d}",
                             categories=["nutrition", "diabetes", "prevention"][: 1 + n % 3])
            for n in range(25)]
    one, small = await _count(gql, CATALOGUE, {"first": 1})
    twenty, page = await _count(gql, CATALOGUE, {"first": 20})
    assert len(small["catalogue"]["edges"]) == 1 and len(page["catalogue"]["edges"]) == 20
    assert one == twenty == 2, (one, twenty)
    after = page["catalogue"]["pageInfo"]["endCursor"]
    searched, rest = await _count(gql, CATALOGUE, {"first": 20, "after": after,
                                                   "search": "appli", "category": "PREVENTION"})
    assert searched == 2 and len(rest["catalogue"]["edges"]) == 2  # Appli 20 and 23
    batched, both = await _count(gql, ONE_OF_EACH, {"a": str(apps[0].id), "b": str(apps[1].id)})
    assert batched == 2 and both["a"]["name"] == "Appli 00" and both["b"]["name"] == "Appli 01"
