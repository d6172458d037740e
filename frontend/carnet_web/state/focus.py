"""Moving the keyboard focus from a state's event, once the page shows the element.

Why not `rx.set_focus`: it goes through React refs, which elements rendered inside `rx.foreach`
never get, and it runs as soon as the event arrives, in the same batch as the state change that
brings the element, so before React has rendered it (a "Voir plus" row, a field's error, a button
coming back when a form closes). This looks the element up by its DOM id on each frame, for about
two seconds, and focuses it once it is there, enabled, and no dialog is open.
"""

from __future__ import annotations

import json
from typing import Final

import reflex as rx
from reflex.event import EventSpec

_SCRIPT: Final = """(() => {
  let tries = 120;
  const attempt = () => {
    const target = document.getElementById(%s);
    if (target && !target.disabled && !document.querySelector('[role="alertdialog"]')) {
      target.focus();
      if (document.activeElement === target) return;
    }
    if (--tries > 0) requestAnimationFrame(attempt);
  };
  requestAnimationFrame(attempt);
})()"""


def focus_script(element_id: str) -> str:
    """The script of `focus` (for a page's own on_click, say)."""
    return _SCRIPT % json.dumps(element_id)


def focus(element_id: str) -> EventSpec:
    """Focus the element with this DOM id as soon as it is on the page."""
    return rx.call_script(focus_script(element_id))
