"""A leader lease on a database: of the processes sharing it, one holds the lease at a time.

Matching's re-optimisation must run in one process per database: two would plan against
each other's half-written rounds and supersede each other's proposals. With the lease a
second process stands by and takes over when the holder goes away.

- PostgreSQL: a session-level advisory lock, on a connection kept for it. The lock goes
  with the session, so a holder that dies or loses its connection frees it at once.
- SQLite: an exclusive `flock` on a file beside the database, freed by the operating system
  with the process (or the descriptor). An in-memory database is one process's own.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def lease_key(name: str) -> int:
    """The advisory lock key of `name`: a stable signed 64-bit number."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def try_lock_file(path: Path) -> int | None:
    """An exclusive `flock` on `path` (made if missing): the descriptor holding it until
    closed, or None while another descriptor holds it (this process's own included)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def in_memory(engine: AsyncEngine) -> bool:
    """Whether `engine` is on an in-memory SQLite database (one process's own)."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and (not database or database == ":memory:")


class Lease:
    """`hold()` takes the lease when it is free and says whether this process holds it."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self._engine = engine
        self.name = name
        self._connection: AsyncConnection | None = None  # PostgreSQL
        self._descriptor: int | None = None  # SQLite
        self._always = False  # in-memory SQLite

    async def hold(self) -> bool:
        if self._engine.dialect.name == "postgresql":
            return await self._hold_advisory_lock()
        return self._hold_file_lock()

    async def release(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                # Unlocked first: closing only hands the session back to the pool.
                await connection.scalar(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": lease_key(self.name)}
                )
                await connection.close()
            except SQLAlchemyError:
                # A broken session took its lock with it; one left mid-statement by a
                # cancellation (PendingRollbackError) ends here, and its lock with it.
                await connection.invalidate()
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)  # the flock goes with the last descriptor

    async def _hold_advisory_lock(self) -> bool:
        if self._connection is not None:
            try:
                await self._connection.execute(text("SELECT 1"))
                return True  # the session lives, so its lock does
            except SQLAlchemyError:
                await self._drop_connection()  # the session, and the lock, are gone
        connection = await self._engine.connect()
        try:
            # Autocommit: a session lock needs no transaction, and one left open would hold
            # back vacuum for as long as the process lives.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            taken = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": lease_key(self.name)}
            )
        except BaseException:
            await connection.close()
            raise
        if taken:
            self._connection = connection
            return True
        await connection.close()
        return False

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.invalidate()  # never back to the pool: the session is gone

    def _hold_file_lock(self) -> bool:
        if self._descriptor is not None or self._always:
            return True
        if in_memory(self._engine):
            self._always = True
            return True
        descriptor = try_lock_file(Path(f"{self._engine.url.database}.{self.name}.lease"))
        if descriptor is None:
            return False
        self._descriptor = descriptor
        return True
