"""Tonnage follows matching's lifecycle: a match holds tonnes of its offer and demand from its
first acceptance (or confirmation) and gives them back when rejected, expired or superseded.
Windows that end expire their listings. On SQLite and PostgreSQL; one test on the broker.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from wastex_catalog.entrypoints.kafka import lifecycle_handlers
from wastex_catalog.expiry import expire_due
from wastex_catalog.matches import apply_match_event
from wastex_catalog.settings import CatalogSettings
from wastex_catalog.testing import (
    ADMIN,
    AMEND_OFFER,
    DEMAND,
    OFFER,
    REVOKE_LICENCE,
    WINDOW_LAST_DAY,
    WINDOW_OVER,
    WITHDRAW_DEMAND,
    WITHDRAW_OFFER,
    Api,
    World,
    build_world,
    outbox_events,
    running_catalog,
    token,
)
from wastex_shared.auth import Role
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError
from wastex_shared.events.matching import (
    MatchAccepted,
    MatchCancelled,
    MatchConfirmed,
    MatchExpired,
    MatchFacts,
    MatchRejected,
    MatchShipped,
    MatchSuperseded,
)
from wastex_shared.storage import UnitOfWorkFactory

TYPES: dict[type[MatchFacts], str] = {
    MatchAccepted: "matching.match-accepted",
    MatchConfirmed: "matching.match-confirmed",
    MatchRejected: "matching.match-rejected",
    MatchSuperseded: "matching.match-superseded",
    MatchExpired: "matching.match-expired",
    MatchCancelled: "matching.match-cancelled",
    MatchShipped: "matching.match-shipped",
}

#: Midnight in China after the window's last day (16:00 UTC that day).
WINDOW_ENDED = datetime.combine(WINDOW_LAST_DAY, time(16), UTC)


def facts(
    world: World, kind: type[MatchFacts], match_id: str, tonnes: str, **extra: Any
) -> MatchFacts:
    status = {
        MatchAccepted: "ACCEPTED_BY_RECYCLER",
        MatchConfirmed: "CONFIRMED",
        MatchRejected: "REJECTED",
        MatchSuperseded: "SUPERSEDED",
        MatchExpired: "EXPIRED",
        MatchCancelled: "CANCELLED",
        MatchShipped: "CONFIRMED",
    }[kind]
    if kind is MatchAccepted:
        extra.setdefault("accepted_by", "RECYCLER")
    if kind is MatchRejected:
        extra.setdefault("rejected_by", "SUPPLIER")
        extra.setdefault("reason", "price")
    if kind is MatchCancelled:
        extra.setdefault("cancelled_by", "RECYCLER")
        extra.setdefault("reason", "kiln down")
    if kind is MatchShipped:
        shipped = Decimal(extra.setdefault("shipped_tonnes", tonnes))
        extra.setdefault("released_tonnes", max(Decimal(tonnes) - shipped, Decimal(0)))
    fields: dict[str, Any] = {"offer_id": world.offer, "demand_id": world.demand, **extra}
    return kind(
        match_id=match_id,
        supplier_enterprise_id=world.steel,
        supplier_site_id=world.steel_site,
        recycler_enterprise_id=world.cement,
        recycler_site_id=world.cement_site,
        waste_code="SW01",
        tonnes=Decimal(tonnes),
        distance_km=Decimal("31.4"),
        co2e_kg=Decimal("120.5"),
        freight_factor_key="road-heavy-truck",
        freight_factor_kg_per_tkm=Decimal("0.078"),
        status=status,
        **fields,
    )


def envelope(fact: MatchFacts) -> Envelope:
    return Envelope.new(TYPES[type(fact)], "matching", fact.match_id, fact)


async def apply(factory: UnitOfWorkFactory, *batch: MatchFacts) -> None:
    """The events in one transaction, in order, as a consumer's batch applies them."""
    async with factory() as uow:
        for fact in batch:
            await apply_match_event(uow, TYPES[type(fact)], fact, envelope(fact))
        await uow.commit()


async def tonnage(api: Api, world: World) -> tuple[str, str, str, str]:
    """(offer status, offer remaining, demand status, demand remaining)."""
    admin = api.as_(ADMIN)
    offer = (await admin.data(OFFER, id=world.offer))["offer"]
    demand = (await admin.data(DEMAND, id=world.demand))["demand"]
    return (
        offer["status"],
        offer["remainingTonnes"],
        demand["status"],
        demand["remainingTonnes"],
    )


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api)  # offer 120.500 t of SW01, demand 500.000 t


