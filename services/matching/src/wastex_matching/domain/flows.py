"""Optimal flows of a `FlowNetwork`: LEMON's network simplex, through pylmcf (decision 008),
given only the part of the market where offers compete for capacity.

The network is a forest below the offers: every arc out of an offer (a candidate edge, its
standing copy, its penalty arc) leads to a node whose one out-arc leads on towards the
sink (pair → demand → licence group → sink). An offer alone would ship all its tonnes on
its cheapest arc. Where those cheapest choices together fit every capacity on their way,
they are the optimum, and most of a market with room to spare is like that. So:

1. *settle* each offer on its cheapest arc, unless that arc cannot carry the whole offer;
2. offers whose way to the sink crosses a capacity the settled flows fill are *contested*;
   the solver gets only the contested offers' arcs and the forest, with the capacities
   the settled offers leave;
3. if the solved flows fill a capacity on a settled offer's way, that offer is contested
   too, and the solver runs again.

It is exact: a capacity left unfilled can be priced at zero, so each settled offer pays
no more than its cheapest arc, and the solver's prices of the capacities it fills are
those of an optimum over both parts (linear programming duality). After a few passes, or
once half the offers are contested, one solve of the whole network is the quicker way.
Those prices come out with the flows (`priced_optimal_flows`): a round that only adds
offers places them by the prices (`growth.py`), and shared licences' shares move by them
(`optimiser._transferred_shares`).

On the bench's 20,000 × 3,000 city one solve of every arc (3.9 M) takes ~2 s, where
OR-Tools' cost scaling took ~6 s. The solver's own checks (non-negative costs, int64
range) hold by construction: unit costs are rounded metres × a positive factor or the
penalty, and `optimiser.flow_network` refuses networks whose total cost could overflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from pylmcf import pylmcf_cpp

from wastex_matching.domain import errors
from wastex_matching.domain.network import FlowNetwork
from wastex_shared.errors import DomainError

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Passes (each settles, then solves the contested part once) before the whole network is
#: solved instead.
MAX_PASSES: Final = 4
#: Past this share of the offers contested, one solve of everything is quicker.
MAX_CONTESTED_SHARE: Final = 0.5


def optimal_flows(network: FlowNetwork, capacities: IntArray) -> IntArray:
    """A min-cost flow of `network` under `capacities` (one per arc): flow per arc, in kg."""
    return priced_optimal_flows(network, capacities)[0]


def priced_optimal_flows(network: FlowNetwork, capacities: IntArray) -> tuple[IntArray, IntArray]:
    """`optimal_flows`, and a price per kg on each arc below the offers proving them optimal
    (0 on the offers' arcs): at least 0, above 0 only on a full arc, and every offer ships
    on arcs where its arc's cost plus the prices on its way to the sink is least (LP
    duality). A round that only adds offers places them by these prices (`growth.py`)."""
    forest = Forest.of(network)
    if forest is not None:
        solved = forest.settled_flows(network, capacities)
        if solved is not None:
            return solved
    flows, potentials = solve(
        network.supplies, network.tails, network.heads, capacities, network.unit_costs
    )
    return flows, _arc_prices(network, potentials)


def first_cheapest(group: IntArray, cost: IntArray, groups: int, ceiling: int) -> IntArray:
    """For each of `groups` groups, the index of its cheapest item (of equals, the first)
    among those costing at most `ceiling`; `len(cost)` where it has none."""
    best = np.full(groups, ceiling, dtype=np.int64)
    np.minimum.at(best, group, cost)
    ties = np.flatnonzero((cost == best[group]) & (cost <= ceiling))
    first = np.full(groups, len(cost), dtype=np.int64)
    np.minimum.at(first, group[ties], ties)
    return first


@dataclass(frozen=True, slots=True)
class Forest:
    """The arcs below the offers: each node's one out-arc, by distance from the sink."""

    offers: int
    #: Arcs leaving an offer (edges, standing copies, penalty arcs), in arc order.
    offer_arcs: IntArray
    #: Arcs leaving any other node, and each node's out-arc (-1: an offer or the sink).
    forest_arcs: IntArray
    out_arc: IntArray
    #: The nodes below the offers, numbered from the first of them (network node − offers).
    ways: Ways

    @classmethod
    def of(cls, network: FlowNetwork) -> Forest | None:
        """The forest of `network`, or None when it is not shaped so (no offers, say)."""
        offers, nodes, tails = network.num_offers, network.num_nodes, network.tails
        sink, supplies = nodes - 1, network.supplies
        if offers <= 0 or not len(tails):
            return None
        if (supplies[:offers] < 0).any() or supplies[offers:sink].any():
            return None  # only offers supply, only the sink takes
        from_offer = tails < offers
        forest_arcs = np.flatnonzero(~from_offer)
        out_degree = np.bincount(tails[forest_arcs], minlength=nodes)
        if (
            (out_degree[offers:sink] != 1).any()
            or out_degree[sink]
            or (network.heads[from_offer] < offers).any()
            or (np.bincount(tails[from_offer], minlength=offers) == 0).any()
        ):
            return None
        out_arc = np.full(nodes, -1, dtype=np.int64)
        out_arc[tails[forest_arcs]] = forest_arcs
        ways = Ways.of(network.heads[out_arc[offers:sink]] - offers)
        if ways is None:
            return None  # a cycle: not a forest
        return cls(offers, np.flatnonzero(from_offer), forest_arcs, out_arc, ways)

    def settled_flows(
        self, network: FlowNetwork, capacities: IntArray
    ) -> tuple[IntArray, IntArray] | None:
        """The optimum and its arc prices (`priced_optimal_flows`), solving only the
        contested offers; None when too many are.

        The prices are the last solve's: a settled offer's way crosses no full capacity,
        so it pays nothing on it whatever the solver prices elsewhere."""
        supply = network.supplies[: self.offers]
        cheapest = self._cheapest_arcs(network)
        active = supply > 0
        contested = active & (capacities[cheapest] < supply)
        forest_capacity = capacities[self.forest_arcs]
        for _ in range(MAX_PASSES):
            if contested.sum() > MAX_CONTESTED_SHARE * active.sum():
                return None
            settled = active & ~contested
            flows = np.zeros(len(capacities), dtype=np.int64)
            flows[cheapest[settled]] = supply[settled]
            settled_load = self._forest_loads(network, flows)
            residual = forest_capacity - settled_load
            prices = np.zeros(len(capacities), dtype=np.int64)
            if contested.any() and (residual >= 0).all():
                solved, prices = self._solve_contested(network, capacities, residual, contested)
                flows += solved
            loads = self._forest_loads(network, flows)
            # Filled (or, with nothing solved yet, overfilled) capacities may carry a price.
            blocked = self._beyond(network, loads >= forest_capacity)
            newly = settled & blocked[network.heads[cheapest] - self.offers]
            if not newly.any() and (residual >= 0).all():
                flows[self.forest_arcs] = loads
                return flows, prices
            contested |= newly
        return None

    def _cheapest_arcs(self, network: FlowNetwork) -> IntArray:
        """Each offer's cheapest arc (of equals, the first)."""
        arcs = self.offer_arcs
        tails, costs = network.tails[arcs], network.unit_costs[arcs]
        return arcs[first_cheapest(tails, costs, self.offers, np.iinfo(np.int64).max)]

    def _forest_loads(self, network: FlowNetwork, flows: IntArray) -> IntArray:
        """Flow on each forest arc when the offers' arcs carry `flows`."""
        arcs = self.offer_arcs
        through = self.ways.loads(network.heads[arcs] - self.offers, flows[arcs])
        loads: IntArray = through[network.tails[self.forest_arcs] - self.offers]
        return loads

    def _beyond(self, network: FlowNetwork, flagged: BoolArray) -> BoolArray:
        """Whether each node's way to the sink crosses a flagged forest arc (nodes as
        `ways` numbers them, the sink last)."""
        nodes = np.zeros(self.ways.sink, dtype=bool)
        nodes[network.tails[self.forest_arcs[flagged]] - self.offers] = True
        return self.ways.crossing(nodes)

    def _solve_contested(
        self,
        network: FlowNetwork,
        capacities: IntArray,
        residual: IntArray,
        contested: BoolArray,
    ) -> tuple[IntArray, IntArray]:
        """Optimal flows of the contested offers over the forest's `residual` capacities,
        and the arc prices of that solve."""
        tails = network.tails
        mine = self.offer_arcs[contested[tails[self.offer_arcs]]]
        arcs = np.concatenate([mine, self.forest_arcs])
        supplies = np.zeros(network.num_nodes, dtype=np.int64)
        supplies[: self.offers] = np.where(contested, network.supplies[: self.offers], 0)
        supplies[-1] = -int(supplies.sum())
        solved, potentials = solve(
            supplies,
            tails[arcs],
            network.heads[arcs],
            np.concatenate([capacities[mine], residual]),
            network.unit_costs[arcs],
        )
        flows = np.zeros(len(capacities), dtype=np.int64)
        flows[mine] = solved[: len(mine)]
        return flows, _arc_prices(network, potentials)


