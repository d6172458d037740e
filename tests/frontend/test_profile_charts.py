"""What the measurement charts show (state/profile/charts.py), all written by the state in the
tab's language since recharts runs in the browser: the x axis's days ("1er juin" / "1 June"),
the y axis's ticks ("72,5" / "72.5"), the tooltip's values and dates, the table of values and
the summary in words."""

from __future__ import annotations

import pytest
from carnet_web.state.profile import CHARTS, chart_view, nice_ticks, tick_key
from carnet_web.state.profile.charts import BY_KIND

from tests.frontend.fakes import FakeApi
from tests.frontend.profile_answers import PRESSURE, loaded, profile_answer, series

JUNE = series("WEIGHT", [("2026-05-18T07:00:00+00:00", 72.5, None),
                         ("2026-06-01T07:00:00+00:00", 70.9, None)])


def test_a_weight_chart_in_french() -> None:
    view = chart_view(BY_KIND["WEIGHT"], JUNE, "fr")
    assert view.title == "Poids (kg)"
    assert [point["label"] for point in view.points] == ["18 mai", "1er juin"]
    assert view.points[1] == {"label": "1er juin", "when": "1er juin 2026 à 09:00",
                              "value": 70.9, "diastolic": None, "value_text": "70,9 kg",
                              "diastolic_text": ""}
    assert view.ticks == [70.5, 71.0, 71.5, 72.0, 72.5]
    assert view.tick_labels == {"70.5": "70,5", "71": "71", "71.5": "71,5", "72": "72",
                                "72.5": "72,5"}
    assert view.domain == [70.5, 72.5]
    assert [(row.when, row.value) for row in view.rows] == [
        ("18 mai 2026 à 09:00", "72,5 kg"), ("1er juin 2026 à 09:00", "70,9 kg")]
    assert view.summary == "2 mesures ; dernière : 70,9 kg le 1er juin 2026 à 09:00."


def test_a_weight_chart_in_english() -> None:
    view = chart_view(BY_KIND["WEIGHT"], JUNE, "en")
    assert view.title == "Weight (kg)"
    assert [point["label"] for point in view.points] == ["18 May", "1 June"]
    assert view.points[0]["value_text"] == "72.5 kg"
    assert view.points[1]["when"] == "1 June 2026 at 09:00"
    assert view.tick_labels["72.5"] == "72.5"
    assert view.rows[1].value == "70.9 kg"
    assert view.summary == "2 measurements; latest: 70.9 kg on 1 June 2026 at 09:00."


def test_a_blood_pressure_chart_has_both_pressures() -> None:
    pressure = series("BLOOD_PRESSURE", [("2026-03-08T18:30:00+00:00", 128, 82)], "mmHg")
    view = chart_view(BY_KIND["BLOOD_PRESSURE"], pressure, "fr")
    assert view.points == [{"label": "8 mars", "when": "8 mars 2026 à 19:30", "value": 128.0,
                            "diastolic": 82.0, "value_text": "128 mmHg",
                            "diastolic_text": "82 mmHg"}]
    assert view.ticks[0] <= 82 and view.ticks[-1] >= 128  # both lines fit
    assert [(row.value, row.second) for row in view.rows] == [("128 mmHg", "82 mmHg")]
    assert view.summary == "1 mesure ; dernière : 128/82 mmHg le 8 mars 2026 à 19:30."
    heart = series("HEART_RATE", [("2026-03-08T18:30:00+00:00", 64, None)], "battements/min")
    assert chart_view(BY_KIND["HEART_RATE"], heart, "en").summary == (
        "1 measurement; latest: 64 beats/min on 8 March 2026 at 19:30.")
    assert chart_view(BY_KIND["BMI"], series("BMI", [("2026-03-08T18:30:00+00:00", 23.41,
                                                      None)]), "en").title == (
        "Body mass index (BMI) (kg/m²)")


def test_an_empty_series_draws_nothing() -> None:
    view = chart_view(BY_KIND["HEIGHT"], series("HEIGHT", []), "fr")
    assert (view.points, view.rows, view.ticks, view.summary) == ([], [], [], "")
    assert view.title == "Taille (cm)"
    assert [chart.kind for chart in CHARTS] == ["WEIGHT", "BMI", "HEIGHT", "WAIST",
                                                "BLOOD_PRESSURE", "HEART_RATE",
                                                "BLOOD_GLUCOSE", "TEMPERATURE"]


@pytest.mark.parametrize(("low", "high", "expected"), [
    (70.9, 72.5, [70.5, 71.0, 71.5, 72.0, 72.5]),
    (82, 128, [80, 100, 120, 140]),
    (0.95, 1.3, [0.9, 1.0, 1.1, 1.2, 1.3]),
    (37.2, 37.2, [35.0, 36.0, 37.0, 38.0, 39.0, 40.0]),  # one value: room around it
    (0, 0, [-1.0, -0.5, 0.0, 0.5, 1.0]),
])
def test_ticks_are_round_and_cover_the_values(low: float, high: float,
                                              expected: list[float]) -> None:
    ticks = nice_ticks(low, high)
    assert ticks == expected
    assert ticks[0] <= low and ticks[-1] >= high


def test_tick_keys_are_written_as_javascript_writes_numbers() -> None:
    assert [tick_key(value) for value in (70.0, 72.5, 0.3, 100, -1.0)] == [
        "70", "72.5", "0.3", "100", "-1"]


async def test_the_page_state_holds_every_chart_in_the_tab_language(fake_api: FakeApi) -> None:
    answer = profile_answer(measurements=[PRESSURE])
    answer["seriesWEIGHT"] = JUNE
    state = await loaded(fake_api, answer, language="en")
    assert set(state.charts) == {chart.kind for chart in CHARTS}
    assert [point["label"] for point in state.charts["WEIGHT"].points] == ["18 May", "1 June"]
    assert state.charts["HEIGHT"].points == []
