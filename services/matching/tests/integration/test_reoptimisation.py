"""Re-optimisation on both databases: catalog facts in (through the real consumer), proposals
out through the outbox, unchanged proposals kept, better demands superseding."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from wastex_matching.adapters import repository as repo
from wastex_matching.adapters.repository import MatchRecord, MatchScope
from wastex_matching.domain import contest
from wastex_matching.domain.lifecycle import MatchStatus, Party
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import (
    HONGSHAN_BRICKS,
    JIANGXIA_CEMENT,
    NOW,
    QINGSHAN_STEEL,
    Catalog,
    fixed_clock,
)
from wastex_shared.calendar import china_day
from wastex_shared.envelope import derived_id
from wastex_shared.messaging import EventConsumer
from wastex_shared.storage import UnitOfWorkFactory


async def seed_market(
    catalog: Catalog,
    consumer: EventConsumer,
    *,
    offer: str = "slag-1",
    intake: str = "500.000",
    window: tuple[date, date] | None = None,
    licensed: str = "50000",
) -> None:
    """A steel works offering 120.5 t of slag (`offer`); a cement plant ~43 km away wanting
    `intake` t, licensed for `licensed` t a year. The offer is listed for `window` (by
    default the builders' days around `testing.TODAY`; a round on the real clock needs days
    from today on), the demand and the licence at least as long."""
    start, end = window or (date(2026, 12, 1), date(2027, 1, 31))
    await catalog.feed(
        consumer,
        catalog.enterprise("steel", "Wuhan Steel"),
        catalog.enterprise("cement", "Jiangxia Cement", "江夏区"),
        catalog.site("steel-site", "steel", QINGSHAN_STEEL, "青山区"),
        catalog.site("cement-site", "cement", JIANGXIA_CEMENT, "江夏区"),
        catalog.licence(
            "cement-lic",
            "cement",
            ["SW01", "SW02"],
            capacity=licensed,
            valid_until=max(end, date(2028, 12, 31)),
        ),
        catalog.demand(
            "cement-demand",
            "cement",
            "cement-site",
            JIANGXIA_CEMENT,
            tonnes=intake,
            available_from=start,
            available_until=max(end, date(2027, 6, 30)),
        ),
        catalog.offer(
            offer,
            "steel",
            "steel-site",
            QINGSHAN_STEEL,
            tonnes="120.500",
            available_from=start,
            available_until=end,
        ),
    )


async def add_nearer_recycler(
    catalog: Catalog, consumer: EventConsumer, tonnes: str = "500.000"
) -> None:
    """A brickworks ~20 km from the steel works (the cement plant is ~43 km away)."""
    await catalog.feed(
        consumer,
        catalog.enterprise("bricks", "Hongshan Bricks", "洪山区"),
        catalog.site("bricks-site", "bricks", HONGSHAN_BRICKS, "洪山区"),
        catalog.licence("bricks-lic", "bricks", ["SW01"]),
        catalog.demand(
            "bricks-demand",
            "bricks",
            "bricks-site",
            HONGSHAN_BRICKS,
            tonnes=tonnes,
            district="洪山区",
        ),
    )


async def outbox(uow_factory: UnitOfWorkFactory) -> list[dict[str, Any]]:
    table = uow_factory.tables.outbox
    async with uow_factory() as uow:
        rows = (await uow.session.execute(select(table).order_by(table.c.id))).all()
    return [
        {"topic": r.topic, "key": r.key, **json.loads(r.payload)}
        for r in rows
        if not r.topic.endswith("dlq.v1")
    ]


async def stored(service: MatchingService, status: MatchStatus | None = None) -> list[MatchRecord]:
    records, _ = await service.list_matches(
        MatchScope(everything=True), status=status, enterprise_id=None, limit=100, after=None
    )
    return sorted(records, key=lambda r: (r.offer_id, r.demand_id))


async def test_catalog_facts_in_proposal_out_through_the_outbox(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed_market(catalog, consumer)
    assert consumer.stats.handled == 7
    assert consumer.stats.dead_lettered == 0
    assert service.changed.is_set()

    report = await service.reoptimise()

    assert (report.proposed, report.superseded, report.kept) == (1, 0, 0)
    # The round's time, and its planning and write phases within it (logged per round).
    assert 0 < report.planning_seconds < report.seconds
    assert 0 < report.writing_seconds < report.seconds - report.planning_seconds
    [match] = await stored(service)
    assert match.id == derived_id("match", "slag-1", "cement-demand", 0)
    assert match.status is MatchStatus.PROPOSED
    assert (match.supplier_enterprise_id, match.recycler_enterprise_id) == ("steel", "cement")
    assert match.tonnes == Decimal("120.500")
    assert Decimal(40) < match.distance_km < Decimal(45)
    # transport CO2e = t × km × factor, avoided = t × the slag factor
    assert match.freight_factor_key == "freight_road_diesel_truck_30t_cn"
    assert match.co2e_kg == (
        match.tonnes * match.distance_km * match.freight_factor_kg_per_tkm
    ).quantize(Decimal("0.001"))
    assert match.avoided_co2e_kg == Decimal("120.500") * 668
    assert match.licence_id == "cement-lic"
    assert match.licence_year == 2026
    assert (str(match.window_from), str(match.window_until)) == ("2026-12-01", "2027-01-31")
    # The places by district, read for this round's proposals; the parties unnamed (the
    # catalog shows neither the other's enterprise or site).
    assert "from a site in 青山区 to a site in 江夏区" in match.explanation
    for name in ("Wuhan Steel", "steel-site", "Jiangxia Cement", "cement-site"):
        assert name not in match.explanation
    assert "kg CO2e" in match.explanation
    [event] = await outbox(uow_factory)
    assert event["topic"] == "matching.match-proposed.v1"
    assert event["key"] == match.id
    assert event["subject"] == match.id
    assert event["type"] == "matching.match-proposed"
    assert event["data"]["matchId"] == match.id
    assert event["data"]["status"] == "PROPOSED"
    assert event["data"]["tonnes"] == "120.500"
    assert event["data"]["licenceId"] == "cement-lic"


async def test_unchanged_proposals_are_kept_not_churned(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed_market(catalog, consumer)
    await service.reoptimise()
    before = await stored(service)

    again = await service.reoptimise()

    assert (again.proposed, again.superseded, again.kept) == (0, 0, 1)
    assert await stored(service) == before
    assert len(await outbox(uow_factory)) == 1


async def test_equal_lots_arriving_do_not_displace_the_lot_proposed(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # The cement plant takes 120.5 t; every lot of the steel works is 120.5 t and costs the
    # same per tonne to send, so each round's optimum could take any of them.
    await seed_market(catalog, consumer, offer="slag-0", intake="120.500")
    first = await service.reoptimise()
    [proposal] = await stored(service, MatchStatus.PROPOSED)
    assert (first.proposed, proposal.offer_id) == (1, "slag-0")

    for lot in range(1, 6):
        await catalog.feed(
            consumer,
            catalog.offer(f"slag-{lot}", "steel", "steel-site", QINGSHAN_STEEL, tonnes="120.500"),
        )
        report = await service.reoptimise()
        assert (report.proposed, report.superseded, report.kept) == (0, 0, 1), lot

    assert await stored(service, MatchStatus.PROPOSED) == [proposal]


async def test_a_round_that_only_adds_offers_builds_on_the_last_allocation(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_market(catalog, consumer)  # 500 t of intake, 120.5 t of slag
    first = await service.reoptimise()
    assert (first.proposed, first.grown) == (1, False)

    await catalog.feed(
        consumer, catalog.offer("slag-2", "steel", "steel-site", QINGSHAN_STEEL, tonnes="30.000")
    )
    grown = await service.reoptimise()
    assert (grown.proposed, grown.superseded, grown.kept, grown.grown) == (1, 0, 1, True)
    assert grown.matched_tonnes == Decimal("150.500")

    # A full round of the same market keeps both: the growth was the full round's answer.
    service._growth = None
    full = await service.reoptimise()
    assert (full.proposed, full.superseded, full.kept, full.grown) == (0, 0, 2, False)

    # Another writer (an acceptance elsewhere): the next round plans the whole market.
    [slag_2] = [m for m in await stored(service) if m.offer_id == "slag-2"]
    other = MatchingService(service.uow_factory, MatchingSettings(), clock=fixed_clock)
    await other.accept(slag_2.id, Party.SUPPLIER)
    await catalog.feed(
        consumer, catalog.offer("slag-3", "steel", "steel-site", QINGSHAN_STEEL, tonnes="10.000")
    )
    after = await service.reoptimise()
    assert (after.proposed, after.grown) == (1, False)
    # And one that then only adds offers grows again.
    await catalog.feed(
        consumer, catalog.offer("slag-4", "steel", "steel-site", QINGSHAN_STEEL, tonnes="10.000")
    )
    again = await service.reoptimise()
    assert (again.proposed, again.grown) == (1, True)
    # A lot the intake left cannot take whole: the round re-solves what it contests
    # (here every lot of four, which the share limit would leave to a full round).
    monkeypatch.setattr(contest, "MAX_CONTESTED_SHARE", 1.0)
    await catalog.feed(
        consumer, catalog.offer("slag-5", "steel", "steel-site", QINGSHAN_STEEL, tonnes="400.000")
    )
    contested = await service.reoptimise()
    assert (contested.grown, contested.contested) == (True, True)
    assert contested.matched_tonnes + contested.unmatched_tonnes == Decimal("540.500")
    assert contested.matched_tonnes == Decimal("470.000")  # 500 t less slag-2's 30 accepted
    assert (service.totals.grown, service.totals.contested) == (3, 1)


async def test_a_closer_demand_supersedes_the_proposal(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed_market(catalog, consumer)
    await service.reoptimise()
    [first] = await stored(service)
    await add_nearer_recycler(catalog, consumer)

    report = await service.reoptimise()

    assert (report.proposed, report.superseded) == (1, 1)
    old = await service.get(first.id)
    assert old is not None
    assert old.status is MatchStatus.SUPERSEDED
    [new] = await stored(service, MatchStatus.PROPOSED)
    assert new.demand_id == "bricks-demand"
    assert new.distance_km < first.distance_km
    assert {a.demand_id: a.reason for a in new.alternatives} == {"cement-demand": "COSTLIER"}
    events = await outbox(uow_factory)
    assert [e["type"] for e in events] == [
        "matching.match-proposed",
        "matching.match-superseded",
        "matching.match-proposed",
    ]
    assert events[1]["data"]["matchId"] == first.id
    assert events[1]["data"]["status"] == "SUPERSEDED"
    assert events[1]["data"]["replacedBy"] == [new.id]


@pytest.mark.parametrize(
    "accepted_after",
    [
        # The round's read of the proposals it supersedes finds the new version.
        pytest.param("generations", id="before-the-round-read-it"),
        # The round read the version it planned on: its write's compare-and-set finds the new.
        pytest.param("matches_by_id", id="after-the-round-read-it"),
    ],
)
async def test_a_proposal_accepted_while_a_round_plans_is_kept_not_superseded(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
    accepted_after: str,
) -> None:
    """The round planned on a snapshot; the supplier accepted before it wrote: the round
    must not supersede the accepted match, and goes again on the new market."""
    await seed_market(catalog, consumer)
    await service.reoptimise()
    [first] = await stored(service)
    await add_nearer_recycler(catalog, consumer)
    read = getattr(repo, accepted_after)
    attempts = []

    async def accept_after_the_first_read(*args: Any) -> Any:
        found = await read(*args)
        attempts.append(found)
        if len(attempts) == 1:  # the first attempt, after it planned, before it wrote
            await service.accept(first.id, Party.SUPPLIER)
        return found

    monkeypatch.setattr(repo, accepted_after, accept_after_the_first_read)

    report = await service.reoptimise()

    assert len(attempts) == 2  # the first attempt saw the conflict and the round went again
    assert service.totals.conflicts == 1
    if accepted_after == "matches_by_id":
        assert attempts[0][first.id].status is MatchStatus.PROPOSED  # read before the accept
    assert report.superseded == 0
    kept = await service.get(first.id)
    assert kept is not None
    assert kept.status is MatchStatus.ACCEPTED_BY_SUPPLIER
    assert await stored(service, MatchStatus.SUPERSEDED) == []


async def test_statuses_are_written_only_where_the_version_read_is_still_stored(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await seed_market(catalog, consumer)
    await catalog.feed(
        consumer, catalog.offer("slag-2", "steel", "steel-site", QINGSHAN_STEEL, tonnes="50")
    )
    await service.reoptimise()
    proposals = await stored(service, MatchStatus.PROPOSED)
    assert len(proposals) == 2
    current, stale = proposals[0], proposals[1]
    later = NOW + timedelta(hours=1)
    superseded = [
        replace(record, status=MatchStatus.SUPERSEDED, updated_at=later, version=version)
        for record, version in ((current, current.version + 1), (stale, stale.version))
    ]
    async with uow_factory() as uow:
        assert await repo.update_statuses(uow.session, superseded) == 1
        await uow.commit()
    written, untouched = await service.get(current.id), await service.get(stale.id)
    assert written is not None
    assert untouched is not None
    assert (written.status, written.version) == (MatchStatus.SUPERSEDED, current.version + 1)
    assert written.updated_at.replace(tzinfo=None) == later.replace(tzinfo=None)
    assert written.offer_id == current.offer_id  # nothing but status, time and version
    assert untouched == stale


async def test_a_withdrawn_offer_takes_its_proposals_away(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    await seed_market(catalog, consumer)
    await service.reoptimise()
    await catalog.feed(consumer, catalog.offer_withdrawn("slag-1", "steel"))

    report = await service.reoptimise()

    assert (report.proposed, report.superseded) == (0, 1)
    assert await stored(service, MatchStatus.PROPOSED) == []


async def test_status_of_a_listing_follows_the_highest_version(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    await seed_market(catalog, consumer)
    # withdrawn (v3) arrives before an older update (v2) saying OPEN: withdrawn stays
    await catalog.feed(consumer, catalog.offer_withdrawn("slag-1", "steel", version=3))
    await catalog.feed(consumer, catalog.offer_updated("slag-1", "steel", "OPEN", "120.5", 2))
    await service.reoptimise()
    assert await stored(service) == []


async def test_split_offer_and_generation_ids_after_supersede(
    service: MatchingService,
    consumer: EventConsumer,
    catalog: Catalog,
    uow_factory: UnitOfWorkFactory,
) -> None:
    """An offer larger than the nearest demand is split across recyclers; a pair proposed
    again after being superseded gets the next generation's id."""
    await seed_market(catalog, consumer)
    await add_nearer_recycler(catalog, consumer, tonnes="100")
    await service.reoptimise()
    proposals = await stored(service, MatchStatus.PROPOSED)
    assert {(m.demand_id, m.tonnes) for m in proposals} == {
        ("bricks-demand", Decimal("100.000")),
        ("cement-demand", Decimal("20.500")),
    }
    async with uow_factory() as uow:
        generations = await repo.generations(uow.session, [("slag-1", "cement-demand")])
    assert generations == {("slag-1", "cement-demand"): 1}


