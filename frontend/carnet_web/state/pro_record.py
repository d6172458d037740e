"""State of a patient's record as a professional reads it (/pro/patients/<patient id>): the
documents and profile sections the access policy lets me read (`patientRecord`), and the
download of a document through this server (the same one-time link as "Mes documents", see
`carnet_web.documents_http`; the API serves a professional what the policy allows).

Professionals only. An unknown id and a record I may not (or no longer) read look alike, as
the API answers them alike. Every read is in the patient's "Historique des accès".
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.config import get_config
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.documents_http import (
    TICKETS,
    backend_base_url,
    download_script,
    download_url,
)
from carnet_web.i18n import N_, gettext
from carnet_web.state.documents import count_label
from carnet_web.state.formatting import date_text, day_text
from carnet_web.state.pro_common import require_professional, route_patient_id
from carnet_web.state.pro_patients import expiry_label, ground_label, patient_name
from carnet_web.state.profile import KINDS, EntryItem, KindSpec, entry_item
from carnet_web.state.session import SessionState, api_errors

DOCUMENTS_PAGE: Final = 20

#: `ProfileSection` (what the policy names) -> the profile kind showing it.
SECTION_KINDS: Final = {
    "ALLERGIES": "allergy",
    "VACCINATIONS": "vaccination",
    "MEDICAL_HISTORY": "medical_history",
    "FAMILY_HISTORY": "family_history",
    "TREATMENTS": "treatment",
    "MEASUREMENTS": "measurement",
    "EMERGENCY_CONTACTS": "emergency_contact",
    "ADVANCE_DIRECTIVE": "advance_directive",
    "ORGAN_DONATION": "organ_donation",
}

_DOCUMENT_FIELDS: Final = (
    "totalCount pageInfo { hasNextPage endCursor } edges { node { id title type typeLabel "
    "clinicalDate createdAt downloadUrl author { isPatient professional { profession "
    "specialty practiceName } } } }"
)
_ENTRY_FIELDS: Final = (
    "id recordedAt imported author { isPatient professional { profession } }"
)


def _record_document() -> str:
    profile = "\n".join(
        f"      {spec.profile_field} {{ {_ENTRY_FIELDS} {spec.selection} }}" for spec in KINDS
    )
    return (
        "query ProPatientRecord($patientId: ID!, $first: Int!) {\n"
        "  patientRecord(patientId: $patientId) {\n"
        "    patientId ground expiresAt sections\n"
        "    patient { birthName firstNames birthDate }\n"
        f"    documents(first: $first) {{ {_DOCUMENT_FIELDS} }}\n"
        f"    profile {{\n{profile}\n    }}\n"
        "  }\n}"
    )


#: The record, its first page of documents and the profile, in one request.
PATIENT_RECORD: Final = api.operation(_record_document())

MORE_DOCUMENTS: Final = api.operation(
    "query ProPatientDocuments($patientId: ID!, $first: Int!, $after: String) {\n"
    "  patientRecord(patientId: $patientId) {\n"
    f"    documents(first: $first, after: $after) {{ {_DOCUMENT_FIELDS} }}\n"
    "  }\n}"
)

RECORD_UNAVAILABLE: Final = N_(
    "Ce dossier n'est pas accessible : vous n'avez pas (ou plus) de relation de soins avec ce "
    "patient, ou son accès a pris fin."
)
DOCUMENT_GONE: Final = N_("Ce document n'est plus accessible.")
NO_DOCUMENTS: Final = N_("Aucun document que vous puissiez consulter.")
NO_SECTIONS: Final = N_(
    "Votre profession ne donne accès à aucune rubrique du profil médical.")


def author_label(author: Mapping[str, Any] | None, language: str = "fr") -> str:
    """'Le patient', or the professional: 'Médecin · Cabinet du Parc'."""
    author = author or {}
    if author.get("isPatient"):
        return gettext(language, "Le patient")
    professional = author.get("professional") or {}
    parts = [str(professional.get(key) or "").strip() for key in ("profession", "practiceName")]
    return (" · ".join(part for part in parts if part)
            or gettext(language, "Professionnel de santé"))


@dataclasses.dataclass(frozen=True)
class RecordDocument:
    id: str
    title: str  # plain text, always
    type_label: str
    clinical_date: str  # '7 mars 2025'
    added: str
    author: str


def record_document(node: Mapping[str, Any], language: str = "fr") -> RecordDocument:
    return RecordDocument(
        id=str(node["id"]),
        title=str(node["title"]),
        type_label=str(node.get("typeLabel") or ""),
        clinical_date=day_text(str(node.get("clinicalDate") or ""), language),
        added=date_text(str(node.get("createdAt") or ""), language),
        author=author_label(node.get("author"), language),
    )


@dataclasses.dataclass(frozen=True)
class SectionView:
    key: str
    anchor: str
    title: str
    empty: str
    rows: list[EntryItem]  # (not "entries": an object var has an entries() method)


def _entry_meta(raw: Mapping[str, Any], language: str = "fr") -> str:
    day = date_text(str(raw.get("recordedAt") or ""), language)
    author = raw.get("author") or {}
    if author.get("isPatient"):
        by = gettext(language, "Saisi par le patient")
    else:
        profession = str((author.get("professional") or {}).get("profession") or "").strip()
        by = gettext(language, "Saisi par : {who}",
                     who=profession or gettext(language, "un professionnel de santé"))
    return gettext(language, "{by} le {date}", by=by, date=day) if day else by


ADVANCE_DIRECTIVE_TITLE: Final = N_("Directives anticipées")
ATTACHED_DOCUMENT: Final = N_("Un document du dossier est joint.")
#: The profile page's empty texts speak to the patient ("Vous n'avez…"): to a professional.
PRO_EMPTY_TEXTS: Final = {
    "advance_directive": N_("Le patient n'a pas rédigé de directives anticipées."),
    "organ_donation": N_("Le patient n'a pas indiqué de position."),
}


def pro_entry(spec: KindSpec, raw: Mapping[str, Any], language: str = "fr") -> EntryItem:
    """An entry as the profile page shows it, worded for a professional (not 'vous')."""
    item = entry_item(spec.key, raw)
    title = (gettext(language, ADVANCE_DIRECTIVE_TITLE) if spec.key == "advance_directive"
             else item.title)
    details = [gettext(language, ATTACHED_DOCUMENT) if d.startswith("Un document")
               else gettext(language, d) for d in item.details]
    return dataclasses.replace(item, title=title, details=details,
                               meta=_entry_meta(raw, language))


def section_views(sections: list[str], profile: Mapping[str, Any] | None,
                  language: str = "fr") -> list[SectionView]:
    """The sections I may read, in the profile page's order, with their entries."""
    allowed = {SECTION_KINDS[s] for s in sections if s in SECTION_KINDS}
    views = []
    for spec in KINDS:
        if spec.key not in allowed:
            continue
        raw = (profile or {}).get(spec.profile_field)
        rows = ([raw] if raw else []) if spec.single else list(raw or [])
        views.append(SectionView(
            key=spec.key, anchor="dossier-" + spec.anchor,
            # The profile's own words (its catalogue), in the tab's language.
            title=gettext(language, spec.title),
            empty=_empty_text(spec, language),
            rows=[pro_entry(spec, row, language) for row in rows],
        ))
    return views


