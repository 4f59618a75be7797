"""Row isolation for chunked batch work: one bad row fails alone, the rest of its chunk commits.

A worker processes a batch (an issuance job, a bulk enrollment) one chunk per transaction. A chunk
runs inside a savepoint; if a row-level error stops it (``RowError``, or the database refusing a
row: a constraint or a data exception), the savepoint is rolled back and the chunk is split in
two, each half in a savepoint of its own, down to the single row at fault, which becomes that
identifier's failure with a reason. The chunk's transaction, the lease fence before it and the
resumption at ``processed_count`` are unchanged: the chunk still commits once, whole.

Errors that are not about a row (a lost connection, a lost lease, a cancellation) are not caught:
they abort the chunk, which is retried as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


class RowError(Exception):
    """A row that cannot be processed, for a reason that is the row's own (``reason``): its
    identifier fails, the others go on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


ROW_STATES = {"22": "DataError", "23": "IntegrityError"}
"""PostgreSQL's SQLSTATE classes of a refused row: data exception, integrity constraint
violation (also raised as is by the driver, e.g. from ``COPY`` in ``bulk_insert``)."""


def row_error(error: BaseException) -> str | None:
    """The kind of a row-level error, or None for any other: ours (``RowError``), the
    database's refusal of a row's values (SQLSTATE classes 22 and 23 on PostgreSQL, through
    SQLAlchemy or straight from the driver; constraint failures on SQLite). Anything else is
    transient or the batch's own, and aborts the chunk."""
    if isinstance(error, RowError):
        return "RowError"
    if isinstance(error, IntegrityError | DataError):
        return type(error).__name__
    sqlstate = getattr(error, "sqlstate", None) or getattr(
        getattr(error, "orig", None), "sqlstate", None
    )
    if isinstance(sqlstate, str):
        return ROW_STATES.get(sqlstate[:2])
    return None


def reason_of(error: BaseException) -> str:
    """The failure's reason: ours as is, the database's by its kind only (its message may
    quote the row's values, personal data)."""
    if isinstance(error, RowError):
        return error.reason
    return f"Could not be processed: the database refused it ({row_error(error)})"


Attempt = Callable[[int, Sequence[T]], Awaitable[Counter[str]]]
Fail = Callable[[int, T, str], Awaitable[Counter[str]]]


async def isolated(
    session: AsyncSession,
    start: int,
    items: Sequence[T],
    attempt: Attempt[T],
    fail: Fail[T],
) -> Counter[str]:
    """``attempt(start, items)`` in a savepoint; on a row-level error, bisect down to the rows
    at fault and ``fail(index, item, reason)`` each of them (in the chunk's transaction).
    Returns the sum of the tallies. An attempt that raises must leave no state of its own
    behind outside the database."""
    try:
        async with session.begin_nested():
            return await attempt(start, items)
    except Exception as error:
        if row_error(error) is None:
            raise
        if len(items) == 1:
            return await fail(start, items[0], reason_of(error))
    middle = len(items) // 2
    first = await isolated(session, start, items[:middle], attempt, fail)
    rest = await isolated(session, start + middle, items[middle:], attempt, fail)
    return first + rest
