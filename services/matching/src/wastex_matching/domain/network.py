"""The flow network: candidate edges plus demand and licence capacities, as integer arrays.

Units: flow in kilograms; an edge of `m` road metres costs round(m × freight factor) per
kg, i.e. milligrams of CO2e per kilogram moved (= grams per tonne; `COST_SCALE` = 1000
units per kg CO2e/t). Rounding is to 1 g per tonne per edge, under 0.1 % of a typical
15 km haul (1.17 kg/t) and far below what a comparison with the LP optimum can see. (The
network simplex does not care: costs × 100 solve the 20k × 3k city in the same 2 s; a finer
scale would only shrink the headroom `optimiser.MAX_TOTAL_COST` leaves below 2⁶³.)

Nodes and arcs:

    offer ──edge (cost = distance)──► demand ──(demand's remaining)──► sink
      └────────(penalty per kg, capacity = offer)──────────────────────┘

Licence annual tonnage is the awkward constraint: a licence belongs to an enterprise and
covers some codes, a demand belongs to a site of that enterprise and asks for some codes,
so "per demand" and "per licence" totals cross, and crossing totals are not a network
flow in general. It is modelled as follows, exactly in the common cases:

1. a licence whose demands together cannot exceed it (*slack*) needs no arc at all; when
   an (offer, demand) pair could use a slack licence, only that edge is kept;
2. demands whose binding edges all use one licence ℓ (and have no slack edges) are
   *pure*: they drain into a licence node `ℓ` whose arc to the sink carries ℓ's
   remaining tonnage — exact however many sites share the licence;
3. a demand mixing licences gets a node per (demand, ℓ) in front of it whose arc carries
   a *share* of ℓ's tonnage.

When one binding licence has several claimants (the pure group and mixed demands) its
tonnage is split in proportion to their remaining intake; the optimiser then rebalances
(`rebalanced_allowances`) and moves shares where the solver prices them higher
(decision 005's last update). The shares always add up to the licence's tonnage, so no
allocation ever exceeds a licence; only that rare case may be costlier than the LP.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.candidates import CandidateEdges
from wastex_matching.domain.params import MatchingParams

#: Integer cost units per (kg CO2e per tonne): grams per tonne, i.e. mg per kg of flow.
COST_SCALE: Final = 1_000

IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class LicenceClaims:
    """A binding licence shared by several claimants: the arcs carrying each one's share."""

    licence: int
    capacity_kg: int
    arcs: IntArray
    potentials_kg: IntArray
    allowances_kg: IntArray


