"""`wastex replay catalog`: the allocations learned from matching's topics are rebuilt from
offset 0 and come out equal, even after the read model was lost."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import delete

from wastex_catalog.adapters.tables import MATCH_ALLOCATIONS
from wastex_catalog.expiry import expire_due
from wastex_catalog.replay import replay
from wastex_catalog.settings import CatalogSettings
from wastex_catalog.testing import (
    ADMIN,
    AMEND_LICENCE,
    DATES,
    DEMAND,
    OFFER,
    WINDOW_OVER,
    WITHDRAW_DEMAND,
    WITHDRAW_OFFER,
    Api,
    World,
    build_world,
    running_catalog,
)
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError
from wastex_shared.events.matching import (
    MatchAccepted,
    MatchCancelled,
    MatchConfirmed,
    MatchFacts,
    MatchRejected,
    MatchShipped,
    MatchSuperseded,
)
from wastex_shared.storage import UnitOfWorkFactory

TOPICS = {
    MatchAccepted: "matching.match-accepted",
    MatchConfirmed: "matching.match-confirmed",
    MatchRejected: "matching.match-rejected",
    MatchSuperseded: "matching.match-superseded",
    MatchCancelled: "matching.match-cancelled",
    MatchShipped: "matching.match-shipped",
}


async def supplier_accepts_forty_tonnes(
    kafka_bootstrap: str, world: World, schema_version: int = 1
) -> str:
    """matching.match-accepted of 40 t of the world's offer for its demand, on the broker;
    the match's id."""
    match_id = f"m-{uuid.uuid4()}"
    accepted = MatchAccepted(
        match_id=match_id,
        offer_id=world.offer,
        demand_id=world.demand,
        supplier_enterprise_id=world.steel,
        supplier_site_id=world.steel_site,
        recycler_enterprise_id=world.cement,
        recycler_site_id=world.cement_site,
        waste_code="SW01",
        tonnes="40.000",
        distance_km="31.4",
        co2e_kg="100",
        freight_factor_key="road",
        freight_factor_kg_per_tkm="0.078",
        status="ACCEPTED_BY_SUPPLIER",
        accepted_by="SUPPLIER",
    )
    event = Envelope.new(
        "matching.match-accepted", "matching", match_id, accepted, schema_version=schema_version
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            "matching.match-accepted.v1", event.to_json(), key=event.key.encode()
        )
    finally:
        await producer.stop()
    return match_id


async def listing_state(api: Api) -> dict[str, tuple[str, str]]:
    data = await api.as_(ADMIN).data(
        "query { offers(first: 100) { edges { node { id status remainingTonnes } } }"
        " demands(first: 100) { edges { node { id status remainingTonnes } } } }"
    )
    return {
        edge["node"]["id"]: (edge["node"]["status"], edge["node"]["remainingTonnes"])
        for kind in ("offers", "demands")
        for edge in data[kind]["edges"]
    }