async def test_a_match_accepted_by_either_party_holds_its_tonnes_on_offer_and_demand(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "40", accepted_by="SUPPLIER"))
    assert await tonnage(api, world) == (
        "PARTIALLY_MATCHED",
        "80.500",
        "PARTIALLY_MATCHED",
        "460.000",
    )


async def test_the_second_acceptance_and_the_confirmation_hold_nothing_more(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "40", accepted_by="SUPPLIER"))
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "40", accepted_by="RECYCLER"))
    await apply(uow_factory, facts(world, MatchConfirmed, "m1", "40"))
    assert await tonnage(api, world) == (
        "PARTIALLY_MATCHED",
        "80.500",
        "PARTIALLY_MATCHED",
        "460.000",
    )


async def test_a_confirmation_alone_holds_the_tonnes(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    await apply(uow_factory, facts(world, MatchConfirmed, "m1", "120.5"))
    assert await tonnage(api, world) == ("FULLY_MATCHED", "0.000", "PARTIALLY_MATCHED", "379.500")


@pytest.mark.parametrize("ending", [MatchRejected, MatchExpired, MatchSuperseded, MatchCancelled])
async def test_a_match_ending_after_acceptance_gives_its_tonnes_back(
    api: Api, world: World, uow_factory: UnitOfWorkFactory, ending: type[MatchFacts]
) -> None:
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "120.500"))
    assert (await tonnage(api, world))[:2] == ("FULLY_MATCHED", "0.000")
    await apply(uow_factory, facts(world, ending, "m1", "120.500"))
    assert await tonnage(api, world) == ("OPEN", "120.500", "OPEN", "500.000")


async def test_an_acceptance_read_after_its_rejection_holds_nothing(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # The events of one match travel on different topics and may arrive in any order.
    await apply(uow_factory, facts(world, MatchRejected, "m1", "40"))
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "40"))
    assert await tonnage(api, world) == ("OPEN", "120.500", "OPEN", "500.000")


