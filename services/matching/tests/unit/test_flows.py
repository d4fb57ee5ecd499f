"""The network simplex's flow is feasible and costs what the network's LP optimum costs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from wastex_matching.domain import MatchingParams, apply_fixed, build_candidate_edges, errors
from wastex_matching.domain.candidates import CandidateEdges
from wastex_matching.domain.flows import optimal_flows
from wastex_matching.domain.network import FlowNetwork
from wastex_matching.domain.optimiser import flow_network
from wastex_shared.errors import DomainError

from .conftest import TODAY, cities


def network_of(city: Any) -> FlowNetwork:
    net = apply_fixed(city.offers, city.demands, city.licences, city.fixed, TODAY)
    edges = build_candidate_edges(net.offers, net.demands, net.licences, today=TODAY)
    return flow_network(net, edges, MatchingParams())


def cost(network: FlowNetwork, flow: NDArray[np.int64]) -> int:
    return int((flow * network.unit_costs).sum())


def lp_cost(network: FlowNetwork) -> float:
    """The network's optimum as an LP (HiGHS, node-arc incidence): an independent oracle."""
    arcs = np.arange(len(network.tails))
    incidence = coo_matrix(
        (
            np.r_[np.ones(len(arcs)), -np.ones(len(arcs))],
            (np.r_[network.tails, network.heads], np.r_[arcs, arcs]),
        ),
        shape=(network.num_nodes, len(arcs)),
    )
    solution = linprog(
        network.unit_costs.astype(float),
        A_eq=incidence,
        b_eq=network.supplies.astype(float),
        bounds=np.c_[np.zeros(len(arcs)), network.capacities.astype(float)],
        method="highs",
    )
    assert solution.status == 0
    return float(solution.fun)


def assert_feasible(network: FlowNetwork, flow: NDArray[np.int64]) -> None:
    assert (flow >= 0).all()
    assert (flow <= network.capacities).all()
    out = np.bincount(network.tails, weights=flow, minlength=network.num_nodes)
    into = np.bincount(network.heads, weights=flow, minlength=network.num_nodes)
    assert np.array_equal(out - into, network.supplies)


@settings(max_examples=150, deadline=None)
@given(spec=cities)
def test_the_flow_is_feasible_and_costs_the_lp_optimum(
    city: Callable[..., Any], spec: dict[str, Any]
) -> None:
    network = network_of(city(with_fixed=True, **spec))
    found = optimal_flows(network, network.capacities)
    assert_feasible(network, found)
    assert cost(network, found) == pytest.approx(lp_cost(network), rel=1e-9, abs=1e-3)


def test_capacities_given_apart_from_the_network_are_the_ones_honoured(
    city: Callable[..., Any],
) -> None:
    # The optimiser re-splits shared licences by passing new capacities, not a new network.
    network = network_of(city(seed=11, n_offers=60, n_demands=10, tightness=0.5))
    halved = network.capacities // 2
    halved[network.penalty_arc_start :] = network.capacities[network.penalty_arc_start :]
    found = optimal_flows(network, halved)
    assert_feasible(dataclasses.replace(network, capacities=halved), found)
    assert cost(network, found) >= cost(network, optimal_flows(network, network.capacities))


def test_a_network_without_arcs_has_no_flow() -> None:
    none = np.zeros(0, dtype=np.int64)
    network = network_of_arrays(none, none, none, none, np.zeros(1, dtype=np.int64))
    assert len(optimal_flows(network, network.capacities)) == 0


def test_an_infeasible_network_is_a_solver_failure_not_a_crash() -> None:
    # 5 kg to ship over an arc that carries 3: never built by `build_network` (every offer
    # has its penalty arc), but the solver's refusal must still come out as a domain error.
    one = np.array([0], dtype=np.int64)
    network = network_of_arrays(one, one + 1, one + 3, one + 7, np.array([5, -5], np.int64))
    with pytest.raises(DomainError) as refused:
        optimal_flows(network, network.capacities)
    assert refused.value.code == errors.SOLVER_FAILED


def network_of_arrays(
    tails: NDArray[np.int64],
    heads: NDArray[np.int64],
    capacities: NDArray[np.int64],
    costs: NDArray[np.int64],
    supplies: NDArray[np.int64],
) -> FlowNetwork:
    none = np.zeros(0, dtype=np.int64)
    return FlowNetwork(
        tails=tails,
        heads=heads,
        capacities=capacities,
        unit_costs=costs,
        supplies=supplies,
        edges=CandidateEdges(none, none, none, none, False),
        penalty_arc_start=len(tails),
        shared_licences=(),
    )
