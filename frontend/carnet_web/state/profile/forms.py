"""The add / edit form of a section: what it shows when it opens, its checks (the API has the
same ones: these only answer sooner, in the tab's language), the API's typed errors in words,
and the state part that opens, fills and submits it (`ProfileFormsMixin`).

One form is open at a time (`form_kind`, and `form_entry_id` when editing). Its text fields
are uncontrolled: they show `form_defaults` when the form mounts and are read on submit. Its
lists (`select`) start on `form_choices` and tell it each change, so the measurement form shows
the fields of the chosen kind only. Dates and times typed, and shown, are in Paris time.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext, normalise
from carnet_web.state.focus import focus
from carnet_web.state.formatting import display_zone, parse_moment
from carnet_web.state.profile.base import ProfileBase
from carnet_web.state.profile.entries import document_choice
from carnet_web.state.profile.measurements import (
    DIASTOLIC_NOT_BELOW,
    VALUE_DIGITS,
    chosen_kind,
    out_of_range_message,
    value_label,
)
from carnet_web.state.profile.operations import DOCUMENT_CHOICES_QUERY, OPERATIONS_BY_KIND
from carnet_web.state.profile.sections import BY_KEY, FieldSpec, KindSpec
from carnet_web.state.session import api_errors

FUTURE_TOLERANCE: Final = timedelta(minutes=10)  # clocks differ a little
DOCUMENT_CHOICES: Final = 100  # the API's page size limit

ENTRY_GONE: Final = N_("Cet élément n'existe plus : il a peut-être été supprimé.")
CONTACT_NEEDS_A_WAY: Final = N_("Indiquez un téléphone ou un courriel.")
DIRECTIVE_EMPTY: Final = N_("Rédigez vos directives ou choisissez un document.")
RESOLVED_BEFORE_ONSET: Final = N_("La date de guérison précède le début.")
END_BEFORE_START: Final = N_("La date de fin précède le début.")
NO_DOCUMENT: Final = N_("Aucun document joint")
DOCUMENTS_UNAVAILABLE: Final = N_(
    "La liste de vos documents n'a pas pu être chargée : vous pouvez tout de même "
    "enregistrer un texte."
)

# --- checking a form ----------------------------------------------------------------------


def now_local() -> datetime:
    return datetime.now(display_zone())


def local_input_value(iso: str) -> str:
    """An API date-time as a datetime-local field shows it (Paris time): '2026-01-05T09:30'."""
    moment = parse_moment(iso)
    if moment is None:
        return ""
    return moment.astimezone(display_zone()).strftime("%Y-%m-%dT%H:%M")


def parse_local(value: str) -> datetime | None:
    """A datetime-local field's value, in Paris time; None if unreadable."""
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=display_zone())
        except ValueError:
            continue
    return None


def input_number(value: float, language: str) -> str:
    """A number as typed in a field: '72,5' in French, '72.5' in English (no thousands
    separator: `parse_number` reads both)."""
    text = f"{value:.{VALUE_DIGITS}f}".rstrip("0").rstrip(".")
    text = "0" if text in ("", "-0") else text
    return text.replace(".", ",") if normalise(language) == "fr" else text


def parse_number(raw: str) -> float | None:
    """'72,5', '72.5', ' 1 000 ' -> float; None if not a finite number."""
    text = raw.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class FormProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def field_label(spec: KindSpec, field: FieldSpec, kind: str = "") -> str:
    """The French label of a field (a measurement's values are named after its kind)."""
    if spec.key == "measurement" and field.name in ("value", "diastolic"):
        return value_label(chosen_kind(kind), field.name)
    return field.label


def _clean_text(raw: str, *, multiline: bool) -> str:
    if multiline:
        return "\n".join(" ".join(line.split()) for line in raw.strip().splitlines()).strip()
    return " ".join(raw.split())