async def test_events_of_one_match_in_one_batch_see_each_other(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # A batch writes its allocations at its end: each event still reads what the ones
    # before it in the batch put.
    await apply(
        uow_factory,
        facts(world, MatchRejected, "m1", "40"),
        facts(world, MatchAccepted, "m1", "40"),  # after its rejection: holds nothing
        facts(world, MatchAccepted, "m2", "30", accepted_by="SUPPLIER"),
        facts(world, MatchAccepted, "m2", "30", accepted_by="RECYCLER"),
        facts(world, MatchConfirmed, "m2", "30"),  # held once, not three times
    )
    assert await tonnage(api, world) == (
        "PARTIALLY_MATCHED",
        "90.500",
        "PARTIALLY_MATCHED",
        "470.000",
    )


async def test_a_proposal_ending_before_acceptance_moves_nothing(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    await apply(uow_factory, facts(world, MatchSuperseded, "m1", "40"))
    await apply(uow_factory, facts(world, MatchExpired, "m2", "40"))
    assert await tonnage(api, world) == ("OPEN", "120.500", "OPEN", "500.000")


async def test_a_hold_read_before_an_earlier_matchs_release_is_kept(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # m1 held all 120.5 t and was rejected; matching then gave them to m2, accepted and
    # confirmed. Their facts travel by match: m2's came first.
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "120.5"))
    await apply(uow_factory, facts(world, MatchAccepted, "m2", "120.5"))
    await apply(uow_factory, facts(world, MatchConfirmed, "m2", "120.5"))
    assert await tonnage(api, world) == ("FULLY_MATCHED", "0.000", "PARTIALLY_MATCHED", "259.000")
    await apply(uow_factory, facts(world, MatchRejected, "m1", "120.5"))
    assert await tonnage(api, world) == (
        "FULLY_MATCHED",
        "0.000",
        "PARTIALLY_MATCHED",
        "379.500",
    )


async def test_a_confirmed_match_read_after_its_offer_was_amended_below_it_is_recorded(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # Matching confirmed 80 t of the 120.5 t offer; before the catalog read it, the owner
    # amended the offer to 50 t (the catalog knew of no hold). Matching keeps a confirmed
    # match past an amended quantity, so must the catalog's books (they were refused, and
    # both facts dead-lettered, for good).
    amended = await api.tenant(world.steel).mutate(
        AMEND_OFFER, "amendOffer", id=world.offer, input={"quantityTonnes": "50"}
    )
    assert amended["userErrors"] == []
    await apply(
        uow_factory,
        facts(world, MatchAccepted, "m1", "80", accepted_by="SUPPLIER"),
        facts(world, MatchConfirmed, "m1", "80"),
    )
    assert await tonnage(api, world) == ("FULLY_MATCHED", "0.000", "PARTIALLY_MATCHED", "420.000")


async def test_one_matchs_acceptance_and_rejection_applied_at_once_leave_nothing_held(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # Two consumers (two catalog processes) apply them at the same moment: the acceptance
    # must not write its hold over the rejection's tombstone (on SQLite, with one writer at
    # a time, the rejection waits for the acceptance's commit anyway).
    accepted = facts(world, MatchAccepted, "m1", "40", accepted_by="SUPPLIER")
    rejected = facts(world, MatchRejected, "m1", "40")

    async def reject_meanwhile() -> None:
        async with uow_factory() as second:
            await apply_match_event(second, TYPES[MatchRejected], rejected, envelope(rejected))
            await second.commit()

    async with uow_factory() as first:
        await apply_match_event(first, TYPES[MatchAccepted], accepted, envelope(accepted))
        rejecting = asyncio.ensure_future(reject_meanwhile())
        await asyncio.sleep(0.5)  # the rejection runs now, or waits for the acceptance
        await first.commit()
    await rejecting
    assert await tonnage(api, world) == ("OPEN", "120.500", "OPEN", "500.000")


async def test_a_match_on_an_unknown_offer_is_refused(
    world: World, uow_factory: UnitOfWorkFactory
) -> None:
    unknown = facts(world, MatchAccepted, "m1", "1", offer_id=str(uuid.uuid4()))
    with pytest.raises(DomainError) as refused:
        await apply(uow_factory, unknown)
    assert refused.value.code == "NOT_FOUND"


async def test_each_hold_and_release_is_published_on_offer_and_demand_updated(
    world: World, uow_factory: UnitOfWorkFactory
) -> None:
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "40"))
    await apply(uow_factory, facts(world, MatchRejected, "m1", "40"))
    events = await outbox_events(uow_factory)
    updates = [
        (topic, key, event.data["reason"], event.data["remainingTonnes"], event.data["matchId"])
        for topic, key, event in events
        if topic in ("catalog.offer-updated.v1", "catalog.demand-updated.v1")
    ]
    codes = {event.data["wasteCode"] for topic, _, event in events if "offer-updated" in topic}
    assert codes == {"SW01"}  # every offer fact carries the code (offerClosed)
    assert sorted(updates) == sorted(
        [
            ("catalog.offer-updated.v1", world.offer, "ALLOCATED", "80.500", "m1"),
            ("catalog.demand-updated.v1", world.demand, "ALLOCATED", "460.000", "m1"),
            ("catalog.offer-updated.v1", world.offer, "RELEASED", "120.500", "m1"),
            ("catalog.demand-updated.v1", world.demand, "RELEASED", "500.000", "m1"),
        ]
    )


async def test_the_counterparty_still_sees_a_fully_matched_offer(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    outsider = await api.register_enterprise("Outsider", "RECYCLER", "洪山区")
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "120.5"))
    cement = await api.as_(token(Role.RECYCLER, world.cement)).execute(OFFER, id=world.offer)
    assert cement["data"]["offer"]["status"] == "FULLY_MATCHED"
    assert cement["data"]["offer"]["site"] is None  # still without the private fields
    other = await api.as_(token(Role.RECYCLER, outsider)).execute(OFFER, id=world.offer)
    assert other["errors"][0]["extensions"]["code"] == "NOT_AUTHORIZED"


