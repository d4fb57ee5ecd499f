"""Failures worth trying again (a lost database connection; a transaction the database
aborted to break a deadlock or a serialization conflict), told apart from a bug.

Consumers retry a batch on a transient failure, logged as a warning, and never blame one
message for it (a bug's message is dead-lettered); GraphQL answers it as
SERVICE_UNAVAILABLE (try again), not as an internal error.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    InvalidRequestError,
    OperationalError,
    ResourceClosedError,
)


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` is the database connection failing (cut, closed, timed out), not the
    statement or the code."""
    if isinstance(exc, IntegrityError):
        return False
    lost = OperationalError | OSError | TimeoutError | ConnectionError | ResourceClosedError
    if isinstance(exc, lost):
        return True
    if isinstance(exc, InvalidRequestError) and "connection is closed" in str(exc).lower():
        return True  # the pool's word for a connection PostgreSQL cut mid-transaction
    if isinstance(exc, InterfaceError):  # a driver's state after a cut, not a bad parameter
        message = str(exc).lower()
        return "operation is in progress" in message or "connection" in message
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


#: SQLSTATEs of a transaction PostgreSQL aborted to let a concurrent one through:
#: serialization_failure and deadlock_detected. Running it again is the documented answer.
_CONFLICTS: Final = frozenset({"40001", "40P01"})


def aborted_by_conflict(exc: BaseException) -> bool:
    """Whether the database aborted the transaction for a concurrent one (no fault of its
    statements: it may well succeed when run again)."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in _CONFLICTS


T = TypeVar("T")

#: Tries of a transaction the database aborts for a concurrent one before giving up.
CONFLICT_TRIES: Final = 3


async def retry_conflicts(work: Callable[[], Awaitable[T]], tries: int = CONFLICT_TRIES) -> T:
    """Run `work`, one whole transaction, again a moment later while the database aborts it
    for a concurrent one: nothing of an aborted try was kept. Any other failure, or the last
    try's, propagates (GraphQL answers it as SERVICE_UNAVAILABLE)."""
    for attempt in range(1, tries + 1):
        try:
            return await work()
        except DBAPIError as exc:
            if attempt == tries or not aborted_by_conflict(exc):
                raise
            await asyncio.sleep(0.05 * attempt * (1 + random.random()))  # let the other finish
    raise AssertionError("unreachable: the last try returns or raises")


class LostRace(Exception):
    """The work's compare-and-set found its row moved on by a concurrent writer: running it
    again reads the row anew (a consumer retries its batch; a message is not to blame)."""


def transient(exc: BaseException) -> bool:
    """Whether running the same work again may succeed: the connection failed, the
    database aborted the transaction for a concurrent one, or the work lost a race."""
    return isinstance(exc, LostRace) or connection_lost(exc) or aborted_by_conflict(exc)
