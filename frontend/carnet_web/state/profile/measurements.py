"""Measurements: the fields each kind asks (one value in its unit; a blood pressure's systolic
and diastolic pressures), how a measurement is written, and the API's out-of-range error in
words, in the tab's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from carnet_web.i18n import N_, gettext
from carnet_web.state.formatting import number_text
from carnet_web.state.profile.labels import (
    DEFAULT_MEASUREMENT,
    MEASUREMENTS,
    measurement_label,
    measurement_unit,
)

DIASTOLIC_NOT_BELOW: Final = N_("La pression diastolique doit être inférieure à la systolique.")
VALUE_DIGITS: Final = 3  # decimals kept when a value is shown in a form or a message


def value_label(kind: str, field: str = "value") -> str:
    """The French label of a measurement's value field for `kind` ('Poids (kg)',
    'Pression systolique (mmHg)'...), 'Valeur' for an unknown kind."""
    spec = MEASUREMENTS.get(kind)
    if spec is None:
        return N_("Valeur")
    if field == "diastolic":
        return spec.second_label or N_("Pression diastolique (mmHg)")
    return spec.value_label


def chosen_kind(value: object) -> str:
    """A kind the form knows (the default one for anything else)."""
    kind = str(value or "")
    return kind if kind in MEASUREMENTS else DEFAULT_MEASUREMENT


def measured_label(kind: str, field: str, language: str) -> str:
    """What was measured, as a sentence names it: 'Poids', 'Tension artérielle diastolique'."""
    if kind == "BLOOD_PRESSURE":
        label = (N_("Tension artérielle diastolique") if field == "diastolic"
                 else N_("Tension artérielle systolique"))
        return gettext(language, label)
    return measurement_label(kind, language) or gettext(language, "Valeur")


def measurement_value(raw: Mapping[str, Any], language: str) -> str:
    """'72,5' / '72.5'; '128/82' for a blood pressure."""
    value = number_text(float(raw["value"]), language, digits=VALUE_DIGITS)
    if raw.get("diastolic") is not None:
        value += "/" + number_text(float(raw["diastolic"]), language, digits=VALUE_DIGITS)
    return value


def measurement_title(raw: Mapping[str, Any], language: str) -> str:
    """'Poids : 72,5 kg' / 'Weight: 72.5 kg'; 'Tension artérielle : 128/82 mmHg'."""
    kind = str(raw.get("kind") or "")
    label = (measurement_label(kind, language) or str(raw.get("label") or "")
             or gettext(language, "Mesure"))
    unit = measurement_unit(kind, language) or str(raw.get("unitLabel") or "")
    return gettext(language, "{label} : {value} {unit}", label=label,
                   value=measurement_value(raw, language), unit=unit).strip()


def out_of_range_message(result: Mapping[str, Any], *, kind: str, value: float | None,
                         language: str = "fr") -> str:
    """'Poids hors des limites physiologiques : 900 kg (valeurs acceptées de 0,3 à 500 kg).'"""
    field = str(result.get("field") or "value")
    unit = measurement_unit(kind, language) or str(result.get("unit") or "")
    label = measured_label(kind, field, language)
    low, high = result.get("minimum"), result.get("maximum")
    entered = number_text(value, language, digits=VALUE_DIGITS) if value is not None else "?"
    if low is None or high is None:
        return gettext(language, "{label} hors des limites physiologiques : {value} {unit}.",
                       label=label, value=entered, unit=unit)
    return gettext(
        language,
        "{label} hors des limites physiologiques : {value} {unit} (valeurs acceptées de {low} "
        "à {high} {unit}).",
        label=label, value=entered, unit=unit,
        low=number_text(float(low), language, digits=VALUE_DIGITS),
        high=number_text(float(high), language, digits=VALUE_DIGITS),
    )
