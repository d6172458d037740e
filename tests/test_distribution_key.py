"""Every table is classified for distribution by patient (docs/scaling.md).

Read from the database the migrations built (so tables made by raw SQL count too): a new table
fails here until it is put in exactly one of the lists below, and a patient-owned table must
carry the distribution column, of the same type as person.id, so that Citus (or hash
partitioning) can co-locate it with the rest of the patient's rows.
"""

from __future__ import annotations

from tortoise import connections

# Patient-owned, distributed by the patient: table -> the column holding the patient's person.id.
PATIENT_OWNED = {
    "person": "id",  # the patient itself: its primary key is the distribution key
    # The patient's wrapped data keys: every decryption of their rows reads one, so they live on
    # the patient's shard (master keys are not in the database).
    "data_key": "person_id",
    "document": "person_id",
    "profile_allergy": "person_id",
    "profile_vaccination": "person_id",
    "profile_medical_history": "person_id",
    "profile_family_history": "person_id",
    "profile_treatment": "person_id",
    "profile_measurement": "person_id",
    "profile_emergency_contact": "person_id",
    "profile_advance_directive": "person_id",
    "profile_organ_donation": "person_id",
    # Every conversation concerns exactly one patient (also professionals-only ones).
    "conversation": "patient_id",
    "care_relationship": "patient_id",
    "emergency_access": "patient_id",
    "patient_access_settings": "patient_id",
    # The access log is one hash chain per patient, and its signed head is per patient too
    # (not a global chain): appending an entry and moving the head is a single-shard
    # transaction.
    "access_log_entry": "patient_id",
    "access_log_head": "patient_id",
    # The agenda (issue 13): appointments, the notices about them, calendar feeds.
    "appointment": "person_id",
    "appointment_notice": "person_id",
    "calendar_feed": "person_id",
    # OAuth (issue 14 part 2): what a patient allowed an app, and the codes and tokens under it.
    "oauth_grant": "person_id",
    "oauth_code": "person_id",
    "oauth_access_token": "person_id",
    "oauth_refresh_token": "person_id",
    # Carers (issue 15 part 8): whom a patient lets help with their space.
    "carer_grant": "patient_id",
}

# Co-located through a parent: they reach the patient only through a foreign key to a
# patient-owned (or itself co-located) table. Under Citus the distribution step adds the
# parent's patient column to them (backfilled from the parent, written by the service on
# insert, composite keys); until then they belong to the parent's patient only through the join.
# table -> (join column, parent table)
CO_LOCATED = {
    "conversation_participant": ("conversation_id", "conversation"),
    "message": ("conversation_id", "conversation"),
    "message_attachment": ("message_id", "message"),
}

# Patient-owned, but reaching the patient only through a GLOBAL table: not co-locatable as is.
# Distribution needs a patient column added first (docs/scaling.md says which migration).
# table -> (column, global table it references, that table's patient column)
KEY_MISSING = {
    # Who a patient blocked: keyed by the patient's account, and account is global.
    "messaging_block": ("patient_account_id", "account", "person_id"),
}

# Reference tables: small, read by every shard's queries, rarely written; replicated to every
# node (Citus create_reference_table).
REFERENCE = {
    # Health professionals (RPPS: about a million at national scale, ~80-byte tuples, so a few
    # hundred MB with indexes on every node): authors of documents and entries, care teams,
    # treating doctors; joined with patient rows on every shard.
    "professional": "joined from every patient table; a few hundred MB replicated",
    # The access matrix: tens of rows, read on every access decision.
    "access_rule": "tens of rows, read by every access decision",
    # Service announcements: a handful of rows shown to everyone.
    "announcement": "a handful of rows shown on everyone's home page",
    # The catalogue of health apps (issue 14): hundreds of apps at most, their categories and
    # the operators' history of their status; read by every app token check (later parts).
    "catalogue_app": "hundreds of apps at most, read by every app's token check",
    "catalogue_app_category": "a few rows per app, filters the public catalogue",
    "catalogue_app_status_change": "operators' history of the apps' status, a few per app",
    # A confidential app's client secrets (keyed hashes): a few per app, read by every token
    # request of that app.
    "oauth_client_secret": "a few per confidential app, read by its token requests",
}

