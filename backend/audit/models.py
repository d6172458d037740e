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
    # A professional named a patient whose INS traits did not match (or was throttled).
    IDENTITY_MATCH_FAILED = "identity.match_failed"
    IDENTITY_MATCH_RATE_LIMITED = "identity.match_rate_limited"


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