async def test_replay_rebuilds_the_allocations_from_the_matching_topics(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, uow_factory: UnitOfWorkFactory
) -> None:
    settings = CatalogSettings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path
    )
    async with running_catalog(settings) as api:
        world = await build_world(api)  # offer 120.500 t, demand 500.000 t
        second_offer = await api.post_offer(world.steel, world.steel_site, tonnes="60.000")
        second_demand = await api.post_demand(world.cement, world.cement_site, tonnes="30.000")
        third_offer = await api.post_offer(world.steel, world.steel_site, tonnes="40.000")
        fourth_offer = await api.post_offer(world.steel, world.steel_site, tonnes="50.000")

        def fact(
            kind: type[MatchFacts], tonnes: str, offer: str, demand: str, shipped: str = ""
        ) -> Envelope:
            extra: dict[str, str] = {}
            if kind is MatchAccepted:
                extra["accepted_by"] = "SUPPLIER"
            if kind is MatchRejected:
                extra |= {"rejected_by": "RECYCLER", "reason": "quality"}
            if kind is MatchCancelled:
                extra |= {"cancelled_by": "SUPPLIER", "reason": "slag sold elsewhere"}
            if kind is MatchShipped:
                extra |= {"shipped_tonnes": shipped, "released_tonnes": "20.000"}
            data = kind(
                match_id=match_ids[(offer, demand)],
                offer_id=offer,
                demand_id=demand,
                supplier_enterprise_id=world.steel,
                supplier_site_id=world.steel_site,
                recycler_enterprise_id=world.cement,
                recycler_site_id=world.cement_site,
                waste_code="SW01",
                tonnes=tonnes,
                distance_km="31.4",
                co2e_kg="100",
                freight_factor_key="road",
                freight_factor_kg_per_tkm="0.078",
                status="X",
                **extra,
            )
            return Envelope.new(TOPICS[kind], "matching", data.match_id, data)

        match_ids = {
            (world.offer, world.demand): f"m-{uuid.uuid4()}",
            (second_offer, world.demand): f"m-{uuid.uuid4()}",
            (world.offer, second_demand): f"m-{uuid.uuid4()}",
            (third_offer, world.demand): f"m-{uuid.uuid4()}",
            (fourth_offer, world.demand): f"m-{uuid.uuid4()}",
        }
        lifecycle = [
            fact(MatchAccepted, "100.000", world.offer, world.demand),
            fact(MatchConfirmed, "100.000", world.offer, world.demand),
            fact(MatchAccepted, "60.000", second_offer, world.demand),
            fact(MatchRejected, "60.000", second_offer, world.demand),
            fact(MatchSuperseded, "20.500", world.offer, second_demand),
            # Confirmed, then its shipment called off in the ledger: it gives the 40 t back.
            fact(MatchAccepted, "40.000", third_offer, world.demand),
            fact(MatchConfirmed, "40.000", third_offer, world.demand),
            fact(MatchCancelled, "40.000", third_offer, world.demand),
            # Confirmed at 50 t, its lorry left with 30 t: it gives 20 t back (decision 032),
            # once though told twice (a re-driven event has another id).
            fact(MatchAccepted, "50.000", fourth_offer, world.demand),
            fact(MatchConfirmed, "50.000", fourth_offer, world.demand),
            fact(MatchShipped, "50.000", fourth_offer, world.demand, shipped="30.000"),
            fact(MatchShipped, "50.000", fourth_offer, world.demand, shipped="30.000"),
        ]
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for event in lifecycle:
                await producer.send_and_wait(
                    f"{event.type}.v1", event.to_json(), key=event.key.encode()
                )
        finally:
            await producer.stop()

        expected = {
            world.offer: ("PARTIALLY_MATCHED", "20.500"),
            world.demand: ("PARTIALLY_MATCHED", "370.000"),
            second_offer: ("OPEN", "60.000"),
            second_demand: ("WITHDRAWN", "30.000"),
            third_offer: ("OPEN", "40.000"),
            fourth_offer: ("PARTIALLY_MATCHED", "20.000"),
        }
        await api.tenant(world.cement).mutate(WITHDRAW_DEMAND, "withdrawDemand", id=second_demand)
        async with asyncio.timeout(90):
            while await listing_state(api) != expected:
                await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # let the consumer go idle
        before = await listing_state(api)
        assert before == expected

    async with uow_factory() as uow:  # the read model is lost
        await uow.session.execute(delete(MATCH_ALLOCATIONS))
        await uow.commit()

    report = await replay(settings)
    assert report

    async with running_catalog(settings) as api:
        assert await listing_state(api) == before
        admin = api.as_(ADMIN)
        offer = (await admin.data(OFFER, id=world.offer))["offer"]
        assert offer["remainingTonnes"] == "20.500"
        demand = (await admin.data(DEMAND, id=world.demand))["demand"]
        assert demand["remainingTonnes"] == "370.000"
        fourth = (await admin.data(OFFER, id=fourth_offer))["offer"]
        assert fourth["remainingTonnes"] == "20.000"


async def test_replay_keeps_the_tonnes_held_on_listings_withdrawn_or_expired_since(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, uow_factory: UnitOfWorkFactory
) -> None:
    """A match accepted while its offer was open keeps its tonnes after the owner withdraws
    the rest (or the window ends): replaying history must not refuse it then."""
    settings = CatalogSettings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path
    )
    async with running_catalog(settings) as api:
        world = await forty_tonnes_held(api, kafka_bootstrap)
        await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=world.offer)
        async with uow_factory() as uow:  # the demand's window ends
            await expire_due(uow, WINDOW_OVER)
            await uow.commit()
        before = await matched(api, world)
        assert before == {
            world.offer: ("WITHDRAWN", "40.000"),
            world.demand: ("EXPIRED", "40.000"),
        }

    await replay(settings)

    async with running_catalog(settings) as api:
        assert await matched(api, world) == before


