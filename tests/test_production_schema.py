"""Production hardening of the schema: no suggestions, introspection as a setting."""

from __future__ import annotations

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
