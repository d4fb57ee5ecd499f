"""Turn edge flows (kilograms per candidate edge) into explained matches.

Shared by the optimiser and the baselines, so every allocation is priced the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.candidates import CandidateEdges
from wastex_matching.domain.capacity import NetCapacities
from wastex_matching.domain.emissions import GRAM, penalty_co2e_kg, transport_co2e_kg
from wastex_matching.domain.geo import metres_to_km
from wastex_matching.domain.model import (
    ZERO_TONNES,
    AllocationResult,
    DemandSlot,
    LicenceView,
    OfferSlot,
    ProposedMatch,
    Route,
    RouteTable,
)
from wastex_matching.domain.params import MatchingParams
from wastex_shared.emission_factors import EmissionFactor, avoided_factor
from wastex_shared.units import from_kilograms, to_kilograms


def offer_kilograms(offers: Sequence[OfferSlot]) -> NDArray[np.int64]:
    return np.fromiter((o.kilograms for o in offers), dtype=np.int64, count=len(offers))


def demand_kilograms(demands: Sequence[DemandSlot]) -> NDArray[np.int64]:
    return np.array([to_kilograms(d.remaining_tonnes) for d in demands], dtype=np.int64)


def licence_kilograms(licences: Sequence[LicenceView]) -> NDArray[np.int64]:
    return np.array([to_kilograms(lic.remaining_tonnes) for lic in licences], dtype=np.int64)


def build_result(
    net: NetCapacities,
    edges: CandidateEdges,
    edge_flow_kg: NDArray[np.int64],
    params: MatchingParams,
    *,
    candidate_edges: int,
    rounds: int,
    notes: tuple[str, ...] = (),
    offer_kg: NDArray[np.int64] | None = None,
) -> AllocationResult:
    """A route for every edge with flow, and what each offer has left over."""
    offers = net.offers
    used = np.nonzero(edge_flow_kg > 0)[0]
    # (offer, demand, licence) order by position; an edge is one such triple, so no ties.
    used = used[np.lexsort((edges.licence[used], edges.demand[used], edges.offer[used]))]
    table = RouteTable(
        offer=edges.offer[used],
        demand=edges.demand[used],
        licence=edges.licence[used],
        kilograms=edge_flow_kg[used],
        metres=edges.metres[used],
    )
    matched_kg = _edge_totals(len(offers), edges.offer, edge_flow_kg)
    left_kg = (offer_kilograms(offers) if offer_kg is None else offer_kg) - matched_kg
    unmatched = {
        offers[i].offer_id: from_kilograms(int(left_kg[i])) for i in np.nonzero(left_kg)[0].tolist()
    }
    unmatched_total = sum(unmatched.values(), ZERO_TONNES)
    return AllocationResult(
        table=table,
        unmatched_tonnes=unmatched,
        penalty_co2e_kg=penalty_co2e_kg(unmatched_total, params.penalty_kg_per_tonne),
        candidate_edges=candidate_edges,
        explain=RouteExplainer(net, params),
        net=net,
        rounds=rounds,
        notes=notes,
        kilograms_by_demand=_kilograms_by(net.demand_ids, edges.demand, edge_flow_kg),
        kilograms_by_licence=_kilograms_by(net.licence_ids, edges.licence, edge_flow_kg),
    )


def _kilograms_by(
    ids: Sequence[str], index: NDArray[np.int64], edge_flow_kg: NDArray[np.int64]
) -> dict[str, int]:
    """Kilograms per id (those with any) over the edges whose `index` points at it."""
    totals = _edge_totals(len(ids), index, edge_flow_kg)
    return {ids[i]: int(totals[i]) for i in np.flatnonzero(totals).tolist()}


def _edge_totals(
    size: int, index: NDArray[np.int64], edge_flow_kg: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Kilograms summed per position `index` gives each edge (`size` positions)."""
    totals = np.zeros(size, dtype=np.int64)
    np.add.at(totals, index, edge_flow_kg)
    return totals


class RouteExplainer:
    """A route as a `ProposedMatch`: its distance, transport CO2e and avoided emissions."""

    def __init__(self, net: NetCapacities, params: MatchingParams) -> None:
        self._net = net
        self._freight = params.freight_factor()
        self._avoided: dict[str, EmissionFactor | None] = {}

    def __call__(self, route: Route) -> ProposedMatch:
        offer = self._net.offer(route.offer_id)
        demand = self._net.demand(route.demand_id)
        code = offer.waste_code
        if code not in self._avoided:
            self._avoided[code] = avoided_factor(code)
        avoided = self._avoided[code]
        freight = self._freight
        tonnes = route.tonnes
        distance = metres_to_km(route.metres)
        return ProposedMatch(
            offer_id=offer.offer_id,
            demand_id=demand.demand_id,
            licence_id=route.licence_id,
            supplier_enterprise_id=offer.enterprise_id,
            supplier_site_id=offer.site_id,
            recycler_enterprise_id=demand.enterprise_id,
            recycler_site_id=demand.site_id,
            waste_code=code,
            tonnes=tonnes,
            distance_km=distance,
            co2e_kg=transport_co2e_kg(tonnes, distance, freight.value),
            freight_factor_key=freight.key,
            freight_factor_kg_per_tkm=freight.value,
            avoided_co2e_kg=None if avoided is None else (tonnes * avoided.value).quantize(GRAM),
            avoided_factor_key=None if avoided is None else avoided.key,
        )
