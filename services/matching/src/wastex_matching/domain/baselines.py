"""Greedy baselines the optimiser is measured against (same candidate edges, same pricing).

- `greedy_nearest_first`: offers in the order given (posting order: first come, first
  served), each sent to its nearest feasible demand with room, then the next nearest, until
  it is placed or nothing is left. This is what a phone-and-spreadsheet exchange does.
- `greedy_shortest_edge_first`: all candidate edges at once, shortest first. Less myopic
  about arrival order, still blind to who else needed a demand.

Both respect every capacity exactly (offer, demand, each licence's annual tonnage), so
they also serve as a feasibility reference. The LP optimum lives with the tests and the
benchmark (scipy is a dev dependency only).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.candidates import CandidateEdges, build_candidate_edges
from wastex_matching.domain.capacity import NetCapacities, apply_fixed
from wastex_matching.domain.model import (
    AllocationResult,
    DemandSlot,
    FixedMatch,
    LicenceView,
    OfferSlot,
)
from wastex_matching.domain.params import MatchingParams
from wastex_matching.domain.result import (
    build_result,
    demand_kilograms,
    licence_kilograms,
    offer_kilograms,
)


def greedy_nearest_first(
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    *,
    today: date,
    fixed: Sequence[FixedMatch] = (),
    params: MatchingParams | None = None,
    edges: CandidateEdges | None = None,
) -> AllocationResult:
    """Offer by offer in the given order, nearest demand first (`edges`: reuse prebuilt)."""
    params = params or MatchingParams()
    net, edges = _prepare(offers, demands, licences, today, fixed, params, edges)
    order = np.lexsort((edges.metres, edges.offer))
    return _fill(net, edges, order, params)


def greedy_shortest_edge_first(
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    *,
    today: date,
    fixed: Sequence[FixedMatch] = (),
    params: MatchingParams | None = None,
    edges: CandidateEdges | None = None,
) -> AllocationResult:
    """Every candidate edge, shortest first, each filled as far as capacities allow."""
    params = params or MatchingParams()
    net, edges = _prepare(offers, demands, licences, today, fixed, params, edges)
    order = np.lexsort((edges.offer, edges.metres))
    return _fill(net, edges, order, params)


def _prepare(
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    today: date,
    fixed: Sequence[FixedMatch],
    params: MatchingParams,
    edges: CandidateEdges | None,
) -> tuple[NetCapacities, CandidateEdges]:
    net = apply_fixed(offers, demands, licences, fixed, today)
    if edges is None:
        edges = build_candidate_edges(
            net.offers, net.demands, net.licences, today=today, road_factor=params.road_factor
        )
    return net, edges


def _fill(
    net: NetCapacities, edges: CandidateEdges, order: NDArray[np.int64], params: MatchingParams
) -> AllocationResult:
    offer_left = offer_kilograms(net.offers).tolist()
    demand_left = demand_kilograms(net.demands).tolist()
    licence_left = licence_kilograms(net.licences).tolist()
    offer_of, demand_of, licence_of = (
        edges.offer.tolist(),
        edges.demand.tolist(),
        edges.licence.tolist(),
    )
    flow = [0] * len(edges)
    for k in order.tolist():
        o, d, lic = offer_of[k], demand_of[k], licence_of[k]
        amount = min(offer_left[o], demand_left[d], licence_left[lic])
        if amount <= 0:
            continue
        flow[k] = amount
        offer_left[o] -= amount
        demand_left[d] -= amount
        licence_left[lic] -= amount
    return build_result(
        net,
        edges,
        np.array(flow, dtype=np.int64),
        params,
        candidate_edges=len(edges),
        rounds=0,
    )
