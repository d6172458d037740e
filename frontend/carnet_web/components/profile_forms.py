"""The add / edit form of a profile kind, built from its `KindSpec` (state/profile.py).

Fields are uncontrolled: they show `ProfileState.form_defaults` when the form mounts and are
read on submit. The form remounts (`key`) when it opens for another entry, or after a save.
Everything shown comes from state as plain text.
"""

from __future__ import annotations

import reflex as rx

from carnet_web.state.profile import FieldSpec, KindSpec, ProfileState

# Native <select>: keyboard- and screen-reader-friendly, and a plain form field.
SELECT_STYLE = {
    "height": "var(--space-6)",
    "padding": "0 var(--space-2)",
    "border": "1px solid var(--gray-a7)",
    "border_radius": "var(--radius-2)",
    "background": "var(--color-surface)",
    "color": "var(--gray-12)",
    "font_size": "var(--font-size-2)",
    "width": "100%",
}


def field_id(spec: KindSpec, field: FieldSpec) -> str:
    return f"{spec.anchor}-{field.name}"


def _invalid(field: FieldSpec) -> rx.Var:
    return rx.cond(ProfileState.form_error_field == field.name, "true", "false")


def _select(field: FieldSpec, **props: object) -> rx.Component:
    first = [] if field.default else [
        rx.el.option("Choisissez…" if field.required else "—", value="")
    ]
    return rx.el.select(
        *first,
        *(rx.el.option(label, value=value) for value, label in field.choices),
        style=SELECT_STYLE,
        **props,
    )


def _document_select(**props: object) -> rx.Component:
    return rx.el.select(
        rx.el.option("Aucun document", value=""),
        rx.foreach(
            ProfileState.document_choices,
            lambda choice: rx.el.option(choice.label, value=choice.id),
        ),
        style=SELECT_STYLE,
        **props,
    )


def _control(spec: KindSpec, field: FieldSpec, *, first: bool) -> rx.Component:
    control_id = field_id(spec, field)
    props: dict[str, object] = {
        "id": control_id,
        "name": field.name,
        "default_value": ProfileState.form_defaults[field.name],
        "aria_invalid": _invalid(field),
        "required": field.required,
    }
    if field.hint:
        props["aria_describedby"] = control_id + "-hint"
    if first:
        props["auto_focus"] = True  # and so scrolled into view when the form opens
    if field.control == "select":
        return _select(field, **props)
    if field.control == "document":
        return _document_select(**props)
    if field.control == "textarea":
        return rx.text_area(
            max_length=field.max_length,
            rows="10" if field.max_length > 2000 else "3",
            width="100%",
            resize="vertical",
            **props,
        )
    extra: dict[str, object] = {}
    if field.control == "date":
        extra["type"] = "date"
    elif field.control == "datetime":
        extra["type"] = "datetime-local"
    elif field.control == "number":
        # Text, so a French decimal comma is accepted as typed ("72,5").
        extra["type"] = "text"
        extra["custom_attrs"] = {"inputMode": "decimal"}
    elif field.control == "integer":
        extra.update(type="number", min=field.minimum, max=field.maximum, step=1)
    else:
        extra["type"] = {"tel": "tel", "email": "email"}.get(field.control, "text")
        extra["max_length"] = field.max_length
        if field.control == "tel":
            extra["auto_complete"] = "tel"
    if field.placeholder:
        extra["placeholder"] = field.placeholder
    return rx.input(width="100%", **extra, **props)


def _field(spec: KindSpec, field: FieldSpec, *, first: bool) -> rx.Component:
    control_id = field_id(spec, field)
    wide = field.control in ("textarea", "document")
    return rx.vstack(
        rx.box(
            rx.el.label(rx.text(field.label, as_="span", size="2", weight="medium"),
                        html_for=control_id),
            # Said by `required` to screen readers; shown as an asterisk.
            *([rx.text(" *", as_="span", size="2", color_scheme="red", aria_hidden="true")]
              if field.required else []),
        ),
        _control(spec, field, first=first),
        *([rx.text(field.hint, size="1", color_scheme="gray", id=control_id + "-hint")]
          if field.hint else []),
        # The error next to its field.
        rx.cond(
            ProfileState.form_error_field == field.name,
            rx.text(ProfileState.form_error, size="2", color_scheme="red", role="alert",
                    id=control_id + "-error", class_name="field-error"),
        ),
        spacing="1",
        width="100%",
        grid_column="1 / -1" if wide else None,
    )


def _general_error(spec: KindSpec) -> rx.Component:
    """An error about no field of the form (the API unreachable, an entry gone...)."""
    on_a_field = rx.Var.create(False)
    for field in spec.fields:
        on_a_field = on_a_field | (ProfileState.form_error_field == field.name)
    return rx.cond(
        (ProfileState.form_error != "") & ~on_a_field,
        rx.callout(
            ProfileState.form_error,
            icon="triangle_alert",
            color_scheme="red",
            role="alert",
            id="profile-form-error",
            size="1",
        ),
    )


def entry_form(spec: KindSpec, *, editing: rx.Var) -> rx.Component:
    """The form of `spec`, for adding or (when `editing`) changing an entry."""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(editing, spec.edit_title, spec.add_title), as_="h3",
                           size="3"),
                rx.text("Les champs marqués d'un astérisque (*) sont obligatoires.", size="1",
                        color_scheme="gray"),
                rx.cond(
                    ProfileState.form_notice != "",
                    rx.callout(ProfileState.form_notice, icon="info", size="1",
                               color_scheme="amber"),
                ),
                rx.grid(
                    *(_field(spec, field, first=index == 0)
                      for index, field in enumerate(spec.fields)),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                _general_error(spec),
                rx.hstack(
                    rx.button(
                        "Enregistrer",
                        type="submit",
                        loading=ProfileState.saving,
                        # Enabled once the tab is connected to the server.
                        disabled=~ProfileState.is_hydrated,
                        id=f"{spec.anchor}-submit",
                    ),
                    rx.button(
                        "Annuler",
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=ProfileState.cancel_form,
                        disabled=ProfileState.saving,
                    ),
                    spacing="2",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=ProfileState.submit,
            reset_on_submit=False,
            key=ProfileState.form_kind + "-" + ProfileState.form_entry_id + "-"
            + ProfileState.form_key.to_string(),
            aria_label=rx.cond(editing, spec.edit_title, spec.add_title),
            id=f"{spec.anchor}-form",
            width="100%",
        ),
        width="100%",
    )
