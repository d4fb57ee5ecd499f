"""Allocation: a min-cost flow over the candidate edges (network simplex, `flows.py`).

Minimises, in integer units (`network.py`), the transport CO2e of every tonne shipped
(road tonne-km × freight factor) plus a penalty for every tonne left unmatched (the
penalty arcs keep the flow feasible whatever the capacities). An offer may be split across
recyclers and a demand filled from several offers. Accepted and confirmed matches are
given as `fixed`: they are not re-optimised and their tonnes are taken off offers,
demands and licences first; every provisional (PROPOSED) allocation is recomputed from
scratch each call, which is what re-optimisation means here; the proposals standing from
the last call are given as `standing` and made a little cheaper to repeat
(`MatchingParams.stability_margin`), so that a change in the market moves only the
proposals it has to.

Integer rounding: quantities are whole kilograms (tonnes have kilogram precision, so
none is lost); unit costs are rounded per arc to 1 g CO2e per tonne (`network.COST_SCALE`).
The reported CO2e on matches is recomputed exactly in `Decimal` from tonnes and metres.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import replace
from datetime import date
from typing import Final

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain import errors
from wastex_matching.domain.candidates import (
    CandidateEdges,
    build_candidate_edges,
    without_pairs,
)
from wastex_matching.domain.capacity import NetCapacities, apply_fixed
from wastex_matching.domain.flows import priced_optimal_flows
from wastex_matching.domain.growth import Growth
from wastex_matching.domain.model import (
    AllocationResult,
    DemandSlot,
    FixedMatch,
    LicenceView,
    OfferSlot,
)
from wastex_matching.domain.network import (
    FlowNetwork,
    IntArray,
    build_network,
    edge_unit_costs,
    penalty_unit_cost,
    rebalanced_allowances,
)
from wastex_matching.domain.params import MatchingParams
from wastex_matching.domain.reoptimise import ProposalIndex
from wastex_matching.domain.result import (
    build_result,
    demand_kilograms,
    licence_kilograms,
    offer_kilograms,
)
from wastex_shared.errors import DomainError

#: Headroom below 2⁶³ for the total cost, which the solver sums in int64 (pylmcf checks
#: nothing: an overflow would be undefined behaviour, not an error).
MAX_TOTAL_COST: Final = 1 << 61


def allocate(
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    *,
    today: date,
    fixed: Sequence[FixedMatch] = (),
    params: MatchingParams | None = None,
    excluded_pairs: Set[tuple[str, str]] = frozenset(),
    standing: ProposalIndex | None = None,
) -> AllocationResult:
    """The cheapest allocation of what is left after `fixed`, as explained matches, that
    moves a `standing` proposal only to save more than the stability margin; no tonne goes
    between an (offer id, demand id) of `excluded_pairs`."""
    params = params or MatchingParams()
    return _allocated(offers, demands, licences, today, fixed, params, excluded_pairs, standing)[0]


def allocate_growing(
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    *,
    today: date,
    fixed: Sequence[FixedMatch] = (),
    params: MatchingParams | None = None,
    excluded_pairs: Set[tuple[str, str]] = frozenset(),
    standing: ProposalIndex | None = None,
) -> tuple[AllocationResult, Growth | None]:
    """`allocate`, and what a round that only adds offers can build on (`growth.Growth`)."""
    params = params or MatchingParams()
    result, network, capacities, solved = _allocated(
        offers, demands, licences, today, fixed, params, excluded_pairs, standing
    )
    given = (offers, demands, licences, fixed, excluded_pairs)
    growth = Growth.of(given, today, params, result, network, capacities, solved)
    return result, growth


def _allocated(
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    today: date,
    fixed: Sequence[FixedMatch],
    params: MatchingParams,
    excluded_pairs: Set[tuple[str, str]],
    standing: ProposalIndex | None,
) -> tuple[AllocationResult, FlowNetwork, IntArray, tuple[IntArray, IntArray]]:
    net = apply_fixed(offers, demands, licences, fixed, today)
    _require_unique_ids(net)
    edges = build_candidate_edges(
        net.offers, net.demands, net.licences, today=today, road_factor=params.road_factor
    )
    edges = without_pairs(edges, net, excluded_pairs)
    return _solved(net, edges, params, standing)


def solve(
    net: NetCapacities,
    edges: CandidateEdges,
    params: MatchingParams,
    standing: ProposalIndex | None = None,
) -> AllocationResult:
    """Min-cost flow on given candidate edges (indices into `net`'s sequences).

    Licences shared by several claimants are split first, by solves without the standing
    proposals: the split then depends on the market alone, so the same market splits them
    alike whatever stood before. The last solve favours the standing proposals within it."""
    return _solved(net, edges, params, standing)[0]


def _solved(
    net: NetCapacities,
    edges: CandidateEdges,
    params: MatchingParams,
    standing: ProposalIndex | None,
) -> tuple[AllocationResult, FlowNetwork, IntArray, tuple[IntArray, IntArray]]:
    """`solve`'s result, with the network, capacities, and flows and arc prices of its
    last solve."""
    offer_kg = offer_kilograms(net.offers)
    network = flow_network(net, edges, params, offer_kg)
    capacities, solved, rounds = _split_shared_licences(network, params)
    favoured = _favouring(network, capacities, net, standing, params)
    if favoured is not None:
        network, capacities, solved = favoured, favoured.capacities, None
    if solved is None:
        solved = priced_optimal_flows(network, capacities)
        rounds += 1
    notes: tuple[str, ...] = ()
    if network.shared_licences:
        notes = (
            f"{len(network.shared_licences)} licence(s) binding across several demands: "
            f"annual tonnage split and rebalanced over {rounds} round(s)",
        )
    result = build_result(
        net,
        network.edges,
        network.edge_flows(solved[0]),
        params,
        candidate_edges=len(edges),
        rounds=rounds,
        notes=notes,
        offer_kg=offer_kg,
    )
    return result, network, capacities, solved


def flow_network(
    net: NetCapacities,
    edges: CandidateEdges,
    params: MatchingParams,
    offer_kg: NDArray[np.int64] | None = None,
) -> FlowNetwork:
    """The integer network of `edges` over what `net` has left; refused if its total cost
    could overflow the solver."""
    offer_kg = offer_kilograms(net.offers) if offer_kg is None else offer_kg
    costs = edge_unit_costs(edges.metres, params)
    penalty = penalty_unit_cost(params)
    worst = max(penalty, int(costs.max()) if len(costs) else 0)
    if int(offer_kg.sum()) * worst > MAX_TOTAL_COST:
        raise DomainError(
            errors.INSTANCE_TOO_LARGE,
            "total tonnage × cost would overflow the solver; allocate in smaller batches",
        )
    return build_network(
        edges,
        costs,
        offer_kg,
        demand_kilograms(net.demands),
        licence_kilograms(net.licences),
        penalty,
    )


def _split_shared_licences(
    network: FlowNetwork, params: MatchingParams
) -> tuple[IntArray, tuple[IntArray, IntArray] | None, int]:
    """Arc capacities with each licence several claimants share split among them (solve,
    re-split from the flows, again; then shares moved where the solver prices them
    higher), with the last flows and arc prices and the number of solves; nothing solved
    when no licence is shared."""
    capacities = network.capacities.copy()
    if not network.shared_licences:
        return capacities, None, 0
    flows, prices = priced_optimal_flows(network, capacities)
    rounds = 1
    for _ in range(params.licence_rebalance_rounds):
        if not _rebalance(network, capacities, flows):
            break
        flows, prices = priced_optimal_flows(network, capacities)
        rounds += 1
    capacities, solved, solves = _transferred_shares(
        network, capacities, (flows, prices), params.licence_transfer_solves
    )
    return capacities, solved, rounds + solves


def _transferred_shares(
    network: FlowNetwork, capacities: IntArray, solved: tuple[IntArray, IntArray], budget: int
) -> tuple[IntArray, tuple[IntArray, IntArray], int]:
    """Shares moved between a shared licence's claimants, within `budget` solves.

    Rebalancing only hands out what claimants left unused; when every claimant fills its
    share, the split by intake stays, though one claimant's tonnes may save much more CO2e
    (or landfill) than another's. The solver's prices say which: a full claimant arc with
    price μ would save μ per kg more. So move tonnage from the claimant priced lowest to
    the one priced highest, of the licence where the gap is widest: first what the donor
    leaves unused, else its whole share, halved until the allocation gets cheaper. A move
    that saves nothing is not kept, so the result is never costlier. Each solve prices its
    own answer, so a kept move's solve prices the next."""
    flows, prices = solved
    cost = _cost(network, flows)
    solves = 0
    while solves < budget:
        move = _widest_price_gap(network, capacities, flows, prices)
        if move is None:
            break
        donor, taker = move
        step = int(capacities[donor] - min(flows[donor], capacities[donor])) or int(
            capacities[donor]
        )
        while step > 0 and solves < budget:
            trial = capacities.copy()
            trial[donor] -= step
            trial[taker] += step
            trial_flows, trial_prices = priced_optimal_flows(network, trial)
            solves += 1
            if (trial_cost := _cost(network, trial_flows)) < cost:
                capacities, flows, prices, cost = trial, trial_flows, trial_prices, trial_cost
                break
            step //= 2
        else:
            break
    return capacities, (flows, prices), solves


def _widest_price_gap(
    network: FlowNetwork, capacities: IntArray, flows: IntArray, prices: IntArray
) -> tuple[int, int] | None:
    """(donor arc, taker arc) of the shared licence whose claimants' prices differ most;
    None when no claimant is worth more than another with a share to give."""
    best: tuple[int, int, int] | None = None
    for claims in network.shared_licences:
        arcs = claims.arcs
        full = flows[arcs] >= capacities[arcs]
        worth = np.where(full, prices[arcs], 0)
        givers = np.flatnonzero(capacities[arcs] > 0)
        if not len(givers):
            continue
        taker = int(np.argmax(worth))
        donor = int(givers[np.argmin(worth[givers])])
        gap = int(worth[taker] - worth[donor])
        if gap > 0 and (best is None or gap > best[0]):
            best = (gap, int(arcs[donor]), int(arcs[taker]))
    return None if best is None else (best[1], best[2])


def _cost(network: FlowNetwork, flows: IntArray) -> int:
    return int((flows * network.unit_costs).sum())


def _favouring(
    network: FlowNetwork,
    capacities: IntArray,
    net: NetCapacities,
    standing: ProposalIndex | None,
    params: MatchingParams,
) -> FlowNetwork | None:
    """`network` under `capacities` with the standing proposals favoured; None when no
    proposal stands on any of its edges (or the margin is 0)."""
    if standing is None or not len(standing) or params.stability_margin <= 0:
        return None
    split = replace(network, capacities=capacities)
    offer, demand, licence = standing.positions_in(net)
    favoured = split.with_standing(
        offer, demand, licence, standing.kilograms, params.stability_margin
    )
    return None if favoured is split else favoured


def _rebalance(
    network: FlowNetwork, capacities: NDArray[np.int64], flows: NDArray[np.int64]
) -> bool:
    """Re-split shared licences after a solve (their arcs' `capacities` are the current
    shares); True if any changed."""
    changed = False
    for claims in network.shared_licences:
        shares = capacities[claims.arcs]
        rebalanced = rebalanced_allowances(claims, shares, flows[claims.arcs])
        if rebalanced is None:
            continue
        capacities[claims.arcs] = rebalanced
        changed = True
    return changed


def _require_unique_ids(net: NetCapacities) -> None:
    # By the id → position maps a round builds anyway: a repeated id collapses in them.
    for kind, positions, items in (
        ("offer", net.offer_positions, net.offers),
        ("demand", net.demand_positions, net.demands),
        ("licence", net.licence_positions, net.licences),
    ):
        if len(positions) != len(items):
            raise DomainError(errors.INVALID_PARAMETER, f"{kind} ids must be unique")
