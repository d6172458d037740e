"""GraphQL types of the public refusal and early activation (issue 15 part 4)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from backend.graphql_errors import Error, translates
from backend.onboarding import errors


@strawberry.input(description="What the notice (email or letter) gave the person.")
class NoticeClaimInput:
    nir: str = strawberry.field(description="Social security number (NIR), 15 characters.")
    birth_date: date
    code: str = strawberry.field(description="The provisional code of the notice "
                                             "(XXXX-XXXX-XXXX; case, spaces and dashes ignored).")


@strawberry.input(description="What the person chooses when activating their space.")
class ActivationChoiceInput:
    identifier: str | None = strawberry.field(
        default=None, description="What I will sign in with (default: my email).")
    password: str
    email: str | None = None
    phone: str | None = None


@strawberry.type(description="The refusal is recorded: no space will be created (activating "
                              "later with the same code remains possible).")
class AccountRefused:
    refused: bool = True


@strawberry.type(description="The space is activated: sign in with this identifier and the "
                              "chosen password (then a code, as always).")
class AccountActivated:
    identifier: str


@translates(errors.NoticeNotFound)
@strawberry.type(description="No notice in progress matches (the same answer whatever was "
                              "wrong).")
class NoticeNotFound(Error):
    pass


@translates(errors.ActivationRateLimited)
@strawberry.type(description="Too many tries: wait `retryAfter` seconds.")
class ActivationRateLimited(Error):
    retry_after: int


@translates(errors.InvalidActivationInput)
@strawberry.type(description="A choice to fix (`field`: identifier, password, email, phone, "
                              "channel).")
class InvalidActivationInput(Error):
    field: str


RefuseAccountResult = Annotated[AccountRefused | NoticeNotFound | ActivationRateLimited,
                                strawberry.union("RefuseAccountResult")]
ActivateAccountResult = Annotated[
    AccountActivated | NoticeNotFound | ActivationRateLimited | InvalidActivationInput,
    strawberry.union("ActivateAccountResult")]
