"""French labels (msgids, backend/i18n.py) of the access domain's enums. The web app's lists come
from here (`referenceData`), translated per request."""

from __future__ import annotations

from backend.access.models import RelationshipOrigin
from backend.access.policy import Section
from backend.i18n import N_

SECTIONS = {
    Section.ALLERGIES: N_("Allergies"),
    Section.VACCINATIONS: N_("Vaccinations"),
    Section.MEDICAL_HISTORY: N_("Antécédents médicaux"),
    Section.FAMILY_HISTORY: N_("Antécédents familiaux"),
    Section.TREATMENTS: N_("Traitements"),
    Section.MEASUREMENTS: N_("Mesures"),
    Section.EMERGENCY_CONTACTS: N_("Contacts d'urgence"),
    Section.ADVANCE_DIRECTIVE: N_("Directives anticipées"),
    Section.ORGAN_DONATION: N_("Don d'organes"),
}

# For the patient, about a member of their care team.
RELATIONSHIP_ORIGINS = {
    RelationshipOrigin.CARE_TEAM: N_("Ajouté par vous"),
    RelationshipOrigin.DECLARED: N_("A déclaré vous suivre"),
}
