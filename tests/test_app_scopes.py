"""The schema-wide check of apps' scopes (issue 14 part 4, backend/app_scopes.py): every field an
app's token can reach declares what it needs, every declared scope is in the catalogue's
vocabulary, the root fields open to apps are exactly the listed ones (opening one more is a
decision made here, in review), and subscriptions are gated like queries."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    parse,
)
from strawberry.types.execution import PreExecutionError

from backend.access.authentication import AppCaller
from backend.app_scopes import (
    ANY_APP,
    NOT_FOR_APPS,
    ROOTS,
    SAME_AS_PARENT,
    requirements,
    scope_map,
)
from backend.catalogue.scopes import KNOWN
from backend.schema import build_schema

# Root field -> what an app's token needs. Everything else at the root is the account's own.
OPEN_TO_APPS = {
    "Query.platform": ANY_APP,
    "Query.referenceData": ANY_APP,
    "Query.catalogue": ANY_APP,
    "Query.catalogueApp": ANY_APP,
    "Query.documents": "documents:read",
    "Query.document": "documents:read",
    "Query.profile": "profile:read",
    "Query.measurements": "profile:read",
    "Query.latestMeasurements": "profile:read",
    "Query.fhirEverything": "profile:read",
    "Query.appointments": "agenda:read",
    "Query.appointment": "agenda:read",
    "Query.freeSlots": "agenda:read",
    "Query.conversations": "messages:read",
    "Query.conversation": "messages:read",
    "Query.messages": "messages:read",
    "Query.messagingSummary": "messages:read",
    "Mutation.addMeasurement": "profile.measurements:write",
    "Mutation.uploadDocument": "documents:write",
    "Mutation.addAppointment": "agenda:write",
    "Mutation.updateAppointment": "agenda:write",
    "Mutation.cancelAppointment": "agenda:write",
    "Mutation.rescheduleAppointment": "agenda:write",
    "Mutation.bookSlot": "agenda:write",
    "Subscription.messageAdded": "messages:read",
    "Subscription.inbox": "messages:read",
    "Subscription.agendaChanged": "agenda:read",
}


def _schema():
    schema = build_schema()
    return schema, schema._schema, scope_map(schema)


def test_the_root_fields_open_to_apps_are_exactly_the_listed_ones():
    _, graphql_schema, scopes = _schema()
    opened = {}
    for root in ROOTS:
        for name in graphql_schema.get_type(root).fields:
            requirement = scopes.requirement(root, name, None)
            if requirement != NOT_FOR_APPS:
                opened[f"{root}.{name}"] = requirement
    assert opened == OPEN_TO_APPS


def test_every_field_an_app_can_reach_declares_its_scope():
    _, graphql_schema, scopes = _schema()
    undeclared: set[str] = set()
    seen: set[tuple[str, str]] = set()
    reached = 0

    def walk(gql_type, parent: str) -> None:
        nonlocal reached
        if isinstance(gql_type, GraphQLUnionType):
            for member in gql_type.types:
                walk(member, parent)
            return
        if not isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            return
        if (gql_type.name, parent) in seen:
            return
        seen.add((gql_type.name, parent))
        if isinstance(gql_type, GraphQLInterfaceType):
            for implementation in graphql_schema.get_possible_types(gql_type):
                walk(implementation, parent)
        for name, field in gql_type.fields.items():
            reached += 1
            requirement = scopes.requirement(gql_type.name, name, parent)
            if requirement == NOT_FOR_APPS:
                undeclared.add(f"{gql_type.name}.{name}")
                continue
            walk(get_named_type(field.type), requirement)

    for path, requirement in OPEN_TO_APPS.items():
        root, name = path.split(".")
        walk(get_named_type(graphql_schema.get_type(root).fields[name].type), requirement)
    assert undeclared == set(), "declare app_scope(...) on these fields or their types"
    assert reached > 300, reached  # the walk really went through the schema


def test_every_declared_scope_is_in_the_catalogues_vocabulary():
    _, _, scopes = _schema()
    declared = set(scopes.by_field.values()) | set(scopes.by_type.values())
    assert declared - {ANY_APP, SAME_AS_PARENT} <= KNOWN
    assert declared >= KNOWN  # every scope an app may ask for opens something


def test_a_document_reached_from_messages_still_needs_documents_read():
    # Document declares documents:read itself: no path around it (messages, agenda...).
    schema, graphql_schema, scopes = _schema()
    document = parse("query { documents(first: 1) { edges { node { id title } } } }")
    assert requirements(graphql_schema, scopes, document, None) >= {"documents:read"}
    assert scopes.by_type["Document"] == "documents:read"


def _caller(scopes: set[str]) -> AppCaller:
    return AppCaller(account_id=1, person_id=1, app_id=uuid.uuid4(), app_name="Test",
                     app_scopes=frozenset(scopes), token_id=1)


async def test_a_subscription_outside_the_scopes_is_refused_before_it_starts():
    schema = build_schema()
    context = SimpleNamespace(viewer=_caller({"profile:read"}), request_id="t")
    # `stream` is what graphql-transport-ws calls, `subscribe` what the legacy protocol does:
    # the refusal is the only item, before any resolver runs.
    for start in (schema.stream, schema.subscribe):
        items = [r async for r in await start("subscription { inbox { __typename } }",
                                              context_value=context)]
        assert len(items) == 1 and isinstance(items[0], PreExecutionError)
        [result] = items
        assert result.data is None and len(result.errors) == 1
        assert result.errors[0].extensions["code"] == "INSUFFICIENT_SCOPE"
        assert result.errors[0].extensions["missingScopes"] == ["messages:read"]
        refused = [r async for r in await start(
            "subscription { announcementAdded { __typename } }", context_value=context)]
        assert refused[0].errors[0].extensions["code"] == "INSUFFICIENT_SCOPE"
    # A query streamed over a websocket is AppScopeGate's (answered as a result, not here).
    assert schema._subscription_refusal("query { me { id } }", context, None) is None
