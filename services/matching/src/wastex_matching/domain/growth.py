"""A round that only adds offers: the last allocation plus the newcomers, without re-planning.

Under a steady feed most rounds change nothing but offers arriving, and re-planning a market
of 20,000 offers for a few hundred new ones is most of a round's work. So an allocation
leaves a `Growth`: what it allocated, the routes it chose, and the room left on every
capacity below the offers (the forest of `flows.py`). The next round, if nothing but new
offers came (the same demands, licences, fixed matches, rejected pairs, day and knobs; every
offer allocated before still there, the same object), places each new offer on its cheapest
edge, provided

- that edge carries the whole offer and its (demand, licence) pair was among the last
  allocation's, so the network's shape (which licences bind, which demands mix licences)
  is unchanged, and
- every capacity on its way keeps room after all the newcomers are placed.

The result is then optimal, by decision 011's argument across rounds: the last allocation
was optimal with some prices on the capacities it filled; the newcomers fill none and use
only capacities priced at zero, so each pays no more than its cheapest edge, and the old
prices still prove the old routes. And it is the allocation a full round would make: the
standing proposals, favoured by the stability margin, are its unique optimum on the old
part, and a newcomer's first cheapest edge is the one a full round settles it on (its edges
come in the same order). Anything else (a newcomer contested, a new pair, a licence shared
by several claimants, more than one licence able to serve a pair, an offer gone or changed)
gives None, and the round plans the whole market.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.candidates import CandidateEdges, build_candidate_edges
from wastex_matching.domain.capacity import NetCapacities, apply_fixed
from wastex_matching.domain.flows import Forest, first_cheapest
from wastex_matching.domain.model import (
    AllocationResult,
    DemandSlot,
    FixedMatch,
    LicenceView,
    OfferSlot,
)
from wastex_matching.domain.network import FlowNetwork, edge_unit_costs, penalty_unit_cost
from wastex_matching.domain.params import MatchingParams
from wastex_matching.domain.result import build_result, demand_kilograms, offer_kilograms

IntArray = NDArray[np.int64]


class Refused(StrEnum):
    """Why a round could not grow the last allocation (it plans the whole market instead)."""

    #: Demands, licences, fixed matches, rejected pairs, the day or the knobs changed.
    MARKET_CHANGED = "MARKET_CHANGED"
    #: An offer allocated last time is gone, or came back as another version of itself.
    OFFER_CHANGED = "OFFER_CHANGED"
    #: A newcomer's id is taken (`allocate` refuses the market).
    ID_REPEATED = "ID_REPEATED"
    #: A demand has two licences able to carry one code: the full round picks the licence.
    PAIR_REPEATED = "PAIR_REPEATED"
    #: A newcomer reaches a (demand, licence) pair the last network had no arc for.
    NEW_PAIR = "NEW_PAIR"
    #: A newcomer's cheapest edge cannot carry all of it.
    EDGE_TOO_SMALL = "EDGE_TOO_SMALL"
    #: The newcomers would fill a capacity (or head for a full one): they contest it.
    CAPACITY_FILLED = "CAPACITY_FILLED"


@dataclass(frozen=True, eq=False)
class Growth:
    """What an allocation leaves for a round that only adds offers (`added`)."""

    #: The inputs as the allocation was given them (offers by identity, the rest by value).
    offers: tuple[OfferSlot, ...]
    demands: tuple[DemandSlot, ...]
    licences: tuple[LicenceView, ...]
    fixed: tuple[FixedMatch, ...]
    excluded_pairs: frozenset[tuple[str, str]]
    today: date
    params: MatchingParams
    #: What was allocated, and its routes: edges with flow (positions in `net`) and kg.
    net: NetCapacities
    edges: CandidateEdges
    edge_flows: IntArray
    candidate_edges: int
    #: The forest below the offers: each (demand × licences + licence) pair's first node,
    #: each node's next one towards the sink (`sink` itself at the end), the room on each
    #: node's way out, and the most arcs a path has.
    pair_node: dict[int, int]
    parent: IntArray
    room: IntArray
    depth: int

    @property
    def sink(self) -> int:
        return len(self.parent)

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
        flows: IntArray,
    ) -> Growth | None:
        """The growth of an allocation of `given` (offers, demands, licences, fixed,
        excluded pairs) solved as `network` under `capacities` with `flows`; None when its
        shape rules growth out (a shared licence, a pair two licences could serve)."""
        offers, demands, licences, fixed, excluded = given
        edges = network.edges
        if network.shared_licences or edges.may_repeat_pairs:
            return None
        forest = Forest.of(network)
        if forest is None:
            return None
        n_offers, n_licences = network.num_offers, len(licences)
        out_arc = forest.out_arc[n_offers:-1]  # each node's below the offers, sink left out
        parent = network.heads[out_arc] - n_offers
        room = capacities[out_arc] - flows[out_arc]
        # Edge arcs come first in the network, in edge order: an edge's head is its arc's.
        keys = edges.demand * n_licences + edges.licence
        first = np.unique(keys, return_index=True)[1]
        heads = network.heads[first] - n_offers
        pair_node = dict(zip(keys[first].tolist(), heads.tolist(), strict=True))
        edge_flows = network.edge_flows(flows)
        used = np.flatnonzero(edge_flows > 0)
        return cls(
            offers=tuple(offers),
            demands=tuple(demands),
            licences=tuple(licences),
            fixed=tuple(fixed),
            excluded_pairs=frozenset(excluded),
            today=today,
            params=params,
            net=result.net,
            edges=_subset(edges, used),
            edge_flows=edge_flows[used],
            candidate_edges=result.candidate_edges,
            pair_node=pair_node,
            parent=parent,
            room=room,
            depth=len(forest.levels),
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
        """The allocation of these inputs as the last one plus the new offers on their
        cheapest edges, and its growth; or why that would not be the optimum (module doc)."""
        if (
            today != self.today
            or params != self.params
            or tuple(fixed) != self.fixed
            or frozenset(excluded_pairs) != self.excluded_pairs
            or tuple(demands) != self.demands
            or tuple(licences) != self.licences
        ):
            return Refused.MARKET_CHANGED
        known = {id(offer) for offer in self.offers}
        new = [offer for offer in offers if id(offer) not in known]
        if len(offers) - len(new) != len(self.offers):
            return Refused.OFFER_CHANGED
        net = apply_fixed(offers, demands, licences, fixed, today)
        if len(net.offer_positions) != len(net.offers):
            return Refused.ID_REPEATED
        # As allocated: with what fixed matches hold of them taken off.
        placed = self._placed(net, [net.offer(offer.offer_id) for offer in new], params)
        if isinstance(placed, Refused):
            return placed
        new_edges, new_flows, room = placed
        # The old routes, their offers at their places among all the offers now.
        moved = np.fromiter(
            map(net.offer_positions.__getitem__, self.net.offer_ids), np.int64, len(self.net.offers)
        )
        old = self.edges
        edges = CandidateEdges(
            np.concatenate([moved[old.offer], new_edges.offer]),
            np.concatenate([old.demand, new_edges.demand]),
            np.concatenate([old.licence, new_edges.licence]),
            np.concatenate([old.metres, new_edges.metres]),
            False,
        )
        edge_flows = np.concatenate([self.edge_flows, new_flows])
        candidate_edges = self.candidate_edges + len(new_edges)
        result = build_result(
            net, edges, edge_flows, params, candidate_edges=candidate_edges, rounds=0
        )
        used = np.flatnonzero(edge_flows > 0)
        grown = Growth(
            offers=tuple(offers),
            demands=self.demands,
            licences=self.licences,
            fixed=self.fixed,
            excluded_pairs=self.excluded_pairs,
            today=today,
            params=params,
            net=net,
            edges=_subset(edges, used),
            edge_flows=edge_flows[used],
            candidate_edges=candidate_edges,
            pair_node=self.pair_node,
            parent=self.parent,
            room=room,
            depth=self.depth,
        )
        return result, grown

    def _placed(
        self, net: NetCapacities, new: list[OfferSlot], params: MatchingParams
    ) -> tuple[CandidateEdges, IntArray, IntArray] | Refused:
        """The new offers' edges (positions in `net`) with each offer's whole tonnage on
        its cheapest one, and the room left, if every one has room all the way."""
        fresh = build_candidate_edges(
            new, net.demands, net.licences, today=self.today, road_factor=params.road_factor
        )
        if fresh.may_repeat_pairs:
            return Refused.PAIR_REPEATED
        n_licences = len(net.licences)
        keys = fresh.demand * n_licences + fresh.licence
        node = np.fromiter(map(self.pair_node.get, keys.tolist(), [-1] * len(keys)), np.int64)
        if (node < 0).any():
            return Refused.NEW_PAIR  # the network's shape may change
        kilograms = offer_kilograms(new)
        costs = edge_unit_costs(fresh.metres, params)
        # Each new offer's cheapest edge (the first of equals), unless its penalty is cheaper
        # (as a full round settles it: edge arcs come before the penalty arcs).
        chosen = first_cheapest(fresh.offer, costs, len(new), penalty_unit_cost(params))
        has_edge = chosen < len(fresh)
        chosen = chosen[has_edge]
        demand_kg = demand_kilograms(net.demands)
        carried = np.minimum(kilograms[has_edge], demand_kg[fresh.demand[chosen]])
        if (carried < kilograms[has_edge]).any():
            return Refused.EDGE_TOO_SMALL
        load = np.zeros(self.sink + 1, dtype=np.int64)
        at = node[chosen]
        for _ in range(self.depth):
            np.add.at(load, at, kilograms[has_edge])
            at = np.append(self.parent, self.sink)[at]
        load = load[: self.sink]
        if ((load > 0) & (load >= self.room)).any():
            return Refused.CAPACITY_FILLED
        flows = np.zeros(len(fresh), dtype=np.int64)
        flows[chosen] = kilograms[has_edge]
        positions = np.fromiter(
            (net.offer_positions[offer.offer_id] for offer in new), np.int64, len(new)
        )
        edges = CandidateEdges(
            positions[fresh.offer], fresh.demand, fresh.licence, fresh.metres, False
        )
        return edges, flows, self.room - load


def _subset(edges: CandidateEdges, keep: IntArray) -> CandidateEdges:
    return CandidateEdges(
        edges.offer[keep], edges.demand[keep], edges.licence[keep], edges.metres[keep], False
    )
