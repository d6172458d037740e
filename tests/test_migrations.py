"""Migrations are the only source of tables, apply idempotently, and match the models."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tortoise import connections

from backend import db

ROOT = Path(__file__).resolve().parent.parent


def test_models_and_migrations_are_in_sync():
    # In a separate process: the autodetector initialises Tortoise on its own (SQLite)
    # context, which would rebind the models used by the app under test in this one.
    result = subprocess.run([sys.executable, "-m", "backend.cli", "makemigrations", "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + "\nrun `carnet makemigrations`"


async def test_test_database_was_built_from_migrations(app):
    conn = connections.get("default")
    _, rows = await conn.execute_query("SELECT app, name FROM tortoise_migrations ORDER BY id")
    applied = [(r["app"], r["name"]) for r in rows]
    files = sorted(p.stem for p in (ROOT / "backend" / "migrations").glob("[0-9]*.py"))
    assert applied == [(db.APP_LABEL, name) for name in files]


async def test_migrate_again_is_a_no_op_on_postgres(app, server_env):
    # In a separate process: migrating re-initialises Tortoise, which would disturb the app
    # under test in this one.
    result = subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], cwd=ROOT,
                            env=server_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr  # "relation already exists" if not idempotent
    conn = connections.get("default")
    _, rows = await conn.execute_query("SELECT count(*) AS n FROM tortoise_migrations")
    assert rows[0]["n"] == len(list((ROOT / "backend" / "migrations").glob("[0-9]*.py")))


def test_carnet_migrate_on_a_fresh_sqlite_file_twice(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite://{tmp_path}/fresh.sqlite3"
    for _ in range(2):
        result = subprocess.run([sys.executable, "-m", "backend.cli", "migrate"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    tables = {r[0] for r in sqlite3.connect(tmp_path / "fresh.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "announcement" in tables


def test_0016_keeps_messages_and_numbers_on_per_conversation_on_sqlite(tmp_path):
    """Messages numbered by the former global clock keep their numbers (their cursors stay
    valid) and their attachments (SQLite rebuilds the message table, and its DROP TABLE
    would cascade); the conversation's latest message is filled in; new messages continue
    from the conversation's own counter, another conversation starts at 1."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.sequence_migration_probe",
         f"sqlite://{tmp_path}/upgrade.sqlite3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    kept = {"message": 3, "message_attachment": 1, "conversation_participant": 1}
    assert probe["before"] == kept and probe["after"] == kept
    assert probe["last_seq"] == 7 and probe["last_message_kept"] and probe["last_message_at"]
    assert (probe["next"], probe["first_elsewhere"]) == (8, 1)
    assert probe["after_3"] == [5, 7, 8]
