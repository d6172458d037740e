"""GraphQL abuse limits whose cost is linear in the document, and an operation time budget.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk every path through fragment spreads:
`fragment F0 on Query { ...F1 ...F1 }`, `fragment F1 on Query { ...F2 ...F2 }`, ... makes
them visit 2^k paths (k=30 never returns). The rule below visits each fragment definition once
and memoises its depth and alias count, so its work is proportional to the document's size.

Depth is as Strawberry counts it: the number of nested fields that have a selection set
(introspection fields, whose names start with `__`, are not counted). Aliases are counted as the
operation would expand them (a fragment spread twice counts its aliases twice), with saturating
arithmetic: once the count passes the limit it stops growing, so it never becomes a huge number.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.pyutils import AbortSignal

from backend.errors import PublicError
from backend.i18n import N_


class DocumentLimits:
    """Memoised depth and alias count of every fragment and operation of one document."""

    def __init__(self, document: Any, *, max_aliases: int) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.cap = max_aliases + 1  # saturation point: "more than allowed"
        self._memo: dict[str, tuple[int, int]] = {}
        self._in_progress: set[str] = set()
        self.visits = 0  # selections visited: proportional to the document (tested)

    def fragment(self, name: str) -> tuple[int, int]:
        memo = self._memo.get(name)
        if memo is not None:
            return memo
        definition = self.fragments.get(name)
        if definition is None or name in self._in_progress:
            # Unknown fragments and cycles are reported by graphql-core's own rules
            # (KnownFragmentNamesRule, NoFragmentCyclesRule); count nothing for them.
            return 0, 0
        self._in_progress.add(name)
        try:
            result = self.selection_set(definition.selection_set)
        finally:
            self._in_progress.discard(name)
        self._memo[name] = result
        return result

    def selection_set(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        """(depth, aliases) of a selection set; iterative over nested fields and inline
        fragments (no recursion limit to hit), recursive only through fragment definitions,
        which are each computed once."""
        if selection_set is None:
            return 0, 0
        depth = 0
        aliases = 0
        # Stack of (selection set, depth of the fields it holds, in an ignored subtree).
        stack: list[tuple[SelectionSetNode, int, bool]] = [(selection_set, 0, False)]
        while stack:
            current, level, ignored = stack.pop()
            for selection in current.selections:
                self.visits += 1
                if isinstance(selection, FieldNode):
                    if selection.alias:
                        aliases = min(self.cap, aliases + 1)
                    if selection.selection_set is None:
                        continue
                    is_meta = ignored or selection.name.value.startswith("__")
                    child_level = level if is_meta else level + 1
                    depth = max(depth, child_level)
                    stack.append((selection.selection_set, child_level, is_meta))
                elif isinstance(selection, InlineFragmentNode):
                    stack.append((selection.selection_set, level, ignored))
                elif isinstance(selection, FragmentSpreadNode):
                    spread_depth, spread_aliases = self.fragment(selection.name.value)
                    if not ignored:
                        depth = max(depth, level + spread_depth)
                    aliases = min(self.cap, aliases + spread_aliases)
        return depth, aliases


def document_limits_rule(*, max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """A validation rule class enforcing both limits; build it ONCE per schema."""

    class CarnetDocumentLimitsRule(ValidationRule):
        last_visits = 0  # work done by the latest validation (for tests)

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            limits = DocumentLimits(context.document, max_aliases=max_aliases)
            total_aliases = 0
            for definition in context.document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                depth, aliases = limits.selection_set(definition.selection_set)
                total_aliases = min(limits.cap, total_aliases + aliases)
                if depth > max_depth:
                    name = definition.name.value if definition.name else "anonymous"
                    context.report_error(GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {max_depth}",
                        [definition],
                    ))
            if total_aliases > max_aliases:
                context.report_error(GraphQLError(
                    f"Too many aliases: more than {max_aliases} found. "
                    f"Allowed: {max_aliases}"
                ))
            type(self).last_visits = limits.visits

    return CarnetDocumentLimitsRule


# --- Time budget -------------------------------------------------------------------------------


class OperationTimedOut(PublicError):
    code = "TIMEOUT"

    def __init__(self, budget: float) -> None:
        super().__init__(N_("L'opération a dépassé son budget de {budget} s et a été arrêtée."),
                         budget=Decimal(f"{budget:g}"))
        self.budget = budget


class DeadlineSignal(AbortSignal):
    """An abort signal that fires by itself when its deadline passes.

    graphql-core checks `aborted` at every field boundary, so even a long synchronous stretch
    of execution (no await) stops at the next field once the deadline has passed; `wait()`
    wakes up at the deadline, so awaiting resolvers are cancelled at that moment too.
    """

    def __init__(self, budget: float) -> None:
        self._aborted = False
        super().__init__()
        self.budget = budget
        self.deadline = time.monotonic() + budget

    @property  # type: ignore[override]
    def aborted(self) -> bool:
        if not self._aborted and time.monotonic() >= self.deadline:
            self._fire()
        return self._aborted

    @aborted.setter
    def aborted(self, value: bool) -> None:
        self._aborted = value

    def _fire(self) -> None:
        if self._aborted:
            return
        self._aborted = True
        self.reason = OperationTimedOut(self.budget)
        self._event.set()

    async def wait(self) -> Any:
        remaining = self.deadline - time.monotonic()
        if not self._aborted and remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)
        self._fire()
        return self.reason
