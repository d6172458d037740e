"""Per-patient data keys, stored only wrapped (encrypted) by the master key."""

from tortoise import fields
from tortoise.models import Model


class DataKey(Model):
    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "carnet.Person", related_name="data_keys", on_delete=fields.RESTRICT
    )
    # AES-256-GCM of the 32-byte data key under the master key: nonce (12) + ciphertext + tag.
    wrapped_key = fields.BinaryField()
    # Fingerprint of the master key that wrapped it (never the key itself), so rotation and
    # the previous-keys fallback know which master key to use.
    master_key_id = fields.CharField(max_length=16, db_index=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    rewrapped_at = fields.DatetimeField(null=True)

    class Meta:
        table = "data_key"