@dataclass(frozen=True, slots=True)
class FlowNetwork:
    tails: IntArray
    heads: IntArray
    capacities: IntArray
    unit_costs: IntArray
    supplies: IntArray
    #: The candidate edges kept, aligned with arcs 0 … len(edges) − 1.
    edges: CandidateEdges
    #: Arc of offer i's penalty (unmatched) arc is `penalty_arc_start + i`.
    penalty_arc_start: int
    shared_licences: tuple[LicenceClaims, ...]
    #: The edge each standing arc copies; standing arcs are the last arcs (`with_standing`).
    standing_edges: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def num_nodes(self) -> int:
        return int(self.supplies.shape[0])

    @property
    def num_offers(self) -> int:
        """Offers are nodes 0 … num_offers − 1, one penalty arc each."""
        return len(self.tails) - len(self.standing_edges) - self.penalty_arc_start

    def edge_flows(self, flows: IntArray) -> IntArray:
        """Kilograms on each candidate edge: its arc's flow plus its standing arc's."""
        edge_flows = flows[: len(self.edges)].copy()
        if n_standing := len(self.standing_edges):
            edge_flows[self.standing_edges] += flows[len(flows) - n_standing :]
        return edge_flows

    def with_standing(
        self,
        offer: IntArray,
        demand: IntArray,
        licence: IntArray,
        kilograms: IntArray,
        margin: float,
    ) -> FlowNetwork:
        """This network with standing proposals made a little cheaper to repeat.

        A proposal of `kilograms` from `offer` to `demand` under `licence` (positions; -1
        where unknown) gets a parallel copy of its edge (that pair's first edge if the
        licence has none) carrying up to its kilograms at the edge's cost less `margin` of
        it, at least one unit; the edge keeps the rest of its capacity at full cost. So of
        equal allocations the solver keeps the one already proposed, and it moves a
        proposal only to save more than the margin. Proposals without an edge (a listing
        closed, a pair rejected) are ignored."""
        edges = self.edges
        # Only the edges of standing pairs are searched: a few per proposal, of millions.
        near = edges.joining(offer, demand)
        if not len(near):
            return self
        n_d = int(max(edges.demand.max(initial=-1), demand.max(initial=-1))) + 1
        n_l = int(max(edges.licence.max(initial=-1), licence.max(initial=-1))) + 1
        pair = np.where((offer >= 0) & (demand >= 0), offer * n_d + demand, -1)
        near_pair = edges.offer[near] * n_d + edges.demand[near]
        edge = _first_edge_of(near_pair, pair)
        exact = _first_edge_of(
            near_pair * n_l + edges.licence[near],
            np.where((pair >= 0) & (licence >= 0), pair * n_l + licence, -1),
        )
        edge = np.where(exact >= 0, near[exact], np.where(edge >= 0, near[edge], -1))
        found = edge >= 0
        if not found.any():
            return self
        # One standing arc per edge, carrying the kilograms of every proposal on it.
        standing_edges, inverse = np.unique(edge[found], return_inverse=True)
        wanted = np.zeros(len(standing_edges), dtype=np.int64)
        np.add.at(wanted, inverse, kilograms[found])
        capacities = self.capacities.copy()
        standing_kg = np.minimum(wanted, capacities[standing_edges])
        capacities[standing_edges] -= standing_kg
        costs = self.unit_costs[standing_edges]
        return replace(
            self,
            tails=np.concatenate([self.tails, self.tails[standing_edges]]),
            heads=np.concatenate([self.heads, self.heads[standing_edges]]),
            capacities=np.concatenate([capacities, standing_kg]),
            unit_costs=np.concatenate([self.unit_costs, standing_unit_costs(costs, margin)]),
            standing_edges=standing_edges,
        )


def _first_edge_of(edge_keys: IntArray, keys: IntArray) -> IntArray:
    """For each of `keys`, the lowest index into `edge_keys` with that key, or -1 (none, or
    key < 0)."""
    if not len(edge_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    by_key = np.argsort(edge_keys, kind="stable")
    sorted_keys = edge_keys[by_key]
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(by_key) - 1)
    hit = (keys >= 0) & (sorted_keys[at] == keys)
    first: IntArray = np.where(hit, by_key[at], -1)
    return first


def edge_unit_costs(metres: NDArray[np.int64], params: MatchingParams) -> NDArray[np.int64]:
    """Cost per kg on each edge: road metres × freight factor (mg CO2e per kg moved)."""
    per_metre = float(params.freight_factor().value) * COST_SCALE / 1000.0
    costs: NDArray[np.int64] = np.rint(metres * per_metre).astype(np.int64)
    return costs


def standing_unit_costs(costs: IntArray, margin: float) -> IntArray:
    """What repeating a standing proposal costs per kg on edges of these `costs`: `margin`
    of it less, at least one unit less (none on a free edge, none when `margin` is 0)."""
    if margin <= 0:
        return costs
    discounts = np.where(costs > 0, np.maximum(1, np.rint(costs * margin)), 0)
    standing: IntArray = costs - discounts.astype(np.int64)
    return standing


def penalty_unit_cost(params: MatchingParams) -> int:
    return round(params.penalty_kg_per_tonne * COST_SCALE)


