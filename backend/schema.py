"""The GraphQL schema, assembled from every domain in one place."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from backend.announcements.queries import AnnouncementQueries
from backend.announcements.subscriptions import AnnouncementSubscriptions
from backend.errors import CarnetMaskErrors
from backend.identity.mutations import IdentityMutations
from backend.identity.queries import IdentityQueries
from backend.messaging.mutations import MessagingMutations
from backend.messaging.queries import MessagingQueries
from backend.messaging.subscriptions import MessagingSubscriptions
from backend.profile.mutations import ProfileMutations
from backend.profile.queries import ProfileQueries
from backend.records.mutations import RecordMutations
from backend.records.queries import RecordQueries
from backend.settings import Settings
from backend.system import SystemQueries


@strawberry.type
class Query(SystemQueries, IdentityQueries, RecordQueries, MessagingQueries,
            AnnouncementQueries, ProfileQueries):
    pass


@strawberry.type
class Mutation(IdentityMutations, RecordMutations, MessagingMutations, ProfileMutations):
    pass


@strawberry.type
class Subscription(MessagingSubscriptions, AnnouncementSubscriptions):
    pass


class CarnetSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry's default logs every error message with its traceback; messages may quote
        # health data. CarnetMaskErrors logs unexpected errors safely instead.
        return None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """Build the schema; limits and masking are on from day one, whatever the environment."""
    production = bool(settings and settings.is_production)
    introspection = settings.introspection if settings else True
    max_depth = settings.graphql_max_depth if settings else 12
    max_aliases = settings.graphql_max_aliases if settings else 15
    max_tokens = settings.graphql_max_tokens if settings else 2000
    # The limit rules are built ONCE: the validation cache keys on the rule classes, and each
    # QueryDepthLimiter/MaxAliasesLimiter instance makes new ones (a cache that never hits).
    rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories, not instances: each operation gets fresh extension state.
    extensions: list[Any] = [
        # Parse/validate caches key on the query text: clients must send values as variables.
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        CarnetMaskErrors,
    ]
    return CarnetSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )


def schema_sdl() -> str:
    """The SDL committed as schema.graphql (independent of runtime settings)."""
    return build_schema().as_str().rstrip() + "\n"
