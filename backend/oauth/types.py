"""GraphQL types of the authorization step: what the consent page shows of a request, the
patient's answer (a redirect carrying the code), and the typed refusals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from backend.catalogue.scopes import LABELS as SCOPE_LABELS
from backend.catalogue.scopes import Scope
from backend.graphql_errors import Error, translates
from backend.i18n import gettext
from backend.oauth import errors
from backend.oauth.services import AuthorizationRequest, ConnectedApp


@strawberry.type(description="A scope the app asks for, with its plain-French label (in the "
                              "request's language); an optional one can be unticked.")
class RequestedScope:
    scope: str
    label: str
    optional: bool


@strawberry.type(description="What the consent page shows before I authorise an app.")
class AppAuthorizationRequest:
    client_id: strawberry.ID
    name: str
    publisher: str
    logo_url: str | None
    website_url: str
    privacy_policy_url: str
    redirect_uri: str
    scopes: list[RequestedScope]

    @classmethod
    def of(cls, request: AuthorizationRequest, redirect_uri: str) -> AppAuthorizationRequest:
        app = request.app
        return cls(client_id=strawberry.ID(str(app.id)), name=app.name,
                   publisher=app.publisher, logo_url=app.logo_url,
                   website_url=app.website_url, privacy_policy_url=app.privacy_policy_url,
                   redirect_uri=redirect_uri,
                   scopes=[RequestedScope(scope=s.scope, label=gettext(SCOPE_LABELS[Scope(
                       s.scope)]), optional=s.optional) for s in request.scopes])


@strawberry.type(description="I authorised the app: send the browser to `redirectTo` (the "
                              "app's redirect URI with a one-time `code` and my `state`).")
class AuthorizationGranted:
    redirect_to: str


@translates(errors.UnknownApp)
@strawberry.type(description="No such app, or not referenced (suspended, withdrawn...): the "
                              "same answer.")
class UnknownApp(Error):
    pass


@translates(errors.InvalidRedirectUri)
@strawberry.type(description="The redirect URI is not one the app declared (exact match).")
class InvalidRedirectUri(Error):
    pass


@translates(errors.InvalidScope)
@strawberry.type(description="A scope the app did not declare, or a required one left out "
                              "(`scope` names it).")
class InvalidScope(Error):
    scope: str


@translates(errors.InvalidCodeChallenge)
@strawberry.type(description="The PKCE challenge is missing or not S256 (plain is refused).")
class InvalidCodeChallenge(Error):
    pass


@strawberry.type(description="A part of my record I let an app read or write, in plain words "
                              "(in the request's language).")
class GrantedScope:
    scope: str
    label: str


@strawberry.type(description="An app I authorised (\"Applications connectées\"): what it may "
                              "do, since when, and when it last used its access.")
class ConnectedAppAccess:
    app_id: strawberry.ID
    name: str
    publisher: str
    logo_url: str | None
    scopes: list[GrantedScope]
    granted_at: datetime = strawberry.field(description="My first consent to this app.")
    last_used_at: datetime | None = strawberry.field(
        description="Its last token exchange, refresh or read; null: never.")
    in_catalogue: bool = strawberry.field(
        description="False: the app is suspended or withdrawn from the catalogue, its access "
                    "does not work meanwhile (revoking it still ends it for good).")

    @classmethod
    def of(cls, item: ConnectedApp) -> ConnectedAppAccess:
        app = item.app
        return cls(app_id=strawberry.ID(str(app.id)), name=app.name, publisher=app.publisher,
                   logo_url=app.logo_url,
                   scopes=[GrantedScope(scope=s, label=gettext(SCOPE_LABELS[Scope(s)]))
                           for s in item.scopes if s in SCOPE_LABELS],
                   granted_at=item.granted_at, last_used_at=item.last_used_at,
                   in_catalogue=item.in_catalogue)


@strawberry.type(description="The app's access to my record ended: its tokens stop at once.")
class AppAccessRevoked:
    app_id: strawberry.ID


@translates(errors.AppNotConnected)
@strawberry.type(description="This app has no access to my record (never had, or already "
                              "revoked).")
class AppNotConnected(Error):
    pass


RevokeAppAccessResult = Annotated[AppAccessRevoked | AppNotConnected,
                                  strawberry.union("RevokeAppAccessResult")]
AppAuthorizationRequestResult = Annotated[
    AppAuthorizationRequest | UnknownApp | InvalidRedirectUri | InvalidScope,
    strawberry.union("AppAuthorizationRequestResult")]
AuthorizeAppResult = Annotated[
    AuthorizationGranted | UnknownApp | InvalidRedirectUri | InvalidScope
    | InvalidCodeChallenge,
    strawberry.union("AuthorizeAppResult")]
