"""Helpers for calling state handlers directly: a fake `api.execute`, draining handlers,
reading the redirects they ask for."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gql import GraphQLRequest
from graphql import OperationDefinitionNode
from reflex.event import EventHandler, EventSpec


def operation_name(document: GraphQLRequest) -> str:
    for definition in document.document.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name:
            return definition.name.value
    raise AssertionError("anonymous operation")


@dataclass
class Call:
    operation: str
    variables: dict[str, Any]
    token: str | None
    headers: dict[str, str]
    # Uploads only (`api.upload`): the file as the API would receive it.
    file_variable: str = ""
    filename: str = ""
    content: bytes = b""


@dataclass
class FakeApi:
    """Stands in for `api.execute` and `api.upload`: answers by operation name, records every
    call (for uploads, with the file's name and bytes).

    An answer is the `data` dict, an `api.ApiError` to raise, or a list of those (one per call).
    """

    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def answer(self, operation: str, *answers: Any) -> None:
        self.answers[operation] = list(answers)

    def called(self, operation: str) -> list[Call]:
        return [call for call in self.calls if call.operation == operation]

    async def execute(
        self, document: GraphQLRequest, variables: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        name = operation_name(document)
        self.calls.append(Call(name, dict(variables or {}), kwargs.get("token"),
                               dict(kwargs.get("headers") or {})))
        return self._answer(name)

    async def upload(
        self, document: GraphQLRequest, variables: Mapping[str, Any], *, file_variable: str,
        filename: str, content: Any, **kwargs: Any,
    ) -> dict[str, Any]:
        name = operation_name(document)
        self.calls.append(Call(name, dict(variables), kwargs.get("token"),
                               dict(kwargs.get("headers") or {}), file_variable, filename,
                               content.read()))
        return self._answer(name)

    def _answer(self, name: str) -> dict[str, Any]:
        queue = self.answers.get(name)
        assert queue, f"unexpected call to {name}"
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


async def run(handler_call: Any) -> list[Any]:
    """Run what calling an event handler returned (value, coroutine or async generator) and
    list the events it yields or returns (None entries dropped)."""
    if inspect.isasyncgen(handler_call):
        events = [event async for event in handler_call]
    elif inspect.isawaitable(handler_call):
        events = [await handler_call]
    else:
        events = [handler_call]
    return [event for event in events if event is not None]


def _is_redirect(handler: EventHandler) -> bool:
    return getattr(handler.fn, "__qualname__", "").rpartition(".")[2] == "_redirect"


def redirects(events: list[Any]) -> list[str]:
    """The paths of the `rx.redirect(...)` among `events`."""
    paths = []
    for event in events:
        if isinstance(event, EventSpec) and _is_redirect(event.handler):
            args = {name._js_expr: value for name, value in event.args}
            paths.append(args["path"]._var_value)
    return paths


def handler_names(events: list[Any]) -> list[str]:
    """The names of the event handlers among `events` (chained events)."""
    names = []
    for event in events:
        handler = event.handler if isinstance(event, EventSpec) else event
        if isinstance(handler, EventHandler) and not _is_redirect(handler):
            names.append(handler.fn.__name__)
    return names


def client_calls(events: list[Any]) -> list[tuple[str, str]]:
    """The browser-side events among `events` (`rx.call_script`, `rx.clear_selected_files`...)
    as (name, JavaScript) pairs, e.g. ('_call_script', "(() => ...)()")."""
    calls = []
    for event in events:
        if not isinstance(event, EventSpec):
            continue
        name = getattr(event.handler.fn, "__qualname__", "").rpartition(".")[2]
        if name in ("_call_script", "_call_function"):
            code = next(value for key, value in event.args
                        if key._js_expr in ("javascript_code", "function"))
            calls.append((name, str(getattr(code, "_var_value", code))))
    return calls


def focused(events: list[Any]) -> list[str]:
    """The element ids the handler's events move the focus to (`carnet_web.state.focus`)."""
    found = []
    for _name, script in client_calls(events):
        if "getElementById" in script and ".focus()" in script:
            start = script.index("getElementById(") + len("getElementById(")
            found.append(script[start:script.index(")", start)].strip('"'))
    return found
