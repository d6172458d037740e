"""Keys derived from the master key, keyed hashes for secrets we must recognise but never
store (login codes, session tokens), and sealing of identity data at rest (see below)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from backend.settings import Settings


@lru_cache(maxsize=32)
def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey per purpose, so a leak of one use never exposes another."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"carnet", info=purpose.encode()
    ).derive(master_key)


def keyed_hash(master_key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of value under the purpose's subkey, hex-encoded."""
    return hmac.new(derive_key(master_key, purpose), value.encode(), hashlib.sha256).hexdigest()


# --- identity data at rest: sealed fields and blind indexes -----------------------------------
#
# Identity columns (NIR, names, birth date and place, login identifier, e-mail, phone) hold
# AES-256-GCM ciphertext; lookups go through blind indexes (HMAC-SHA256 of the normalised
# value), so a database dump shows neither. Both keys are HKDF subkeys of the master key.
#
# Sealed format, version 1 (bytes): 0x01 | master key id (16 ASCII hex) | nonce (12) | ct | tag.
# The associated data names the column (e.g. "person.birth_name") and the master key id, so a
# value copied into another column does not open. Reading accepts every known master key
# (current and previous, by id): `carnet keys rotate` re-seals rows under the new key and
# recomputes their indexes, and lookups meanwhile try the index under each known key.

SEAL_VERSION = 1
SEAL_PURPOSE = "identity.seal"
INDEX_PURPOSE = "identity.index"
FINGERPRINT_PURPOSE = "keys.fingerprint"
MASTER_KEY_ID_CHARS = 16
_ID_BYTES = MASTER_KEY_ID_CHARS
_NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value did not open: altered, misplaced, or sealed by an unknown master key."""


def master_key_id(master: bytes) -> str:
    """A short fingerprint naming a master key (cannot be turned back into the key)."""
    digest = hmac.new(derive_key(bytes(master), FINGERPRINT_PURPOSE), b"carnet master key id",
                      hashlib.sha256).hexdigest()
    return digest[:MASTER_KEY_ID_CHARS]


class Keyring:
    """The master keys a process may use: the current one seals, every one opens."""

    def __init__(self, current: bytes, previous: list[bytes] | tuple[bytes, ...] = ()) -> None:
        self.current = bytes(current)
        self.current_id = master_key_id(self.current)
        self.by_id: dict[str, bytes] = {self.current_id: self.current}
        for key in previous:
            self.by_id.setdefault(master_key_id(key), bytes(key))
        self._aeads: dict[str, AESGCM] = {
            key_id: AESGCM(derive_key(key, SEAL_PURPOSE)) for key_id, key in self.by_id.items()
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        from backend.settings import decode_master_key

        return cls(settings.master_key(),
                   [decode_master_key(k) for k in settings.carnet_previous_master_keys])

    def seal(self, plaintext: str, context: str) -> bytes:
        key_id = self.current_id.encode()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aeads[self.current_id].encrypt(
            nonce, plaintext.encode(), _seal_associated(context, key_id))
        return bytes([SEAL_VERSION]) + key_id + nonce + sealed

    def open(self, sealed: bytes, context: str) -> str:
        sealed = bytes(sealed)
        if len(sealed) < 1 + _ID_BYTES + _NONCE_BYTES + 16 or sealed[0] != SEAL_VERSION:
            raise SealError(f"{context}: not a sealed value")
        key_id = sealed[1:1 + _ID_BYTES]
        aead = self._aeads.get(key_id.decode("ascii", "replace"))
        if aead is None:
            raise SealError(f"{context}: sealed by master key {key_id.decode('ascii', 'replace')}"
                            ", which is neither CARNET_MASTER_KEY nor a previous master key")
        nonce = sealed[1 + _ID_BYTES:1 + _ID_BYTES + _NONCE_BYTES]
        try:
            plaintext = aead.decrypt(nonce, sealed[1 + _ID_BYTES + _NONCE_BYTES:],
                                     _seal_associated(context, key_id))
        except InvalidTag:
            raise SealError(f"{context}: sealed value failed authentication") from None
        return plaintext.decode()

    @staticmethod
    def key_id_of(sealed: bytes) -> str:
        return bytes(sealed[1:1 + _ID_BYTES]).decode("ascii", "replace")

    def blind_index(self, kind: str, normalised: str) -> str:
        """The index under the current master key (what rows are written with)."""
        return _blind_index(self.current, kind, normalised)

    def blind_indexes(self, kind: str, normalised: str) -> list[str]:
        """The index under every known master key (current first): what lookups match, so
        rows not yet re-indexed by a rotation are still found."""
        return [_blind_index(key, kind, normalised) for key in self.by_id.values()]


def _seal_associated(context: str, key_id: bytes) -> bytes:
    return b"carnet/identity/v1/" + context.encode() + b"/" + key_id


def _blind_index(master: bytes, kind: str, normalised: str) -> str:
    return hmac.new(derive_key(master, INDEX_PURPOSE), f"{kind}:{normalised}".encode(),
                    hashlib.sha256).hexdigest()


_source: Settings | None = None
_keyring: Keyring | None = None
_override: ContextVar[Keyring | None] = ContextVar("carnet_keyring_override", default=None)


def use_settings(settings: Settings) -> None:
    """Name the settings whose master keys seal and open identity data in this process
    (called wherever the ORM is configured). The keys are read on first use."""
    global _source, _keyring
    if _source is not settings:
        _source, _keyring = settings, None


def keyring() -> Keyring:
    global _keyring
    override = _override.get()
    if override is not None:
        return override
    if _keyring is None:
        from backend.settings import get_settings

        _keyring = Keyring.from_settings(_source or get_settings())
    return _keyring


@contextmanager
def using_keyring(ring: Keyring) -> Iterator[Keyring]:
    """Seal and open with `ring` inside the block (key rotation: the new key seals)."""
    token = _override.set(ring)
    try:
        yield ring
    finally:
        _override.reset(token)
