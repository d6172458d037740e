"""Production hardening of the schema: no suggestions, introspection as a setting."""

from __future__ import annotations

import pytest

from backend.schema import build_schema
from backend.settings import generate_master_key, load_settings


def _settings(**kw):
    return load_settings(carnet_env="production", carnet_master_key=generate_master_key(), **kw)


async def test_no_field_suggestions_in_production():
    prod = build_schema(_settings())
    dev = build_schema(load_settings(carnet_env="dev"))
    query = "{ platfom { name } }"
    prod_result = await prod.execute(query)
    dev_result = await dev.execute(query)
    assert "Did you mean" in dev_result.errors[0].message
    assert "Did you mean" not in prod_result.errors[0].message


async def test_introspection_can_be_switched_off():
    closed = build_schema(_settings(introspection=False))
    result = await closed.execute("{ __schema { queryType { name } } }")
    assert result.errors and "introspection" in result.errors[0].message.lower()
    opened = build_schema(_settings(introspection=True))
    assert (await opened.execute("{ __schema { queryType { name } } }")).errors is None


# Each probe provokes a "Did you mean" from graphql-core in development.
SUGGESTION_PROBES = [
    ("field", "{ platfom { name } }", None),
    ("argument", "{ announcements(frist: 1) { id } }", None),
    ("enum literal",
     'mutation { addAllergy(input: {substance: "x", category: FOOF}) { __typename } }', None),
    ("input field literal",
     'mutation { addAllergy(input: {substanc: "x"}) { __typename } }', None),
    ("type name", "query Q($i: AllergyInpt!) { __typename }", None),
    ("enum variable",
     "mutation M($i: AllergyInput!) { addAllergy(input: $i) { __typename } }",
     {"i": {"substance": "x", "category": "FOOF"}}),
    ("input field variable",
     "mutation M($i: AllergyInput!) { addAllergy(input: $i) { __typename } }",
     {"i": {"substance": "x", "substanc": "y"}}),
]


@pytest.mark.parametrize(("kind", "query", "variables"), SUGGESTION_PROBES,
                         ids=[p[0] for p in SUGGESTION_PROBES])
async def test_no_suggestion_of_any_kind_in_production(kind, query, variables):
    dev = await build_schema(load_settings(carnet_env="dev")).execute(query, variables)
    assert dev.errors and any("Did you mean" in e.message for e in dev.errors), dev.errors
    prod = await build_schema(_settings()).execute(query, variables)
    assert prod.errors, kind
    for error in prod.errors:
        assert "Did you mean" not in error.message, (kind, error.message)
        if "enum" in kind:
            assert "FOOD" not in error.message, error.message


async def test_suggestions_can_be_switched_back_on_explicitly():
    schema = build_schema(_settings(graphql_suggestions=True))
    result = await schema.execute("{ platfom { name } }")
    assert "Did you mean" in result.errors[0].message


def test_production_defaults_turn_graphiql_introspection_and_suggestions_off(monkeypatch):
    for name in ("GRAPHIQL", "INTROSPECTION", "GRAPHQL_SUGGESTIONS"):
        monkeypatch.delenv(name, raising=False)
    prod = _settings()
    assert (prod.graphiql, prod.introspection, prod.graphql_suggestions) == (False,) * 3
    dev = load_settings(carnet_env="dev")
    assert (dev.graphiql, dev.introspection, dev.graphql_suggestions) == (True,) * 3
    explicit = _settings(graphiql=True, introspection=True)
    assert explicit.graphiql and explicit.introspection
    monkeypatch.setenv("INTROSPECTION", "true")
    assert _settings().introspection is True


async def test_introspection_is_off_by_default_in_production():
    result = await build_schema(_settings()).execute("{ __schema { queryType { name } } }")
    assert result.errors and "introspection" in result.errors[0].message.lower()