async def test_replay_keeps_a_demand_waiting_for_its_renewal(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, uow_factory: UnitOfWorkFactory
) -> None:
    """A demand whose licence ran out on its term waits for a renewal with its matched
    tonnes (decision 034): the replay rebuilds those and leaves the wait as it was, so the
    sweep ends it on the same day."""
    settings = CatalogSettings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path
    )
    # Its licence cut to the end of the window's first month: it waits seven days more.
    licensed_until = date.fromisoformat(DATES.window(1)[1])
    renewal_due = licensed_until + timedelta(days=7)
    waiting = ("PARTIALLY_MATCHED", "40.000", licensed_until.isoformat(), renewal_due.isoformat())
    async with running_catalog(settings) as api:
        world = await forty_tonnes_held(api, kafka_bootstrap)
        await api.as_(ADMIN).mutate(
            AMEND_LICENCE,
            "amendLicence",
            id=world.licence,
            input={
                "reason": "the certificate runs short",
                "validUntil": licensed_until.isoformat(),
            },
        )
        assert await licensing(api, world) == waiting

    await replay(settings)

    async with running_catalog(settings) as api:
        assert await licensing(api, world) == waiting
        async with uow_factory() as uow:
            assert await expire_due(uow, renewal_due) == 0
            assert await expire_due(uow, renewal_due + timedelta(days=1)) == 1
            await uow.commit()


async def licensing(api: Api, world: World) -> tuple[str, str, str, str]:
    query = (
        "query($id: ID!) { demand(id: $id) "
        "{ status matchedTonnes licensedUntil awaitsRenewalUntil } }"
    )
    found = (await api.as_(ADMIN).data(query, id=world.demand))["demand"]
    return (
        found["status"],
        found["matchedTonnes"],
        found["licensedUntil"],
        found["awaitsRenewalUntil"],
    )


async def forty_tonnes_held(api: Api, kafka_bootstrap: str) -> World:
    """The world, its supplier's acceptance of 40 t sent and held on both listings (the
    catalog holds them in one transaction)."""
    world = await build_world(api)
    await supplier_accepts_forty_tonnes(kafka_bootstrap, world)
    async with asyncio.timeout(90):
        while (await matched(api, world))[world.offer] != ("PARTIALLY_MATCHED", "40.000"):
            await asyncio.sleep(0.2)
    return world


async def matched(api: Api, world: World) -> dict[str, tuple[str, str]]:
    admin = api.as_(ADMIN)
    offer = (await admin.data(MATCHED_OFFER, id=world.offer))["offer"]
    demand = (await admin.data(MATCHED_DEMAND, id=world.demand))["demand"]
    return {
        world.offer: (offer["status"], offer["matchedTonnes"]),
        world.demand: (demand["status"], demand["matchedTonnes"]),
    }


MATCHED_OFFER = "query($id: ID!) { offer(id: $id) { status matchedTonnes } }"
MATCHED_DEMAND = "query($id: ID!) { demand(id: $id) { status matchedTonnes } }"


async def test_a_replay_reading_no_match_event_keeps_the_allocations_it_would_wipe(
    kafka_bootstrap: str,
    empty_broker: str,
    database_url: str,
    tmp_path: Path,
    uow_factory: UnitOfWorkFactory,
) -> None:
    settings = CatalogSettings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path
    )
    async with running_catalog(settings) as api:
        world = await forty_tonnes_held(api, kafka_bootstrap)
        before = await matched(api, world)

    elsewhere = settings.model_copy(update={"kafka_bootstrap": empty_broker})
    with pytest.raises(DomainError, match="no matching event"):
        await replay(elsewhere)

    async with running_catalog(settings) as api:
        assert await matched(api, world) == before


async def test_a_replay_meeting_a_fact_of_a_newer_schema_version_replaces_nothing(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, uow_factory: UnitOfWorkFactory
) -> None:
    """A v2 fact is one this catalog cannot read (the live consumer parks it
    UNSUPPORTED_SCHEMA_VERSION): replay neither reads it as a v1 nor rebuilds without it,
    it refuses and says to upgrade first."""
    settings = CatalogSettings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path
    )
    async with running_catalog(settings) as api:
        world = await forty_tonnes_held(api, kafka_bootstrap)
        before = await matched(api, world)
    await supplier_accepts_forty_tonnes(kafka_bootstrap, world, schema_version=2)

    with pytest.raises(DomainError, match=r"matching\.match-accepted v2") as refused:
        await replay(settings)
    assert refused.value.code == "UNSUPPORTED_SCHEMA_VERSION"

    async with running_catalog(settings) as api:
        assert await matched(api, world) == before
