"""Refusals of the catalogue (operators' submissions and status changes).

Messages are French msgids (backend/i18n.py) with named placeholders; `field` names the key of
the submitted JSON (`redirectUris[1]`) so that an operator sees what to fix."""

from __future__ import annotations

from backend.errors import OperatorRefusal
from backend.i18n import N_


class CatalogueError(OperatorRefusal):
    pass


class AppNotFound(CatalogueError):
    message = N_("Application introuvable.")


class InvalidApp(CatalogueError):
    """A submitted app (or a status change's argument) is invalid; `field` says which."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message, **values)
        self.field = field


class TransitionRefused(CatalogueError):
    message = N_("Changement de statut impossible : {current} vers {target}.")

    def __init__(self, current: str, target: str) -> None:
        super().__init__(current=current, target=target)
        self.current, self.target = current, target


class CriteriaIncomplete(CatalogueError):
    message = N_("Critères de référencement manquants : {missing}.")

    def __init__(self, missing: list[str]) -> None:
        super().__init__(missing=", ".join(missing))
        self.missing = missing
