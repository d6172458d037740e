"""The consent page's question (what does this app ask of me?) and "Applications connectées"
(which apps I authorised). Signed-in patient only; no scope declared: apps' tokens can never
read these (the scope check refuses any field without one)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.oauth import services
from backend.oauth.types import (
    AppAuthorizationRequest,
    AppAuthorizationRequestResult,
    ConnectedAppAccess,
)
from backend.permissions import IsPatient


@strawberry.type
class OAuthQueries:
    @strawberry.field(description="The app behind an authorization request (name, publisher) "
                                  "and each scope it asks for, with its label and whether I "
                                  "may refuse it. `scopes` empty: every scope it declared.",
                      permission_classes=[IsPatient])
    async def app_authorization_request(self, client_id: strawberry.ID, redirect_uri: str,
                                        scopes: list[str] | None = None
                                        ) -> AppAuthorizationRequestResult:
        try:
            request = await services.authorization_request(str(client_id), redirect_uri,
                                                           scopes)
        except DomainError as exc:
            return to_graphql_error(exc)
        return AppAuthorizationRequest.of(request, redirect_uri)

    @strawberry.field(description="The apps I authorised and have not revoked, by name: their "
                                  "scopes, my consent's date and their last access.",
                      permission_classes=[IsPatient])
    async def connected_apps(self, info: Info) -> list[ConnectedAppAccess]:
        viewer = info.context.viewer
        assert viewer is not None and viewer.is_patient  # IsPatient
        return [ConnectedAppAccess.of(item)
                for item in await services.connected_apps(int(viewer.person_id))]
