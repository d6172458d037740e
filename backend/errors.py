"""Errors a GraphQL client sees.

Typed, fixable errors are `DomainError`s, answered as members of each mutation's result union
(see backend.graphql_errors).
What a client cannot fix raises: a `PublicError` keeps its message and code; anything else is
masked as "Erreur inattendue." and logged with the request id, its type and traceback frames but
never its message (which could quote health data or a secret).

Messages are French msgids (backend/i18n.py), translated into the request's language where they
leave the API: typed errors in `backend.graphql_errors.to_graphql_error`, public, permission and
masked errors in `CarnetMaskErrors` below.
"""

from __future__ import annotations

import logging
import traceback

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from backend.db import DATABASE_UNAVAILABLE_ERRORS
from backend.i18n import N_, Message, gettext
from backend.kv import KV_UNAVAILABLE_ERRORS

log = logging.getLogger("carnet.errors")

# msgids: translate them where they are shown (`gettext(UNAVAILABLE_MESSAGE)`).
UNAVAILABLE_MESSAGE = N_("Service momentanément indisponible, veuillez réessayer.")
UNEXPECTED_MESSAGE = N_("Erreur inattendue.")
NOT_AUTHENTICATED_MESSAGE = N_("Connexion requise : veuillez vous identifier.")
FORBIDDEN_MESSAGE = N_("Action non autorisée pour ce compte.")
RATE_LIMITED_MESSAGE = N_("Trop de requêtes. Réessayez dans quelques instants.")


def _message(message: str | Message, values: dict[str, object]) -> Message:
    return message if isinstance(message, Message) else Message(message, **values)


class PublicError(Exception):
    """An error whose message is safe and useful to show to the client.

    `message` is a French msgid, with named placeholders for `values`; `str(exc)` is the French
    text, `translated()` the text in the request's language."""

    code = "BAD_REQUEST"

    def __init__(self, message: str | Message, *, code: str | None = None,
                 **values: object) -> None:
        self.translatable = _message(message, values)
        super().__init__(str(self.translatable))
        if code:
            self.code = code

    def translated(self, locale: str | None = None) -> str:
        return self.translatable.render(locale)


class NotAuthenticated(PublicError):
    code = "NOT_AUTHENTICATED"

    def __init__(self, message: str = NOT_AUTHENTICATED_MESSAGE) -> None:
        super().__init__(message)


class Forbidden(PublicError):
    code = "FORBIDDEN"

    def __init__(self, message: str = FORBIDDEN_MESSAGE) -> None:
        super().__init__(message)


class ServiceUnavailable(PublicError):
    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str = UNAVAILABLE_MESSAGE) -> None:
        super().__init__(message)


def is_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_UNAVAILABLE_ERRORS + KV_UNAVAILABLE_ERRORS)


class DomainError(Exception):
    """A refusal the client can act on (a wrong code, a missing document, a bad field...).

    Services raise a subclass (each domain has a thin base, e.g. `RecordsError`); a mutation
    catches `DomainError` and answers `to_graphql_error(exc)` (backend.graphql_errors): the
    GraphQL error type registered for the exception's class, a member of its result union.

    The class's `message` is a French msgid (`N_()`); an instance may take another one, with
    named placeholders filled from `values` AFTER translation:
    `InvalidInput("title", N_("Le titre dépasse {limit} caractères."), limit=200)`. On the
    instance, `message` is the French text and `translated()` the text in the request's
    language (what clients get). Never put health or identity data in it."""

    message = N_("Erreur.")

    def __init__(self, message: str | Message | None = None, **values: object) -> None:
        self.translatable = _message(message or type(self).message, values)
        self.message = str(self.translatable)
        super().__init__(self.message)

    def translated(self, locale: str | None = None) -> str:
        return self.translatable.render(locale)


class OperatorRefusal(DomainError):
    """A refusal only operators' commands meet (`carnet apps …`: no API client submits or
    moderates anything), or one a query turns into a public BAD_USER_INPUT error: never a
    member of a mutation's result union, so no GraphQL error type translates it
    (tests/test_errors.py leaves these out). Translatable like every DomainError."""


class PatientNotFound(DomainError):
    """No patient matches an identity (INS matricule, birth name, birth date). Shared by every
    domain that matches identities: one answer whatever trait did not match, so the answer never
    confirms part of an identity."""

    message = N_("Aucun patient ne correspond à cette identité (matricule INS, nom, naissance).")


class TooManyFailedIdentityMatches(DomainError):
    """A professional failed too many identity matches lately: matching is refused for a while
    (shared, like PatientNotFound, by every domain that matches identities)."""

    message = N_("Trop d'identifications de patient ont échoué récemment : réessayez plus tard "
                 "ou vérifiez les traits d'identité (matricule INS, nom, date de naissance).")

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, int(retry_after))


BAD_USER_INPUT = "BAD_USER_INPUT"


def is_client_input_error(error: GraphQLError) -> bool:
    """A variable that does not fit its type (null for a required input, an unknown input
    field, a string where an object is expected, a malformed scalar...).

    graphql-core reports these before execution, with no path, wrapping the GraphQLError of
    the coercion as `original_error`. The message is about the client's own input and tells
    how to fix it: keep it. Errors of resolvers always have a path.
    """
    return error.path is None and isinstance(error.original_error, GraphQLError)


class CarnetMaskErrors(MaskErrors):
    """Mask unexpected errors, map outages to a retryable error, tag with a request id, and
    translate public errors (permission refusals included) into the request's language."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message=UNEXPECTED_MESSAGE)

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        original = error.original_error
        return (
            original is not None
            and not isinstance(original, PublicError)
            and not is_client_input_error(error)
        )

    def _request_id(self) -> str | None:
        context = getattr(self.execution_context, "context", None)
        return getattr(context, "request_id", None)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        request_id = self._request_id()
        if is_unavailable(original):
            log.warning(
                "request %s: backing service unavailable (%s) at %s",
                request_id, type(original).__name__, error.path,
            )
            message, code = gettext(UNAVAILABLE_MESSAGE), ServiceUnavailable.code
        else:
            # The frames (file, line, function) and the type; never the message, which
            # could quote health data or a secret.
            frames = "".join(traceback.format_tb(original.__traceback__)) if original else ""
            log.error(
                "request %s: unexpected %s at %s\n%s",
                request_id, type(original).__name__, error.path, frames or "(no frames)",
            )
            message, code = gettext(self.error_message), "INTERNAL_SERVER_ERROR"
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": code, "requestId": request_id},
        )

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if isinstance(error.original_error, PublicError):
                # The one translation of public errors (permission refusals included).
                error.message = error.original_error.translated()
                error.extensions = {**(error.extensions or {}), "code": error.original_error.code}
            elif is_client_input_error(error):
                error.extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
        return processed

    @classmethod
    def final_pass(
        cls, errors: list[GraphQLError], execution_context: object
    ) -> list[GraphQLError]:
        """Mask what escaped the extension (an exception raised out of the operation is
        turned into an error by Strawberry after the extensions have run). Errors already
        processed pass unchanged: masked ones no longer hold their original error."""
        masker = cls()
        masker.execution_context = execution_context  # type: ignore[assignment]
        return masker._process_errors(errors)
