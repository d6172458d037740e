"""Exporting the whole record as a FHIR R4 Bundle (`ProfileExportMixin`).

`fhirEverything` is fetched here, in the Reflex backend, with the tab's token, and handed to
the browser as a file (`rx.download`): the token never reaches the browser.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Final

import reflex as rx
from reflex.event import EventSpec

from carnet_web import api
from carnet_web.i18n import N_, gettext
from carnet_web.state.profile.base import ProfileBase
from carnet_web.state.profile.operations import FHIR_EVERYTHING
from carnet_web.state.session import api_errors

EXPORT_FILENAME: Final = "carnet-dossier-fhir.json"
EXPORT_MIME_TYPE: Final = "application/fhir+json"
# The whole record in one answer: allow more than the usual 10 seconds.
EXPORT_TIMEOUT_SECONDS: Final = 60.0
EXPORT_EMPTY: Final = N_("L'export n'a rien renvoyé. Veuillez réessayer.")


def exported_message(count: int, language: str = "fr") -> str:
    if count <= 0:
        return gettext(language, "Votre dossier a été exporté.")
    message = (N_("Votre dossier a été exporté ({n} ressource).") if count == 1
               else N_("Votre dossier a été exporté ({n} ressources)."))
    return gettext(language, message, n=count)


class ProfileExportMixin(ProfileBase, mixin=True):
    exporting: bool = False

    @rx.event
    @api_errors(error="error", busy="exporting")
    async def export_fhir(self) -> AsyncIterator[EventSpec | None]:
        """"Exporter mon dossier (FHIR)": the whole record as a FHIR R4 Bundle, fetched here
        with the tab's token and given to the browser as a JSON file."""
        if self.exporting:
            return
        if (redirect := self._require_session()) is not None:
            yield redirect
            return
        self.exporting = True
        self._clear_messages()
        yield
        data = await api.execute(
            FHIR_EVERYTHING, token=self._api_token or None,
            headers=self._forwarded_headers(), http_timeout=EXPORT_TIMEOUT_SECONDS,
        )
        bundle = data.get("fhirEverything")
        if isinstance(bundle, str):  # a JSON scalar may arrive serialised
            try:
                bundle = json.loads(bundle)
            except ValueError:
                bundle = None
        if not isinstance(bundle, dict):
            self.error = self._t(EXPORT_EMPTY)
            return
        self.info = exported_message(len(bundle.get("entry") or []), self.lang)
        yield rx.download(
            data=json.dumps(bundle, ensure_ascii=False, indent=2),
            filename=EXPORT_FILENAME,
            mime_type=EXPORT_MIME_TYPE,
        )
