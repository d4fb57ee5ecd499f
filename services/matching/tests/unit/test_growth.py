"""A round that only adds offers builds on the last allocation (`growth.Growth`): when it
does, it allocates exactly as a full round with the proposals standing would."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_matching.domain import MatchingParams, allocate, apply_fixed, contest
from wastex_matching.domain.growth import Growth, Refused
from wastex_matching.domain.model import AllocationResult
from wastex_matching.domain.network import (
    edge_unit_costs,
    penalty_unit_cost,
    standing_unit_costs,
)
from wastex_matching.domain.optimiser import allocate_growing
from wastex_matching.domain.reoptimise import ProposalIndex, ProvisionalMatch
from wastex_shared.units import to_kilograms

from .conftest import HANNAN, JIANGXIA, TODAY, random_city

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


def favoured_cost(result: AllocationResult, last: AllocationResult, params: MatchingParams) -> int:
    """What a round minimises, in network units: its routes' cost, a margin less on the kg
    repeating `last`'s routes (the proposals standing), and the penalty on what is left."""
    standing = {(r.offer_id, r.demand_id, r.licence_id): r.kilograms for r in last.routes}
    routes = result.routes
    kilograms = np.array([r.kilograms for r in routes], dtype=np.int64)
    costs = edge_unit_costs(np.array([r.metres for r in routes], dtype=np.int64), params)
    repeated = np.array(
        [
            min(r.kilograms, standing.get((r.offer_id, r.demand_id, r.licence_id), 0))
            for r in routes
        ],
        dtype=np.int64,
    )
    discount = costs - standing_unit_costs(costs, params.stability_margin)
    unmatched = sum(to_kilograms(t) for t in result.unmatched_tonnes.values())
    transport = int((costs * kilograms).sum() - (discount * repeated).sum())
    return transport + penalty_unit_cost(params) * unmatched


GROWN: list[bool] = []
CONTESTED: list[bool] = []


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.tuples(st.integers(1, 30), st.integers(0, 8), st.integers(0, 8)),
    n_demands=st.integers(1, 10),
    tightness=st.sampled_from([0.5, 1.0, 3.0, 10.0]),
    shared_sites=st.sampled_from([0.0, 0.7]),
    one_licence=st.sampled_from([True, True, True, False]),  # growth needs one licence a site
)
def test_offers_added_are_allocated_as_a_full_round_would(
    seed: int,
    sizes: tuple[int, int, int],
    n_demands: int,
    tightness: float,
    shared_sites: float,
    one_licence: bool,
) -> None:
    first, second, third = sizes
    city = random_city(
        seed,
        first + second + third,
        n_demands,
        tightness=tightness,
        shared_sites=shared_sites,
        with_fixed=True,
        one_licence=one_licence,
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
        if growth is None or isinstance(grown, Refused):
            result, growth = allocate_growing(
                offers, **market, today=TODAY, standing=standing(result)
            )
            continue
        CONTESTED.append(grown[0].rounds > 0)
        # An optimum of what the full round minimises (where optima tie, as lots a few
        # metres apart can within the stability margin, it may pick another) ...
        assert favoured_cost(grown[0], result, PARAMS) == favoured_cost(full, result, PARAMS)
        if grown[0].rounds == 0 and not growth.tree.price.any():
            # Nothing re-solved, nothing priced: each newcomer on its first cheapest edge,
            # where a full round settles it. (At a price, a newcomer steered off a full
            # capacity may tie with one displacing an older offer: the costs above agree.)
            assert same_allocation(grown[0], full)
        # ... and still one when it stands in the next round.
        after = allocate(offers, **market, today=TODAY, standing=standing(grown[0]))
        assert favoured_cost(after, grown[0], PARAMS) == favoured_cost(grown[0], grown[0], PARAMS)
        result, growth = grown


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_offers=st.integers(1, 30))
def test_capacities_carried_over_with_newcomers_equal_those_of_the_whole_market(
    seed: int, n_offers: int
) -> None:
    # What `Growth.added` relies on: the fixed matches taken off the offers it had, plus
    # taken off the newcomers alone, are what they take off the whole market.
    city = random_city(seed, n_offers, 4, with_fixed=True)
    is_new = np.random.default_rng(seed).random(n_offers) < 0.4
    offers, fixed = city.offers, city.fixed
    had = apply_fixed(
        [o for o, new in zip(offers, is_new, strict=True) if not new],
        city.demands,
        city.licences,
        fixed,
        TODAY,
    )
    newcomers = [o for o, new in zip(offers, is_new, strict=True) if new]
    carried = had.with_offers(is_new, apply_fixed(newcomers, (), (), fixed, TODAY).offers)
    assert carried == apply_fixed(offers, city.demands, city.licences, fixed, TODAY)


def test_the_growth_property_grew_often_enough() -> None:
    # Run after the property (file order): it must have exercised growth, not only
    # refusals, and re-solved contests, not only placed newcomers where there was room.
    assert sum(GROWN) >= 30, (sum(GROWN), len(GROWN))
    assert sum(CONTESTED) >= 30, (sum(CONTESTED), len(CONTESTED))


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
    # The offers in another order (ties could break otherwise): the full round.
    grown = growth.added(more, demands, licences, **same)
    assert not isinstance(grown, Refused)
    assert grown[1].added(more[::-1], demands, licences, **same) is Refused.OFFER_CHANGED
    # Nothing at all changed (a round woken by a status that changed nothing): the same.
    unchanged = growth.added(offers, demands, licences, **same)
    assert not isinstance(unchanged, Refused)
    assert same_allocation(unchanged[0], allocate(offers, demands, licences, today=TODAY))


