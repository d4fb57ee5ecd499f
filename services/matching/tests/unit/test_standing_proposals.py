"""Re-allocation keeps standing proposals unless moving them saves more than the margin."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from wastex_matching.domain import (
    AllocationResult,
    MatchingParams,
    ProposalIndex,
    ProvisionalMatch,
    Route,
    allocate,
    apply_fixed,
    plan_reoptimisation,
)
from wastex_shared.errors import DomainError

from .conftest import City, cities

TODAY = date(2026, 12, 1)


def standing(routes: Iterable[Route]) -> ProposalIndex:
    return ProposalIndex.of(ProvisionalMatch.of(f"m{n:05d}", r) for n, r in enumerate(routes))


def pairs(result: AllocationResult) -> list[tuple[str, str, Decimal]]:
    return [(r.offer_id, r.demand_id, r.tonnes) for r in result.routes]


def test_of_two_offers_from_one_site_the_one_already_proposed_keeps_the_intake(
    make: Any,
) -> None:
    # Both lots cost the same per tonne and the recycler takes one: a tie the solver may
    # break either way, unless one of them is already proposed.
    offers = [make.offer("lot-a"), make.offer("lot-b")]
    demand, licence = make.demand(amount=100), make.licence()
    for lot in ("lot-a", "lot-b"):
        proposal = standing([Route(lot, "demand-1", "licence-1", 100_000, 0)])
        result = allocate(offers, [demand], [licence], today=TODAY, standing=proposal)
        assert pairs(result) == [(lot, "demand-1", Decimal("100.000"))]


def test_a_recycler_clearly_nearer_still_takes_the_offer(make: Any) -> None:
    far = make.demand("far", enterprise="r-far", at=(30.380, 114.320))
    near = make.demand("near", enterprise="r-near")
    licences = [
        make.licence("l-far", enterprise="r-far"),
        make.licence("l-near", enterprise="r-near"),
    ]
    before = allocate([make.offer()], [far], licences, today=TODAY)
    after = allocate(
        [make.offer()], [far, near], licences, today=TODAY, standing=standing(before.routes)
    )
    plan = plan_reoptimisation(standing(before.routes), after)
    assert [m.demand_id for m in plan.supersede] == ["far"]
    assert [r.demand_id for r in plan.propose] == ["near"]


@pytest.mark.parametrize(("margin", "taker"), [(0.001, "first"), (0.0, "second")])
def test_a_recycler_nearer_by_less_than_the_margin_does_not_move_the_proposal(
    make: Any, margin: float, taker: str
) -> None:
    # Two recyclers ~96 km north of the offer; the second is 44 m (0.05 %) nearer.
    first = make.demand("first", enterprise="r-1", at=(31.5000, 114.41), radius_km=100)
    second = make.demand("second", enterprise="r-2", at=(31.4996, 114.41), radius_km=100)
    licences = [make.licence("l-1", enterprise="r-1"), make.licence("l-2", enterprise="r-2")]
    proposal = standing([Route("offer-1", "first", "l-1", 100_000, 0)])
    params = MatchingParams(stability_margin=margin)
    result = allocate(
        [make.offer()], [first, second], licences, today=TODAY, standing=proposal, params=params
    )
    assert [r.demand_id for r in result.routes] == [taker]


def test_a_standing_proposal_of_another_weight_is_kept_up_to_its_weight(make: Any) -> None:
    # lot-a was proposed 60 t; the recycler now takes 100 t of two equal lots: lot-a keeps
    # its 60 t and lot-b fills the rest, rather than any other split of the tie.
    offers = [make.offer("lot-a"), make.offer("lot-b")]
    proposal = standing([Route("lot-a", "demand-1", "licence-1", 60_000, 0)])
    result = allocate(
        offers, [make.demand(amount=100)], [make.licence()], today=TODAY, standing=proposal
    )
    assert pairs(result) == [
        ("lot-a", "demand-1", Decimal("60.000")),
        ("lot-b", "demand-1", Decimal("40.000")),
    ]


def test_proposals_of_listings_or_pairs_no_longer_open_are_ignored(make: Any) -> None:
    proposal = ProposalIndex.of(
        [
            ProvisionalMatch(
                match_id="m1", offer_id="gone", demand_id="demand-1", tonnes=Decimal(5)
            ),
            ProvisionalMatch(
                match_id="m2", offer_id="offer-1", demand_id="gone", tonnes=Decimal(5)
            ),
        ]
    )
    args = ([make.offer()], [make.demand()], [make.licence()])
    assert pairs(allocate(*args, today=TODAY, standing=proposal)) == pairs(
        allocate(*args, today=TODAY)
    )
    rejected = allocate(
        *args,
        today=TODAY,
        standing=standing(allocate(*args, today=TODAY).routes),
        excluded_pairs={("offer-1", "demand-1")},
    )
    assert rejected.routes == ()


@pytest.mark.parametrize("margin", [-0.001, 0.051])
def test_a_margin_out_of_range_is_refused(margin: float) -> None:
    with pytest.raises(DomainError) as refused:
        MatchingParams(stability_margin=margin)
    assert refused.value.field == "stability_margin"


def totals(result: AllocationResult) -> tuple[dict[str, Decimal], ...]:
    per_offer: dict[str, Decimal] = defaultdict(Decimal)
    per_demand: dict[str, Decimal] = defaultdict(Decimal)
    per_licence: dict[str, Decimal] = defaultdict(Decimal)
    for route in result.routes:
        per_offer[route.offer_id] += route.tonnes
        per_demand[route.demand_id] += route.tonnes
        per_licence[route.licence_id or ""] += route.tonnes
    return per_offer, per_demand, per_licence


def within_margin(result: AllocationResult, optimum: AllocationResult, margin: float) -> bool:
    """The bound `MatchingParams.stability_margin` promises (the one unit of discount a
    cheap route gets at least, 1 g per tonne, included), plus integer rounding."""
    bound = optimum.objective_co2e_kg * Decimal(1 + margin / (1 - margin))
    tonnes = sum((r.tonnes for r in result.routes), Decimal(0))
    return result.objective_co2e_kg <= bound + tonnes * Decimal("0.001") + rounding(result, optimum)


@settings(max_examples=150, deadline=None)
@given(spec=cities)
def test_the_same_market_again_keeps_every_proposal(
    city: Callable[..., City], spec: dict[str, Any]
) -> None:
    c = city(with_fixed=True, **spec)
    args = (c.offers, c.demands, c.licences)
    first = allocate(*args, today=TODAY, fixed=c.fixed)
    proposals = standing(first.routes)
    again = allocate(*args, today=TODAY, fixed=c.fixed, standing=proposals)
    plan = plan_reoptimisation(proposals, again)
    assert (plan.supersede, plan.propose) == ((), ())
    assert len(plan.kept) == len(first.routes)


def rounding(*results: AllocationResult) -> Decimal:
    """What integer unit costs may hide: half a gram per tonne on every route of each."""
    tonnes = sum((r.tonnes for result in results for r in result.routes), Decimal(0))
    return tonnes * Decimal("0.0005")


@settings(max_examples=100, deadline=None)
@given(spec=cities)
def test_a_changed_market_with_proposals_standing_stays_feasible_and_near_the_optimum(
    city: Callable[..., City], spec: dict[str, Any]
) -> None:
    c = city(with_fixed=True, **spec)
    # The proposals standing from an earlier market that had half the offers.
    earlier = allocate(
        c.offers[: len(c.offers) // 2 + 1], c.demands, c.licences, today=TODAY, fixed=c.fixed
    )
    margin = 0.01
    params = MatchingParams(stability_margin=margin)
    args = (c.offers, c.demands, c.licences)
    optimum = allocate(*args, today=TODAY, fixed=c.fixed)
    result = allocate(
        *args, today=TODAY, fixed=c.fixed, params=params, standing=standing(earlier.routes)
    )
    net = apply_fixed(*args, c.fixed, TODAY)
    per_offer, per_demand, per_licence = totals(result)
    for offer in net.offers:
        left = result.unmatched_tonnes.get(offer.offer_id, Decimal(0))
        assert per_offer[offer.offer_id] + left == offer.remaining_tonnes
    for demand in net.demands:
        assert per_demand[demand.demand_id] <= demand.remaining_tonnes
    for licence in net.licences:
        assert per_licence[licence.licence_id] <= licence.remaining_tonnes
    assert within_margin(result, optimum, margin)
