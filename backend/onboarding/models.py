"""Opt-out campaigns (issue 15): a campaign is one imported file of insured persons; each
notified person is told (an email, else a letter) that an account will be created for them
unless they refuse before the window ends, with a provisional code to refuse or activate early.

A notified person is not a `Person` yet (finalisation creates it): their identity is sealed at
rest exactly as a Person's is (backend/identity/fields.py, under the master key, `key_id` names
it, `carnet keys rotate` re-seals these rows too), and they are found by the blind index of
their NIR, `nir_index`, computed like `person.matricule_index` (kind "matricule"), so the
importer tells a known NIR in SQL by comparing the two columns. The postal address and the
contacts are sealed too. The provisional code is never stored: only its keyed hash
(`code_hash`), written when the notice goes out (backend/onboarding/notices.py, letters.py);
it is valid until `window_ends_at`.

The same rows carry the notice a young adult gets when their space is handed over at 18
(backend/onboarding/majority.py): `reason` says why a notice is sent, and so which text the
email or letter has (campaign, majority: activate with this code, handed_over: the space was
already active, no code); `channel` NONE records that no contact is known (nothing is sent).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from backend.identity.fields import EncryptedDateField, EncryptedTextField
from backend.identity.models import SealedModel, Sex


class NoticeChannel(StrEnum):
    EMAIL = "email"
    LETTER = "letter"
    NONE = "none"  # no email nor postal address known: no notice can be sent


class NoticeReason(StrEnum):
    """Why the notice is sent: its text (notices.py, letters.py)."""

    CAMPAIGN = "campaign"  # an opt-out campaign: refuse or activate with the code
    MAJORITY = "majority"  # 18: the space is now the young adult's, activate it with the code
    HANDED_OVER = "handed_over"  # 18, the space already active: no code, only the news


class NotifiedStatus(StrEnum):
    NOTIFIED = "notified"  # told (or to be told); may refuse or activate until the window ends
    REFUSED = "refused"  # refused within the window (reversible by activating later)
    ACTIVATED = "activated"  # activated early with the code
    CREATED = "created"  # the account was created after the window


class Campaign(Model):
    """One imported file: importing the same file again (same SHA-256) reuses it."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    file_digest = fields.CharField(max_length=64, unique=True)
    # Import time + OPT_OUT_WINDOW_DAYS, for every person of the campaign.
    window_ends_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "campaign"
        table_description = "An opt-out campaign: one imported file of insured persons"


class NotifiedPerson(SealedModel):
    """A person a campaign notifies. The importer writes these rows set-based (SQL), sealing
    each field with the field's own `to_db_value`, so they open like ORM-written rows."""

    _blind = (("matricule", "nir_index", "matricule"),)
    _sealed = ("matricule", "birth_name", "first_names", "birth_date", "birthplace_code",
               "postal_address", "email", "phone")

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "carnet.Campaign", related_name="persons", on_delete=fields.RESTRICT)
    matricule = EncryptedTextField()
    # Unique across campaigns: a person already notified is never notified again.
    nir_index = fields.CharField(max_length=64, unique=True)
    oid = fields.CharField(max_length=32)
    birth_name = EncryptedTextField()
    first_names = EncryptedTextField()
    birth_date = EncryptedDateField()
    sex = fields.CharEnumField(Sex, max_length=1)
    birthplace_code = EncryptedTextField()
    # JSON {"lines": [...], "postal_code": ..., "city": ...}; None when only an email is known.
    postal_address = EncryptedTextField(null=True)
    email = EncryptedTextField(null=True)
    phone = EncryptedTextField(null=True)  # E.164
    channel = fields.CharEnumField(NoticeChannel, max_length=6)
    # A column default too: the rows already there are campaign notices (migration 0030).
    reason = fields.CharEnumField(NoticeReason, max_length=11, default=NoticeReason.CAMPAIGN,
                                  db_default=NoticeReason.CAMPAIGN.value)
    status = fields.CharEnumField(NotifiedStatus, max_length=9, default=NotifiedStatus.NOTIFIED)
    window_ends_at = fields.DatetimeField()
    # Keyed hash of the provisional code (backend/onboarding/codes.py); None until the notice.
    code_hash = fields.CharField(max_length=64, null=True)
    # A sender's claim on the notice (random token, with its time: a lease) and its attempts.
    notice_claim = fields.CharField(max_length=32, null=True)
    notice_claimed_at = fields.DatetimeField(null=True)
    notice_attempts = fields.SmallIntField(default=0)
    # The PDF batch a letter was printed in (backend/onboarding/letters.py).
    letter_batch = fields.CharField(max_length=64, null=True)
    # When the email went out, or the letter's PDF was written: the notice is done.
    sent_at = fields.DatetimeField(null=True)
    # The person's refusal, early activation or the account's creation after the window
    # (backend/onboarding/activation.py, finalisation.py): when, and the Person it made.
    decided_at = fields.DatetimeField(null=True)
    person: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="campaign_notices", null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField()

    class Meta:
        table = "campaign_person"
        table_description = "A person notified by an opt-out campaign (identity sealed)"
        indexes = [Index(fields=["channel", "sent_at", "id"]), Index(fields=["campaign_id"]),
                   Index(fields=["letter_batch"])]