@dataclass(frozen=True, slots=True)
class Ways:
    """The nodes below the offers as a tree numbered 0 … sink − 1: each node's next one
    towards the sink (`sink`, = len(parent), at the end of a way), and the nodes by how
    many arcs lie between them and the sink, the nearest first (pair → demand → licence
    group → sink: at most 3)."""

    parent: IntArray
    levels: tuple[IntArray, ...]

    @classmethod
    def of(cls, parent: IntArray) -> Ways | None:
        """The tree of these parents, or None when they form a cycle."""
        sink = len(parent)
        depth = np.full(sink + 1, -1, dtype=np.int64)
        depth[sink] = 0
        levels: list[IntArray] = []
        while (depth[:sink] < 0).any():
            level = np.flatnonzero((depth[:sink] < 0) & (depth[parent] == len(levels)))
            if not len(level):
                return None
            depth[level] = len(levels) + 1
            levels.append(level)
        return cls(parent, tuple(levels))

    @property
    def sink(self) -> int:
        return len(self.parent)

    def to_sink(self, price: IntArray) -> IntArray:
        """Per kg, what the way from each node (and the sink, last: 0) to the sink costs
        when each node's way out costs `price`."""
        total = np.zeros(self.sink + 1, dtype=np.int64)
        for level in self.levels:
            total[level] = price[level] + total[self.parent[level]]
        return total

    def loads(self, heads: IntArray, kilograms: IntArray) -> IntArray:
        """Kg on each node's way out when `kilograms` enter at `heads` (the sink: none)."""
        through = np.zeros(self.sink + 1, dtype=np.int64)
        np.add.at(through, heads, kilograms)
        for level in reversed(self.levels[1:]):  # the farthest first, into their parents
            np.add.at(through, self.parent[level], through[level])
        loads: IntArray = through[: self.sink]
        return loads

    def crossing(self, flagged: BoolArray) -> BoolArray:
        """Nodes (and the sink, last: False) whose way to the sink leaves a flagged node."""
        hit = np.zeros(self.sink + 1, dtype=bool)
        hit[: self.sink] = flagged
        for level in self.levels[1:]:  # the nearest first: a parent is done before its child
            hit[level] |= hit[self.parent[level]]
        return hit

    def on_ways_from(self, heads: IntArray) -> BoolArray:
        """Nodes (and the sink, last) on the way from any of `heads` to the sink."""
        on = np.zeros(self.sink + 1, dtype=bool)
        on[heads] = True
        for level in reversed(self.levels[1:]):  # the farthest first: a child before its parent
            on[self.parent[level[on[level]]]] = True
        on[self.sink] = len(heads) > 0  # every way ends there
        return on


