"""Refusals of the access domain a client can act on (French msgids, translated where they are
answered: backend.graphql_errors)."""

from __future__ import annotations

from backend.errors import DomainError
from backend.i18n import N_


class AccessError(DomainError):
    pass


class InvalidAccessInput(AccessError):
    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class UnknownProfessional(AccessError):
    """No professional with this RPPS (RPPS numbers are public: saying so reveals nothing)."""

    message = N_("Aucun professionnel de santé inscrit sur Carnet avec ce numéro RPPS.")


class NotInCareTeam(AccessError):
    message = N_("Ce professionnel ne fait pas partie de votre équipe de soins.")


class NotADoctor(AccessError):
    message = N_("Le médecin traitant doit être un médecin.")


class EmergencyAccessNotAllowed(AccessError):
    """The caller's profession/specialty is not flagged for emergencies in the matrix."""

    message = N_("L'accès en urgence est réservé aux médecins urgentistes et aux médecins "
                 "régulateurs du SAMU.")


class EmergencyAccessRefused(AccessError):
    """After an identity match: the patient refused emergency access (or blocked the
    professional, which wins over everything). Only a caller who gave the right INS traits gets
    it, exactly like a success would tell them."""

    message = N_("Ce patient a refusé l'accès en urgence à son dossier.")


class InvalidCarerGrant(AccessError):
    """A carer grant the patient can fix: `field` names what (email, parts, endsAt)."""

    MESSAGES = {
        "email": N_("Indiquez l'adresse e-mail valide d'une autre personne (10 aidants au "
                    "plus)."),
        "parts": N_("Choisissez au moins une partie de votre espace : documents, profil ou "
                    "rendez-vous."),
        "endsAt": N_("La date de fin doit être dans le futur."),
    }

    def __init__(self, field: str) -> None:
        super().__init__(self.MESSAGES[field])
        self.field = field


class CarerNotFound(AccessError):
    message = N_("Cet aidant n'a pas ou plus accès à votre espace.")
