"""The Carnet web app: Reflex imports `app` from here (see rxconfig.py)."""

import reflex as rx

from carnet_web import pages  # noqa: F401  (registers every page)

app = rx.App(html_lang="fr")
