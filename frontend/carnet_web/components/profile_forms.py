"""The add / edit form of a profile section, built from its `KindSpec` (state/profile/).

Text fields are uncontrolled: they show `ProfileState.form_defaults` when the form mounts and
are read on submit; the form remounts (`key`) when it opens for another entry. Lists are native
selects, uncontrolled too, whose changes are kept in `ProfileState.form_choices`: the
measurement form shows the fields of the kind chosen (one value in its unit; the systolic and
diastolic pressures of a blood pressure). Every field has its label, its hint and its error
tied to it; the browser's own checks are off (`no_validate`: they would speak the browser's
language), the state's are in the tab's.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from carnet_web.components.ui import error_callout, field_error, form_field, select_field
from carnet_web.i18n import t
from carnet_web.state.profile import MEASUREMENT_KINDS, FieldSpec, KindSpec, ProfileState


def field_id(spec: KindSpec, field: FieldSpec) -> str:
    return f"{spec.anchor}-{field.name}"


def _error(field: FieldSpec) -> Any:
    """The form's error when it is about this field, else ''."""
    return rx.cond(ProfileState.form_error_field == field.name, ProfileState.form_error, "")


def _described_by(control_id: str, field: FieldSpec) -> Any:
    hint = [f"{control_id}-hint"] if field.hint else []
    return rx.cond(ProfileState.form_error_field == field.name,
                   " ".join([*hint, f"{control_id}-error"]), " ".join(hint))


def _label(text: Any, field: FieldSpec) -> rx.Component:
    """The field's name, and an asterisk when it is required (said by `required`)."""
    if not field.required:
        return rx.fragment(text)
    return rx.fragment(text, rx.el.span(" *", aria_hidden="true", color="var(--red-11)"))


def _kind_text(messages: dict[str, str], default: str) -> Any:
    """One text per measurement kind (the one chosen in the form)."""
    return rx.match(ProfileState.form_choices["kind"],
                    *((kind, t(message)) for kind, message in messages.items()), t(default))


def _measurement_label(field: FieldSpec) -> Any:
    if field.name == "value":
        return _kind_text({k.kind: k.value_label for k in MEASUREMENT_KINDS}, field.label)
    if field.name == "diastolic":
        return t(field.label)
    return None


def _select(spec: KindSpec, field: FieldSpec, label: Any, *, first: bool) -> rx.Component:
    control_id = field_id(spec, field)
    if field.control == "document":
        options: Any = ProfileState.document_options
    else:
        empty = [] if field.default else [
            ("", t("Choisissez…") if field.required else t("Non précisé"))]
        options = [*empty, *((value, t(text)) for value, text in field.choices)]
    # Uncontrolled, like the text fields (a controlled select would jump back to the
    # state's value between two arrow keys, before the server answers): it starts on the
    # state's value when the form mounts and tells the state each change. (Its hint and
    # error are tied here: select_field's `error` needs a plain value.)
    select = select_field(
        _label(label, field),
        id=control_id,
        options=options,
        value=None,
        default_value=ProfileState.form_choices[field.name],
        on_change=lambda value: ProfileState.choose(field.name, value),
        name=field.name,
        required=field.required,
        aria_invalid=rx.cond(ProfileState.form_error_field == field.name, "true", "false"),
        aria_describedby=_described_by(control_id, field),
        **({"auto_focus": True} if first else {}),
    )
    return rx.vstack(
        select,
        *([rx.text(t(field.hint), id=f"{control_id}-hint", color_scheme="gray", size="2")]
          if field.hint else []),
        field_error(control_id, _error(field)),
        spacing="1",
        width="100%",
    )