async def test_listings_past_their_window_expire_and_say_so(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        assert await expire_due(uow, WINDOW_LAST_DAY) == 0  # the window's last day counts
        await uow.commit()
    async with uow_factory() as uow:
        expired = await expire_due(uow, WINDOW_OVER)
        await uow.commit()
    assert expired == 2
    assert await tonnage(api, world) == ("EXPIRED", "120.500", "EXPIRED", "500.000")
    reasons = [
        event.data["reason"]
        for topic, _, event in await outbox_events(uow_factory)
        if topic.endswith("-updated.v1")
    ]
    assert reasons == ["EXPIRED", "EXPIRED"]
    async with uow_factory() as uow:
        assert await expire_due(uow, WINDOW_OVER + timedelta(days=1)) == 0  # expired once only


# --- over the broker --------------------------------------------------------------------


async def test_lifecycle_events_on_the_matching_topics_move_the_tonnes(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    settings = CatalogSettings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path
    )
    async with running_catalog(settings) as api:
        world = await build_world(api)
        accepted = facts(world, MatchAccepted, f"m-{uuid.uuid4()}", "20.5")
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            event = envelope(accepted)
            for _ in range(2):  # delivered twice: held once
                await producer.send_and_wait(
                    "matching.match-accepted.v1", event.to_json(), key=event.key.encode()
                )
        finally:
            await producer.stop()

        async with asyncio.timeout(90):
            while (await tonnage(api, world))[1] != "100.000":
                await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        assert await tonnage(api, world) == (
            "PARTIALLY_MATCHED",
            "100.000",
            "PARTIALLY_MATCHED",
            "479.500",
        )


async def test_a_fully_matched_demand_released_after_its_licence_ended_leaves_the_market(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    small = await api.post_demand(world.cement, world.cement_site, tonnes="100.000")

    async def status() -> str:
        return str((await api.as_(ADMIN).data(DEMAND, id=small))["demand"]["status"])

    await apply(uow_factory, facts(world, MatchAccepted, "m1", "100", demand_id=small))
    assert await status() == "FULLY_MATCHED"
    await api.as_(ADMIN).mutate(REVOKE_LICENCE, "revokeLicence", id=world.licence, reason="吊销")
    assert await status() == "FULLY_MATCHED"  # held: not on the market, nothing to expire
    await apply(uow_factory, facts(world, MatchRejected, "m1", "100", demand_id=small))
    # Not back on the market, as no licence covers it any more: it leaves at once (it was
    # OPEN until the sweep came round, told to matching and the subscriptions as such).
    assert await status() == "EXPIRED"
    async with uow_factory() as uow:
        assert await expire_due(uow, date.today()) == 0  # the big one went at the revocation
        await uow.commit()
    assert await status() == "EXPIRED"


async def test_a_fully_matched_offer_released_after_its_window_leaves_the_market_at_once(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # A fully matched offer is not on the market, so the sweep never expires it. Its
    # confirmed match called off after the window (an overdue shipment) put it back OPEN,
    # and offerChanged pushed every licensed recycler an offer that was over, until the
    # sweep expired it again.
    await apply(uow_factory, facts(world, MatchConfirmed, "m1", "120.5"))
    assert (await tonnage(api, world))[:2] == ("FULLY_MATCHED", "0.000")
    before = len(await outbox_events(uow_factory))
    cancelled = facts(world, MatchCancelled, "m1", "120.5")
    # Judged on the event's day (China's), not the reading's: a replay gives the same.
    late = envelope(cancelled).model_copy(
        update={"time": datetime.combine(WINDOW_LAST_DAY, time(16), UTC)}
    )
    async with uow_factory() as uow:
        await lifecycle_handlers()[TYPES[MatchCancelled]](uow, late, cancelled)
        await uow.commit()

    assert await tonnage(api, world) == ("EXPIRED", "120.500", "EXPIRED", "500.000")
    updates = [
        (event.data["status"], event.data["reason"])
        for topic, _, event in (await outbox_events(uow_factory))[before:]
        if topic.endswith("-updated.v1")
    ]
    assert updates == [("EXPIRED", "EXPIRED"), ("EXPIRED", "EXPIRED")]
    async with uow_factory() as uow:
        assert await expire_due(uow, WINDOW_OVER) == 0  # nothing left for the sweep


@pytest.mark.parametrize("kind", ["offer", "demand"])
async def test_a_listing_whose_matches_hold_all_its_tonnes_may_be_withdrawn(
    api: Api, world: World, uow_factory: UnitOfWorkFactory, kind: str
) -> None:
    """Its owner leaves: matching then rejects the matches accepted by one side only
    (decision 030), and a confirmed one's release will not bring the listing back. It was
    refused (`cannot withdraw offer …: it is FULLY_MATCHED`), leaving the owner to reject each
    match first to put the listing back on the market, then withdraw it."""
    tonnes = "120.5" if kind == "offer" else "500"
    await apply(uow_factory, facts(world, MatchAccepted, "m1", tonnes, accepted_by="SUPPLIER"))
    owner, ident = (world.steel, world.offer) if kind == "offer" else (world.cement, world.demand)
    mutation, field = (
        (WITHDRAW_OFFER, "withdrawOffer")
        if kind == "offer"
        else (WITHDRAW_DEMAND, "withdrawDemand")
    )
    if kind == "demand":  # the demand needs a larger offer to be fully held
        await apply(uow_factory, facts(world, MatchRejected, "m1", tonnes))
        await api.as_(token(Role.ENTERPRISE, world.steel)).data(
            AMEND_OFFER, id=world.offer, input={"quantityTonnes": "600"}
        )
        await apply(uow_factory, facts(world, MatchAccepted, "m2", tonnes, accepted_by="SUPPLIER"))
    assert "FULLY_MATCHED" in await tonnage(api, world)

    done = (await api.as_(token(Role.ENTERPRISE, owner)).data(mutation, id=ident))[field]

    assert done["userErrors"] == []
    assert done[kind]["status"] == "WITHDRAWN"
    withdrawals = [
        event.data for topic, _, event in await outbox_events(uow_factory) if "withdrawn" in topic
    ]
    assert [(w[f"{kind}Id"], w["status"]) for w in withdrawals] == [(ident, "WITHDRAWN")]
    await apply(
        uow_factory, facts(world, MatchRejected, "m2" if kind == "demand" else "m1", tonnes)
    )
    status = await tonnage(api, world)
    assert status[0 if kind == "offer" else 2] == "WITHDRAWN"  # released, not back on the market


# --- a lighter shipment (decision 032) ----------------------------------------------------


@pytest.mark.parametrize(
    ("load", "after"),
    [
        ("30", ("PARTIALLY_MATCHED", "90.500", "PARTIALLY_MATCHED", "470.000")),
        ("0.001", ("PARTIALLY_MATCHED", "120.499", "PARTIALLY_MATCHED", "499.999")),
        ("52", ("PARTIALLY_MATCHED", "70.500", "PARTIALLY_MATCHED", "450.000")),
    ],
)
async def test_a_lighter_shipment_gives_the_rest_back_once(
    api: Api,
    world: World,
    uow_factory: UnitOfWorkFactory,
    load: str,
    after: tuple[str, str, str, str],
) -> None:
    await apply(uow_factory, facts(world, MatchConfirmed, "m1", "50"))
    shipped = facts(world, MatchShipped, "m1", "50", shipped_tonnes=load)
    await apply(uow_factory, shipped)
    assert await tonnage(api, world) == after
    await apply(uow_factory, shipped)  # re-driven (another event id): given back once
    assert await tonnage(api, world) == after
    updates = [
        (event.data["reason"], event.data["matchId"])
        for topic, _, event in await outbox_events(uow_factory)
        if topic.endswith("-updated.v1")
    ]
    given_back = 2 if Decimal(load) < 50 else 0
    assert updates == [("ALLOCATED", "m1")] * 2 + [("RELEASED", "m1")] * given_back


async def test_a_shipment_read_before_its_confirmation_holds_what_left(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # Its facts travel on different topics: the confirmation, read after, holds no more.
    await apply(uow_factory, facts(world, MatchShipped, "m1", "50", shipped_tonnes="30"))
    await apply(uow_factory, facts(world, MatchAccepted, "m1", "50"))
    await apply(uow_factory, facts(world, MatchConfirmed, "m1", "50"))
    assert await tonnage(api, world) == (
        "PARTIALLY_MATCHED",
        "90.500",
        "PARTIALLY_MATCHED",
        "470.000",
    )


async def test_a_lighter_shipment_from_a_withdrawn_offer_does_not_bring_it_back(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # As a cancellation's release: the tonnes come back, the market does not (decision 030).
    await apply(uow_factory, facts(world, MatchConfirmed, "m1", "120.5"))
    done = await api.tenant(world.steel).mutate(WITHDRAW_OFFER, "withdrawOffer", id=world.offer)
    assert done["userErrors"] == []
    await apply(uow_factory, facts(world, MatchShipped, "m1", "120.5", shipped_tonnes="100"))
    assert await tonnage(api, world) == ("WITHDRAWN", "20.500", "PARTIALLY_MATCHED", "400.000")


async def test_a_fully_matched_offer_shipped_light_after_its_window_leaves_the_market(
    api: Api, world: World, uow_factory: UnitOfWorkFactory
) -> None:
    # As a cancellation after the window: not back OPEN for the sweep to expire later.
    await apply(uow_factory, facts(world, MatchConfirmed, "m1", "120.5"))
    shipped = facts(world, MatchShipped, "m1", "120.5", shipped_tonnes="100")
    late = envelope(shipped).model_copy(
        update={"time": datetime.combine(WINDOW_LAST_DAY, time(16), UTC)}
    )
    async with uow_factory() as uow:
        await lifecycle_handlers()[TYPES[MatchShipped]](uow, late, shipped)
        await uow.commit()
    assert await tonnage(api, world) == ("EXPIRED", "20.500", "EXPIRED", "400.000")
