"""INS identity matching: a professional names a patient by INS matricule, birth name and date
of birth, which must ALL match (deposits, conversations, profile additions).

Knowing a NIR and a name must not let anyone find the birth date by trying, so:
- callers validate the whole request BEFORE matching: an invalid request is refused the same
  way whatever the identity, and after a match only success (or an answer that tells the match
  anyway, like "already deposited") can follow;
- a mismatch answers one way (`PatientNotFound`) whatever trait differed, and so does any
  refusal after a match that the caller answers like a mismatch (`IdentityMatch.refuse`);
- failed matches are limited per professional per hour
  (IDENTITY_MATCH_FAILURES_PER_PROFESSIONAL_PER_HOUR), counted atomically in the key-value
  store: every attempt is counted before the lookup, and only answers that tell a match are
  credited back, so concurrent tries cannot pass the limit and the counter tells nothing that
  the answers do not;
- every failed match (post-match refusals included) and the first refusal of a window go to
  the audit trail with the professional's account and the purpose only: never the identity,
  nor which trait differed (a row must not tell whether a matricule is known).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NoReturn

from backend import errors
from backend.audit import services as audit
from backend.audit.models import AuditKind
from backend.identity.errors import IdentityError
from backend.identity.ins import InvalidNir, normalise_nir
from backend.identity.lookup import person_by_matricule
from backend.identity.models import Account, AccountStatus, Person
from backend.kv import hash_tag
from backend.runtime import Runtime

WINDOW_SECONDS = 3600


class MatchError(IdentityError):
    """Base of the errors of identity matching."""


class PatientNotFound(MatchError, errors.PatientNotFound):
    """One answer whatever trait did not match: the endpoint must not confirm identities."""


class TooManyFailedMatches(MatchError, errors.TooManyFailedIdentityMatches):
    pass


@dataclass(frozen=True)
class PatientClaim:
    """The INS traits a professional gives to name a patient."""

    matricule: str
    birth_name: str
    birth_date: date


@dataclass(frozen=True)
class Requester:
    """The professional asking, and what for (the purpose goes to the audit trail)."""

    account_id: int
    professional_id: int
    purpose: str  # "deposit", "conversation", "profile"
    address: str | None = None


def _keys(professional_id: int) -> tuple[str, str, str]:
    base = f"identity-match:{hash_tag(professional_id)}"  # one slot: used together
    return f"{base}:attempts", f"{base}:matched", f"{base}:limited"


def _normalised_name(name: str) -> str:
    return " ".join(name.split()).upper()


@dataclass
class IdentityMatch:
    """A patient whose traits matched. The caller then either answers with something that
    tells the match (`confirm`), or refuses exactly like a mismatch (`refuse`)."""

    person: Person
    _rt: Runtime
    _requester: Requester

    async def confirm(self) -> None:
        """The answer tells that the identity matched: do not count it as a failure."""
        attempts_key, matched_key, _ = _keys(self._requester.professional_id)
        remaining = await self._rt.kv.ttl(attempts_key)
        await self._rt.kv.incr(matched_key, ttl=remaining or WINDOW_SECONDS)

    async def refuse(self) -> NoReturn:
        """Answer exactly like a mismatch (and count and audit it as one)."""
        await _record_failure(self._requester)
        raise PatientNotFound()


async def _record_failure(requester: Requester) -> None:
    await audit.record(AuditKind.IDENTITY_MATCH_FAILED, account_id=requester.account_id,
                       outcome="failure", address=requester.address, reason=requester.purpose)


async def _throttle(rt: Runtime, requester: Requester) -> None:
    attempts_key, matched_key, limited_key = _keys(requester.professional_id)
    attempts = await rt.kv.incr(attempts_key, ttl=WINDOW_SECONDS)
    matched = int(await rt.kv.get(matched_key) or 0)
    limit = rt.settings.identity_match_failures_per_professional_per_hour
    if attempts - matched <= limit:
        return
    remaining = await rt.kv.ttl(attempts_key) or WINDOW_SECONDS
    # One audit row per window, not one per refused request (an attack must not flood it).
    if await rt.kv.set(limited_key, "1", ttl=remaining, only_if_absent=True):
        await audit.record(AuditKind.IDENTITY_MATCH_RATE_LIMITED,
                           account_id=requester.account_id, outcome="denied",
                           address=requester.address, reason=requester.purpose,
                           attempts=limit)
    raise TooManyFailedMatches(int(remaining) + 1)


async def find_patient(rt: Runtime, requester: Requester, claim: PatientClaim) -> IdentityMatch:
    """The patient whose INS matricule, birth name AND date of birth all match.

    Call it only once the rest of the request is known to be valid. Raises
    `TooManyFailedMatches` (before looking anything up) or `PatientNotFound`."""
    await _throttle(rt, requester)
    try:
        matricule: str | None = normalise_nir(claim.matricule)
    except InvalidNir:
        matricule = None
    person = await person_by_matricule(matricule) if matricule else None
    if (person is None or _normalised_name(person.birth_name) != _normalised_name(claim.birth_name)
            or person.birth_date != claim.birth_date):
        await _record_failure(requester)
        raise PatientNotFound()
    if await Account.filter(person_id=person.id, status=AccountStatus.CLOSED).exists():
        # A closed space takes no deposit, message, appointment or relationship: answered
        # like a mismatch (issue 15 part 6), so a closure is not disclosed either.
        await _record_failure(requester)
        raise PatientNotFound()
    return IdentityMatch(person, rt, requester)