def build_network(
    edges: CandidateEdges,
    edge_costs: IntArray,
    offer_kg: IntArray,
    demand_kg: IntArray,
    licence_kg: IntArray,
    penalty_cost: int,
) -> FlowNetwork:
    n_o, n_d, n_l = len(offer_kg), len(demand_kg), len(licence_kg)
    slack = _slack_licences(edges, demand_kg, licence_kg)
    if edges.may_repeat_pairs:
        keep = _keep_slack_edge_when_possible(edges, slack, n_d)
        kept = CandidateEdges(
            edges.offer[keep], edges.demand[keep], edges.licence[keep], edges.metres[keep], True
        )
        kept_costs = edge_costs[keep]
    else:
        kept, kept_costs = edges, edge_costs
    edge_slack = slack[kept.licence]

    has_slack = np.bincount(kept.demand[edge_slack], minlength=n_d) > 0
    binding_pairs = np.unique(kept.demand[~edge_slack] * n_l + kept.licence[~edge_slack])
    pair_demand, pair_licence = binding_pairs // n_l, binding_pairs % n_l
    binding_count = np.bincount(pair_demand, minlength=n_d)
    pure = ~has_slack & (binding_count == 1)

    # Node numbering: offers, demands, licence nodes (pure groups), pair nodes, sink.
    demand_node = n_o + np.arange(n_d, dtype=np.int64)
    pure_demands = np.nonzero(pure)[0]
    pure_licence_of = np.full(n_d, -1, dtype=np.int64)
    single = pure[pair_demand]
    pure_licence_of[pair_demand[single]] = pair_licence[single]
    pure_licences = np.unique(pure_licence_of[pure_demands])
    licence_node = np.full(n_l, -1, dtype=np.int64)
    licence_node[pure_licences] = n_o + n_d + np.arange(len(pure_licences), dtype=np.int64)
    mixed_pairs = binding_pairs[~single]
    first_pair_node = n_o + n_d + len(pure_licences)
    sink = first_pair_node + len(mixed_pairs)

    # Candidate arcs: into the pair node when the edge is binding and its demand mixed.
    heads = demand_node[kept.demand].copy()
    to_pair = ~edge_slack & ~pure[kept.demand]
    if to_pair.any():
        pair_key = kept.demand[to_pair] * n_l + kept.licence[to_pair]
        heads[to_pair] = first_pair_node + np.searchsorted(mixed_pairs, pair_key)
    tails_list = [kept.offer]
    heads_list = [heads]
    caps_list = [np.minimum(offer_kg[kept.offer], demand_kg[kept.demand])]
    costs_list = [kept_costs]
    arc_count = len(kept)

    # Claimants per binding licence: each mixed (demand, licence) pair (its pair → demand
    # arc) and the pure group (its licence → sink arc). Capacities are set below.
    claimants: dict[int, list[tuple[int, int]]] = {}  # licence → [(arc, potential kg)]
    pair_demands, pair_licences = mixed_pairs // n_l, mixed_pairs % n_l
    for k in range(len(mixed_pairs)):
        lic, dem = int(pair_licences[k]), int(pair_demands[k])
        claimants.setdefault(lic, []).append((arc_count + k, int(demand_kg[dem])))
    tails_list.append(first_pair_node + np.arange(len(mixed_pairs), dtype=np.int64))
    heads_list.append(demand_node[pair_demands])
    caps_list.append(np.zeros(len(mixed_pairs), dtype=np.int64))
    costs_list.append(np.zeros(len(mixed_pairs), dtype=np.int64))
    arc_count += len(mixed_pairs)

    # Demand outflow: pure demands into their licence node, the rest straight to the sink.
    outflow_heads = np.full(n_d, sink, dtype=np.int64)
    outflow_heads[pure_demands] = licence_node[pure_licence_of[pure_demands]]
    tails_list.append(demand_node)
    heads_list.append(outflow_heads)
    caps_list.append(demand_kg.astype(np.int64))
    costs_list.append(np.zeros(n_d, dtype=np.int64))
    arc_count += n_d

    group_kg = np.zeros(n_l, dtype=np.int64)
    np.add.at(group_kg, pure_licence_of[pure_demands], demand_kg[pure_demands])
    for k, lic in enumerate(pure_licences):
        claimants.setdefault(int(lic), []).append((arc_count + k, int(group_kg[lic])))
    tails_list.append(licence_node[pure_licences])
    heads_list.append(np.full(len(pure_licences), sink, dtype=np.int64))
    caps_list.append(np.zeros(len(pure_licences), dtype=np.int64))
    costs_list.append(np.zeros(len(pure_licences), dtype=np.int64))
    arc_count += len(pure_licences)

    penalty_arc_start = arc_count
    tails_list.append(np.arange(n_o, dtype=np.int64))
    heads_list.append(np.full(n_o, sink, dtype=np.int64))
    caps_list.append(offer_kg.astype(np.int64))
    costs_list.append(np.full(n_o, penalty_cost, dtype=np.int64))

    capacities = np.concatenate(caps_list)
    shared: list[LicenceClaims] = []
    for lic, claims in sorted(claimants.items()):
        arcs = np.array([arc for arc, _ in claims], dtype=np.int64)
        potentials = np.array([pot for _, pot in claims], dtype=np.int64)
        allowances = split_in_proportion(int(licence_kg[lic]), potentials)
        capacities[arcs] = allowances
        if len(claims) > 1:
            shared.append(LicenceClaims(lic, int(licence_kg[lic]), arcs, potentials, allowances))

    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_o] = offer_kg
    supplies[sink] = -int(offer_kg.sum())
    return FlowNetwork(
        tails=np.concatenate(tails_list),
        heads=np.concatenate(heads_list),
        capacities=capacities,
        unit_costs=np.concatenate(costs_list),
        supplies=supplies,
        edges=kept,
        penalty_arc_start=penalty_arc_start,
        shared_licences=tuple(shared),
    )


