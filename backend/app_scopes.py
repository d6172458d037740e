"""What a third-party app may reach through GraphQL: the scope each field needs (issue 14 part 4).

An app's access token (backend/oauth/bearer.py) signs the app in AS the patient who authorised
it, with the scopes the patient granted. Everything a patient's session may call is therefore
within the app's reach unless something stops it: this module is that something, deny by
default, for every operation an app sends:

- Each field declares, once, where it is declared (`app_scope(...)` in its `directives=`):
  a scope (`"documents:read"`...: the token must hold it), `ANY_APP` (no patient data: labels,
  the public catalogue), or `SAME_AS_PARENT` (a value type: a connection, an edge, a payload, a
  label; it needs whatever the field that returned it needed). A type may declare for all its
  fields (`@strawberry.type(directives=[app_scope(...)])`); a field's own declaration wins.
- A root field (Query, Mutation, Subscription) without a declaration is NOT for apps: the
  account's own operations (password, contacts, sessions, care team, consent, the access log,
  connected apps) stay the patient's. A declaration elsewhere that resolves to nothing (an
  undeclared type reached by an app-reachable field) refuses too; tests/test_app_scopes.py walks
  the whole schema and fails on any such field, so the refusal is a test failure first.
- Before execution (`AppScopeGate` for queries and mutations, `check_subscription` for
  subscriptions), the operation's fields are walked (fragments included, @skip/@include
  ignored: a field that may run is a field that needs its scope); an app missing any needed
  scope gets ONE typed error (INSUFFICIENT_SCOPE, naming the missing scopes) and no data at all.
  Sessions of people are never walked (no cost for them).

The scope names are defined here, once (the core imports no domain, and every domain declares
with them); the catalogue's `Scope` enum and its plain-French labels are built on these names,
and the test checks every declared scope is one of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.schema_directive import Location
from strawberry.types.graphql import OperationType

from backend.errors import PublicError
from backend.i18n import N_

# The vocabulary of scopes (the catalogue lists them with their labels: backend/catalogue/
# scopes.py builds its enum from these names).
PROFILE_READ = "profile:read"
PROFILE_MEASUREMENTS_WRITE = "profile.measurements:write"
DOCUMENTS_READ = "documents:read"
DOCUMENTS_WRITE = "documents:write"
AGENDA_READ = "agenda:read"
AGENDA_WRITE = "agenda:write"
MESSAGES_READ = "messages:read"

ANY_APP = "any-app"
SAME_AS_PARENT = "same-as-parent"
NOT_FOR_APPS = "not-for-apps"  # never declared: what an undeclared root field resolves to
_BACKREF = "strawberry-definition"
ROOTS = ("Query", "Mutation", "Subscription")


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION, Location.OBJECT, Location.INTERFACE],
    name="appScope",
    description="What an app's token needs to reach this field: a scope, any-app (no patient "
                "data) or same-as-parent (whatever the field that returned it needs). Root "
                "fields without it are not for apps.")
class AppScope:
    scope: str


def app_scope(scope: str) -> AppScope:
    """The declaration, for a field's or a type's `directives=`."""
    return AppScope(scope=str(scope))


class InsufficientScope(PublicError):
    """An app's token lacks a scope the operation needs, or asked for what apps never get."""

    code = "INSUFFICIENT_SCOPE"

    def __init__(self, missing: Iterable[str]) -> None:
        self.missing = sorted(set(missing))
        if NOT_FOR_APPS in self.missing:
            super().__init__(N_("Cette opération n'est pas ouverte aux applications ni aux "
                                "aidants."))
        else:
            super().__init__(N_("L'accès délégué (application ou aidant) n'a pas reçu "
                                "l'autorisation nécessaire : {scopes}."),
                             scopes=", ".join(self.missing))


def _declared(directives: Iterable[Any]) -> str | None:
    for directive in directives or ():
        if isinstance(directive, AppScope):
            return directive.scope
    return None