def stopped_at(moment: datetime) -> Callable[[], datetime]:
    """A clock that always reads `moment`."""
    return lambda: moment


async def post_second_lot(
    catalog: Catalog, consumer: EventConsumer, window: tuple[date, date]
) -> None:
    """Another 120.5 t lot of the seeded steel works, listed for `window`."""
    await catalog.feed(
        consumer,
        catalog.offer(
            "slag-2",
            "steel",
            "steel-site",
            QINGSHAN_STEEL,
            tonnes="120.500",
            available_from=window[0],
            available_until=window[1],
        ),
    )


async def test_a_proposal_accepted_in_a_new_year_uses_that_years_licensed_tonnage(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # The licence allows 120.5 t a year: one lot proposed on 31 December, a second lot on
    # 2 January, then the first accepted. Both in 2027 would be twice the licence.
    await seed_market(catalog, consumer, licensed="120.500")
    service.clock = lambda: datetime(2026, 12, 31, 1, tzinfo=UTC)
    await service.reoptimise()
    (first,) = await stored(service, MatchStatus.PROPOSED)
    assert first.licence_year == 2026
    service.clock = lambda: datetime(2027, 1, 2, 1, tzinfo=UTC)
    await post_second_lot(catalog, consumer, (date(2026, 12, 1), date(2027, 1, 31)))
    await service.reoptimise()
    accepted = await service.accept(first.id, Party.SUPPLIER)
    assert accepted.licence_year == 2027
    await service.reoptimise()
    live = [m for m in await stored(service) if m.status is not MatchStatus.SUPERSEDED]
    assert [(m.offer_id, m.tonnes) for m in live] == [("slag-1", Decimal("120.500"))]


async def test_an_acceptance_at_midnight_commits_the_year_of_its_own_moment(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # A clock that moves on a second each time it is read, from 23:59:58 on 31 December in
    # China: the acceptance is judged on one day, whatever its reads of the clock cross.
    await seed_market(catalog, consumer, licensed="120.500")
    service.clock = stopped_at(datetime(2026, 12, 30, 1, tzinfo=UTC))
    await service.reoptimise()
    (proposal,) = await stored(service, MatchStatus.PROPOSED)
    ticks = iter(range(10_000))
    midnight = datetime(2026, 12, 31, 16, tzinfo=UTC)  # 00:00 on 1 January in China
    service.clock = lambda: midnight + timedelta(seconds=next(ticks) - 2)
    accepted = await service.accept(proposal.id, Party.SUPPLIER)
    assert accepted.supplier_accepted_at is not None
    assert accepted.licence_year == china_day(accepted.supplier_accepted_at).year == 2026


async def test_tonnage_promised_for_next_year_is_not_promised_again(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    # 120.5 t a year: a lot shipping in January 2027 is confirmed in December 2026; a second
    # lot for January, proposed in December or in January, finds the licence full.
    january = (date(2027, 1, 5), date(2027, 1, 31))
    await seed_market(catalog, consumer, licensed="120.500", window=january)
    service.clock = lambda: datetime(2026, 12, 15, 1, tzinfo=UTC)
    await service.reoptimise()
    (first,) = await stored(service, MatchStatus.PROPOSED)
    assert first.licence_year == 2027
    await service.accept(first.id, Party.SUPPLIER)
    await service.accept(first.id, Party.RECYCLER)
    await post_second_lot(catalog, consumer, january)
    for day in (datetime(2026, 12, 16, 1, tzinfo=UTC), datetime(2027, 1, 2, 1, tzinfo=UTC)):
        service.clock = stopped_at(day)
        await service.reoptimise()
        assert [m.offer_id for m in await stored(service, MatchStatus.PROPOSED)] == []


async def test_a_catalog_fact_no_round_could_plan_with_is_parked_not_stored(
    service: MatchingService, consumer: EventConsumer, catalog: Catalog
) -> None:
    """Stored, one such fact failed every round after it, for the whole city, for ever."""
    await seed_market(catalog, consumer)
    late, early = date(2027, 1, 31), date(2026, 12, 1)
    steel = ("steel", "steel-site")
    await catalog.feed(
        consumer,
        catalog.offer(
            "backwards", *steel, QINGSHAN_STEEL, available_from=late, available_until=early
        ),
        catalog.offer("off-globe", *steel, (Decimal(91), Decimal(114))),
        catalog.offer("too-much", *steel, QINGSHAN_STEEL, tonnes="1E+12"),
        catalog.demand("no-radius", "cement", "cement-site", JIANGXIA_CEMENT, max_km="0"),
        catalog.licence("odd-type", "cement", ["SW01"], licence_type="WHATEVER"),
        catalog.licence("no-days", "cement", ["SW01"], valid_from=late, valid_until=early),
    )
    assert consumer.stats.dead_lettered == 6
    report = await service.reoptimise()  # the market plans as before
    assert report.proposed == 1
