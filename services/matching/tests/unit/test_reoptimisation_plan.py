"""Re-optimisation announces only what changed: keep, supersede, propose."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from wastex_matching.domain import (
    AllocationResult,
    ProposalIndex,
    ProvisionalMatch,
    ReoptimisationPlan,
    Route,
    allocate,
    plan_reoptimisation,
)
from wastex_shared.units import from_kilograms

TODAY = date(2026, 12, 1)
JIANGXIA = (30.380, 114.320)


def stored(
    match_id: str, offer: str, demand: str, amount: str, licence: str = "licence-1"
) -> ProvisionalMatch:
    return ProvisionalMatch(
        match_id=match_id,
        offer_id=offer,
        demand_id=demand,
        tonnes=Decimal(amount),
        licence_id=licence,
    )


def far_and_near(make: Any) -> tuple[Any, Any, list[Any]]:
    """A recycler in Jiangxia and a nearer one, each licensed for the offers' code."""
    far = make.demand("far", enterprise="r-far", at=JIANGXIA)
    near = make.demand("near", enterprise="r-near")
    licences = [
        make.licence("l-far", enterprise="r-far"),
        make.licence("l-near", enterprise="r-near"),
    ]
    return far, near, licences


def test_an_unchanged_route_is_kept_not_re_announced(make: Any) -> None:
    result = allocate([make.offer()], [make.demand()], [make.licence()], today=TODAY)
    plan = plan_reoptimisation([stored("m1", "offer-1", "demand-1", "100")], result)
    assert plan.kept == ("m1",)
    assert plan.supersede == ()
    assert plan.propose == ()


def test_a_changed_tonnage_supersedes_the_old_proposal_and_proposes_the_new(make: Any) -> None:
    result = allocate([make.offer(amount=80)], [make.demand()], [make.licence()], today=TODAY)
    plan = plan_reoptimisation([stored("m1", "offer-1", "demand-1", "100")], result)
    assert [m.match_id for m in plan.supersede] == ["m1"]
    assert [(m.demand_id, m.tonnes) for m in plan.propose] == [("demand-1", Decimal("80.000"))]
    assert plan.propose == result.routes


def test_the_same_route_under_another_licence_supersedes_the_proposal(make: Any) -> None:
    # The recycler's first licence expired: the same tonnes now go under its second one,
    # and an acceptance must count them against that one.
    # (Ended yesterday: one still valid today would carry the pair with "new" continuing it.)
    licences = [make.licence("old", valid_until=TODAY - timedelta(days=1)), make.licence("new")]
    result = allocate([make.offer()], [make.demand()], licences, today=TODAY)
    assert [r.licence_id for r in result.routes] == ["new"]
    plan = plan_reoptimisation([stored("m1", "offer-1", "demand-1", "100", "old")], result)
    assert [m.match_id for m in plan.supersede] == ["m1"]
    assert plan.propose == result.routes


def test_a_nearer_recycler_arriving_moves_the_proposal(make: Any) -> None:
    far, near, licences = far_and_near(make)
    before = allocate([make.offer()], [far], licences, today=TODAY).matches
    assert [m.demand_id for m in before] == ["far"]
    after = allocate([make.offer()], [far, near], licences, today=TODAY)
    plan = plan_reoptimisation([stored("m1", "offer-1", "far", "100")], after)
    assert [m.match_id for m in plan.supersede] == ["m1"]
    assert [m.demand_id for m in plan.propose] == ["near"]


def test_proposals_of_a_withdrawn_offer_are_superseded(make: Any) -> None:
    nothing = allocate([], [make.demand()], [make.licence()], today=TODAY)
    plan: ReoptimisationPlan = plan_reoptimisation(
        [stored("m2", "gone", "d2", "7"), stored("m1", "gone", "demand-1", "5")], nothing
    )
    assert [m.match_id for m in plan.supersede] == ["m1", "m2"]
    assert plan.kept == ()


def test_duplicate_stored_routes_keep_one_and_supersede_the_other(make: Any) -> None:
    result = allocate([make.offer()], [make.demand()], [make.licence()], today=TODAY)
    plan = plan_reoptimisation(
        [stored("m2", "offer-1", "demand-1", "100"), stored("m1", "offer-1", "demand-1", "100")],
        result,
    )
    assert plan.kept == ("m1",)
    assert [m.match_id for m in plan.supersede] == ["m2"]


def reference_plan(
    provisional: Iterable[ProvisionalMatch], routes: Iterable[Route]
) -> tuple[list[str], list[str], list[Route]]:
    """The rule, one route at a time: each route keeps the lowest-id stored proposal of its
    (offer, demand, licence, kilograms) not kept already, or is proposed."""
    waiting = sorted(provisional, key=lambda m: m.match_id)
    kept: list[str] = []
    propose: list[Route] = []
    for route in routes:
        same = (route.offer_id, route.demand_id, route.licence_id, route.kilograms)
        match = next(
            (m for m in waiting if (m.offer_id, m.demand_id, m.licence_id, m.kilograms) == same),
            None,
        )
        if match is None:
            propose.append(route)
        else:
            waiting.remove(match)
            kept.append(match.match_id)
    return kept, [m.match_id for m in waiting], propose


