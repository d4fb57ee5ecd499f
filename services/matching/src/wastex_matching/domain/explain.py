"""Why an offer went where it went, and why every other demand did not get it.

`explain_offer` walks all demands for one offer: infeasible ones carry the first rule they
break (`reasons.INFEASIBILITY_ORDER`); feasible ones, given the allocation, are CHOSEN (with
the tonnes), FEASIBLE_BUT_FULL (the demand's intake, or its licences' annual tonnage, went
to offers whose routes save more) or FEASIBLE_BUT_COSTLIER (room was left, but this offer
was placed on cheaper routes). Each line carries the road distance and the transport CO2e
per tonne of that route, so the comparison is visible, not asserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from wastex_matching.domain import reasons
from wastex_matching.domain.capacity import NetCapacities, apply_fixed
from wastex_matching.domain.emissions import transport_co2e_kg
from wastex_matching.domain.feasibility import PairAssessment, assess_pair
from wastex_matching.domain.geo import metres_to_km
from wastex_matching.domain.model import (
    AllocationResult,
    DemandSlot,
    FixedMatch,
    LicenceView,
    OfferSlot,
    Route,
)
from wastex_matching.domain.params import MatchingParams
from wastex_shared.errors import NotFound
from wastex_shared.units import from_kilograms


@dataclass(frozen=True, slots=True)
class CandidateExplanation:
    demand_id: str
    recycler_enterprise_id: str
    #: A `reasons` word: an infeasibility reason, or FEASIBLE / CHOSEN / FEASIBLE_BUT_*.
    outcome: str
    message: str
    distance_km: Decimal
    #: Transport CO2e of one tonne on this route.
    co2e_kg_per_tonne: Decimal
    #: Tonnes allocated on this route (CHOSEN only).
    tonnes: Decimal | None = None

    @property
    def feasible(self) -> bool:
        return self.outcome not in reasons.INFEASIBILITY_ORDER


def explain_offer(
    offer_id: str,
    offers: Sequence[OfferSlot],
    demands: Sequence[DemandSlot],
    licences: Sequence[LicenceView],
    *,
    today: date,
    fixed: Sequence[FixedMatch] = (),
    params: MatchingParams | None = None,
    allocation: AllocationResult | None = None,
) -> list[CandidateExplanation]:
    """One line per demand: chosen first, then feasible by distance, then the rest by reason.

    Pass the same inputs `allocate` was given, and its result as `allocation`.
    """
    net = apply_fixed(offers, demands, licences, fixed, today)
    return Explainer(net, today=today, params=params, allocation=allocation).explain(offer_id)


class Explainer:
    """`explain_offer` for many offers of one allocation: the usage is counted once, not
    once per offer (a round may propose thousands of routes)."""

    def __init__(
        self,
        net: NetCapacities,
        *,
        today: date,
        params: MatchingParams | None = None,
        allocation: AllocationResult | None = None,
    ) -> None:
        """`net`: what was allocated (`allocation.net`), or the inputs less fixed matches."""
        self.today = today
        self.params = params or MatchingParams()
        self.net = net
        self.demands = net.demands
        self.licences = net.licences
        self.usage = _Usage(allocation, net.licences)
        self.per_tonne = self.params.freight_factor().value

    def explain(
        self, offer_id: str, demand_ids: set[str] | None = None
    ) -> list[CandidateExplanation]:
        """Every demand's line for `offer_id` (only those in `demand_ids`, when given)."""
        if offer_id not in self.net.offer_positions:
            raise NotFound("offer", offer_id)
        offer = self.net.offer(offer_id)
        routes = self.usage.routes_of(offer_id)
        lines: list[CandidateExplanation] = []
        for demand in self.demands:
            if demand_ids is not None and demand.demand_id not in demand_ids:
                continue
            verdict = assess_pair(
                offer, demand, self.licences, self.today, road_factor=self.params.road_factor
            )
            distance = metres_to_km(verdict.distance_metres)
            outcome, message, tonnes = _outcome(offer, demand, verdict, self.usage, routes)
            lines.append(
                CandidateExplanation(
                    demand_id=demand.demand_id,
                    recycler_enterprise_id=demand.enterprise_id,
                    outcome=outcome,
                    message=message,
                    distance_km=distance,
                    co2e_kg_per_tonne=transport_co2e_kg(Decimal(1), distance, self.per_tonne),
                    tonnes=tonnes,
                )
            )
        return sorted(lines, key=_order)


_RANK = {word: i for i, word in enumerate(reasons.INFEASIBILITY_ORDER)}


def _order(line: CandidateExplanation) -> tuple[int, int, Decimal]:
    if line.outcome == reasons.CHOSEN:
        return (0, 0, line.distance_km)
    if line.feasible:
        return (1, 0, line.distance_km)
    return (2, _RANK[line.outcome], line.distance_km)


class _Usage:
    """What an allocation put where: kilograms per demand and licence, and each offer's
    routes."""

    def __init__(
        self, allocation: AllocationResult | None, licences: Sequence[LicenceView]
    ) -> None:
        self.given = allocation is not None
        self.licence_remaining = {lic.licence_id: lic.remaining_tonnes for lic in licences}
        self._allocation = allocation
        self._demand = allocation.kilograms_by_demand if allocation else {}
        self._licence = allocation.kilograms_by_licence if allocation else {}

    def routes_of(self, offer_id: str) -> list[Route]:
        return self._allocation.routes_of(offer_id) if self._allocation else []

    def demand_tonnes(self, demand_id: str) -> Decimal:
        return from_kilograms(self._demand.get(demand_id, 0))

    def licence_tonnes(self, licence_id: str) -> Decimal:
        return from_kilograms(self._licence.get(licence_id, 0))


def _outcome(
    offer: OfferSlot,
    demand: DemandSlot,
    verdict: PairAssessment,
    usage: _Usage,
    routes: Sequence[Route],
) -> tuple[str, str, Decimal | None]:
    """The verdict on `demand` for `offer`, whose routes in the allocation are `routes`."""
    if verdict.reason is not None:
        return verdict.reason, verdict.message, None
    if not usage.given:
        return reasons.FEASIBLE, verdict.message, None
    chosen_kg = sum(route.kilograms for route in routes if route.demand_id == demand.demand_id)
    if chosen_kg:
        chosen = from_kilograms(chosen_kg)
        return reasons.CHOSEN, f"allocated {chosen} t ({verdict.message})", chosen
    if usage.demand_tonnes(demand.demand_id) >= demand.remaining_tonnes:
        return (
            reasons.FEASIBLE_BUT_FULL,
            f"its remaining {demand.remaining_tonnes} t of intake went to offers whose routes "
            "save more",
            None,
        )
    remaining = usage.licence_remaining
    if all(usage.licence_tonnes(ident) >= remaining[ident] for ident in verdict.usable_licence_ids):
        return (
            reasons.FEASIBLE_BUT_FULL,
            "the recycler's licensed annual tonnage for this code went to other offers",
            None,
        )
    if not routes:  # the allocation left all of this offer unmatched
        return (
            reasons.FEASIBLE_BUT_COSTLIER,
            f"{metres_to_km(verdict.distance_metres)} km: the allocation found no route for "
            "this offer worth its CO2e (or its share of a shared licence ran out)",
            None,
        )
    farthest = max(route.metres for route in routes)
    return (
        reasons.FEASIBLE_BUT_COSTLIER,
        f"{metres_to_km(verdict.distance_metres)} km; the offer went to routes of at most "
        f"{metres_to_km(farthest)} km that cost the whole allocation less CO2e",
        None,
    )
