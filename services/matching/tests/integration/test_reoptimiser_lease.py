"""One re-optimiser per database: of two processes sharing it, one runs the rounds and the
other stands by until the first stops (both databases)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable

import pytest

from wastex_matching.adapters.tables import messaging
from wastex_matching.service import CONFLICT, MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import Catalog, fixed_clock
from wastex_shared.errors import DomainError
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


async def test_only_the_process_holding_the_lease_sweeps_expired_matches(
    database_url: str, uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = FAST.model_copy(update={"expiry_sweep_seconds": 0.02})
    other_engine = make_engine(database_url)
    services = [
        MatchingService(uow_factory, settings, clock=fixed_clock),
        MatchingService(UnitOfWorkFactory(other_engine, messaging), settings, clock=fixed_clock),
    ]
    sweeps = [0, 0]
    for k, service in enumerate(services):

        async def counted(k: int = k) -> int:
            sweeps[k] += 1
            return 0

        monkeypatch.setattr(service, "expire_due", counted)
    first, second = services
    tasks = [asyncio.create_task(first.run_reoptimiser())]
    try:
        await eventually(lambda: first.leading is True)
        tasks += [
            asyncio.create_task(second.run_reoptimiser()),
            asyncio.create_task(first.run_expiry_sweeper()),
            asyncio.create_task(second.run_expiry_sweeper()),
        ]
        await eventually(lambda: second.leading is False)
        await asyncio.sleep(0.3)
        assert sweeps[0] >= 3
        assert sweeps[1] == 0  # standing by: it does not race the leader for the rows

        tasks[0].cancel()  # the leader stops; the other takes the lease, and the sweeping
        await eventually(lambda: second.leading is True)
        await eventually(lambda: sweeps[1] >= 3)
        swept = sweeps[0]
        await asyncio.sleep(0.1)
        assert sweeps[0] == swept  # without the lease it sweeps no more
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await other_engine.dispose()


async def test_a_licence_change_sweeps_at_once_not_at_the_next_period(
    uow_factory: UnitOfWorkFactory,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = FAST.model_copy(update={"expiry_sweep_seconds": 3600.0})
    service = MatchingService(uow_factory, settings, clock=fixed_clock)
    licence_consumer = EventConsumer(settings.service, uow_factory, service.handlers())
    sweeps = 0

    async def counted() -> int:
        nonlocal sweeps
        sweeps += 1
        return 0

    monkeypatch.setattr(service, "expire_due", counted)
    tasks = [asyncio.create_task(service.run_reoptimiser())]
    try:
        await eventually(lambda: service.leading is True)
        tasks.append(asyncio.create_task(service.run_expiry_sweeper()))
        await eventually(lambda: sweeps == 1)  # the first sweep, then an hour's wait
        await catalog.feed(
            licence_consumer,
            catalog.enterprise("cement", "Jiangxia Cement", "江夏区"),
            catalog.amended_licence("lic", "cement", ["SW02"], 2),
        )
        await eventually(lambda: sweeps == 2, seconds=5)
        await asyncio.sleep(0.1)
        assert sweeps == 2
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_sweep_that_met_a_change_sweeps_again_soon_not_at_the_next_period(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep is one transaction: a party acting on one due match meanwhile (CONFLICT)
    leaves every due match open. It sweeps again within seconds, and a sweep that keeps
    failing backs off (1 s, 2 s, … up to the period) rather than spinning."""
    settings = FAST.model_copy(update={"expiry_sweep_seconds": 3600.0})
    service = MatchingService(uow_factory, settings, clock=fixed_clock)
    sweeps: list[float] = []
    failing = 3

    async def conflicted() -> int:
        sweeps.append(time.monotonic())
        if len(sweeps) <= failing:
            raise DomainError(CONFLICT, "match m changed meanwhile; read it again and retry")
        return 1

    monkeypatch.setattr(service, "expire_due", conflicted)
    tasks = [asyncio.create_task(service.run_reoptimiser())]
    try:
        await eventually(lambda: service.leading is True)
        tasks.append(asyncio.create_task(service.run_expiry_sweeper()))
        await eventually(lambda: len(sweeps) == failing + 1, seconds=15)
        gaps = [later - earlier for earlier, later in itertools.pairwise(sweeps)]
        assert 0.9 < gaps[0] < 3  # soon, not the hour
        assert gaps[1] > 1.5 * gaps[0]  # backing off
        assert gaps[2] > 1.5 * gaps[1]
        await asyncio.sleep(0.5)
        assert len(sweeps) == failing + 1  # then the period again
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
