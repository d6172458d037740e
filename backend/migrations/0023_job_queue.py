"""The durable job queue (issue 15, part 1): procrastinate's schema (backend/jobs/), on
PostgreSQL only.

The SQL is the schema of procrastinate 3.10.0, kept in the repository
(backend/jobs/procrastinate_schema_3_10_0.sql; tests/test_jobs.py checks it is still the
installed version's): a later procrastinate that changes its schema comes with its own
migration SQL (procrastinate/sql/migrations/), applied by a later Carnet migration, so that a
fresh database and an upgraded one end up the same.

Idempotent: a database that already has the queue (applied by hand with `procrastinate schema
--apply`) is left as it is. Reversible: backwards drops the queue's tables (and the jobs in
them), functions and types. SQLite has no queue (backend/jobs/fallback.py runs jobs in
process): nothing to do there.

Data versions (migration 0018, the response cache): the queue's tables show on no screen and
hold no patient data (job arguments are ids), and every job would bump a version for nothing.
"""

import re
from pathlib import Path

from tortoise import migrations
from tortoise.migrations import operations as ops

PATIENT_OF: dict[str, str] = {}
TABLES: tuple[str, ...] = ()
UNVERSIONED = ("procrastinate_jobs", "procrastinate_workers", "procrastinate_events",
               "procrastinate_periodic_defers")
# Made on PostgreSQL only (tests/test_response_cache.py leaves them out on SQLite).
POSTGRES_ONLY = UNVERSIONED

SCHEMA = Path(__file__).resolve().parent.parent / "jobs" / "procrastinate_schema_3_10_0.sql"


def _names(kind: str, sql: str) -> list[str]:
    return re.findall(rf"^CREATE {kind} (procrastinate_\w+)", sql, re.M)


class ProcrastinateSchema(ops.RunSQL):
    """procrastinate's schema on PostgreSQL; nothing on SQLite."""

    def __init__(self) -> None:
        super().__init__("SELECT 1", reverse_sql="SELECT 1")

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        client = state_editor.client
        if client.capabilities.dialect != "postgres":
            return
        rows = await client.execute_query_dict(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
        if rows[0]["present"]:
            return
        await client.execute_script(SCHEMA.read_text())

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        client = state_editor.client
        if client.capabilities.dialect != "postgres":
            return
        sql = SCHEMA.read_text()
        script = "".join(f"DROP TABLE IF EXISTS {t} CASCADE;" for t in reversed(_names("TABLE", sql)))
        script += "".join(f"DROP FUNCTION IF EXISTS {f} CASCADE;" for f in _names("FUNCTION", sql))
        script += "".join(f"DROP TYPE IF EXISTS {t} CASCADE;" for t in _names("TYPE", sql))
        await client.execute_script(script)


class Migration(migrations.Migration):
    dependencies = [('carnet', '0022_oauth')]

    initial = False

    operations = [ProcrastinateSchema()]
