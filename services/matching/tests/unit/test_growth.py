"""A round that only adds offers builds on the last allocation (`growth.Growth`): when it
does, it allocates exactly as a full round with the proposals standing would."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_matching.domain import MatchingParams, allocate
from wastex_matching.domain.growth import Growth, Refused
from wastex_matching.domain.model import AllocationResult
from wastex_matching.domain.optimiser import allocate_growing
from wastex_matching.domain.reoptimise import ProposalIndex, ProvisionalMatch

from .conftest import HANNAN, TODAY, random_city

PARAMS = MatchingParams()


def standing(result: AllocationResult) -> ProposalIndex:
    return ProposalIndex.of(
        ProvisionalMatch.of(f"m{k:04d}", r) for k, r in enumerate(result.routes)
    )


def same_allocation(a: AllocationResult, b: AllocationResult) -> bool:
    columns = ("offer", "demand", "licence", "kilograms", "metres")
    return (
        all(np.array_equal(getattr(a.table, c), getattr(b.table, c)) for c in columns)
        and a.unmatched_tonnes == b.unmatched_tonnes
        and a.kilograms_by_demand == b.kilograms_by_demand
        and a.kilograms_by_licence == b.kilograms_by_licence
    )


GROWN: list[bool] = []


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.tuples(st.integers(1, 30), st.integers(0, 8), st.integers(0, 8)),
    n_demands=st.integers(1, 10),
    tightness=st.sampled_from([0.5, 1.0, 3.0, 10.0]),
)
def test_offers_added_are_allocated_as_a_full_round_would(
    seed: int, sizes: tuple[int, int, int], n_demands: int, tightness: float
) -> None:
    first, second, third = sizes
    city = random_city(
        seed,
        first + second + third,
        n_demands,
        tightness=tightness,
        shared_sites=0.0,
        with_fixed=True,
    )
    market: dict[str, Any] = dict(demands=city.demands, licences=city.licences, fixed=city.fixed)
    result, growth = allocate_growing(city.offers[:first], **market, today=TODAY)
    for upto in (first + second, first + second + third):
        offers = city.offers[:upto]
        full = allocate(offers, **market, today=TODAY, standing=standing(result))
        grown: tuple[AllocationResult, Growth] | Refused = Refused.MARKET_CHANGED
        if growth is not None:
            grown = growth.added(
                offers, **market, today=TODAY, params=PARAMS, excluded_pairs=frozenset()
            )
        GROWN.append(not isinstance(grown, Refused))
        if isinstance(grown, Refused):
            result, growth = allocate_growing(
                offers, **market, today=TODAY, standing=standing(result)
            )
            continue
        assert same_allocation(grown[0], full)
        assert grown[0].objective_co2e_kg == full.objective_co2e_kg
        result, growth = grown


def test_the_growth_property_grew_often_enough() -> None:
    # Run after the property (file order): it must have exercised growth, not only refusals.
    assert sum(GROWN) >= 30, (sum(GROWN), len(GROWN))


def test_anything_but_added_offers_plans_the_whole_market(make: Any) -> None:
    offers = [make.offer("o1", amount=10)]
    demands = [make.demand(amount=1000)]
    licences = [make.licence(annual=1000)]
    _, growth = allocate_growing(offers, demands, licences, today=TODAY)
    assert growth is not None
    more = [*offers, make.offer("o2", amount=10)]
    same: dict[str, Any] = dict(today=TODAY, fixed=(), params=PARAMS, excluded_pairs=frozenset())
    assert not isinstance(growth.added(more, demands, licences, **same), Refused)
    # A demand changed, an offer gone or replaced, an id twice: the full round.
    fewer_tonnes = [make.demand(amount=999)]
    assert growth.added(more, fewer_tonnes, licences, **same) is Refused.MARKET_CHANGED
    assert growth.added([more[1]], demands, licences, **same) is Refused.OFFER_CHANGED
    replaced = [make.offer("o1", amount=10), more[1]]
    assert growth.added(replaced, demands, licences, **same) is Refused.OFFER_CHANGED
    twice = [*offers, make.offer("o1", amount=5)]
    assert growth.added(twice, demands, licences, **same) is Refused.ID_REPEATED
    # Nothing at all changed (a round woken by a status that changed nothing): the same.
    unchanged = growth.added(offers, demands, licences, **same)
    assert not isinstance(unchanged, Refused)
    assert same_allocation(unchanged[0], allocate(offers, demands, licences, today=TODAY))


def test_a_newcomer_that_fills_a_demand_plans_the_whole_market(make: Any) -> None:
    demands = [make.demand(amount=25)]
    licences = [make.licence(annual=1000)]
    offers = [make.offer("o1", amount=10)]
    _, growth = allocate_growing(offers, demands, licences, today=TODAY)
    assert growth is not None
    same: dict[str, Any] = dict(today=TODAY, fixed=(), params=PARAMS, excluded_pairs=frozenset())
    roomy = growth.added([*offers, make.offer("o2", amount=10)], demands, licences, **same)
    assert not isinstance(roomy, Refused)
    # 10 + 15 t fills the 25 t demand: its capacity may now carry a price.
    filling = [*offers, make.offer("o2", amount=15)]
    assert growth.added(filling, demands, licences, **same) is Refused.CAPACITY_FILLED
    # A newcomer its demand cannot take whole, and one reaching a pair never seen.
    too_big = [*offers, make.offer("o2", amount=30)]
    assert growth.added(too_big, demands, licences, **same) is Refused.EDGE_TOO_SMALL


def test_a_newcomer_reaching_a_demand_no_offer_reached_plans_the_whole_market(
    make: Any,
) -> None:
    # The far site takes offers within 5 km of Hannan only: no edge of it until one comes.
    demands = [make.demand("near"), make.demand("far", at=HANNAN, radius_km=5)]
    licences = [make.licence()]
    offers = [make.offer("o1", amount=10)]
    _, growth = allocate_growing(offers, demands, licences, today=TODAY)
    assert growth is not None
    same: dict[str, Any] = dict(today=TODAY, fixed=(), params=PARAMS, excluded_pairs=frozenset())
    nearby = [*offers, make.offer("o2", amount=10, at=HANNAN)]
    assert growth.added(nearby, demands, licences, **same) is Refused.NEW_PAIR