# Global: not distributed (one primary with replicas, or its own distribution key), because
# they are found without knowing a patient, or hold no patient data at all.
GLOBAL = {
    # Logins find an account by a blind index of its identifier, e-mail or phone before any
    # patient is known; professional accounts have no person; sessions carry account ids.
    "account": "found by identifier/e-mail/phone blind index at login; professionals too",
    # The security trail (logins, lockouts) of patients and professionals, by account and time;
    # partitioned by created_at (month), never by patient.
    "audit_event": "security trail by account and time, patients and professionals",
    "tortoise_migrations": "migration bookkeeping",
    # The response cache's data versions (migration 0018): one row per patient (scope = person
    # id) bumped in every writing transaction, and row 0 for what every screen shows. Before
    # distribution it splits (docs/scaling.md): the patient rows go with the patient, row 0
    # becomes a reference row.
    "data_version": "per-patient versions + the global row 0; splits before distribution",
    # A professional's bookable slots name no patient; searched by professional and time
    # (distributed by professional_id if ever needed).
    "agenda_slot": "a professional's free and booked slots, no patient",
    # The job queue (procrastinate, migration 0023): jobs (their arguments are ids, never
    # personal data), their events, the periodic ticks already deferred and the workers'
    # heartbeats. Fetched by any worker without knowing a patient (SKIP LOCKED on one table):
    # one primary, never distributed (docs/scaling.md, "Batch jobs").
    "procrastinate_jobs": "the job queue: any worker takes the next job, no patient known",
    "procrastinate_events": "the queue's job history (status changes)",
    "procrastinate_periodic_defers": "the periodic ticks already deferred, one per task",
    "procrastinate_workers": "the workers' heartbeats",
    # Opt-out campaigns (issue 15): the persons a campaign notifies are not patients yet (no
    # person row until finalisation) and are found by the blind index of their NIR (refusal,
    # activation, the importer's "already known" join with person.matricule_index); distributed
    # by nir_index if ever needed, like person's matricule lookup table.
    "campaign": "one row per imported file",
    "campaign_person": "notified persons, no person yet; found by NIR blind index",
}

# UNIQUE constraints (other than primary keys) on patient-owned and co-located tables that do
# not include the distribution (or join) column: Citus cannot enforce them on a distributed
# table. Each must be served otherwise before distribution (docs/scaling.md, "Constraints").
# (table, columns) -> how
GLOBAL_UNIQUES = {
    ("person", ("matricule_index",)): "lookup table distributed by matricule_index",
    ("person", ("public_id",)): "lookup table distributed by public_id (FHIR ids)",
    ("document", ("blob_name",)): "128 random bits (records/storage.py): unique by "
                                  "construction; the constraint becomes (person_id, blob_name)",
    ("message", ("author_account_id", "client_message_id")): "becomes (patient column, "
                                                             "author, client id)",
    ("appointment", ("active_slot_id",)): "the slot row's conditional status update (free -> "
                                          "booked, agenda/services.py) keeps one booking per "
                                          "slot once agenda_slot lives apart",
    ("calendar_feed", ("token_hash",)): "lookup table distributed by token_hash (the feed URL "
                                        "names no patient)",
    # An app presents a code or token without naming the patient: the same lookup tables.
    ("oauth_code", ("code_hash",)): "lookup table distributed by code_hash (a code names no "
                                    "patient)",
    ("oauth_access_token", ("token_hash",)): "lookup table distributed by token_hash (a bearer "
                                             "token names no patient)",
    ("oauth_refresh_token", ("token_hash",)): "lookup table distributed by token_hash",
}

CLASSES = {"patient-owned": PATIENT_OWNED, "co-located": CO_LOCATED, "key missing": KEY_MISSING,
           "reference": REFERENCE, "global": GLOBAL}


async def _rows(sql: str) -> list[dict]:
    return await connections.get("default").execute_query_dict(sql)


async def _columns() -> dict[str, dict[str, str]]:
    rows = await _rows("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = current_schema()")
    tables: dict[str, dict[str, str]] = {}
    for row in rows:
        tables.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    return tables


