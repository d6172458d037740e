"""Public mutations of the opt-out campaigns: refuse the account, or activate it early, with the
notice's code (no session: the NIR, the birth date and the code are the proof)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.onboarding import activation
from backend.onboarding.types import (
    AccountActivated,
    AccountRefused,
    ActivateAccountResult,
    ActivationChoiceInput,
    NoticeClaimInput,
    RefuseAccountResult,
)


def _claim(info: Info, notice: NoticeClaimInput) -> activation.Claim:
    return activation.Claim(nir=notice.nir, birth_date=notice.birth_date, code=notice.code,
                            address=info.context.client_address)


@strawberry.type
class OnboardingMutations:
    @strawberry.mutation(description="Refuse the space a campaign notice announced, before its "
                                     "window ends. Public; rate limited like login.")
    async def refuse_account(self, info: Info, notice: NoticeClaimInput) -> RefuseAccountResult:
        try:
            await activation.refuse(info.context.runtime, _claim(info, notice))
        except DomainError as exc:
            return to_graphql_error(exc)
        return AccountRefused()

    @strawberry.mutation(description="Activate my space with my notice's code (before or after "
                                     "the window; also after a refusal): choose my identifier, "
                                     "password and contact. Public; rate limited like login.")
    async def activate_account(self, info: Info, notice: NoticeClaimInput,
                               choice: ActivationChoiceInput) -> ActivateAccountResult:
        try:
            identifier = await activation.activate(
                info.context.runtime, _claim(info, notice),
                activation.Choice(identifier=choice.identifier, password=choice.password,
                                  email=choice.email, phone=choice.phone))
        except DomainError as exc:
            return to_graphql_error(exc)
        return AccountActivated(identifier=identifier)
