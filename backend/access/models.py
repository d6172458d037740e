"""Who may read a patient's record: the access matrix, care relationships, emergency accesses
and each patient's own access settings.

- `AccessRule` is the matrix (data, seeded by the migration, changed by `carnet access matrix
  set`): for a profession, and optionally one of its specialties, the document types (DMP LOINC
  codes) and the profile sections it may read, and whether it may open a record in an
  emergency. Professions and specialties are matched on a normalised key (`rule_key`): case,
  accents and spacing do not matter.
- `CareRelationship`: one row per (patient, professional). Active while `ended_at` is null and
  the professional accessed the record (or the relationship began) within
  CARE_RELATIONSHIP_EXPIRY_DAYS. `origin` says who created it: the patient (care team) or the
  professional (a declaration the patient was told about). The patient may narrow what this
  professional reads below the matrix (`allowed_document_types`, `allowed_sections`; null = the
  matrix as is).
- `EmergencyAccess`: a break-glass opening by an emergency professional, with its reason
  (encrypted with the patient's data key: a reason is often health data) and its end.
- `PatientAccessSettings`: the patient's médecin traitant and whether emergency access is
  allowed (it is unless refused).
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


def rule_key(value: str | None) -> str:
    """Professions and specialties are free text on professionals: compare them casefolded,
    without accents and with single spaces ("Médecine d'urgence" = "medecine d'URGENCE")."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


class AccessRule(Model):
    id = fields.IntField(primary_key=True)
    profession = fields.CharField(max_length=100)
    specialty = fields.CharField(max_length=100, default="")  # "": the whole profession
    profession_key = fields.CharField(max_length=100)
    specialty_key = fields.CharField(max_length=100, default="")
    # LOINC codes of the DMP document types (backend/records/document_types.py).
    document_types = fields.JSONField(default=list)
    # Profile sections (backend/access/policy.py: Section values).
    sections = fields.JSONField(default=list)
    emergency = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "access_rule"
        unique_together = (("profession_key", "specialty_key"),)


class RelationshipOrigin(StrEnum):
    CARE_TEAM = "care_team"  # the patient added the professional
    DECLARED = "declared"  # the professional declared treating the patient


class CareRelationship(Model):
    id = fields.IntField(primary_key=True)
    patient: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="care_relationships", on_delete=fields.CASCADE
    )
    professional: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="care_relationships", on_delete=fields.CASCADE
    )
    origin = fields.CharEnumField(RelationshipOrigin, max_length=12)
    started_at = fields.DatetimeField()
    # The relationship expires CARE_RELATIONSHIP_EXPIRY_DAYS after this (refreshed at most
    # daily by the professional's reads, and by the patient adding them again).
    last_access_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    # The patient's restriction, within the matrix (null: no restriction).
    allowed_document_types = fields.JSONField(null=True)
    allowed_sections = fields.JSONField(null=True)

    class Meta:
        table = "care_relationship"
        unique_together = (("patient", "professional"),)
        indexes = (("professional_id", "ended_at"),)


class EmergencyAccess(Model):
    id = fields.UUIDField(primary_key=True)  # bound into the reason's encryption
    patient: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="emergency_accesses", on_delete=fields.CASCADE
    )
    professional: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="emergency_accesses", on_delete=fields.CASCADE
    )
    # The reason, encrypted with the patient's data key and bound to this row's id.
    reason_encrypted = fields.BinaryField()
    data_key_id = fields.IntField()
    opened_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "emergency_access"
        indexes = (("patient_id", "professional_id", "expires_at"),)


class PatientAccessSettings(Model):
    id = fields.IntField(primary_key=True)
    patient: fields.OneToOneRelation = fields.OneToOneField(
        "carnet.Person", related_name="access_settings", on_delete=fields.CASCADE
    )
    treating_doctor: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="treated_patients", null=True,
        on_delete=fields.SET_NULL
    )
    emergency_access_allowed = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "patient_access_settings"


class CarerPart(StrEnum):
    """The parts of a record a carer may be given (issue 15 part 8)."""

    DOCUMENTS = "documents"
    PROFILE = "profile"
    AGENDA = "agenda"


class CarerKind(StrEnum):
    CARER = "carer"  # an adult's chosen helper
    REPRESENTATIVE = "representative"  # a minor's legal representative (one or two)


class CarerGrant(Model):
    """An adult lets a carer (another person's account) help with their space: read, or read
    and write, the chosen parts, until `ends_at` (or for good), revocable at once.

    The carer is named by email: bound to their account at once when one has that verified
    email, otherwise kept by the email's blind index only (never the address) and bound when
    such an account lists its spaces, so the answer to the patient never tells whether the
    address has an account. `email_hint` is the masked address shown to the patient."""

    id = fields.IntField(primary_key=True)
    patient: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="carer_grants", on_delete=fields.CASCADE
    )
    carer_account: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Account", related_name="carer_of", null=True, on_delete=fields.CASCADE
    )
    carer_email_index = fields.CharField(max_length=64, db_index=True)
    email_hint = fields.CharField(max_length=120)
    parts = fields.JSONField(default=list)  # CarerPart values
    can_write = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()
    ends_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    # A legal representative's grant ends at the child's 18th birthday (ends_at); the hand-over
    # job marks it when it has told the young adult (once).
    kind = fields.CharEnumField(CarerKind, max_length=16, default=CarerKind.CARER)
    handed_over_at = fields.DatetimeField(null=True)

    class Meta:
        table = "carer_grant"
        table_description = "A carer allowed to help with a patient space (parts, end, revocation)"
