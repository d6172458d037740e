"""What the pages of the "Espace professionnel" share: their routes, the French label of each
access ground, the guard that keeps them for professionals, and the INS identity traits form
(declaring a care relationship, emergency access).

Not a state class: each page has its own state (a direct substate of `SessionState`, so
signing out resets it like every other page's).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import quote, unquote

import reflex as rx
from reflex.event import EventSpec

from carnet_web.i18n import N_, gettext
from carnet_web.routes import (  # noqa: E402,F401  (re-exported)
    PRO_DECLARE_ROUTE,
    PRO_EMERGENCY_ROUTE,
    PRO_PATIENT_PREFIX,
    PRO_RECORD_ROUTE,
)
from carnet_web.state.formatting import today_here, wait_text
from carnet_web.state.session import (
    HOME_ROUTE,
    PROFESSIONAL_ROLE,
    SessionState,
)

GROUND_LABELS: Final = {
    "CARE_TEAM": N_("Équipe de soins (ajouté par le patient)"),
    "DECLARED": N_("Relation de soins déclarée"),
    "TREATING_DOCTOR": N_("Médecin traitant"),
    "EMERGENCY": N_("Accès d'urgence"),
    "AUTHOR": N_("Auteur de documents"),
}

# --- identity traits ----------------------------------------------------------------------

MAX_BIRTH_NAME: Final = 100
MISSING_MATRICULE: Final = N_("Saisissez le matricule INS du patient.")
MALFORMED_MATRICULE: Final = N_(
    "Le matricule INS compte 15 caractères : les 13 du numéro de sécurité sociale et la clé "
    "de 2 chiffres."
)
MISSING_BIRTH_NAME: Final = N_("Saisissez le nom de naissance du patient.")
LONG_BIRTH_NAME: Final = N_("Le nom de naissance dépasse {max} caractères.")
MISSING_BIRTH_DATE: Final = N_("Saisissez la date de naissance du patient.")
INVALID_BIRTH_DATE: Final = N_("La date de naissance n'est pas valide (jj/mm/aaaa).")
FUTURE_BIRTH_DATE: Final = N_("La date de naissance ne peut pas être dans le futur.")
#: The one answer for any trait that does not match (the API does not say which either).
IDENTITY_MISMATCH: Final = N_(
    "Aucun patient ne correspond à ces traits d'identité. Vérifiez le matricule INS, le nom "
    "de naissance et la date de naissance, tels qu'ils figurent sur la carte Vitale ou la "
    "pièce d'identité du patient."
)


def too_many_matches_message(seconds: int, language: str = "fr") -> str:
    return gettext(language, "Trop d'identifications de patient ont échoué récemment. Vérifiez "
                   "les traits d'identité et réessayez dans {wait}.",
                   wait=wait_text(seconds, language))


@dataclass(frozen=True)
class TraitsError:
    field: str  # 'insMatricule', 'birthName', 'birthDate'
    message: str


def parse_traits(form: Mapping[str, Any], *, today: date | None = None, language: str = "fr"
                 ) -> dict[str, str] | TraitsError:
    """The `PatientIdentityInput` from the form's fields, or the first thing to fix.

    Only the form is checked here (something missing, a matricule that cannot be one, a date
    that is not one): whether a patient matches is for the API to say, in one answer."""
    matricule = re.sub(r"[\s.-]", "", str(form.get("insMatricule") or "")).upper()
    birth_name = " ".join(str(form.get("birthName") or "").split())
    raw_date = str(form.get("birthDate") or "").strip()
    def error(field: str, message: str, **values: Any) -> TraitsError:
        return TraitsError(field, gettext(language, message, **values))

    if not matricule:
        return error("insMatricule", MISSING_MATRICULE)
    if not re.fullmatch(r"[0-9][0-9AB]{12}[0-9]{2}", matricule):
        return error("insMatricule", MALFORMED_MATRICULE)
    if not birth_name:
        return error("birthName", MISSING_BIRTH_NAME)
    if len(birth_name) > MAX_BIRTH_NAME:
        return error("birthName", LONG_BIRTH_NAME, max=MAX_BIRTH_NAME)
    if not raw_date:
        return error("birthDate", MISSING_BIRTH_DATE)
    birth_date = _parse_day(raw_date)
    if birth_date is None:
        return error("birthDate", INVALID_BIRTH_DATE)
    if birth_date > (today or today_here()):
        return error("birthDate", FUTURE_BIRTH_DATE)
    return {"insMatricule": matricule, "birthName": birth_name,
            "birthDate": birth_date.isoformat()}


def _parse_day(value: str) -> date | None:
    """'1985-03-02' (a date input) or '02/03/1985' (typed by hand)."""
    match = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", value)
    try:
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        return date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
    except ValueError:
        return None


def identity_error_message(result: Mapping[str, Any], language: str = "fr") -> str | None:
    """The message for the identity errors both mutations share; None for others."""
    kind = result.get("__typename")
    if kind == "PatientNotFound":
        return gettext(language, IDENTITY_MISMATCH)
    if kind == "TooManyFailedIdentityMatches":
        return too_many_matches_message(int(result.get("retryAfterSeconds") or 60), language)
    return None


# --- routes and guard -----------------------------------------------------------------------


def record_href(patient_id: str) -> str:
    return f"{PRO_PATIENT_PREFIX}/{quote(patient_id, safe='')}"


def route_patient_id(path: str) -> str:
    """'/pro/patients/<id>' -> '<id>' ('' for any other path)."""
    prefix = PRO_PATIENT_PREFIX + "/"
    if not path.startswith(prefix):
        return ""
    return unquote(path[len(prefix):].strip("/"))


def require_professional(state: SessionState) -> EventSpec | None:
    """For professional pages: the login page without a session, home for a patient, or
    None. (The API refuses a patient all the same: this only spares them an empty page; an
    unknown role, when the API could not say at sign-in, is left for the API to judge.)"""
    if (redirect := state._require_session()) is not None:
        return redirect
    if state.account_role not in (PROFESSIONAL_ROLE, ""):
        return rx.redirect(HOME_ROUTE)
    return None