async def _tables() -> set[str]:
    rows = await _rows("SELECT table_name FROM information_schema.tables "
                       "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    return {row["table_name"] for row in rows}


async def _foreign_keys() -> set[tuple[str, str, str, str]]:
    """(table, column, referenced table, referenced column) of single-column foreign keys."""
    rows = await _rows(
        "SELECT c.conrelid::regclass::text AS t, a.attname AS col, "
        "c.confrelid::regclass::text AS rt, ra.attname AS rcol "
        "FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1] "
        "WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 "
        "AND c.connamespace = current_schema()::regnamespace")
    return {(r["t"], r["col"], r["rt"], r["rcol"]) for r in rows}


async def _uniques() -> set[tuple[str, tuple[str, ...]]]:
    """(table, columns) of every UNIQUE constraint and unique index that is not a primary key."""
    rows = await _rows(
        "SELECT t.relname AS t, array_agg(a.attname ORDER BY k.ord) AS cols "
        "FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
        "WHERE i.indisunique AND NOT i.indisprimary AND n.nspname = current_schema() "
        "GROUP BY i.indexrelid, t.relname")
    return {(r["t"], tuple(r["cols"])) for r in rows}


async def test_every_table_is_classified_exactly_once(app):
    tables = await _tables()
    classified: dict[str, list[str]] = {}
    for name, tables_of_class in CLASSES.items():
        for table in tables_of_class:
            classified.setdefault(table, []).append(name)
    unclassified = sorted(tables - set(classified))
    assert not unclassified, (
        f"tables not classified for distribution by patient: {unclassified}; put each in one "
        "list of tests/test_distribution_key.py and describe it in docs/scaling.md")
    twice = {t: c for t, c in classified.items() if len(c) > 1}
    assert not twice, f"tables in more than one class: {twice}"
    gone = sorted(set(classified) - tables)
    assert not gone, f"classified tables that no longer exist: {gone}"


async def test_patient_owned_tables_carry_the_distribution_column(app):
    columns = await _columns()
    key_type = columns["person"]["id"]
    missing = {t: c for t, c in PATIENT_OWNED.items() if c not in columns.get(t, {})}
    assert not missing, f"patient-owned tables without their distribution column: {missing}"
    # Co-location needs one type for every distribution column (person.id's).
    wrong = {t: columns[t][c] for t, c in PATIENT_OWNED.items() if columns[t][c] != key_type}
    assert not wrong, f"distribution columns not of person.id's type ({key_type}): {wrong}"


async def test_patient_columns_that_are_foreign_keys_point_at_person(app):
    # The access log has no foreign keys on purpose (it outlives the rows it names); every other
    # patient column that is a foreign key must reference person.id, not another table.
    fks = await _foreign_keys()
    for table, column in PATIENT_OWNED.items():
        targets = {(rt, rc) for t, c, rt, rc in fks if t == table and c == column}
        assert targets <= {("person", "id")}, (table, column, targets)


async def test_co_located_tables_reach_a_patient_owned_parent(app):
    columns = await _columns()
    fks = await _foreign_keys()
    for table, (column, parent) in CO_LOCATED.items():
        assert column in columns[table], (table, column)
        assert (table, column, parent, "id") in fks, (
            f"{table}.{column} is not a foreign key to {parent}.id")
        # Following parents ends at a patient-owned table (no cycle, no global table).
        seen = {table}
        while parent not in PATIENT_OWNED:
            assert parent in CO_LOCATED and parent not in seen, (table, parent)
            seen.add(parent)
            parent = CO_LOCATED[parent][1]
        # Once given the patient column itself, the table must move to PATIENT_OWNED.
        patient_columns = {"person_id", "patient_id"} & set(columns[table])
        assert not patient_columns, (
            f"{table} now has {patient_columns}: move it to PATIENT_OWNED")


async def test_tables_missing_the_key_are_still_missing_it(app):
    columns = await _columns()
    fks = await _foreign_keys()
    for table, (column, target, target_patient_column) in KEY_MISSING.items():
        assert target in GLOBAL, (table, target)
        assert (table, column, target, "id") in fks, (table, column, target)
        assert target_patient_column in columns[target], (target, target_patient_column)
        patient_columns = {"person_id", "patient_id"} & set(columns[table])
        assert not patient_columns, (
            f"{table} now has {patient_columns}: move it to PATIENT_OWNED")


async def test_unique_constraints_include_the_distribution_column(app):
    uniques = await _uniques()
    keyed = dict(PATIENT_OWNED) | {t: c for t, (c, _) in CO_LOCATED.items()}
    offending = {(t, cols) for t, cols in uniques if t in keyed and keyed[t] not in cols}
    unexpected = sorted(offending - set(GLOBAL_UNIQUES))
    assert not unexpected, (
        f"UNIQUE constraints without the distribution column: {unexpected}. Citus cannot "
        "enforce them on a distributed table: include the column, or list the constraint in "
        "GLOBAL_UNIQUES with how it is served (and describe it in docs/scaling.md)")
    stale = sorted(set(GLOBAL_UNIQUES) - offending)
    assert not stale, f"GLOBAL_UNIQUES lists constraints that are gone or fixed: {stale}"