def test_newcomers_between_the_offers_allocated_are_placed_as_a_full_round_would(
    make: Any,
) -> None:
    """A round's offers come in id order, so newcomers land anywhere among the others."""
    first, second, third = (make.offer(f"o{k}", amount=10 * k) for k in (1, 2, 3))
    demands, licences = [make.demand(amount=1000)], [make.licence(annual=1000)]
    same: dict[str, Any] = dict(today=TODAY, fixed=(), params=PARAMS, excluded_pairs=frozenset())
    _, growth = allocate_growing([first, third], demands, licences, today=TODAY)
    assert growth is not None
    grown = growth.added([first, second, third], demands, licences, **same)
    assert not isinstance(grown, Refused)
    full = allocate([first, second, third], demands, licences, today=TODAY)
    assert same_allocation(grown[0], full)
    assert grown[0].table.kilograms.tolist() == [10_000, 20_000, 30_000]


def test_a_newcomer_that_fills_a_demand_is_re_solved_with_the_offers_on_it(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 25 t demand at Yangluo holds 10 t from Jiangxia (~35 km). 20 t from Qingshan
    # (~16 km) would fill it: the nearer lot goes whole, the farther keeps 5 t.
    demands = [make.demand(amount=25)]
    licences = [make.licence(annual=1000)]
    offers = [make.offer("o1", amount=10, at=JIANGXIA)]
    first, growth = allocate_growing(offers, demands, licences, today=TODAY)
    assert growth is not None
    same: dict[str, Any] = dict(today=TODAY, fixed=(), params=PARAMS, excluded_pairs=frozenset())
    roomy = growth.added([*offers, make.offer("o2", amount=10)], demands, licences, **same)
    assert not isinstance(roomy, Refused)
    assert roomy[0].rounds == 0  # room: nothing re-solved
    monkeypatch.setattr(contest, "MAX_CONTESTED_SHARE", 1.0)  # both offers will be
    more = [*offers, make.offer("o2", amount=20)]
    grown = growth.added(more, demands, licences, **same)
    assert not isinstance(grown, Refused)
    assert grown[0].rounds == 1
    assert {(r.offer_id, r.kilograms) for r in grown[0].routes} == {("o1", 5_000), ("o2", 20_000)}
    assert same_allocation(
        grown[0], allocate(more, demands, licences, today=TODAY, standing=standing(first))
    )
    # A newcomer its demand cannot take whole is re-solved too.
    too_big = [*offers, make.offer("o2", amount=30)]
    whole = growth.added(too_big, demands, licences, **same)
    assert not isinstance(whole, Refused)
    assert whole[0].rounds == 1
    # A contest wider than a re-solve of part of the market takes: the full round.
    monkeypatch.setattr(contest, "MAX_CONTESTED_SHARE", 0.0)
    assert growth.added(more, demands, licences, **same) is Refused.TOO_CONTESTED


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


def test_a_newcomer_turned_down_before_is_not_placed_on_the_pair_it_was_refused(
    make: Any,
) -> None:
    # An offer back on the market (its window, ended, extended the same day) comes to the
    # round as a newcomer, and a party had turned its pair with the demand down before.
    demands, licences = [make.demand(amount=1000)], [make.licence(annual=1000)]
    offers = [make.offer("o1", amount=10)]
    back = make.offer("o2", enterprise="factory-2", amount=10)
    turned_down = frozenset({("o2", "demand-1")})
    _, growth = allocate_growing(offers, demands, licences, today=TODAY, excluded_pairs=turned_down)
    assert growth is not None
    same: dict[str, Any] = dict(today=TODAY, fixed=(), params=PARAMS, excluded_pairs=turned_down)
    grown = growth.added([*offers, back], demands, licences, **same)
    full = allocate([*offers, back], demands, licences, today=TODAY, excluded_pairs=turned_down)
    assert ("o2", "demand-1") not in {(r.offer_id, r.demand_id) for r in full.routes}
    assert not isinstance(grown, Refused)
    assert same_allocation(grown[0], full)


def test_a_licence_run_out_beside_its_successor_leaves_the_market_growing(make: Any) -> None:
    # The recycler's licence of last year and its renewal both list SW01: only the renewal
    # holds over any day to come, so no pair has two edges, and rounds may grow.
    demands = [make.demand(amount=1000)]
    licences = [
        make.licence("old", valid_from=date(2023, 1, 1), valid_until=date(2025, 12, 31)),
        make.licence("renewal", valid_from=date(2026, 1, 1)),
    ]
    offers = [make.offer("o1", amount=10)]
    _, growth = allocate_growing(offers, demands, licences, today=TODAY)
    assert growth is not None
    same: dict[str, Any] = dict(today=TODAY, fixed=(), params=PARAMS, excluded_pairs=frozenset())
    more = [*offers, make.offer("o2", amount=10)]
    grown = growth.added(more, demands, licences, **same)
    assert not isinstance(grown, Refused)
    assert same_allocation(grown[0], allocate(more, demands, licences, today=TODAY))