def split_in_proportion(total: int, weights: IntArray) -> IntArray:
    """`total` split into integers proportional to `weights` (largest remainder), summing to
    exactly `total` (or to 0 when every weight is 0)."""
    weight_sum = int(weights.sum())
    if weight_sum <= 0 or total <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = [total * int(w) for w in weights]  # Python ints: no overflow
    shares = [e // weight_sum for e in exact]
    leftover = total - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] % weight_sum), i))
    for i in by_remainder[:leftover]:
        shares[i] += 1
    return np.array(shares, dtype=np.int64)


def rebalanced_allowances(
    claims: LicenceClaims, allowances_kg: IntArray, used_kg: IntArray
) -> IntArray | None:
    """New shares after a solve, or None when nothing would change.

    Claimants that used less than their share keep what they used; the tonnage left over
    goes to the claimants that hit their share, in proportion to their intake. The last
    flow stays feasible, so each round's optimum is no costlier than the one before.
    """
    saturated = used_kg >= allowances_kg
    spare = claims.capacity_kg - int(used_kg.sum())
    if spare <= 0 or not saturated.any() or saturated.all():
        return None
    rebalanced = used_kg.copy()
    rebalanced[saturated] += split_in_proportion(spare, claims.potentials_kg[saturated])
    if np.array_equal(rebalanced, allowances_kg):
        return None
    return rebalanced


def _slack_licences(
    edges: CandidateEdges, demand_kg: IntArray, licence_kg: IntArray
) -> NDArray[np.bool_]:
    """Licences whose candidate demands together cannot take more than they have left."""
    n_l = len(licence_kg)
    pairs = np.unique(edges.demand * n_l + edges.licence)
    potential = np.zeros(n_l, dtype=np.int64)
    np.add.at(potential, pairs % n_l, demand_kg[pairs // n_l])
    slack: NDArray[np.bool_] = potential <= licence_kg
    return slack


def _keep_slack_edge_when_possible(
    edges: CandidateEdges, slack: NDArray[np.bool_], n_d: int
) -> IntArray:
    """Indices of edges to keep: per (offer, demand), one slack edge if there is one (it is
    as cheap and unconstrained), else every binding edge (the flow picks the licence)."""
    if len(edges) == 0:
        return np.zeros(0, dtype=np.int64)
    key = edges.offer * n_d + edges.demand
    edge_slack = slack[edges.licence]
    order = np.lexsort((edges.licence, ~edge_slack, key))
    key_sorted = key[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = key_sorted[1:] != key_sorted[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    group_slack = edge_slack[order][group_start]
    keep = np.where(group_slack, first, True)
    kept: IntArray = order[keep]
    return kept
