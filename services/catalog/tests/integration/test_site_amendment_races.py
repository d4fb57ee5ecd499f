"""A site amendment against the other transactions that lock listings (helper-47)
(PostgreSQL only: SQLite has one writer at a time)."""

from __future__ import annotations

import asyncio

import pytest

from wastex_catalog.matches import apply_match_event
from wastex_catalog.service import AmendSite, CatalogService
from wastex_catalog.testing import DISTRICTS, Api, build_world
from wastex_shared.events.matching import MatchAccepted
from wastex_shared.storage import UnitOfWorkFactory

from .test_match_allocation import facts


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "change",
    [{"district": "洪山区"}, {"latitude": "30.7", "longitude": "114.5"}],
    ids=["district", "place"],
)
async def test_a_lifecycle_batch_and_a_site_amendment_do_not_deadlock(
    uow_factory: UnitOfWorkFactory, api: Api, change: dict[str, str]
) -> None:
    """Matching's lifecycle consumer applies a batch in one transaction: two acceptances of
    two offers at one site lock those offers in the batch's order (not the register first:
    it reads no site). An admin moving the site to another district meanwhile takes the
    register, then every listing at the site in the table's order."""
    world = await build_world(api)
    second = await api.post_offer(world.steel, world.steel_site)  # stored after world.offer
    service = CatalogService(districts=DISTRICTS)
    outcome: dict[str, BaseException | None] = {}

    async def amendment() -> None:
        try:
            async with uow_factory() as uow:
                moved = AmendSite(world.steel_site, "wrong", **change)
                await service.amend_site(uow, moved)
                await uow.commit()
            outcome["amendment"] = None
        except Exception as exc:
            outcome["amendment"] = exc

    try:
        async with uow_factory() as uow:
            # The batch's first message: an acceptance of the second offer.
            accepted = facts(world, MatchAccepted, "m-2", "5", offer_id=second)
            await apply_match_event(uow, "matching.match-accepted", accepted)
            amending = asyncio.create_task(amendment())
            await asyncio.sleep(0.5)  # the amendment locks world.offer, waits for `second`
            # The batch's next message: an acceptance of the first offer.
            await apply_match_event(
                uow, "matching.match-accepted", facts(world, MatchAccepted, "m-1", "5")
            )
            await uow.commit()
        outcome["batch"] = None
    except Exception as exc:
        outcome["batch"] = exc
    await amending
    assert outcome == {"amendment": None, "batch": None}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_offer_expired_while_its_site_is_moved_is_not_republished_as_amended(
    uow_factory: UnitOfWorkFactory, api: Api
) -> None:
    """The expiry sweep reads no site and takes no register: it may expire an offer at the
    site between the amendment's read of the live listings and its lock of them."""
    from wastex_catalog.expiry import expire_due
    from wastex_catalog.testing import WINDOW_OVER, outbox_events

    world = await build_world(api)
    service = CatalogService(districts=DISTRICTS)
    async with uow_factory() as sweep:
        assert await expire_due(sweep, WINDOW_OVER) == 2  # the offer and the demand
        amending = asyncio.create_task(_move(uow_factory, service, world.steel_site))
        await asyncio.sleep(0.5)  # it read the offer as live, and waits for its lock
        await sweep.commit()
    await amending
    amended = [
        event.data
        for topic, _, event in await outbox_events(uow_factory)
        if topic == "catalog.offer-amended.v1"
    ]
    # An expired offer is off the market: the amendment publishes only live listings.
    assert [(a["offerId"], a["status"]) for a in amended] == []


async def _move(uow_factory: UnitOfWorkFactory, service: CatalogService, site_id: str) -> None:
    async with uow_factory() as uow:
        moved = AmendSite(
            site_id, "the pin was on the old gate", latitude="30.7", longitude="114.5"
        )
        await service.amend_site(uow, moved)
        await uow.commit()
