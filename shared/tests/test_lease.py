"""The leader lease, on both databases: one holder at a time, handed over when it goes."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from wastex_shared.storage import Lease, make_engine
from wastex_shared.testing.plugin import (
    PG_SERVER,
    create_pg_database,
    drop_pg_database,
    terminate_backends,
)


async def test_one_holder_at_a_time_and_the_next_takes_over(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    first, second = Lease(engines[0], "test.round"), Lease(engines[1], "test.round")
    assert await first.hold()
    assert not await second.hold()
    assert await first.hold()  # holding it again keeps it (no second lock to undo)
    assert not await second.hold()
    await first.release()
    assert await second.hold()
    assert not await first.hold()
    await second.release()


async def test_leases_of_different_names_do_not_exclude_each_other(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    rounds, sweeps = Lease(engines[0], "test.round"), Lease(engines[1], "test.sweep")
    assert await rounds.hold()
    assert await sweeps.hold()
    await rounds.release()
    await sweeps.release()


async def test_a_holder_whose_session_dies_loses_the_lease_to_the_other() -> None:
    """PostgreSQL only: there the lock lives in a session, which can die under a live
    process (SQLite's goes with the process or its descriptor)."""
    name = await create_pg_database()
    engines = make_engine(f"{PG_SERVER}/{name}"), make_engine(f"{PG_SERVER}/{name}")
    try:
        first, second = Lease(engines[0], "test.round"), Lease(engines[1], "test.round")
        assert await first.hold()
        async with engines[1].connect() as admin:
            holders = await admin.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                    "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
            (pid,) = holders.scalars().all()
            await terminate_backends(admin, [pid])
        assert await second.hold()
        assert not await first.hold()  # it notices the lost session and does not get it back
        await second.release()
        await first.release()
    finally:
        for engine in engines:
            await engine.dispose()
        await drop_pg_database(name)


async def test_a_holder_cancelled_mid_statement_still_lets_the_lease_go() -> None:
    """PostgreSQL only. A stop cancels the re-optimiser wherever it is, also inside the
    lease's ping: its connection is then left needing a rollback, and `release` (run on the
    way out) raised PendingRollbackError instead of ending the session and its lock."""
    name = await create_pg_database()
    engines = make_engine(f"{PG_SERVER}/{name}"), make_engine(f"{PG_SERVER}/{name}")
    try:
        first, second = Lease(engines[0], "test.round"), Lease(engines[1], "test.round")
        assert await first.hold()
        held = first._connection  # the lease's own session, as `hold()` pings it
        assert held is not None
        statement = asyncio.create_task(held.execute(text("SELECT pg_sleep(5)")))
        await asyncio.sleep(0.3)
        statement.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await statement
        await first.release()  # no error: the session is ended, with its lock
        assert await second.hold()
        await second.release()
    finally:
        for engine in engines:
            await engine.dispose()
        await drop_pg_database(name)
