"""The building blocks every page uses: page header, form fields, select, confirm dialog, empty
state, error and success callouts, loading state. Each takes its texts already translated (`t()`
Vars or plain strings) and is accessible as is: labels tied to their control, hints and errors
announced, dialogs that trap focus, start on their first control and give focus back (Radix
AlertDialog does all three), live regions for what appears after an action.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from carnet_web.components.theme import BLOCK_GAP, PAGE_GAP, SECTION_SIZE, TITLE_SIZE
from carnet_web.i18n import t

Text = Any  # a str or a string Var (what `t()` returns)


def page_header(title: Text, description: Text | None = None, *actions: rx.Component
                ) -> rx.Component:
    """The page's one `h1`, an optional line under it, and the page's main actions."""
    return rx.flex(
        rx.vstack(
            rx.heading(title, as_="h1", size=TITLE_SIZE),
            *([rx.text(description, color_scheme="gray", size="3")] if description is not None
              else []),
            spacing="2",
        ),
        *([rx.flex(*actions, spacing="3", wrap="wrap")] if actions else []),
        justify="between",
        align="start",
        wrap="wrap",
        gap="1em",
        width="100%",
    )


def section(title: Text, *children: rx.Component, id: str, **props: Any) -> rx.Component:
    """A titled block of a page (`h2`), labelled by its title for screen readers."""
    return rx.el.section(
        rx.heading(title, as_="h2", size=SECTION_SIZE, id=f"{id}-title"),
        rx.vstack(*children, spacing=BLOCK_GAP, width="100%", margin_top="0.75em"),
        aria_labelledby=f"{id}-title",
        id=id,
        width="100%",
        **props,
    )


def _described_by(id: str, hint: Text | None, error: Any | None) -> Any:
    ids = [f"{id}-hint"] if hint is not None else []
    if error is None:
        return " ".join(ids) or None  # a str, or None: never a Var without an error
    return rx.cond(error != "", " ".join([*ids, f"{id}-error"]), " ".join(ids))


def field_error(id: str, error: Any) -> rx.Component:
    return rx.cond(
        error != "",
        rx.text(error, id=f"{id}-error", color_scheme="red", size="2", role="alert"),
    )


def form_field(label: Text, control: rx.Component, *, id: str, hint: Text | None = None,
               error: Any | None = None) -> rx.Component:
    """A label above its control (tied by `id`), an optional hint and an error under it."""
    return rx.vstack(
        rx.el.label(label, html_for=id, font_weight="500"),
        *([rx.text(hint, id=f"{id}-hint", color_scheme="gray", size="2")]
          if hint is not None else []),
        control,
        *([field_error(id, error)] if error is not None else []),
        spacing="1",
        width="100%",
    )


def text_field(label: Text, *, id: str, value: Any, on_change: Any, type: str = "text",
               hint: Text | None = None, error: Any | None = None, **props: Any
               ) -> rx.Component:
    """A labelled text input (`props`: autocomplete, required, max_length, input_mode...)."""
    describedby = _described_by(id, hint, error)
    extra: dict[str, Any] = {}
    if describedby is not None:
        extra["aria_describedby"] = describedby
    if error is not None:
        extra["aria_invalid"] = rx.cond(error != "", "true", "false")
    control = rx.input(id=id, value=value, on_change=on_change, type=type, width="100%",
                       size="3", **extra, **props)
    return form_field(label, control, id=id, hint=hint, error=error)


def text_area(label: Text, *, id: str, value: Any, on_change: Any, hint: Text | None = None,
              error: Any | None = None, **props: Any) -> rx.Component:
    describedby = _described_by(id, hint, error)
    extra = {"aria_describedby": describedby} if describedby is not None else {}
    control = rx.text_area(id=id, value=value, on_change=on_change, width="100%", size="3",
                           **extra, **props)
    return form_field(label, control, id=id, hint=hint, error=error)


def select_field(label: Text, *, id: str, options: list[tuple[str, Text]] | Any, value: Any,
                 on_change: Any, hint: Text | None = None, error: Any | None = None,
                 **props: Any) -> rx.Component:
    """A labelled native `<select>` (a real form control: the label, the keyboard and phones'
    pickers all work without help). `options` is a list of (value, label) pairs, or a Var
    holding a list of [value, label] pairs."""
    if isinstance(options, list):
        children = [rx.el.option(text, value=option) for option, text in options]
    else:
        children = [rx.foreach(options, lambda pair: rx.el.option(pair[1], value=pair[0]))]
    describedby = _described_by(id, hint, error)
    extra = {"aria_describedby": describedby} if describedby is not None else {}
    control = rx.el.select(
        *children, id=id, value=value, on_change=on_change, class_name="carnet-select",
        style={
            "width": "100%", "min_height": "var(--space-7)", "padding": "0 var(--space-2)",
            "border": "1px solid var(--gray-a8)", "border_radius": "var(--radius-2)",
            "background": "var(--color-surface)", "color": "var(--gray-12)",
            "font_size": "var(--font-size-3)",
        },
        **extra, **props,
    )
    return form_field(label, control, id=id, hint=hint, error=error)


def confirm_dialog(*, open: Any, on_open_change: Any, title: Text, description: Text,
                   confirm_label: Text, on_confirm: Any, busy: Any = False,
                   cancel_label: Text | None = None, danger: bool = True,
                   id: str = "confirm-dialog") -> rx.Component:
    """A question before an action that cannot be undone. Radix AlertDialog traps focus in the
    dialog, starts on "Annuler" (the safe choice) and gives focus back to what opened it; Escape
    cancels."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button(cancel_label if cancel_label is not None else t("Annuler"),
                              variant="soft", color_scheme="gray"),
                ),
                rx.alert_dialog.action(
                    rx.button(confirm_label, on_click=on_confirm, loading=busy,
                              color_scheme="red" if danger else None,
                              # Radix's red step 9 puts white text at 3.9:1: step 11 (5.2:1).
                              style={"background_color": "var(--red-11)"} if danger else {}),
                ),
                spacing="3",
                justify="end",
                wrap="wrap",
                margin_top="1em",
            ),
            id=id,
        ),
        open=open,
        on_open_change=on_open_change,
    )


