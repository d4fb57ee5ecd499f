"""When to re-optimise a quiet market: after a quiet moment, or once the oldest change has
waited long enough, so that a burst goes into one round.

The wait is counted from the oldest change no round has started on yet. Changes that arrive
while a round runs do not wait at all: the round gathered them, and the re-optimiser starts
the next one at once (`MatchingService.run_reoptimiser`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class MarketChanges:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._event = asyncio.Event()
        #: When the oldest change not yet taken by a round arrived (None: nothing pending).
        self._since: float | None = None

    def set(self) -> None:
        if self._since is None:
            self._since = self._clock()
        self._event.set()

    def is_set(self) -> bool:
        return self._since is not None

    async def wait(self) -> None:
        await self._event.wait()

    def take(self) -> None:
        """A round starts: every change so far is in it."""
        self._since = None
        self._event.clear()

    async def settle(self, quiet: float, longest: float) -> None:
        """Return after `quiet` seconds without a change, or once the oldest pending change is
        `longest` seconds old; at once when nothing is pending."""
        while self._since is not None:
            left = self._since + longest - self._clock()
            if left <= 0:
                return
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), min(quiet, left))
            except TimeoutError:
                return
