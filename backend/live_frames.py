"""Live events executed once per distinct (operation, variables, visibility), not per subscriber.

When a message reaches 1,000 subscribers of one conversation, graphql-core would execute the
subscription's selection 1,000 times on the same value (0.34-0.43 ms of CPU each). A source
stream that yields a `SharedEvent` instead of a plain value lets `SharedEventExecutor` execute
the selection once for every subscriber whose operation (with its fragments, as printed: the
same text), `visibility` and the coerced values of the variables the selection reads are
equal (a root field's arguments, such as a resume cursor, only feed the source stream), and
hand them all the same result. The transport then only frames it.

Frames past Strawberry's per-subscriber pipeline: a live operation over our websocket handlers
(backend/graphql_view.py sets `current_target`) may, instead of yielding events, register a
`LiveMember` with its domain's fan-out hub and let the hub hand it payloads encoded once per
(operation, variables, visibility) (`LiveMember.render`); the member's own operation task then
only splices its subscription id into a frame template and writes the text to its socket. The
queue of frames waiting for a socket is bounded: a socket that cannot keep up is closed with
`SLOW_CONSUMER` (the client resumes from the cursor of the last message it got), never
stalling the other sockets.

`visibility` must hold everything that makes two subscribers see different data for the same
event (who they are relative to it, their language, what they may see of it): the domain that
yields the event decides it, next to the type it yields. A field that starts depending on the
viewer must be added to it, or two subscribers would share a frame they should not.

Core module: it imports no domain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationType,
    SelectionSetNode,
    VariableNode,
    Visitor,
    print_ast,
    visit,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from backend.errors import CarnetMaskErrors
from backend.i18n import use_locale

log = logging.getLogger(__name__)

try:  # orjson when installed: ~10x faster than json.dumps on these payloads
    import orjson

    def encode_json(value: Any) -> str:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # what orjson refuses: integers beyond 64 bits, lone surrogates
            # (ASCII escapes: the text frame must still encode as UTF-8)
            return json.dumps(value, separators=(",", ":"))
except ImportError:  # pragma: no cover - orjson is a dependency
    def encode_json(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))


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


def static_key(executor: Any) -> tuple[str, str]:
    """(operation, variables the event's selection reads): what two subscribers must share to
    share a result, with the event's visibility."""
    return (_operation_key(executor), _variables_key(executor))


# The subscription executor whose root field's source stream is being created (set just before
# graphql-core calls the subscribe resolver, in that resolver's task).
_subscription_executor: ContextVar[Any] = ContextVar("carnet_subscription_executor",
                                                     default=None)


def subscription_executor() -> SharedEventExecutor | None:
    return _subscription_executor.get()


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core executor: a `SharedEvent` payload is executed once per key."""

    _shared_event: SharedEvent | None = None
    _static_key: tuple[str, str] | None = None

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        # Once per operation (not per field): a subscription's executor is what its subscribe
        # resolver, which runs next in this task, hands to a hub (subscription_executor()).
        executor = super().build(*args, **kwargs)
        if (not isinstance(executor, list)
                and executor.operation.operation is OperationType.SUBSCRIPTION):
            _subscription_executor.set(executor)
        return executor

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


# --- frames written past Strawberry ----------------------------------------------------------

# Close code for a socket whose queue of frames overflowed: "try again later" (RFC 6455). The
# client reconnects and resumes from the cursor of the last message it received.
SLOW_CONSUMER = 1013
SLOW_CONSUMER_REASON = "Too slow: resume from your last cursor"
# Close code when a frame could not be written on a socket still open (internal error).
FRAME_FAILED = 1011
FRAME_FAILED_REASON = "Frame not written: resume from your last cursor"
# Frames queued for one socket (references to shared payloads, not copies) before it is deemed
# too slow: two catch-up batches.
SOCKET_QUEUE_FRAMES = 1000


class FrameTarget:
    """Where one live operation's frames go: its socket, its id, its protocol's frame."""

    __slots__ = ("context", "operation_id", "prefix", "socket")

    def __init__(self, socket: Any, operation_id: str, context: Any, *, legacy: bool) -> None:
        self.socket = socket
        self.operation_id = operation_id
        self.context = context
        quoted = encode_json(operation_id)
        # graphql-transport-ws: "next"; the legacy graphql-ws protocol: "data".
        self.prefix = (f'{{"type":"data","id":{quoted},"payload":' if legacy
                       else f'{{"id":{quoted},"type":"next","payload":')

    def frame(self, payload: str) -> str:
        return self.prefix + payload + "}"


current_target: ContextVar[FrameTarget | None] = ContextVar("carnet_live_target", default=None)


class _MaskScope:
    """What CarnetMaskErrors reads of an execution context (the request id of the socket)."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


class LiveMember:
    """One live operation fed by a hub: encoded payloads in, frames out to its socket.

    The hub calls `offer` (never blocks); `run` (the operation's own task) writes. `seq` is
    the hub's bookkeeping: the position of the last event offered.
    """

    def __init__(self, target: FrameTarget, executor: SharedEventExecutor, *,
                 account_id: int | None, locale: str, seq: int,
                 max_queued: int | None = None) -> None:
        self.target = target
        self.executor = executor
        self.context = target.context
        self.account_id = account_id
        self.locale = locale
        self.seq = seq
        self.static_key = static_key(executor)
        self.audience = (self.static_key, locale, account_id)
        self.max_queued = max_queued or SOCKET_QUEUE_FRAMES
        self.queue: deque[str] = deque()
        self.closed = False  # no more frames: overflowed, socket gone, or left
        self.overflowed = False
        self.sent = 0
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, payload: str) -> bool:
        """Queue one encoded payload; False if the member takes no more (closed)."""
        if self.closed:
            return False
        if len(self.queue) >= self.max_queued:
            self.closed = self.overflowed = True
            self.queue.clear()
            self._wake()
            return False
        self.queue.append(payload)
        self._wake()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        """Write queued frames until cancelled (the operation completed or its socket ended).
        After an overflow, close the socket with SLOW_CONSUMER and wait to be cancelled."""
        loop = asyncio.get_running_loop()
        socket, frame = self.target.socket, self.target.frame
        queue = self.queue
        try:
            while True:
                while queue and not self.overflowed:
                    text = frame(queue.popleft())
                    try:
                        await socket.send({"type": "websocket.send", "text": text})
                    except Exception:  # the client went away, or the socket was closed
                        self.closed = True
                        queue.clear()
                        # Never a silent socket: if it is still open, close it so that its
                        # client resumes from its cursor (a no-op once closed).
                        with contextlib.suppress(Exception):
                            await socket.close(code=FRAME_FAILED, reason=FRAME_FAILED_REASON)
                        break
                    self.sent += 1
                if self.overflowed:
                    log.info("live socket too slow (%d frames queued): closed",
                             self.max_queued)
                    with contextlib.suppress(Exception):
                        await socket.close(code=SLOW_CONSUMER, reason=SLOW_CONSUMER_REASON)
                    self.overflowed = False  # closed once; now wait to be cancelled
                self._waiter = loop.create_future()
                await self._waiter
                self._waiter = None
        finally:
            self.closed = True
            queue.clear()

    async def render(self, value: Any) -> tuple[str, bool]:
        """Execute this member's selection on `value` and encode the payload; and whether it
        may be shared (a payload with errors is not: masking names this socket's request,
        and the next member executes again, as `_checked` does)."""
        with use_locale(self.locale):
            try:
                executor = self.executor.build_per_event_executor(value)
                result = executor.execute_operation(False)
                if executor.is_awaitable(result):
                    result = await result
                data, errors = result.data, result.errors
            except Exception as exc:  # as Strawberry does for an exception out of execution
                data, errors = None, [GraphQLError(str(exc), original_error=exc)]
            payload: dict[str, Any] = {"data": data}
            if errors:
                masked = CarnetMaskErrors.final_pass(list(errors), _MaskScope(self.context))
                payload["errors"] = [error.formatted for error in masked]
                return encode_json(payload), False
            return encode_json(payload), True
