"""The Carnet web app: Reflex imports `app` from here (see rxconfig.py)."""

import functools

import reflex as rx
from reflex import constants
from reflex.config import get_config

from carnet_web import documents_http, pages  # noqa: F401  (pages: registers every page)
from carnet_web.components.theme import GLOBAL_STYLE

app = rx.App(
    # French by default; the layout sets the tab's language (LanguageState) once mounted.
    html_lang="fr",
    # The theme (components/theme.py) is given to the Radix plugin in rxconfig.py.
    style=GLOBAL_STYLE,
    stylesheets=["/carnet.css"],
    # Added to Reflex's own backend: the document download route (the browser holds no API
    # token, so downloads go through this server), and a size limit on Reflex's upload
    # endpoint, which by default accepts any size.
    api_transformer=[
        documents_http.routes_app(),
        functools.partial(
            documents_http.UploadSizeLimit,
            path=get_config().prepend_backend_path(str(constants.Endpoint.UPLOAD)),
        ),
    ],
)
