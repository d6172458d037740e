"""Measurement charts: one line chart (recharts) per series that has points, oldest first.

Recharts runs in the browser: every text a chart writes (axis ticks, tooltip, legend) is made
by the state in the tab's language ("72,5", "1er juin" / "72.5", "1 June") and only looked up
here. Each chart is a figure named by its title and described by its summary in words; the
drawing itself is hidden from screen readers, which get the same values as a table (under
"Voir les valeurs", for everyone).
"""

from __future__ import annotations

import reflex as rx
from reflex.vars.function import FunctionStringVar

from carnet_web.i18n import t
from carnet_web.state.profile import CHARTS, ChartSpec, ProfileState

# SVG attributes: plain colours (Radix indigo 9 and tomato 9), not CSS variables.
LINE_COLOURS = ("#3e63dd", "#e54d2e")
CHART_HEIGHT = 220

# The tooltip writes each value with the text the state made for it, and the point's date.
_TOOLTIP_VALUE = FunctionStringVar.create(
    "((value, name, item) => [(item && item.payload && item.payload[item.dataKey + '_text'])"
    " || String(value), name])"
)
_TOOLTIP_LABEL = FunctionStringVar.create(
    "((label, payload) => (payload && payload.length && payload[0].payload"
    " && payload[0].payload.when) || label)"
)


def _tick_formatter(chart: ChartSpec) -> FunctionStringVar:
    """The y axis's ticks, written as the state wrote them (the ticks are the state's too)."""
    labels = ProfileState.charts[chart.kind].tick_labels
    return FunctionStringVar.create(
        f"((value) => (({labels!s}) ?? {{}})[String(value)] ?? String(value))",
        _var_data=labels._get_all_var_data(),
    )


def _table(chart: ChartSpec) -> rx.Component:
    view = ProfileState.charts[chart.kind]
    two = len(chart.lines) > 1
    headers = [t(legend) for _, legend in chart.lines] if two else [t("Valeur")]
    return rx.el.details(
        rx.el.summary(t("Voir les valeurs"), class_name="chart-values-toggle",
                      cursor="pointer", width="fit-content"),
        rx.table.root(
            rx.el.caption(view.title, class_name="chart-values-caption",
                          style={"text_align": "start", "padding": "var(--space-2) 0"}),
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell(t("Date")),
                    *(rx.table.column_header_cell(header) for header in headers),
                ),
            ),
            rx.table.body(
                rx.foreach(
                    view.rows,
                    lambda row: rx.table.row(
                        rx.table.row_header_cell(row.when),
                        rx.table.cell(row.value),
                        *([rx.table.cell(row.second)] if two else []),
                    ),
                ),
            ),
            size="1",
            variant="ghost",
            width="100%",
            class_name="chart-values",
        ),
        width="100%",
    )


def _chart(chart: ChartSpec) -> rx.Component:
    view = ProfileState.charts[chart.kind]
    title_id = chart.element_id + "-title"
    summary_id = chart.element_id + "-summary"
    lines = [
        rx.recharts.line(
            data_key=key,
            name=t(legend) if legend else view.title,
            stroke=LINE_COLOURS[index % len(LINE_COLOURS)],
            stroke_width=2,
            type_="monotone",
            is_animation_active=False,
        )
        for index, (key, legend) in enumerate(chart.lines)
    ]
    return rx.cond(
        view.points.length() > 0,
        rx.card(
            rx.vstack(
                rx.heading(view.title, as_="h4", size="2", id=title_id),
                rx.box(
                    rx.recharts.line_chart(
                        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                        rx.recharts.x_axis(data_key="label", padding={"left": 24, "right": 24},
                                           min_tick_gap=16, interval="preserveStartEnd"),
                        rx.recharts.y_axis(domain=view.domain, ticks=view.ticks.to(list),
                                           interval=0, tick_formatter=_tick_formatter(chart),
                                           width=48),
                        rx.recharts.graphing_tooltip(custom_attrs={
                            "formatter": _TOOLTIP_VALUE, "labelFormatter": _TOOLTIP_LABEL}),
                        *([rx.recharts.legend()] if len(lines) > 1 else []),
                        *lines,
                        data=view.points,
                        width="100%",
                        height=CHART_HEIGHT,
                        margin={"top": 8, "right": 16, "bottom": 0, "left": 0},
                        # No keyboard layer: the drawing is hidden from screen readers (its
                        # values are in the table), so nothing in it may take the focus.
                        custom_attrs={"accessibilityLayer": False},
                    ),
                    width="100%",
                    height=f"{CHART_HEIGHT}px",
                    aria_hidden="true",  # said by the summary and the table
                    class_name="chart-drawing",
                ),
                rx.text(view.summary, size="2", id=summary_id, class_name="chart-summary"),
                _table(chart),
                spacing="2",
                width="100%",
            ),
            id=chart.element_id,
            class_name="measurement-chart",
            role="figure",
            aria_labelledby=title_id,
            aria_describedby=summary_id,
            width="100%",
            min_width="0",
        ),
    )


def measurement_charts() -> rx.Component:
    """Every chart with data, two per row on wide screens."""
    return rx.vstack(
        rx.heading(t("Évolution"), as_="h3", size="4"),
        rx.cond(
            ProfileState.entries_measurement.length() > 0,
            rx.grid(
                *(_chart(chart) for chart in CHARTS),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
                id="measurement-charts",
            ),
            rx.text(t("Ajoutez des mesures pour voir leur évolution ici."), size="2",
                    color_scheme="gray"),
        ),
        spacing="2",
        width="100%",
    )
