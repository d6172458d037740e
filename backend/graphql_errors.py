"""The one translation of domain errors into typed GraphQL errors.

Each GraphQL error type declares once, next to its definition, the `DomainError` class(es) it
translates:

    @translates(errors.InvalidCode)
    @strawberry.type
    class InvalidCode(Error):
        attempts_left: int

and a mutation answers any domain error with its registered type, a member of its result union:

    except DomainError as exc:
        return to_graphql_error(exc)

The type of an exception is the one registered for the nearest class of its MRO, so a subclass
a service adds later is answered like its registered base. The type's fields are filled from the
exception's attributes of the same name (`field`, `attempts_left`...); a type whose fields are
named or shaped otherwise defines `from_error(cls, exc)`. `message` is always the exception's
message translated into the request's language (backend/i18n.py), here and nowhere else. A
domain error no type translates is a programming error: `UntranslatedError` is raised, which the
GraphQL layer masks as an internal error (and logs), never a `KeyError` or a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import get_object_definition

from backend import errors
from backend.app_scopes import SAME_AS_PARENT, app_scope
from backend.errors import DomainError

T = TypeVar("T", bound=type)

# DomainError class -> the strawberry type that translates it.
_TRANSLATIONS: dict[type[DomainError], type] = {}


@strawberry.interface(description="An error the client can act on.",
                      directives=[app_scope(SAME_AS_PARENT)])
class Error:
    message: str


class UntranslatedError(TypeError):
    """A DomainError reached a resolver but no GraphQL error type translates it (a bug)."""


def translates(*error_classes: type[DomainError]) -> Callable[[T], T]:
    """Register the decorated strawberry type as the translation of `error_classes` (and of
    their subclasses that have no nearer registration). Put it above `@strawberry.type`."""
    if not error_classes:
        raise TypeError("translates() needs at least one DomainError class")
    for error_class in error_classes:
        if not (isinstance(error_class, type) and issubclass(error_class, DomainError)):
            raise TypeError(f"translates() takes DomainError classes, not {error_class!r}")

    def register(graphql_type: T) -> T:
        if get_object_definition(graphql_type) is None:
            raise TypeError(f"@translates must be above @strawberry.type on {graphql_type!r}")
        for error_class in error_classes:
            existing = _TRANSLATIONS.get(error_class)
            if existing is not None and _name(existing) != _name(graphql_type):
                raise TypeError(f"{_name(error_class)} is already translated by "
                                f"{_name(existing)}, not also by {_name(graphql_type)}")
            _TRANSLATIONS[error_class] = graphql_type
        return graphql_type

    return register


def graphql_error_type(error_class: type[DomainError]) -> type:
    """The GraphQL type registered for the nearest class of `error_class`'s MRO."""
    for klass in error_class.__mro__:
        graphql_type = _TRANSLATIONS.get(klass)
        if graphql_type is not None:
            return graphql_type
    raise UntranslatedError(f"no GraphQL error type translates {_name(error_class)}: decorate "
                            "one with @translates(...)")


def to_graphql_error(exc: DomainError) -> Any:
    """The GraphQL error object answering `exc`, its `message` in the request's language (the
    one translation of typed errors: whatever a `from_error` puts there is replaced)."""
    graphql_type = graphql_error_type(type(exc))
    message = exc.translated()
    from_error = getattr(graphql_type, "from_error", None)
    if from_error is not None:
        error = from_error(exc)
        error.message = message
        return error
    definition = get_object_definition(graphql_type, strict=True)
    values: dict[str, Any] = {}
    for field in definition.fields:
        if field.python_name == "message":
            values["message"] = message
            continue
        if not hasattr(exc, field.python_name):
            raise UntranslatedError(
                f"{_name(graphql_type)}.{field.python_name} has no value on {_name(type(exc))}: "
                "give the exception that attribute or the type a from_error()")
        values[field.python_name] = getattr(exc, field.python_name)
    return graphql_type(**values)


def translations() -> dict[type[DomainError], type]:
    """A copy of the registry (for tests and checks)."""
    return dict(_TRANSLATIONS)


def _name(klass: type) -> str:
    return f"{klass.__module__}.{klass.__qualname__}"


# --- error types shared by several domains ---------------------------------------------------


@translates(errors.PatientNotFound)
@strawberry.type(description="No patient matches these INS traits (the same answer whatever "
                              "trait differs).")
class PatientNotFound(Error):
    pass


@translates(errors.TooManyFailedIdentityMatches)
@strawberry.type(description="Too many failed patient identifications by me in the last hour: "
                              "identity matching is refused until the window ends.")
class TooManyFailedIdentityMatches(Error):
    retry_after_seconds: int

    @classmethod
    def from_error(cls, exc: errors.TooManyFailedIdentityMatches) -> TooManyFailedIdentityMatches:
        return cls(message=exc.message, retry_after_seconds=exc.retry_after)
