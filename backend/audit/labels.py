"""French labels (msgids, backend/i18n.py) of the access log's enums: what was read and on which
ground, as the patient (and, for grounds, the professional) reads them. The web app's lists
come from here (`referenceData`), translated per request."""

from __future__ import annotations

from backend.audit.models import AccessGround, AccessKind
from backend.i18n import N_

ACCESS_KINDS = {
    AccessKind.DOCUMENT: N_("La fiche d'un de vos documents"),
    AccessKind.DOCUMENT_CONTENT: N_("Le contenu d'un de vos documents (ouverture ou "
                                    "téléchargement)"),
    AccessKind.DOCUMENT_LIST: N_("La liste de vos documents"),
    AccessKind.PROFILE: N_("Votre profil médical"),
    AccessKind.EXPORT: N_("L'ensemble de votre dossier (export complet)"),
    AccessKind.SEARCH: N_("La recherche de votre dossier à partir de votre identité"),
    AccessKind.EMERGENCY_ACCESS: N_("L'ouverture de votre dossier en urgence"),
    AccessKind.AGENDA: N_("Vos rendez-vous"),
    AccessKind.MESSAGES: N_("Vos messages"),
}

# For the patient, about the people who read their record.
GROUNDS_FOR_PATIENT = {
    AccessGround.CARE_TEAM: N_("Membre de votre équipe de soins (ajouté par vous)"),
    AccessGround.DECLARED: N_("Relation de soins déclarée par le professionnel"),
    AccessGround.TREATING_DOCTOR: N_("Votre médecin traitant"),
    AccessGround.EMERGENCY: N_("Accès d'urgence"),
    AccessGround.AUTHOR: N_("Auteur du document"),
    AccessGround.APP: N_("Application que vous avez autorisée"),
    AccessGround.PROXY: N_("Personne que vous avez habilitée"),
    AccessGround.SELF: N_("Vous-même"),
}

# For a professional, about their own access to a patient's record.
GROUNDS_FOR_PROFESSIONAL = {
    AccessGround.CARE_TEAM: N_("Équipe de soins (ajouté par le patient)"),
    AccessGround.DECLARED: N_("Relation de soins déclarée"),
    AccessGround.TREATING_DOCTOR: N_("Médecin traitant"),
    AccessGround.EMERGENCY: N_("Accès d'urgence"),
    AccessGround.AUTHOR: N_("Auteur de documents"),
    AccessGround.APP: N_("Application autorisée par le patient"),
    AccessGround.PROXY: N_("Personne habilitée par le patient"),
    AccessGround.SELF: N_("Le patient lui-même"),
}
