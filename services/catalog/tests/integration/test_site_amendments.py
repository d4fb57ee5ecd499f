"""A site's enterprise or an admin corrects its name, district or coordinates (decision 026):
checked as an addition is, refused as a typed user error when not allowed or invalid, kept
as a version with why and by whom, published whole as `catalog.site-amended`, and its live
offers and demands published again from where it now lies. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from wastex_catalog.adapters.tables import messaging
from wastex_catalog.service import AmendSite, CatalogService, PostOffer
from wastex_catalog.testing import (
    ADMIN,
    DISTRICTS,
    WINDOW,
    Api,
    build_world,
    outbox_events,
    token,
)
from wastex_shared.auth import Role
from wastex_shared.storage import UnitOfWorkFactory, make_engine

AMEND_SITE = """
mutation($id: ID!, $input: AmendSiteInput!) {
  amendSite(id: $id, input: $input) {
    site { id name district latitude longitude version }
    userErrors { field message code }
  }
}"""
SITE = """
query($id: ID!) {
  site(id: $id) {
    district latitude version
    history { version reason changedBy name district latitude longitude }
  }
}"""
OFFERS_IN = """
query($district: String!) { offers(filter: {district: $district}) { edges { node { id } } } }"""
WITHDRAW_OFFER = """
mutation($id: ID!) { withdrawOffer(id: $id) { offer { id } userErrors { code } } }"""


NEW_PLACE = (Decimal("30.6512"), Decimal("114.4277"))


def place(facts: dict[str, Any]) -> tuple[Decimal, Decimal]:
    return Decimal(facts["latitude"]), Decimal(facts["longitude"])


def slag_at(site_id: str) -> PostOffer:
    return PostOffer(site_id, "SW01", "10", WINDOW["availableFrom"], WINDOW["availableUntil"])


async def amend(api: Api, site_id: str, **given: Any) -> dict[str, Any]:
    body = await api.data(AMEND_SITE, id=site_id, input=given)
    payload: dict[str, Any] = body["amendSite"]
    return payload


async def events_on(uow_factory: UnitOfWorkFactory, topic: str) -> list[dict[str, Any]]:
    return [event.data for found, _, event in await outbox_events(uow_factory) if found == topic]


async def test_an_enterprise_moves_its_site_and_its_live_offers_follow(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    world = await build_world(api)
    gone = await api.post_offer(world.steel, world.steel_site)
    await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=gone)
    steel = api.as_(token(Role.ENTERPRISE, world.steel, subject="steel-ops"))
    payload = await amend(
        steel,
        world.steel_site,
        reason="the pin was on the old gate",
        latitude="30.6512",
        longitude=114.4277,
        name=" slag yard ",
    )
    assert payload["userErrors"] == []
    site = payload["site"]
    assert (site["id"], site["name"], site["district"], site["version"]) == (
        world.steel_site,
        "slag yard",
        "青山区",
        2,
    )
    assert place(site) == NEW_PLACE
    read = (await api.tenant(world.steel).data(SITE, id=world.steel_site))["site"]
    assert [
        (v["version"], v["reason"], v["changedBy"], Decimal(v["latitude"])) for v in read["history"]
    ] == [
        (1, None, world.steel, Decimal("30.64")),  # added by the enterprise's sign-in
        (2, "the pin was on the old gate", "steel-ops", NEW_PLACE[0]),
    ]
    [site_amended] = await events_on(uow_factory, "catalog.site-amended.v1")
    assert site_amended["version"] == 2
    assert place(site_amended) == NEW_PLACE
    assert site_amended["reason"] == "the pin was on the old gate"
    assert site_amended["enterpriseDistrict"] == "青山区"
    # The live offer is published again from the new place; the withdrawn one is not.
    [offer_amended] = await events_on(uow_factory, "catalog.offer-amended.v1")
    assert offer_amended["offerId"] == world.offer
    assert offer_amended["changed"] == ["site"]
    assert place(offer_amended) == NEW_PLACE
    assert offer_amended["version"] == 2


async def test_an_admin_moves_a_site_to_another_district_and_its_listings_with_it(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    world = await build_world(api)
    payload = await amend(
        api.as_(ADMIN), world.cement_site, reason="wrong district", district="洪山区"
    )
    assert payload["userErrors"] == []
    [demand_amended] = await events_on(uow_factory, "catalog.demand-amended.v1")
    assert demand_amended["district"] == "洪山区"
    # Listings copy their site's district for regulators' scopes: the new district's
    # regulator sees the demand, the old one's no longer does.
    hongshan = api.as_(token(Role.REGULATOR, district="洪山区"))
    jiangxia = api.as_(token(Role.REGULATOR, district="江夏区"))
    assert (await hongshan.data(SITE, id=world.cement_site))["site"]["district"] == "洪山区"
    assert await jiangxia.error_code(SITE, id=world.cement_site) == "NOT_AUTHORIZED"


async def test_what_may_not_be_amended_is_a_typed_user_error(api: Api) -> None:
    world = await build_world(api)
    steel = api.tenant(world.steel)
    cases: list[tuple[Api, str, dict[str, Any], str, str]] = [
        (steel, world.steel_site, {"district": "洪山区"}, "NOT_AUTHORIZED", "district"),
        (steel, world.cement_site, {"name": "mine now"}, "NOT_AUTHORIZED", "id"),
        (steel, "site-nowhere", {"name": "x"}, "NOT_FOUND", "id"),
        (steel, world.steel_site, {"latitude": "30.7"}, "INVALID_COORDINATES", "longitude"),
        (
            steel,
            world.steel_site,
            {"latitude": "91", "longitude": "114"},
            "INVALID_COORDINATES",
            "latitude",
        ),
        (steel, world.steel_site, {"district": "青山"}, "UNKNOWN_DISTRICT", "district"),
        (steel, world.steel_site, {"name": "main works"}, "NOTHING_TO_AMEND", "input"),
        (
            steel,
            world.steel_site,
            {"latitude": "30.64", "longitude": "114.41"},
            "NOTHING_TO_AMEND",
            "input",
        ),
        (
            api.as_(token(Role.REGULATOR, district="*")),
            world.steel_site,
            {"name": "x"},
            "NOT_AUTHORIZED",
            "id",
        ),
        (api.as_(None), world.steel_site, {"name": "x"}, "NOT_AUTHORIZED", "id"),
    ]
    for caller, site_id, given, code, field in cases:
        payload = await amend(caller, site_id, reason="correction", **given)
        assert payload["site"] is None, given
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], given
    blank = await amend(steel, world.steel_site, reason="  ", name="yard")
    assert [e["code"] for e in blank["userErrors"]] == ["REQUIRED_FIELD"]


async def test_a_process_that_kept_the_site_posts_from_where_it_now_lies(
    uow_factory: UnitOfWorkFactory, database_url: str, api: Api
) -> None:
    # Each catalog process keeps the sites it has read. Another process (its own engine on
    # the same database) amends the site: the first then posts from the new place.
    world = await build_world(api)
    service = CatalogService(districts=DISTRICTS)
    other = UnitOfWorkFactory(make_engine(database_url), messaging)
    try:
        async with other() as uow:
            await service.amend_site(
                uow,
                AmendSite(world.steel_site, "moved", latitude="30.7", longitude="114.5"),
            )
            await uow.commit()
    finally:
        await other.engine.dispose()
    async with uow_factory() as uow:
        await service.post_offer(uow, slag_at(world.steel_site), owner=world.steel)
        await uow.commit()
    posted = await events_on(uow_factory, "catalog.offer-posted.v1")
    assert place(posted[-1]) == (Decimal("30.7"), Decimal("114.5"))


# SQLite has one writer at a time: there the two cannot overlap.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_offer_posted_while_its_site_is_amended_waits_and_takes_the_new_place(
    uow_factory: UnitOfWorkFactory, api: Api
) -> None:
    world = await build_world(api)
    service = CatalogService(districts=DISTRICTS)
    amended, go_on = asyncio.Event(), asyncio.Event()

    async def amendment() -> None:
        async with uow_factory() as uow:
            moved = AmendSite(world.steel_site, "moved", latitude="30.7", longitude="114.5")
            await service.amend_site(uow, moved)
            amended.set()
            await go_on.wait()
            await uow.commit()

    async def posting() -> None:
        async with uow_factory() as uow:
            await service.post_offer(uow, slag_at(world.steel_site), owner=world.steel)
            await uow.commit()

    amending = asyncio.create_task(amendment())
    await amended.wait()
    posted = asyncio.create_task(posting())
    await asyncio.sleep(0.3)  # the posting reads the site now, or waits for the amendment
    go_on.set()
    await asyncio.gather(amending, posted)
    offers = await events_on(uow_factory, "catalog.offer-posted.v1")
    assert place(offers[-1]) == (Decimal("30.7"), Decimal("114.5"))


async def test_a_site_only_renamed_does_not_publish_its_listings_again(
    api: Api, uow_factory: UnitOfWorkFactory
) -> None:
    # helper-47: listings' facts carry the site's district and place, not its name; each
    # published again was a new version matching re-planned the whole market for.
    world = await build_world(api)
    payload = await amend(api.as_(ADMIN), world.steel_site, reason="typo", name="slag yard")
    assert payload["userErrors"] == []
    topics = [topic for topic, _, _ in await outbox_events(uow_factory)]
    assert "catalog.site-amended.v1" in topics
    assert "catalog.offer-amended.v1" not in topics


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_mutation_the_database_aborts_for_a_concurrent_one_is_run_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # helper-47: a site amendment and a lifecycle batch could deadlock; whatever still
    # does (a serialization failure too) is tried again: nothing of the aborted try was kept.
    world = await build_world(api)
    amend_site = CatalogService.amend_site
    tries: list[int] = []

    async def aborted_once(self: CatalogService, uow: Any, command: AmendSite) -> Any:
        tries.append(1)
        if len(tries) == 1:
            raise DBAPIError("UPDATE site_register …", {}, _Deadlock())
        return await amend_site(self, uow, command)

    monkeypatch.setattr(CatalogService, "amend_site", aborted_once)
    payload = await amend(api.as_(ADMIN), world.steel_site, reason="again", name="yard")
    assert (payload["userErrors"], len(tries)) == ([], 2)

    async def aborted_always(self: CatalogService, uow: Any, command: AmendSite) -> Any:
        raise DBAPIError("UPDATE site_register …", {}, _Deadlock())

    monkeypatch.setattr(CatalogService, "amend_site", aborted_always)
    body = await api.as_(ADMIN).execute(
        AMEND_SITE, id=world.steel_site, input={"reason": "again", "name": "depot"}
    )
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
