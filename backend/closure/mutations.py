"""Closing, reopening and deleting a patient's space: each mutation translates arguments, calls
a service (backend/closure/services.py) and maps domain errors to its typed result."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.closure import services
from backend.closure.types import (
    AccountClosure,
    ConfirmAccountClosureResult,
    ReopenAccountResult,
    RequestAccountDeletionResult,
)
from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.identity.models import CodeChannel as ChannelModel
from backend.identity.mutations import caller
from backend.identity.types import CodeChannel, LoginChallenge, Session, StepUpResult
from backend.permissions import IsPatient


@strawberry.type
class ClosureMutations:
    @strawberry.mutation(description="Closing my space, step 1: my current password; sends a "
                                     "code to my usual channel. Export my record first "
                                     "(fhirEverything, or GET /fhir/r4/Patient/{id}/$everything"
                                     "): once closed, no session opens until I reopen it.",
                         permission_classes=[IsPatient])
    async def request_account_closure(
        self, info: Info, current_password: str, channel: CodeChannel | None = None
    ) -> StepUpResult:
        try:
            challenge = await services.request_account_closure(
                info.context.runtime, info.context.viewer,
                current_password=current_password[:256],
                channel=ChannelModel(channel.value) if channel else None, caller=caller(info))
        except DomainError as exc:
            return to_graphql_error(exc)
        return LoginChallenge.from_challenge(challenge)

    @strawberry.mutation(description="Closing my space, step 2: the code received. Every "
                                     "session of mine ends (this one too); professionals and "
                                     "apps lose access at once; nothing is deleted: the space "
                                     "is archived until purgeAfter. `deleteNow`: delete it "
                                     "instead, within CLOSED_DELETION_DAYS (until then I may "
                                     "still reopen it).",
                         permission_classes=[IsPatient])
    async def confirm_account_closure(
        self, info: Info, challenge_id: str, code: str, delete_now: bool = False
    ) -> ConfirmAccountClosureResult:
        try:
            closure = await services.confirm_account_closure(
                info.context.runtime, info.context.viewer, challenge_id=challenge_id[:64],
                code=code[:12], delete_now=delete_now, caller=caller(info))
        except DomainError as exc:
            return to_graphql_error(exc)
        return AccountClosure.of(closure)

    @strawberry.mutation(description="Reopen my closed space with the reopenTicket of "
                                     "AccountClosed (verifyLoginCode): everything comes back as "
                                     "it was (professionals' and apps' access too); opens a "
                                     "session. CodeExpired: the ticket is unknown, used or "
                                     "expired (sign in again), or the purge has begun.")
    async def reopen_account(self, info: Info, ticket: str) -> ReopenAccountResult:
        runtime = info.context.runtime
        try:
            token, record = await services.reopen_account(runtime, ticket=ticket[:128],
                                                          caller=caller(info))
        except DomainError as exc:
            return to_graphql_error(exc)
        return Session(token=token, expires_at=record.absolute_expiry,
                       idle_timeout_seconds=runtime.settings.session_idle_seconds)

    @strawberry.mutation(description="Ask for the deletion of my closed space with the "
                                     "reopenTicket of AccountClosed: it is purged within "
                                     "CLOSED_DELETION_DAYS (blobs deleted, data keys destroyed).")
    async def request_account_deletion(self, info: Info, ticket: str
                                       ) -> RequestAccountDeletionResult:
        try:
            closure = await services.request_account_deletion(
                info.context.runtime, ticket=ticket[:128], caller=caller(info))
        except DomainError as exc:
            return to_graphql_error(exc)
        return AccountClosure.of(closure)
