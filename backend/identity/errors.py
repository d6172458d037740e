"""Login and account errors a client can act on. Services raise them; resolvers translate
each into its GraphQL error type (backend.graphql_errors), its message (a French msgid) into the
request's language."""

from __future__ import annotations

from backend.errors import DomainError
from backend.i18n import N_, Message


class IdentityError(DomainError):
    pass


class InvalidCredentials(IdentityError):
    # Same answer for an unknown identifier and a wrong password (no enumeration).
    message = N_("Identifiant ou mot de passe incorrect.")


class RateLimited(IdentityError):
    message = N_("Trop de tentatives. Réessayez dans quelques instants.")

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, int(retry_after))


class TemporarilyLocked(IdentityError):
    message = N_("Trop d'échecs consécutifs : connexion bloquée temporairement.")

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, int(retry_after))


class ChannelUnavailable(IdentityError):
    message = N_("Aucune adresse vérifiée pour ce canal. Choisissez un autre canal.")


class CodeDeliveryFailed(IdentityError):
    message = N_("Le code n'a pas pu être envoyé. Réessayez plus tard.")


class InvalidCode(IdentityError):
    message = N_("Code incorrect.")

    def __init__(self, attempts_left: int) -> None:
        super().__init__()
        self.attempts_left = attempts_left


class CodeExpired(IdentityError):
    message = N_("Ce code a expiré ou a déjà été utilisé. Demandez un nouveau code.")


class TooManyAttempts(IdentityError):
    message = N_("Trop d'essais pour ce code. Demandez un nouveau code.")


class WeakPassword(IdentityError):
    message = N_("Mot de passe trop faible.")


class InvalidInput(IdentityError):
    def __init__(self, field: str, message: str | Message, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class SessionNotFound(IdentityError):
    message = N_("Session introuvable.")


class AccountIsClosed(IdentityError):
    """Identifier, password and code were right, but the patient closed their space: no
    session opens. `reopen_ticket` (one use, valid as long as a code) lets them reopen it
    (`reopenAccount`) or ask for its deletion (`requestAccountDeletion`), and nothing else."""

    message = N_("Vous avez clôturé votre espace. Vous pouvez le rouvrir tant qu'il est "
                 "archivé.")

    def __init__(self, reopen_ticket: str, closed_at: object, purge_after: object,
                 deletion_requested: bool) -> None:
        super().__init__()
        self.reopen_ticket = reopen_ticket
        self.closed_at = closed_at
        self.purge_after = purge_after
        self.deletion_requested = deletion_requested
