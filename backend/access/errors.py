"""Refusals of the access domain a client can act on (messages shown as is, in French)."""

from __future__ import annotations

from backend.errors import DomainError


class AccessError(DomainError):
    pass


class InvalidAccessInput(AccessError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownProfessional(AccessError):
    """No professional with this RPPS (RPPS numbers are public: saying so reveals nothing)."""

    message = "Aucun professionnel de santé inscrit sur Carnet avec ce numéro RPPS."


class NotInCareTeam(AccessError):
    message = "Ce professionnel ne fait pas partie de votre équipe de soins."


class NotADoctor(AccessError):
    message = "Le médecin traitant doit être un médecin."


class EmergencyAccessNotAllowed(AccessError):
    """The caller's profession/specialty is not flagged for emergencies in the matrix."""

    message = ("L'accès en urgence est réservé aux médecins urgentistes et aux médecins "
               "régulateurs du SAMU.")


class EmergencyAccessRefused(AccessError):
    """After an identity match: the patient refused emergency access (or blocked the
    professional, which wins over everything). Only a caller who gave the right INS traits gets
    it, exactly like a success would tell them."""

    message = "Ce patient a refusé l'accès en urgence à son dossier."
