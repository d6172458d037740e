"""The space switcher (issue 15 part 9): a carer, or a minor's legal representative, acts in
the patient's space with their own session. The header lists the spaces I may help with
(`mySpaces`); choosing one puts its id in the tab's session (`SessionState.space_id`), and from
then on every API call of the tab carries `Carnet-Space` (state/session.py
`_forwarded_headers`): the API answers as the patient, for the parts given only. A banner says
whose space it is, with "Revenir à mon espace". Switching forgets every page's data, so nothing
of one space is ever shown in another. In a space, the navigation links only to the pages of
the parts given (`SessionState.space_parts`); another page opened by its address says plainly
it is not part of what was given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.routes import AGENDA_ROUTE, DOCUMENTS_ROUTE, HOME_ROUTE, PROFILE_ROUTE
from carnet_web.state.session import SessionState

log = logging.getLogger("carnet_web.spaces")

SWITCH_ID: Final = "space-switch"
MY_SPACES: Final = api.operation(
    """
    query MySpaces {
      mySpaces { spaceId firstNames birthName parts canWrite endsAt legalRepresentative }
    }
    """
)
#: Where a space opens: its first part's page.
PART_ROUTES: Final = {"DOCUMENTS": DOCUMENTS_ROUTE, "PROFILE": PROFILE_ROUTE,
                      "AGENDA": AGENDA_ROUTE}


@dataclasses.dataclass(frozen=True)
class SpaceItem:
    id: str
    name: str  # 'Léa MARTIN'
    child: bool  # I am this minor's legal representative
    parts: list[str]
    can_write: bool


def space_items(rows: list[Mapping[str, Any]]) -> list[SpaceItem]:
    return [SpaceItem(id=str(row["spaceId"]),
                      name=" ".join(part for part in (str(row.get("firstNames") or "").strip(),
                                                      str(row.get("birthName") or "").strip()
                                                      .upper()) if part),
                      child=bool(row.get("legalRepresentative")),
                      parts=[str(p) for p in row.get("parts") or []],
                      can_write=bool(row.get("canWrite")))
            for row in rows]


def first_page(item: SpaceItem) -> str:
    return next((PART_ROUTES[p] for p in item.parts if p in PART_ROUTES), HOME_ROUTE)


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


class SpaceState(SessionState):
    spaces: list[SpaceItem] = []
    # What the switcher shows as chosen: "Ouvrir" opens it (choosing alone never navigates:
    # the keyboard's arrows go through the options without leaving the page).
    space_choice: str = ""
    # For which session `spaces` was read (a hash of its token): read once per sign-in.
    _spaces_of: str = ""

    async def _read_spaces(self) -> None:
        data = await self._query(MY_SPACES, own_space=True)
        self.spaces = space_items(data["mySpaces"])
        self._spaces_of = _token_key(self._api_token)
        current = next((s for s in self.spaces if s.id == self.space_id), None)
        if current is not None:  # the patient may have changed what they give
            self.space_parts = list(current.parts)

    @rx.event
    async def load_spaces(self) -> None:
        """When the header appears: the spaces I may help with, once per session. A failure
        only hides the switcher (the page says what went wrong with its own data)."""
        if not self._api_token or self.is_professional:
            self.spaces = []
            return
        self.space_choice = self.space_id
        # Read again only for a tab in a space whose parts it does not know (opened before
        # the navigation followed them).
        if self._spaces_of == _token_key(self._api_token) and (
                not self.space_id or self.space_parts):
            return
        try:
            await self._read_spaces()
        except api.ApiError as exc:
            log.info("spaces: not read (%s)", exc.code)
            self.spaces = []

    @rx.event
    def choose_space(self, space_id: str) -> None:
        self.space_choice = str(space_id or "")

    @rx.event
    async def open_chosen(self) -> EventSpec | None:
        """"Ouvrir": the space chosen in the switcher."""
        return await self.switch_space(self.space_choice)

    @rx.event
    async def switch_space(self, space_id: str) -> EventSpec | None:
        """Go to a space: '' is my own."""
        if space_id == self.space_id:
            self.space_choice = self.space_id
            return None
        if not space_id:
            return self.back_to_mine()
        if not self._api_token:
            return self._require_session()
        try:
            await self._read_spaces()  # the grant may have ended since the list was read
        except api.ApiUnauthenticated:
            return self._expired()
        except api.ApiError as exc:
            log.info("spaces: not read (%s)", exc.code)
        item = next((s for s in self.spaces if s.id == space_id), None)
        if item is None:
            self.space_choice = self.space_id
            return None
        self.space_id, self.space_name, self.space_child = item.id, item.name, item.child
        self.space_parts = list(item.parts)
        self.space_choice = item.id
        self._forget_pages()
        return rx.redirect(first_page(item))

    @rx.event
    def back_to_mine(self) -> EventSpec | None:
        """"Revenir à mon espace"."""
        if not self.space_id:
            return None
        self._leave_space()
        self.space_choice = ""
        self._forget_pages()
        return rx.redirect(HOME_ROUTE)
