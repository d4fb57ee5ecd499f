"""The periodic sweep: each run commits its own unit of work, a full batch runs again at
once, and a failed run is retried at the next tick (never fatal)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import MetaData, text

from wastex_shared.storage import UnitOfWork, UnitOfWorkFactory, make_engine, messaging_tables
from wastex_shared.storage.sweep import periodic_sweep


@asynccontextmanager
async def sweeping(
    tmp_path: Path,
    sweep: Callable[[UnitOfWork, int], Awaitable[int]],
    interval_seconds: float,
    full_batch: int | None = None,
) -> AsyncIterator[Callable[[], Awaitable[list[int]]]]:
    """Runs `sweep` (told which run it is; each writes its number) as the runtime would;
    yields a reader of the numbers committed."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'sweep.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE runs (n INTEGER)"))
    runs = 0

    async def counted(unit: UnitOfWork) -> int:
        nonlocal runs
        runs += 1
        await unit.session.execute(text("INSERT INTO runs VALUES (:n)"), {"n": runs})
        return await sweep(unit, runs)

    async def committed() -> list[int]:
        async with engine.connect() as conn:
            return list((await conn.execute(text("SELECT n FROM runs ORDER BY n"))).scalars())

    uow = UnitOfWorkFactory(engine, messaging_tables(MetaData()))
    run = periodic_sweep(
        uow, counted, name="test sweep", interval_seconds=interval_seconds, full_batch=full_batch
    )
    task = asyncio.create_task(run())
    try:
        yield committed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()


async def until(done: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(300):
        if await done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not done in 3 s")


async def test_a_full_batch_runs_again_at_once_and_each_run_commits(tmp_path: Path) -> None:
    async def sweep(_: UnitOfWork, run: int) -> int:
        return 5 if run <= 3 else 2  # three full batches, then less than one

    async with sweeping(tmp_path, sweep, interval_seconds=60, full_batch=5) as committed:
        await until(lambda: _has(committed, 4))
        await asyncio.sleep(0.1)
        assert await committed() == [1, 2, 3, 4]  # the fifth waits a minute


async def test_a_failed_run_is_retried_at_the_next_tick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def sweep(_: UnitOfWork, run: int) -> int:
        if run == 1:
            raise RuntimeError("database away")
        return 0

    async with sweeping(tmp_path, sweep, interval_seconds=0.01) as committed:
        await until(lambda: _has(committed, 2))
        assert (await committed())[0] == 2  # the failed run's write went with it
    assert "test sweep failed" in caplog.text


async def _has(committed: Callable[[], Awaitable[list[int]]], n: int) -> bool:
    return n in await committed()
