"""Measurement charts: one line chart (recharts) per series that has points, oldest first,
each with its summary in words (the chart itself says nothing to a screen reader)."""

from __future__ import annotations

import reflex as rx

from carnet_web.state.profile import CHARTS, ChartSpec, ProfileState

# SVG attributes: plain colours (Radix indigo 9 and tomato 9), not CSS variables.
LINE_COLOURS = ("#3e63dd", "#e54d2e")
CHART_HEIGHT = 220


def _chart(chart: ChartSpec) -> rx.Component:
    points = ProfileState.charts[chart.kind]
    title = f"{chart.title} ({chart.unit})"
    lines = [
        rx.recharts.line(
            data_key=key,
            name=legend or chart.title,
            stroke=LINE_COLOURS[index % len(LINE_COLOURS)],
            stroke_width=2,
            type_="monotone",
            unit=" " + chart.unit,
            is_animation_active=False,
        )
        for index, (key, legend) in enumerate(chart.lines)
    ]
    return rx.cond(
        points.length() > 0,
        rx.card(
            rx.vstack(
                rx.heading(title, as_="h4", size="2", id=chart.element_id + "-titre"),
                rx.box(
                    rx.recharts.line_chart(
                        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                        rx.recharts.x_axis(data_key="date", padding={"left": 36, "right": 36},
                                           min_tick_gap=16),
                        rx.recharts.y_axis(domain=["auto", "auto"], width=48),
                        rx.recharts.graphing_tooltip(),
                        *([rx.recharts.legend()] if len(lines) > 1 else []),
                        *lines,
                        data=points,
                        width="100%",
                        height=CHART_HEIGHT,
                        margin={"top": 8, "right": 24, "bottom": 0, "left": 0},
                    ),
                    width="100%",
                    height=f"{CHART_HEIGHT}px",
                    aria_hidden="true",
                ),
                rx.text(ProfileState.chart_summaries[chart.kind], size="1",
                        color_scheme="gray", class_name="chart-summary"),
                spacing="2",
                width="100%",
            ),
            id=chart.element_id,
            class_name="measurement-chart",
            role="figure",
            aria_labelledby=chart.element_id + "-titre",
            width="100%",
        ),
    )


def measurement_charts() -> rx.Component:
    """Every chart with data, two per row on wide screens."""
    return rx.vstack(
        rx.heading("Évolution", as_="h3", size="4"),
        rx.cond(
            ProfileState.entries_measurement.length() > 0,
            rx.grid(
                *(_chart(chart) for chart in CHARTS),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
                id="measurement-charts",
            ),
            rx.text("Ajoutez des mesures pour voir leur évolution ici.", size="2",
                    color_scheme="gray"),
        ),
        spacing="2",
        width="100%",
    )
