"""State of the home page ("Accueil").

Signed in, a patient's home screen comes from ONE GraphQL request (`HOME_SIGNED_IN`, whose SQL
statement count the API's tests hold constant: tests/test_home_query.py): the greeting name, new
documents (count and the latest three), unread messages, the latest measurements with a small
trend, announcements. Signed out: what Carnet is, how to sign in, and the announcements. A
professional is sent to their own area.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import gettext
from carnet_web.routes import PRO_HOME_ROUTE
from carnet_web.state.formatting import date_text, day_text, number_text
from carnet_web.state.session import PROFESSIONAL_ROLE, SessionState, api_errors

__all__ = ["HOME_SIGNED_IN", "HOME_SIGNED_OUT", "AnnouncementItem", "HomeState",
           "announcement_items"]

ANNOUNCEMENTS_SHOWN: Final = 5
DOCUMENTS_SHOWN: Final = 3
TREND_POINTS: Final = 6

HOME_SIGNED_IN: Final = api.operation(
    """
    query Home($documents: Int!, $trendPoints: Int!, $announcements: Int!) {
      me { identifier role patient { greetingName } }
      documents(first: $documents) {
        totalCount
        newCount
        edges { node { id title typeLabel clinicalDate createdAt isNew } }
      }
      messagingSummary { unreadCount unreadConversations }
      latestMeasurements(points: $trendPoints) {
        kind label unitLabel change
        latest { at value diastolic }
        points { at value diastolic }
      }
      announcements(first: $announcements) { id title body publishedAt }
    }
    """
)

HOME_SIGNED_OUT: Final = api.operation(
    """
    query HomeSignedOut($announcements: Int!) {
      announcements(first: $announcements) { id title body publishedAt }
    }
    """
)

#: The sparkline's drawing box (SVG user units); the line keeps a margin for its stroke.
SPARK_WIDTH: Final = 120
SPARK_HEIGHT: Final = 32
SPARK_MARGIN: Final = 3


@dataclasses.dataclass(frozen=True)
class AnnouncementItem:
    id: str
    title: str
    body: str
    published_on: str


@dataclasses.dataclass(frozen=True)
class DocumentItem:
    id: str
    title: str
    type_label: str
    date: str  # the clinical date, else the date added
    is_new: bool


@dataclasses.dataclass(frozen=True)
class TrendItem:
    kind: str
    label: str  # 'Poids'
    value: str  # '72,5 kg' / '120/80 mmHg'
    measured_on: str  # '1er juin 2026'
    change: str  # '+0,4 kg depuis la mesure précédente', '' with a single measurement
    points: str  # SVG polyline points, '' with fewer than two measurements
    summary: str  # the whole trend in words, for screen readers


def announcement_items(rows: list[Mapping[str, Any]], language: str = "fr"
                       ) -> list[AnnouncementItem]:
    return [
        AnnouncementItem(
            id=str(row["id"]),
            title=row["title"],
            body=row["body"],
            published_on=date_text(row["publishedAt"], language),
        )
        for row in rows
    ]


def document_items(edges: list[Mapping[str, Any]], language: str) -> list[DocumentItem]:
    items = []
    for edge in edges:
        node = edge["node"]
        clinical = day_text(str(node.get("clinicalDate") or ""), language)
        items.append(DocumentItem(
            id=str(node["id"]),
            title=str(node["title"]),
            type_label=str(node.get("typeLabel") or ""),
            date=clinical or date_text(str(node.get("createdAt") or ""), language),
            is_new=bool(node.get("isNew")),
        ))
    return items


def _value(point: Mapping[str, Any], unit: str, language: str) -> str:
    value = number_text(float(point["value"]), language, digits=1)
    if point.get("diastolic") is not None:
        value += "/" + number_text(float(point["diastolic"]), language, digits=1)
    return f"{value} {unit}".strip()


def sparkline(values: list[float]) -> str:
    """SVG polyline points for `values` (oldest first) in the sparkline's box; '' if fewer
    than two. A flat series draws a flat line in the middle."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = high - low
    width = SPARK_WIDTH - 2 * SPARK_MARGIN
    height = SPARK_HEIGHT - 2 * SPARK_MARGIN
    points = []
    for index, value in enumerate(values):
        x = SPARK_MARGIN + width * index / (len(values) - 1)
        y = SPARK_MARGIN + (height / 2 if span == 0 else height * (high - value) / span)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def trend_items(rows: list[Mapping[str, Any]], language: str) -> list[TrendItem]:
    items = []
    for row in rows:
        unit = str(row.get("unitLabel") or "")
        latest = row["latest"]
        points = list(row.get("points") or [])
        change = row.get("change")
        change_text = ""
        if change is not None:
            amount = float(change)
            sign = "+" if amount > 0 else ("−" if amount < 0 else "±")
            change_text = gettext(language, "{change} depuis la mesure précédente",
                                  change=f"{sign}{number_text(abs(amount), language, digits=1)}"
                                         f" {unit}".strip())
        values = [float(point["value"]) for point in points]
        measured_on = date_text(str(latest.get("at") or ""), language)
        summary = gettext(language, "{label} : {values}", label=str(row["label"]), values=", ".join(
            _value(point, unit, language) for point in points) or _value(latest, unit, language))
        items.append(TrendItem(
            kind=str(row["kind"]),
            label=str(row["label"]),
            value=_value(latest, unit, language),
            measured_on=measured_on,
            change=change_text,
            points=sparkline(values),
            summary=summary,
        ))
    return items


