"""Use case: offers and demands whose availability window is over become EXPIRED (and
demands whose licences stopped covering them before that: `Demand.licensed_until`, or the
days after a lapse they wait for a renewal, `Demand.awaits_renewal_until`, decision 034).

Run by a periodic sweep (a runtime background task), not on read: the change must leave
as an offer-updated / demand-updated event so matching stops proposing it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.matches import publish_update
from wastex_shared.envelope import utcnow
from wastex_shared.storage import UnitOfWork, UnitOfWorkFactory, periodic_sweep


async def expire_due(uow: UnitOfWork, today: date, limit: int = 200) -> int:
    """Expire up to `limit` offers and up to `limit` demands due on `today`; returns how many."""
    repository = CatalogRepository(uow.session)
    await repository.hold_sites()  # the lock order: the sites' count, then listings
    expired = 0
    now = utcnow()
    for ids, load in (
        (await repository.due_to_expire("offers", today, limit), repository.offers),
        (await repository.due_to_expire("demands", today, limit), repository.demands),
    ):
        for stored in (await load(ids, for_update=True)).values():
            listing = stored.entity.expire_if_due(today)
            if listing is stored.entity:
                continue  # changed under us since the query: nothing to do
            version = await repository.save_listing(listing, now)
            await publish_update(uow, listing, version, listing.expiry_reason)
            expired += 1
    return expired


def expiry_sweeper(
    uow_factory: UnitOfWorkFactory,
    today: Callable[[], date],
    interval_seconds: float,
    batch: int = 200,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background task for the runtime: sweep now, then every `interval_seconds`."""

    async def sweep() -> int:
        async with uow_factory() as uow:
            expired = await expire_due(uow, today(), batch)
            await uow.commit()
        return expired

    return periodic_sweep(
        sweep,
        name="expiry sweep",
        interval_seconds=interval_seconds,
        full_batch=batch,
    )
