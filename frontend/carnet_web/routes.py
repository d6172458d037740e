"""Every address of the web app, in one place (pages register themselves on these; links and
redirects use them). French paths: they are what a French patient reads in the address bar."""

from __future__ import annotations

from typing import Final

HOME_ROUTE: Final = "/"
LOGIN_ROUTE: Final = "/connexion"
CODE_ROUTE: Final = "/connexion/code"
PSC_LANDING_ROUTE: Final = "/connexion/psc"
FORGOT_PASSWORD_ROUTE: Final = "/mot-de-passe-oublie"  # noqa: S105 (a path)
# The public page of the opt-out campaigns' notices (CAMPAIGN_PAGE_URL): activate or refuse.
ACTIVATION_ROUTE: Final = "/activation"
ACCOUNT_ROUTE: Final = "/mon-compte"
SESSIONS_ROUTE: Final = "/sessions"
DOCUMENTS_ROUTE: Final = "/documents"
DOCUMENT_VIEW_ROUTE: Final = "/documents/[document_id]"
PROFILE_ROUTE: Final = "/profil"
MESSAGING_ROUTE: Final = "/messagerie"
CONVERSATION_ROUTE: Final = "/messagerie/[conversation_id]"
AGENDA_ROUTE: Final = "/agenda"
CARE_TEAM_ROUTE: Final = "/equipe-de-soins"
ACCESS_HISTORY_ROUTE: Final = "/historique-des-acces"
# Health apps (issue 14): the public catalogue, an app's page, the OAuth consent page (where
# the API's GET /oauth/authorize sends the browser: backend/settings.py CONSENT_PAGE_PATH) and
# the apps I authorised.
CATALOGUE_ROUTE: Final = "/catalogue"
CATALOGUE_APP_ROUTE: Final = "/catalogue/[app_id]"
AUTHORIZATION_ROUTE: Final = "/autorisation"
CONNECTED_APPS_ROUTE: Final = "/applications-connectees"
# Carers (issue 15 part 9): who I let help with my space.
CARERS_ROUTE: Final = "/mes-aidants"

# The professional area ("Espace professionnel").
PRO_HOME_ROUTE: Final = "/pro"  # my patients
PRO_PATIENT_PREFIX: Final = PRO_HOME_ROUTE + "/patients"
PRO_RECORD_ROUTE: Final = PRO_PATIENT_PREFIX + "/[patient_id]"
PRO_DECLARE_ROUTE: Final = PRO_HOME_ROUTE + "/declarer"
PRO_EMERGENCY_ROUTE: Final = PRO_HOME_ROUTE + "/urgence"
PRO_AGENDA_ROUTE: Final = PRO_HOME_ROUTE + "/agenda"


def document_view_path(document_id: str) -> str:
    return DOCUMENTS_ROUTE + "/" + document_id


def conversation_path(conversation_id: str) -> str:
    return MESSAGING_ROUTE + "/" + conversation_id


def pro_record_path(patient_id: str) -> str:
    return PRO_PATIENT_PREFIX + "/" + patient_id


def catalogue_app_path(app_id: str) -> str:
    return CATALOGUE_ROUTE + "/" + app_id
