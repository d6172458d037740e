"""The asyncpg pool sends no reset query when a connection goes back (backend/db.py,
`CarnetConnection`): one round trip fewer per statement. That is safe only while no code leaves
session state on a connection (session SETs, advisory locks, LISTEN, cursors): the source scan
below keeps it so."""

from __future__ import annotations

import ast
import re
import secrets
from pathlib import Path

import asyncpg
from tortoise import connections

from backend import db

BACKEND = Path(__file__).resolve().parent.parent / "backend"

# Session state a pool reset would have undone (and that would now leak to the next user).
SESSION_STATE = [
    (re.compile(r"(^|;)\s*SET\s+(?!LOCAL\b)(SESSION\s+)?\w+", re.I | re.M),
     "SET without LOCAL"),
    (re.compile(r"(^|;)\s*RESET\s+\w+", re.I | re.M), "RESET"),
    (re.compile(r"pg_advisory_(?!xact_)\w*lock", re.I), "session advisory lock"),
    (re.compile(r"(^|;)\s*(UN)?LISTEN\b", re.I | re.M), "LISTEN"),
    (re.compile(r"\bDECLARE\s+\w+.*\bCURSOR\b", re.I | re.S), "cursor"),
    (re.compile(r"set_config\s*\([^)]*,\s*false\s*\)", re.I), "session set_config"),
]
# asyncpg calls that hold server-side state on the connection (LISTEN). Not `.cursor(`:
# asyncpg refuses a cursor outside a transaction, and one inside dies with it (transaction
# scope, like SET LOCAL); a cursor kept across transactions needs DECLARE ... WITH HOLD, which
# the statement scan above catches.
SESSION_CALLS = re.compile(r"\.(add_listener)\(")


def session_state_in(text: str) -> list[str]:
    return [what for pattern, what in SESSION_STATE if pattern.search(text)]


def test_the_checker_finds_session_state_and_lets_transaction_scoped_state_pass():
    assert session_state_in("SET statement_timeout = 0") == ["SET without LOCAL"]
    assert session_state_in("SELECT 1; set search_path to x") == ["SET without LOCAL"]
    assert session_state_in("SELECT pg_advisory_lock(42)") == ["session advisory lock"]
    assert session_state_in("LISTEN carnet") == ["LISTEN"]
    assert session_state_in("DECLARE c CURSOR WITH HOLD FOR SELECT 1") == ["cursor"]
    assert session_state_in("SELECT set_config('x.y', '1', false)") == ["session set_config"]
    for fine in ("SET LOCAL statement_timeout = 0", "SELECT pg_advisory_xact_lock(42)",
                 "UPDATE t SET a = 1 WHERE id = $1",
                 "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET value = 2",
                 "SELECT set_config('x.y', '1', true)"):
        assert session_state_in(fine) == [], fine


def test_no_code_leaves_session_state_on_a_pooled_connection():
    found = []
    for path in sorted(BACKEND.rglob("*.py")):
        source = path.read_text()
        if SESSION_CALLS.search(source):
            found.append(f"{path.relative_to(BACKEND)}: {SESSION_CALLS.search(source)[0]}")
        tree = ast.parse(source)
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                    | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings:
                for what in session_state_in(node.value):
                    found.append(f"{path.relative_to(BACKEND)}:{node.lineno}: {what}")
    assert found == [], ("session state on a pooled connection (scope it to the transaction, "
                         "or see backend/db.py CarnetConnection): " + "; ".join(found))


def test_the_tortoise_pool_uses_the_connection_without_reset(migrated):
    config = db.tortoise_config(migrated)
    assert config["connections"]["default"]["credentials"]["connection_class"] is \
        db.CarnetConnection
    assert db.CarnetConnection.get_reset_query(None) == ""  # type: ignore[arg-type]


async def test_a_released_connection_gets_no_reset_query(app, settings):
    """PostgreSQL shows each backend's last statement: after a statement through the app's
    pool, it is that statement, not asyncpg's reset (`... RESET ALL`)."""
    probe = f"carnet-pool-probe-{secrets.token_hex(6)}"
    pool_client = connections.get("default")
    await pool_client.execute_query(f"SELECT '{probe}' AS probe")  # acquired, then released
    watcher = await asyncpg.connect("postgresql://" + settings.database_url.split("://", 1)[1])
    try:
        rows = await watcher.fetch(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE $1", f"%{probe}%")
        resets = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE '%RESET ALL%'")
    finally:
        await watcher.close()
    assert [r["query"] for r in rows] == [f"SELECT '{probe}' AS probe"]
    assert resets == 0

