"""Refusals of the opt-out campaigns' operator commands (`carnet campaign ...`).

Messages are French msgids (backend/i18n.py); none ever quotes a value of the file (identity
data): they name columns and line numbers only."""

from __future__ import annotations

from backend.errors import OperatorRefusal
from backend.i18n import N_


class CampaignError(OperatorRefusal):
    pass


class CampaignFileInvalid(CampaignError):
    """The file as a whole cannot be imported (its header, its encoding): nothing is."""

    message = N_("Fichier de campagne illisible.")
