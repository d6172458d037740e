"""Refusals of the opt-out campaigns' operator commands (`carnet campaign ...`).

Messages are French msgids (backend/i18n.py); none ever quotes a value of the file (identity
data): they name columns and line numbers only."""

from __future__ import annotations

from backend.errors import DomainError, OperatorRefusal
from backend.i18n import N_, Message


class CampaignError(OperatorRefusal):
    pass


class CampaignFileInvalid(CampaignError):
    """The file as a whole cannot be imported (its header, its encoding): nothing is."""

    message = N_("Fichier de campagne illisible.")


# --- refusal and early activation (public mutations; DomainErrors with GraphQL types) ---------


class ActivationError(DomainError):
    pass


class NoticeNotFound(ActivationError):
    """The same answer for an unknown NIR, a wrong birth date, a wrong or expired code, and a
    notice already used: nothing tells which trait was wrong."""

    message = N_("Ces informations ne correspondent à aucun avis en cours : vérifiez le numéro "
                 "de sécurité sociale, la date de naissance et le code reçu.")


class ActivationRateLimited(ActivationError):
    message = N_("Trop de tentatives. Réessayez dans quelques minutes.")

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, int(retry_after))


class InvalidActivationInput(ActivationError):
    """The chosen identifier, password or contact (`field` names it)."""

    def __init__(self, field: str, message: str | Message) -> None:
        super().__init__(message)
        self.field = field
