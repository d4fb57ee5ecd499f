"""The re-optimiser's wait: a quiet moment, or the oldest change's maximum delay."""

from __future__ import annotations

import asyncio

from wastex_matching.changes import MarketChanges


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_nothing_pending_means_no_wait() -> None:
    changes = MarketChanges()
    assert not changes.is_set()
    await asyncio.wait_for(changes.settle(quiet=30, longest=30), timeout=5)


async def test_a_change_that_already_waited_its_longest_goes_at_once() -> None:
    clock = FakeClock()
    changes = MarketChanges(clock)
    changes.set()
    clock.now += 1.0  # e.g. it arrived while a round was running
    changes.set()  # later changes do not restart the count
    await asyncio.wait_for(changes.settle(quiet=30, longest=0.25), timeout=5)
    assert changes.is_set()
    changes.take()
    assert not changes.is_set()


async def test_a_quiet_moment_ends_the_wait_before_the_longest() -> None:
    changes = MarketChanges()
    changes.set()
    await asyncio.wait_for(changes.settle(quiet=0.01, longest=30), timeout=5)


async def test_a_steady_feed_waits_no_longer_than_the_longest() -> None:
    changes = MarketChanges()

    async def feed() -> None:
        while True:
            changes.set()
            await asyncio.sleep(0.005)

    feeder = asyncio.create_task(feed())
    try:
        await asyncio.wait_for(changes.settle(quiet=1.0, longest=0.05), timeout=5)
    finally:
        feeder.cancel()


async def test_changes_after_a_round_starts_count_from_their_own_arrival() -> None:
    clock = FakeClock()
    changes = MarketChanges(clock)
    changes.set()
    clock.now += 10
    changes.take()
    changes.set()  # arrives during the round: waits from now, not from the first change
    settle = asyncio.create_task(changes.settle(quiet=30, longest=20))
    await asyncio.sleep(0.05)
    assert not settle.done()
    settle.cancel()
