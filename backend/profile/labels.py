"""French labels (msgids, backend/i18n.py) of the profile's enums, as people read them: the web
app's choice lists come from here (`referenceData`), translated per request."""

from __future__ import annotations

from backend.i18n import N_
from backend.profile.models import (
    AllergyCategory,
    AllergyKind,
    HistoryCategory,
    OrganDonationPosition,
    Relative,
    Severity,
)

ALLERGY_KINDS = {
    AllergyKind.ALLERGY: N_("Allergie"),
    AllergyKind.INTOLERANCE: N_("Intolérance"),
}
ALLERGY_CATEGORIES = {
    AllergyCategory.FOOD: N_("Alimentaire"),
    AllergyCategory.MEDICATION: N_("Médicament"),
    AllergyCategory.ENVIRONMENT: N_("Environnement (pollens, acariens, animaux…)"),
    AllergyCategory.BIOLOGIC: N_("Produit biologique (vaccin, sérum…)"),
}
SEVERITIES = {
    Severity.MILD: N_("Légère"),
    Severity.MODERATE: N_("Modérée"),
    Severity.SEVERE: N_("Sévère"),
}
HISTORY_CATEGORIES = {
    HistoryCategory.MEDICAL: N_("Médical"),
    HistoryCategory.SURGICAL: N_("Chirurgical"),
}
RELATIVES = {
    Relative.MOTHER: N_("Mère"),
    Relative.FATHER: N_("Père"),
    Relative.SISTER: N_("Sœur"),
    Relative.BROTHER: N_("Frère"),
    Relative.SIBLING: N_("Frère ou sœur"),
    Relative.DAUGHTER: N_("Fille"),
    Relative.SON: N_("Fils"),
    Relative.CHILD: N_("Enfant"),
    Relative.GRANDMOTHER: N_("Grand-mère"),
    Relative.GRANDFATHER: N_("Grand-père"),
    Relative.AUNT: N_("Tante"),
    Relative.UNCLE: N_("Oncle"),
    Relative.COUSIN: N_("Cousin ou cousine"),
    Relative.FAMILY_MEMBER: N_("Autre membre de la famille"),
}
ORGAN_DONATION_POSITIONS = {
    OrganDonationPosition.CONSENTS: N_("J'accepte de donner mes organes et tissus"),
    OrganDonationPosition.REFUSES: N_("Je refuse de donner mes organes et tissus"),
    OrganDonationPosition.UNDECIDED: N_("Je n'ai pas encore pris ma décision"),
}

# Every labelled enum, with its labels (the catalogue test checks each value has one).
ENUM_LABELS = {
    AllergyKind: ALLERGY_KINDS,
    AllergyCategory: ALLERGY_CATEGORIES,
    Severity: SEVERITIES,
    HistoryCategory: HISTORY_CATEGORIES,
    Relative: RELATIVES,
    OrganDonationPosition: ORGAN_DONATION_POSITIONS,
}
