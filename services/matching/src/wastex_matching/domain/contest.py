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

from wastex_matching.domain.flows import MAX_CONTESTED_SHARE, MAX_PASSES, Ways, solve

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Tree(Ways):
    """The capacities below the offers (`flows.Ways`) with the capacity of each node's way
    out, the kg on it and its price per kg."""

    capacity: IntArray
    load: IntArray
    price: IntArray

    @classmethod
    def over(cls, ways: Ways, capacity: IntArray, load: IntArray, price: IntArray) -> Tree:
        return cls(ways.parent, ways.levels, capacity, load, price)

    @property
    def room(self) -> IntArray:
        room: IntArray = self.capacity - self.load
        return room

    def to_sink(self, price: IntArray | None = None) -> IntArray:
        """`Ways.to_sink` at `price`, by default the tree's own."""
        return Ways.to_sink(self, self.price if price is None else price)


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
