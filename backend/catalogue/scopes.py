"""The scopes an app may ask for (issue 14): what part of the record it reads or writes.

One list, here: an app's request is checked against it when an operator submits the app, the
catalogue shows each scope's plain-French label (translated with the request's language), and
the OAuth server, consent page and per-field scope checks of later parts of issue 14 build on
it. A scope never grants more than the patient's own reading of the record allows.
"""

from __future__ import annotations

from enum import StrEnum

from backend import app_scopes
from backend.i18n import N_


class Scope(StrEnum):
    # The names are the core's (backend/app_scopes.py), with which every field declares.
    PROFILE_READ = app_scopes.PROFILE_READ
    PROFILE_MEASUREMENTS_WRITE = app_scopes.PROFILE_MEASUREMENTS_WRITE
    DOCUMENTS_READ = app_scopes.DOCUMENTS_READ
    DOCUMENTS_WRITE = app_scopes.DOCUMENTS_WRITE
    AGENDA_READ = app_scopes.AGENDA_READ
    AGENDA_WRITE = app_scopes.AGENDA_WRITE
    MESSAGES_READ = app_scopes.MESSAGES_READ


# What the patient is told the app may do (consent page, catalogue), in plain French.
LABELS: dict[Scope, str] = {
    Scope.PROFILE_READ: N_("Lire votre profil médical (allergies, traitements, mesures...)"),
    Scope.PROFILE_MEASUREMENTS_WRITE: N_("Ajouter des mesures (poids, tension...) à votre "
                                         "profil"),
    Scope.DOCUMENTS_READ: N_("Lire vos documents de santé"),
    Scope.DOCUMENTS_WRITE: N_("Ajouter des documents à votre dossier"),
    Scope.AGENDA_READ: N_("Lire vos rendez-vous"),
    Scope.AGENDA_WRITE: N_("Prendre, déplacer et annuler vos rendez-vous"),
    Scope.MESSAGES_READ: N_("Lire vos messages avec vos soignants"),
}

KNOWN: frozenset[str] = frozenset(s.value for s in Scope)
