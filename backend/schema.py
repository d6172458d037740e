"""The GraphQL schema, assembled from every domain in one place."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import strawberry
from graphql import (
    AbortedGraphQLExecutionError,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    specified_rules,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import OperationType as GraphQLOperationType
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError

from backend.access.mutations import AccessMutations
from backend.access.queries import AccessQueries, patient_record_queries
from backend.access.types import AccessReferenceData, PatientRecordSummary
from backend.agenda import fhir_export as agenda_fhir_export
from backend.agenda.feed_graphql import FeedMutations, FeedQueries
from backend.agenda.mutations import AgendaMutations
from backend.agenda.queries import AgendaQueries, PatientRecordAgenda
from backend.agenda.subscriptions import AgendaSubscriptions
from backend.announcements.queries import AnnouncementQueries
from backend.announcements.subscriptions import AnnouncementSubscriptions
from backend.app_scopes import (
    ANY_APP,
    AppScope,
    AppScopeGate,
    app_scope,
    app_scopes_of,
    refusal,
    refused_result,
    scope_map,
)
from backend.audit.extension import AccessLogExtension
from backend.audit.queries import AccessLogQueries
from backend.audit.types import AccessLogReferenceData
from backend.catalogue.queries import CatalogueQueries
from backend.catalogue.types import CatalogueReferenceData
from backend.closure.mutations import ClosureMutations
from backend.errors import CarnetMaskErrors
from backend.graphql_documents import CarnetDocuments, DocumentService
from backend.graphql_limits import DeadlineSignal, OperationTimedOut, document_limits_rule
from backend.identity.mutations import IdentityMutations
from backend.identity.queries import IdentityQueries
from backend.live_frames import SharedEventExecutor
from backend.messaging.mutations import MessagingMutations
from backend.messaging.queries import MessagingQueries
from backend.messaging.subscriptions import MessagingSubscriptions
from backend.messaging.types import MessagingReferenceData
from backend.oauth.mutations import OAuthMutations
from backend.oauth.queries import OAuthQueries
from backend.onboarding.mutations import OnboardingMutations
from backend.profile import fhir_export
from backend.profile.mutations import ProfileMutations
from backend.profile.queries import PatientRecordProfile, ProfileQueries
from backend.profile.types import ProfileReferenceData
from backend.records.mutations import RecordMutations
from backend.records.queries import PatientRecordDocuments, RecordQueries
from backend.records.types import RecordsReferenceData
from backend.settings import Settings
from backend.system import SystemQueries


@strawberry.type(description="A patient's record as a professional may read it: each domain "
                              "brings its part (access: whose and on which ground; records: "
                              "documents; profile: sections; agenda: appointments), all through "
                              "the access policy.")
class PatientRecord(PatientRecordSummary, PatientRecordDocuments, PatientRecordProfile,
                    PatientRecordAgenda):
    pass


@strawberry.type(description="The lists and limits clients show and check before asking (each "
                              "domain brings its own), labels in the request's language "
                              "(Accept-Language). Public: no health data.",
                 directives=[app_scope(ANY_APP)])
class ReferenceData(RecordsReferenceData, ProfileReferenceData, MessagingReferenceData,
                    AccessReferenceData, AccessLogReferenceData, CatalogueReferenceData):
    pass


@strawberry.type
class Query(SystemQueries, IdentityQueries, RecordQueries, MessagingQueries,
            AnnouncementQueries, ProfileQueries, AccessQueries, AccessLogQueries, FeedQueries,
            AgendaQueries, CatalogueQueries, OAuthQueries,
            patient_record_queries(PatientRecord)):
    @strawberry.field(description="Labels and limits (document types, accepted files, "
                                  "measurement kinds and bounds, profile choices...), in the "
                                  "request's language.", directives=[app_scope(ANY_APP)])
    def reference_data(self) -> ReferenceData:
        return ReferenceData()


@strawberry.type
class Mutation(IdentityMutations, RecordMutations, MessagingMutations, ProfileMutations,
               AccessMutations, FeedMutations, AgendaMutations, OAuthMutations, ClosureMutations,
               OnboardingMutations):
    pass


# The whole-record export (profile) gains the agenda's Appointments: profile imports no
# sibling domain, so they are wired here.
fhir_export.add_resource_source("agenda", agenda_fhir_export.appointment_resources)


@strawberry.type
class Subscription(MessagingSubscriptions, AnnouncementSubscriptions, AgendaSubscriptions):
    pass

log = logging.getLogger("carnet.graphql")


# " Did you mean 'x'?", " Did you mean 'x' or 'y'?" ... (graphql-core's did_you_mean()).
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def strip_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


class CarnetSchema(strawberry.Schema):
    hide_suggestions = False
    time_budget: float | None = None

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        # Called once per query or mutation before parsing (not for subscriptions, which
        # live as long as their socket): the deadline covers parsing, validation and
        # execution; graphql-core checks it at every field and cancels awaiting resolvers.
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        kwargs["hide_suggestions"] = self.hide_suggestions
        if self.time_budget is not None:
            kwargs["abort_signal"] = DeadlineSignal(self.time_budget)
        return kwargs

    async def _execute_operation(self, execution_context: ExecutionContext, *args: Any,
                                 **kwargs: Any) -> Any:
        try:
            return await super()._execute_operation(execution_context, *args, **kwargs)
        except (AbortedGraphQLExecutionError, OperationTimedOut) as exc:
            # Out of its budget: answer inside the operation, so that error masking and the
            # error code apply (an exception escaping here would skip them).
            reason = getattr(exc, "reason", exc)
            if not isinstance(reason, OperationTimedOut):
                raise
            log.warning("operation %s stopped after its %g s budget",
                        execution_context.operation_name or "anonymous", reason.budget)
            result = GraphQLExecutionResult(
                data=None, errors=[GraphQLError(str(reason), original_error=reason)]
            )
            execution_context.result = result
            return result

    async def stream(self, query: str | None, variable_values: dict[str, Any] | None = None,
                     context_value: Any | None = None, root_value: Any | None = None,
                     operation_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        # The gate of queries and mutations (AppScopeGate) cannot stop a subscription before
        # it starts: a delegated caller's subscription (an app's token, a carer in a space) is
        # checked here, before strawberry subscribes. Both websocket protocols come through
        # here (`subscribe` is strawberry's wrapper of `stream`); the refusal is the stream's
        # only item, so each protocol answers it as its error message.
        refused = self._subscription_refusal(query, context_value, operation_name)
        if refused is not None:
            return _only(refused)
        return await super().stream(query, variable_values, context_value, root_value,
                                    operation_name, *args, **kwargs)

    def _subscription_refusal(self, query: str | None, context_value: Any,
                              operation_name: str | None) -> PreExecutionError | None:
        granted = app_scopes_of(getattr(context_value, "viewer", None))
        if granted is None or not query:
            return None
        try:
            document = parse(query)
        except GraphQLError:
            return None  # strawberry answers the syntax error itself
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)
                      and (operation_name is None or (d.name and d.name.value == operation_name))]
        if not operations or operations[0].operation is not GraphQLOperationType.SUBSCRIPTION:
            return None  # queries and mutations: AppScopeGate
        error = refusal(self._schema, scope_map(self), document, operation_name, granted)
        if error is None:
            return None
        result = refused_result(error)
        result.errors = CarnetMaskErrors.final_pass(result.errors, None)
        return PreExecutionError(data=None, errors=result.errors)

    async def _handle_execution_result(self, context: ExecutionContext, result: Any,
                                       *args: Any, **kwargs: Any) -> Any:
        result = await super()._handle_execution_result(context, result, *args, **kwargs)
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = CarnetMaskErrors.final_pass(errors, context)
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry's default logs every error message with its traceback; messages may quote
        # health data. CarnetMaskErrors logs unexpected errors safely instead.
        if self.hide_suggestions:
            # graphql-core is told to hide suggestions; this catches any message that
            # still carries one (e.g. from a custom scalar or a future rule).
            for error in errors:
                if "Did you mean" in error.message:
                    error.message = strip_suggestions(error.message)
        return None


async def _only(result: PreExecutionError) -> AsyncIterator[PreExecutionError]:
    yield result


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """Build the schema; limits and masking are on from day one, whatever the environment."""
    if settings is None:
        # The development defaults, whatever the environment says (schema export, tests).
        settings = Settings.model_construct(
            graphiql=True, introspection=True, graphql_suggestions=True
        )
    # The rules are built ONCE: cached validation results are valid for this rule set.
    rules: list[Any] = [
        *specified_rules,
        document_limits_rule(
            max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases
        ),
    ]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    hide_suggestions = not settings.graphql_suggestions
    documents = DocumentService(
        rules=rules,
        max_query_bytes=settings.graphql_max_query_bytes,
        max_tokens=settings.graphql_max_tokens,
        cache_bytes=settings.graphql_cache_bytes,
        hide_suggestions=hide_suggestions,
    )
    # Factories, not instances: each operation gets fresh extension state.
    extensions: list[Any] = [
        # Parse/validate caches key on the query text: clients must send values as variables.
        lambda: CarnetDocuments(documents),
        CarnetMaskErrors,
        AppScopeGate,  # an app's token: every field's scope, before any resolver runs
        AccessLogExtension,  # one write of the access log per operation, after execution
    ]
    schema = CarnetSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=hide_suggestions),
        schema_directives=[AppScope],
        # Live events are executed once per (operation, variables, visibility): live_frames.py.
        execution_context_class=SharedEventExecutor,
    )
    schema.hide_suggestions = hide_suggestions
    schema.time_budget = settings.graphql_time_budget_seconds
    schema.documents = documents  # type: ignore[attr-defined]
    return schema


def schema_sdl() -> str:
    """The SDL committed as schema.graphql (independent of runtime settings)."""
    return build_schema().as_str().rstrip() + "\n"
