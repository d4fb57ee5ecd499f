"""When rounds run (both databases): a change into a quiet market waits for the debounce, so
that a burst goes into one round; changes that arrive while a round runs go into the next
round at once, having waited that round out."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime

import pytest

from wastex_matching.service import MatchingService, ReoptimiseReport
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import QINGSHAN_STEEL, Catalog
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory

from .test_reoptimisation import seed_market
from .test_reoptimiser_lease import FAST, eventually

#: Waits no test sits out: a round that waited for the debounce would come too late.
DEBOUNCE = 30.0


@pytest.fixture
def settings() -> MatchingSettings:
    return MatchingSettings(
        reoptimise_debounce_seconds=DEBOUNCE,
        reoptimise_max_delay_seconds=DEBOUNCE,
        reoptimise_poll_seconds=DEBOUNCE,
    )


async def post_offer(catalog: Catalog, consumer: EventConsumer, ident: str) -> None:
    await catalog.feed(
        consumer, catalog.offer(ident, "steel", "steel-site", QINGSHAN_STEEL, tonnes="10.000")
    )


async def test_a_change_during_a_round_goes_into_the_next_one_at_once(
    service: MatchingService,
    catalog: Catalog,
    consumer: EventConsumer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_market(catalog, consumer)
    original = service._reoptimise_once

    async def round_meanwhile_posted() -> ReoptimiseReport:
        report = await original()
        if report.proposed == 1:  # the seeded offer's round: another arrives as it ends
            await post_offer(catalog, consumer, "slag-2")
        return report

    monkeypatch.setattr(service, "_reoptimise_once", round_meanwhile_posted)
    task = asyncio.create_task(service.run_reoptimiser())
    try:
        # The start-up round (what happened while down needs no debounce), then the next
        # for the offer that came during it, both long before the debounce would end.
        await eventually(lambda: service.totals.rounds >= 2)
        assert service.totals.proposed == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_change_into_a_quiet_market_waits_for_the_debounce(
    service: MatchingService, catalog: Catalog, consumer: EventConsumer
) -> None:
    await seed_market(catalog, consumer)
    task = asyncio.create_task(service.run_reoptimiser())
    try:
        await eventually(lambda: service.totals.rounds == 1)
        await asyncio.sleep(0.2)  # the re-optimiser waits for the next change
        await post_offer(catalog, consumer, "slag-2")
        await asyncio.sleep(0.5)
        assert service.totals.rounds == 1  # still gathering the burst
        assert service.changed.is_set()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_new_day_is_a_new_round_though_nothing_changed(
    uow_factory: UnitOfWorkFactory, catalog: Catalog, consumer: EventConsumer
) -> None:
    # Windows open and close, licences start, last year's matches stop using this year's
    # tonnage: a new day can change the best allocation with no event to say so.
    await seed_market(catalog, consumer)
    day = datetime(2026, 12, 31, 1, tzinfo=UTC)
    service = MatchingService(uow_factory, FAST, clock=lambda: day)
    task = asyncio.create_task(service.run_reoptimiser())
    try:
        await eventually(lambda: service.totals.rounds == 1)
        await asyncio.sleep(0.3)  # polls that find the same market and the same day
        assert service.totals.rounds == 1
        day = datetime(2027, 1, 1, 1, tzinfo=UTC)
        await eventually(lambda: service.processed_day == date(2027, 1, 1))
        assert service.totals.rounds == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
