"""One error mechanism (issue 9, item 16): every domain error is a `DomainError`, answered by
the GraphQL error type registered for the nearest class of its MRO; a domain error no type
translates is a bug, raised and masked as an internal error (not a KeyError)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Annotated

import pytest
import strawberry

import backend
from backend import errors as core_errors
from backend import graphql_errors
from backend.errors import CarnetMaskErrors, DomainError, OperatorRefusal
from backend.graphql_errors import (
    Error,
    UntranslatedError,
    graphql_error_type,
    to_graphql_error,
    translates,
    translations,
)
from backend.identity import errors as identity_errors
from backend.identity import matching
from backend.identity import types as identity_types
from backend.records import services as records_services


def _import_every_backend_module() -> None:
    for module in pkgutil.walk_packages(backend.__path__, "backend."):
        # Not the migrations, nor a `__main__` (importing it would run a command).
        if not module.name.startswith("backend.migrations") and not module.name.endswith(
                ".__main__"):
            importlib.import_module(module.name)


def _backend_domain_errors() -> set[type[DomainError]]:
    found: set[type[DomainError]] = set()
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return {cls for cls in found if cls.__module__.startswith("backend.")}


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_domain_error_of_the_backend_is_translated_by_a_graphql_type():
    _import_every_backend_module()
    domain_errors = _backend_domain_errors()
    # The walk sees every domain's errors (identity, records, profile, messaging).
    modules = {cls.__module__ for cls in domain_errors}
    assert {"backend.identity.errors", "backend.records.services", "backend.profile.services",
            "backend.messaging.services"} <= modules, modules
    # Bases (IdentityError, RecordsError...) are never raised themselves: the leaves must be
    # translatable, directly or through a registered base.
    leaves = {cls for cls in domain_errors if not any(
        issubclass(other, cls) for other in domain_errors if other is not cls)
        and not issubclass(cls, OperatorRefusal)}
    assert len(leaves) >= 25
    untranslated = []
    for cls in sorted(leaves, key=_name):
        try:
            graphql_error_type(cls)
        except UntranslatedError:
            untranslated.append(_name(cls))
    assert untranslated == [], f"no GraphQL error type translates {untranslated}"


def test_every_translation_is_a_type_of_the_schema():
    from backend.schema import schema_sdl

    _import_every_backend_module()
    sdl = schema_sdl()
    for error_class, graphql_type in translations().items():
        if error_class.__module__.startswith("backend."):
            assert issubclass(graphql_type, Error)
            assert f"type {graphql_type.__name__} implements Error" in sdl, graphql_type


def test_a_subclass_is_answered_like_its_nearest_registered_base():
    class CodeExpiredLater(identity_errors.CodeExpired):  # unknown to every mapping
        pass

    answer = to_graphql_error(CodeExpiredLater())
    assert type(answer) is identity_types.CodeExpired
    assert answer.message == identity_errors.CodeExpired.message

    class AttemptsLeftLater(identity_errors.InvalidCode):
        pass

    answer = to_graphql_error(AttemptsLeftLater(attempts_left=2))
    assert type(answer) is identity_types.InvalidCode
    assert answer.attempts_left == 2


def test_the_nearest_registration_in_the_mro_wins():
    class Outer(DomainError):
        message = "outer"

    class Inner(Outer):
        message = "inner"

    class Leaf(Inner):
        pass

    @translates(Outer)
    @strawberry.type
    class OuterProblem(Error):
        pass

    @translates(Inner)
    @strawberry.type
    class InnerProblem(Error):
        pass

    assert graphql_error_type(Outer) is OuterProblem
    assert graphql_error_type(Leaf) is InnerProblem
    answer = to_graphql_error(Leaf())
    assert type(answer) is InnerProblem and answer.message == "inner"


def test_patient_not_found_of_every_domain_is_the_one_shared_type():
    # Identity matching's errors reach the core ones in their MRO: one GraphQL type each,
    # shared by the deposit, conversation and profile unions.
    for exc in (matching.PatientNotFound(), core_errors.PatientNotFound()):
        answer = to_graphql_error(exc)
        assert type(answer) is graphql_errors.PatientNotFound
        assert answer.message == core_errors.PatientNotFound.message
    answer = to_graphql_error(matching.TooManyFailedMatches(42))
    assert type(answer) is graphql_errors.TooManyFailedIdentityMatches
    assert answer.retry_after_seconds == 42


def test_fields_come_from_the_exception_or_from_error():
    answer = to_graphql_error(identity_errors.InvalidInput("email", "Adresse invalide."))
    assert (answer.field, answer.message) == ("email", "Adresse invalide.")
    answer = to_graphql_error(identity_errors.RateLimited(7))
    assert type(answer) is identity_types.RateLimited and answer.retry_after_seconds == 7
    answer = to_graphql_error(records_services.FileTooLarge(4 * 1024 * 1024))
    assert answer.max_bytes == 4 * 1024 * 1024 and "4 Mo" in answer.message


def test_an_untranslated_domain_error_raises_a_clear_error():
    class Stray(DomainError):
        pass

    with pytest.raises(UntranslatedError, match=r"no GraphQL error type translates .*Stray"):
        graphql_error_type(Stray)
    with pytest.raises(UntranslatedError):
        to_graphql_error(Stray())
    assert not issubclass(UntranslatedError, KeyError)


def test_a_type_missing_a_value_raises_a_clear_error():
    class Vague(DomainError):
        pass

    @translates(Vague)
    @strawberry.type
    class Precise(Error):
        detail: str

    with pytest.raises(UntranslatedError, match=r"Precise\.detail has no value on .*Vague"):
        to_graphql_error(Vague())


def test_translates_refuses_misuse():
    with pytest.raises(TypeError, match="DomainError"):
        translates(ValueError)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="above @strawberry.type"):
        translates(identity_errors.CodeExpired)(type("Plain", (), {}))

    with pytest.raises(TypeError, match="already translated"):
        @translates(identity_errors.CodeExpired)
        @strawberry.type
        class CodeExpiredAgain(Error):
            pass


# A schema of its own for the masking test (module level: annotations are resolved by name).
class StrayError(DomainError):
    message = "a message that must not leak"


class ExpiringCode(identity_errors.CodeExpired):
    pass


@strawberry.type
class Done:
    ok: bool


StrayResult = Annotated[Done | identity_types.CodeExpired, strawberry.union("StrayResult")]


@strawberry.type
class StrayQuery:
    ping: bool = True


@strawberry.type
class StrayMutation:
    @strawberry.mutation
    def act(self, stray: bool) -> StrayResult:
        try:
            raise StrayError() if stray else ExpiringCode()
        except DomainError as exc:
            return to_graphql_error(exc)


def test_an_untranslated_error_in_a_mutation_is_masked_as_internal(caplog):
    schema = strawberry.Schema(query=StrayQuery, mutation=StrayMutation,
                               extensions=[CarnetMaskErrors])

    typed = schema.execute_sync("mutation { act(stray: false) { __typename } }")
    assert typed.errors is None and typed.data == {"act": {"__typename": "CodeExpired"}}

    with caplog.at_level(logging.ERROR, logger="carnet.errors"):
        masked = schema.execute_sync("mutation { act(stray: true) { __typename } }")
    assert masked.data is None
    [error] = masked.errors
    assert error.extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert "leak" not in error.message and "Stray" not in error.message
    assert "UntranslatedError" in caplog.text
