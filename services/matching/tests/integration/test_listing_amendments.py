"""Offers and demands amended by their owners (`catalog.offer-amended`, `-demand-amended`),
on both databases through the real consumer: the next round plans with the new terms,
an older fact read later does not undo them, and a proposal they no longer fit cannot be
accepted meanwhile."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from wastex_matching.adapters import repository as repo
from wastex_matching.adapters.tables import DemandRow, ListingStatusRow, OfferRow
from wastex_matching.domain.growth import Refused
from wastex_matching.domain.lifecycle import MatchStatus, Party
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import (
    ACCEPT,
    HONGSHAN_BRICKS,
    JIANGXIA_CEMENT,
    QINGSHAN_STEEL,
    Api,
    Catalog,
    fixed_clock,
)
from wastex_shared.auth import Role
from wastex_shared.envelope import Envelope
from wastex_shared.errors import DomainError
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory

from .test_lock_order import pause_after, someone_waits_for_a_lock
from .test_reoptimisation import add_nearer_recycler, outbox, seed_market, stored


def slag(catalog: Catalog, ident: str = "slag-1") -> Envelope:
    """The offer as `seed_market` posts it: 120.5 t, 2026-12-01 to 2027-01-31."""
    return catalog.offer(ident, "steel", "steel-site", QINGSHAN_STEEL, tonnes="120.500")


def cement_demand(catalog: Catalog) -> Envelope:
    """The demand as `seed_market` posts it: 500 t within 80 km (~43 km away), to June."""
    return catalog.demand("cement-demand", "cement", "cement-site", JIANGXIA_CEMENT)


async def proposed(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> tuple[str, int]:
    """The seeded market's one proposal (120.5 t of slag to the cement plant), and the
    outbox's length after it."""
    await seed_market(catalog, consumer)
    await service.reoptimise()
    [proposal] = await stored(service, MatchStatus.PROPOSED)
    assert proposal.tonnes == Decimal("120.500")
    return proposal.id, len(await outbox(service.uow_factory))


