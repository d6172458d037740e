"""State of "Historique des accès" (/historique-des-acces): every read of my record by someone
else, newest first, a page at a time ("Voir plus"). Who (profession, specialty, practice), when
(Paris time), what (a document, a profile section, the whole record, an emergency opening) and
on which ground (care team, declared relationship, médecin traitant, emergency...). Needs a
session: without one (or when the API says it is no longer valid) the tab goes to the login
page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.routes import ACCESS_HISTORY_ROUTE as ROUTE  # noqa: E402,F401  (re-exported)
from carnet_web.state.care_team import professional_name
from carnet_web.state.formatting import french_datetime
from carnet_web.state.session import SessionState

PAGE_SIZE: Final = 20
HEADING_ID: Final = "access-history-heading"

ACCESS_LOG: Final = api.operation(
    """
    query AccessLog($first: Int!, $after: String) {
      accessLog(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges {
          node {
            id at kind section documentId ground
            reader { profession professional { id rpps profession specialty practiceName } }
          }
        }
      }
    }
    """
)

KIND_LABELS: Final = {
    "DOCUMENT": "La fiche d'un de vos documents",
    "DOCUMENT_CONTENT": "Le contenu d'un de vos documents (ouverture ou téléchargement)",
    "DOCUMENT_LIST": "La liste de vos documents",
    "PROFILE": "Votre profil médical",
    "EXPORT": "L'ensemble de votre dossier (export complet)",
    "SEARCH": "La recherche de votre dossier à partir de votre identité",
    "EMERGENCY_ACCESS": "L'ouverture de votre dossier en urgence",
}
SECTION_LABELS: Final = {
    "allergies": "allergies",
    "vaccinations": "vaccinations",
    "medical_history": "antécédents médicaux",
    "family_history": "antécédents familiaux",
    "treatments": "traitements",
    "measurements": "mesures",
    "emergency_contacts": "contacts d'urgence",
    "advance_directive": "directives anticipées",
    "organ_donation": "don d'organes",
}
GROUND_LABELS: Final = {
    "CARE_TEAM": "Membre de votre équipe de soins (ajouté par vous)",
    "DECLARED": "Relation de soins déclarée par le professionnel",
    "TREATING_DOCTOR": "Votre médecin traitant",
    "EMERGENCY": "Accès d'urgence",
    "AUTHOR": "Auteur du document",
    "APP": "Application que vous avez autorisée",
    "PROXY": "Personne que vous avez habilitée",
    "SELF": "Vous-même",
}
EMPTY: Final = (
    "Aucun accès à votre dossier pour l'instant : personne d'autre que vous ne l'a consulté."
)


def what_label(kind: str, section: str | None) -> str:
    """What was read, in plain French: 'Votre profil médical : allergies'."""
    label = KIND_LABELS.get(kind, "Votre dossier")
    if kind == "PROFILE" and section:
        return f"{label} : {SECTION_LABELS.get(section, section.replace('_', ' '))}"
    return label


def count_label(shown: int, total: int) -> str:
    if total == 0:
        return EMPTY
    if total == 1:
        return "1 accès à votre dossier."
    if shown >= total:
        return f"{total} accès à votre dossier."
    return f"{total} accès à votre dossier, les {shown} plus récents affichés."


@dataclasses.dataclass(frozen=True)
class AccessItem:
    id: str
    when: str  # '28 novembre 2026 à 18:54' (Paris time)
    who: str  # 'Médecin (Médecine générale)'
    practice: str  # '' if unknown
    rpps: str  # '' if not a professional
    what: str
    ground: str
    emergency: bool


def access_items(edges: list[Mapping[str, Any]]) -> list[AccessItem]:
    items = []
    for edge in edges:
        node = edge["node"]
        reader = node.get("reader") or {}
        pro = reader.get("professional") or {}
        # The profession at the time of reading; the specialty and practice as known today.
        who = professional_name({"profession": reader.get("profession") or pro.get("profession"),
                                 "specialty": pro.get("specialty")})
        if not reader.get("profession") and not pro:
            who = "Un compte Carnet"
        kind = str(node["kind"])
        ground = str(node["ground"])
        items.append(AccessItem(
            id=str(node["id"]),
            when=french_datetime(node["at"]),
            who=who,
            practice=str(pro.get("practiceName") or ""),
            rpps=str(pro.get("rpps") or ""),
            what=what_label(kind, node.get("section")),
            ground=GROUND_LABELS.get(ground, ground.replace("_", " ").lower()),
            emergency=ground == "EMERGENCY" or kind == "EMERGENCY_ACCESS",
        ))
    return items


class AccessHistoryState(SessionState):
    loading: bool = True
    loading_more: bool = False
    error: str = ""
    entries: list[AccessItem] = []
    total: int = 0
    has_more: bool = False
    _end_cursor: str = ""

    @rx.var
    def count_label(self) -> str:
        return count_label(len(self.entries), self.total)

    async def _page(self, after: str | None) -> None:
        """Read one page and append it. Raises `api.ApiError`."""
        data = await self._query(ACCESS_LOG, {"first": PAGE_SIZE, "after": after})
        connection = data["accessLog"]
        new = access_items(connection["edges"])
        self.entries = [*self.entries, *new] if after else new
        self.total = int(connection["totalCount"])
        self.has_more = bool(connection["pageInfo"]["hasNextPage"])
        self._end_cursor = str(connection["pageInfo"]["endCursor"] or "")

    def _expired(self) -> EventSpec:
        self.entries = []
        self.total = 0
        self.has_more = False
        self._end_cursor = ""
        return self._to_login(api.UNAUTHENTICATED_MESSAGE)

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer": the newest accesses."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        yield
        try:
            await self._page(None)
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = exc.message
        finally:
            self.loading = False

    @rx.event
    async def load_more(self) -> AsyncIterator[EventSpec | None]:
        """"Voir plus": the next, older, page."""
        if self.loading_more or not self.has_more or not self._end_cursor:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading_more = True
        self.error = ""
        yield
        try:
            await self._page(self._end_cursor)
        except api.ApiUnauthenticated:
            yield self._expired()
            return
        except api.ApiError as exc:
            self.error = exc.message
            return
        finally:
            self.loading_more = False
        if not self.has_more:  # the button is gone: keep the keyboard user in the page
            yield rx.set_focus(HEADING_ID)
