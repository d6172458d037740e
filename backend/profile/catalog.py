"""What each measurement is: LOINC code, UCUM unit, label and physiological bounds.

Bounds reject typing mistakes (a weight of 0 or 900 kg), not unusual patients: they are wide on
purpose. BMI is derived (weight / height²), never entered. Labels and unit labels are French
msgids (backend/i18n.py), translated where they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.i18n import N_
from backend.profile.models import MeasurementKind

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

BLOOD_PRESSURE_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
BMI_LOINC = "39156-5"
BMI_UNIT = "kg/m2"
BMI_LABEL = N_("Indice de masse corporelle")
BMI_UNIT_LABEL = N_("kg/m²")
DIASTOLIC_LABEL = N_("Tension artérielle diastolique")


@dataclass(frozen=True)
class Bounds:
    minimum: Decimal
    maximum: Decimal


@dataclass(frozen=True)
class MeasurementSpec:
    kind: MeasurementKind
    loinc: str
    display: str  # LOINC display name (English)
    label: str  # French label for messages (msgid)
    unit: str  # UCUM code
    unit_label: str  # as shown to people (msgid)
    bounds: Bounds
    category: str = "vital-signs"  # FHIR observation-category
    # second value (diastolic) for blood pressure
    bounds2: Bounds | None = None
    # The kind's name in lists and charts (msgid), when it differs from `label` (blood
    # pressure: "Tension artérielle", whose first value is the systolic one).
    name: str | None = None

    @property
    def title(self) -> str:
        return self.name or self.label


def _b(low: str, high: str) -> Bounds:
    return Bounds(Decimal(low), Decimal(high))


SPECS: dict[MeasurementKind, MeasurementSpec] = {
    spec.kind: spec
    for spec in (
        MeasurementSpec(MeasurementKind.WEIGHT, "29463-7", "Body weight", N_("Poids"), "kg",
                        N_("kg"), _b("0.3", "500")),
        MeasurementSpec(MeasurementKind.HEIGHT, "8302-2", "Body height", N_("Taille"), "cm",
                        N_("cm"), _b("20", "275")),
        MeasurementSpec(MeasurementKind.BLOOD_PRESSURE, BLOOD_PRESSURE_PANEL,
                        "Blood pressure panel with all children optional",
                        N_("Tension artérielle systolique"), "mm[Hg]", N_("mmHg"),
                        _b("40", "300"), bounds2=_b("20", "200"),
                        name=N_("Tension artérielle")),
        MeasurementSpec(MeasurementKind.HEART_RATE, "8867-4", "Heart rate",
                        N_("Fréquence cardiaque"), "/min", N_("battements/min"), _b("20", "300")),
        MeasurementSpec(MeasurementKind.BLOOD_GLUCOSE, "2339-0",
                        "Glucose [Mass/volume] in Blood", N_("Glycémie"), "g/L", N_("g/L"),
                        _b("0.1", "10"), category="laboratory"),
        MeasurementSpec(MeasurementKind.TEMPERATURE, "8310-5", "Body temperature",
                        N_("Température"), "Cel", N_("°C"), _b("25", "45")),
        MeasurementSpec(MeasurementKind.WAIST, "8280-0", "Waist Circumference at umbilicus by "
                        "Tape measure", N_("Tour de taille"), "cm", N_("cm"), _b("20", "300")),
    )
}

BY_LOINC = {spec.loinc: spec for spec in SPECS.values()}

# Units accepted on import, converted to the canonical unit: (kind, UCUM code) -> factor.
CONVERSIONS: dict[tuple[MeasurementKind, str], Decimal] = {
    (MeasurementKind.WEIGHT, "kg"): Decimal(1),
    (MeasurementKind.WEIGHT, "g"): Decimal("0.001"),
    (MeasurementKind.HEIGHT, "cm"): Decimal(1),
    (MeasurementKind.HEIGHT, "m"): Decimal(100),
    (MeasurementKind.WAIST, "cm"): Decimal(1),
    (MeasurementKind.WAIST, "m"): Decimal(100),
    (MeasurementKind.BLOOD_PRESSURE, "mm[Hg]"): Decimal(1),
    (MeasurementKind.HEART_RATE, "/min"): Decimal(1),
    (MeasurementKind.HEART_RATE, "{beats}/min"): Decimal(1),
    (MeasurementKind.BLOOD_GLUCOSE, "g/L"): Decimal(1),
    (MeasurementKind.BLOOD_GLUCOSE, "mg/dL"): Decimal("0.01"),
    (MeasurementKind.BLOOD_GLUCOSE, "mmol/L"): Decimal("0.18016"),
    (MeasurementKind.TEMPERATURE, "Cel"): Decimal(1),
}

# Other LOINC codes meaning the same measurement (accepted on import).
LOINC_ALIASES = {
    "3141-9": MeasurementKind.WEIGHT,  # Body weight Measured
    "8306-3": MeasurementKind.HEIGHT,  # Body height --lying
    "8308-9": MeasurementKind.HEIGHT,  # Body height --standing
    "15074-8": MeasurementKind.BLOOD_GLUCOSE,  # Glucose [Moles/volume] in Blood
    "2345-7": MeasurementKind.BLOOD_GLUCOSE,  # Glucose [Mass/volume] in Serum or Plasma
    "55284-4": MeasurementKind.BLOOD_PRESSURE,  # Blood pressure systolic and diastolic
}