def _arc_prices(network: FlowNetwork, potentials: IntArray) -> IntArray:
    """Each arc below the offers priced by the solver's node potentials: what a kg more of
    its capacity would save (its reduced cost, negated, where negative; arcs cost 0)."""
    below = network.tails >= network.num_offers
    tails, heads = network.tails[below], network.heads[below]
    prices = np.zeros(len(network.tails), dtype=np.int64)
    prices[below] = np.maximum(0, potentials[heads] - potentials[tails])
    return prices


def solve(
    supplies: IntArray, tails: IntArray, heads: IntArray, capacities: IntArray, costs: IntArray
) -> tuple[IntArray, IntArray]:
    """LEMON's min-cost flow of arrays: flow per arc and potential per node (an arc's
    reduced cost is its cost + its tail's potential − its head's)."""
    arrays = map(_int64, (supplies, tails, heads, capacities, costs))
    try:
        flows, potentials = pylmcf_cpp.lmcf(*arrays, return_potentials=True)
    except RuntimeError as error:  # INFEASIBLE: every offer's penalty arc rules it out
        message = f"min-cost flow found no optimum: {error}"
        raise DomainError(errors.SOLVER_FAILED, message) from error
    return np.asarray(flows, dtype=np.int64), np.asarray(potentials, dtype=np.int64)


def _int64(values: IntArray) -> IntArray:
    """The solver takes contiguous int64 arrays only (it converts nothing)."""
    return np.ascontiguousarray(values, dtype=np.int64)
