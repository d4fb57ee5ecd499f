"""The vectorised candidate-edge builder agrees with the scalar rules, pair by pair."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wastex_matching.domain import Window, apply_fixed, assess_pair, build_candidate_edges
from wastex_matching.domain.candidates import CandidateEdges

TODAY = date(2026, 12, 1)


def edge_set(edges: Any, net: Any) -> set[tuple[str, str, str, int]]:
    return {
        (
            net.offers[o].offer_id,
            net.demands[d].demand_id,
            net.licences[lic].licence_id,
            int(m),
        )
        for o, d, lic, m in zip(edges.offer, edges.demand, edges.licence, edges.metres, strict=True)
    }


def scalar_set(net: Any, road_factor: float, today: date = TODAY) -> set[tuple[str, str, str, int]]:
    found = set()
    for offer in net.offers:
        for demand in net.demands:
            verdict = assess_pair(offer, demand, net.licences, today, road_factor=road_factor)
            for ident in verdict.usable_licence_ids:
                found.add((offer.offer_id, demand.demand_id, ident, verdict.distance_metres))
    return found


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_offers=st.integers(0, 30),
    n_demands=st.integers(1, 12),
    road_factor=st.sampled_from([1.0, 1.3]),
    chunk_pairs=st.sampled_from([1, 7, 1 << 20]),
    renewals=st.booleans(),
    today=st.sampled_from([TODAY, date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 6)]),
)
def test_builder_finds_exactly_the_pairs_the_rules_allow(
    city: Callable[..., Any],
    seed: int,
    n_offers: int,
    n_demands: int,
    road_factor: float,
    chunk_pairs: int,
    renewals: bool,
    today: date,
) -> None:
    # With renewals: licences chained over the new year, with gaps, codes dropped, wrong
    # types and revocations, judged before, on and after the day one runs out.
    c = city(seed, n_offers, n_demands, with_fixed=True, renewals=renewals)
    net = apply_fixed(c.offers, c.demands, c.licences, c.fixed, today)
    edges = build_candidate_edges(
        net.offers,
        net.demands,
        net.licences,
        today=today,
        road_factor=road_factor,
        chunk_pairs=chunk_pairs,
    )
    assert edge_set(edges, net) == scalar_set(net, road_factor, today)
    assert len(edge_set(edges, net)) == len(edges)  # no edge twice
    if not edges.may_repeat_pairs:
        assert len({(o, d) for o, d, _, _ in edge_set(edges, net)}) == len(edges)


def test_a_licence_and_its_renewal_yield_one_edge_under_the_licence_of_the_first_day(
    make: Any,
) -> None:
    window = Window(date(2026, 12, 10), date(2027, 1, 20))
    old = make.licence("old", valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31))
    renewal = make.licence("new", valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31))
    gap = make.licence("gap", valid_from=date(2027, 1, 2), valid_until=date(2027, 12, 31))
    other_code = make.licence("sw02", codes=("SW02",), valid_from=date(2027, 1, 1))
    offers, demands = [make.offer(window=window)], [make.demand(window=window)]

    def licences_of_edges(licences: list[Any], today: date = TODAY) -> list[str]:
        edges = build_candidate_edges(offers, demands, licences, today=today)
        return [licences[int(j)].licence_id for j in edges.licence]

    assert licences_of_edges([renewal, old]) == ["old"]
    assert licences_of_edges([renewal, old], date(2027, 1, 5)) == ["new"]
    assert licences_of_edges([gap, old]) == []
    assert licences_of_edges([other_code, old]) == []


def test_no_offers_or_no_demands_yield_no_edges(make: Any) -> None:
    assert len(build_candidate_edges([], [make.demand()], [make.licence()], today=TODAY)) == 0
    assert len(build_candidate_edges([make.offer()], [], [make.licence()], today=TODAY)) == 0


def test_a_demand_with_two_licences_for_a_code_yields_one_edge_per_licence(make: Any) -> None:
    licences = [make.licence("a"), make.licence("b")]
    edges = build_candidate_edges([make.offer()], [make.demand()], licences, today=TODAY)
    assert sorted(edges.licence.tolist()) == [0, 1]
    assert edges.may_repeat_pairs


def test_one_licence_per_code_means_no_pair_repeats(make: Any) -> None:
    edges = build_candidate_edges([make.offer()], [make.demand()], [make.licence()], today=TODAY)
    assert len(edges) == 1
    assert not edges.may_repeat_pairs
    assert edges.metres.dtype == np.int64


@settings(max_examples=200, deadline=None)
@given(
    edges=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4)), max_size=40),
    pairs=st.lists(st.tuples(st.integers(-1, 7), st.integers(-1, 5)), max_size=12),
)
def test_the_edges_joining_pairs_are_those_whose_offer_and_demand_are_a_pair(
    edges: list[tuple[int, int]], pairs: list[tuple[int, int]]
) -> None:
    offer = np.array([o for o, _ in edges], dtype=np.int64)
    demand = np.array([d for _, d in edges], dtype=np.int64)
    candidates = CandidateEdges(offer, demand, np.zeros_like(offer), np.zeros_like(offer))
    found = candidates.joining(
        np.array([o for o, _ in pairs], dtype=np.int64),
        np.array([d for _, d in pairs], dtype=np.int64),
    )
    wanted = {pair for pair in pairs if min(pair) >= 0}
    assert found.tolist() == [i for i, edge in enumerate(edges) if edge in wanted]
