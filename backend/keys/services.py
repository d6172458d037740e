"""Envelope encryption: a data key per patient, stored wrapped by the master key.

- The master key (CARNET_MASTER_KEY, 32 bytes) never encrypts content. It wraps each patient's
  32-byte data key (AES-256-GCM under an HKDF subkey of the master key, with associated data
  naming the purpose and the person, so a wrapped key copied onto another patient's row does
  not unwrap). A row records the fingerprint (`master_key_id`) of the master key that wrapped
  it, so previous master keys (CARNET_PREVIOUS_MASTER_KEYS) keep working during a rotation.
- Data keys encrypt content: documents as a stream of authenticated segments (never held whole
  in memory), message bodies with `encrypt_bytes` (the same format, in one call).
- Rotation (`rotate`) re-wraps data keys under a new master key; content is never re-encrypted.
  Identity data (names, NIR, contacts: sealed fields of Person and Account, see
  backend/crypto.py) is small and sealed directly by the master key: `reseal_identities`
  re-seals those rows under the new key and recomputes their blind indexes.

Stream format, version 1 (all integers big-endian):

    header  = b"CRNT" | version (1 byte, 0x01) | salt (16 random bytes) | nonce prefix (7 random)
    segment = AES-256-GCM(stream key, nonce, plaintext segment, associated) = ciphertext | tag(16)

    stream key = HKDF-SHA256(data key, salt=salt, info=b"carnet/stream/v1" | header[:5])
    nonce      = nonce prefix (7) | segment index (4) | last flag (1: 0x01 last, 0x00 otherwise)

Plaintext is cut into 64 KiB segments; every segment but the last holds exactly 64 KiB, the
last holds 0 to 64 KiB (an empty plaintext is one empty last segment), so a stream is at least
28 + 16 bytes. The index in the nonce detects reordered or dropped segments, the last flag
detects truncation at a segment boundary and data appended after the end; the per-stream key
(fresh random salt) keeps nonces from ever repeating under a data key. The caller's
`associated` bytes (e.g. b"document:<id>") are authenticated with every segment, so a stream
cannot be passed off as another one. Any failure raises `CorruptContent`.

Decryption releases a segment's plaintext only after that segment authenticates, but a
truncated stream is detected only at its end: a consumer (e.g. an HTTP download) must treat an
exception raised mid-stream as a failed transfer, never as a short file.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import struct
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from tortoise.transactions import in_transaction

from backend.crypto import Keyring, derive_key, using_keyring
from backend.crypto import master_key_id as _fingerprint
from backend.identity.models import Account, Person, sealed_models
from backend.keys.models import DataKey
from backend.settings import Settings, decode_master_key

log = logging.getLogger(__name__)

KEY_BYTES = 32
TAG_BYTES = 16
NONCE_BYTES = 12
WRAP_PURPOSE = "keys.wrap"
FINGERPRINT_PURPOSE = "keys.fingerprint"
MASTER_KEY_ID_CHARS = 16

STREAM_MAGIC = b"CRNT"
STREAM_VERSION = 1
SALT_BYTES = 16
PREFIX_BYTES = 7
HEADER_BYTES = len(STREAM_MAGIC) + 1 + SALT_BYTES + PREFIX_BYTES  # 28
SEGMENT_BYTES = 64 * 1024  # plaintext per segment
SEGMENT_CT_BYTES = SEGMENT_BYTES + TAG_BYTES
MAX_SEGMENTS = 2**32

ROTATE_BATCH = 500


class KeysError(Exception):
    """Base class of the errors of this module."""


class MasterKeyMissing(KeysError):
    """A data key is wrapped by a master key that this process was not given."""


class CorruptContent(KeysError):
    """Authentication failed: tampered, truncated or misattributed ciphertext or wrapped key
    (or the wrong data key / associated data)."""


class DataKeyNotFound(KeysError, LookupError):
    """No such data key row (or no such person)."""


# --- master keys -----------------------------------------------------------------------------


def master_key_id(master: bytes) -> str:
    """A short fingerprint naming a master key: 16 hex characters of an HMAC under an HKDF
    subkey. It cannot be turned back into the key."""
    _check_key(master, "master key")
    return _fingerprint(master)


def known_master_keys(settings: Settings) -> dict[str, bytes]:
    """Every master key this process may unwrap with, by fingerprint (current one first)."""
    current = settings.master_key()
    keys = {master_key_id(current): current}
    for text in settings.carnet_previous_master_keys:
        key = decode_master_key(text)
        keys.setdefault(master_key_id(key), key)
    return keys


def _wrap_associated(person_id: int) -> bytes:
    return f"carnet/data-key/v1/person:{int(person_id)}".encode()


def wrap(master: bytes, data_key: bytes, *, person_id: int) -> bytes:
    """AES-256-GCM of `data_key` under the master key's wrapping subkey: nonce(12) | ct | tag.
    Bound to `person_id`: it unwraps only for that person."""
    _check_key(master, "master key")
    _check_key(data_key, "data key")
    nonce = secrets.token_bytes(NONCE_BYTES)
    aead = AESGCM(derive_key(master, WRAP_PURPOSE))
    return nonce + aead.encrypt(nonce, data_key, _wrap_associated(person_id))


def unwrap(master: bytes, wrapped: bytes, *, person_id: int) -> bytes:
    """The data key inside `wrapped`; `CorruptContent` if it was not wrapped by this master
    key for this person, or was altered."""
    _check_key(master, "master key")
    wrapped = bytes(wrapped)
    if len(wrapped) != NONCE_BYTES + KEY_BYTES + TAG_BYTES:
        raise CorruptContent("wrapped data key has the wrong length")
    aead = AESGCM(derive_key(master, WRAP_PURPOSE))
    try:
        return aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                            _wrap_associated(person_id))
    except InvalidTag:
        raise CorruptContent("wrapped data key failed authentication") from None


def _unwrap_row(row: DataKey, masters: dict[str, bytes]) -> bytes:
    master = masters.get(row.master_key_id)
    if master is None:
        raise MasterKeyMissing(
            f"data key {row.id} is wrapped by master key {row.master_key_id}, which is neither "
            "CARNET_MASTER_KEY nor one of CARNET_PREVIOUS_MASTER_KEYS"
        )
    return unwrap(master, row.wrapped_key, person_id=row.person_id)  # type: ignore[attr-defined]


# --- data keys -------------------------------------------------------------------------------


async def data_key_for(settings: Settings, person_id: int) -> tuple[int, bytes]:
    """(data key id, plaintext data key) of the person's active key, created on first use.

    Concurrent first uses agree on one key: creation happens under a row lock on the Person
    (a no-op on SQLite, whose transactions are serialised anyway).
    """
    row = await _active_row(person_id)
    if row is None:
        async with in_transaction() as conn:
            person = await (Person.filter(id=person_id).select_for_update(no_key=True)
                            .using_db(conn).first())
            if person is None:
                raise DataKeyNotFound(f"no person {person_id}")
            row = await _active_row(person_id, conn)
            if row is None:
                master = settings.master_key()
                data_key = AESGCM.generate_key(bit_length=256)
                row = await DataKey.create(
                    person_id=person_id, wrapped_key=wrap(master, data_key, person_id=person_id),
                    master_key_id=master_key_id(master), active=True, using_db=conn,
                )
                log.info("created data key %s for person %s", row.id, person_id)
                return row.id, data_key
    return row.id, _unwrap_row(row, known_master_keys(settings))


async def data_key_by_id(settings: Settings, data_key_id: int) -> bytes:
    """A data key by id, active or not (content records which key encrypted it)."""
    row = await DataKey.get_or_none(id=data_key_id)
    if row is None:
        raise DataKeyNotFound(f"no data key {data_key_id}")
    return _unwrap_row(row, known_master_keys(settings))


def unwrap_joined(settings: Settings, *, data_key_id: int, person_id: int | None,
                  master_key_id: str | None, wrapped_key: bytes | None) -> bytes:
    """A data key whose row a caller's own statement read (joined to the rows it encrypts,
    e.g. the documents page): unwrapped exactly as `data_key_by_id` does, without a query."""
    if wrapped_key is None or person_id is None or master_key_id is None:
        raise DataKeyNotFound(f"no data key {data_key_id}")
    row = DataKey(id=data_key_id, person_id=person_id, master_key_id=master_key_id,
                  wrapped_key=bytes(wrapped_key))
    return _unwrap_row(row, known_master_keys(settings))


async def _active_row(person_id: int, conn: object = None) -> DataKey | None:
    query = DataKey.filter(person_id=person_id, active=True).order_by("-id")
    if conn is not None:
        query = query.using_db(conn)  # type: ignore[arg-type]
    return await query.first()


async def rotate(settings: Settings, new_master: bytes, *, batch_size: int = ROTATE_BATCH
                 ) -> int:
    """Re-wrap every data key not yet under `new_master`; returns how many were re-wrapped.

    Each key is unwrapped with whichever known master key (current or previous) wrapped it.
    Idempotent: keys already under the new master key are skipped, so an interrupted rotation
    is finished by running it again. Fails before writing anything if some key is wrapped by a
    master key this process does not know.
    """
    _check_key(new_master, "new master key")
    new_id = master_key_id(new_master)
    masters = known_master_keys(settings) | {new_id: new_master}
    pending_ids = set(await DataKey.exclude(master_key_id=new_id).distinct()
                      .values_list("master_key_id", flat=True))
    unknown = sorted(pending_ids - masters.keys())
    if unknown:
        raise MasterKeyMissing(
            f"data keys are wrapped by master key(s) {', '.join(unknown)}, which are neither "
            "CARNET_MASTER_KEY nor in CARNET_PREVIOUS_MASTER_KEYS: nothing was re-wrapped"
        )
    count = 0
    last_id = 0
    while True:
        rows = await (DataKey.filter(id__gt=last_id).exclude(master_key_id=new_id)
                      .order_by("id").limit(batch_size))
        if not rows:
            break
        now = datetime.now(UTC)
        async with in_transaction() as conn:
            for row in rows:
                data_key = _unwrap_row(row, masters)
                rewrapped = wrap(new_master, data_key, person_id=row.person_id)  # type: ignore[attr-defined]
                # Conditional: a concurrent rotation that got there first is not overwritten.
                count += await DataKey.filter(id=row.id, master_key_id=row.master_key_id).using_db(
                    conn).update(wrapped_key=rewrapped, master_key_id=new_id, rewrapped_at=now)
        last_id = rows[-1].id
    log.info("re-wrapped %s data keys under master key %s", count, new_id)
    return count


# --- identity rows ---------------------------------------------------------------------------

# Person and Account, then every other domain's sealed rows (identity.models.sealed_models).
IDENTITY_MODELS = (Person, Account)


async def check_identities_readable(settings: Settings, new_master: bytes) -> None:
    """Raise `MasterKeyMissing`, writing nothing, if some identity row is sealed by a master
    key that is neither current, previous, nor the new one."""
    _check_key(new_master, "new master key")
    new_id = master_key_id(new_master)
    masters = known_master_keys(settings) | {new_id: new_master}
    unknown: set[str] = set()
    for model in sealed_models():
        ids = await model.exclude(key_id=new_id).distinct().values_list("key_id", flat=True)
        unknown |= set(ids) - masters.keys()  # type: ignore[arg-type]
    if unknown:
        raise MasterKeyMissing(
            f"identity data is sealed by master key(s) {', '.join(sorted(unknown))}, which are "
            "neither CARNET_MASTER_KEY nor in CARNET_PREVIOUS_MASTER_KEYS: nothing was changed"
        )


async def reseal_identities(settings: Settings, new_master: bytes, *,
                            batch_size: int = ROTATE_BATCH) -> int:
    """Re-seal every Person and Account row not yet under `new_master`, and recompute its blind
    indexes (lookups try every known key meanwhile); returns how many rows moved. Idempotent,
    like `rotate`; rows are locked while re-sealed, so a concurrent change is not lost."""
    await check_identities_readable(settings, new_master)
    masters = known_master_keys(settings)
    ring = Keyring(new_master, [k for k in masters.values() if k != new_master])
    count = 0
    with using_keyring(ring):
        for model in sealed_models():
            last_id = 0
            while True:
                async with in_transaction() as conn:
                    rows = await (model.filter(id__gt=last_id).exclude(key_id=ring.current_id)
                                  .order_by("id").limit(batch_size).select_for_update()
                                  .using_db(conn))
                    for row in rows:
                        await row.save(using_db=conn)  # opens with any key, seals with the new
                if not rows:
                    break
                count += len(rows)
                last_id = rows[-1].id
    log.info("re-sealed %s identity rows under master key %s", count, ring.current_id)
    return count


# --- content ---------------------------------------------------------------------------------


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ValueError(f"{what}: expected {KEY_BYTES} bytes")


class _AeadCache:
    """The AES-GCM objects of recently used streams, so that reading the same values again
    (every screen shows the same titles, subjects and entries) derives no key and builds no
    cipher: 16.5 us per title with a new object each time, 0.9 us with one reused.

    A stream key depends on the data key and the stream's header (random salt): entries are
    keyed by a BLAKE2b MAC of both under a key drawn at random per process, so the cache holds
    no data key, and a cipher is found again only for that data key and that header. Bounded
    (least recently used entries go first), thread-safe, never logged.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._secret = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, AESGCM] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:  # never the keys
        return f"<_AeadCache {len(self._entries)}/{self.max_entries}>"

    def key_of(self, data_key: bytes, header: bytes) -> bytes:
        return hashlib.blake2b(bytes(data_key) + bytes(header), key=self._secret,
                               digest_size=32).digest()

    def get(self, data_key: bytes, header: bytes) -> AESGCM:
        key = self.key_of(data_key, header)
        with self._lock:
            aead = self._entries.get(key)
            if aead is not None:
                self._entries.move_to_end(key)
                return aead
        aead = _derive_stream_aead(data_key, header)
        with self._lock:
            self._entries[key] = aead
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return aead

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


