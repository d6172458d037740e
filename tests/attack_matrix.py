"""The attack matrix's machinery, generated from the built GraphQL schema: find every field that
takes an id (an `ID` argument, a list of them, or an input object holding one), build a minimal
valid operation for it (placeholder values from the argument types, a selection set from the
return type), and compare answers with the ids normalised. The only hand-written part is the
table in tests/test_attack_matrix.py naming, for each id slot, whose object goes in it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    get_named_type,
    is_abstract_type,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)

ROOTS = ("Query", "Mutation", "Subscription")
PLACEHOLDERS: dict[str, object] = {
    "String": "x", "Int": 1, "Float": 1.0, "Boolean": False, "Date": "2024-01-02",
    "DateTime": "2024-01-02T10:00:00+00:00", "JSON": {},
}


class Unbuildable(Exception):
    """This field cannot be called with generated values (e.g. it takes an Upload)."""


@dataclass(frozen=True)
class Step:
    """One field on the way from the root: `Query.patientRecord`, then `PatientRecord.document`."""

    parent: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.parent}.{self.name}"


@dataclass(frozen=True)
class Slot:
    """Where an id goes in a field's arguments: `id`, `input.documentId`, `attachmentIds`."""

    field: str            # "Mutation.sendMessage"
    path: tuple[str, ...]  # ("attachmentIds",)
    is_list: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.field, ".".join(self.path)


@dataclass
class Operation:
    root: str             # "Query" / "Mutation" / "Subscription"
    steps: list[Step]     # root field first, the field holding the slot last
    slot: Slot

    @property
    def leaf(self) -> Step:
        return self.steps[-1]

    @property
    def label(self) -> str:
        return f"{self.slot.field}({'.'.join(self.slot.path)})"


def _unwrap(type_):
    while is_non_null_type(type_) or is_list_type(type_):
        type_ = type_.of_type
    return type_


def id_paths(type_, seen: tuple[str, ...] = ()) -> Iterable[tuple[tuple[str, ...], bool]]:
    """Paths to ID values inside an argument type (relative to the argument), with whether the
    ID sits in a list."""
    inner = type_.of_type if is_non_null_type(type_) else type_
    if is_list_type(inner):
        named = _unwrap(inner)
        if named.name == "ID":
            yield (), True
        return
    if getattr(inner, "name", None) == "ID":
        yield (), False
    elif is_input_object_type(inner) and inner.name not in seen:
        for name, fld in inner.fields.items():
            for path, is_list in id_paths(fld.type, (*seen, inner.name)):
                yield (name, *path), is_list


def slots_of(parent: str, name: str, fld: GraphQLField) -> list[Slot]:
    return [Slot(f"{parent}.{name}", (arg_name, *path), is_list)
            for arg_name, arg in fld.args.items() for path, is_list in id_paths(arg.type)]


def operations(schema: GraphQLSchema) -> list[Operation]:
    """Every id slot reachable from the roots, with the first path that reaches its field."""
    found: list[Operation] = []
    for root in ROOTS:
        root_type = schema.get_type(root)
        if root_type is None:
            continue
        queue: list[tuple[GraphQLObjectType, list[Step]]] = [(root_type, [])]
        visited = {root}
        while queue:
            type_, steps = queue.pop(0)
            for name, fld in type_.fields.items():
                here = [*steps, Step(type_.name, name)]
                for slot in slots_of(type_.name, name, fld):
                    found.append(Operation(root, here, slot))
                target = get_named_type(fld.type)
                # Only Query results are walked into: a nested field of a mutation result is
                # read after the mutation ran, and subscriptions are roots of their own.
                if root == "Query" and is_object_type(target) and target.name not in visited:
                    visited.add(target.name)
                    queue.append((target, here))
    return found


# --- building values and selections ----------------------------------------------------------


