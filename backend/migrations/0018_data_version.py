"""Data versions (issue 12, response cache): a counter per patient, and a global one (scope 0),
bumped by triggers in the SAME transaction as every write to every table.

`data_version(scope, version)`: scope is a person id (the patient whose screens a row shows),
or 0 for what every patient's screens may show (announcements, professionals' names, access
rules) and for rows whose patient cannot be found (a professional's account, a message whose
conversation a cascade already deleted), except that a professional's audit events bump
nothing (NO_PATIENT_NO_BUMP). A trigger per table, AFTER INSERT OR UPDATE OR DELETE
FOR EACH ROW, bumps the old row's scope and the new row's: writes through the ORM, bulk
`update()`, raw SQL and cascades all bump. On PostgreSQL the triggers are constraint triggers
DEFERRED to the commit: the patient's version row is locked only while the transaction commits,
so two open transactions writing one patient's rows (two conversations, a document and a
message) never wait on each other (tests/test_message_sequence.py holds one open and commits
the other); SQLite serialises writers anyway. A later migration adding a table adds its
trigger too (0019 shows how): tests/test_response_cache.py lists the real schema's tables and
fails on one without a trigger (or a reason for none), or whose write does not bump. TRUNCATE fires no row trigger (tests only).

backend/response_cache.py reads the viewer's two versions in one primary-key read.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# table -> SQL expression of the row's patient (person id), with {r} for NEW or OLD.
PATIENT_OF: dict[str, str] = {
    "person": "{r}.id",
    "account": "{r}.person_id",
    "data_key": "{r}.person_id",
    "document": "{r}.person_id",
    "care_relationship": "{r}.patient_id",
    "emergency_access": "{r}.patient_id",
    "patient_access_settings": "{r}.patient_id",
    "conversation": "{r}.patient_id",
    "messaging_block": "(SELECT a.person_id FROM account a WHERE a.id = {r}.patient_account_id)",
    "message": "(SELECT c.patient_id FROM conversation c WHERE c.id = {r}.conversation_id)",
    "conversation_participant":
        "(SELECT c.patient_id FROM conversation c WHERE c.id = {r}.conversation_id)",
    "access_log_entry": "{r}.patient_id",
    "access_log_head": "{r}.patient_id",
    # A login's trail: the account's patient (a professional's account: global).
    "audit_event": "(SELECT a.person_id FROM account a WHERE a.id = {r}.account_id)",
    "message_attachment": "(SELECT c.patient_id FROM message m JOIN conversation c "
                          "ON c.id = m.conversation_id WHERE m.id = {r}.message_id)",
    **{f"profile_{section}": "{r}.person_id"
       for section in ("advance_directive", "allergy", "emergency_contact", "family_history",
                       "measurement", "medical_history", "organ_donation", "treatment",
                       "vaccination")},
}
# Rows of these tables without a patient (a professional's logins) show on no patient's screen:
# they bump nothing, rather than the global version (a hot row every patient's key depends on).
NO_PATIENT_NO_BUMP = frozenset({"audit_event"})
# Tables every patient's screens may show, or with no patient: the global scope.
GLOBAL = ("announcement", "professional", "access_rule")
TABLES = (*PATIENT_OF, *GLOBAL)

CREATE_TABLE = ("CREATE TABLE IF NOT EXISTS data_version "
                "(scope BIGINT NOT NULL PRIMARY KEY, version BIGINT NOT NULL)")

PG_BUMP = """
CREATE OR REPLACE FUNCTION carnet_bump_version(s BIGINT) RETURNS void AS $$
BEGIN
  INSERT INTO data_version (scope, version) VALUES (COALESCE(s, 0), 1)
  ON CONFLICT (scope) DO UPDATE SET version = data_version.version + 1;
END $$ LANGUAGE plpgsql
"""


def _pg_trigger(table: str, patient_of: dict[str, str]) -> str:
    expr = patient_of.get(table, "0")
    old, new = expr.format(r="OLD"), expr.format(r="NEW")
    default = "NULL" if table in NO_PATIENT_NO_BUMP else "0"
    return f"""