AEAD_CACHE_ENTRIES = 8192  # ~2.5 MB at most
_aead_cache = _AeadCache(AEAD_CACHE_ENTRIES)


def _derive_stream_aead(data_key: bytes, header: bytes) -> AESGCM:
    salt = header[len(STREAM_MAGIC) + 1: len(STREAM_MAGIC) + 1 + SALT_BYTES]
    info = b"carnet/stream/v1" + header[: len(STREAM_MAGIC) + 1]
    key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(
        bytes(data_key))
    return AESGCM(key)


def _stream_aead(data_key: bytes, header: bytes) -> AESGCM:
    return _aead_cache.get(data_key, header[:HEADER_BYTES])


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= MAX_SEGMENTS:
        raise ValueError("stream too long")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class _Encryptor:
    def __init__(self, data_key: bytes, associated: bytes) -> None:
        _check_key(data_key, "data key")
        self.header = (STREAM_MAGIC + bytes([STREAM_VERSION]) + secrets.token_bytes(SALT_BYTES)
                       + secrets.token_bytes(PREFIX_BYTES))
        self._aead = _stream_aead(data_key, self.header)
        self._prefix = self.header[-PREFIX_BYTES:]
        self._associated = bytes(associated)
        self._index = 0
        self._buffer = bytearray()

    def _seal(self, plaintext: bytes | memoryview, last: bool) -> bytes:
        nonce = _nonce(self._prefix, self._index, last)
        self._index += 1
        return self._aead.encrypt(nonce, bytes(plaintext), self._associated)

    def update(self, data: bytes) -> Iterator[bytes]:
        """Sealed full segments; one segment's worth is always held back (it may be the
        last, which is only known at `finish`)."""
        self._buffer += data
        return self._drain()

    def _drain(self) -> Iterator[bytes]:
        pos = 0
        with memoryview(self._buffer) as view:
            while len(view) - pos > SEGMENT_BYTES:
                segment = self._seal(view[pos: pos + SEGMENT_BYTES], last=False)
                pos += SEGMENT_BYTES
                yield segment
        del self._buffer[:pos]

    def finish(self) -> bytes:
        segment = self._seal(self._buffer, last=True)
        self._buffer = bytearray()
        return segment


