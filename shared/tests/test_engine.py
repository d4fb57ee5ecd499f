"""PostgreSQL engines: pooled connections that died are replaced, and reads hold no
transaction between their statements."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, text

from wastex_shared.storage import UnitOfWorkFactory, make_engine, messaging_tables
from wastex_shared.storage.engine import reader_of
from wastex_shared.testing.plugin import (
    PG_SERVER,
    create_pg_database,
    drop_pg_database,
    terminate_backends,
)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    name = await create_pg_database()
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        await drop_pg_database(name)


async def _terminate_the_others(url: str) -> int:
    """End every other session on the database and wait until they have exited."""
    admin = make_engine(url)
    try:
        async with admin.connect() as conn:
            others = text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            pids = list((await conn.execute(others)).scalars())
            await terminate_backends(conn, pids)
        return len(pids)
    finally:
        await admin.dispose()


async def test_a_pooled_connection_whose_session_died_is_replaced_before_use(
    pg_url: str,
) -> None:
    engine = make_engine(pg_url)
    uow = UnitOfWorkFactory(engine, messaging_tables(MetaData()))
    try:
        for open_unit in (uow, uow.reading):
            async with open_unit() as unit:  # leaves a connection in the pool
                assert await unit.session.scalar(text("SELECT 1")) == 1
        assert await _terminate_the_others(pg_url) >= 1
        for open_unit in (uow, uow.reading):
            async with open_unit() as unit:
                assert await unit.session.scalar(text("SELECT 2")) == 2
    finally:
        await engine.dispose()


async def test_a_reading_unit_of_work_holds_no_transaction_between_statements(
    pg_url: str,
) -> None:
    """Each statement sees what is committed when it starts (as under READ COMMITTED),
    without a BEGIN and a ROLLBACK around the read: `now()` moves between statements."""
    engine = make_engine(pg_url)
    uow = UnitOfWorkFactory(engine, messaging_tables(MetaData()))
    try:
        async with uow.reading() as unit:
            first = await unit.session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.02)
            second = await unit.session.scalar(text("SELECT now()"))
        assert first != second
        async with uow() as unit:  # a unit of work that writes keeps its transaction
            first = await unit.session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.02)
            second = await unit.session.scalar(text("SELECT now()"))
        assert first == second
    finally:
        await engine.dispose()


def test_a_sqlite_reader_keeps_its_snapshot_transaction() -> None:
    """On SQLite a reading transaction is what gives the reads one WAL snapshot."""
    engine = make_engine("sqlite+aiosqlite:///:memory:")
    assert "isolation_level" not in reader_of(engine).get_execution_options()


async def test_after_commit_callbacks_run_once_committed_and_never_after_a_rollback(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'uow.db'}")
    uow = UnitOfWorkFactory(engine, messaging_tables(MetaData()))
    calls: list[str] = []
    try:
        async with uow() as unit:
            unit.after_commit(lambda: calls.append("rolled back"))
            await unit.rollback()
            await unit.commit()  # the callback went with the rollback
        async with uow() as unit:
            unit.after_commit(lambda: calls.append("committed"))
            with contextlib.suppress(RuntimeError):
                async with unit.savepoint():
                    unit.after_commit(lambda: calls.append("savepoint rolled back"))
                    raise RuntimeError("one message of the batch fails")
            assert calls == []
            await unit.commit()
            await unit.commit()  # once
        assert calls == ["committed"]
    finally:
        await engine.dispose()


async def test_an_id_forgotten_is_not_marked_by_the_batch_unless_its_savepoint_rolled_back(
    tmp_path: Path,
) -> None:
    """A consumer marks its batch at the end: a message a handler kept, then parked (the
    inbox forgets its id) in that batch stays forgotten; one whose forgetting was undone
    with its savepoint is marked as handled."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'uow.db'}")
    metadata = MetaData()
    uow = UnitOfWorkFactory(engine, messaging_tables(metadata))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with uow() as unit:
            await unit.forget("src/parked")
            with contextlib.suppress(RuntimeError):
                async with unit.savepoint():
                    await unit.forget("src/kept")
                    raise RuntimeError("the site's fact failed: the report still waits")
            await unit.mark_all_seen([("src/parked", "t"), ("src/kept", "t")])
            await unit.commit()
        async with uow() as unit:
            assert await unit.seen_among(["src/parked", "src/kept"]) == {"src/kept"}
    finally:
        await engine.dispose()