def placeholder(type_, overrides: dict[tuple[str, str], object], where: str = "") -> object:
    """A type-correct value: required input fields only, enums' first value."""
    if is_non_null_type(type_):
        return placeholder(type_.of_type, overrides, where)
    if is_list_type(type_):
        return [placeholder(type_.of_type, overrides, where)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        value = {}
        for name, fld in type_.fields.items():
            if (type_.name, name) in overrides:
                value[name] = overrides[(type_.name, name)]
            elif is_non_null_type(fld.type) and fld.default_value is Undefined:
                value[name] = placeholder(fld.type, overrides, f"{type_.name}.{name}")
        return value
    if type_.name == "Upload":
        raise Unbuildable(f"{where or 'an argument'} is an Upload")
    if type_.name == "ID":
        raise Unbuildable(f"{where} is a required id the table does not fill")
    if type_.name not in PLACEHOLDERS:
        raise Unbuildable(f"no placeholder for scalar {type_.name} ({where})")
    return PLACEHOLDERS[type_.name]


def _plain(fld: GraphQLField) -> bool:
    """Callable without arguments."""
    return not any(is_non_null_type(a.type) and a.default_value is Undefined
                   for a in fld.args.values())


def selection(schema: GraphQLSchema, type_, depth: int = 2) -> str:
    """`__typename`, `... on Error { message }`, and the argument-free fields of the object (or
    of every member of a union), leaves and objects one level down. No aliases (the server caps
    them): a name two members type differently is kept for the first member only."""
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    members = schema.get_possible_types(named) if is_abstract_type(named) else [named]
    parts = ["__typename"]
    if is_abstract_type(named) and any(
            "Error" in [i.name for i in m.interfaces] for m in members):
        parts.append("... on Error { message }")
    taken: dict[str, str] = {}
    for member in members:
        fields = []
        for name, fld in member.fields.items():
            sub = get_named_type(fld.type)
            if not _plain(fld) or sub.name == "JSON" or taken.get(name, str(fld.type)) != str(
                    fld.type):
                continue
            if is_leaf_type(sub):
                fields.append(name)
            elif depth > 1 and (inner := selection(schema, sub, depth - 1)):
                fields.append(f"{name} {inner}")
            else:
                continue
            taken[name] = str(fld.type)
        if fields:
            parts.append(f"... on {member.name} {{ {' '.join(fields)} }}")
    return "{ " + " ".join(parts) + " }"


def _set_path(value: dict, path: tuple[str, ...], item: object) -> None:
    for key in path[:-1]:
        value = value.setdefault(key, {})
    value[path[-1]] = item


@dataclass
class Built:
    query: str
    variables: dict
    slot_variable: tuple[str, tuple[str, ...]] = field(default=("", ()))

    def with_id(self, value: str, is_list: bool) -> dict:
        variables = json.loads(json.dumps(self.variables))
        name, path = self.slot_variable
        item = [value] if is_list else value
        if path:
            variables.setdefault(name, {})
            _set_path(variables[name], path, item)
        else:
            variables[name] = item
        return variables


def build(schema: GraphQLSchema, op: Operation, *, parent_args: dict[str, dict[str, object]],
          slot_args: dict[str, object], overrides: dict[tuple[str, str], object]) -> Built:
    """The operation text and its variables (the slot left for `Built.with_id`).

    parent_args: for each step but the last, its required argument values (`{"Query.
    patientRecord": {"patientId": ...}}`). slot_args: other arguments of the leaf field that
    the table fills (another id, e.g. sendMessage's conversationId when testing attachmentIds).
    """
    definitions: list[str] = []
    variables: dict[str, object] = {}
    built = Built("", {})
    body = ""
    for index in range(len(op.steps) - 1, -1, -1):
        step = op.steps[index]
        fld = schema.get_type(step.parent).fields[step.name]
        is_leaf = index == len(op.steps) - 1
        given = slot_args if is_leaf else parent_args.get(step.key, {})
        args = []
        for arg_name, arg in fld.args.items():
            var = f"v{index}_{arg_name}"
            is_slot = is_leaf and arg_name == op.slot.path[0]
            if arg_name in given:
                value = given[arg_name]
            elif is_slot:
                value = (placeholder(arg.type, overrides, f"{step.key}({arg_name})")
                         if len(op.slot.path) > 1 else None)
                built.slot_variable = (var, op.slot.path[1:])
            elif is_non_null_type(arg.type) and arg.default_value is Undefined:
                value = placeholder(arg.type, overrides, f"{step.key}({arg_name})")
            else:
                continue
            definitions.append(f"${var}: {arg.type}")
            variables[var] = value
            args.append(f"{arg_name}: ${var}")
        call = f"{step.name}({', '.join(args)})" if args else step.name
        inner = body or selection(schema, fld.type)
        body = f"{{ {call} {inner} }}" if index else f"{call} {inner}"
    keyword = op.root.lower()
    built.query = f"{keyword} Attack({', '.join(definitions)}) {{ {body} }}"
    built.variables = variables
    return built


# --- ids and answers -------------------------------------------------------------------------


def missing_like(real: str) -> str:
    """A random id of the same shape as `real`, naming nothing."""
    try:
        uuid.UUID(real)
        return str(uuid.uuid4())
    except ValueError:
        pass
    if real.isdigit():
        return str(random.randint(10 ** (len(real) + 2), 10 ** (len(real) + 3)))
    return secrets.token_urlsafe(len(real))[: len(real)]


def normalise(answer: object, ids: Iterable[str]) -> str:
    """The answer with the ids that went in replaced by a placeholder wherever a string holds
    one as a whole token (an id echoed back is not a leak; a line number that happens to equal
    a small id is left alone), as JSON text so a failure shows where answers differ."""
    values = sorted({i for i in ids if i}, key=len, reverse=True)
    patterns = [re.compile(rf"(?<![0-9A-Za-z_-]){re.escape(v)}(?![0-9A-Za-z_-])")
                for v in values]

    def walk(node: object) -> object:
        if isinstance(node, str):
            for pattern in patterns:
                node = pattern.sub("<ID>", node)
            return node
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(answer), sort_keys=True, ensure_ascii=False)


