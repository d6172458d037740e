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
from carnet_web.i18n import N_, gettext
from carnet_web.routes import ACCESS_HISTORY_ROUTE as ROUTE  # noqa: F401  (re-exported)
from carnet_web.state.care_team import professional_name
from carnet_web.state.focus import focus
from carnet_web.state.formatting import datetime_text
from carnet_web.state.session import SessionState, api_errors

PAGE_SIZE: Final = 20
ENTRY_ID_PREFIX: Final = "access-"  # + the entry's id: each entry's element
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
            reader { profession appName
                     professional { id rpps profession specialty practiceName } }
          }
        }
      }
    }
    """
)

KIND_LABELS: Final = {
    "DOCUMENT": N_("La fiche d'un de vos documents"),
    "DOCUMENT_CONTENT": N_("Le contenu d'un de vos documents (ouverture ou téléchargement)"),
    "DOCUMENT_LIST": N_("La liste de vos documents"),
    "PROFILE": N_("Votre profil médical"),
    "EXPORT": N_("L'ensemble de votre dossier (export complet)"),
    "SEARCH": N_("La recherche de votre dossier à partir de votre identité"),
    "EMERGENCY_ACCESS": N_("L'ouverture de votre dossier en urgence"),
    "AGENDA": N_("Vos rendez-vous"),
    "MESSAGES": N_("Vos messages"),
}
SECTION_LABELS: Final = {
    "allergies": N_("allergies"),
    "vaccinations": N_("vaccinations"),
    "medical_history": N_("antécédents médicaux"),
    "family_history": N_("antécédents familiaux"),
    "treatments": N_("traitements"),
    "measurements": N_("mesures"),
    "emergency_contacts": N_("contacts d'urgence"),
    "advance_directive": N_("directives anticipées"),
    "organ_donation": N_("don d'organes"),
}
GROUND_LABELS: Final = {
    "CARE_TEAM": N_("Membre de votre équipe de soins (ajouté par vous)"),
    "DECLARED": N_("Relation de soins déclarée par le professionnel"),
    "TREATING_DOCTOR": N_("Votre médecin traitant"),
    "EMERGENCY": N_("Accès d'urgence"),
    "AUTHOR": N_("Auteur du document"),
    "APP": N_("Application que vous avez autorisée"),
    "PROXY": N_("Personne que vous avez habilitée"),
    "SELF": N_("Vous-même"),
}
EMPTY: Final = N_(
    "Aucun accès à votre dossier pour l'instant : personne d'autre que vous ne l'a consulté."
)


def what_label(kind: str, section: str | None, language: str = "fr") -> str:
    """What was read, in plain words: 'Votre profil médical : allergies'."""
    unknown = N_("Votre dossier")
    label = gettext(language, KIND_LABELS.get(kind, unknown))
    if kind == "PROFILE" and section:
        part = (gettext(language, SECTION_LABELS[section]) if section in SECTION_LABELS
                else section.replace("_", " "))
        return gettext(language, "{what} : {section}", what=label, section=part)
    return label


def count_label(shown: int, total: int, language: str = "fr") -> str:
    if total == 0:
        return gettext(language, EMPTY)
    if total == 1:
        return gettext(language, "1 accès à votre dossier.")
    if shown >= total:
        return gettext(language, "{total} accès à votre dossier.", total=total)
    return gettext(language, "{total} accès à votre dossier, les {shown} plus récents affichés.",
                   total=total, shown=shown)


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


def access_items(edges: list[Mapping[str, Any]], language: str = "fr") -> list[AccessItem]:
    items = []
    for edge in edges:
        node = edge["node"]
        reader = node.get("reader") or {}
        pro = reader.get("professional") or {}
        # The profession at the time of reading; the specialty and practice as known today.
        who = professional_name({"profession": reader.get("profession") or pro.get("profession"),
                                 "specialty": pro.get("specialty")}, language)
        if not reader.get("profession") and not pro:
            who = gettext(language, "Un compte Carnet")
        if reader.get("appName"):  # an app the patient authorised (ground APP)
            who = gettext(language, "Application « {name} »", name=reader["appName"])
        kind = str(node["kind"])
        ground = str(node["ground"])
        items.append(AccessItem(
            id=str(node["id"]),
            when=datetime_text(node["at"], language),
            who=who,
            practice=str(pro.get("practiceName") or ""),
            rpps=str(pro.get("rpps") or ""),
            what=what_label(kind, node.get("section"), language),
            ground=(gettext(language, GROUND_LABELS[ground]) if ground in GROUND_LABELS
                    else ground.replace("_", " ").lower()),
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
        return count_label(len(self.entries), self.total, self.lang)

    async def _page(self, after: str | None) -> None:
        """Read one page and append it. Raises `api.ApiError`."""
        data = await self._query(ACCESS_LOG, {"first": PAGE_SIZE, "after": after})
        connection = data["accessLog"]
        new = access_items(connection["edges"], self.lang)
        self.entries = [*self.entries, *new] if after else new
        self.total = int(connection["totalCount"])
        self.has_more = bool(connection["pageInfo"]["hasNextPage"])
        self._end_cursor = str(connection["pageInfo"]["endCursor"] or "")

    def _expired(self) -> EventSpec:
        self.entries = []
        self.total = 0
        self.has_more = False
        self._end_cursor = ""
        return super()._expired()

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer": the newest accesses."""
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        self.error = ""
        yield
        await self._page(None)

    @rx.event
    @api_errors(error="error", busy="loading_more")
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
        shown = len(self.entries)
        await self._page(self._end_cursor)
        # The keyboard goes on where the reading does: the first of the older entries (the
        # button may be gone). Nothing came (the log changed meanwhile): the heading.
        if len(self.entries) > shown:
            yield focus(ENTRY_ID_PREFIX + self.entries[shown].id)
        elif not self.has_more:
            yield focus(HEADING_ID)
