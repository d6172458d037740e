"""Carnet: an open-source personal health space."""

__version__ = "0.1.0"
