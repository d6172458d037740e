"""argon2id password hashing, off the event loop.

Parameters: t=2, m=19 MiB, p=1 (the OWASP minimum for argon2id, ~50 ms here); hashes made
with other parameters are re-hashed at the next successful login.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from backend.i18n import N_, Message

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
MIN_LENGTH = 12
MAX_LENGTH = 128

_hasher = PasswordHasher(
    time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM
)
# Hashing is CPU-bound: a small dedicated pool bounds concurrency, so a login flood queues
# here instead of starving the event loop and the default executor.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


class WeakPassword(ValueError):
    """`text`: a French msgid and its values (translated where it is answered)."""

    def __init__(self, message: str, **values: object) -> None:
        self.text = Message(message, **values)
        super().__init__(str(self.text))


def check_policy(password: str, *, identifier: str | None = None) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(N_("Le mot de passe doit comporter au moins {limit} caractères."),
                           limit=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise WeakPassword(N_("Le mot de passe doit comporter au plus {limit} caractères."),
                           limit=MAX_LENGTH)
    if len(set(password)) < 5:
        raise WeakPassword(N_("Le mot de passe est trop répétitif."))
    if identifier and identifier.lower() in password.lower():
        raise WeakPassword(N_("Le mot de passe ne doit pas contenir l'identifiant."))


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("carnet-dummy-password-for-timing")


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (pass None for unknown accounts)."""
    target = password_hash or _dummy_hash()

    def check() -> bool:
        try:
            return _hasher.verify(target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    ok = await asyncio.get_running_loop().run_in_executor(_pool, check)
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
