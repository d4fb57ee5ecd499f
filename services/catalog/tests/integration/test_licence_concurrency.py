"""A licence change and a demand posting of one enterprise at the same moment, on both
databases: the change waits for the posting (or the posting for the change), so no demand
slips onto the market under a licence revoked meanwhile."""

from __future__ import annotations

import asyncio

from wastex_catalog.service import CatalogService, PostDemand, RevokeLicence
from wastex_catalog.testing import ADMIN, DEMAND, DISTRICTS, WINDOW, Api, build_world
from wastex_shared.storage import UnitOfWorkFactory


async def test_a_demand_posted_while_its_licence_is_revoked_does_not_stay_on_the_market(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    world = await build_world(api)
    service = CatalogService(districts=DISTRICTS)

    async def revoke() -> None:
        async with uow_factory() as uow:
            await service.revoke_licence(
                uow, RevokeLicence(licence_id=world.licence, reason="吊销")
            )
            await uow.commit()

    async with uow_factory() as posting:
        posted = await service.post_demand(
            posting,
            PostDemand(
                site_id=world.cement_site,
                waste_codes=["SW01"],
                quantity_tonnes="5",
                max_distance_km="50",
                available_from=WINDOW["availableFrom"],
                available_until=WINDOW["availableUntil"],
            ),
            owner=world.cement,
        )
        revoking = asyncio.create_task(revoke())
        await asyncio.sleep(0.5)
        assert not revoking.done()  # it waits for the posting's lock on the licence holder
        await posting.commit()
    await asyncio.wait_for(revoking, 30)

    demand = (await api.as_(ADMIN).data(DEMAND, id=posted.entity.id))["demand"]
    assert demand["status"] == "EXPIRED"  # the revocation saw it and took it off the market
