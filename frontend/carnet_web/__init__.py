"""Carnet web app (Reflex). The API is reached only through `carnet_web.api`."""