class _Decryptor:
    def __init__(self, data_key: bytes, associated: bytes) -> None:
        _check_key(data_key, "data key")
        self._data_key = data_key
        self._associated = bytes(associated)
        self._aead: AESGCM | None = None
        self._prefix = b""
        self._index = 0
        self._buffer = bytearray()

    def _open(self, ciphertext: bytes | memoryview, last: bool) -> bytes:
        assert self._aead is not None
        nonce = _nonce(self._prefix, self._index, last)
        self._index += 1
        try:
            return self._aead.decrypt(nonce, bytes(ciphertext), self._associated)
        except InvalidTag:
            raise CorruptContent(
                f"segment {self._index - 1} failed authentication (tampered, reordered, "
                "truncated, or the wrong key or associated data)"
            ) from None

    def _read_header(self) -> bool:
        if self._aead is not None:
            return True
        if len(self._buffer) < HEADER_BYTES:
            return False
        header = bytes(self._buffer[:HEADER_BYTES])
        if header[: len(STREAM_MAGIC)] != STREAM_MAGIC:
            raise CorruptContent("not an encrypted Carnet stream")
        if header[len(STREAM_MAGIC)] != STREAM_VERSION:
            raise CorruptContent(f"unsupported stream version {header[len(STREAM_MAGIC)]}")
        self._aead = _stream_aead(self._data_key, header)
        self._prefix = header[-PREFIX_BYTES:]
        del self._buffer[:HEADER_BYTES]
        return True

    def update(self, data: bytes) -> Iterator[bytes]:
        self._buffer += data
        return self._drain()

    def _drain(self) -> Iterator[bytes]:
        if not self._read_header():
            return
        pos = 0
        with memoryview(self._buffer) as view:
            # More than a full segment buffered: the one at the head is not the last.
            while len(view) - pos > SEGMENT_CT_BYTES:
                plaintext = self._open(view[pos: pos + SEGMENT_CT_BYTES], last=False)
                pos += SEGMENT_CT_BYTES
                yield plaintext
        del self._buffer[:pos]

    def finish(self) -> bytes:
        if not self._read_header():
            raise CorruptContent("truncated stream (no complete header)")
        if len(self._buffer) < TAG_BYTES:
            raise CorruptContent("truncated stream (no last segment)")
        plaintext = self._open(self._buffer, last=True)
        self._buffer = bytearray()
        return plaintext


