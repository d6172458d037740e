"""People, professionals and the accounts they sign in with."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


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


class Person(Model):
    """A patient's national health identity (INS) and its traits."""

    id = fields.IntField(primary_key=True)
    matricule = fields.CharField(max_length=15, unique=True)  # NIR or NIA, 15 characters
    oid = fields.CharField(max_length=32)
    birth_name = fields.CharField(max_length=100)
    first_names = fields.CharField(max_length=200)  # space-separated birth first names
    birth_date = fields.DateField()
    sex = fields.CharEnumField(Sex, max_length=1)
    birthplace_code = fields.CharField(max_length=5)  # INSEE code (commune, or 99xxx abroad)
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


class Account(Model):
    id = fields.IntField(primary_key=True)
    # Chosen by the person; unique case-insensitively through the normalised copy.
    identifier = fields.CharField(max_length=254)
    identifier_key = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255)
    email = fields.CharField(max_length=254, null=True)
    email_verified = fields.BooleanField(default=False)
    phone = fields.CharField(max_length=20, null=True)  # E.164
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

    class Meta:
        table = "account"
