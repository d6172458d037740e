"""Identity data sealed at rest, found through blind indexes; a random public id per Person.

Issue 9, items 10 and 11. For each identity column a sealed (BYTEA/BLOB) twin is added, filled
from the clear value by `_seal_rows` (AES-256-GCM under the master key, backend/crypto.py), then
the clear column is dropped and the twin takes its name. Blind indexes (keyed HMAC of the
normalised value) replace `account.identifier_key` and the unique `person.matricule`.
Irreversible: going back would write identity data in clear again.
"""

import uuid

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from backend.identity.fields import EncryptedDateField, EncryptedTextField

# Normalisation of each blind index, frozen here as it was when this migration was written
# (backend.identity.models.INDEX_NORMALISERS must keep producing the same values).
_NORMALISE = {
    "matricule": lambda v: "".join(v.split()).upper(),
    "identifier": lambda v: v.strip().casefold(),
    "email": lambda v: v.strip().casefold(),
    "phone": lambda v: "".join(v.split()),
}

PERSON_SEALED = ("matricule", "birth_name", "first_names", "birth_date", "birthplace_code")
ACCOUNT_SEALED = ("identifier", "email", "phone")


def _placeholders(client, count: int, start: int = 1) -> list[str]:
    if client.capabilities.dialect == "postgres":
        return [f"${i}" for i in range(start, start + count)]
    return ["?"] * count


async def _seal_rows(client, table: str, sealed: tuple[str, ...],
                     indexes: dict[str, str], public_id: bool) -> None:
    from backend.crypto import keyring

    rows = await client.execute_query_dict(
        f"SELECT id, {', '.join(sealed)} FROM {table} ORDER BY id")
    if not rows:
        return
    ring = keyring()
    for row in rows:
        values: dict[str, object] = {"key_id": ring.current_id}
        for name in sealed:
            value = row[name]
            if value is None:
                values[f"{name}_sealed"] = None
                continue
            text = value.isoformat() if hasattr(value, "isoformat") else str(value)
            values[f"{name}_sealed"] = ring.seal(text, f"{table}.{name}")
        for name, kind in indexes.items():
            value = row[name]
            values[f"{name}_index"] = (None if value is None
                                       else ring.blind_index(kind, _NORMALISE[kind](str(value))))
        if public_id:
            values["public_id"] = str(uuid.uuid4())
        columns = list(values)
        marks = _placeholders(client, len(columns) + 1)
        assignments = ", ".join(f"{c} = {m}" for c, m in zip(columns, marks, strict=False))
        await client.execute_query(
            f"UPDATE {table} SET {assignments} WHERE id = {marks[-1]}",
            [*values.values(), row["id"]])


async def seal_identities(apps, schema_editor) -> None:
    client = schema_editor.client
    await _seal_rows(client, "person", PERSON_SEALED, {"matricule": "matricule"},
                     public_id=True)
    await _seal_rows(client, "account", ACCOUNT_SEALED,
                     {"identifier": "identifier", "email": "email", "phone": "phone"},
                     public_id=False)


def _foreign_keys(enforced: bool):
    async def switch(apps, schema_editor) -> None:
        # SQLite rebuilds a table to drop or alter a column while rows of other tables point
        # at it: foreign keys are off during the rebuilds (no row changes its id), and checked
        # again at the end. PostgreSQL alters tables in place: nothing to do.
        client = schema_editor.client
        if client.capabilities.dialect != "sqlite":
            return
        if enforced:
            await client.execute_script("PRAGMA foreign_keys = ON")
            broken = await client.execute_query_dict("PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
        else:
            await client.execute_script("PRAGMA defer_foreign_keys = ON")
            await client.execute_script("PRAGMA foreign_keys = OFF")
    return switch


def _sealed_twins(model: str, names: tuple[str, ...]) -> list:
    return [
        ops.AddField(model_name=model, name=f"{name}_sealed",
                     field=(EncryptedDateField(null=True) if name == "birth_date"
                            else EncryptedTextField(null=True)))
        for name in names
    ]


def _swap_in_twins(model: str, names: tuple[str, ...]) -> list:
    operations: list = []
    for name in names:
        operations.append(ops.RemoveField(model_name=model, name=name))
        operations.append(ops.RenameField(model_name=model, old_name=f"{name}_sealed",
                                          new_name=name))
    return operations


class Migration(migrations.Migration):
    dependencies = [('carnet', '0009_audit_identity_match')]

    initial = False

    operations = [
        ops.RunPython(_foreign_keys(enforced=False)),
        # Person: public id, key id, blind index, sealed twins.
        ops.AddField(model_name='Person', name='public_id',
                     field=fields.UUIDField(null=True)),
        ops.AddField(model_name='Person', name='key_id',
                     field=fields.CharField(null=True, max_length=16)),
        ops.AddField(model_name='Person', name='matricule_index',
                     field=fields.CharField(null=True, max_length=64)),
        *_sealed_twins('Person', PERSON_SEALED),
        # Account: key id, blind indexes, sealed twins.
        ops.AddField(model_name='Account', name='key_id',
                     field=fields.CharField(null=True, max_length=16)),
        ops.AddField(model_name='Account', name='identifier_index',
                     field=fields.CharField(null=True, max_length=64)),
        ops.AddField(model_name='Account', name='email_index',
                     field=fields.CharField(null=True, db_index=True, max_length=64)),
        ops.AddField(model_name='Account', name='phone_index',
                     field=fields.CharField(null=True, db_index=True, max_length=64)),
        *_sealed_twins('Account', ACCOUNT_SEALED),
        ops.RunPython(seal_identities),
        # The clear columns go; the sealed twins take their names.
        *_swap_in_twins('Person', PERSON_SEALED),
        *_swap_in_twins('Account', ACCOUNT_SEALED),
        ops.RemoveField(model_name='Account', name='identifier_key'),
        # Final constraints, now that every row is filled.
        # Not null first, then the Python default (with both at once, SQLite's table rebuild
        # writes the callable into its SQL).
        ops.AlterField(model_name='Person', name='public_id',
                       field=fields.UUIDField(unique=True)),
        ops.AlterField(model_name='Person', name='public_id',
                       field=fields.UUIDField(default=uuid.uuid4, unique=True)),
        ops.AlterField(model_name='Person', name='key_id',
                       field=fields.CharField(db_index=True, max_length=16)),
        ops.AlterField(model_name='Person', name='matricule_index',
                       field=fields.CharField(unique=True, max_length=64)),
        *[ops.AlterField(model_name='Person', name=name,
                         field=EncryptedDateField() if name == "birth_date"
                         else EncryptedTextField())
          for name in PERSON_SEALED],
        ops.AlterField(model_name='Account', name='key_id',
                       field=fields.CharField(db_index=True, max_length=16)),
        ops.AlterField(model_name='Account', name='identifier_index',
                       field=fields.CharField(unique=True, max_length=64)),
        ops.AlterField(model_name='Account', name='identifier', field=EncryptedTextField()),
        ops.RunPython(_foreign_keys(enforced=True)),
    ]
