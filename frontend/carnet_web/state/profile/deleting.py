"""Deleting an entry, after a confirmation (`ProfileDeleteMixin`). The dialog (a Radix
AlertDialog) takes the focus when it opens, on "Annuler"; here it is given back: to the entry's
"Supprimer" button when the deletion is cancelled (Escape too), to the section's "Ajouter"
button once the entry is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from carnet_web.state.focus import focus
from carnet_web.state.profile.base import ProfileBase
from carnet_web.state.profile.forms import result_error
from carnet_web.state.profile.operations import OPERATIONS_BY_KIND
from carnet_web.state.profile.sections import BY_KEY
from carnet_web.state.session import api_errors


class ProfileDeleteMixin(ProfileBase, mixin=True):
    deleting_kind: str = ""
    deleting_id: str = ""
    deleting_question: str = ""  # 'Supprimer cette allergie ?'
    deleting_description: str = ""  # '« Arachide » sera retiré de votre profil. ...'
    deleting: bool = False

    def _close_delete(self) -> None:
        self.deleting_kind = self.deleting_id = ""
        self.deleting_question = self.deleting_description = ""

    @rx.event
    def ask_delete(self, kind: str, entry_id: str) -> None:
        """"Supprimer": open the confirmation."""
        spec = BY_KEY.get(kind)
        if spec is None or self._busy():
            return
        item = next((i for i in getattr(self, spec.var) if i.id == entry_id), None)
        if item is None:
            return
        self._clear_messages()
        self.deleting_kind, self.deleting_id = kind, entry_id
        self.deleting_question = self._t(spec.delete_question)
        self.deleting_description = self._t(
            "« {title} » sera retiré de votre profil. {warning}", title=item.title,
            warning=self._t(spec.delete_warning))

    @rx.event
    def delete_dialog_changed(self, is_open: bool) -> EventSpec | None:
        """The confirmation closed without deleting ("Annuler", Escape): back to the entry's
        "Supprimer" button. (After "Supprimer", `confirm_delete` has already closed it.)"""
        if is_open or not self.deleting_id:
            return None
        entry_id = self.deleting_id
        self._close_delete()
        return focus(f"delete-{entry_id}")

    @rx.event
    @api_errors(error="error", busy="deleting")
    async def confirm_delete(self) -> AsyncIterator[EventSpec | None]:
        spec = BY_KEY.get(self.deleting_kind)
        entry_id = self.deleting_id
        if spec is None or not entry_id or self._busy():
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        operations = OPERATIONS_BY_KIND[spec.key]
        variables = {} if spec.single else {"id": entry_id}
        self._close_delete()
        self._forget_entry(spec.key, entry_id)
        self.deleting = True
        self._clear_messages()
        yield
        result = (await self._query(operations.delete, variables))[operations.delete_field]
        self.deleting = False
        if result.get("__typename") == "EntryDeleted":
            self.saved_kind, self.saved_message = spec.key, self._t(spec.deleted)
        else:
            self.error = result_error(result, language=self.lang)[1]
        await self._refresh()
        gone = not any(item.id == entry_id for item in getattr(self, spec.var))
        yield focus(f"{spec.anchor}-add" if gone else f"delete-{entry_id}")
