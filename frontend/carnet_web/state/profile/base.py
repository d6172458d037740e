"""The profile page's shared part (`ProfileBase`): reading my profile and every chart series,
the entries of each section and the charts as the page shows them (in the tab's language), the
page's messages, and what happens when the session is over.

Needs a patient's session: without one (or when the API says it is no longer valid) the tab
goes to the login page, which comes back here.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_
from carnet_web.state.profile.charts import CHARTS, ChartView, chart_view, empty_charts
from carnet_web.state.profile.entries import EntryItem, attached_document, entry_item
from carnet_web.state.profile.operations import DIRECTIVE_DOCUMENT, PROFILE
from carnet_web.state.profile.sections import KINDS
from carnet_web.state.session import SessionState, api_errors

PATIENTS_ONLY: Final = N_("Le profil médical est réservé aux comptes patients.")

class ProfileBase(SessionState, mixin=True):
    loading: bool = True
    loaded: bool = False  # the profile was read at least once (the sections are shown)
    error: str = ""
    info: str = ""  # what a page-wide action did (the export)
    # One list per section (single kinds hold 0 or 1 entry).
    entries_allergy: list[EntryItem] = []
    entries_vaccination: list[EntryItem] = []
    entries_medical_history: list[EntryItem] = []
    entries_family_history: list[EntryItem] = []
    entries_treatment: list[EntryItem] = []
    entries_measurement: list[EntryItem] = []
    entries_emergency_contact: list[EntryItem] = []
    entries_advance_directive: list[EntryItem] = []
    entries_organ_donation: list[EntryItem] = []
    # What each chart shows, by series kind.
    charts: dict[str, ChartView] = empty_charts()
    # The last change, said in its section (until the next action, or the page is left).
    saved_kind: str = ""
    saved_message: str = ""

    # Each entry as the API sent it, for the edit forms: kind -> id -> entry.
    _raw: dict[str, dict[str, dict[str, Any]]] = {}
    # Whose session read what is shown (a hash of its token): another sign-in in this tab
    # must never see it, not even while its own profile loads.
    _owner: str = ""

    def _busy(self) -> bool:
        """A change is on its way to the API (ProfileState knows which)."""
        return False

    def _close_actions(self) -> None:
        """Close any form or dialog (ProfileState closes its parts')."""

    def _forget_entry(self, kind: str, entry_id: str) -> None:
        """An entry is being deleted: close what shows it (its edit form)."""

    # --- reading ------------------------------------------------------------------------

    async def _fetch(self) -> None:
        """Read my profile and every chart series. Raises `api.ApiError`."""
        data = await self._query(PROFILE)
        profile = data["profile"]
        raw: dict[str, dict[str, dict[str, Any]]] = {}
        for spec in KINDS:
            found = profile.get(spec.profile_field)
            rows = ([found] if found else []) if spec.single else list(found or [])
            raw[spec.key] = {str(row["id"]): row for row in rows}
            setattr(self, spec.var, [entry_item(spec.key, row, self.lang) for row in rows])
        self._raw = raw
        self._owner = self._session_hash()
        self.charts = {chart.kind: chart_view(chart, data.get(f"series{chart.kind}"), self.lang)
                       for chart in CHARTS}
        self.loaded = True
        await self._fetch_directive_document(profile.get("advanceDirective"))

    async def _fetch_directive_document(self, directive: Mapping[str, Any] | None) -> None:
        """Name the document joined to my directives (best effort: else it stays unnamed)."""
        document_id = (directive or {}).get("documentId")
        if not document_id:
            return
        try:
            found = (await self._query(DIRECTIVE_DOCUMENT, {"id": str(document_id)}))["document"]
        except api.ApiUnauthenticated:
            raise
        except api.ApiError:
            return
        details = attached_document(found, self.lang)
        self.entries_advance_directive = [
            dataclasses.replace(item, details=details) for item in self.entries_advance_directive
        ]

    async def _refresh(self) -> None:
        """Read the profile again after a change. The change went through: a failure to read
        is the page's error, not the form's. Raises `api.ApiUnauthenticated`."""
        try:
            await self._fetch()
        except api.ApiUnauthenticated:
            raise
        except api.ApiError as exc:
            self.error = self._api_failed(exc)

    def _session_hash(self) -> str:
        return hashlib.sha256(self._api_token.encode()).hexdigest() if self._api_token else ""

    def _forget_profile(self) -> None:
        for spec in KINDS:
            setattr(self, spec.var, [])
        self._raw = {}
        self._owner = ""
        self.charts = empty_charts()
        self.loaded = False
        self._clear_messages()
        self._close_actions()

    def _clear_messages(self) -> None:
        """What finished actions said: never kept for the next visit of the page."""
        self.error = ""
        self.info = ""
        self.saved_kind = self.saved_message = ""

    def _expired(self) -> EventSpec:
        self._forget_profile()
        return super()._expired()

    def _api_failed(self, exc: api.ApiError) -> str:
        return self._t(PATIENTS_ONLY) if exc.code == "FORBIDDEN" else super()._api_failed(exc)

    @rx.event
    @api_errors(error="error", busy="loading")
    async def load(self) -> AsyncIterator[EventSpec | None]:
        """On page load (so also after a reload, or coming back to the page) and on
        "Réessayer"."""
        if self._owner and self._owner != self._session_hash():
            self._forget_profile()  # read by another session of this tab
        self._clear_messages()
        self._close_actions()
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.loading = True
        yield
        await self._fetch()