# --- subscriptions over graphql-transport-ws, in process --------------------------------------


class AsgiWebSocket:
    """A websocket client that drives the ASGI app directly, in the test's own event loop (the
    app's database and Redis connections are bound to it, which rules out Starlette's
    TestClient and its separate thread): the same route, middleware and graphql-transport-ws
    handler a browser reaches, without starting a server."""

    def __init__(self, app, path: str = "/graphql",
                 subprotocol: str = "graphql-transport-ws") -> None:
        self.app = app
        self.scope = {
            "type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "scheme": "ws", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
            "headers": [(b"host", b"testserver"),
                        (b"sec-websocket-protocol", subprotocol.encode())],
            "subprotocols": [subprotocol],
        }
        self._to_app: asyncio.Queue[dict] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._to_app.get, self._from_app.put)
        finally:
            await self._from_app.put({"type": "websocket.close", "code": "app returned"})

    async def __aenter__(self) -> AsgiWebSocket:
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.ensure_future(self._run())
        accepted = await asyncio.wait_for(self._from_app.get(), 10)
        assert accepted["type"] == "websocket.accept", accepted
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 10)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def send(self, message: dict) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self, timeout: float) -> dict:
        """The next protocol message (pings answered and skipped); a closed socket answers
        {"type": "closed", "code": ...}."""
        while True:
            event = await asyncio.wait_for(self._from_app.get(), timeout)
            if event["type"] == "websocket.close":
                return {"type": "closed", "code": event.get("code")}
            message = json.loads(event.get("text") or event.get("bytes"))
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            if message.get("type") != "pong":
                return message


@contextlib.asynccontextmanager
async def subscribed(app, token: str | None, query: str, variables: dict
                     ) -> AsyncIterator[AsgiWebSocket]:
    """A socket, authenticated in connection_init, with operation "1" subscribed."""
    async with AsgiWebSocket(app) as ws:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send({"type": "connection_init", "payload": payload})
        ack = await ws.receive(10)
        assert ack["type"] == "connection_ack", ack
        await ws.send({"id": "1", "type": "subscribe",
                       "payload": {"query": query, "variables": variables}})
        yield ws


async def first_answer(ws: AsgiWebSocket, timeout: float = 10.0) -> list[dict]:
    """The messages up to the first that ends or carries data: an `error`, a `complete`, a
    `next` (whatever it holds), a closed socket; or silence for `timeout` seconds (only ever
    waited out when the answers already differ: a refused subscription answers at once)."""
    answers: list[dict] = []
    while True:
        try:
            message = await ws.receive(timeout)
        except TimeoutError:
            answers.append({"type": f"no answer within {timeout:g} s"})
            return answers
        answers.append(message)
        if message["type"] in ("error", "complete", "closed") or (
                message["type"] == "next" and (message.get("payload") or {}).get("data")):
            return answers
