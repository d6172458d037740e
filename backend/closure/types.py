"""GraphQL types of closing, reopening and deleting a patient's space (backend/closure)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from backend.closure.services import Closure
from backend.identity.types import (
    CodeExpired,
    InvalidCode,
    RateLimited,
    Session,
    TemporarilyLocked,
    TooManyAttempts,
)


@strawberry.type(description="My space is closed: nobody reads it (professionals and apps "
                             "lost access at once), nothing was deleted; it is archived until "
                             "purgeAfter, then purged. I may reopen it until then by signing "
                             "in again.")
class AccountClosure:
    closed_at: datetime
    purge_after: datetime = strawberry.field(
        description="When the space is purged: the end of the archive period "
                    "(CLOSED_ARCHIVE_YEARS), or, when I asked for deletion, within "
                    "CLOSED_DELETION_DAYS of asking.")
    deletion_requested: bool

    @classmethod
    def of(cls, closure: Closure) -> AccountClosure:
        return cls(closed_at=closure.closed_at, purge_after=closure.purge_after,
                   deletion_requested=closure.deletion_requested)


ConfirmAccountClosureResult = Annotated[
    AccountClosure | InvalidCode | CodeExpired | TooManyAttempts | RateLimited
    | TemporarilyLocked,
    strawberry.union("ConfirmAccountClosureResult"),
]
ReopenAccountResult = Annotated[
    Session | CodeExpired, strawberry.union("ReopenAccountResult"),
]
RequestAccountDeletionResult = Annotated[
    AccountClosure | CodeExpired, strawberry.union("RequestAccountDeletionResult"),
]
