"""A patient's medical record: documents, stored encrypted (content and title)."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class DocumentSource(StrEnum):
    PATIENT_UPLOAD = "patient_upload"
    PROFESSIONAL_SOFTWARE = "professional_software"
    LEGACY_IMPORT = "legacy_import"


class Visibility(StrEnum):
    NORMAL = "normal"
    HIDDEN_FROM_PROFESSIONALS = "hidden_from_professionals"  # DMP: MASQUE_PS
    NOT_YET_VISIBLE_TO_PATIENT = "not_yet_visible_to_patient"  # until release_at


class Document(Model):
    # A random id: document ids appear in URLs and must not be guessable or countable.
    id = fields.UUIDField(primary_key=True)
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="documents", on_delete=fields.RESTRICT
    )
    # Titles are health data ("Compte rendu d'oncologie"): encrypted with the patient's key.
    title_encrypted = fields.BinaryField()
    type_code = fields.CharField(max_length=10, db_index=True)  # LOINC, from the DMP list
    clinical_date = fields.DateField(db_index=True)
    author_account_id = fields.IntField()
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="documents", null=True, on_delete=fields.RESTRICT
    )
    source = fields.CharEnumField(DocumentSource, max_length=24)
    content_type = fields.CharField(max_length=100)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    blob_name = fields.CharField(max_length=120, unique=True)
    data_key_id = fields.IntField()
    visibility = fields.CharEnumField(Visibility, max_length=32, default=Visibility.NORMAL)
    # DMP's INVISIBLE_REPRESENTANTS_LEGAUX: a minor's document their legal representatives
    # never read (set by the depositing professional; the access policy's proxy access).
    hidden_from_representatives = fields.BooleanField(default=False, db_default=False)
    release_at = fields.DatetimeField(null=True)
    seen_by_patient_at = fields.DatetimeField(null=True)
    # When the patient was told a professional's document arrived (at deposit, or at its
    # release for one deposited "not yet visible").
    patient_notified_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "document"
        indexes = (("person_id", "created_at"), ("person_id", "sha256"))
