"""The catalogue of referenced health apps (issue 14, part 1).

An app (*CatalogueApp*) is submitted by an operator (`carnet apps submit FILE.json`), then
referenced, suspended, referenced again or withdrawn (final): `status` is the current state and
`CatalogueStatusChange` the append-only history of every change (its date, reason and
operator, in the same transaction as the change). Only referenced apps are public (GraphQL
`catalogue`, `catalogueApp`). Nothing here is health data or names a patient: every table is a small
reference table.

Categories are a join table (`CatalogueAppCategory`, one row per app and category, indexed by
category): filtering by category is a plain indexed join on PostgreSQL and SQLite alike.
`search_text` is name, publisher and description lower-cased with accents removed
(services.normalise), maintained by the service: search is a LIKE on it in both dialects;
`sort_key` is the normalised name, the catalogue's order (then id).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class AppStatus(StrEnum):
    SUBMITTED = "submitted"
    REFERENCED = "referenced"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class ClientType(StrEnum):
    CONFIDENTIAL = "confidential"  # a server that keeps a secret (OAuth, issue 14 part 2)
    PUBLIC = "public"  # a mobile or browser app: PKCE only


class Category(StrEnum):
    DIABETES = "diabetes"
    NUTRITION = "nutrition"
    PHYSICAL_ACTIVITY = "physical_activity"
    MENTAL_HEALTH = "mental_health"
    CHRONIC_DISEASE = "chronic_disease"
    PREGNANCY = "pregnancy"
    APPOINTMENTS = "appointments"
    TELECONSULTATION = "teleconsultation"
    MEDICATION = "medication"
    PREVENTION = "prevention"


class Criterion(StrEnum):
    """The referencing criteria an operator checks before referencing an app (all of them)."""

    HDS_HOSTING = "hds_hosting"
    GDPR_COMPLIANCE = "gdpr_compliance"
    SECURITY_AUDIT = "security_audit"
    PRIVACY_POLICY = "privacy_policy"
    DATA_MINIMISATION = "data_minimisation"
    NO_COMMERCIAL_REUSE = "no_commercial_reuse"
    INTEROPERABILITY = "interoperability"
    MEDICAL_DEVICE_STATUS = "medical_device_status"


# For operators (`carnet apps criteria`); never shown to patients.
CRITERIA_LABELS: dict[Criterion, str] = {
    Criterion.HDS_HOSTING: "Données hébergées chez un hébergeur certifié HDS",
    Criterion.GDPR_COMPLIANCE: "Conformité RGPD (registre, base légale, DPO)",
    Criterion.SECURITY_AUDIT: "Audit de sécurité (test d'intrusion) de moins d'un an",
    Criterion.PRIVACY_POLICY: "Politique de confidentialité claire et publique",
    Criterion.DATA_MINIMISATION: "Ne demande que les données nécessaires à son service",
    Criterion.NO_COMMERCIAL_REUSE: "Aucune revente ni publicité à partir des données de santé",
    Criterion.INTEROPERABILITY: "Respect des référentiels d'interopérabilité (FHIR, INS)",
    Criterion.MEDICAL_DEVICE_STATUS: "Statut de dispositif médical établi (marquage CE si DM)",
}


class CatalogueApp(Model):
    id = fields.UUIDField(primary_key=True)  # public, random (uuid4)
    name = fields.CharField(max_length=100)
    publisher = fields.CharField(max_length=200)
    description = fields.TextField()
    logo_url = fields.CharField(max_length=500, null=True)
    website_url = fields.CharField(max_length=500)
    privacy_policy_url = fields.CharField(max_length=500)
    # [{"scope": "profile:read", "optional": false}, ...] (scopes.Scope values)
    scopes = fields.JSONField(default=list)
    redirect_uris = fields.JSONField(default=list)  # exact strings
    client_type = fields.CharEnumField(ClientType, max_length=12)
    status = fields.CharEnumField(AppStatus, max_length=10, default=AppStatus.SUBMITTED)
    criteria = fields.JSONField(default=list)  # Criterion codes it passed
    search_text = fields.TextField()
    sort_key = fields.CharField(max_length=100)
    referenced_at = fields.DatetimeField(null=True)  # when last (re)referenced
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    categories: fields.ReverseRelation[CatalogueAppCategory]
    history: fields.ReverseRelation[CatalogueStatusChange]

    class Meta:
        table = "catalogue_app"
        table_description = "A health app submitted to, or listed in, the catalogue"
        indexes = [Index(fields=["status", "sort_key", "id"])]


class CatalogueAppCategory(Model):
    id = fields.IntField(primary_key=True)
    app: fields.ForeignKeyRelation[CatalogueApp] = fields.ForeignKeyField(
        "carnet.CatalogueApp", related_name="categories", on_delete=fields.CASCADE)
    category = fields.CharEnumField(Category, max_length=20)

    class Meta:
        table = "catalogue_app_category"
        unique_together = (("app", "category"),)
        indexes = [Index(fields=["category", "app_id"])]


class CatalogueStatusChange(Model):
    """Append-only: a row per status change (the submission included), never updated."""

    id = fields.BigIntField(primary_key=True)
    app: fields.ForeignKeyRelation[CatalogueApp] = fields.ForeignKeyField(
        "carnet.CatalogueApp", related_name="history", on_delete=fields.RESTRICT)
    status = fields.CharEnumField(AppStatus, max_length=10)
    changed_at = fields.DatetimeField()
    reason = fields.TextField()
    operator = fields.CharField(max_length=100)
    criteria = fields.JSONField(default=list)  # the checklist as it stood at this change

    class Meta:
        table = "catalogue_app_status_change"
        indexes = [Index(fields=["app_id", "changed_at"])]
