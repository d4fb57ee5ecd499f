"""The network simplex's flow is feasible and costs what the network's LP optimum costs,
whether the offers' cheapest arcs settle most of it or the solver gets all of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from wastex_matching.domain import MatchingParams, apply_fixed, build_candidate_edges, errors, flows
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


def forest_network(
    seed: int, offers: int, room: float, standing: bool, partial: float = 0.2
) -> FlowNetwork:
    """A random network shaped as `build_network` shapes them: offers with arcs into a
    forest of three levels (pair → demand → licence group → sink), a penalty arc each and,
    optionally, cheaper parallel copies of some arcs carrying part of their capacity.
    `room` scales the forest's capacities against the supply (1.0: about as much); a
    `partial` share of the offers' arcs carries only half the offer."""
    rng = np.random.default_rng(seed)
    groups, demands, pairs = 3, 6, 5
    group = offers + demands + np.arange(groups)
    demand = offers + np.arange(demands)
    pair = offers + demands + groups + np.arange(pairs)
    sink = offers + demands + groups + pairs
    supply = rng.integers(1, 100, size=offers)
    heads = rng.choice(np.r_[demand, pair], size=(offers, 3))
    tails = np.repeat(np.arange(offers), 3)
    edge_costs = rng.integers(1, 50, size=3 * offers)
    edge_caps = np.where(rng.random(3 * offers) >= partial, supply[tails], supply[tails] // 2)
    pure = rng.random(demands) < 0.5
    demand_heads = np.where(pure, rng.choice(group, size=demands), sink)
    share = int(supply.sum() * room) // 4 + 1
    arrays = [
        (tails, heads.ravel(), edge_caps, edge_costs),
        (pair, rng.choice(demand, size=pairs), rng.integers(0, share, pairs), np.zeros(pairs)),
        (demand, demand_heads, rng.integers(0, share, demands), np.zeros(demands)),
        (group, np.full(groups, sink), rng.integers(0, 2 * share, groups), np.zeros(groups)),
        (np.arange(offers), np.full(offers, sink), supply, np.full(offers, 1_000)),
    ]
    copied = np.flatnonzero(rng.random(3 * offers) < 0.3) if standing else np.zeros(0, int)
    if len(copied):
        arrays.append(
            (tails[copied], heads.ravel()[copied], edge_caps[copied] // 2, edge_costs[copied] - 1)
        )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:offers] = supply
    supplies[sink] = -int(supply.sum())
    none = np.zeros(0, dtype=np.int64)
    return FlowNetwork(
        tails=np.concatenate([a[0] for a in arrays]).astype(np.int64),
        heads=np.concatenate([a[1] for a in arrays]).astype(np.int64),
        capacities=np.concatenate([a[2] for a in arrays]).astype(np.int64),
        unit_costs=np.concatenate([a[3] for a in arrays]).astype(np.int64),
        supplies=supplies,
        edges=CandidateEdges(none, none, none, none, False),
        penalty_arc_start=3 * offers + pairs + demands + groups,
        shared_licences=(),
        standing_edges=copied.astype(np.int64),
    )


#: `forest_network`'s arguments (but `partial`) for property tests.
FORESTS = dict(
    seed=st.integers(0, 2**32 - 1),
    offers=st.integers(1, 40),
    room=st.sampled_from([0.2, 0.6, 1.0, 2.0, 10.0]),
    standing=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(**FORESTS)
def test_settling_the_uncontested_offers_first_loses_nothing(
    seed: int, offers: int, room: float, standing: bool
) -> None:
    network = forest_network(seed, offers, room, standing)
    assert flows.Forest.of(network) is not None  # the shape is recognised
    found = optimal_flows(network, network.capacities)
    assert_feasible(network, found)
    assert cost(network, found) == pytest.approx(lp_cost(network), rel=1e-9, abs=1e-3)


@settings(max_examples=300, deadline=None)
@given(**FORESTS, whole=st.booleans())
def test_the_arc_prices_prove_the_flows_optimal(
    seed: int, offers: int, room: float, standing: bool, whole: bool
) -> None:
    # Settled and partly solved, or (no share contested allowed) one solve of everything.
    network = forest_network(seed, offers, room, standing)
    with mock.patch.object(flows, "MAX_CONTESTED_SHARE", -1.0 if whole else 0.5):
        found, prices = flows.priced_optimal_flows(network, network.capacities)
    forest = flows.Forest.of(network)
    assert forest is not None
    assert (prices[forest.offer_arcs] == 0).all()
    assert (prices >= 0).all()
    assert (found[prices > 0] == network.capacities[prices > 0]).all()  # priced: full
    # Each offer ships only on arcs costing least with the prices on the way to the sink.
    to_sink = np.zeros(network.num_nodes, dtype=np.int64)
    for level in forest.ways.levels:  # nearest the sink first; ways number from the offers
        arcs = forest.out_arc[level + offers]
        to_sink[level + offers] = prices[arcs] + to_sink[network.heads[arcs]]
    arcs = forest.offer_arcs
    value = network.unit_costs[arcs] + to_sink[network.heads[arcs]]
    tails, flow, room_left = (
        network.tails[arcs],
        found[arcs],
        network.capacities[arcs] - found[arcs],
    )
    for offer in range(offers):
        mine = tails == offer
        dearest_used = value[mine & (flow > 0)].max(initial=np.iinfo(np.int64).min)
        cheapest_open = value[mine & (room_left > 0)].min(initial=np.iinfo(np.int64).max)
        assert dearest_used <= cheapest_open


def test_a_market_with_room_to_spare_is_settled_without_the_solver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = forest_network(seed=5, offers=30, room=100.0, standing=False, partial=0.0)

    def no_solver(*_: Any) -> None:
        raise AssertionError("the solver was not needed")

    monkeypatch.setattr(flows, "solve", no_solver)
    found = optimal_flows(network, network.capacities)
    assert_feasible(network, found)
    assert cost(network, found) == pytest.approx(lp_cost(network), abs=1e-3)


def test_offers_the_solved_flows_crowd_out_are_solved_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Offer 0 (100 kg) reaches demand A at 10 or B at 12; offer 1 (100 kg) only A, at 10;
    # offer 2 (100 kg) only B, at 10. A takes 100 kg, B 150. Cheapest arcs: 0 and 1 crowd
    # A (contested); 2 settles on B, leaving it 50. Solving 0 and 1 sends 1 to A and 50 kg
    # of 0 to B, which fills B, which offer 2 was settled on: so it is contested too and
    # all three are solved again.
    solves: list[int] = []
    solve = flows.solve

    def counted(*arrays: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        solves.append(len(arrays[1]))
        return solve(*arrays)

    monkeypatch.setattr(flows, "solve", counted)
    monkeypatch.setattr(flows, "MAX_CONTESTED_SHARE", 1.0)  # two of three offers will be
    a, b, sink = 3, 4, 5
    network = network_of_arrays(
        np.array([0, 0, 1, 2, a, b, 0, 1, 2]),
        np.array([a, b, a, b, sink, sink, sink, sink, sink]),
        np.array([100, 100, 100, 100, 100, 150, 100, 100, 100]),
        np.array([10, 12, 10, 10, 0, 0, 1_000, 1_000, 1_000]),
        np.array([100, 100, 100, 0, 0, -300]),
    )
    network = dataclasses.replace(network, penalty_arc_start=6)
    found = optimal_flows(network, network.capacities)
    assert solves == [7, 9]  # offers 0 and 1 with the forest, then all three
    assert found.tolist() == [0, 50, 100, 100, 100, 150, 50, 0, 0]
    assert cost(network, found) == pytest.approx(lp_cost(network))
