"""A lost database connection, told apart from a bug.

Consumers retry a batch either way, but log a lost connection as a warning, not a
traceback; GraphQL answers it as SERVICE_UNAVAILABLE (try again), not as an internal error.
"""

from __future__ import annotations

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
