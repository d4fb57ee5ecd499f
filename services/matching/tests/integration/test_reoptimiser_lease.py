"""One re-optimiser per database: of two processes sharing it, one runs the rounds and the
other stands by until the first stops (both databases)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from wastex_matching.adapters.tables import messaging
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import Catalog, fixed_clock
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory, make_engine

from .test_reoptimisation import seed_market, stored

FAST = MatchingSettings(reoptimise_poll_seconds=0.05, reoptimise_debounce_seconds=0.01)


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_second_process_stands_by_and_takes_over_when_the_first_stops(
    database_url: str,
    uow_factory: UnitOfWorkFactory,
    consumer: EventConsumer,
    catalog: Catalog,
) -> None:
    first = MatchingService(uow_factory, FAST, clock=fixed_clock)
    other_engine = make_engine(database_url)  # the second process's own engine
    second = MatchingService(UnitOfWorkFactory(other_engine, messaging), FAST, clock=fixed_clock)
    await seed_market(catalog, consumer)
    leader = asyncio.create_task(first.run_reoptimiser())
    try:
        await eventually(lambda: first.last_report is not None)
        standby = asyncio.create_task(second.run_reoptimiser())
        try:
            await asyncio.sleep(0.3)  # several of its polls
            assert second.last_report is None  # it never ran a round beside the leader
            assert first.last_report is not None
            assert first.last_report.proposed == 1

            leader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leader
            await eventually(lambda: second.last_report is not None)
            # It starts from what the leader left: the proposal is kept, not re-announced.
            assert second.last_report is not None
            assert (second.last_report.proposed, second.last_report.kept) == (0, 1)
            assert len(await stored(second)) == 1
        finally:
            standby.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await standby
    finally:
        leader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leader
        await other_engine.dispose()