class _Checker:
    """Reads the fields of one submitted form, in the tab's language."""

    def __init__(self, spec: KindSpec, form: Mapping[str, Any], now: datetime, language: str
                 ) -> None:
        self.spec = spec
        self.form = form
        self.now = now
        self.language = language
        self.kind = str(form.get("kind") or "") if spec.key == "measurement" else ""

    def problem(self, field: FieldSpec, message: str, **values: Any) -> FormProblem:
        label = gettext(self.language, field_label(self.spec, field, self.kind))
        return FormProblem(field.name, gettext(self.language, message, label=label, **values))

    def value(self, field: FieldSpec) -> Any:
        """The API input value of one field (None when left empty). Raises FormProblem."""
        raw = self.form.get(field.name)
        text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        control = field.control
        if control in ("text", "textarea", "tel", "email"):
            value = _clean_text(text, multiline=field.multiline)
            if len(value) > field.max_length:
                raise self.problem(field, N_("{label} : {limit} caractères au maximum."),
                                   limit=field.max_length)
        else:
            value = text.strip()
        if not value:
            if field.required:
                raise self.problem(field, N_("{label} : choisissez une valeur dans la liste.")
                                   if control == "select"
                                   else N_("{label} : ce champ est obligatoire."))
            return None
        if control == "select":
            if value not in {choice for choice, _ in field.choices}:
                raise self.problem(field, N_("{label} : choisissez une valeur dans la liste."))
            return value
        if control == "date":
            return self.day(field, value)
        if control == "datetime":
            moment = parse_local(value)
            if moment is None or moment.year < 1900:
                raise self.problem(field, N_("{label} : date invalide."))
            if moment > self.now + FUTURE_TOLERANCE:
                raise self.problem(field, N_("{label} : la date est dans le futur."))
            return moment.isoformat()
        if control == "number":
            number = parse_number(value)
            if number is None:
                raise self.problem(field, N_("{label} : nombre invalide (par exemple 72,5)."))
            return number
        if control == "integer":
            try:
                whole = int(value)
            except ValueError:
                raise self.problem(field, N_("{label} : nombre entier attendu.")) from None
            if not field.minimum <= whole <= field.maximum:
                raise self.problem(field, N_("{label} : valeur attendue entre {low} et {high}."),
                                   low=field.minimum, high=field.maximum)
            return whole
        return value  # 'document': an id of my record (the API checks it is mine)

    def day(self, field: FieldSpec, value: str) -> str:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise self.problem(field, N_("{label} : date invalide.")) from None
        if day.year < 1900:
            raise self.problem(field, N_("{label} : date invalide."))
        if not field.future_allowed and day > self.now.date():
            raise self.problem(field, N_("{label} : la date est dans le futur."))
        return day.isoformat()

    def together(self, values: dict[str, Any]) -> None:
        """Rules between fields (the API has the same ones). Raises FormProblem."""
        key, t = self.spec.key, self.language
        if key == "measurement":
            if values.get("diastolic") is not None and values["diastolic"] >= values["value"]:
                raise FormProblem("diastolic", gettext(t, DIASTOLIC_NOT_BELOW))
        elif key == "medical_history":
            onset, resolved = values.get("onset"), values.get("resolved")
            if onset and resolved and resolved < onset:
                raise FormProblem("resolved", gettext(t, RESOLVED_BEFORE_ONSET))
        elif key == "treatment":
            start, end = values.get("startDate"), values.get("endDate")
            if start and end and end < start:
                raise FormProblem("endDate", gettext(t, END_BEFORE_START))
        elif key == "emergency_contact":
            if not values.get("phone") and not values.get("email"):
                raise FormProblem("phone", gettext(t, CONTACT_NEEDS_A_WAY))
        elif key == "advance_directive" and not values.get("text") \
                and not values.get("documentId"):
            raise FormProblem("text", gettext(t, DIRECTIVE_EMPTY))


def parse_form(spec: KindSpec, form: Mapping[str, Any], *, now: datetime | None = None,
               language: str = "fr") -> tuple[dict[str, Any], FormProblem | None]:
    """The API input from a submitted form, or the first problem (field, message in
    `language`). A field the chosen measurement kind does not ask is not sent."""
    checker = _Checker(spec, form, now or now_local(), language)
    values: dict[str, Any] = {}
    try:
        for field in spec.fields:
            values[field.name] = checker.value(field) if field.asked_for(checker.kind) else None
        checker.together(values)
    except FormProblem as problem:
        return values, problem
    return values, None


