"""The measurement charts: one per series the API gives (`measurements(kind:)`, oldest first;
BMI is derived by the API from each weight and the latest height measured before it).

Recharts draws in the browser, which knows nothing of the tab's language: everything a chart
writes is made here, in the tab's language, with state/formatting.py. The x axis shows each
point's `label` ("1er juin" / "1 June"); the y axis's ticks are chosen here and written by
`tick_labels` ("72,5" / "72.5"); the tooltip shows the point's `when` and `value_text`. The
same values are in `rows`, for the table under each chart (screen readers, and anyone).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Final

from carnet_web.i18n import N_, gettext
from carnet_web.state.formatting import datetime_text, number_text, short_day_text
from carnet_web.state.profile.labels import BMI_LABEL, measurement_unit

TICK_COUNT: Final = 5  # about this many values on the y axis


@dataclasses.dataclass(frozen=True)
class ChartSpec:
    kind: str  # a MeasurementSeriesKind
    title: str  # French msgid
    # The lines drawn: (data key, legend msgid); "value" for all, plus "diastolic" for the
    # blood pressure (its legend tells them apart).
    lines: tuple[tuple[str, str], ...] = (("value", ""),)

    @property
    def element_id(self) -> str:
        return "chart-" + self.kind.lower().replace("_", "-")


#: One chart per measurement series, in this order.
CHARTS: Final = (
    ChartSpec("WEIGHT", N_("Poids")),
    ChartSpec("BMI", BMI_LABEL),
    ChartSpec("HEIGHT", N_("Taille")),
    ChartSpec("WAIST", N_("Tour de taille")),
    ChartSpec("BLOOD_PRESSURE", N_("Tension artérielle"),
              (("value", N_("Systolique")), ("diastolic", N_("Diastolique")))),
    ChartSpec("HEART_RATE", N_("Fréquence cardiaque")),
    ChartSpec("BLOOD_GLUCOSE", N_("Glycémie")),
    ChartSpec("TEMPERATURE", N_("Température")),
)
CHART_KINDS: Final = tuple(chart.kind for chart in CHARTS)
BY_KIND: Final = {chart.kind: chart for chart in CHARTS}


@dataclasses.dataclass(frozen=True)
class ChartRow:
    """One line of a chart's table."""

    when: str  # '1er juin 2026 à 08:00'
    value: str  # '72,5 kg', or the systolic pressure
    second: str = ""  # the diastolic pressure


@dataclasses.dataclass(frozen=True)
class ChartView:
    """What one chart shows, all written in the tab's language."""

    title: str = ""  # 'Poids (kg)'
    unit: str = ""
    # For recharts: {'label', 'when', 'value', 'diastolic', 'value_text', 'diastolic_text'}.
    points: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    ticks: list[float] = dataclasses.field(default_factory=list)
    # The y axis's tick values (as JavaScript writes the number: '70', '72.5') -> their text.
    tick_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    domain: list[float] = dataclasses.field(default_factory=list)
    summary: str = ""  # the chart in words: count and latest value
    rows: list[ChartRow] = dataclasses.field(default_factory=list)


def tick_key(value: float) -> str:
    """A number as JavaScript's `String(value)` writes it ('70', '72.5'), the key the y axis's
    tick formatter looks its text up by."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def nice_ticks(low: float, high: float, count: int = TICK_COUNT) -> list[float]:
    """Round values (steps of 1, 2, 2.5 or 5 times a power of ten) from below `low` to above
    `high`, about `count` of them."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.05 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step + 1e-9) * step
    steps = math.ceil((high - start) / step - 1e-9)
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(start + index * step, digits) for index in range(steps + 1)]


def _number(value: float, unit: str, language: str) -> str:
    return gettext(language, "{value} {unit}", value=number_text(value, language, digits=2),
                   unit=unit).strip()


def chart_view(chart: ChartSpec, series: Mapping[str, Any] | None, language: str) -> ChartView:
    """One series from the API as what its chart shows, in `language`."""
    unit = measurement_unit(chart.kind, language)
    title = gettext(language, "{title} ({unit})", title=gettext(language, chart.title),
                    unit=unit)
    points: list[dict[str, Any]] = []
    rows: list[ChartRow] = []
    values: list[float] = []
    for point in (series or {}).get("points") or []:
        at = str(point.get("at") or "")
        label = short_day_text(at, language)
        if not label:
            continue
        value = float(point["value"])
        diastolic = point.get("diastolic")
        second = float(diastolic) if diastolic is not None else None
        when = datetime_text(at, language)
        value_text = _number(value, unit, language)
        second_text = _number(second, unit, language) if second is not None else ""
        points.append({"label": label, "when": when, "value": value, "diastolic": second,
                       "value_text": value_text, "diastolic_text": second_text})
        rows.append(ChartRow(when=when, value=value_text, second=second_text))
        values += [value] if second is None else [value, second]
    if not points:
        return ChartView(title=title, unit=unit)
    ticks = nice_ticks(min(values), max(values))
    return ChartView(
        title=title,
        unit=unit,
        points=points,
        ticks=ticks,
        tick_labels={tick_key(tick): number_text(tick, language, digits=2) for tick in ticks},
        domain=[ticks[0], ticks[-1]] if ticks else [],
        summary=chart_summary(chart, series, language),
        rows=rows,
    )


def chart_summary(chart: ChartSpec, series: Mapping[str, Any] | None, language: str) -> str:
    """The chart in words: '3 mesures ; dernière : 70,9 kg le 9 mars 2026 à 08:00.'"""
    points = [p for p in (series or {}).get("points") or [] if p.get("at")]
    if not points:
        return ""
    last = points[-1]
    unit = measurement_unit(chart.kind, language)
    value = number_text(float(last["value"]), language, digits=2)
    if last.get("diastolic") is not None:
        value += "/" + number_text(float(last["diastolic"]), language, digits=2)
    count = len(points)
    message = N_("{n} mesure ; dernière : {value} {unit} le {when}.") if count == 1 else N_(
        "{n} mesures ; dernière : {value} {unit} le {when}.")
    return gettext(language, message, n=count, value=value, unit=unit,
                   when=datetime_text(str(last["at"]), language))


def empty_charts() -> dict[str, ChartView]:
    return {kind: ChartView() for kind in CHART_KINDS}
