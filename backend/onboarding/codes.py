"""Provisional codes: drawn with `secrets` when the notice goes out, shown only in that notice
(the email's body, the letter), stored as a keyed hash bound to the notified person's row.

12 characters of Crockford's base32 (no I, L, O, U: nothing to misread on paper), 60 bits,
printed in three groups: `7KQ3-M9XD-2FHT`. Typing is forgiving: case, spaces and dashes are
ignored, O reads as 0 and I or L as 1. Checking tries the hash under every known master key, so
a key rotation (`carnet keys rotate`) breaks no code already sent.
"""

from __future__ import annotations

import hmac
import secrets

from backend.crypto import keyed_hash
from backend.keys.services import known_master_keys
from backend.settings import Settings

PURPOSE = "onboarding.code"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def draw_code() -> str:
    """A new code, as printed (three groups of four)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, LENGTH, 4))


def normalise_code(code: str) -> str | None:
    """The code's 12 characters, or None if it cannot be one."""
    compact = "".join((code or "").split()).replace("-", "").upper().translate(_READS_AS)
    if len(compact) != LENGTH or any(c not in ALPHABET for c in compact):
        return None
    return compact


def code_hash(master: bytes, person_row_id: int, code: str) -> str:
    normalised = normalise_code(code)
    if normalised is None:
        raise ValueError("not a provisional code")
    return keyed_hash(master, PURPOSE, f"{person_row_id}:{normalised}")


def hash_for_storage(settings: Settings, person_row_id: int, code: str) -> str:
    """The hash stored for a code just drawn (under the current master key)."""
    return code_hash(settings.master_key(), person_row_id, code)


def code_matches(settings: Settings, person_row_id: int, stored_hash: str | None,
                 code: str) -> bool:
    """Whether `code` is the one whose hash was stored for this row (constant-time compare,
    under every known master key). The caller checks the window (`window_ends_at`)."""
    if not stored_hash or normalise_code(code) is None:
        return False
    found = False
    for master in known_master_keys(settings).values():
        found |= hmac.compare_digest(code_hash(master, person_row_id, code), stored_hash)
    return found
