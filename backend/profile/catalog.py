"""What each measurement is: LOINC code, UCUM unit, label and physiological bounds.

Bounds reject typing mistakes (a weight of 0 or 900 kg), not unusual patients: they are wide on
purpose. BMI is derived (weight / height²), never entered.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.profile.models import MeasurementKind

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

BLOOD_PRESSURE_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
BMI_LOINC = "39156-5"
BMI_UNIT = "kg/m2"


@dataclass(frozen=True)
class Bounds:
    minimum: Decimal
    maximum: Decimal


@dataclass(frozen=True)
class MeasurementSpec:
    kind: MeasurementKind
    loinc: str
    display: str  # LOINC display name (English)
    label: str  # French label for messages
    unit: str  # UCUM code
    unit_label: str  # as shown to people
    bounds: Bounds
    category: str = "vital-signs"  # FHIR observation-category
    # second value (diastolic) for blood pressure
    bounds2: Bounds | None = None


def _b(low: str, high: str) -> Bounds:
    return Bounds(Decimal(low), Decimal(high))


SPECS: dict[MeasurementKind, MeasurementSpec] = {
    spec.kind: spec
    for spec in (
        MeasurementSpec(MeasurementKind.WEIGHT, "29463-7", "Body weight", "Poids", "kg", "kg",
                        _b("0.3", "500")),
        MeasurementSpec(MeasurementKind.HEIGHT, "8302-2", "Body height", "Taille", "cm", "cm",
                        _b("20", "275")),
        MeasurementSpec(MeasurementKind.BLOOD_PRESSURE, BLOOD_PRESSURE_PANEL,
                        "Blood pressure panel with all children optional",
                        "Tension artérielle systolique", "mm[Hg]", "mmHg", _b("40", "300"),
                        bounds2=_b("20", "200")),
        MeasurementSpec(MeasurementKind.HEART_RATE, "8867-4", "Heart rate",
                        "Fréquence cardiaque", "/min", "battements/min", _b("20", "300")),
        MeasurementSpec(MeasurementKind.BLOOD_GLUCOSE, "2339-0",
                        "Glucose [Mass/volume] in Blood", "Glycémie", "g/L", "g/L",
                        _b("0.1", "10"), category="laboratory"),
        MeasurementSpec(MeasurementKind.TEMPERATURE, "8310-5", "Body temperature",
                        "Température", "Cel", "°C", _b("25", "45")),
        MeasurementSpec(MeasurementKind.WAIST, "8280-0", "Waist Circumference at umbilicus by "
                        "Tape measure", "Tour de taille", "cm", "cm", _b("20", "300")),
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


def french_number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",")
