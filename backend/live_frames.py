"""Live events executed once per distinct (operation, variables, visibility), not per subscriber.

When a message reaches 1,000 subscribers of one conversation, graphql-core would execute the
subscription's selection 1,000 times on the same value (0.34-0.43 ms of CPU each). A source
stream that yields a `SharedEvent` instead of a plain value lets `SharedEventExecutor` execute
the selection once for every subscriber whose operation (with its fragments, as printed: the
same text), `visibility` and the coerced values of the variables the selection reads are
equal (a root field's arguments, such as a resume cursor, only feed the source stream), and
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

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    Node,
    SelectionSetNode,
    VariableNode,
    Visitor,
    print_ast,
    visit,
)
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


class _Variables(Visitor):
    """Collects the variables used under a node, and the fragments it spreads."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.spreads: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.spreads.add(node.name.value)


def _event_nodes(selection_set: SelectionSetNode, fragments: dict[str, Any],
                 seen: set[str]) -> list[Node]:
    """What an event's execution reads of the operation: the directives at the root and the
    selections below each root field, not the root fields' own arguments (those only feed the
    source stream: Strawberry resolves a subscription field's event to the event itself)."""
    nodes: list[Node] = []
    for selection in selection_set.selections:
        nodes.extend(selection.directives or ())
        if isinstance(selection, FieldNode):
            if selection.selection_set is not None:
                nodes.append(selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            nodes.extend(_event_nodes(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                seen.add(name)
                nodes.extend(fragment.directives or ())
                nodes.extend(_event_nodes(fragment.selection_set, fragments, seen))
    return nodes


def _event_variables(executor: Any) -> list[str]:
    fragments = executor.fragment_definitions
    seen: set[str] = set()
    pending = [*(executor.operation.directives or ()),
               *_event_nodes(executor.operation.selection_set, fragments, seen)]
    collector = _Variables()
    while pending:
        visit(pending.pop(), collector)
        for name in collector.spreads - seen:
            seen.add(name)
            if name in fragments:
                pending.append(fragments[name])
    return sorted(collector.names)


def _variables_key(executor: Any) -> str:
    # Only the variables the event's execution reads: `messageAdded(after: $after)` resumed
    # from different cursors still shares. Coerced values may be lists or input objects
    # (unhashable): their repr is exact for the scalars and inputs of this schema, and
    # computed once per subscription.
    values = executor.variable_values
    coerced = getattr(values, "coerced", values) or {}
    return repr([(name, coerced.get(name)) for name in _event_variables(executor)])


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
            self._static_key = (_operation_key(self), _variables_key(self))
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
