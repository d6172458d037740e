"""Count SQL statements through Tortoise's query logger (for no-N+1 assertions)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

_NOT_QUERIES = ("Created connection", "Closed connection")


# The counter of the code under measurement. Statements are counted only when logged from
# that code's context (the test's task and the tasks it starts, which copy its context), never
# from background tasks of the app (on SQLite, its in-process job runner), which run in
# the context the lifespan started them in: those made screen counts flaky.
_CURRENT: contextvars.ContextVar[_Counter | None] = contextvars.ContextVar(
    "carnet_query_counter", default=None)


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _CURRENT.get() is not self:
            return
        text = str(record.msg) if not record.args else str(record.args[0])
        if not str(record.msg).startswith(_NOT_QUERIES):
            self.statements.append(text)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def count_queries() -> Iterator[_Counter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = _Counter()
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the statements carry values: keep them out of test logs
    token = _CURRENT.set(counter)
    try:
        yield counter
    finally:
        _CURRENT.reset(token)
        logger.removeHandler(counter)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate
