"""Keys derived from the master key, and keyed hashes for secrets we must recognise but never
store (login codes, session tokens)."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@lru_cache(maxsize=32)
def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey per purpose, so a leak of one use never exposes another."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"carnet", info=purpose.encode()
    ).derive(master_key)


def keyed_hash(master_key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of value under the purpose's subkey, hex-encoded."""
    return hmac.new(derive_key(master_key, purpose), value.encode(), hashlib.sha256).hexdigest()
