"""The patient's consent: authorise an app (OAuth 2 authorization code with PKCE S256), and
revoke it ("Applications connectées"). Signed-in patient only; no scope declared: apps' tokens
can never call these."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.oauth import services
from backend.oauth.types import (
    AppAccessRevoked,
    AuthorizationGranted,
    AuthorizeAppResult,
    RevokeAppAccessResult,
)
from backend.permissions import IsPatient


@strawberry.type
class OAuthMutations:
    @strawberry.mutation(description="Authorise an app to act on my record within `scopes` "
                                     "(its required ones and the optional ones I ticked). "
                                     "Answers where to send my browser: the app's redirect URI "
                                     "with a one-time code (valid a minute) and `state`. "
                                     "`codeChallengeMethod` must be S256.",
                         permission_classes=[IsPatient])
    async def authorize_app(self, info: Info, client_id: strawberry.ID, redirect_uri: str,
                            scopes: list[str], code_challenge: str,
                            code_challenge_method: str, state: str | None = None
                            ) -> AuthorizeAppResult:
        viewer = info.context.viewer
        assert viewer is not None and viewer.is_patient  # IsPatient
        runtime = info.context.runtime
        try:
            redirect_to = await services.authorize(
                runtime.settings, account_id=int(viewer.account_id),
                person_id=int(viewer.person_id), client_id=str(client_id),
                redirect_uri=redirect_uri, scopes=scopes, state=state,
                code_challenge=code_challenge, code_challenge_method=code_challenge_method,
                now=runtime.clock())
        except DomainError as exc:
            return to_graphql_error(exc)
        return AuthorizationGranted(redirect_to=redirect_to)

    @strawberry.mutation(description="Revoke an app's access to my record: its grant, tokens "
                                     "and pending codes end at once (it must ask my consent "
                                     "again).",
                         permission_classes=[IsPatient])
    async def revoke_app_access(self, info: Info, app_id: strawberry.ID
                                ) -> RevokeAppAccessResult:
        viewer = info.context.viewer
        assert viewer is not None and viewer.is_patient  # IsPatient
        try:
            revoked = await services.revoke_app(int(viewer.person_id), str(app_id),
                                                info.context.runtime.clock(),
                                                broker=info.context.runtime.broker)
        except DomainError as exc:
            return to_graphql_error(exc)
        return AppAccessRevoked(app_id=strawberry.ID(revoked))