async def test_an_offer_amended_below_its_proposal_is_proposed_anew_with_its_tonnes(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    first, events = await proposed(service, consumer, catalog)

    await catalog.feed(consumer, catalog.amended(slag(catalog), quantity_tonnes="80"))
    report = await service.reoptimise()

    # The changed offer is a new slot: the round plans the whole market.
    assert (report.proposed, report.superseded, report.refused) == (1, 1, Refused.OFFER_CHANGED)
    old = await service.get(first)
    assert old is not None
    assert old.status is MatchStatus.SUPERSEDED
    [new] = await stored(service, MatchStatus.PROPOSED)
    assert (new.offer_id, new.demand_id, new.tonnes) == ("slag-1", "cement-demand", Decimal(80))
    superseded, proposal = (await outbox(service.uow_factory))[events:]
    assert superseded["type"] == "matching.match-superseded"
    assert superseded["data"]["replacedBy"] == [new.id]
    assert proposal["data"]["tonnes"] == "80.000"


@pytest.mark.parametrize("batches", ["one-batch", "two-batches"])
async def test_an_amendment_read_before_its_posting_keeps_its_terms(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    batches: str,
) -> None:
    """The amendment (version 2) and the posting (version 1) travel on two topics: read in
    that order, the posting must not put the old terms back."""
    await seed_market(catalog, consumer)
    posting = slag(catalog, "slag-2")
    amendment = catalog.amended(
        posting,
        quantity_tonnes="30",
        available_until=date(2027, 1, 15),
        description="bagged",
    )
    if batches == "one-batch":
        await catalog.feed(consumer, amendment, posting)
    else:
        await catalog.feed(consumer, amendment)
        await catalog.feed(consumer, posting)
    assert consumer.stats.dead_lettered == 0

    async with uow_factory() as uow:
        row = await uow.session.get(OfferRow, "slag-2")
        status = await uow.session.get(ListingStatusRow, "slag-2")
    assert row is not None
    assert status is not None
    assert (row.quantity_tonnes, row.available_until, row.description, row.terms_version) == (
        Decimal(30),
        date(2027, 1, 15),
        "bagged",
        2,
    )
    assert (row.site_id, row.waste_code, row.district) == ("steel-site", "SW01", "青山区")
    assert (status.status, status.version) == ("OPEN", 2)
    await service.reoptimise()
    [new] = [m for m in await stored(service, MatchStatus.PROPOSED) if m.offer_id == "slag-2"]
    assert (new.tonnes, new.window_until) == (Decimal(30), date(2027, 1, 15))


@pytest.mark.parametrize(
    ("changes", "still_proposed"),
    [
        pytest.param({"max_distance_km": "30"}, None, id="radius-below-its-distance"),
        pytest.param({"quantity_tonnes": "100"}, Decimal(100), id="intake-below-its-tonnes"),
    ],
)
async def test_a_demand_amended_below_its_proposal_supersedes_it(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    changes: dict[str, Any],
    still_proposed: Decimal | None,
) -> None:
    first, _ = await proposed(service, consumer, catalog)

    await catalog.feed(consumer, catalog.amended(cement_demand(catalog), **changes))
    report = await service.reoptimise()

    assert (report.superseded, report.refused) == (1, Refused.MARKET_CHANGED)
    old = await service.get(first)
    assert old is not None
    assert old.status is MatchStatus.SUPERSEDED
    now = [m.tonnes for m in await stored(service, MatchStatus.PROPOSED)]
    assert now == ([] if still_proposed is None else [still_proposed])
    async with uow_factory() as uow:
        row = await uow.session.get(DemandRow, "cement-demand")
    assert row is not None
    assert row.terms_version == 2


async def test_a_narrower_window_supersedes_a_proposal_of_the_same_tonnes(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """The allocation repeats the route (same offer, demand and tonnes): only the proposal's
    shipping window, now beyond the offer's, tells it is outdated."""
    first, _ = await proposed(service, consumer, catalog)

    narrower = catalog.amended(slag(catalog), available_until=date(2027, 1, 15))
    await catalog.feed(consumer, narrower)
    report = await service.reoptimise()

    assert (report.proposed, report.superseded) == (1, 1)
    old = await service.get(first)
    assert old is not None
    assert old.status is MatchStatus.SUPERSEDED
    [new] = await stored(service, MatchStatus.PROPOSED)
    assert (new.tonnes, new.window_from, new.window_until) == (
        Decimal("120.500"),
        date(2026, 12, 1),
        date(2027, 1, 15),
    )
    again = await service.reoptimise()  # checked once: the new proposal stands
    assert (again.proposed, again.superseded, again.kept) == (0, 0, 1)


async def test_a_process_started_after_an_amendment_checks_the_standing_proposals(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Its first round reads every open listing: the amended ones' proposals are checked
    too, though no round of this process saw them change."""
    first, _ = await proposed(service, consumer, catalog)
    await catalog.feed(consumer, catalog.amended(slag(catalog), available_until=date(2027, 1, 15)))

    restarted = MatchingService(uow_factory, MatchingSettings(), clock=fixed_clock)
    report = await restarted.reoptimise()

    assert (report.proposed, report.superseded) == (1, 1)
    [new] = await stored(restarted, MatchStatus.PROPOSED)
    assert new.id != first
    assert new.window_until == date(2027, 1, 15)


async def test_a_description_amended_keeps_the_proposal(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    first, events = await proposed(service, consumer, catalog)

    await catalog.feed(consumer, catalog.amended(slag(catalog), description="now bagged"))
    report = await service.reoptimise()

    # Planned afresh (the offer's row changed), and the standing proposal is its answer.
    assert (report.proposed, report.superseded, report.kept) == (0, 0, 1)
    assert report.refused is Refused.OFFER_CHANGED
    assert len(await outbox(uow_factory)) == events
    async with uow_factory() as uow:
        row = await uow.session.get(OfferRow, "slag-1")
    assert row is not None
    assert (row.description, row.terms_version) == ("now bagged", 2)
    accepted = (await api.as_(Role.ENTERPRISE, "steel").data(ACCEPT, id=first))["acceptMatch"]
    assert accepted["userErrors"] == []
    assert accepted["match"]["status"] == "ACCEPTED_BY_SUPPLIER"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param(
            {"quantity_tonnes": "80"},
            "the offer slag-1 now has 80.000 t, less than the 120.500 t of this match",
            id="fewer-tonnes",
        ),
        pytest.param(
            {"available_until": date(2027, 1, 15)},
            "the offer slag-1 is now open 2026-12-01–2027-01-15, which does not cover the "
            "shipping window 2026-12-01–2027-01-31",
            id="narrower-window",
        ),
    ],
)
async def test_a_proposal_its_amended_offer_no_longer_fits_cannot_be_accepted(
    api: Api,
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    changes: dict[str, Any],
    reason: str,
) -> None:
    first, _ = await proposed(service, consumer, catalog)
    await catalog.feed(consumer, catalog.amended(slag(catalog), **changes))

    refused = (await api.as_(Role.ENTERPRISE, "cement").data(ACCEPT, id=first))["acceptMatch"]

    assert refused["match"] is None
    [error] = refused["userErrors"]
    assert error["code"] == "LISTING_CHANGED"
    assert error["message"] == (
        f"match {first} was proposed before its listings changed: {reason}; "
        "the next round proposes on the new terms"
    )
    record = await service.get(first)
    assert record is not None
    assert record.status is MatchStatus.PROPOSED
    await service.reoptimise()  # the round's new proposal is on the new terms
    [new] = await stored(service, MatchStatus.PROPOSED)
    accepted = (await api.as_(Role.ENTERPRISE, "cement").data(ACCEPT, id=new.id))["acceptMatch"]
    assert accepted["match"]["status"] == "ACCEPTED_BY_RECYCLER"


async def test_a_proposal_beyond_what_accepted_matches_left_of_an_amended_offer_is_refused(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """120.5 t split: 100 t to the brickworks (accepted), 20.5 t to the cement plant. The
    offer amended to 110 t (not below the 100 held) leaves 10 t, not 20.5."""
    await seed_market(catalog, consumer)
    await add_nearer_recycler(catalog, consumer, tonnes="100")
    await service.reoptimise()
    bricks, cement = sorted(await stored(service, MatchStatus.PROPOSED), key=lambda m: m.demand_id)
    assert (bricks.demand_id, cement.tonnes) == ("bricks-demand", Decimal("20.500"))
    await service.accept(bricks.id, Party.SUPPLIER)
    await catalog.feed(
        consumer, catalog.amended(slag(catalog), quantity_tonnes="110", matched="100")
    )

    with pytest.raises(DomainError) as refused:
        await service.accept(cement.id, Party.RECYCLER)

    assert refused.value.code == "LISTING_CHANGED"
    assert "110.000 t, 100.000 t of them held by accepted matches" in refused.value.message
    # The match one party accepted is not checked again: its tonnes are held.
    confirmed = await service.accept(bricks.id, Party.RECYCLER)
    assert confirmed.status is MatchStatus.CONFIRMED


async def test_stale_proposals_of_one_offer_accepted_at_once_take_no_more_than_it_has(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """The 100 t and 20.5 t proposals of a 120.5 t offer amended to 100 t, accepted at the
    same moment by their recyclers: each fits alone, not both. Acceptances of one listing's
    matches run one after the other (its row locked), so the second counts the first."""
    await seed_market(catalog, consumer)
    await add_nearer_recycler(catalog, consumer, tonnes="100")
    await service.reoptimise()
    bricks, cement = sorted(await stored(service, MatchStatus.PROPOSED), key=lambda m: m.demand_id)
    await catalog.feed(consumer, catalog.amended(slag(catalog), quantity_tonnes="100"))

    outcomes = await asyncio.gather(
        service.accept(bricks.id, Party.RECYCLER),
        service.accept(cement.id, Party.RECYCLER),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert [o.code for o in refused] == ["LISTING_CHANGED"], outcomes
    held = [m.tonnes for m in await stored(service, MatchStatus.ACCEPTED_BY_RECYCLER)]
    assert sum(held) <= Decimal(100)


async def test_a_second_acceptance_is_refused_when_the_amended_quantity_no_longer_holds_it(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """The supplier accepted 120.5 t; the catalog, not yet told, let the offer be amended
    to 80 t. The recycler cannot confirm what the offer no longer has (the window and the
    distance, agreed, are not checked again)."""
    first, _ = await proposed(service, consumer, catalog)
    await service.accept(first, Party.SUPPLIER)
    await catalog.feed(
        consumer,
        catalog.amended(slag(catalog), quantity_tonnes="80", available_until=date(2026, 12, 20)),
    )

    with pytest.raises(DomainError) as refused:
        await service.accept(first, Party.RECYCLER)

    assert refused.value.code == "LISTING_CHANGED"
    assert refused.value.message == (
        f"match {first} was proposed before its listings changed: the offer slag-1 now has "
        "80.000 t, less than the 120.500 t of this match"
    )
    record = await service.get(first)
    assert record is not None
    assert record.status is MatchStatus.ACCEPTED_BY_SUPPLIER


async def test_a_match_s_own_acceptance_is_not_held_against_it(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """What other matches hold excludes this one: the other party's acceptance of it,
    committed after this acceptance read it as a proposal, is no other match's hold (the
    version check then asks to read it again: CONFLICT, not LISTING_CHANGED)."""
    first, _ = await proposed(service, consumer, catalog)
    as_read = await service.get(first)
    assert as_read is not None
    await service.accept(first, Party.SUPPLIER)
    async with service.uow_factory() as uow:
        held = await repo.held_tonnes(uow.session, as_read)
    assert held == (Decimal("0.000"), Decimal("0.000"))


async def test_the_sweep_ends_accepted_matches_an_amended_quantity_no_longer_holds(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """Both lots of a 120.5 t offer accepted by one side (the brickworks' 100 t first); the
    catalog, not yet told, let the offer go down to 110 t. The later 20.5 t no longer fits:
    the sweep ends it with why (it could never be confirmed), the earlier one stays."""
    await seed_market(catalog, consumer)
    await add_nearer_recycler(catalog, consumer, tonnes="100")
    await service.reoptimise()
    bricks, cement = sorted(await stored(service, MatchStatus.PROPOSED), key=lambda m: m.demand_id)
    await service.accept(bricks.id, Party.SUPPLIER)
    service.clock = lambda: fixed_clock() + timedelta(minutes=5)  # the cement lot later
    await service.accept(cement.id, Party.SUPPLIER)
    assert await service.expire_due() == 0  # nothing amended yet
    await catalog.feed(consumer, catalog.amended(slag(catalog), quantity_tonnes="110"))

    assert await service.expire_due() == 1

    ended = await service.get(cement.id)
    assert ended is not None
    assert (ended.status, ended.expiry_reason) == (
        MatchStatus.EXPIRED,
        "the offer slag-1 was amended to 110.000 t, which the matches accepted before this "
        "one hold",
    )
    kept = await service.get(bricks.id)
    assert kept is not None
    assert kept.status is MatchStatus.ACCEPTED_BY_SUPPLIER
    assert await service.expire_due() == 0


async def test_a_proposal_of_a_moved_offer_is_priced_from_where_it_now_lies(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # helper-47: the catalog re-publishes a moved site's offer from its new place (decision
    # 026); the round kept the standing proposal at the old distance and carbon.
    first, _ = await proposed(service, consumer, catalog)
    [before] = await stored(service, MatchStatus.PROPOSED)
    moved = catalog.amended(
        slag(catalog), latitude=HONGSHAN_BRICKS[0], longitude=HONGSHAN_BRICKS[1]
    )  # ~20 km from the cement plant instead of ~43 km, still within the demand's 80 km
    await catalog.feed(consumer, moved)
    await service.reoptimise()
    [after] = await stored(service, MatchStatus.PROPOSED)
    assert after.distance_km < before.distance_km, (first, after.id, after.distance_km)


async def test_a_proposal_whose_offer_moved_cannot_be_accepted_before_the_next_round(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # helper-47: moved ~150 km north, past the demand's 80 km, the proposal was accepted
    # on the distance of the old place.
    first, _ = await proposed(service, consumer, catalog)
    far = (Decimal("31.900000"), Decimal("114.300000"))
    await catalog.feed(consumer, catalog.amended(slag(catalog), latitude=far[0], longitude=far[1]))
    answer = (await api.as_(Role.ENTERPRISE, "cement").data(ACCEPT, id=first))["acceptMatch"]
    assert answer["match"] is None, answer
    assert [e["code"] for e in answer["userErrors"]] == ["LISTING_CHANGED"]
    assert "moved" in answer["userErrors"][0]["message"]


async def test_a_proposal_of_an_offer_whose_site_changed_district_is_proposed_there_anew(
    api: Api, service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # An admin corrects the steel works' district, not its place (decision 026): the catalog
    # re-publishes the live offer in the new district. The standing proposal kept the old
    # one: its regulator went on seeing it (and being pushed its changes), the new
    # district's did not, and its explanation placed the slag in the old district.
    first, _ = await proposed(service, consumer, catalog)
    await catalog.feed(
        consumer,
        catalog.site_amended("steel-site", "steel", QINGSHAN_STEEL, "武昌区", version=2),
        catalog.amended(slag(catalog), district="武昌区"),
    )
    answer = (await api.as_(Role.ENTERPRISE, "cement").data(ACCEPT, id=first))["acceptMatch"]
    assert [e["code"] for e in answer["userErrors"]] == ["LISTING_CHANGED"]
    assert "武昌区" in answer["userErrors"][0]["message"]

    await service.reoptimise()
    [now] = await stored(service, MatchStatus.PROPOSED)
    assert now.id != first
    assert (now.supplier_district, now.recycler_district) == ("武昌区", "江夏区")
    assert "from a site in 武昌区" in now.explanation
    assert [m.id for m in await stored(service, MatchStatus.SUPERSEDED)] == [first]
    seen = "{ matches(first: 10) { edges { node { id status } } } }"
    wuchang = await api.as_(Role.REGULATOR, district="武昌区").data(seen)
    assert [e["node"] for e in wuchang["matches"]["edges"]] == [
        {"id": now.id, "status": "PROPOSED"}
    ]
    qingshan = await api.as_(Role.REGULATOR, district="青山区").data(seen)
    assert [e["node"]["status"] for e in qingshan["matches"]["edges"]] == ["SUPERSEDED"]


async def test_the_sweep_counts_the_holds_as_they_stand_when_it_ends_a_match(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As above, but the brickworks' 100 t lot is turned down while the sweep runs. The
    sweep read the holds before it locked anything: on PostgreSQL it counted the lot being
    rejected, waited for the rejection's lock, then ended the 20.5 t lot, which the offer's
    110 t held once the rejection had committed (on SQLite writers take turns)."""
    await seed_market(catalog, consumer)
    await add_nearer_recycler(catalog, consumer, tonnes="100")
    await service.reoptimise()
    bricks, cement = sorted(await stored(service, MatchStatus.PROPOSED), key=lambda m: m.demand_id)
    await service.accept(bricks.id, Party.SUPPLIER)
    service.clock = lambda: fixed_clock() + timedelta(minutes=5)  # the cement lot later
    await service.accept(cement.id, Party.SUPPLIER)
    await catalog.feed(consumer, catalog.amended(slag(catalog), quantity_tonnes="110"))

    counted, go = pause_after(monkeypatch, "note_match_writes")
    rejection = asyncio.create_task(service.reject(bricks.id, Party.SUPPLIER, "kiln down"))
    await counted.wait()  # the rejection holds the market version and the match writes
    sweep = asyncio.create_task(service.expire_due())
    await someone_waits_for_a_lock(uow_factory)
    go.set()
    assert (await rejection).status is MatchStatus.REJECTED

    assert await sweep == 0
    kept = await service.get(cement.id)
    assert kept is not None
    assert kept.status is MatchStatus.ACCEPTED_BY_SUPPLIER


async def test_a_hold_the_sweep_ends_for_another_reason_leaves_room_for_the_later_ones(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """As above, and the brickworks' licence is revoked before the sweep runs: its 100 t
    lot ends for that, so the 110 t offer holds the later 20.5 t lot. The sweep counted the
    lot it was ending and ended the later one too."""
    await seed_market(catalog, consumer)
    await add_nearer_recycler(catalog, consumer, tonnes="100")
    await service.reoptimise()
    bricks, cement = sorted(await stored(service, MatchStatus.PROPOSED), key=lambda m: m.demand_id)
    await service.accept(bricks.id, Party.SUPPLIER)
    service.clock = lambda: fixed_clock() + timedelta(minutes=5)  # the cement lot later
    await service.accept(cement.id, Party.SUPPLIER)
    await catalog.feed(
        consumer,
        catalog.amended(slag(catalog), quantity_tonnes="110"),
        catalog.amended_licence("bricks-lic", "bricks", ["SW01"], 2, revoked_on=date(2026, 11, 26)),
    )

    assert await service.expire_due() == 1

    ended = await service.get(bricks.id)
    assert ended is not None
    assert ended.status is MatchStatus.EXPIRED
    assert (
        ended.expiry_reason == "the recycler's licence no longer holds over 2026-12-01–2027-01-31"
    )
    kept = await service.get(cement.id)
    assert kept is not None
    assert kept.status is MatchStatus.ACCEPTED_BY_SUPPLIER