def _input(spec: KindSpec, field: FieldSpec, *, first: bool) -> rx.Component:
    control_id = field_id(spec, field)
    props: dict[str, Any] = {
        "id": control_id,
        "name": field.name,
        "default_value": ProfileState.form_defaults[field.name],
        "aria_invalid": rx.cond(ProfileState.form_error_field == field.name, "true", "false"),
        "aria_describedby": _described_by(control_id, field),
        "required": field.required,
        "width": "100%",
    }
    if first:
        props["auto_focus"] = True  # and so scrolled into view when the form opens
    if field.control == "textarea":
        return rx.text_area(max_length=field.max_length,
                            rows="10" if field.max_length > 2000 else "3",
                            resize="vertical", size="3", **props)
    if field.control == "date":
        props["type"] = "date"
    elif field.control == "datetime":
        props["type"] = "datetime-local"
    elif field.control == "number":
        # Text, so that a decimal comma is taken as typed ("72,5").
        props.update(type="text", auto_complete="off", custom_attrs={"inputMode": "decimal"})
    elif field.control == "integer":
        props.update(type="number", min=field.minimum, max=field.maximum, step=1)
    else:
        props.update(type={"tel": "tel", "email": "email"}.get(field.control, "text"),
                     max_length=field.max_length)
        if field.control in ("tel", "email"):
            props["auto_complete"] = "off"  # someone else's, not mine
    if spec.key == "measurement" and field.name == "value":
        props["placeholder"] = _kind_text({k.kind: k.example for k in MEASUREMENT_KINDS},
                                          "Ex. : 72,5")
    elif spec.key == "measurement" and field.name == "diastolic":
        props["placeholder"] = t("Ex. : 82")
    elif field.placeholder:
        props["placeholder"] = t(field.placeholder)
    return rx.input(size="3", **props)


def _field(spec: KindSpec, field: FieldSpec, *, first: bool) -> rx.Component:
    label = _measurement_label(field) if spec.key == "measurement" else None
    if label is None:
        label = t(field.label)
    if field.chosen:
        control = _select(spec, field, label, first=first)
    else:
        control = form_field(
            _label(label, field),
            _input(spec, field, first=first),
            id=field_id(spec, field),
            hint=t(field.hint) if field.hint else None,
            error=_error(field),
        )
    wide = field.control in ("textarea", "document")
    shown = rx.box(control, width="100%", min_width="0",
                   grid_column="1 / -1" if wide else None)
    if field.kinds:  # a measurement kind's own field (the diastolic pressure)
        asked = rx.Var.create(False)
        for kind in field.kinds:
            asked = asked | (ProfileState.form_choices["kind"] == kind)
        return rx.cond(asked, shown)
    return shown


def _general_error(spec: KindSpec) -> rx.Component:
    """An error about no field of the form (the API unreachable, an entry gone...)."""
    on_a_field = rx.Var.create(False)
    for field in spec.fields:
        on_a_field = on_a_field | (ProfileState.form_error_field == field.name)
    return error_callout(rx.cond(on_a_field, "", ProfileState.form_error),
                         id="profile-form-error")


def entry_form(spec: KindSpec, *, editing: Any) -> rx.Component:
    """The form of `spec`, for adding or (when `editing`) changing an entry."""
    title_id = f"{spec.anchor}-form-title"
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(editing, t(spec.edit_title), t(spec.add_title)), as_="h3",
                           size="4", id=title_id),
                rx.text(t("Les champs marqués d'un astérisque (*) sont obligatoires."),
                        size="2", color_scheme="gray"),
                rx.cond(
                    ProfileState.form_notice != "",
                    rx.callout(ProfileState.form_notice, icon="info", size="1",
                               color_scheme="amber", role="status", width="100%"),
                ),
                rx.grid(
                    *(_field(spec, field, first=index == 0)
                      for index, field in enumerate(spec.fields)),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="4",
                    width="100%",
                ),
                _general_error(spec),
                rx.flex(
                    rx.button(
                        t("Enregistrer"),
                        type="submit",
                        loading=ProfileState.saving,
                        # Enabled once the tab is connected to the server.
                        disabled=~ProfileState.is_hydrated,
                        id=f"{spec.anchor}-submit",
                    ),
                    rx.button(
                        t("Annuler"),
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=ProfileState.cancel_form,
                        disabled=ProfileState.saving,
                        id=f"{spec.anchor}-cancel",
                    ),
                    spacing="3",
                    wrap="wrap",
                ),
                spacing="4",
                width="100%",
            ),
            on_submit=ProfileState.submit,
            reset_on_submit=False,
            no_validate=True,
            key=ProfileState.form_kind + "-" + ProfileState.form_entry_id + "-"
            + ProfileState.form_key.to_string(),
            aria_labelledby=title_id,
            id=f"{spec.anchor}-form",
            width="100%",
        ),
        width="100%",
    )
