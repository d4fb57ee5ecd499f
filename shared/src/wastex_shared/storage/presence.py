"""Who is on a service's database: its running processes, or a replay, never both.

`wastex replay` rewrites read models the service's live consumers write too, from a read
of the topics taken before its transaction: a consumer applying a newer fact meanwhile is
overwritten by the older state (and its inbox keeps the fact from being applied again), and
an entry published between the read and the rewrite is lost from the ledger's projection.
So every process of a service holds a shared lock on its database while it runs, and a
replay takes the same lock exclusively or refuses.

- PostgreSQL: a session-level advisory lock (shared or exclusive), on a connection kept for
  it; it goes with the session, so a process that dies frees it at once.
- SQLite: a `flock` (shared or exclusive) on `<database>.<service>.running` beside the
  file, freed by the operating system with the process. An in-memory database is one
  process's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wastex_shared.errors import DomainError
from wastex_shared.storage.lease import in_memory, lease_key

log = logging.getLogger(__name__)

#: How often a starting service looks again while a replay holds its database.
WAIT_STEP_SECONDS = 0.5


@contextlib.asynccontextmanager
async def running_on(engine: AsyncEngine, service: str) -> AsyncIterator[None]:
    """Held by a service process while it runs (processes of one service share it). Waits,
    saying so once, while a replay of the service holds the database."""
    said = False
    while (held := await _take(engine, service, exclusive=False)) is None:
        if not said:
            log.warning("%s: a replay holds its database; starting once it is done", service)
            said = True
        await asyncio.sleep(WAIT_STEP_SECONDS)
    try:
        yield
    finally:
        await _let_go(held)


@contextlib.asynccontextmanager
async def alone_on(engine: AsyncEngine, service: str) -> AsyncIterator[None]:
    """Held by a replay: refuses (SERVICE_RUNNING) while any process of the service runs on
    the database, and keeps one from starting until the block ends."""
    held = await _take(engine, service, exclusive=True)
    if held is None:
        raise DomainError(
            "SERVICE_RUNNING",
            f"{service} is running on this database: stop every process of it first "
            "(a replay beside its live consumers would overwrite what they apply)",
        )
    try:
        yield
    finally:
        await _let_go(held)


_Held = AsyncConnection | int | bool


async def _take(engine: AsyncEngine, service: str, *, exclusive: bool) -> _Held | None:
    """The connection or descriptor holding the lock (True on an in-memory database), or
    None while it is held the other way."""
    if engine.dialect.name == "postgresql":
        return await _advisory_lock(engine, service, exclusive=exclusive)
    if in_memory(engine):
        return True
    return _file_lock(Path(f"{engine.url.database}.{service}.running"), exclusive=exclusive)


async def _advisory_lock(
    engine: AsyncEngine, service: str, *, exclusive: bool
) -> AsyncConnection | None:
    function = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
    connection = await engine.connect()
    try:
        # Autocommit: a session lock needs no transaction, and one left open would hold
        # back vacuum for as long as the process lives.
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        taken = await connection.scalar(
            text(f"SELECT {function}(:key)"), {"key": lease_key(f"wastex.{service}.running")}
        )
    except BaseException:
        await connection.close()
        raise
    if taken:
        return connection
    await connection.close()
    return None


def _file_lock(path: Path, *, exclusive: bool) -> int | None:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


async def _let_go(held: _Held) -> None:
    if isinstance(held, AsyncConnection):
        # Invalidated, not returned to the pool: the session ends and its lock with it.
        await held.invalidate()
        return
    if not isinstance(held, bool):
        os.close(held)  # the flock goes with the descriptor
