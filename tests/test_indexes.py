"""Indexes the queries rely on exist in the database the migrations build.

Tortoise's `AddField(..., db_index=True)` records the index in the migration state without
creating it (account.email_index and phone_index were declared so in 0010 and never built: every
login by e-mail or phone scanned the whole account table), and `makemigrations --check` cannot
see the difference. PostgreSQL also does not index a foreign key's column by itself. So this
reads the real schema: every field a model declares `db_index=True` has an index led by its
column, and so has every foreign key column, except those listed below with the reason.
"""

from __future__ import annotations

from tortoise import Tortoise, connections

# Foreign key columns without an index of their own: (table, column) -> why none is needed.
# A profile entry's author: entries are always read by patient (person_id, indexed), never by
# author, and professionals are never deleted (their accounts close), so no delete scans them.
_AUTHOR = "read by patient only; professionals are never deleted"
UNINDEXED_FOREIGN_KEYS: dict[tuple[str, str], str] = {
    (f"profile_{section}", "author_professional_id"): _AUTHOR
    for section in ("advance_directive", "allergy", "emergency_contact", "family_history",
                    "measurement", "medical_history", "organ_donation", "treatment",
                    "vaccination")
}


async def _rows(sql: str) -> list[dict]:
    return await connections.get("default").execute_query_dict(sql)


async def _leading_columns() -> set[tuple[str, str]]:
    """(table, column) of every index's first column."""
    rows = await _rows(
        "SELECT t.relname AS t, a.attname AS col FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] "
        "WHERE n.nspname = current_schema()")
    return {(r["t"], r["col"]) for r in rows}


async def _foreign_key_columns() -> set[tuple[str, str]]:
    rows = await _rows(
        "SELECT c.conrelid::regclass::text AS t, a.attname AS col FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace")
    return {(r["t"], r["col"]) for r in rows}


def _declared_indexes() -> set[tuple[str, str]]:
    declared = set()
    for app_models in Tortoise.apps.values():
        for model in app_models.values():
            for field in model._meta.fields_map.values():
                if getattr(field, "index", False) and getattr(field, "source_field", None) is None:
                    declared.add((model._meta.db_table, field.model_field_name))
                elif getattr(field, "index", False):
                    declared.add((model._meta.db_table, field.source_field))
    return declared


async def test_every_declared_index_exists(app):
    missing = sorted(_declared_indexes() - await _leading_columns())
    assert not missing, f"fields declared db_index=True without an index in the database: {missing}"


async def test_every_foreign_key_column_leads_an_index(app):
    missing = sorted(await _foreign_key_columns() - await _leading_columns()
                     - set(UNINDEXED_FOREIGN_KEYS))
    assert not missing, (f"foreign key columns no index starts with: {missing}; add one in a "
                         "migration, or list the column in UNINDEXED_FOREIGN_KEYS with why")
