"""Why an offer went where it went, and why every other demand did not get it.

`explain_offer` walks all demands for one offer: infeasible ones carry the first rule they
break (`reasons.INFEASIBILITY_ORDER`); feasible ones, given the allocation, are CHOSEN (with
the tonnes), FEASIBLE_BUT_FULL (the demand's intake, or its licences' annual tonnage, went
to offers whose routes save more) or FEASIBLE_BUT_COSTLIER (room was left, but this offer
was placed on cheaper routes). Each line carries the road distance and the transport CO2e
per tonne of that route, so the comparison is visible, not asserted.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain import reasons
from wastex_matching.domain.capacity import NetCapacities, apply_fixed
from wastex_matching.domain.emissions import transport_co2e_kg
from wastex_matching.domain.feasibility import PairAssessment, assess_pair
from wastex_matching.domain.geo import cos_latitudes, metres_to_km, road_metres_arrays
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

FloatArray = NDArray[np.float64]


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


class Verdicts:
    """`assess_pair`'s answers, kept from round to round.

    A pair's verdict depends on the offer only through its enterprise, code, point, window
    and whether it has tonnes left, and otherwise on the demand, the recycler's licences,
    the day and the road factor. A factory's system posts lot after lot from one site, and
    every round explains each new proposal against the nearest demands, so most of a
    round's pairs were assessed in an earlier one. Keyed by value: a changed demand or
    licence is a new key. Cleared when `limit` answers are held."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._known: dict[tuple[object, ...], PairAssessment] = {}

    def assess(
        self,
        offer: OfferSlot,
        demand: DemandSlot,
        licences: tuple[LicenceView, ...],
        today: date,
        road_factor: float,
    ) -> PairAssessment:
        """`assess_pair(offer, demand, licences, today, road_factor=road_factor)`."""
        key = (
            offer.enterprise_id,
            offer.waste_code,
            offer.point,
            offer.window,
            offer.remaining_tonnes > 0,
            demand,
            licences,
            today,
            road_factor,
        )
        verdict = self._known.get(key)
        if verdict is None:
            if len(self._known) >= self.limit:
                self._known.clear()
            verdict = assess_pair(offer, demand, licences, today, road_factor=road_factor)
            self._known[key] = verdict
        return verdict