CREATE OR REPLACE FUNCTION carnet_version_{table}() RETURNS trigger AS $$
DECLARE o BIGINT; n BIGINT;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    o := COALESCE({old}, {default});
    IF o IS NOT NULL THEN PERFORM carnet_bump_version(o); END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    n := COALESCE({new}, {default});
    IF n IS NOT NULL AND (o IS NULL OR n <> o) THEN PERFORM carnet_bump_version(n); END IF;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS carnet_version ON {table};
CREATE CONSTRAINT TRIGGER carnet_version AFTER INSERT OR UPDATE OR DELETE ON {table}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION carnet_version_{table}();
"""


def _sqlite_bump(expr: str) -> str:
    # A NULL scope (NO_PATIENT_NO_BUMP) inserts nothing (OR IGNORE covers NOT NULL) and
    # updates nothing (scope = NULL matches no row).
    return (f"INSERT OR IGNORE INTO data_version (scope, version) VALUES ({expr}, 0);"
            f" UPDATE data_version SET version = version + 1 WHERE scope = {expr};")


def _sqlite_triggers(table: str, patient_of: dict[str, str]) -> str:
    expr = patient_of.get(table, "0")
    if table not in NO_PATIENT_NO_BUMP:
        expr = f"COALESCE({expr}, 0)"
    old, new = expr.format(r="OLD"), expr.format(r="NEW")
    return (
        f"DROP TRIGGER IF EXISTS carnet_version_i_{table};"
        f"DROP TRIGGER IF EXISTS carnet_version_u_{table};"
        f"DROP TRIGGER IF EXISTS carnet_version_d_{table};"
        f"CREATE TRIGGER carnet_version_i_{table} AFTER INSERT ON {table} "
        f"BEGIN {_sqlite_bump(new)} END;"
        f"CREATE TRIGGER carnet_version_u_{table} AFTER UPDATE ON {table} "
        f"BEGIN {_sqlite_bump(old)} {_sqlite_bump(new)} END;"
        f"CREATE TRIGGER carnet_version_d_{table} AFTER DELETE ON {table} "
        f"BEGIN {_sqlite_bump(old)} END;"
    )


class VersionTriggers(ops.RunSQL):
    """The table and its triggers, in each dialect's SQL."""

    def __init__(self, tables: tuple[str, ...] = TABLES,
                 patient_of: dict[str, str] | None = None, *, with_table: bool = True) -> None:
        # Later migrations add their own tables' triggers: their tables, the SQL of each
        # one's patient, and with_table=False.
        super().__init__("SELECT 1", reverse_sql="SELECT 1")
        self.tables = tables
        self.patient_of = PATIENT_OF if patient_of is None else patient_of
        self.with_table = with_table

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        client = state_editor.client
        head = CREATE_TABLE + ";" if self.with_table else ""
        if client.capabilities.dialect == "sqlite":
            script = head + "".join(_sqlite_triggers(t, self.patient_of) for t in self.tables)
        else:
            if self.with_table:
                head += PG_BUMP + ";"
            script = head + "".join(_pg_trigger(t, self.patient_of) for t in self.tables)
        await client.execute_script(script)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        client = state_editor.client
        if client.capabilities.dialect == "sqlite":
            script = "".join(f"DROP TRIGGER IF EXISTS carnet_version_{k}_{t};"
                             for t in self.tables for k in "iud")
        else:
            script = "".join(f"DROP TRIGGER IF EXISTS carnet_version ON {t};"
                             f"DROP FUNCTION IF EXISTS carnet_version_{t}();" for t in self.tables)
            if self.with_table:
                script += "DROP FUNCTION IF EXISTS carnet_bump_version(BIGINT);"
        if self.with_table:
            script += "DROP TABLE IF EXISTS data_version"
        await client.execute_script(script)


class Migration(migrations.Migration):
    dependencies = [('carnet', '0017_missing_indexes')]

    initial = False

    operations = [VersionTriggers()]