def empty_state(title: Text, text: Text | None = None, *actions: rx.Component) -> rx.Component:
    """What a list shows when it has nothing yet: what would be here, and how to add it."""
    return rx.vstack(
        rx.text(title, weight="bold", size="3"),
        *([rx.text(text, color_scheme="gray")] if text is not None else []),
        *([rx.flex(*actions, spacing="3", wrap="wrap")] if actions else []),
        spacing="2",
        padding="1.5em",
        border="1px dashed var(--gray-a7)",
        border_radius="var(--radius-3)",
        width="100%",
        align="start",
    )


def error_callout(message: Any, *, retry: Any | None = None, id: str | None = None
                  ) -> rx.Component:
    """A failure the person can read (and retry). Shown only when `message` is not empty; an
    alert, so screen readers say it as it appears."""
    body = [rx.callout.text(message)]
    if retry is not None:
        body.append(rx.button(t("Réessayer"), on_click=retry, variant="soft", size="2",
                              margin_top="0.5em"))
    return rx.cond(
        message != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert", aria_hidden="true")),
            *body,
            color_scheme="red",
            role="alert",
            width="100%",
            **({"id": id} if id else {}),
        ),
    )


def success_callout(message: Any, *, id: str | None = None) -> rx.Component:
    """What a finished action says (a status: read out politely, not interrupting)."""
    return rx.cond(
        message != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check", aria_hidden="true")),
            rx.callout.text(message),
            color_scheme="green",
            role="status",
            width="100%",
            **({"id": id} if id else {}),
        ),
    )


def loading_state(label: Text | None = None) -> rx.Component:
    """'Chargement…' with a spinner, announced once."""
    return rx.flex(
        rx.spinner(size="2", aria_hidden="true"),
        rx.text(label if label is not None else t("Chargement…"), color_scheme="gray"),
        spacing="2",
        align="center",
        role="status",
        aria_live="polite",
    )


def page_body(*children: rx.Component) -> rx.Component:
    """A page's blocks, one under the other, evenly spaced."""
    return rx.vstack(*children, spacing=PAGE_GAP, width="100%", align="stretch")