def _empty_text(spec: KindSpec, language: str = "fr") -> str:
    return gettext(language, PRO_EMPTY_TEXTS.get(spec.key, spec.empty))


class ProRecordState(SessionState):
    loading: bool = True
    found: bool = False
    error: str = ""
    info: str = ""
    more_loading: bool = False
    patient_id: str = ""
    patient_label: str = ""  # 'DUPONT Jean'
    birth_date: str = ""
    ground: str = ""
    expiry: str = ""
    documents: list[RecordDocument] = []
    total: int = 0
    has_more: bool = False
    sections: list[SectionView] = []

    _cursor: str = ""
    _download_urls: dict[str, str] = {}  # document id -> its downloadUrl on the API

    @rx.var
    def count_label(self) -> str:
        return count_label(self.total)

    def _route_id(self) -> str:
        return route_patient_id(str(self.router.url.path or ""))

    def _clear(self) -> None:
        self.found = False
        self.patient_label = ""
        self.birth_date = ""
        self.ground = ""
        self.expiry = ""
        self.documents = []
        self.total = 0
        self.has_more = False
        self.sections = []
        self._cursor = ""
        self._download_urls = {}

    def _take_documents(self, connection: Mapping[str, Any], *, more: bool) -> None:
        nodes = [edge["node"] for edge in connection.get("edges") or []]
        items = [record_document(node, self.lang) for node in nodes]
        urls = {str(node["id"]): str(node.get("downloadUrl") or "") for node in nodes}
        self.documents = [*self.documents, *items] if more else items
        self._download_urls = {**self._download_urls, **urls} if more else urls
        self.total = int(connection.get("totalCount") or 0)
        page = connection.get("pageInfo") or {}
        self.has_more = bool(page.get("hasNextPage"))
        self._cursor = str(page.get("endCursor") or "")

    def _take_record(self, record: Mapping[str, Any]) -> None:
        patient = record.get("patient") or {}
        self.found = True
        self.patient_label = patient_name(patient.get("birthName"), patient.get("firstNames"),
                                          self.lang)
        self.birth_date = day_text(str(patient.get("birthDate") or ""), self.lang)
        self.ground = ground_label(record.get("ground"), self.lang)
        self.expiry = expiry_label(record.get("ground"), record.get("expiresAt"), self.lang)
        self._take_documents(record.get("documents") or {}, more=False)
        self.sections = section_views(list(record.get("sections") or []),
                                      record.get("profile"), self.lang)

    def _expired(self) -> EventSpec:
        self._clear()
        return super()._expired()

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load and on "Réessayer"."""
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        patient_id = self._route_id()
        if patient_id != self.patient_id:
            self._clear()  # never show another patient's record, even for a moment
        self.patient_id = patient_id
        self.loading = True
        self.error = ""
        self.info = ""
        yield
        data = await self._query(PATIENT_RECORD,
                                 {"patientId": patient_id, "first": DOCUMENTS_PAGE})
        record = data.get("patientRecord")
        if not record:
            self._clear()
            self.error = self._t(RECORD_UNAVAILABLE)
            return
        self._take_record(record)

    @rx.event
    @api_errors(error="error", busy="more_loading")
    async def load_more(self) -> AsyncIterator[EventSpec | None]:
        """"Afficher plus": the next page of documents."""
        if self.more_loading or not self.has_more or not self.found:
            return
        if (redirect := require_professional(self)) is not None:
            yield redirect
            return
        self.more_loading = True
        self.error = ""
        yield
        data = await self._query(MORE_DOCUMENTS, {
            "patientId": self.patient_id, "first": DOCUMENTS_PAGE, "after": self._cursor})
        record = data.get("patientRecord")
        if not record:
            self._clear()
            self.error = self._t(RECORD_UNAVAILABLE)
            return
        self._take_documents(record.get("documents") or {}, more=True)

    @rx.event
    def download(self, document_id: str) -> EventSpec | None:
        """"Télécharger": a one-time link to this server, which streams the file from the API
        with this tab's token (`carnet_web.documents_http`)."""
        if (redirect := require_professional(self)) is not None:
            return redirect
        self.error = ""
        path = self._download_urls.get(document_id, "")
        if not path.startswith("/") or path.startswith("//"):
            self.error = self._t(DOCUMENT_GONE)
            return None
        ticket = TICKETS.issue(token=self._api_token, path=path,
                               headers=self._forwarded_headers())
        base = backend_base_url(get_config().api_url, self.router.page.host)
        return rx.call_script(download_script(download_url(base, ticket)))