def scrambled_proposals(result: AllocationResult, rng: random.Random) -> list[ProvisionalMatch]:
    """Proposals as a round would find them: most routes stored as they are, some with
    another weight or licence, some twice, some for listings no longer open."""
    proposals = []
    for n, route in enumerate(result.routes):
        roll = rng.random()
        kilograms = route.kilograms + (rng.randint(1, 500) if roll < 0.15 else 0)
        licence = "another-licence" if 0.15 <= roll < 0.2 else route.licence_id
        copies = 2 if roll > 0.9 else (0 if 0.8 < roll <= 0.85 else 1)
        for copy in range(copies):
            proposals.append(
                ProvisionalMatch(
                    match_id=f"m{rng.randint(0, 10**6):07d}-{n}-{copy}",
                    offer_id=route.offer_id,
                    demand_id=route.demand_id,
                    tonnes=from_kilograms(kilograms),
                    licence_id=licence,
                )
            )
    proposals += [stored(f"m-gone-{i}", f"gone-{i}", "demand-x", "1") for i in range(5)]
    rng.shuffle(proposals)
    return proposals


def test_the_plan_follows_the_rule_one_route_at_a_time(city: Callable[..., Any]) -> None:
    seen = {"kept": 0, "superseded": 0, "proposed": 0}
    for seed in range(12):
        rng = random.Random(seed)
        c = city(seed, 60, 12, tightness=1.0)
        result = allocate(c.offers, c.demands, c.licences, today=TODAY)
        assert result.routes
        proposals = scrambled_proposals(result, rng)
        plan = plan_reoptimisation(ProposalIndex.of(proposals), result)
        kept, superseded, propose = reference_plan(proposals, result.routes)
        assert list(plan.kept) == kept
        assert [m.match_id for m in plan.supersede] == superseded
        assert list(plan.propose) == propose
        seen["kept"] += len(kept)
        seen["superseded"] += len(superseded)
        seen["proposed"] += len(propose)
    assert min(seen.values()) > 20, seen  # every branch of the rule was exercised


def test_an_index_changed_by_a_round_equals_one_built_afresh() -> None:
    a, b = stored("m1", "offer-1", "demand-1", "5"), stored("m3", "offer-1", "demand-1", "5")
    c, d = stored("m2", "offer-2", "demand-1", "7"), stored("m0", "offer-1", "demand-1", "5")
    e = stored("m4", "offer-3", "demand-2", "9")
    before = ProposalIndex.of([b, a, c])
    after = before.changed(removed=["m2", "m3"], added=[e, d])
    fresh = ProposalIndex.of([a, d, e])
    assert (
        after.rows()
        == fresh.rows()
        == [
            ("m0", "offer-1", "demand-1", 5000),
            ("m1", "offer-1", "demand-1", 5000),
            ("m4", "offer-3", "demand-2", 9000),
        ]
    )
    assert sorted(m.match_id for m in after) == ["m0", "m1", "m4"]
    assert [row[0] for row in before.rows()] == ["m1", "m2", "m3"]  # the old one is unchanged
    assert len(before) == 3
    assert after.changed(added=[stored("m1", "offer-9", "demand-9", "1")]).rows()[1] == (
        "m1",
        "offer-9",
        "demand-9",
        1000,
    )  # added again under its id: it replaces the proposal of that id


def test_an_index_changed_round_after_round_equals_one_built_afresh() -> None:
    rng = random.Random(5)
    live: dict[str, ProvisionalMatch] = {}
    index = ProposalIndex.of([])
    for round_no in range(30):
        removed = rng.sample(sorted(live), k=min(len(live), rng.randint(0, 6)))
        added = [
            stored(f"m{rng.randint(0, 400):03d}", f"offer-{rng.randint(0, 9)}", "d", "1")
            for _ in range(rng.randint(0, 8))
        ]
        index = index.changed(removed=removed, added=added)
        for match_id in removed:
            del live[match_id]
        live.update((m.match_id, m) for m in added)
        assert index.rows() == ProposalIndex.of(live.values()).rows(), round_no
        assert len(index) == len(live)


def test_positions_in_listings_follow_the_index_round_after_round(
    city: Callable[..., Any],
) -> None:
    """An index derived round after round places its proposals' offers, demands and
    licences where one built afresh does (ids no longer listed at -1), and deriving a new
    index leaves the older one's answers as they were."""
    c = city(3, 40, 10)
    net = allocate(c.offers, c.demands, c.licences, today=TODAY).net
    offers = [*net.offer_ids, "offer-gone"]
    demands = [*net.demand_ids, "demand-gone"]
    licences = [*(licence.licence_id for licence in net.licences), "licence-gone", None]
    rng = random.Random(9)
    live: dict[str, ProvisionalMatch] = {}
    index = ProposalIndex.of([])
    for round_no in range(25):
        older, older_positions = index, [p.tolist() for p in index.positions_in(net)]
        removed = rng.sample(sorted(live), k=min(len(live), rng.randint(0, 5)))
        added = [
            ProvisionalMatch(
                match_id=f"m{rng.randint(0, 300):03d}",
                offer_id=rng.choice(offers),
                demand_id=rng.choice(demands[: 2 + round_no]),  # new demands keep coming
                tonnes=Decimal(1),
                licence_id=rng.choice(licences),
            )
            for _ in range(rng.randint(0, 8))
        ]
        index = index.changed(removed=removed, added=added)
        for match_id in removed:
            del live[match_id]
        live.update((m.match_id, m) for m in added)
        fresh = ProposalIndex.of(live.values())
        derived, afresh = index.positions_in(net), fresh.positions_in(net)
        assert [p.tolist() for p in derived] == [p.tolist() for p in afresh], round_no
        again = replace(net)  # the same listings, not the object an index's answer is kept for
        assert [p.tolist() for p in older.positions_in(again)] == older_positions, round_no
    assert len(live) > 20
    assert set(afresh[1].tolist()) >= {-1, 0, 1}  # listed demands and a gone one were placed
