"""People, professionals and the accounts they sign in with.

Identity data is sealed at rest (backend/identity/fields.py): the NIR, names, birth date and
place of a Person; the login identifier, e-mail and phone of an Account. A database dump shows
none of them. Rows are found through blind indexes (keyed HMAC of the normalised value, see
backend/crypto.py), recomputed by `save()`; `key_id` names the master key that sealed the row,
so `carnet keys rotate` knows which rows still need re-sealing.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from backend.crypto import keyring
from backend.identity.fields import EncryptedDateField, EncryptedTextField


def identifier_key(identifier: str) -> str:
    """Identifiers are unique case-insensitively (and ignoring surrounding spaces)."""
    return identifier.strip().casefold()


# Blind index kinds and how each value is normalised before hashing.
INDEX_NORMALISERS = {
    "matricule": lambda v: "".join(v.split()).upper(),
    "identifier": identifier_key,
    "email": lambda v: v.strip().casefold(),
    "phone": lambda v: "".join(v.split()),
}


def blind_indexes(kind: str, value: str) -> list[str]:
    """What a lookup of `value` matches: its index under every known master key."""
    return keyring().blind_indexes(kind, INDEX_NORMALISERS[kind](value))


def _blind_index(kind: str, value: str | None) -> str | None:
    if value is None:
        return None
    return keyring().blind_index(kind, INDEX_NORMALISERS[kind](value))


class _SealedModel(Model):
    """A model with sealed fields and blind indexes kept in step on every save."""

    # (sealed field, index column, index kind)
    _blind: tuple[tuple[str, str, str], ...] = ()
    _sealed: tuple[str, ...] = ()

    key_id = fields.CharField(max_length=16, db_index=True)

    class Meta:
        abstract = True

    def _refresh_protection(self) -> None:
        for field, column, kind in self._blind:
            setattr(self, column, _blind_index(kind, getattr(self, field)))
        self.key_id = keyring().current_id

    async def save(self, *args: Any, update_fields: Any = None, **kwargs: Any) -> None:
        if update_fields is None:
            self._refresh_protection()
        else:
            names = set(update_fields)
            protected = set(self._sealed) | {c for _, c, _ in self._blind}
            if names & protected:
                # Sealed together, under one key: the row's identity moves to a key at once.
                self._refresh_protection()
                update_fields = sorted(names | protected | {"key_id"})
        await super().save(*args, update_fields=update_fields, **kwargs)


# Other domains' rows sealed the same way (e.g. backend/onboarding's notified persons): they
# subclass this, and `carnet keys rotate` re-seals every registered subclass (sealed_models()).
SealedModel = _SealedModel


def sealed_models() -> list[type[_SealedModel]]:
    """Every registered model with sealed identity fields, Person and Account first."""
    from tortoise import Tortoise

    found: list[type[_SealedModel]] = [Person, Account]
    for app in Tortoise.apps.values():
        for model in app.values():
            if issubclass(model, _SealedModel) and model not in found:
                found.append(model)
    return found


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"
    UNKNOWN = "U"


class IdentityStatus(StrEnum):
    """INS identity status: only a qualified identity may carry the matricule in exchanges."""

    PROVISIONAL = "PROV"
    RETRIEVED = "RECUP"
    VALIDATED = "VALI"
    QUALIFIED = "QUAL"


class AccountStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    LOCKED = "locked"
    CLOSED = "closed"


class Role(StrEnum):
    PATIENT = "patient"
    PROFESSIONAL = "professional"


class CodeChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Person(_SealedModel):
    """A patient's national health identity (INS) and its traits."""

    _blind = (("matricule", "matricule_index", "matricule"),)
    _sealed = ("matricule", "birth_name", "first_names", "birth_date", "birthplace_code")

    id = fields.IntField(primary_key=True)
    # Random and public (FHIR Patient id): tells nothing about the sequential id or the count.
    public_id = fields.UUIDField(unique=True, default=uuid.uuid4)
    matricule = EncryptedTextField()  # NIR or NIA, 15 characters
    matricule_index = fields.CharField(max_length=64, unique=True)
    oid = fields.CharField(max_length=32)
    birth_name = EncryptedTextField()
    first_names = EncryptedTextField()  # space-separated birth first names
    birth_date = EncryptedDateField()
    sex = fields.CharEnumField(Sex, max_length=1)
    birthplace_code = EncryptedTextField()  # INSEE code (commune, or 99xxx abroad)
    identity_status = fields.CharEnumField(IdentityStatus, max_length=5,
                                           default=IdentityStatus.PROVISIONAL)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "person"


class Professional(Model):
    id = fields.IntField(primary_key=True)
    rpps = fields.CharField(max_length=11, unique=True)
    profession = fields.CharField(max_length=100)
    specialty = fields.CharField(max_length=100, null=True)
    practice_name = fields.CharField(max_length=200, null=True)
    practice_address = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "professional"


class Account(_SealedModel):
    _blind = (("identifier", "identifier_index", "identifier"), ("email", "email_index", "email"),
              ("phone", "phone_index", "phone"))
    _sealed = ("identifier", "email", "phone")

    id = fields.IntField(primary_key=True)
    # Chosen by the person; unique case-insensitively through its blind index.
    identifier = EncryptedTextField()
    identifier_index = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    email = EncryptedTextField(null=True)
    email_index = fields.CharField(max_length=64, null=True, db_index=True)
    email_verified = fields.BooleanField(default=False)
    phone = EncryptedTextField(null=True)  # E.164
    phone_index = fields.CharField(max_length=64, null=True, db_index=True)
    phone_verified = fields.BooleanField(default=False)
    preferred_channel = fields.CharEnumField(CodeChannel, max_length=5, default=CodeChannel.EMAIL)
    status = fields.CharEnumField(AccountStatus, max_length=10, default=AccountStatus.ACTIVE)
    role = fields.CharEnumField(Role, max_length=12)
    person: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "carnet.Person", related_name="accounts", null=True, on_delete=fields.RESTRICT
    )
    professional: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "carnet.Professional", related_name="accounts", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    password_changed_at = fields.DatetimeField(null=True)
    # "Mon compte": the language of what Carnet sends the person (backend/i18n.py LOCALES),
    # and which event notices they want, on which channel (None: the login-code channel).
    language = fields.CharField(max_length=5, default="fr")
    notification_channel = fields.CharEnumField(CodeChannel, max_length=5, null=True)
    notify_new_document = fields.BooleanField(default=True)
    notify_new_message = fields.BooleanField(default=True)
    # Closure (backend/closure): when the patient closed their space, when it is purged (the
    # archive period, or the deletion they asked for), and a purge runner's claim on the row.
    closed_at = fields.DatetimeField(null=True)
    purge_after = fields.DatetimeField(null=True, db_index=True)
    deletion_requested_at = fields.DatetimeField(null=True)
    purge_claimed_until = fields.DatetimeField(null=True)

    class Meta:
        table = "account"
