"""Live events executed once per distinct (operation, variables, visibility), not per subscriber.

When a message reaches 1,000 subscribers of one conversation, graphql-core would execute the
subscription's selection 1,000 times on the same value (0.34-0.43 ms of CPU each). A source
stream that yields a `SharedEvent` instead of a plain value lets `SharedEventExecutor` execute
the selection once for every subscriber whose operation (with its fragments, as printed: the
same text), coerced variables and `visibility` are equal, and
hand them all the same result. The transport then only frames it.

`visibility` must hold everything that makes two subscribers see different data for the same
event (who they are relative to it, their language, what they may see of it): the domain that
yields the event decides it, next to the type it yields. A field that starts depending on the
viewer must be added to it, or two subscribers would share a frame they should not.

Core module: it imports no domain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from graphql import print_ast
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


@dataclass(slots=True)
class SharedResults:
    """The results of one event, by (operation, variables, visibility); lives as long as the
    event is being delivered (held by the events that point to it)."""

    results: dict[tuple, Any] = field(default_factory=dict)
    executions: int = 0  # how many times the selection really ran (tests, benches)


@dataclass(slots=True, frozen=True)
class SharedEvent:
    """What a source stream yields instead of `value` to share its execution."""

    value: Any
    visibility: Hashable
    shared: SharedResults


def _variables_key(variable_values: Any) -> str:
    # Coerced values may be lists or input objects (unhashable): their repr is exact for the
    # scalars and inputs of this schema, and computed once per event per subscriber.
    coerced = getattr(variable_values, "coerced", variable_values) or {}
    return repr(sorted(coerced.items()))


def _operation_key(executor: Any) -> str:
    # The operation and the fragments it may use, as text: two subscribers share only when
    # they asked for exactly the same selection (whatever the parser cache did).
    parts = [print_ast(executor.operation)]
    parts += [print_ast(f) for _, f in sorted(executor.fragment_definitions.items())]
    return "\n".join(parts)


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core executor: a `SharedEvent` payload is executed once per key."""

    _shared_event: SharedEvent | None = None
    _static_key: tuple[str, str] | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        if not isinstance(payload, SharedEvent):
            return super().build_per_event_executor(payload)
        if self._static_key is None:  # once per subscription, not per event
            self._static_key = (_operation_key(self), _variables_key(self.variable_values))
        executor = super().build_per_event_executor(payload.value)
        executor._shared_event = payload
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        event = self._shared_event
        if event is None:
            return super().execute_operation(serially)
        key = (*self._static_key, event.visibility)
        entry = event.shared.results.get(key)
        if entry is None:
            event.shared.executions += 1
            result = super().execute_operation(serially)
            if self.is_awaitable(result):
                # The first subscriber's task executes; the others await the same future.
                result = asyncio.ensure_future(result)
            event.shared.results[key] = entry = result
        return _deliver(entry, event.shared, key)


def _deliver(result: Any, shared: SharedResults, key: tuple) -> Any:
    if not isinstance(result, asyncio.Future):
        return _checked(result, shared, key)

    async def wait() -> Any:
        # shield: one subscriber leaving must not cancel the execution the others wait for.
        return _checked(await asyncio.shield(result), shared, key)

    return wait()


def _checked(result: Any, shared: SharedResults, key: tuple) -> Any:
    # A result with errors is not shared further: the next subscriber executes again (errors
    # may be transient, and masking mutates them per operation).
    if getattr(result, "errors", None):
        shared.results.pop(key, None)
    return result
