"""Pricing (column generation) finds the same optimum as one solve on every edge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from wastex_matching.domain import MatchingParams, apply_fixed, build_candidate_edges, flows
from wastex_matching.domain.network import FlowNetwork
from wastex_matching.domain.optimiser import flow_network

from .conftest import TODAY, cities


def network_of(city: Any) -> FlowNetwork:
    net = apply_fixed(city.offers, city.demands, city.licences, city.fixed, TODAY)
    edges = build_candidate_edges(net.offers, net.demands, net.licences, today=TODAY)
    return flow_network(net, edges, MatchingParams())


def direct(network: FlowNetwork) -> NDArray[np.int64]:
    return flows.optimal_flows(network, network.capacities, pricing_from=len(network.edges) + 1)


def cost(network: FlowNetwork, flow: NDArray[np.int64]) -> int:
    return int((flow * network.unit_costs).sum())


def assert_feasible(network: FlowNetwork, flow: NDArray[np.int64]) -> None:
    assert (flow >= 0).all()
    assert (flow <= network.capacities).all()
    out = np.bincount(network.tails, weights=flow, minlength=network.num_nodes)
    into = np.bincount(network.heads, weights=flow, minlength=network.num_nodes)
    assert np.array_equal(out - into, network.supplies)


@settings(max_examples=150, deadline=None)
@given(spec=cities, nearest=st.integers(1, 3), per_round=st.integers(1, 4))
def test_pricing_proves_the_optimum_of_a_solve_on_every_edge(
    city: Callable[..., Any], spec: dict[str, Any], nearest: int, per_round: int
) -> None:
    network = network_of(city(with_fixed=True, **spec))
    pricing = flows._Pricing(network, network.capacities, nearest, flows.MAX_PASSES)
    while pricing.improve(per_round):
        assert_feasible(network, pricing.flows)
    assert pricing.proven  # by its potentials, without falling back to a direct solve
    assert cost(network, pricing.flows) == cost(network, direct(network))


def test_a_large_network_is_priced_and_a_small_one_solved_directly(
    city: Callable[..., Any],
) -> None:
    network = network_of(city(seed=11, n_offers=60, n_demands=10, tightness=0.5))
    for pricing_from in (0, len(network.edges) + 1):
        found = flows.optimal_flows(network, network.capacities, pricing_from=pricing_from)
        assert_feasible(network, found)
        assert cost(network, found) == cost(network, direct(network))


def test_a_first_working_set_missing_the_best_edges_is_priced_up_to_the_optimum(
    city: Callable[..., Any],
) -> None:
    # One edge per offer to start with, one more a round: the optimum needs many rounds.
    network = network_of(city(seed=11, n_offers=60, n_demands=10, tightness=0.5))
    starting_set = flows._Pricing(network, network.capacities, 1, flows.MAX_PASSES).flows
    priced = flows.optimal_flows(
        network, network.capacities, pricing_from=0, nearest=1, per_round=1
    )
    assert cost(network, starting_set) > cost(network, priced) == cost(network, direct(network))


def test_potentials_that_do_not_settle_fall_back_to_one_solve_on_every_edge(
    city: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    network = network_of(city(seed=11, n_offers=60, n_demands=10, tightness=0.5))
    whole: list[int] = []
    solve_whole = flows._solve_whole

    def counted(net: FlowNetwork, capacities: NDArray[np.int64]) -> NDArray[np.int64]:
        whole.append(len(net.edges))
        return solve_whole(net, capacities)

    monkeypatch.setattr(flows, "_solve_whole", counted)
    priced = flows.optimal_flows(network, network.capacities, pricing_from=0, max_passes=1)
    assert whole == [len(network.edges)]
    assert cost(network, priced) == cost(network, direct(network))
