"""The GraphQL hook of the access log: one buffer per query or mutation, written at the end.

`AccessLogExtension` (in backend.schema's extensions) opens an `AccessRecorder` before
execution, so that resolvers and services call `access_log.record(...)` with no SQL, and
writes every buffered entry after execution in one statement. If the write fails, the
exception fails the whole operation (answered as a masked error, data null): nothing read is
disclosed without its log entry. Subscriptions get no buffer (a long-lived operation would hold
entries unwritten): a subscription that reads a patient's data wraps the read in
`async with access_log.recording()` itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from backend.audit import access_log


class AccessLogExtension(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            yield
            return
        with access_log.buffering() as recorder:
            try:
                yield
            finally:
                # Also when execution raised (a timeout): what resolvers read is logged.
                await recorder.flush()
