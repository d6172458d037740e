"""State of the home page ("Accueil"): this instance and its latest announcements."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reflex as rx

from carnet_web import api
from carnet_web.state.session import SessionState

ANNOUNCEMENTS_SHOWN: Final = 5

HOME_QUERY: Final = api.operation(
    """
    query Home($first: Int!) {
      platform { name version environment }
      announcements(first: $first) { id title body publishedAt }
    }
    """
)

_MONTHS: Final = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def _display_zone() -> tzinfo:
    try:
        return ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:  # no tz database on this machine
        return UTC


def french_date(iso: str) -> str:
    """'2025-11-28T17:54:00+00:00' -> '28 novembre 2025' (Paris time); '' if unreadable."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(_display_zone())
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


@dataclasses.dataclass(frozen=True)
class AnnouncementItem:
    id: str
    title: str
    body: str
    published_on: str


def announcement_items(rows: list[dict[str, Any]]) -> list[AnnouncementItem]:
    return [
        AnnouncementItem(
            id=str(row["id"]),
            title=row["title"],
            body=row["body"],
            published_on=french_date(row["publishedAt"]),
        )
        for row in rows
    ]


class HomeState(SessionState):
    loading: bool = True
    error: str = ""
    platform_name: str = ""
    platform_version: str = ""
    platform_environment: str = ""
    announcements: list[AnnouncementItem] = []

    @rx.event
    async def load(self) -> AsyncIterator[None]:
        """On page load and on "Réessayer": fetch the platform and the latest announcements."""
        self.loading = True
        self.error = ""
        yield  # show "Chargement…" now (matters on retry)
        try:
            data = await self._query(HOME_QUERY, {"first": ANNOUNCEMENTS_SHOWN})
        except api.ApiError as exc:
            self.error = exc.message
            self.loading = False
            return
        platform = data["platform"]
        self.platform_name = platform["name"]
        self.platform_version = platform["version"]
        self.platform_environment = platform["environment"]
        self.announcements = announcement_items(data["announcements"])
        self.loading = False