class HomeState(SessionState):
    loading: bool = True
    error: str = ""
    greeting_name: str = ""
    documents_total: int = 0
    new_documents: int = 0
    documents: list[DocumentItem] = []
    unread_messages: int = 0
    unread_conversations: int = 0
    trends: list[TrendItem] = []
    announcements: list[AnnouncementItem] = []
    new_documents_label: str = ""
    unread_label: str = ""

    def _labels(self) -> None:
        """The counts in words (plain vars: computed once per load, in the tab's language)."""
        if self.new_documents == 0:
            self.new_documents_label = self._t("Aucun nouveau document.")
        elif self.new_documents == 1:
            self.new_documents_label = self._t("1 nouveau document")
        else:
            self.new_documents_label = self._t("{n} nouveaux documents", n=self.new_documents)
        if self.unread_messages == 0:
            self.unread_label = self._t("Aucun message non lu.")
        elif self.unread_messages == 1:
            self.unread_label = self._t("1 message non lu")
        elif self.unread_conversations > 1:
            self.unread_label = self._t("{n} messages non lus dans {c} conversations",
                                        n=self.unread_messages, c=self.unread_conversations)
        else:
            self.unread_label = self._t("{n} messages non lus", n=self.unread_messages)


    def _take_signed_in(self, data: Mapping[str, Any]) -> None:
        me = data.get("me") or {}
        if me.get("identifier"):
            self.account_identifier = str(me["identifier"])
        self.greeting_name = str((me.get("patient") or {}).get("greetingName") or "")
        documents = data["documents"]
        self.documents_total = int(documents["totalCount"])
        self.new_documents = int(documents["newCount"])
        self.documents = document_items(documents["edges"], self.lang)
        summary = data["messagingSummary"]
        self.unread_messages = int(summary["unreadCount"])
        self.unread_conversations = int(summary["unreadConversations"])
        self.trends = trend_items(data["latestMeasurements"], self.lang)
        self.announcements = announcement_items(data["announcements"], self.lang)
        self._labels()

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if self.signed_in and self.account_role == PROFESSIONAL_ROLE:
            yield rx.redirect(PRO_HOME_ROUTE)  # a professional's home is their own area
            return
        self.loading = True
        self.error = ""
        yield  # show "Chargement…" now (matters on retry)
        if self._api_token:
            data = await self._query(HOME_SIGNED_IN, {
                "documents": DOCUMENTS_SHOWN, "trendPoints": TREND_POINTS,
                "announcements": ANNOUNCEMENTS_SHOWN})
            self._take_signed_in(data)
        else:
            data = await self._query(HOME_SIGNED_OUT, {"announcements": ANNOUNCEMENTS_SHOWN})
            self.announcements = announcement_items(data["announcements"], self.lang)
