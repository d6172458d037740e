"""Parsing and validating GraphQL documents: a size cap, and caches bounded by bytes.

Strawberry's ParserCache/ValidationCache are LRU caches bounded by entries: 512 distinct 5 MB
queries (comments are cheap to send) held gigabytes. Here one LRU, keyed by the query text,
keeps each document with its validation errors and is bounded by an estimate of the memory
they hold (the text, plus the AST: about 700 bytes per lexical token, measured). A query larger
than GRAPHQL_MAX_QUERY_BYTES is refused before it is parsed.

The caches matter (graphql-core validation is ~75% of CPU on small queries): clients must send
values as variables, so that the same text comes back. The rules are built once per schema, so
the cached validation result is valid for every later request to that schema.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, parse, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

BYTES_PER_TOKEN = 700  # measured AST cost per lexical token (graphql-core 3.3, with locations)
BYTES_PER_ERROR = 1024
QUERY_TOO_LARGE = "QUERY_TOO_LARGE"


@dataclass
class CachedDocument:
    document: DocumentNode
    cost: int
    errors: list[GraphQLError] | None = field(default=None)


class ByteBudgetLRU:
    """A least-recently-used map whose entries have a cost in bytes, and a budget.

    An entry costing more than a quarter of the budget is not kept (one huge query must not
    evict every small one). Entries are anything with a `cost` (the parsed documents here, whole
    answers in backend/response_cache.py).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, CachedDocument] = OrderedDict()
        self._lock = threading.Lock()  # the schema may also be used from threads (execute_sync)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedDocument | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: str, entry: CachedDocument) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.cost
            if entry.cost > self.budget // 4:
                return
            self._entries[key] = entry
            self.bytes += entry.cost
            while self.bytes > self.budget and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= evicted.cost

    def add_cost(self, key: str, entry: CachedDocument, extra: int) -> None:
        with self._lock:
            entry.cost += extra
            if self._entries.get(key) is entry:
                self.bytes += extra
                while self.bytes > self.budget and self._entries:
                    _, evicted = self._entries.popitem(last=False)
                    self.bytes -= evicted.cost

    def discard(self, key: Any) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.cost

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


class DocumentService:
    """Parse and validate documents for one schema, with a size cap and a shared cache."""

    def __init__(
        self,
        *,
        rules: Sequence[type[Any]],
        max_query_bytes: int,
        max_tokens: int,
        cache_bytes: int,
        hide_suggestions: bool,
    ) -> None:
        self.base_rules = tuple(rules)
        # What Strawberry's own validate_document adds to the rules.
        self.rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
        self.max_query_bytes = max_query_bytes
        self.max_tokens = max_tokens
        self.hide_suggestions = hide_suggestions
        self.cache = ByteBudgetLRU(cache_bytes)

    def parse_options(self) -> dict[str, Any]:
        return {
            "max_lexical_tokens": self.max_tokens,
            # Comments are not lexical tokens, but each one is kept in the token list.
            "max_comments": self.max_tokens,
            "max_source_length": self.max_query_bytes,
        }

    def check_size(self, query: str) -> None:
        # Cheap bound first: a str of n code points holds between n and 4n UTF-8 bytes.
        size = len(query)
        if size * 4 > self.max_query_bytes:
            size = len(query.encode("utf-8", "surrogatepass"))
        if size > self.max_query_bytes:
            raise GraphQLError(
                f"Query too large: {size} bytes (at most {self.max_query_bytes}). "
                "Send values as variables, not inside the query text.",
                extensions={"code": QUERY_TOO_LARGE},
            )

    def parse(self, query: str) -> CachedDocument:
        entry = self.cache.get(query)
        if entry is not None:
            return entry
        self.check_size(query)
        document = parse(query, **self.parse_options())
        tokens = getattr(document, "token_count", None) or len(query) // 4
        entry = CachedDocument(document=document, cost=len(query) + BYTES_PER_TOKEN * tokens)
        self.cache.put(query, entry)
        return entry

    def validate(self, schema: Any, query: str, entry: CachedDocument) -> list[GraphQLError]:
        if entry.errors is None:
            errors = validate(
                schema, entry.document, self.rules, hide_suggestions=self.hide_suggestions
            )
            entry.errors = errors
            self.cache.add_cost(query, entry, BYTES_PER_ERROR * len(errors))
        return list(entry.errors)


class CarnetDocuments(SchemaExtension):
    """Replaces Strawberry's ParserCache and ValidationCache (see the module docstring)."""

    def __init__(self, service: DocumentService) -> None:
        self.service = service
        self._entry: CachedDocument | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # Also what applies if Strawberry parses or validates by itself (a syntax error).
        context.parse_options.update(self.service.parse_options())  # type: ignore[typeddict-item]
        context.validation_rules = self.service.base_rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query and context.graphql_document is None:
            try:
                self._entry = self.service.parse(query)
            except GraphQLError as error:
                if (error.extensions or {}).get("code") == QUERY_TOO_LARGE:
                    raise
                # A syntax error: let Strawberry parse again and report it the usual way
                # (errors are not cached; parsing is linear and bounded by the size cap).
                self._entry = None
            else:
                context.graphql_document = self._entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self._entry
        if entry is not None and context.graphql_document is entry.document:
            assert context.query is not None
            context.pre_execution_errors = self.service.validate(
                context.schema._schema, context.query, entry
            )
        yield
