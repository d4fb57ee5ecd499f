"""Optimal flows of a `FlowNetwork`, exactly, without handing OR-Tools every candidate edge.

A city of 20,000 offers and 3,000 demands has ~4 M candidate edges, but an optimal flow
uses ~25 k of them, and OR-Tools' cost scaling takes time in proportion to the arcs it is
given. A large network is therefore solved by *pricing* (column generation):

1. solve on a working set: every arc that is not a candidate edge (demand, licence and
   penalty arcs) and each offer's `nearest` cheapest candidate edges;
2. take node potentials π from that optimum: shortest distances on its residual graph
   (Bellman-Ford, vectorised), so that no residual arc has a negative reduced cost
   c + π(tail) − π(head);
3. a candidate edge left out whose reduced cost is negative could improve the flow: add
   each offer's `per_round` most negative ones and improve the flow; when no edge left out
   has a negative reduced cost, the potentials prove the flow optimal on the whole network.

Improving is a *repair*, not a new solve: the residual graph's only negative arcs are the
edges just added, so the cheapest circulation on it is the improvement. Every cycle of that
circulation costs less than zero, so none of its arcs has a reduced cost as high as the
added edges' total negative reduced cost: dearer arcs are left out of the repair.

Networks with few candidate edges are solved directly, in one OR-Tools call; so is any
network whose potentials do not settle within `max_passes` (a safeguard: the result is
the same optimum, only slower).
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow

from wastex_matching.domain import errors
from wastex_matching.domain.network import FlowNetwork
from wastex_shared.errors import DomainError

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Below this many candidate edges one direct solve is quicker than pricing (measured on
#: the bench's cities: 2× slower at 215 k edges, 1.5× faster at 0.9 M and 3.9 M).
PRICING_FROM_EDGES: Final = 500_000
#: Candidate edges per offer in the first working set (its cheapest).
NEAREST: Final = 4
#: Candidate edges per offer added in one pricing round (its most negative).
PER_ROUND: Final = 16
#: Bellman-Ford passes allowed before falling back to a direct solve (40–80 are usual).
MAX_PASSES: Final = 500


def optimal_flows(
    network: FlowNetwork,
    capacities: IntArray,
    *,
    pricing_from: int = PRICING_FROM_EDGES,
    nearest: int = NEAREST,
    per_round: int = PER_ROUND,
    max_passes: int = MAX_PASSES,
) -> IntArray:
    """A min-cost flow of `network` under `capacities` (one per arc): flow per arc, in kg."""
    if nearest < 1 or per_round < 1:
        raise ValueError("pricing needs at least one edge per offer to start and per round")
    if len(network.edges) < pricing_from:
        return _solve_whole(network, capacities)
    pricing = _Pricing(network, capacities, nearest, max_passes)
    while pricing.improve(per_round):
        pass
    return pricing.flows if pricing.proven else _solve_whole(network, capacities)


def _solve_whole(network: FlowNetwork, capacities: IntArray) -> IntArray:
    return _solve(network.tails, network.heads, capacities, network.unit_costs, network.supplies)


class _Pricing:
    """The working set, its optimal flow and the potentials proving it (see module doc)."""

    def __init__(
        self, network: FlowNetwork, capacities: IntArray, nearest: int, max_passes: int
    ) -> None:
        self.tails, self.heads, self.costs = network.tails, network.heads, network.unit_costs
        self.capacities = capacities
        self.priced = len(network.edges)
        self.max_passes = max_passes
        self.working: BoolArray = np.ones(len(self.tails), dtype=bool)
        self.working[: self.priced] = False
        first = _cheapest_per_tail(np.arange(self.priced), self.costs, self.tails, nearest)
        self.working[first] = True
        arcs = np.flatnonzero(self.working)
        self.flows = np.zeros(len(self.tails), dtype=np.int64)
        self.flows[arcs] = _solve(
            self.tails[arcs], self.heads[arcs], capacities[arcs], self.costs[arcs], network.supplies
        )
        self.potentials = np.zeros(len(network.supplies), dtype=np.int64)
        self.proven = False

    def improve(self, per_round: int) -> bool:
        """One pricing round; False once the flow is proven optimal or pricing gave up."""
        potentials = _potentials(
            self._residual(self.costs), start=self.potentials, max_passes=self.max_passes
        )
        if potentials is None:
            return False
        self.potentials = potentials
        reduced: IntArray = self.costs + potentials[self.tails] - potentials[self.heads]
        left_out = np.flatnonzero(~self.working[: self.priced] & (reduced[: self.priced] < 0))
        if len(left_out) == 0:
            self.proven = True
            return False
        added = _cheapest_per_tail(left_out, reduced, self.tails, per_round)
        self.working[added] = True
        return self._repair(reduced, bound=-int(reduced[added].sum()))

    def _repair(self, reduced: IntArray, bound: int) -> bool:
        """Add the cheapest circulation of the working set's residual graph to the flow;
        False if the solver refused it (reduced costs can exceed its cost range)."""
        residual = self._residual(reduced, below=bound)
        circulation = _min_cost_flow(
            residual.tails,
            residual.heads,
            residual.capacities,
            residual.costs,
            np.zeros(len(self.potentials), dtype=np.int64),
        )
        if circulation is None:
            return False
        self.flows[residual.forward] += circulation[: len(residual.forward)]
        self.flows[residual.backward] -= circulation[len(residual.forward) :]
        return True

    def _residual(self, costs: IntArray, below: int | None = None) -> _Residual:
        """The working set's residual graph under the flow, priced by `costs` (one per arc);
        only the arcs costing less than `below`, when given."""
        arcs = np.flatnonzero(self.working)
        flow, cost = self.flows[arcs], costs[arcs]
        room = self.capacities[arcs] - flow
        forward, backward = room > 0, flow > 0
        if below is not None:
            forward &= cost < below
            backward &= -cost < below
        return _Residual(
            forward=arcs[forward],
            backward=arcs[backward],
            tails=np.concatenate([self.tails[arcs[forward]], self.heads[arcs[backward]]]),
            heads=np.concatenate([self.heads[arcs[forward]], self.tails[arcs[backward]]]),
            capacities=np.concatenate([room[forward], flow[backward]]),
            costs=np.concatenate([cost[forward], -cost[backward]]),
        )


class _Residual(NamedTuple):
    """Residual arcs: each working arc forward where it has room, backward (its cost
    negated) where it carries flow; `forward` and `backward` are their arc numbers."""

    forward: IntArray
    backward: IntArray
    tails: IntArray
    heads: IntArray
    capacities: IntArray
    costs: IntArray


def _potentials(residual: _Residual, *, start: IntArray, max_passes: int) -> IntArray | None:
    """Node potentials under which no residual arc costs less than zero (Bellman-Ford from
    `start`, which the last potentials make a near answer); None if they do not settle."""
    if len(residual.heads) == 0:
        return start.copy()
    order = np.argsort(residual.heads, kind="stable")
    tails, heads, costs = residual.tails[order], residual.heads[order], residual.costs[order]
    starts = np.flatnonzero(np.r_[True, heads[1:] != heads[:-1]])
    nodes = heads[starts]
    distance = start.copy()
    for _ in range(max_passes):
        via = np.minimum.reduceat(distance[tails] + costs, starts)
        reached = np.minimum(distance[nodes], via)
        if np.array_equal(reached, distance[nodes]):
            return distance
        distance[nodes] = reached
    return None


def _cheapest_per_tail(arcs: IntArray, costs: IntArray, tails: IntArray, k: int) -> IntArray:
    """The `k` arcs of `arcs` with the lowest `costs` out of each tail node."""
    if len(arcs) == 0:
        return arcs
    ordered = arcs[_by_tail_then_cost(tails[arcs], costs[arcs])]
    tail = tails[ordered]
    first = np.r_[True, tail[1:] != tail[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(tail)), 0))
    chosen: IntArray = ordered[np.arange(len(tail)) - group_start < k]
    return chosen


def _by_tail_then_cost(tails: IntArray, costs: IntArray) -> IntArray:
    """The order sorting by tail, then cost: one argsort of a combined key when it fits in
    63 bits (a third of the time of `lexsort` on millions of arcs)."""
    low = int(costs.min())
    span = int(costs.max()) - low + 1
    if (int(tails.max()) + 1) * span >= 1 << 62:
        return np.lexsort((costs, tails))
    order: IntArray = np.argsort(tails * span + (costs - low))
    return order


def _solve(
    tails: IntArray, heads: IntArray, capacities: IntArray, costs: IntArray, supplies: IntArray
) -> IntArray:
    flows = _min_cost_flow(tails, heads, capacities, costs, supplies)
    if flows is None:
        raise DomainError(errors.SOLVER_FAILED, "min-cost flow found no optimum")
    return flows


def _min_cost_flow(
    tails: IntArray, heads: IntArray, capacities: IntArray, costs: IntArray, supplies: IntArray
) -> IntArray | None:
    """One OR-Tools min-cost flow: the flow on each given arc, or None without an optimum."""
    solver = SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    solver.set_nodes_supplies(np.arange(len(supplies), dtype=np.int64), supplies)
    if solver.solve() != SimpleMinCostFlow.OPTIMAL:
        return None
    return np.asarray(solver.flows(np.arange(len(tails), dtype=np.int64)), dtype=np.int64)
