"""Identity mutations: each translates arguments, calls a service, and maps domain errors to
the typed errors of its result union."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.identity import psc, services
from backend.identity.models import CodeChannel as ChannelModel
from backend.identity.types import (
    CodeChannel,
    ConfirmContactChangeResult,
    ConfirmPasswordChangeResult,
    ConfirmPasswordResetResult,
    ExchangeLoginTicketResult,
    LoggedOut,
    LoginChallenge,
    LoginResult,
    Me,
    PasswordChanged,
    PasswordReset,
    PasswordResetRequested,
    RequestPasswordResetResult,
    ResendLoginCodeResult,
    RevokeSessionResult,
    Session,
    SessionRevoked,
    StepUpResult,
    UpdatePreferencesResult,
    VerifyLoginCodeResult,
)
from backend.permissions import IsAuthenticated


def caller(info: Info) -> services.Caller:
    context = info.context
    return services.Caller(
        address=context.client_address,
        user_agent=context.request.headers.get("user-agent", "")[:200],
    )


def _channel(value: CodeChannel | None) -> ChannelModel | None:
    return ChannelModel(value.value) if value else None


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(description="Step 1 of login: identifier + password; sends a code.")
    async def login(
        self, info: Info, identifier: str, password: str, channel: CodeChannel | None = None
    ) -> LoginResult:
        try:
            challenge = await services.start_login(
                info.context.runtime, identifier=identifier[:254], password=password[:256],
                channel=_channel(channel), caller=caller(info),
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return LoginChallenge.from_challenge(challenge)

    @strawberry.mutation(description="Step 2 of login: the 6-digit code; opens a session.")
    async def verify_login_code(self, info: Info, challenge_id: str, code: str
                                ) -> VerifyLoginCodeResult:
        runtime = info.context.runtime
        try:
            token, record = await services.verify_login(
                runtime, challenge_id=challenge_id[:64], code=code[:12], caller=caller(info)
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return Session(token=token, expires_at=record.absolute_expiry,
                       idle_timeout_seconds=runtime.settings.session_idle_seconds)

    @strawberry.mutation(description="Pro Santé Connect login, last step: trade the one-time "
                                     "ticket the callback gave the browser (the `ticket` "
                                     "parameter of PSC_POST_LOGIN_URL) for a session. "
                                     "`binding`: the secret whose SHA-256 (base64url) started "
                                     "the login (/auth/psc/login?binding=); without it, or "
                                     "with another, LoginTicketInvalid and the ticket is "
                                     "spent.")
    async def exchange_login_ticket(self, info: Info, ticket: str, binding: str = ""
                                    ) -> ExchangeLoginTicketResult:
        runtime = info.context.runtime
        who = caller(info)
        try:
            token, record = await psc.exchange_ticket(
                runtime, ticket=ticket[:256], binding=binding[:256], address=who.address,
                user_agent=who.user_agent)
        except DomainError as exc:
            return to_graphql_error(exc)
        return Session(token=token, expires_at=record.absolute_expiry,
                       idle_timeout_seconds=runtime.settings.session_idle_seconds)

    @strawberry.mutation(description="Send a new code for a pending challenge (voids the old).")
    async def resend_login_code(self, info: Info, challenge_id: str) -> ResendLoginCodeResult:
        try:
            challenge = await services.resend_code(
                info.context.runtime, challenge_id=challenge_id[:64], caller=caller(info)
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return LoginChallenge.from_challenge(challenge)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def revoke_session(self, info: Info, id: strawberry.ID) -> RevokeSessionResult:
        try:
            await services.revoke_session(info.context.runtime, info.context.viewer, str(id),
                                          caller(info))
        except DomainError as exc:
            return to_graphql_error(exc)
        return SessionRevoked(id=id)

    @strawberry.mutation(description="Close this session.", permission_classes=[IsAuthenticated])
    async def logout(self, info: Info) -> LoggedOut:
        await services.logout(info.context.runtime, info.context.viewer, caller(info))
        return LoggedOut(sessions_closed=1)

    @strawberry.mutation(description="Close all my sessions, this one included.",
                         permission_classes=[IsAuthenticated])
    async def logout_everywhere(self, info: Info) -> LoggedOut:
        count = await services.logout_everywhere(info.context.runtime, info.context.viewer,
                                                 caller(info))
        return LoggedOut(sessions_closed=count)

    @strawberry.mutation(description="Changing my password, step 1: current password; sends a "
                                     "code to my usual channel.",
                         permission_classes=[IsAuthenticated])
    async def request_password_change(
        self, info: Info, current_password: str, channel: CodeChannel | None = None
    ) -> StepUpResult:
        try:
            challenge = await services.request_password_change(
                info.context.runtime, info.context.viewer, current_password=current_password[:256],
                channel=_channel(channel), caller=caller(info),
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return LoginChallenge.from_challenge(challenge)

    @strawberry.mutation(description="Changing my password, step 2: the code and the new "
                                     "password. My other sessions are closed.",
                         permission_classes=[IsAuthenticated])
    async def confirm_password_change(
        self, info: Info, challenge_id: str, code: str, new_password: str
    ) -> ConfirmPasswordChangeResult:
        try:
            await services.confirm_password_change(
                info.context.runtime, info.context.viewer, challenge_id=challenge_id[:64],
                code=code[:12], new_password=new_password[:256], caller=caller(info),
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return PasswordChanged()

    @strawberry.mutation(description="Changing my email or phone, step 1: current password; "
                                     "sends a code to the NEW address.",
                         permission_classes=[IsAuthenticated])
    async def request_contact_change(
        self, info: Info, current_password: str, email: str | None = None,
        phone: str | None = None,
    ) -> StepUpResult:
        try:
            challenge = await services.request_contact_change(
                info.context.runtime, info.context.viewer, current_password=current_password[:256],
                email=email, phone=phone, caller=caller(info),
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return LoginChallenge.from_challenge(challenge)

    @strawberry.mutation(description="Changing my email or phone, step 2: the code received.",
                         permission_classes=[IsAuthenticated])
    async def confirm_contact_change(
        self, info: Info, challenge_id: str, code: str
    ) -> ConfirmContactChangeResult:
        try:
            await services.confirm_contact_change(
                info.context.runtime, info.context.viewer, challenge_id=challenge_id[:64],
                code=code[:12], caller=caller(info),
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return Me.from_account(await services.current_account(info.context.viewer))

    @strawberry.mutation(description="Forgotten password, step 1: sends a 6-digit code to the "
                                     "account's verified contact (`channel` if verified, "
                                     "else the usual one). The same answer whether or not "
                                     "the identifier names an account.")
    async def request_password_reset(
        self, info: Info, identifier: str, channel: CodeChannel | None = None
    ) -> RequestPasswordResetResult:
        try:
            challenge = await services.request_password_reset(
                info.context.runtime, identifier=identifier[:254], channel=_channel(channel),
                caller=caller(info),
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return PasswordResetRequested.from_challenge(challenge)

    @strawberry.mutation(description="Forgotten password, step 2: the code and the new "
                                     "password. Every session of the account is closed.")
    async def confirm_password_reset(
        self, info: Info, challenge_id: str, code: str, new_password: str
    ) -> ConfirmPasswordResetResult:
        try:
            closed = await services.confirm_password_reset(
                info.context.runtime, challenge_id=challenge_id[:64], code=code[:12],
                new_password=new_password[:256], caller=caller(info),
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return PasswordReset(sessions_closed=closed)

    @strawberry.mutation(description="My language and notification preferences (what is "
                                     "left out stays as it is).",
                         permission_classes=[IsAuthenticated])
    async def update_preferences(
        self, info: Info, language: str | None = None,
        notification_channel: CodeChannel | None = None,
        notify_new_document: bool | None = None, notify_new_message: bool | None = None,
    ) -> UpdatePreferencesResult:
        try:
            account = await services.update_preferences(
                info.context.viewer, language=language[:16] if language is not None else None,
                notification_channel=_channel(notification_channel),
                notify_new_document=notify_new_document, notify_new_message=notify_new_message,
            )
        except DomainError as exc:
            return to_graphql_error(exc)
        return Me.from_account(account)
