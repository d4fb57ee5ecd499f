"""A periodic sweep for a service's runtime: run now, then every few seconds or as soon as
something wakes it.

What the clock (not an event) makes due: listings past their window, shipments a
revocation cut. A change must leave as an event, so a sweep writes through the outbox in
units of work of its own, not a filter on read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from wastex_shared.storage.failures import transient

log = logging.getLogger(__name__)


def periodic_sweep(
    sweep: Callable[[], Awaitable[int]],
    *,
    name: str,
    interval_seconds: float,
    full_batch: int | None = None,
    wake: asyncio.Event | None = None,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background task running `sweep` (which commits what it changes and returns how
    many things that was) now and every `interval_seconds`, sooner when `wake` is set; at
    once again when it changed `full_batch` or more (there may be more due)."""

    async def run() -> None:
        while True:
            try:
                changed = await sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A failed sweep is retried at the next tick, never fatal; a database away
                # is no bug (its traceback every tick would bury the one that is).
                if transient(exc):
                    log.warning("%s failed (%s); again in %.0f s", name, exc, interval_seconds)
                else:
                    log.exception("%s failed", name)
                changed = 0
            if changed:
                log.info("%s: %d changed", name, changed)
            if full_batch is None or changed < full_batch:
                await _pause(interval_seconds, wake)

    run.__name__ = name.replace(" ", "-")
    return run


async def _pause(seconds: float, wake: asyncio.Event | None) -> None:
    if wake is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), seconds)
    wake.clear()