class Explainer:
    """`explain_offer` for many offers of one allocation: the usage is counted once, not
    once per offer (a round may propose thousands of routes). `verdicts` may carry pairs
    assessed in earlier rounds."""

    def __init__(
        self,
        net: NetCapacities,
        *,
        today: date,
        params: MatchingParams | None = None,
        allocation: AllocationResult | None = None,
        verdicts: Verdicts | None = None,
    ) -> None:
        """`net`: what was allocated (`allocation.net`), or the inputs less fixed matches."""
        self.today = today
        self.params = params or MatchingParams()
        self.net = net
        self.demands = net.demands
        self.licences = net.licences
        self.usage = _Usage(allocation, net.licences)
        self.per_tonne = self.params.freight_factor().value
        self._takers_by_code: dict[str, list[int]] = {}
        # Each recycler's own licences: `assess_pair` looks only at those, and scanning the
        # whole city's for every pair was most of an explanation's time.
        by_enterprise: dict[str, list[LicenceView]] = defaultdict(list)
        for licence in net.licences:
            by_enterprise[licence.enterprise_id].append(licence)
        self._licences_by_enterprise = {e: tuple(own) for e, own in by_enterprise.items()}
        self.verdicts = verdicts or Verdicts()
        self._demand_points: tuple[FloatArray, FloatArray, FloatArray] | None = None
        self._alternatives: dict[tuple[object, ...], list[CandidateExplanation]] = {}

    def explain(
        self, offer_id: str, demand_ids: set[str] | None = None
    ) -> list[CandidateExplanation]:
        """Every demand's line for `offer_id` (only those in `demand_ids`, when given)."""
        if offer_id not in self.net.offer_positions:
            raise NotFound("offer", offer_id)
        offer = self.net.offer(offer_id)
        routes = self.usage.routes_of(offer_id)
        lines = [
            self._line(offer, demand, routes)
            for demand in self.demands
            if demand_ids is None or demand.demand_id in demand_ids
        ]
        return sorted(lines, key=_order)

    def alternatives(self, offer_id: str, limit: int) -> list[CandidateExplanation]:
        """The first `limit` lines of `explain(offer_id)` for demands that take the offer's
        code and got none of it: what a proposal lists as the other places it could have gone.

        Only as many demands are assessed as decide those lines, nearest first. Every
        feasible line sorts before every infeasible one, and feasible lines by distance, so
        once `limit` feasible lines are in hand no farther demand can enter. In a city of
        3,000 demands an offer meets ~600 that take its code; assessing them all cost 80 ms
        an offer, and a round explains every offer it proposes.

        Lots of one site, code and window that went to the same demands get the same lines
        (nothing else of an offer enters them), so each such lot is assessed once a round:
        a factory's system posting its backlog sends many."""
        if limit <= 0:
            return []
        offer = self.net.offer(offer_id)
        routes = self.usage.routes_of(offer_id)
        got_some = {route.demand_id for route in routes}
        alike = (
            offer.enterprise_id,
            offer.waste_code,
            offer.point,
            offer.window,
            offer.remaining_tonnes > 0,
            tuple(sorted(got_some)),
            max((route.metres for route in routes), default=None),
            limit,
        )
        if (known := self._alternatives.get(alike)) is not None:
            return list(known)
        takers = [
            i for i in self._takers(offer.waste_code) if self.demands[i].demand_id not in got_some
        ]
        order: list[int] = list(range(len(takers)))
        metres = None
        if len(takers) > limit:  # else every one of them is listed, near or far
            metres = self._metres_from(offer, takers)
            order = np.argsort(metres, kind="stable").tolist()
        lines: list[tuple[int, CandidateExplanation]] = []
        nearest_feasible: list[int] = []  # max-heap (negated) of the `limit` nearest
        for k in order:
            if (
                metres is not None
                and len(nearest_feasible) == limit
                and metres[k] > -nearest_feasible[0] + 1
            ):
                break  # farther than `limit` feasible lines (1 m for float rounding)
            demand = self.demands[takers[k]]
            line = self._line(offer, demand, routes)
            lines.append((takers[k], line))
            if line.feasible:  # none is CHOSEN: those the offer went to are left out
                distance = int(line.distance_km * 1000)
                if len(nearest_feasible) < limit:
                    heapq.heappush(nearest_feasible, -distance)
                elif distance < -nearest_feasible[0]:
                    heapq.heapreplace(nearest_feasible, -distance)
        # In demand order first, as `explain` builds them, so equal keys keep its order.
        ordered = sorted((line for _, line in sorted(lines, key=lambda p: p[0])), key=_order)
        self._alternatives[alike] = ordered[:limit]
        return list(self._alternatives[alike])

    def _line(
        self, offer: OfferSlot, demand: DemandSlot, routes: Sequence[Route]
    ) -> CandidateExplanation:
        verdict = self.verdicts.assess(
            offer,
            demand,
            self._licences_by_enterprise.get(demand.enterprise_id, ()),
            self.today,
            self.params.road_factor,
        )
        distance = metres_to_km(verdict.distance_metres)
        outcome, message, tonnes = _outcome(offer, demand, verdict, self.usage, routes)
        return CandidateExplanation(
            demand_id=demand.demand_id,
            recycler_enterprise_id=demand.enterprise_id,
            outcome=outcome,
            message=message,
            distance_km=distance,
            co2e_kg_per_tonne=transport_co2e_kg(Decimal(1), distance, self.per_tonne),
            tonnes=tonnes,
        )

    def _takers(self, code: str) -> list[int]:
        """Positions of the demands that take `code`."""
        if code not in self._takers_by_code:
            self._takers_by_code[code] = [
                i for i, demand in enumerate(self.demands) if demand.accepts(code)
            ]
        return self._takers_by_code[code]

    def _metres_from(self, offer: OfferSlot, positions: list[int]) -> NDArray[np.int64]:
        """Road metres from `offer` to the demands at `positions`, as `assess_pair` has them."""
        if self._demand_points is None:
            lat = np.array([d.point.lat for d in self.demands], dtype=np.float64)
            lon = np.array([d.point.lon for d in self.demands], dtype=np.float64)
            self._demand_points = (lat, lon, cos_latitudes(lat))
        lat, lon, cos_lat = (column[positions] for column in self._demand_points)
        offer_lat = np.full(len(positions), offer.point.lat)
        offer_lon = np.full(len(positions), offer.point.lon)
        return road_metres_arrays(
            offer_lat, offer_lon, lat, lon, self.params.road_factor, cos_lat2=cos_lat
        )


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