@dataclass(frozen=True)
class ScopeMap:
    """The declarations of one schema, read once from its strawberry definitions."""

    by_field: dict[tuple[str, str], str]
    by_type: dict[str, str]

    @classmethod
    def of(cls, schema: GraphQLSchema) -> ScopeMap:
        by_field: dict[tuple[str, str], str] = {}
        by_type: dict[str, str] = {}
        for name, gql_type in schema.type_map.items():
            if name.startswith("__"):
                continue
            definition = (getattr(gql_type, "extensions", None) or {}).get(_BACKREF)
            declared = _declared(getattr(definition, "directives", None) or ())
            for interface in getattr(gql_type, "interfaces", None) or ():
                if declared is None:  # an object type declares like its interface
                    interface_definition = (interface.extensions or {}).get(_BACKREF)
                    declared = _declared(getattr(interface_definition, "directives", None)
                                         or ())
            if declared is not None:
                by_type[name] = declared
            for field_name, field in (getattr(gql_type, "fields", None) or {}).items():
                field_definition = (field.extensions or {}).get(_BACKREF)
                declared = _declared(getattr(field_definition, "directives", None) or ())
                if declared is not None:
                    by_field[(name, field_name)] = declared
        return cls(by_field, by_type)

    def requirement(self, type_name: str, field_name: str, parent: str | None) -> str:
        """What reaching `type_name.field_name` needs, given what its parent field needed
        (None at the root)."""
        if field_name.startswith("__"):
            return ANY_APP if field_name == "__typename" else parent or ANY_APP
        declared = self.by_field.get((type_name, field_name)) or self.by_type.get(type_name)
        if declared is None:
            return NOT_FOR_APPS
        if declared == SAME_AS_PARENT:
            return parent if parent is not None else NOT_FOR_APPS
        return declared


def requirements(schema: GraphQLSchema, scopes: ScopeMap, document: DocumentNode,
                 operation_name: str | None) -> set[str]:
    """Every scope (or NOT_FOR_APPS) the operation's fields need."""
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    needed: set[str] = set()
    for operation in operations[:1] if operation_name is None else operations:
        root = schema.get_root_type(operation.operation)
        if root is not None:
            _walk(schema, scopes, fragments, operation.selection_set, root, None, needed,
                  frozenset())
    return needed


def _walk(schema: GraphQLSchema, scopes: ScopeMap, fragments: dict[str, Any],
          selection_set: SelectionSetNode, parent_type: GraphQLNamedType, parent: str | None,
          needed: set[str], spreads: frozenset[str]) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            requirement = scopes.requirement(parent_type.name, name, parent)
            needed.add(requirement)
            fields = getattr(parent_type, "fields", None) or {}
            field = fields.get(name)
            if selection.selection_set is not None and field is not None:
                _walk(schema, scopes, fragments, selection.selection_set,
                      get_named_type(field.type), requirement, needed, spreads)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = schema.get_type(condition.name.value) if condition else parent_type
            _walk(schema, scopes, fragments, selection.selection_set, target or parent_type,
                  parent, needed, spreads)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in spreads:  # validation refuses both anyway
                continue
            target = schema.get_type(fragment.type_condition.name.value) or parent_type
            _walk(schema, scopes, fragments, fragment.selection_set, target, parent, needed,
                  spreads | {name})


def app_scopes_of(viewer: Any) -> frozenset[str] | None:
    """The scopes of a delegated caller (an app's token, a carer in a patient's space), None
    for a person's own session."""
    return getattr(viewer, "app_scopes", None)


def refusal(schema: GraphQLSchema, scopes: ScopeMap, document: DocumentNode,
            operation_name: str | None, granted: frozenset[str]) -> InsufficientScope | None:
    needed = requirements(schema, scopes, document, operation_name) - {ANY_APP}
    missing = needed - granted
    return InsufficientScope(missing) if missing else None


def refused_result(error: InsufficientScope) -> GraphQLExecutionResult:
    return GraphQLExecutionResult(data=None, errors=[GraphQLError(
        str(error), original_error=error,
        extensions={"missingScopes": [s for s in error.missing if s != NOT_FOR_APPS]})])


class AppScopeGate(SchemaExtension):
    """Queries and mutations of an app's token: refused whole, before any resolver runs, when
    a field needs a scope the token lacks (subscriptions: `CarnetSchema.subscribe`)."""

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        context = self.execution_context
        granted = app_scopes_of(getattr(context.context, "viewer", None))
        if granted is not None and context.operation_type is not OperationType.SUBSCRIPTION \
                and context.graphql_document is not None:
            schema = context.schema
            error = refusal(schema._schema, scope_map(schema), context.graphql_document,
                            context.operation_name, granted)
            if error is not None:
                context.result = refused_result(error)
        yield


def scope_map(schema: Any) -> ScopeMap:
    """The schema's declarations, read on first use and kept on the schema object."""
    found = getattr(schema, "_carnet_scope_map", None)
    if found is None:
        found = ScopeMap.of(schema._schema)
        schema._carnet_scope_map = found
    return found
