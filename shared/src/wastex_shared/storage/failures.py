"""Failures worth trying again (a lost database connection; a transaction the database
aborted to break a deadlock or a serialization conflict), told apart from a bug.

Consumers retry a batch on a transient failure, logged as a warning, and never blame one
message for it (a bug's message is dead-lettered); GraphQL answers it as
SERVICE_UNAVAILABLE (try again), not as an internal error.
"""

from __future__ import annotations

from typing import Final

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


class LostRace(Exception):
    """The work's compare-and-set found its row moved on by a concurrent writer: running it
    again reads the row anew (a consumer retries its batch; a message is not to blame)."""


def transient(exc: BaseException) -> bool:
    """Whether running the same work again may succeed: the connection failed, the
    database aborted the transaction for a concurrent one, or the work lost a race."""
    return isinstance(exc, LostRace) or connection_lost(exc) or aborted_by_conflict(exc)
