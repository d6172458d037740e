"""State of "Mon profil médical" (/profil): allergies, vaccinations, personal and family
history, treatments, measurements (with one chart per series), emergency contacts, advance
directives and organ donation; adding, editing and deleting entries; exporting the whole
record as a FHIR R4 Bundle.

One Reflex state, `ProfileState`, made of one part per concern:

- `base`: reading the profile, the sections' entries and the charts, the page's messages;
- `forms`: the add / edit form, its checks and the API's typed errors;
- `deleting`: the confirmation and the deletion;
- `fhir`: the FHIR export.

And what they share, with no state of its own: `sections` (what each section is: fields,
GraphQL type, wording), `labels` (the API's enums and the measurement kinds in words),
`measurements`, `entries` (how an entry is written), `charts` (what a chart shows),
`operations` (the GraphQL documents).

Every text the state makes is in the tab's language (`self.lang`: French msgids, English from
locales/en/LC_MESSAGES/profile.po), dates and numbers too (state/formatting.py).
"""

from __future__ import annotations

import reflex as rx

from carnet_web.routes import PROFILE_ROUTE as ROUTE
from carnet_web.state.focus import focus
from carnet_web.state.profile.base import PATIENTS_ONLY, ProfileBase
from carnet_web.state.profile.charts import (
    CHART_KINDS,
    CHARTS,
    ChartRow,
    ChartSpec,
    ChartView,
    chart_summary,
    chart_view,
    nice_ticks,
    tick_key,
)
from carnet_web.state.profile.deleting import ProfileDeleteMixin
from carnet_web.state.profile.entries import DocumentChoice, EntryItem, author_label, entry_item
from carnet_web.state.profile.fhir import (
    EXPORT_FILENAME,
    EXPORT_MIME_TYPE,
    ProfileExportMixin,
    exported_message,
)
from carnet_web.state.profile.forms import (
    ENTRY_GONE,
    FormProblem,
    ProfileFormsMixin,
    field_label,
    form_values,
    parse_form,
    result_error,
)
from carnet_web.state.profile.labels import MEASUREMENT_KINDS, MEASUREMENTS
from carnet_web.state.profile.measurements import out_of_range_message
from carnet_web.state.profile.operations import (
    DIRECTIVE_DOCUMENT,
    DOCUMENT_CHOICES_QUERY,
    FHIR_EVERYTHING,
    OPERATIONS_BY_KIND,
    PROFILE,
)
from carnet_web.state.profile.sections import BY_KEY, KINDS, FieldSpec, KindSpec
from carnet_web.state.session import SessionState

__all__ = [
    "BY_KEY", "CHARTS", "CHART_KINDS", "DIRECTIVE_DOCUMENT", "DOCUMENT_CHOICES_QUERY",
    "ENTRY_GONE", "EXPORT_FILENAME", "EXPORT_MIME_TYPE", "FHIR_EVERYTHING", "KINDS",
    "MEASUREMENTS", "MEASUREMENT_KINDS", "OPERATIONS_BY_KIND", "PATIENTS_ONLY", "PROFILE",
    "ROUTE", "ChartRow", "ChartSpec", "ChartView", "DocumentChoice", "EntryItem", "FieldSpec",
    "FormProblem", "KindSpec", "ProfileBase", "ProfileState", "author_label", "chart_summary",
    "chart_view", "entry_item", "exported_message", "field_label", "focus", "form_values",
    "nice_ticks", "out_of_range_message", "parse_form", "result_error", "tick_key",
]


class ProfileState(ProfileFormsMixin, ProfileDeleteMixin, ProfileExportMixin, SessionState):
    """The profile page's state: its parts (mixins) in one Reflex state."""

    @rx.var
    def busy(self) -> bool:
        """A change is on its way to the API: the other buttons wait."""
        return self.saving or self.deleting

    def _busy(self) -> bool:
        return self.saving or self.deleting

    def _close_actions(self) -> None:
        self._close_form()
        self._close_delete()
