"""Properties every allocation has, whatever the city: capacities and licences hold."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_matching.domain import (
    AllocationResult,
    MatchingParams,
    allocate,
    apply_fixed,
    assess_pair,
    greedy_nearest_first,
    greedy_shortest_edge_first,
)
from wastex_matching.domain.model import covered_until
from wastex_shared.codes import is_hazardous

from .conftest import cities

TODAY = date(2026, 12, 1)
KILOGRAM = Decimal("0.001")

ALLOCATORS: dict[str, Callable[..., AllocationResult]] = {
    "min-cost flow": allocate,
    "greedy nearest-first": greedy_nearest_first,
    "greedy shortest-edge-first": greedy_shortest_edge_first,
}


def run(city: Callable[..., Any], spec: dict[str, Any], name: str, road: float) -> tuple[Any, Any]:
    c = city(with_fixed=True, **spec)
    params = MatchingParams(road_factor=road)
    result: AllocationResult = ALLOCATORS[name](
        c.offers, c.demands, c.licences, today=TODAY, fixed=c.fixed, params=params
    )
    return c, result


@settings(max_examples=120, deadline=None)
@given(spec=cities, name=st.sampled_from(sorted(ALLOCATORS)), road=st.sampled_from([1.0, 1.35]))
def test_allocation_never_exceeds_any_offer_demand_or_licence(
    city: Callable[..., Any], spec: dict[str, Any], name: str, road: float
) -> None:
    c, result = run(city, spec, name, road)
    net = apply_fixed(c.offers, c.demands, c.licences, c.fixed, TODAY)
    per_offer: dict[str, Decimal] = defaultdict(Decimal)
    per_demand: dict[str, Decimal] = defaultdict(Decimal)
    per_licence: dict[str, Decimal] = defaultdict(Decimal)
    for match in result.matches:
        assert match.tonnes > 0
        assert match.tonnes == match.tonnes.quantize(KILOGRAM)
        per_offer[match.offer_id] += match.tonnes
        per_demand[match.demand_id] += match.tonnes
        per_licence[match.licence_id] += match.tonnes
    for offer in net.offers:
        left = result.unmatched_tonnes.get(offer.offer_id, Decimal(0))
        assert per_offer[offer.offer_id] + left == offer.remaining_tonnes  # every tonne accounted
    for demand in net.demands:
        assert per_demand[demand.demand_id] <= demand.remaining_tonnes
    for licence in net.licences:
        assert per_licence[licence.licence_id] <= licence.remaining_tonnes


@settings(max_examples=120, deadline=None)
@given(spec=cities, name=st.sampled_from(sorted(ALLOCATORS)), road=st.sampled_from([1.0, 1.35]))
def test_allocation_never_pairs_an_unpermitted_code(
    city: Callable[..., Any], spec: dict[str, Any], name: str, road: float
) -> None:
    c, result = run(city, spec, name, road)
    net = apply_fixed(c.offers, c.demands, c.licences, c.fixed, TODAY)
    offers = {o.offer_id: o for o in net.offers}
    demands = {d.demand_id: d for d in net.demands}
    licences = {lic.licence_id: lic for lic in net.licences}
    for match in result.matches:
        offer, demand = offers[match.offer_id], demands[match.demand_id]
        licence = licences[match.licence_id]
        verdict = assess_pair(offer, demand, net.licences, TODAY, road_factor=road)
        assert verdict.feasible, verdict.message
        assert match.licence_id in verdict.usable_licence_ids
        assert licence.enterprise_id == demand.enterprise_id
        assert match.waste_code == offer.waste_code in demand.waste_codes
        assert match.waste_code in licence.waste_codes
        if is_hazardous(match.waste_code):
            assert licence.licence_type == "HAZARDOUS_WASTE_OPERATING"
        assert verdict.transfer_window is not None
        # Valid on the first day; to the last, alone or with what continues it (decision 031).
        assert licence.valid_on(verdict.transfer_window.start)
        assert verdict.transfer_window.end <= covered_until(licence, match.waste_code, net.licences)
        assert match.distance_km <= demand.max_distance_km
