"""What the API's enums of the profile are called, and what each measurement kind measures, in
French (the catalogue's msgids, marked with `N_`: translated where they are shown).

These are local copies of what the API knows: the API is getting a `referenceData` query
(labels, kinds, units and bounds in the asked language) on branch h-apii18n; when it lands,
these tables give way to it.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from carnet_web.i18n import N_, gettext

Choices = tuple[tuple[str, str], ...]

ALLERGY_KINDS: Final[Choices] = (("ALLERGY", N_("Allergie")),
                                 ("INTOLERANCE", N_("Intolérance")))
ALLERGY_CATEGORIES: Final[Choices] = (
    ("FOOD", N_("Alimentaire")),
    ("MEDICATION", N_("Médicament")),
    ("ENVIRONMENT", N_("Environnement (pollens, acariens, animaux…)")),
    ("BIOLOGIC", N_("Produit biologique (vaccin, sérum…)")),
)
SEVERITIES: Final[Choices] = (("MILD", N_("Légère")), ("MODERATE", N_("Modérée")),
                              ("SEVERE", N_("Sévère")))
HISTORY_CATEGORIES: Final[Choices] = (("MEDICAL", N_("Médical")),
                                      ("SURGICAL", N_("Chirurgical")))
RELATIVES: Final[Choices] = (
    ("MOTHER", N_("Mère")),
    ("FATHER", N_("Père")),
    ("SISTER", N_("Sœur")),
    ("BROTHER", N_("Frère")),
    ("SIBLING", N_("Frère ou sœur")),
    ("DAUGHTER", N_("Fille")),
    ("SON", N_("Fils")),
    ("CHILD", N_("Enfant")),
    ("GRANDMOTHER", N_("Grand-mère")),
    ("GRANDFATHER", N_("Grand-père")),
    ("AUNT", N_("Tante")),
    ("UNCLE", N_("Oncle")),
    ("COUSIN", N_("Cousin ou cousine")),
    ("FAMILY_MEMBER", N_("Autre membre de la famille")),
)
ORGAN_POSITIONS: Final[Choices] = (
    ("CONSENTS", N_("J'accepte de donner mes organes et tissus")),
    ("REFUSES", N_("Je refuse de donner mes organes et tissus")),
    ("UNDECIDED", N_("Je n'ai pas encore pris ma décision")),
)


@dataclasses.dataclass(frozen=True)
class MeasurementKindSpec:
    """One kind of measurement: what the form asks and how a value is written."""

    kind: str  # the API's MeasurementKind
    label: str  # 'Poids'
    unit: str  # as shown: 'kg' (fixed per kind: the API converts imported values)
    value_label: str  # the form's value field: 'Poids (kg)'
    example: str  # the value field's placeholder
    # Blood pressure only: the second value's field.
    second_label: str = ""
    second_example: str = ""

    @property
    def two_values(self) -> bool:
        return bool(self.second_label)


#: Every kind the form offers, in this order; its value fields follow the chosen kind.
MEASUREMENT_KINDS: Final = (
    MeasurementKindSpec("WEIGHT", N_("Poids"), "kg", N_("Poids (kg)"), N_("Ex. : 72,5")),
    MeasurementKindSpec("HEIGHT", N_("Taille"), "cm", N_("Taille (cm)"), N_("Ex. : 172")),
    MeasurementKindSpec(
        "BLOOD_PRESSURE", N_("Tension artérielle"), "mmHg",
        N_("Pression systolique (mmHg)"), N_("Ex. : 128"),
        second_label=N_("Pression diastolique (mmHg)"), second_example=N_("Ex. : 82"),
    ),
    MeasurementKindSpec("HEART_RATE", N_("Fréquence cardiaque"), N_("battements/min"),
                        N_("Fréquence cardiaque (battements/min)"), N_("Ex. : 64")),
    MeasurementKindSpec("BLOOD_GLUCOSE", N_("Glycémie"), "g/L", N_("Glycémie (g/L)"),
                        N_("Ex. : 0,95")),
    MeasurementKindSpec("TEMPERATURE", N_("Température"), "°C", N_("Température (°C)"),
                        N_("Ex. : 37,2")),
    MeasurementKindSpec("WAIST", N_("Tour de taille"), "cm", N_("Tour de taille (cm)"),
                        N_("Ex. : 84")),
)
MEASUREMENTS: Final = {spec.kind: spec for spec in MEASUREMENT_KINDS}
DEFAULT_MEASUREMENT: Final = "WEIGHT"
BMI_LABEL: Final = N_("Indice de masse corporelle (IMC)")
BMI_UNIT: Final = "kg/m²"


def choice_label(choices: Choices, value: object, language: str) -> str:
    """The label of an enum value in `language`; '' for none or an unknown one."""
    label = dict(choices).get(str(value or ""), "")
    return gettext(language, label) if label else ""


def measurement_label(kind: str, language: str) -> str:
    spec = MEASUREMENTS.get(kind)
    return gettext(language, spec.label) if spec else ""


def measurement_unit(kind: str, language: str) -> str:
    """The unit as people read it: 'kg', 'battements/min' / 'beats/min'."""
    if kind == "BMI":
        return BMI_UNIT
    spec = MEASUREMENTS.get(kind)
    return gettext(language, spec.unit) if spec else ""
