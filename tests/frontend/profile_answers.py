"""What the API answers to the profile page's queries, for the tests of its state parts
(test_profile_*.py), and helpers to get a signed-in, loaded ProfileState."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from carnet_web.state.profile import CHART_KINDS, ProfileState
from reflex.event import EventSpec

from tests.frontend.fakes import FakeApi, redirects, run

TOKEN = "jeton-de-session-secret"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=PARIS)
ME = {"isPatient": True, "professional": None}
DOCTOR = {"isPatient": False, "professional": {"profession": "Médecin généraliste"}}


def common(entry_id: str, author: dict[str, Any] = ME, **fields: Any) -> dict[str, Any]:
    return {"id": entry_id, "recordedAt": "2026-03-01T09:00:00+00:00", "imported": False,
            "author": author, **fields}


ALLERGY = common("a1", substance="Pénicilline <b>G</b>", reaction="Urticaire",
                 severity="SEVERE", since="2019-05-02", kind="ALLERGY", category="MEDICATION",
                 notes=None)
VACCINATION = common("v1", DOCTOR, vaccine="DTP", date="2025-10-15", doseNumber=3,
                     batch="X123", vaccinator=None, notes="Rappel")
WEIGHTS = [
    common("m3", kind="WEIGHT", label="Poids", value=70.9, diastolic=None, unit="kg",
           unitLabel="kg", measuredAt="2026-03-09T07:00:00+00:00", notes=None, bmi=None),
    common("m1", kind="WEIGHT", label="Poids", value=72.5, diastolic=None, unit="kg",
           unitLabel="kg", measuredAt="2026-02-18T07:00:00+00:00", notes=None, bmi=None),
]
PRESSURE = common("bp", kind="BLOOD_PRESSURE", label="Tension artérielle systolique",
                  value=128.0, diastolic=82.0, unit="mm[Hg]", unitLabel="mmHg",
                  measuredAt="2026-03-08T18:30:00+00:00", notes=None, bmi=None)
ORGAN = common("o1", position="REFUSES", note="Inscrit au registre.")
TREATMENT = common("t1", DOCTOR, medication="Lévothyrox 50 µg", dose="1 comprimé",
                   frequency="le matin", startDate="2026-03-01", endDate=None,
                   prescriber="Dr Martin", current=True, notes=None)


def series(kind: str, points: list[tuple[str, float, float | None]],
           unit_label: str = "kg") -> dict[str, Any]:
    return {"kind": kind, "unit": unit_label, "unitLabel": unit_label,
            "points": [{"at": at, "value": value, "diastolic": diastolic,
                        "measurementId": f"p{i}"} for i, (at, value, diastolic)
                       in enumerate(points)]}


def profile_answer(**overrides: Any) -> dict[str, Any]:
    profile = {"allergies": [], "vaccinations": [], "medicalHistory": [], "familyHistory": [],
               "treatments": [], "measurements": [], "emergencyContacts": [],
               "advanceDirective": None, "organDonation": None}
    profile.update(overrides)
    data: dict[str, Any] = {"profile": profile}
    for kind in CHART_KINDS:
        data[f"series{kind}"] = series(kind, [])
    return data


FULL = profile_answer(allergies=[ALLERGY], vaccinations=[VACCINATION],
                      measurements=WEIGHTS, organDonation=ORGAN)
FULL["seriesWEIGHT"] = series("WEIGHT", [("2026-02-18T07:00:00+00:00", 72.5, None),
                                         ("2026-03-09T07:00:00+00:00", 70.9, None)])


def signed_in(state: ProfileState, language: str = "fr") -> ProfileState:
    state._sign_in(TOKEN, "jean@example.fr")
    state.lang = language
    return state


async def loaded(fake_api: FakeApi, answer: dict[str, Any] | None = None,
                 language: str = "fr") -> ProfileState:
    fake_api.answer("Profile", answer or FULL)
    state = signed_in(ProfileState(), language)
    assert redirects(await run(state.load())) == []
    fake_api.calls.clear()
    return state


def downloads(events: list[Any]) -> list[dict[str, str]]:
    found = []
    for event in events:
        if isinstance(event, EventSpec) and getattr(
                event.handler.fn, "__qualname__", "").endswith("_download"):
            found.append({key._js_expr: str(getattr(value, "_var_value", value))
                          for key, value in event.args})
    return found
