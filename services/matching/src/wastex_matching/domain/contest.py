"""The part of a grown market its newcomers contest, re-solved with the rest held.

A round that only adds offers (`growth.py`) places each newcomer where it costs least at
the last allocation's prices. Where newcomers would fill a capacity, or head for one
already full, they compete with the offers on it. Those offers and the newcomers (the
*contested* part) are re-solved over what the others leave; the others (the *held* part)
stay as allocated. The whole is optimal when no held offer would rather move at the
prices the re-solve gives the capacities it reaches: those prices, with the last ones
everywhere else, then prove it (linear programming duality, as in `flows.py`). A held
offer that would move joins the contested part, and it solves again; past `MAX_PASSES`
or half the offers contested, the round plans the whole market instead.

Prices are per kg on each capacity's way out (`Tree.price`), at least 0 and above 0 only
when the capacity is full; an offer pays for an arc its cost plus the prices on the way
from the arc's head to the sink (`Tree.to_sink`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.flows import MAX_CONTESTED_SHARE, MAX_PASSES, solve

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Tree:
    """The capacities below the offers, as nodes numbered 0 … sink − 1: each node's next
    one towards the sink (`sink` at the end of a way), the capacity of its way out, the kg
    on it and its price per kg."""

    parent: IntArray
    capacity: IntArray
    load: IntArray
    price: IntArray
    #: Nodes by how many arcs lie between them and the sink, the nearest first.
    levels: tuple[IntArray, ...]

    @classmethod
    def of(cls, parent: IntArray, capacity: IntArray, load: IntArray, price: IntArray) -> Tree:
        sink = len(parent)
        depth = np.full(sink + 1, -1, dtype=np.int64)
        depth[sink] = 0
        levels: list[IntArray] = []
        while (depth[:sink] < 0).any():
            level = np.flatnonzero((depth[:sink] < 0) & (depth[parent] == len(levels)))
            if not len(level):
                raise ValueError("the parents form a cycle, not a tree")
            depth[level] = len(levels) + 1
            levels.append(level)
        return cls(parent, capacity, load, price, tuple(levels))

    @property
    def sink(self) -> int:
        return len(self.parent)

    @property
    def room(self) -> IntArray:
        room: IntArray = self.capacity - self.load
        return room

    def to_sink(self, price: IntArray | None = None) -> IntArray:
        """Per kg, what the way from each node (and the sink, last: 0) to the sink costs."""
        price = self.price if price is None else price
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


@dataclass(frozen=True, slots=True)
class OfferArcs:
    """Every arc out of an offer (edges, standing copies, penalty arcs into the sink), as
    a full round's network would have them, with the kg each carries now."""

    offer: IntArray
    head: IntArray
    cost: IntArray
    capacity: IntArray
    flow: IntArray


def resolved(
    arcs: OfferArcs, supply: IntArray, tree: Tree, contested: BoolArray
) -> tuple[IntArray, Tree] | None:
    """The flows on `arcs` with the `contested` offers re-solved and the rest held, and
    the tree with its new loads and prices; None when that takes too many passes."""
    last = tree.to_sink()
    for _ in range(MAX_PASSES):
        if contested.sum() > MAX_CONTESTED_SHARE * np.count_nonzero(supply):
            return None
        mine = contested[arcs.offer]
        held_load = tree.loads(arcs.head[~mine], arcs.flow[~mine])
        residual = tree.capacity - held_load
        if (residual < 0).any():
            return None  # held offers overfill a capacity: not a state to build on
        solved, solved_price = _solve_part(arcs, mine, supply, contested, tree, residual)
        # The re-solve prices what its offers reach; the last prices stand elsewhere.
        reached = tree.on_ways_from(arcs.head[mine])[: tree.sink]
        price = np.where(reached, solved_price, tree.price)
        flows = arcs.flow.copy()
        flows[mine] = solved
        to_sink = tree.to_sink(price)
        touched = np.zeros(len(supply), dtype=bool)
        touched[arcs.offer[(to_sink != last)[arcs.head]]] = True
        moving = _would_move(arcs, flows, to_sink, touched & ~contested)
        if not moving.any():
            load = held_load + tree.loads(arcs.head[mine], solved)
            return flows, replace(tree, load=load, price=price)
        contested = contested | moving
    return None


def _solve_part(
    arcs: OfferArcs,
    mine: BoolArray,
    supply: IntArray,
    contested: BoolArray,
    tree: Tree,
    residual: IntArray,
) -> tuple[IntArray, IntArray]:
    """Optimal flows of the contested offers' arcs over the tree's `residual` capacities,
    and the price of each node's way out. Nodes: the contested offers, then the tree's."""
    offers = np.flatnonzero(contested)
    local = np.full(len(supply), -1, dtype=np.int64)
    local[offers] = np.arange(len(offers))
    first = len(offers)  # the tree's node 0
    nodes = np.arange(tree.sink, dtype=np.int64)
    supplies = np.zeros(first + tree.sink + 1, dtype=np.int64)
    supplies[:first] = supply[offers]
    supplies[-1] = -int(supplies.sum())
    flows, potentials = solve(
        supplies,
        np.concatenate([local[arcs.offer[mine]], first + nodes]),
        np.concatenate([first + arcs.head[mine], first + tree.parent]),
        np.concatenate([arcs.capacity[mine], residual]),
        np.concatenate([arcs.cost[mine], np.zeros(tree.sink, dtype=np.int64)]),
    )
    # A way out's price: its reduced cost (0 + tail's potential − head's), negated.
    price = np.maximum(0, potentials[first + tree.parent] - potentials[first + nodes])
    return flows[: np.count_nonzero(mine)], price


def _would_move(arcs: OfferArcs, flows: IntArray, to_sink: IntArray, asked: BoolArray) -> BoolArray:
    """Of the `asked` offers, those with an arc that has room and costs less, with the way
    to the sink, than one they ship on (the optimality condition of an offer's node)."""
    at = np.flatnonzero(asked[arcs.offer])
    offer, flow = arcs.offer[at], flows[at]
    value = arcs.cost[at] + to_sink[arcs.head[at]]
    dearest_used = np.full(len(asked), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(dearest_used, offer[flow > 0], value[flow > 0])
    roomy = flow < arcs.capacity[at]
    cheapest_roomy = np.full(len(asked), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(cheapest_roomy, offer[roomy], value[roomy])
    moving: BoolArray = asked & (dearest_used > cheapest_roomy)
    return moving
