"""`carnet audit verify`: walk every access-log chain and name the first broken entry.

Per patient, entries must run 1, 2, 3... with no gap; each must carry the hash of the one
before (entry 1: the patient's genesis value) and its own hash must match its fields; the
head must be signed (HMAC under the patient's checkpoint key, from the master key it names)
and name exactly the last entry. So:
- a modified entry fails its own hash ("modified");
- a deleted entry leaves a gap ("missing");
- a reordered entry no longer follows its predecessor ("does not follow");
- a forged entry appended after the head is not covered by the signed head ("after the
  checkpoint"); one inside the chain breaks it like a modification;
- deleted latest entries leave the signed head naming an entry that is gone;
- a chain rewritten with recomputed hashes no longer ends where the signed head says, and a
  rewritten head fails its signature (the key never leaves the application).

Key rotation: heads name the master key that signed them; every known key (current and
previous) verifies, and `carnet keys rotate` re-signs heads under the new key
(`resign_checkpoints`) after checking them under the old one.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from tortoise import connections
from tortoise.transactions import in_transaction

from backend.audit.access_log import checkpoint_mac, entry_hash, genesis, row_digest
from backend.audit.models import AccessLogEntry, AccessLogHead
from backend.crypto import keyring, master_key_id

BATCH = 1000


@dataclass
class Broken:
    patient_id: int
    patient_public_id: str | None
    seq: int | None  # the first broken entry (None: the chain as a whole, e.g. no head)
    problem: str

    def describe(self) -> str:
        who = f"patient {self.patient_public_id or '?'} (#{self.patient_id})"
        where = f"entry {self.seq}" if self.seq is not None else "chain"
        return f"{who}: {where}: {self.problem}"


@dataclass
class Report:
    chains: int = 0
    entries: int = 0
    broken: list[Broken] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken

    def as_dict(self) -> dict[str, object]:
        return {"chains": self.chains, "entries": self.entries, "broken": len(self.broken),
                "ok": self.ok}


async def _entries(patient_id: int) -> AsyncIterator[AccessLogEntry]:
    after: tuple[int, int] | None = None
    while True:
        query = AccessLogEntry.filter(patient_id=patient_id)
        if after is not None:
            # (seq, id) keyset: rows sharing a seq (impossible through the unique index, but
            # the verifier assumes nothing) are all seen.
            query = query.filter(seq__gte=after[0]).exclude(seq=after[0], id__lte=after[1])
        rows = await query.order_by("seq", "id").limit(BATCH)
        for row in rows:
            yield row
        if len(rows) < BATCH:
            return
        after = (rows[-1].seq, rows[-1].id)


async def _verify_chain(patient_id: int, head: AccessLogHead | None,
                        keys: dict[str, bytes]) -> tuple[int, tuple[int | None, str] | None]:
    """(entries seen, first problem as (seq, text) or None)."""
    expected, prev, count = 1, genesis(patient_id), 0
    async for row in _entries(patient_id):
        count += 1
        if row.seq != expected:
            if row.seq > expected:
                gap = (f"entries {expected} to {row.seq - 1} are" if row.seq - 1 > expected
                       else f"entry {expected} is")
                return count, (expected, f"{gap} missing (deleted)")
            return count, (row.seq, "out of sequence (inserted or duplicated)")
        if row.prev_hash != prev:
            return count, (row.seq, f"does not follow entry {row.seq - 1} (an entry was deleted,"
                                    " inserted or reordered)")
        if entry_hash(row.seq, row.prev_hash, row_digest(row)) != row.hash:
            return count, (row.seq, "modified (its hash does not match its fields)")
        prev, expected = row.hash, expected + 1
    last_seq, last_hash = expected - 1, prev
    if head is None:
        if last_seq == 0:
            return count, None
        return count, (None, "no signed checkpoint (the head was deleted)")
    key = keys.get(head.key_id)
    if key is None:
        return count, (None, f"checkpoint signed by master key {head.key_id}, which is neither "
                             "CARNET_MASTER_KEY nor a previous master key")
    expected_mac = checkpoint_mac(key, patient_id, head.last_seq, head.last_hash)
    if not hmac.compare_digest(expected_mac, head.mac):
        return count, (None, "checkpoint signature invalid (the head was altered)")
    if head.last_seq > last_seq:
        gone = (f"entries {last_seq + 1} to {head.last_seq} are" if head.last_seq > last_seq + 1
                else f"entry {head.last_seq} is")
        return count, (last_seq + 1, f"{gone} missing: the signed checkpoint names entry "
                                     f"{head.last_seq} (latest entries deleted)")
    if head.last_seq < last_seq:
        return count, (head.last_seq + 1, f"after the signed checkpoint (entry {head.last_seq}):"
                                          " inserted")
    if head.last_hash != last_hash:
        return count, (last_seq, "the chain does not end where the signed checkpoint says "
                                 "(entries rewritten)")
    return count, None


async def _public_ids(patient_ids: list[int]) -> dict[int, str]:
    from backend.identity.models import Person

    found: dict[int, str] = {}
    for start in range(0, len(patient_ids), BATCH):
        chunk = patient_ids[start:start + BATCH]
        for pid, public in await Person.filter(id__in=chunk).values_list("id", "public_id"):
            found[pid] = str(public)
    return found


async def verify_all(keys: dict[str, bytes] | None = None) -> Report:
    """Walk every chain (patients with entries or a head)."""
    keys = keys if keys is not None else dict(keyring().by_id)
    heads = {h.patient_id: h for h in await AccessLogHead.all()}
    with_entries = set(await AccessLogEntry.all().distinct().values_list("patient_id",
                                                                         flat=True))
    patients = sorted(set(heads) | with_entries)
    report = Report(chains=len(patients))
    problems: list[tuple[int, int | None, str]] = []
    for pid in patients:
        count, problem = await _verify_chain(pid, heads.get(pid), keys)
        report.entries += count
        if problem is not None:
            problems.append((pid, *problem))
    public = await _public_ids([pid for pid, _, _ in problems])
    report.broken = [Broken(pid, public.get(pid), seq, text) for pid, seq, text in problems]
    return report


async def resign_checkpoints(new_master: bytes, known: dict[str, bytes], *,
                             batch_size: int = 500) -> dict[str, int]:
    """Re-sign every head under `new_master` (key rotation). A head is re-signed only if its
    signature checks under the key it names: a forged head stays broken, never laundered.
    Rows are locked while re-signed, so a concurrent write is not lost."""
    new_id = master_key_id(new_master)
    postgres = connections.get("default").capabilities.dialect == "postgres"
    resigned = skipped = 0
    after = -1
    while True:
        async with in_transaction("default") as conn:
            query = AccessLogHead.filter(patient_id__gt=after).exclude(key_id=new_id)
            if postgres:
                query = query.select_for_update()
            heads = await query.order_by("patient_id").limit(batch_size).using_db(conn)
            for head in heads:
                key = known.get(head.key_id)
                valid = key is not None and hmac.compare_digest(
                    checkpoint_mac(key, head.patient_id, head.last_seq, head.last_hash),
                    head.mac)
                if not valid:
                    skipped += 1
                    continue
                head.mac = checkpoint_mac(new_master, head.patient_id, head.last_seq,
                                          head.last_hash)
                head.key_id = new_id
                await head.save(using_db=conn, update_fields=["mac", "key_id"])
                resigned += 1
        if len(heads) < batch_size:
            return {"resigned": resigned, "skipped": skipped}
        after = heads[-1].patient_id
