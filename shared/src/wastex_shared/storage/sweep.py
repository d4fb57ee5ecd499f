"""A periodic sweep: one unit of work now, then every few seconds, for a service's runtime.

What the clock (not an event) makes due: listings past their window, shipments a
revocation cut. A change must leave as an event, so it is a write through the outbox, not
a filter on read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from wastex_shared.storage.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


def periodic_sweep(
    uow_factory: UnitOfWorkFactory,
    sweep: Callable[[UnitOfWork], Awaitable[int]],
    *,
    name: str,
    interval_seconds: float,
    full_batch: int | None = None,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background task running `sweep` (which returns how many things it changed) in a
    committed unit of work now and every `interval_seconds`; at once again when it changed
    `full_batch` or more (there may be more due)."""

    async def run() -> None:
        while True:
            try:
                async with uow_factory() as uow:
                    changed = await sweep(uow)
                    await uow.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A failed sweep (database away) is retried at the next tick, never fatal.
                log.exception("%s failed", name)
                changed = 0
            if changed:
                log.info("%s: %d changed", name, changed)
            if full_batch is None or changed < full_batch:
                await asyncio.sleep(interval_seconds)

    run.__name__ = name.replace(" ", "-")
    return run