async def encrypt_chunks(data_key: bytes, chunks: AsyncIterator[bytes], *, associated: bytes
                         ) -> AsyncIterator[bytes]:
    """Encrypt a stream of any chunk sizes; yields the header, then one item per segment.
    Memory stays around one segment plus the largest input chunk."""
    encryptor = _Encryptor(data_key, associated)
    yield encryptor.header
    async for chunk in chunks:
        for segment in encryptor.update(chunk):
            yield segment
    yield encryptor.finish()


async def decrypt_chunks(data_key: bytes, chunks: AsyncIterator[bytes], *, associated: bytes
                         ) -> AsyncIterator[bytes]:
    """Decrypt a stream made by `encrypt_chunks`, whatever the chunking of the input; yields
    authenticated plaintext segments; `CorruptContent` on any tampering (see module doc)."""
    decryptor = _Decryptor(data_key, associated)
    async for chunk in chunks:
        for plaintext in decryptor.update(chunk):
            yield plaintext
    last = decryptor.finish()
    if last:
        yield last


def encrypt_bytes(data_key: bytes, plaintext: bytes, *, associated: bytes) -> bytes:
    """`encrypt_chunks` in one call, for small payloads (message bodies)."""
    encryptor = _Encryptor(data_key, associated)
    return b"".join([encryptor.header, *encryptor.update(plaintext), encryptor.finish()])


def decrypt_bytes(data_key: bytes, ciphertext: bytes, *, associated: bytes) -> bytes:
    decryptor = _Decryptor(data_key, associated)
    return b"".join([*decryptor.update(ciphertext), decryptor.finish()])


def encrypted_size(plaintext_size: int) -> int:
    """Size of the stream `encrypt_chunks` makes from `plaintext_size` bytes."""
    segments = max(1, -(-plaintext_size // SEGMENT_BYTES))
    return HEADER_BYTES + plaintext_size + segments * TAG_BYTES
