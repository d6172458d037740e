"""Append-only security audit trail. Never holds codes, passwords, tokens or health data."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AuditKind(StrEnum):
    LOGIN_PASSWORD_OK = "login.password_ok"
    LOGIN_PASSWORD_FAILED = "login.password_failed"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_CODE_SENT = "login.code_sent"
    LOGIN_CODE_FAILED = "login.code_failed"
    LOGIN_RATE_LIMITED = "login.rate_limited"
    ACCOUNT_LOCKED = "account.locked"
    LOGOUT = "session.logout"
    LOGOUT_EVERYWHERE = "session.logout_everywhere"
    SESSION_REVOKED = "session.revoked"
    PASSWORD_CHANGED = "account.password_changed"
    CONTACT_CHANGED = "account.contact_changed"
    ACCOUNT_CREATED = "account.created"
    # Closure and after (backend/closure): closed (archived), reopened, deletion asked, purged.
    ACCOUNT_CLOSED = "account.closed"
    ACCOUNT_REOPENED = "account.reopened"
    ACCOUNT_DELETION_REQUESTED = "account.deletion_requested"
    ACCOUNT_PURGED = "account.purged"
    # A professional named a patient whose INS traits did not match (or was throttled).
    IDENTITY_MATCH_FAILED = "identity.match_failed"
    IDENTITY_MATCH_RATE_LIMITED = "identity.match_rate_limited"
    # Apps (backend/oauth, backend/catalogue): a patient's grant opened or renewed by a code
    # exchange after their consent, ended (by the patient or by the app, RFC 7009), revoked
    # because a used code or refresh token came back; an operator suspended or withdrew an app
    # (one event for the app, account_id None, with the count of its patients' grants).
    APP_AUTHORIZED = "app.authorized"
    APP_REVOKED = "app.revoked"
    APP_GRANT_REUSED = "app.grant_reused"
    APP_SUSPENDED = "app.suspended"
    APP_WITHDRAWN = "app.withdrawn"
    # Delegations (backend/access/carers.py): a carer or a legal representative named, a carer
    # revoked (account_id: the patient's account, if any).
    CARER_GRANTED = "carer.granted"
    CARER_REVOKED = "carer.revoked"


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(AuditKind, max_length=40, db_index=True)
    account_id = fields.IntField(null=True, db_index=True)  # no FK: the trail outlives rows
    outcome = fields.CharField(max_length=20)  # success | failure | denied
    address = fields.CharField(max_length=64, null=True)
    detail = fields.JSONField(default=dict)  # small, non-sensitive facts (channel, reason)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_event"
        ordering = ["-id"]


# --- the access log the patient reads (backend/audit/access_log.py) ---------------------------


class AccessKind(StrEnum):
    """What kind of data was read. Never more precise than a kind, a profile section name and
    a document id: titles, codes and values are health data and stay out of the log."""

    DOCUMENT = "document"  # one document's description
    DOCUMENT_CONTENT = "document_content"  # a document's bytes (download, FHIR content URL)
    DOCUMENT_LIST = "document_list"  # a list or search of the patient's documents
    PROFILE = "profile"  # a medical profile section (`section` names it)
    EXPORT = "export"  # the whole record (FHIR $everything)
    SEARCH = "search"  # the patient was found by a search (FHIR Patient?identifier=)
    EMERGENCY_ACCESS = "emergency_access"  # a break-glass opening of the record
    AGENDA = "agenda"  # the patient's appointments (patientRecord.appointments)
    MESSAGES = "messages"  # the patient's conversations and messages (an app's messages:read)


class AccessGround(StrEnum):
    """On which ground a reader may read a record (the access policy decides it, the access
    log keeps it). SELF, the patient themselves, is never logged."""

    SELF = "self"
    CARE_TEAM = "care_team"  # the patient added them to their care team
    DECLARED = "declared"  # the professional declared treating the patient
    TREATING_DOCTOR = "treating_doctor"  # the patient's médecin traitant
    EMERGENCY = "emergency"  # an emergency (break-glass) access
    AUTHOR = "author"  # the reader wrote the document
    APP = "app"  # an application the patient authorised
    PROXY = "proxy"  # someone acting for the patient


class AccessLogEntry(Model):
    """One read of a patient's data by someone else; append-only, chained per patient.

    `hash` = SHA-256 over the entry's canonical serialisation and `prev_hash` (the previous
    entry's hash, or the patient's genesis value for seq 1); see access_log.entry_hash.
    No foreign keys: the log outlives the rows it names.
    """

    id = fields.BigIntField(primary_key=True)
    patient_id = fields.IntField()  # person.id
    seq = fields.IntField()  # 1, 2, 3... per patient, no gaps
    account_id = fields.IntField()  # the reader's account
    professional_id = fields.IntField(null=True)
    profession = fields.CharField(max_length=100, null=True)  # copied when the entry is written
    kind = fields.CharEnumField(AccessKind, max_length=20)
    section = fields.CharField(max_length=40, null=True)  # profile section name, if any
    document_id = fields.UUIDField(null=True)
    ground = fields.CharEnumField(AccessGround, max_length=20)
    # An app's read (ground APP): which catalogue app, and its name when it read (copied, like
    # the profession: the log outlives the catalogue entry). Part of the hash when set.
    app_id = fields.UUIDField(null=True)
    app_name = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField()  # set by the writer (it is part of the hash)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "access_log_entry"
        # Explicit (the docstring's apostrophes break SQLite's DDL comment).
        table_description = "One read of a patient record by someone else (hash-chained)"
        unique_together = (("patient_id", "seq"),)


class AccessLogHead(Model):
    """The checkpointed head of a patient's chain: (last seq, last hash) and an HMAC over them
    under a per-patient key derived from the master key named by `key_id`, so that deleting
    the latest entries (and rewriting the chain) is detected."""

    id = fields.IntField(primary_key=True)
    patient_id = fields.IntField(unique=True)
    last_seq = fields.IntField()
    last_hash = fields.CharField(max_length=64)
    mac = fields.CharField(max_length=64)
    key_id = fields.CharField(max_length=16)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "access_log_head"
        table_description = "Signed head of each patient access-log chain"
