"""The consent page's question: what does this app ask of me? (signed-in patient)"""

from __future__ import annotations

import strawberry

from backend.errors import DomainError
from backend.graphql_errors import to_graphql_error
from backend.oauth import services
from backend.oauth.types import AppAuthorizationRequest, AppAuthorizationRequestResult
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
