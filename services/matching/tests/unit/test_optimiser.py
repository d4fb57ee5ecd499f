"""Allocation by min-cost flow: optimal against an LP oracle, explained, and re-optimisable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_matching.domain import (
    FixedMatch,
    LicenceType,
    MatchingParams,
    Window,
    allocate,
    apply_fixed,
    greedy_nearest_first,
    greedy_shortest_edge_first,
)
from wastex_shared.emission_factors import DEFAULT_FREIGHT_FACTOR, factor

TODAY = date(2026, 12, 1)
HANNAN = (30.320, 114.080)
JIANGXIA = (30.380, 114.320)


def tolerance(city: Any, result: Any) -> float:
    """What rounding may add: 1 g/t per edge cost (network.COST_SCALE) on every tonne, and
    half a gram per match and for the penalty when CO2e is reported in grams."""
    supply = sum(float(o.remaining_tonnes) for o in city.offers)
    return supply * 0.0005 + (len(result.matches) + 2) * 0.0005


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_offers=st.integers(1, 30),
    n_demands=st.integers(1, 10),
    tightness=st.sampled_from([0.2, 1.0, 3.0]),
)
def test_allocation_costs_what_the_lp_optimum_costs(
    city: Callable[..., Any],
    lp_oracle: Callable[..., float],
    seed: int,
    n_offers: int,
    n_demands: int,
    tightness: float,
) -> None:
    # One site per recycler enterprise: every licence constraint is a network arc, so the
    # flow is exactly optimal (shared licences have their own tests below).
    c = city(seed, n_offers, n_demands, tightness=tightness, shared_sites=0.0, with_fixed=True)
    params = MatchingParams()
    result = allocate(c.offers, c.demands, c.licences, today=TODAY, fixed=c.fixed, params=params)
    assert result.notes == ()
    assert float(result.objective_co2e_kg) == pytest.approx(
        lp_oracle(c, params), abs=tolerance(c, result)
    )


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), tightness=st.sampled_from([0.2, 1.0]))
def test_sites_sharing_a_licence_are_allocated_exactly_when_each_uses_one_licence(
    city: Callable[..., Any], lp_oracle: Callable[..., float], seed: int, tightness: float
) -> None:
    c = city(seed, 25, 8, tightness=tightness, shared_sites=0.6)
    params = MatchingParams()
    result = allocate(c.offers, c.demands, c.licences, today=TODAY, params=params)
    optimum = lp_oracle(c, params)
    slack = tolerance(c, result)
    assert float(result.objective_co2e_kg) >= optimum - slack  # never better than optimal
    if not result.notes:  # no licence split between claimants: exact
        assert float(result.objective_co2e_kg) == pytest.approx(optimum, abs=slack)


def test_split_licence_shares_stay_close_to_the_lp_optimum(
    city: Callable[..., Any], lp_oracle: Callable[..., float]
) -> None:
    """Where a binding licence is shared by several sites and a site mixes licences, the
    tonnage is split, rebalanced and moved where the solver prices it higher: measured, not
    exact (see network.py). Split and rebalanced only, these 43 cities come to a mean of
    1.0020 and a worst of 1.037 of the LP."""
    ratios = []
    for seed in range(120):
        c = city(seed, 25, 8, tightness=1.0, shared_sites=0.6)
        result = allocate(c.offers, c.demands, c.licences, today=TODAY)
        if result.notes:
            ratios.append(float(result.objective_co2e_kg) / lp_oracle(c, MatchingParams()))
    assert len(ratios) >= 10
    assert min(ratios) >= 1 - 1e-6
    assert sum(ratios) / len(ratios) <= 1.001
    assert max(ratios) <= 1.02


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), tightness=st.sampled_from([1.0, 3.0]))
def test_moving_licence_shares_never_makes_the_allocation_costlier(
    city: Callable[..., Any], seed: int, tightness: float
) -> None:
    c = city(seed, 30, 10, tightness=tightness, shared_sites=0.9)
    moved = allocate(c.offers, c.demands, c.licences, today=TODAY)
    kept = allocate(
        c.offers,
        c.demands,
        c.licences,
        today=TODAY,
        params=MatchingParams(licence_transfer_solves=0),
    )
    assert moved.objective_co2e_kg <= kept.objective_co2e_kg
    assert moved.rounds <= kept.rounds + MatchingParams().licence_transfer_solves


def test_rebalancing_gives_a_claimant_s_unused_share_of_a_licence_to_one_that_needs_it(
    make: Any,
) -> None:
    """Two sites of one recycler, each able to use two licences: the binding licence is
    split between them by intake, but the far site finds only 1 t to take."""
    licences = [make.licence("binding", annual=100), make.licence("small", annual=1)]
    demands = [
        make.demand("near", amount=100),
        make.demand("far", amount=100, at=HANNAN, radius_km=5),
    ]
    offers = [make.offer(amount=100), make.offer("offer-far", amount=1, at=HANNAN)]
    first_only = MatchingParams(licence_rebalance_rounds=0, licence_transfer_solves=0)
    first_split = allocate(offers, demands, licences, today=TODAY, params=first_only)
    rebalanced = allocate(offers, demands, licences, today=TODAY)
    assert first_split.rounds == 1
    assert first_split.unmatched_tonnes.get("offer-1", Decimal(0)) >= Decimal("49")
    assert rebalanced.rounds > 1
    assert rebalanced.unmatched_tonnes == {}


def test_an_offer_goes_to_the_nearer_of_two_recyclers(make: Any) -> None:
    near = make.demand("near", enterprise="r-near")
    far = make.demand("far", enterprise="r-far", at=JIANGXIA)
    licences = [
        make.licence("l-near", enterprise="r-near"),
        make.licence("l-far", enterprise="r-far"),
    ]
    result = allocate([make.offer()], [near, far], licences, today=TODAY)
    assert [(m.demand_id, m.tonnes) for m in result.matches] == [("near", Decimal("100.000"))]


def test_a_rejected_pair_takes_no_part_and_the_offer_goes_elsewhere(make: Any) -> None:
    offer = make.offer()
    near = make.demand("near", enterprise="r-near")
    far = make.demand("far", enterprise="r-far", at=JIANGXIA)
    licences = [
        make.licence("l-near", enterprise="r-near"),
        make.licence("l-far", enterprise="r-far"),
    ]
    result = allocate(
        [offer], [near, far], licences, today=TODAY, excluded_pairs={(offer.offer_id, "near")}
    )
    assert [(m.demand_id, m.tonnes) for m in result.matches] == [("far", Decimal("100.000"))]


def test_an_offer_is_split_across_recyclers_when_one_cannot_take_it_all(make: Any) -> None:
    near = make.demand("near", enterprise="r-near", amount=60)
    far = make.demand("far", enterprise="r-far", amount=500, at=JIANGXIA)
    licences = [
        make.licence("l-near", enterprise="r-near"),
        make.licence("l-far", enterprise="r-far"),
    ]
    result = allocate([make.offer(amount=100)], [near, far], licences, today=TODAY)
    assert {m.demand_id: m.tonnes for m in result.matches} == {
        "near": Decimal("60.000"),
        "far": Decimal("40.000"),
    }
    assert result.unmatched_tonnes == {}


def test_a_demand_is_filled_from_several_offers(make: Any) -> None:
    offers = [make.offer("a", amount=30), make.offer("b", enterprise="factory-2", amount=50)]
    result = allocate(offers, [make.demand(amount=200)], [make.licence()], today=TODAY)
    assert {m.offer_id: m.tonnes for m in result.matches} == {
        "a": Decimal("30.000"),
        "b": Decimal("50.000"),
    }


def test_what_no_one_can_take_stays_unmatched_and_is_priced_as_landfill(make: Any) -> None:
    result = allocate(
        [make.offer(amount=100)], [make.demand(amount=70)], [make.licence()], today=TODAY
    )
    assert result.unmatched_tonnes == {"offer-1": Decimal("30.000")}
    landfill = MatchingParams().penalty_kg_per_tonne
    assert result.penalty_co2e_kg == (30 * landfill).quantize(Decimal("0.001"))
    assert result.objective_co2e_kg == result.transport_co2e_kg + result.penalty_co2e_kg


def test_licence_annual_tonnage_caps_what_a_recycler_is_allocated(make: Any) -> None:
    licence = make.licence(annual=1000, used=960)
    result = allocate([make.offer(amount=100)], [make.demand(amount=100)], [licence], today=TODAY)
    assert result.matched_tonnes == Decimal("40.000")


def test_a_licence_shared_by_two_sites_is_not_exceeded_and_goes_to_the_nearer(make: Any) -> None:
    near = make.demand("near", amount=100)
    far = make.demand("far", amount=100, at=JIANGXIA)
    shared = make.licence(annual=120)
    offers = [make.offer("a", amount=100), make.offer("b", enterprise="factory-2", amount=100)]
    result = allocate(offers, [near, far], [shared], today=TODAY)
    assert result.matched_tonnes == Decimal("120.000")
    assert sum(m.tonnes for m in result.matches if m.demand_id == "near") == Decimal("100.000")
    assert result.notes == ()  # both sites are pure users of one licence: modelled exactly


def test_accepted_matches_are_fixed_and_consume_offer_demand_and_licence(make: Any) -> None:
    fixed = [
        FixedMatch(
            match_id="m-accepted",
            offer_id="offer-1",
            demand_id="demand-1",
            licence_id="licence-1",
            tonnes=Decimal("60"),
            licence_year=TODAY.year,
        )
    ]
    other = make.demand("other", enterprise="recycler-1", amount=100, at=JIANGXIA)
    result = allocate(
        [make.offer(amount=100)],
        [make.demand(amount=70), other],
        [make.licence(annual=80)],
        today=TODAY,
        fixed=fixed,
    )
    # 40 t of the offer are left; the licence has 20 t left; demand-1 has 10 t left.
    assert result.matched_tonnes == Decimal("20.000")
    assert {m.demand_id: m.tonnes for m in result.matches} == {
        "demand-1": Decimal("10.000"),
        "other": Decimal("10.000"),
    }
    assert result.unmatched_tonnes == {"offer-1": Decimal("20.000")}


def test_an_offer_counts_its_kilograms_once_and_again_when_fixed_matches_take_some(
    make: Any,
) -> None:
    offer = make.offer(amount=100)
    assert offer.kilograms == 100_000
    fixed = FixedMatch(
        match_id="m-accepted",
        offer_id="offer-1",
        demand_id="demand-1",
        licence_id=None,
        tonnes=Decimal("60.25"),
        licence_year=TODAY.year,
    )
    (net,) = apply_fixed([offer], [], [], [fixed], TODAY).offers
    assert (net.remaining_tonnes, net.kilograms) == (Decimal("39.750"), 39_750)


def test_every_match_explains_distance_tonnes_transport_and_avoided_co2e(make: Any) -> None:
    result = allocate([make.offer(amount=100)], [make.demand()], [make.licence()], today=TODAY)
    (match,) = result.matches
    freight = factor(DEFAULT_FREIGHT_FACTOR)
    assert match.freight_factor_key == DEFAULT_FREIGHT_FACTOR
    assert match.freight_factor_kg_per_tkm == freight.value
    assert Decimal("15") < match.distance_km < Decimal("17")
    assert match.co2e_kg == (match.tonnes * match.distance_km * freight.value).quantize(
        Decimal("0.001")
    )
    # SW01 (slag) replacing cement: 668 kg CO2e per tonne avoided.
    assert match.avoided_factor_key == "avoided_ggbs_replacing_cement_cn_derived"
    assert match.avoided_co2e_kg == Decimal("66800.000")
    assert match.net_co2e_kg == match.avoided_co2e_kg - match.co2e_kg
    assert (match.supplier_enterprise_id, match.recycler_enterprise_id) == (
        "factory-1",
        "recycler-1",
    )
    assert match.licence_id == "licence-1"


def test_a_code_without_an_avoided_factor_reports_none(make: Any) -> None:
    result = allocate(
        [make.offer(code="SW02")],
        [make.demand(codes=("SW02",))],
        [make.licence(codes=("SW02",))],
        today=TODAY,
    )
    (match,) = result.matches
    assert match.avoided_co2e_kg is None
    assert match.avoided_factor_key is None


def test_road_factor_lengthens_every_route(make: Any) -> None:
    straight = allocate([make.offer()], [make.demand()], [make.licence()], today=TODAY)
    by_road = allocate(
        [make.offer()],
        [make.demand()],
        [make.licence()],
        today=TODAY,
        params=MatchingParams(road_factor=1.3),
    )
    ratio = by_road.matches[0].distance_km / straight.matches[0].distance_km
    assert abs(ratio - Decimal("1.3")) < Decimal("0.001")


def test_freight_factor_is_recorded_as_chosen(make: Any) -> None:
    params = MatchingParams(freight_factor_key="freight_road_diesel_truck_18t_cn")
    result = allocate([make.offer()], [make.demand()], [make.licence()], today=TODAY, params=params)
    assert result.matches[0].freight_factor_key == "freight_road_diesel_truck_18t_cn"
    assert result.matches[0].freight_factor_kg_per_tkm == Decimal("0.129")


def test_a_non_transport_factor_is_refused_as_freight(make: Any) -> None:
    from wastex_shared.errors import DomainError

    with pytest.raises(DomainError) as err:
        MatchingParams(freight_factor_key="cement_portland_po_cn")
    assert err.value.code == "INVALID_PARAMETER"


def test_a_penalty_factor_not_per_tonne_is_refused() -> None:
    from wastex_shared.errors import DomainError

    with pytest.raises(DomainError) as err:
        MatchingParams(unmatched_penalty_factor_key="brick_clay_hollow_cn")  # per m3
    assert err.value.field == "unmatched_penalty_factor_key"


def test_nothing_to_allocate_is_an_empty_allocation(make: Any) -> None:
    assert allocate([], [], [], today=TODAY).matches == ()
    alone = allocate([make.offer()], [], [], today=TODAY)
    assert alone.unmatched_tonnes == {"offer-1": Decimal("100.000")}
    assert alone.transport_co2e_kg == Decimal("0.000")


def test_duplicate_ids_are_refused(make: Any) -> None:
    from wastex_shared.errors import DomainError

    with pytest.raises(DomainError):
        allocate([make.offer(), make.offer()], [make.demand()], [make.licence()], today=TODAY)


def test_the_same_inputs_give_the_same_allocation(city: Callable[..., Any]) -> None:
    c = city(11, 40, 10, tightness=1.0)
    first = allocate(c.offers, c.demands, c.licences, today=TODAY)
    second = allocate(c.offers, c.demands, c.licences, today=TODAY)
    assert first == second


def test_optimiser_beats_or_ties_both_greedy_baselines(city: Callable[..., Any]) -> None:
    for seed in range(20):
        c = city(seed, 30, 8, tightness=1.0, shared_sites=0.0)
        best = allocate(c.offers, c.demands, c.licences, today=TODAY).objective_co2e_kg
        slack = Decimal("0.5")
        for greedy in (greedy_nearest_first, greedy_shortest_edge_first):
            assert (
                best
                <= greedy(c.offers, c.demands, c.licences, today=TODAY).objective_co2e_kg + slack
            )


def test_greedy_nearest_first_is_myopic_where_capacity_is_scarce(make: Any) -> None:
    # Offer a (Qingshan) reaches both recyclers and is posted first; offer b (north of
    # Yangluo) reaches only the Yangluo one. Nearest-first sends a to Yangluo and strands
    # b; the optimum sends a 30 km south to Jiangxia instead.
    yangluo = make.demand("yangluo", enterprise="r-1", amount=100, radius_km=60)
    jiangxia = make.demand("jiangxia", enterprise="r-2", amount=100, at=JIANGXIA, radius_km=40)
    a = make.offer("a", amount=100)
    b = make.offer("b", enterprise="factory-2", amount=100, at=(30.78, 114.58))
    licences = [make.licence("l1", enterprise="r-1"), make.licence("l2", enterprise="r-2")]
    optimum = allocate([a, b], [yangluo, jiangxia], licences, today=TODAY)
    greedy = greedy_nearest_first([a, b], [yangluo, jiangxia], licences, today=TODAY)
    assert optimum.unmatched_tonnes == {}
    assert {(m.offer_id, m.demand_id) for m in optimum.matches} == {
        ("a", "jiangxia"),
        ("b", "yangluo"),
    }
    assert greedy.unmatched_tonnes == {"b": Decimal("100.000")}
    assert optimum.objective_co2e_kg < greedy.objective_co2e_kg


def test_windows_in_the_past_are_never_allocated(make: Any) -> None:
    old = make.offer(window=make.window(-100, 30))
    assert (
        allocate(
            [old], [make.demand(window=make.window(-100, 200))], [make.licence()], today=TODAY
        ).matches
        == ()
    )


def test_licence_valid_only_from_next_month_waits_for_windows_starting_then(make: Any) -> None:
    licence = make.licence(valid_from=TODAY + timedelta(days=31))
    now = make.offer("now", window=make.window(0, 60))
    later = make.offer("later", enterprise="factory-2", window=make.window(31, 60))
    result = allocate(
        [now, later], [make.demand(window=make.window(0, 200))], [licence], today=TODAY
    )
    assert [m.offer_id for m in result.matches] == ["later"]


def test_hazardous_offer_is_never_matched_under_a_general_licence(make: Any) -> None:
    offer = make.offer(code="HW08")
    demand = make.demand(codes=("HW08",))
    general = make.licence(codes=("HW08",))
    operating = make.licence("op", codes=("HW08",), kind=LicenceType.HAZARDOUS_WASTE_OPERATING)
    assert allocate([offer], [demand], [general], today=TODAY).matches == ()
    (match,) = allocate([offer], [demand], [general, operating], today=TODAY).matches
    assert match.licence_id == "op"


def test_a_negative_solve_budget_is_refused() -> None:
    from wastex_shared.errors import DomainError

    with pytest.raises(DomainError) as rounds:
        MatchingParams(licence_rebalance_rounds=-1)
    with pytest.raises(DomainError) as solves:
        MatchingParams(licence_transfer_solves=-1)
    assert (rounds.value.field, solves.value.field) == (
        "licence_rebalance_rounds",
        "licence_transfer_solves",
    )


def test_a_repeated_id_is_refused(make: Any) -> None:
    from wastex_shared.errors import DomainError

    with pytest.raises(DomainError) as twice:
        allocate([make.offer(), make.offer()], [make.demand()], [make.licence()], today=TODAY)
    assert twice.value.code == "INVALID_PARAMETER"
    assert "offer ids must be unique" in twice.value.message


def test_a_licence_full_this_year_is_allocated_next_years_tonnage(make: Any) -> None:
    """In December a recycler's licence is used up for the year; its demand for the
    spring is still served, from next year's tonnage (and no more than that)."""
    fixed = [
        FixedMatch(
            match_id="m-december",
            offer_id="earlier-offer",
            demand_id="earlier-demand",
            licence_id="licence-1",
            tonnes=Decimal("80"),
            licence_year=TODAY.year,
        )
    ]
    spring = Window(date(2027, 1, 4), date(2027, 4, 30))
    result = allocate(
        [make.offer(amount=120, window=spring)],
        [make.demand(amount=500, window=spring)],
        [make.licence(annual=80)],
        today=TODAY,
        fixed=fixed,
    )
    assert result.matched_tonnes == Decimal("80.000")