def form_values(spec: KindSpec, raw: Mapping[str, Any] | None, language: str = "fr"
                ) -> dict[str, str]:
    """What the form shows when it opens: an entry's values, or the defaults (numbers as
    the tab's language writes them: '72,5' / '72.5')."""
    values: dict[str, str] = {}
    for field in spec.fields:
        if raw is None:
            value = field.default
            if field.control == "datetime":
                value = now_local().strftime("%Y-%m-%dT%H:%M")
        else:
            found = raw.get(field.name)
            if found is None:
                value = ""
            elif field.control == "datetime":
                value = local_input_value(str(found))
            elif field.control == "number":
                value = input_number(float(found), language)
            else:
                value = str(found)
        values[field.name] = value
    return values


def _fallback(result: Mapping[str, Any]) -> str:
    # An error type this page does not know yet: the API's own message (in the tab's
    # language: the API is told it with Accept-Language).
    message = result.get("message")
    return message if isinstance(message, str) and message else api.UNEXPECTED_MESSAGE


def result_error(result: Mapping[str, Any], *, kind: str = "",
                 values: Mapping[str, Any] | None = None, language: str = "fr"
                 ) -> tuple[str, str]:
    """(form field, message) for an error member of a profile mutation's result."""
    typename = result.get("__typename")
    field = str(result.get("field") or "")
    if typename == "MeasurementOutOfRange":
        entered = (values or {}).get(field or "value")
        return field or "value", out_of_range_message(
            result, kind=kind, value=float(entered) if entered is not None else None,
            language=language)
    if typename == "EntryNotFound":
        return "", gettext(language, ENTRY_GONE)
    # InvalidProfileInput: the API names the field and says what is wrong.
    return field, gettext(language, _fallback(result))


# --- the state part ---------------------------------------------------------------------------


