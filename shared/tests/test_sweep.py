"""The periodic sweep: a full batch runs again at once, a wake-up runs it before its
interval, and a failed run is retried at the next tick (never fatal)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import MetaData, text

from wastex_shared.storage import UnitOfWorkFactory, make_engine, messaging_tables
from wastex_shared.storage.sweep import periodic_sweep

Committed = Callable[[], Awaitable[list[int]]]


@asynccontextmanager
async def sweeping(
    tmp_path: Path,
    outcome: Callable[[int], int],
    interval_seconds: float,
    full_batch: int | None = None,
    wake: asyncio.Event | None = None,
) -> AsyncIterator[Committed]:
    """Runs a sweep as the runtime would: each run writes its number in a unit of work and
    commits unless `outcome(run)` raises; yields a reader of the numbers committed."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'sweep.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE runs (n INTEGER)"))
    uow = UnitOfWorkFactory(engine, messaging_tables(MetaData()))
    runs = 0

    async def sweep() -> int:
        nonlocal runs
        runs += 1
        async with uow() as unit:
            await unit.session.execute(text("INSERT INTO runs VALUES (:n)"), {"n": runs})
            changed = outcome(runs)
            await unit.commit()
        return changed

    async def committed() -> list[int]:
        async with engine.connect() as conn:
            return list((await conn.execute(text("SELECT n FROM runs ORDER BY n"))).scalars())

    run = periodic_sweep(
        sweep,
        name="test sweep",
        interval_seconds=interval_seconds,
        full_batch=full_batch,
        wake=wake,
    )
    task = asyncio.create_task(run())
    try:
        yield committed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()


async def until(committed: Committed, runs: list[int]) -> None:
    for _ in range(300):
        if await committed() == runs:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{await committed()} after 3 s, not {runs}")


async def test_a_full_batch_runs_again_at_once(tmp_path: Path) -> None:
    def outcome(run: int) -> int:
        return 5 if run <= 3 else 2  # three full batches, then less than one

    async with sweeping(tmp_path, outcome, interval_seconds=60, full_batch=5) as committed:
        await until(committed, [1, 2, 3, 4])
        await asyncio.sleep(0.1)
        assert await committed() == [1, 2, 3, 4]  # the fifth waits a minute


async def test_a_wake_up_runs_it_before_its_interval(tmp_path: Path) -> None:
    wake = asyncio.Event()
    async with sweeping(tmp_path, lambda _: 0, interval_seconds=60, wake=wake) as committed:
        await until(committed, [1])
        wake.set()
        await until(committed, [1, 2])
        await asyncio.sleep(0.1)
        assert await committed() == [1, 2]  # woken once, run once


async def test_a_failed_run_is_retried_at_the_next_tick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def outcome(run: int) -> int:
        if run == 1:
            raise RuntimeError("a bug")
        return 0

    async with sweeping(tmp_path, outcome, interval_seconds=0.01) as committed:
        for _ in range(300):
            if 2 in await committed():
                break
            await asyncio.sleep(0.01)
        assert (await committed())[0] == 2  # the failed run's write went with it
    assert "test sweep failed" in caplog.text
