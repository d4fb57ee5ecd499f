"""A round that only adds offers: the last allocation plus the newcomers, without re-planning.

Under a steady feed most rounds change nothing but offers arriving, and re-planning a market
of 20,000 offers for a few hundred new ones is most of a round's work. So an allocation
leaves a `Growth`: what it allocated, every candidate edge of its network, and the kg and
price on every capacity below the offers (the tree of `contest.py`; the prices prove the
allocation optimal, `flows.priced_optimal_flows`). The next round, if nothing but new
offers came (the same demands, licences, fixed matches, rejected pairs, day and knobs;
every offer allocated before still there, the same object) and every newcomer's (demand,
licence) pairs were in the last network (so its shape, which licences bind and which
demands mix licences, is unchanged):

1. places each newcomer whole on its edge that costs least with the prices on its way;
2. if that leaves every capacity the newcomers use with room, that is the optimum: the old
   prices prove it, as each newcomer pays what it would anywhere else and fills nothing;
3. else the newcomers that would fill a capacity, or cannot go whole, and the offers on
   the capacities they would fill are re-solved with the rest held (`contest.resolved`),
   which is exact or gives up.

A grown allocation is an optimum of the round a full re-plan would make: the standing
proposals (this allocation's routes) favoured by the stability margin, so the next full
round keeps it. Where optima tie, a full round may pick another of them. Anything else (a
new pair, a licence shared by several claimants, more than one licence able to serve a
pair, an offer gone or changed, a contest too wide) gives a reason (`Refused`), and the
round plans the whole market.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.candidates import (
    CandidateEdges,
    build_candidate_edges,
    without_pairs,
)
from wastex_matching.domain.capacity import NetCapacities, apply_fixed
from wastex_matching.domain.contest import OfferArcs, Tree, resolved
from wastex_matching.domain.flows import Forest, first_cheapest
from wastex_matching.domain.model import (
    AllocationResult,
    DemandSlot,
    FixedMatch,
    LicenceView,
    OfferSlot,
)
from wastex_matching.domain.network import (
    FlowNetwork,
    edge_unit_costs,
    penalty_unit_cost,
    standing_unit_costs,
)
from wastex_matching.domain.params import MatchingParams
from wastex_matching.domain.result import build_result, demand_kilograms, offer_kilograms

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Int32Array = NDArray[np.int32]


class Refused(StrEnum):
    """Why a round could not grow the last allocation (it plans the whole market instead)."""

    #: Demands, licences, fixed matches, rejected pairs, the day or the knobs changed.
    MARKET_CHANGED = "MARKET_CHANGED"
    #: An offer allocated last time is gone, came back as another version of itself, or
    #: the offers come in another order (ties would break otherwise).
    OFFER_CHANGED = "OFFER_CHANGED"
    #: A newcomer's id is taken (`allocate` refuses the market).
    ID_REPEATED = "ID_REPEATED"
    #: A demand has two licences able to carry one code: the full round picks the licence.
    PAIR_REPEATED = "PAIR_REPEATED"
    #: A newcomer reaches a (demand, licence) pair the last network had no arc for.
    NEW_PAIR = "NEW_PAIR"
    #: The newcomers contest so much of the market (`contest.MAX_PASSES` re-solves, or
    #: half the offers) that planning all of it is quicker.
    TOO_CONTESTED = "TOO_CONTESTED"


@dataclass(frozen=True, eq=False)
class Growth:
    """What an allocation leaves for a round that only adds offers (`added`)."""

    #: The inputs as the allocation was given them (offers by identity, the rest by value).
    offers: tuple[OfferSlot, ...]
    #: The offers' identities (`id`), in order: how the next round finds, in one pass over
    #: arrays, which offers are new and where the others went.
    identities: IntArray
    demands: tuple[DemandSlot, ...]
    licences: tuple[LicenceView, ...]
    fixed: tuple[FixedMatch, ...]
    excluded_pairs: frozenset[tuple[str, str]]
    today: date
    params: MatchingParams
    net: NetCapacities
    #: Each offer's kg with the fixed matches taken off (`net.offers` in kg).
    kilograms: IntArray
    #: Every candidate edge of the network (positions in `net`) with the tree node it
    #: enters, and the kg on those the allocation uses.
    edges: _Edges
    routes: IntArray
    route_kg: IntArray
    candidate_edges: int
    #: Each (demand × licences + licence) pair's tree node.
    pair_node: dict[int, int]
    tree: Tree

    @classmethod
    def of(
        cls,
        given: tuple[
            Sequence[OfferSlot],
            Sequence[DemandSlot],
            Sequence[LicenceView],
            Sequence[FixedMatch],
            Set[tuple[str, str]],
        ],
        today: date,
        params: MatchingParams,
        result: AllocationResult,
        network: FlowNetwork,
        capacities: IntArray,
        solution: tuple[IntArray, IntArray],
    ) -> Growth | None:
        """The growth of an allocation of `given` (offers, demands, licences, fixed,
        excluded pairs) solved as `network` under `capacities` with `solution` (flows and
        arc prices); None when its shape rules growth out (a shared licence, a pair two
        licences could serve)."""
        offers, demands, licences, fixed, excluded = given
        edges = network.edges
        if network.shared_licences or edges.may_repeat_pairs:
            return None
        forest = Forest.of(network)
        if forest is None:
            return None
        flows, prices = solution
        n_offers, n_licences = network.num_offers, len(licences)
        out_arc = forest.out_arc[n_offers:-1]  # each node's below the offers, sink left out
        tree = Tree.over(
            forest.ways,
            capacity=capacities[out_arc],
            load=flows[out_arc],
            price=prices[out_arc],
        )
        # Edge arcs come first in the network, in edge order.
        heads = network.heads[: len(edges)] - n_offers
        keys = edges.demand * n_licences + edges.licence
        first = np.unique(keys, return_index=True)[1]
        edge_flows = network.edge_flows(flows)
        routes = np.flatnonzero(edge_flows > 0)
        return cls(
            offers=tuple(offers),
            identities=_identities(offers),
            demands=tuple(demands),
            licences=tuple(licences),
            fixed=tuple(fixed),
            excluded_pairs=frozenset(excluded),
            today=today,
            params=params,
            net=result.net,
            kilograms=network.supplies[:n_offers].copy(),
            edges=_Edges.of(edges, heads),
            routes=routes,
            route_kg=edge_flows[routes],
            candidate_edges=result.candidate_edges,
            pair_node=dict(zip(keys[first].tolist(), heads[first].tolist(), strict=True)),
            tree=tree,
        )

    def added(
        self,
        offers: Sequence[OfferSlot],
        demands: Sequence[DemandSlot],
        licences: Sequence[LicenceView],
        *,
        today: date,
        fixed: Sequence[FixedMatch],
        params: MatchingParams,
        excluded_pairs: Set[tuple[str, str]],
    ) -> tuple[AllocationResult, Growth] | Refused:
        """The allocation of these inputs as the last one plus the new offers (module
        doc), and its growth; or why it would not be the optimum."""
        if (
            today != self.today
            or params != self.params
            or tuple(fixed) != self.fixed
            or frozenset(excluded_pairs) != self.excluded_pairs
            or tuple(demands) != self.demands
            or tuple(licences) != self.licences
        ):
            return Refused.MARKET_CHANGED
        identities = _identities(offers)
        moved = _found_in_order(self.identities, identities)
        if moved is None:
            return Refused.OFFER_CHANGED
        is_new = np.ones(len(offers), dtype=bool)
        is_new[moved] = False
        newcomers = np.flatnonzero(is_new)
        # The same fixed matches off the same offers: only the newcomers' shares are new.
        new = apply_fixed([offers[at] for at in newcomers.tolist()], (), (), fixed, today).offers
        net = self.net.with_offers(is_new, new)
        if len(net.offer_positions) != len(net.offers):
            return Refused.ID_REPEATED
        kilograms = np.empty(len(offers), dtype=np.int64)
        kilograms[moved] = self.kilograms
        kilograms[newcomers] = offer_kilograms(new)
        fresh = build_candidate_edges(
            new,
            net.demands,
            net.licences,
            today=self.today,
            road_factor=params.road_factor,
        )
        # A newcomer may have been turned down before (an offer back on the market): its
        # rejected pairs take no part, as in a full round.
        fresh = without_pairs(fresh, NetCapacities(new, net.demands, net.licences), excluded_pairs)
        if fresh.may_repeat_pairs:
            return Refused.PAIR_REPEATED
        keys = (fresh.demand * len(net.licences) + fresh.licence).tolist()
        fresh_heads = np.fromiter(map(self.pair_node.get, keys, [-1] * len(keys)), np.int64)
        if (fresh_heads < 0).any():
            return Refused.NEW_PAIR  # the network's shape may change
        market = _Market.of(self, (moved, newcomers, kilograms), net.demands, fresh, fresh_heads)
        grown = market.grown(self.tree, penalty_unit_cost(params), params.stability_margin)
        if grown is None:
            return Refused.TOO_CONTESTED
        edge_flows, tree, solves = grown
        candidate_edges = self.candidate_edges + len(fresh)
        result = build_result(
            net,
            market.edges,
            edge_flows,
            params,
            candidate_edges=candidate_edges,
            rounds=solves,
            offer_kg=market.kilograms,
        )
        routes = np.flatnonzero(edge_flows > 0)
        growth = replace(
            self,
            offers=tuple(offers),
            identities=identities,
            net=net,
            kilograms=kilograms,
            edges=_Edges.of(market.edges, market.heads),
            routes=routes,
            route_kg=edge_flows[routes],
            candidate_edges=candidate_edges,
            tree=tree,
        )
        return result, growth


def _identities(offers: Sequence[OfferSlot]) -> IntArray:
    return np.fromiter(map(id, offers), np.int64, len(offers))


def _found_in_order(before: IntArray, now: IntArray) -> IntArray | None:
    """Where each identity of `before` is in `now`, if every one is there once and in the
    same order (a sorted search, not a set of 20,000 ids); else None."""
    if len(before) == 0:
        return np.zeros(0, dtype=np.int64)
    ordered = np.sort(before)
    at = np.searchsorted(ordered, now).clip(max=len(ordered) - 1)
    found = np.flatnonzero(ordered[at] == now)
    if len(found) != len(before) or not np.array_equal(now[found], before):
        return None
    return found


@dataclass(frozen=True, slots=True)
class _Edges:
    """Candidate edges and their tree nodes kept between rounds, as int32 (positions, nodes
    and metres all fit): 20 bytes an edge, where int64 columns with their costs took 48.
    A 20,000 × 3,000 city has 3.6 M candidate edges."""

    offer: Int32Array
    demand: Int32Array
    licence: Int32Array
    metres: Int32Array
    head: Int32Array

    @classmethod
    def of(cls, edges: CandidateEdges, heads: IntArray) -> _Edges:
        columns = (edges.offer, edges.demand, edges.licence, edges.metres, heads)
        if len(heads) and max(int(c.max()) for c in columns) > np.iinfo(np.int32).max:
            raise OverflowError("a candidate edge's position or metres exceed int32")
        return cls(*(c.astype(np.int32) for c in columns))

    def __len__(self) -> int:
        return len(self.offer)


@dataclass(frozen=True, slots=True)
class _Market:
    """The last allocation's edges and the newcomers', as positions in the new `net`; the
    newcomers' edges last."""

    edges: CandidateEdges
    heads: IntArray
    costs: IntArray
    #: Each edge's kg in the last allocation (0 on the newcomers'), and the edges with any.
    standing: IntArray
    routes: IntArray
    #: Each offer's kg, the newcomers' positions, and which newcomer each new edge is of.
    kilograms: IntArray
    newcomers: IntArray
    newcomer_of: IntArray
    #: Where the newcomers' edges start.
    first_new: int
    demand_kg: IntArray

    @classmethod
    def of(
        cls,
        growth: Growth,
        offers: tuple[IntArray, IntArray, IntArray],
        demands: Sequence[DemandSlot],
        fresh: CandidateEdges,
        fresh_heads: IntArray,
    ) -> _Market:
        """`offers`: where each offer of the last allocation is now, the newcomers'
        positions, and every offer's kg (net of fixed matches)."""
        moved, newcomers, kilograms = offers
        old = growth.edges
        metres = np.concatenate([old.metres, fresh.metres]).astype(np.int64)
        edges = CandidateEdges(
            np.concatenate([moved[old.offer], newcomers[fresh.offer]]),
            np.concatenate([old.demand, fresh.demand]).astype(np.int64),
            np.concatenate([old.licence, fresh.licence]).astype(np.int64),
            metres,
            False,
        )
        standing = np.zeros(len(edges), dtype=np.int64)
        standing[growth.routes] = growth.route_kg
        return cls(
            edges=edges,
            heads=np.concatenate([old.head, fresh_heads]).astype(np.int64),
            costs=edge_unit_costs(metres, growth.params),
            standing=standing,
            routes=growth.routes,
            kilograms=kilograms,
            newcomers=newcomers,
            newcomer_of=fresh.offer,
            first_new=len(old),
            demand_kg=demand_kilograms(demands),
        )

    def grown(self, tree: Tree, penalty: int, margin: float) -> tuple[IntArray, Tree, int] | None:
        """Kg on each edge, the tree after, and the solves it took; None if too contested."""
        first, heads = self.first_new, self.heads
        capacity = np.minimum(self.kilograms[self.edges.offer], self.demand_kg[self.edges.demand])
        # Each newcomer's cheapest edge at the last prices, unless its penalty is cheaper.
        to_sink = tree.to_sink()
        chosen = first_cheapest(
            self.newcomer_of,
            self.costs[first:] + to_sink[heads[first:]],
            len(self.newcomers),
            penalty,
        )
        has_edge = chosen < len(self.newcomer_of)
        edge = first + chosen[has_edge]
        kilograms = self.kilograms[self.newcomers[has_edge]]
        whole = capacity[edge] >= kilograms
        added = tree.loads(heads[edge[whole]], kilograms[whole])
        filled = (added > 0) & (added >= tree.room)
        crossing = tree.crossing(filled)
        flows = self.standing.copy()
        flows[edge[whole]] = kilograms[whole]
        contested_new = ~whole | crossing[heads[edge]]
        if not contested_new.any():
            return flows, replace(tree, load=tree.load + added), 0
        # The newcomers that contest, and every offer on a capacity they would fill.
        contested = np.zeros(len(self.kilograms), dtype=bool)
        contested[self.newcomers[has_edge][contested_new]] = True
        contested[self.edges.offer[(self.standing > 0) & crossing[heads]]] = True
        arcs = self._arcs(flows, capacity, tree.sink, penalty, margin)
        answer = resolved(arcs, self.kilograms, tree, contested)
        if answer is None:
            return None
        arc_flows, after = answer
        edge_flows = arc_flows[: len(flows)].copy()
        edge_flows[self.routes] += arc_flows[len(arc_flows) - len(self.routes) :]
        return edge_flows, after, 1

    def _arcs(
        self, flows: IntArray, capacity: IntArray, sink: int, penalty: int, margin: float
    ) -> OfferArcs:
        """The arcs a full round's network would have, with the kg each carries: the
        edges (the newcomers' placed), the penalty arcs, and the last allocation's
        routes as standing copies of their edges."""
        standing = self.routes
        n_offers = len(self.kilograms)
        edge_flows = np.where(self.standing > 0, 0, flows)  # old routes ride their copies
        matched = np.bincount(self.edges.offer, weights=flows, minlength=n_offers)
        return OfferArcs(
            offer=np.concatenate(
                [self.edges.offer, np.arange(n_offers), self.edges.offer[standing]]
            ),
            head=np.concatenate([self.heads, np.full(n_offers, sink), self.heads[standing]]),
            cost=np.concatenate(
                [
                    self.costs,
                    np.full(n_offers, penalty),
                    standing_unit_costs(self.costs[standing], margin),
                ]
            ),
            capacity=np.concatenate(
                [capacity - self.standing, self.kilograms, self.standing[standing]]
            ),
            flow=np.concatenate(
                [edge_flows, self.kilograms - matched.astype(np.int64), self.standing[standing]]
            ),
        )