class ProfileFormsMixin(ProfileBase, mixin=True):
    """The one open form: opening it (empty, or filled to edit an entry), its lists, its
    checks and its submission."""

    form_kind: str = ""  # a KindSpec.key, or '' when no form is open
    form_entry_id: str = ""  # the entry being edited, '' when adding
    form_defaults: dict[str, str] = {}  # what the form's text fields show when it opens
    form_choices: dict[str, str] = {}  # the form's lists, as chosen
    form_key: int = 0  # bumped to remount (and so reset) the form
    form_error: str = ""
    form_error_field: str = ""
    form_notice: str = ""  # e.g. the documents could not be listed
    saving: bool = False
    # The directive form's document list: [id, label] pairs, "no document" first.
    document_options: list[list[str]] = []

    def _close_form(self) -> None:
        self.form_kind = ""
        self.form_entry_id = ""
        self.form_defaults = {}
        self.form_choices = {}
        self.form_error = ""
        self.form_error_field = ""
        self.form_notice = ""
        self.document_options = []
        self.saving = False
        self.form_key += 1

    def _forget_entry(self, kind: str, entry_id: str) -> None:
        spec = BY_KEY.get(kind)
        if spec is not None and self.form_kind == kind and (
                spec.single or self.form_entry_id == entry_id):
            self._close_form()
        super()._forget_entry(kind, entry_id)

    async def _open_form(self, spec: KindSpec, raw: Mapping[str, Any] | None) -> None:
        self._close_actions()
        self.info = ""
        self.saved_kind = self.saved_message = ""
        self.form_notice = ""
        if spec.key == "advance_directive":
            # The document list first: the select must have its options when it mounts.
            await self._fetch_document_choices()
        else:
            self.document_options = []
        values = form_values(spec, raw, self.lang)
        self.form_kind = spec.key
        self.form_entry_id = str(raw["id"]) if raw is not None else ""
        self.form_choices = {f.name: values.pop(f.name) for f in spec.fields if f.chosen}
        self.form_defaults = values
        self.form_error = ""
        self.form_error_field = ""
        self.form_key += 1

    async def _fetch_document_choices(self) -> None:
        """My documents, for the directive form (best effort: without them, a text can still
        be saved). Raises `api.ApiUnauthenticated`."""
        options = [["", self._t(NO_DOCUMENT)]]
        try:
            data = await self._query(DOCUMENT_CHOICES_QUERY, {"first": DOCUMENT_CHOICES})
        except api.ApiUnauthenticated:
            raise
        except api.ApiError:
            self.form_notice = self._t(DOCUMENTS_UNAVAILABLE)
        else:
            for edge in data["documents"]["edges"]:
                choice = document_choice(edge["node"], self.lang)
                options.append([choice.id, choice.label])
        self.document_options = options

    @rx.event
    @api_errors(error="error")
    async def open_form(self, kind: str) -> AsyncIterator[EventSpec | None]:
        """"Ajouter …": an empty form for this kind (closes any other)."""
        spec = BY_KEY.get(kind)
        if spec is None or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        existing = self._raw.get(kind) or {}
        # A single kind with an entry is edited, never added twice.
        raw = next(iter(existing.values())) if spec.single and existing else None
        await self._open_form(spec, raw)

    @rx.event
    @api_errors(error="error")
    async def edit(self, kind: str, entry_id: str) -> AsyncIterator[EventSpec | None]:
        """"Modifier": the form of this entry, filled with its values."""
        spec = BY_KEY.get(kind)
        if spec is None or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        raw = (self._raw.get(kind) or {}).get(entry_id)
        if raw is None:
            self.error = self._t(ENTRY_GONE)
            await self._refresh()
            return
        await self._open_form(spec, raw)

    @rx.event
    def choose(self, name: str, value: str) -> None:
        """A list of the open form changed (for measurements: the kind, so its fields)."""
        spec = BY_KEY.get(self.form_kind)
        if spec is None or spec.field(name) is None:
            return
        self.form_choices = {**self.form_choices, name: str(value)}
        if name == "kind" and self.form_error_field in ("value", "diastolic"):
            self.form_error = self.form_error_field = ""  # said of the other kind's fields

    @rx.event
    def cancel_form(self) -> EventSpec | None:
        """"Annuler": close the form, back to the button that opened it."""
        if self.saving or not self.form_kind:
            return None
        target = self._opener_id()
        self._close_form()
        return focus(target)

    def _opener_id(self) -> str:
        spec = BY_KEY[self.form_kind]
        if self.form_entry_id:
            return f"edit-{self.form_entry_id}"
        return f"{spec.anchor}-add"

    @rx.event
    @api_errors(error="form_error", busy="saving")
    async def submit(self, form_data: dict[str, Any]) -> AsyncIterator[EventSpec | None]:
        """"Enregistrer" in the open form: check it, add or update, then read the profile
        again (the lists' order and the charts are the API's)."""
        spec = BY_KEY.get(self.form_kind)
        if spec is None or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        form = {**self.form_choices, **form_data}  # (the lists are in both)
        values, problem = parse_form(spec, form, language=self.lang)
        if problem is not None:
            self.form_error, self.form_error_field = problem.message, problem.field
            yield focus(f"{spec.anchor}-{problem.field}")
            return
        operations = OPERATIONS_BY_KIND[spec.key]
        entry_id = self.form_entry_id
        if spec.single or not entry_id:
            document, variables, field = operations.add, {"input": values}, operations.save_field
        else:
            document, field = operations.update, operations.update_field
            variables = {"id": entry_id, "input": values}
        self.saving = True
        self.form_error = self.form_error_field = ""
        self.error = ""
        self.info = ""
        yield
        result = (await self._query(document, variables))[field]
        self.saving = False
        if result.get("__typename") != spec.type_name:
            field_name, message = result_error(result, kind=str(values.get("kind") or ""),
                                               values=values, language=self.lang)
            if result.get("__typename") == "EntryNotFound":
                self._close_form()
                self.error = message
                await self._refresh()
                return
            self.form_error, self.form_error_field = message, field_name
            if field_name:
                yield focus(f"{spec.anchor}-{field_name}")
            return
        editing = bool(entry_id) or (spec.single and bool(self._raw.get(spec.key)))
        self._close_form()
        self.saved_kind = spec.key
        self.saved_message = self._t(spec.updated if editing else spec.added)
        await self._refresh()
        saved = str(result.get("id") or entry_id)
        yield focus(f"edit-{saved}" if editing or spec.single else f"{spec.anchor}-add")
