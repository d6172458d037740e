"""Tortoise fields that keep identity data sealed at rest (AES-256-GCM, see backend/crypto.py).

Attribute access is unchanged (`person.birth_name` is a str, `person.birth_date` a date): the
value is sealed on its way to the database and opened on its way back. The column holds bytes
(BYTEA / BLOB), so a value read from the database (bytes) is never confused with a plaintext
given by code (str or date).

Sealed columns cannot be filtered on (every sealing draws a new nonce): lookups use the blind
index columns that the model fills on save (`backend.identity.models`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.fields.base import Field

from backend.crypto import keyring


class _SealedField(Field[Any]):
    indexable = False
    SQL_TYPE = "BLOB"

    class _db_postgres:
        SQL_TYPE = "BYTEA"

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("unique") or kwargs.get("db_index"):
            raise ValueError("a sealed field cannot be indexed: index its blind index instead")
        super().__init__(**kwargs)

    @property
    def context(self) -> str:
        return f"{self.model._meta.db_table}.{self.model_field_name}"

    def _dump(self, value: Any) -> str:
        return str(value)

    def _load(self, text: str) -> Any:
        return text

    def to_db_value(self, value: Any, instance: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"{self.context}: expected a plaintext value, got bytes")
        self.validate(value)
        return keyring().seal(self._dump(value), self.context)

    def to_python_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bytes | bytearray | memoryview):
            return self._load(keyring().open(bytes(value), self.context))
        return value  # a plaintext set by code


class EncryptedTextField(_SealedField):
    """A str, sealed at rest."""

    def _dump(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{self.context}: expected str, got {type(value).__name__}")
        return value


class EncryptedDateField(_SealedField):
    """A date, sealed at rest (as its ISO form)."""

    def _dump(self, value: Any) -> str:
        if not isinstance(value, date):
            raise TypeError(f"{self.context}: expected a date, got {type(value).__name__}")
        return value.isoformat()

    def _load(self, text: str) -> date:
        return date.fromisoformat(text)

    def to_python_value(self, value: Any) -> Any:
        if isinstance(value, str):  # code may pass an ISO string
            return date.fromisoformat(value)
        return super().to_python_value(value)
