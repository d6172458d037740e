"""A patient's medical profile: allergies, vaccinations, history, treatments, measurements,
emergency contacts, advance directive and organ-donation position.

Free text (substances, conditions, medications, names, notes...) is health data: every row keeps
it in one `text_encrypted` column, a JSON object encrypted with the patient's data key and bound
to the row id (see backend/profile/crypto.py). Codes, dates and numbers stay clear so that lists
can be sorted and filtered in SQL.

Every entry records who wrote it (`author_account_id`, and `author_professional` when a
professional added it) and when. Entries imported from a FHIR Bundle keep `source_key` (a hash of
the source identity), unique per patient, so importing the same Bundle twice creates nothing.
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AllergyKind(StrEnum):
    ALLERGY = "allergy"
    INTOLERANCE = "intolerance"


class AllergyCategory(StrEnum):
    FOOD = "food"
    MEDICATION = "medication"
    ENVIRONMENT = "environment"
    BIOLOGIC = "biologic"


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class HistoryCategory(StrEnum):
    MEDICAL = "medical"
    SURGICAL = "surgical"


class Relative(StrEnum):
    # HL7 v3 RoleCode family members (FHIR FamilyMemberHistory.relationship).

    MOTHER = "MTH"
    FATHER = "FTH"
    SISTER = "SIS"
    BROTHER = "BRO"
    SIBLING = "SIB"
    DAUGHTER = "DAU"
    SON = "SON"
    CHILD = "CHILD"
    GRANDMOTHER = "GRMTH"
    GRANDFATHER = "GRFTH"
    AUNT = "AUNT"
    UNCLE = "UNCLE"
    COUSIN = "COUSN"
    FAMILY_MEMBER = "FAMMEMB"


class MeasurementKind(StrEnum):
    WEIGHT = "weight"
    HEIGHT = "height"
    BLOOD_PRESSURE = "blood_pressure"
    HEART_RATE = "heart_rate"
    BLOOD_GLUCOSE = "blood_glucose"
    TEMPERATURE = "temperature"
    WAIST = "waist"


class OrganDonationPosition(StrEnum):
    # French law presumes consent; a refusal is recorded in the national refusal register.
    CONSENTS = "consents"
    REFUSES = "refuses"
    UNDECIDED = "undecided"


class _Entry(Model):
    # Columns every profile row has (the relations are declared per model).

    id = fields.UUIDField(primary_key=True)
    author_account_id = fields.IntField()
    data_key_id = fields.IntField()
    # JSON of the row's free-text fields, encrypted with the patient's data key.
    text_encrypted = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class _Imported(_Entry):
    # SHA-256 (hex) of the imported resource's identity; None for entries typed in Carnet.
    source_key = fields.CharField(max_length=64, null=True)

    class Meta:
        abstract = True


class Allergy(_Imported):
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="profile_allergies", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_allergies", null=True,
        on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(AllergyKind, max_length=12, default=AllergyKind.ALLERGY)
    category = fields.CharEnumField(AllergyCategory, max_length=12, null=True)
    severity = fields.CharEnumField(Severity, max_length=10, null=True)
    since = fields.DateField(null=True)

    class Meta:
        table = "profile_allergy"
        unique_together = (("person", "source_key"),)
        indexes = (("person_id", "created_at"),)


class Vaccination(_Imported):
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="profile_vaccinations", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_vaccinations", null=True,
        on_delete=fields.RESTRICT
    )
    vaccinated_on = fields.DateField()
    dose_number = fields.IntField(null=True)

    class Meta:
        table = "profile_vaccination"
        unique_together = (("person", "source_key"),)
        indexes = (("person_id", "vaccinated_on"),)


class MedicalHistory(_Imported):
    # Personal medical or surgical history (FHIR Condition).

    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="profile_medical_history", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_medical_history", null=True,
        on_delete=fields.RESTRICT
    )
    category = fields.CharEnumField(HistoryCategory, max_length=10,
                                    default=HistoryCategory.MEDICAL)
    onset = fields.DateField(null=True)
    resolved = fields.DateField(null=True)

    class Meta:
        table = "profile_medical_history"
        unique_together = (("person", "source_key"),)
        indexes = (("person_id", "created_at"),)


class FamilyHistory(_Imported):
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="profile_family_history", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_family_history", null=True,
        on_delete=fields.RESTRICT
    )
    relative = fields.CharEnumField(Relative, max_length=8)
    age_at_onset = fields.IntField(null=True)

    class Meta:
        table = "profile_family_history"
        unique_together = (("person", "source_key"),)
        indexes = (("person_id", "created_at"),)


class Treatment(_Imported):
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="profile_treatments", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_treatments", null=True,
        on_delete=fields.RESTRICT
    )
    start_date = fields.DateField(null=True)
    end_date = fields.DateField(null=True)

    class Meta:
        table = "profile_treatment"
        unique_together = (("person", "source_key"),)
        indexes = (("person_id", "created_at"),)


class Measurement(_Imported):
    # One measurement; a blood pressure holds systolic in `value`, diastolic in `value2`.
    # BMI is never stored: it is derived from weight and the latest height.

    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="profile_measurements", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_measurements", null=True,
        on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(MeasurementKind, max_length=16)
    value = fields.DecimalField(max_digits=9, decimal_places=3)
    value2 = fields.DecimalField(max_digits=9, decimal_places=3, null=True)
    measured_at = fields.DatetimeField()

    class Meta:
        table = "profile_measurement"
        unique_together = (("person", "source_key"),)
        indexes = (("person_id", "kind", "measured_at"),)


class EmergencyContact(_Entry):
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="profile_emergency_contacts", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_emergency_contacts", null=True,
        on_delete=fields.RESTRICT
    )

    class Meta:
        table = "profile_emergency_contact"
        indexes = (("person_id", "created_at"),)


class AdvanceDirective(_Entry):
    # At most one per patient: a text (encrypted) and/or a document of the record.

    person: fields.OneToOneRelation = fields.OneToOneField(
        "carnet.Person", related_name="profile_advance_directive", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_advance_directives", null=True,
        on_delete=fields.RESTRICT
    )
    document: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Document", related_name="advance_directives", null=True,
        on_delete=fields.SET_NULL
    )

    class Meta:
        table = "profile_advance_directive"


class OrganDonation(_Entry):
    # At most one per patient: their stated position (and an encrypted note).

    person: fields.OneToOneRelation = fields.OneToOneField(
        "carnet.Person", related_name="profile_organ_donation", on_delete=fields.RESTRICT
    )
    author_professional: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Professional", related_name="authored_organ_donations", null=True,
        on_delete=fields.RESTRICT
    )
    position = fields.CharEnumField(OrganDonationPosition, max_length=10)

    class Meta:
        table = "profile_organ_donation"
