"""Access to the record by professionals (issue 10): the access matrix, care relationships,
emergency accesses and each patient's access settings; seeds the matrix.

The initial matrix (data: change it with `carnet access matrix set`, see `carnet access matrix
show`). Document types are the DMP list (LOINC); sections are the profile's. The principle is
the French one for the DMP: each profession reads what its practice needs, the patient can
narrow it further per professional, and a document the patient hid is read only by the
médecin traitant and its author.

- Médecin (every specialty): every document type and every section. Physicians coordinate
  care and prescribe; the médecin traitant is one of them.
- Médecin, "Médecine d'urgence" (emergency physician) and "Régulation médicale" (SAMU
  regulator): the same, and flagged for emergency (break-glass) access: they are the ones the
  law lets open a record without the patient's prior consent when the patient cannot give it.
- Pharmacien: prescriptions of health products, dispensations, vaccinations (history) and
  medication reviews (bilan partagé de médication, done by pharmacists); allergies,
  vaccinations, treatments. What dispensing safely and vaccinating need (interactions,
  allergies, doses), not diagnoses.
- Infirmier: care and health-product prescriptions, discharge letters, care plans, vital signs,
  laboratory reports (nurses take samples and follow INR, glycaemia...), care-episode summaries,
  vaccination history; allergies, vaccinations, treatments, measurements, emergency contacts and
  the advance directive (home and palliative care). Not the full history nor family history.
- Masseur-kinésithérapeute: care prescriptions, imaging, operative reports, discharge letters;
  allergies, medical and surgical history, treatments, measurements. What rehabilitation after
  an injury or an operation needs.
- Sage-femme: consultation, hospital, laboratory, imaging and delivery reports, discharge
  letters, prescriptions, vaccination history, vital signs; allergies, vaccinations, medical and
  family history, treatments, measurements, emergency contacts. Pregnancy follow-up needs
  history on both sides and biology.
- Chirurgien-dentiste: prescriptions of health products, imaging reports, medication reviews;
  allergies, medical history and treatments (anticoagulants, bisphosphonates, endocarditis
  risk: what makes dental care dangerous).
- Organ donation is read by physicians only; any other profession is not in the matrix and
  reads nothing.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from backend.access.models import RelationshipOrigin
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index
import json
import unicodedata

ALL_TYPES = [
    "11488-4", "11490-0", "34112-3", "11502-2", "18748-4", "11526-1", "34874-8", "15507-7",
    "15508-5", "34133-9", "60591-5", "57833-6", "57832-8", "60593-1", "11369-6", "29274-8",
    "56445-0", "34794-8", "18776-5",
]
ALL_SECTIONS = ["allergies", "vaccinations", "medical_history", "family_history", "treatments",
                "measurements", "emergency_contacts", "advance_directive", "organ_donation"]

# (profession, specialty, document types, sections, emergency)
MATRIX = [
    ("Médecin", "", ALL_TYPES, ALL_SECTIONS, False),
    ("Médecin", "Médecine d'urgence", ALL_TYPES, ALL_SECTIONS, True),
    ("Médecin", "Régulation médicale", ALL_TYPES, ALL_SECTIONS, True),
    ("Pharmacien", "",
     ["57833-6", "60593-1", "11369-6", "56445-0"],
     ["allergies", "vaccinations", "treatments"], False),
    ("Infirmier", "",
     ["57832-8", "57833-6", "11490-0", "18776-5", "29274-8", "11502-2", "34133-9", "11369-6"],
     ["allergies", "vaccinations", "treatments", "measurements", "emergency_contacts",
      "advance_directive"], False),
    ("Masseur-kinésithérapeute", "",
     ["57832-8", "18748-4", "34874-8", "11490-0"],
     ["allergies", "medical_history", "treatments", "measurements"], False),
    ("Sage-femme", "",
     ["11488-4", "34112-3", "11502-2", "18748-4", "15508-5", "11490-0", "57833-6", "57832-8",
      "11369-6", "29274-8"],
     ["allergies", "vaccinations", "medical_history", "family_history", "treatments",
      "measurements", "emergency_contacts"], False),
    ("Chirurgien-dentiste", "",
     ["57833-6", "18748-4", "56445-0"],
     ["allergies", "medical_history", "treatments"], False),
]


def _key(value: str) -> str:
    # Frozen copy of backend.access.models.rule_key.
    bare = "".join(c for c in unicodedata.normalize("NFKD", value)
                   if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


async def seed_matrix(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    marks = [f"${i}" for i in range(1, 8)] if postgres else ["?"] * 7
    for profession, specialty, types, sections, emergency in MATRIX:
        await client.execute_query(
            "INSERT INTO access_rule (profession, specialty, profession_key, specialty_key, "
            f"document_types, sections, emergency, updated_at) VALUES ({', '.join(marks)}, "
            "CURRENT_TIMESTAMP)",
            [profession, specialty, _key(profession), _key(specialty),
             json.dumps(types), json.dumps(sections), emergency])

class Migration(migrations.Migration):
    dependencies = [('carnet', '0010_identity_sealed')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccessRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('profession', fields.CharField(max_length=100)),
                ('specialty', fields.CharField(default='', max_length=100)),
                ('profession_key', fields.CharField(max_length=100)),
                ('specialty_key', fields.CharField(default='', max_length=100)),
                ('document_types', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('sections', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('emergency', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'access_rule', 'app': 'carnet', 'unique_together': (('profession_key', 'specialty_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CareRelationship',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('patient', fields.ForeignKeyField('carnet.Person', source_field='patient_id', db_constraint=True, to_field='id', related_name='care_relationships', on_delete=OnDelete.CASCADE)),
                ('professional', fields.ForeignKeyField('carnet.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='care_relationships', on_delete=OnDelete.CASCADE)),
                ('origin', fields.CharEnumField(description='CARE_TEAM: care_team\nDECLARED: declared', enum_type=RelationshipOrigin, max_length=12)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_access_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('allowed_document_types', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('allowed_sections', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'care_relationship', 'app': 'carnet', 'unique_together': (('patient', 'professional'),), 'indexes': [Index(fields=['professional_id', 'ended_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EmergencyAccess',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('patient', fields.ForeignKeyField('carnet.Person', source_field='patient_id', db_constraint=True, to_field='id', related_name='emergency_accesses', on_delete=OnDelete.CASCADE)),
                ('professional', fields.ForeignKeyField('carnet.Professional', source_field='professional_id', db_constraint=True, to_field='id', related_name='emergency_accesses', on_delete=OnDelete.CASCADE)),
                ('reason_encrypted', fields.BinaryField()),
                ('data_key_id', fields.IntField()),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'emergency_access', 'app': 'carnet', 'indexes': [Index(fields=['patient_id', 'professional_id', 'expires_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PatientAccessSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('patient', fields.OneToOneField('carnet.Person', source_field='patient_id', db_constraint=True, to_field='id', related_name='access_settings', on_delete=OnDelete.CASCADE)),
                ('treating_doctor', fields.ForeignKeyField('carnet.Professional', source_field='treating_doctor_id', null=True, db_constraint=True, to_field='id', related_name='treated_patients', on_delete=OnDelete.SET_NULL)),
                ('emergency_access_allowed', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'patient_access_settings', 'app': 'carnet', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(seed_matrix),
    ]
