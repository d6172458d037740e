"""Count SQL statements through Tortoise's query logger (for no-N+1 assertions)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

_NOT_QUERIES = ("Created connection", "Closed connection")


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
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
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate
