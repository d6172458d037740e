"""Refusals of the authorization step (GraphQL `authorizeApp`, `appAuthorizationRequest`).

The token, revocation and introspection endpoints answer RFC 6749 errors instead (authlib's
`authlib.oauth2.rfc6749.errors`, raised by services.py and rendered by http.py)."""

from __future__ import annotations

from backend.errors import DomainError
from backend.i18n import N_


class OAuthError(DomainError):
    pass


class UnknownApp(OAuthError):
    """Unknown client id, or an app that is not referenced (the same answer)."""

    message = N_("Application inconnue ou non référencée.")


class InvalidRedirectUri(OAuthError):
    message = N_("Adresse de retour non déclarée par l'application.")


class InvalidScope(OAuthError):
    """A scope the app did not declare, or a required one left out; `scope` names it."""

    message = N_("Autorisation demandée invalide : {scope}.")

    def __init__(self, scope: str) -> None:
        super().__init__(scope=scope)
        self.scope = scope


class InvalidCodeChallenge(OAuthError):
    message = N_("Défi PKCE invalide : seule la méthode S256 est acceptée.")


class AppNotConnected(OAuthError):
    """The patient has no active grant for this app (never had, or already revoked; an
    unknown or malformed app id answers the same)."""

    message = N_("Cette application n'a pas accès à votre dossier.")
