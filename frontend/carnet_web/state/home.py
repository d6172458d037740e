"""State of the home page ("Accueil"): this instance and its latest announcements."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, Final

import reflex as rx

from carnet_web import api
from carnet_web.state.formatting import french_date
from carnet_web.state.session import SessionState

__all__ = ["HOME_QUERY", "AnnouncementItem", "HomeState", "announcement_items", "french_date"]

ANNOUNCEMENTS_SHOWN: Final = 5

HOME_QUERY: Final = api.operation(
    """
    query Home($first: Int!) {
      platform { name version environment }
      announcements(first: $first) { id title body publishedAt }
      me { identifier }
    }
    """
)


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
        self._check_account(data.get("me"))
        self.loading = False

    def _check_account(self, me: dict[str, Any] | None) -> None:
        """Keep the header honest: a session that expired or was revoked elsewhere shows as
        signed out (the home page itself needs no session)."""
        if not self.signed_in:
            return
        if me is None:
            self._sign_out(api.UNAUTHENTICATED_MESSAGE)
        elif me.get("identifier"):
            self.account_identifier = str(me["identifier"])
