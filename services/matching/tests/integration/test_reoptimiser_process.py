"""The re-optimiser in a child process (both databases): rounds run there on the service's
database and report back; a killed child is replaced; a child whose service is gone stops
and frees the lease. The child runs on the real clock, so listings here are dated from today."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from wastex_matching.domain.lifecycle import MatchStatus, Party
from wastex_matching.reoptimiser_process import CHANGED_LINE, ReoptimiserProcess, start_child
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import QINGSHAN_STEEL, Catalog, fixed_clock
from wastex_shared.envelope import Envelope
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory
from wastex_shared.storage.lease import Lease

from .test_reoptimisation import seed_market, stored
from .test_reoptimiser_lease import eventually

START = date.today() + timedelta(days=3)
END = START + timedelta(days=60)
#: How long a child may take to start (a fresh interpreter importing the service) and answer.
CHILD_SECONDS = 20.0


def offer(catalog: Catalog, ident: str) -> Envelope:
    return catalog.offer(
        ident, "steel", "steel-site", QINGSHAN_STEEL, available_from=START, available_until=END
    )


@pytest.fixture
def settings(database_url: str) -> MatchingSettings:
    return MatchingSettings(
        database_url=database_url,
        reoptimise_debounce_seconds=0.01,
        reoptimise_poll_seconds=60,  # only the forwarded changes wake the child
    )


@pytest.fixture
def service(uow_factory: UnitOfWorkFactory, settings: MatchingSettings) -> MatchingService:
    """The service process's side: consumers and queries, no rounds of its own."""
    return MatchingService(uow_factory, settings, clock=fixed_clock)


@pytest.fixture
async def rounds(
    settings: MatchingSettings, service: MatchingService, uow_factory: UnitOfWorkFactory
) -> AsyncIterator[ReoptimiserProcess]:
    child = ReoptimiserProcess(settings, service, uow_factory, restart_delay=0.1)
    task = asyncio.create_task(child.run())
    yield child
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.fixture
async def proposed(
    rounds: ReoptimiserProcess,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
) -> None:
    """The market seeded with one offer; the child has proposed it."""
    await seed_market(catalog, consumer, window=(START, END))  # the consumer marks it changed
    await eventually(lambda: service.totals.proposed == 1, CHILD_SECONDS)


@pytest.mark.usefixtures("proposed")
async def test_rounds_run_in_a_child_process_that_reports_to_the_service(
    rounds: ReoptimiserProcess,
    service: MatchingService,
    uow_factory: UnitOfWorkFactory,
    consumer: EventConsumer,
    catalog: Catalog,
) -> None:
    assert rounds.pid is not None
    assert rounds.pid != os.getpid()
    [match] = await stored(service)
    assert (match.offer_id, match.demand_id) == ("slag-1", "cement-demand")
    assert uow_factory.outbox_signal.is_set()  # the relay here was woken for its events
    assert service.totals.rounds >= 1
    assert service.last_report is None  # no round ran in this process

    # The next change reaches the child too.
    await catalog.feed(consumer, offer(catalog, "slag-2"))
    await eventually(lambda: service.totals.proposed == 2, CHILD_SECONDS)
    assert {m.offer_id for m in await stored(service)} == {"slag-1", "slag-2"}


@pytest.mark.usefixtures("proposed")
async def test_a_killed_child_is_replaced_and_the_totals_go_on(
    rounds: ReoptimiserProcess,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
) -> None:
    first = rounds.pid
    assert first is not None
    assert rounds.started == 1
    os.kill(first, signal.SIGKILL)
    await eventually(lambda: rounds.pid not in (None, first), CHILD_SECONDS)
    assert rounds.started == 2  # what /metrics shows

    await catalog.feed(consumer, offer(catalog, "slag-2"))
    # The new child proposes the new offer and keeps the first; the service's totals go on.
    await eventually(lambda: service.totals.proposed == 2, CHILD_SECONDS)
    assert {m.offer_id for m in await stored(service)} == {"slag-1", "slag-2"}


async def test_a_child_stops_when_its_service_is_gone_and_frees_the_lease(
    settings: MatchingSettings, uow_factory: UnitOfWorkFactory
) -> None:
    """The service's end, SIGKILL included, closes the child's stdin: it stops."""
    child = await start_child(settings)
    assert child.stdin is not None
    lease = Lease(uow_factory.engine, "wastex.matching.reoptimiser")
    try:
        # It takes the lease at its first look (`run_reoptimiser` starts with a round).
        async with asyncio.timeout(CHILD_SECONDS):
            while await lease.hold():
                await lease.release()
                # Our look may have been the child's: it then stood by until its next poll
                # (60 s here). A forwarded change makes it look again.
                child.stdin.write(CHANGED_LINE + b"\n")
                await child.stdin.drain()
                await asyncio.sleep(0.05)
        os.kill(child.pid, signal.SIGTERM)  # ignored: a stack's stop signals the whole group
        await asyncio.sleep(0.3)
        assert child.returncode is None
        child.stdin.close()
        assert await asyncio.wait_for(child.wait(), CHILD_SECONDS) == 0
        # Freed with it: PostgreSQL ends the child's session (and its advisory lock) a moment
        # after the process is gone, not at once.
        async with asyncio.timeout(CHILD_SECONDS):
            while not await lease.hold():
                await asyncio.sleep(0.05)
    finally:
        await lease.release()
        if child.returncode is None:
            child.kill()
            await child.wait()


@pytest.mark.usefixtures("proposed")
async def test_a_licence_change_wakes_the_childs_expiry_sweep(
    rounds: ReoptimiserProcess,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
) -> None:
    """The sweep runs in the child: a revocation consumed here must reach it, not wait out
    `expiry_sweep_seconds` (300 s by default)."""
    [match] = await stored(service)
    await service.accept(match.id, Party.SUPPLIER)
    await asyncio.sleep(1.0)  # the child's first sweep is behind it
    revoked = catalog.amended_licence(
        "cement-lic", "cement", ["SW01", "SW02"], 2, revoked_on=date.today()
    )
    await catalog.feed(consumer, revoked)

    async def expired() -> bool:
        record = await service.get(match.id)
        return record is not None and record.status is MatchStatus.EXPIRED

    async with asyncio.timeout(CHILD_SECONDS):
        while not await expired():
            await asyncio.sleep(0.1)
