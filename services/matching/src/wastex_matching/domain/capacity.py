"""Fixed matches take their tonnes off offers, demands and licences before optimising.

Accepted and confirmed matches are not re-optimised; what they hold is simply gone from
the pool. Over-commitment (fixed matches adding up to more than an offer has, after a
race elsewhere) clamps at zero rather than failing: the optimiser then proposes nothing
more for that slot, and the inconsistency is the service's to report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from wastex_matching.domain.model import (
    ZERO_TONNES,
    DemandSlot,
    FixedMatch,
    LicenceView,
    OfferSlot,
)


@dataclass(frozen=True)
class NetCapacities:
    """Offers, demands and licences with the fixed matches taken off."""

    offers: tuple[OfferSlot, ...]
    demands: tuple[DemandSlot, ...]
    licences: tuple[LicenceView, ...]

    @cached_property
    def offer_ids(self) -> list[str]:
        return [offer.offer_id for offer in self.offers]

    @cached_property
    def offer_positions(self) -> dict[str, int]:
        """Offer id → its position in `offers` (what candidate edges and routes count)."""
        return dict(zip(self.offer_ids, range(len(self.offers)), strict=True))

    @cached_property
    def demand_ids(self) -> list[str]:
        return [demand.demand_id for demand in self.demands]

    @cached_property
    def demand_positions(self) -> dict[str, int]:
        return dict(zip(self.demand_ids, range(len(self.demands)), strict=True))

    @cached_property
    def licence_ids(self) -> list[str]:
        return [licence.licence_id for licence in self.licences]

    @cached_property
    def licence_positions(self) -> dict[str, int]:
        return dict(zip(self.licence_ids, range(len(self.licences)), strict=True))

    def offer(self, offer_id: str) -> OfferSlot:
        """The offer of this id (KeyError if it is not among them)."""
        return self.offers[self.offer_positions[offer_id]]

    def demand(self, demand_id: str) -> DemandSlot:
        """The demand of this id (KeyError if it is not among them)."""
        return self.demands[self.demand_positions[demand_id]]

    def with_offers(self, is_new: NDArray[np.bool_], offers: Sequence[OfferSlot]) -> NetCapacities:
        """These capacities with `offers` (net already) where `is_new` is set and this
        one's offers, in their order, in the other places: the same fixed matches taken off
        a market that only gained offers, without a pass over the offers it had."""
        kept, added = iter(self.offers), iter(offers)
        merged = tuple([next(added) if new else next(kept) for new in is_new.tolist()])
        return NetCapacities(merged, self.demands, self.licences)


def apply_fixed(
    offers: Iterable[OfferSlot],
    demands: Iterable[DemandSlot],
    licences: Iterable[LicenceView],
    fixed: Sequence[FixedMatch],
    today: date,
) -> NetCapacities:
    """Take every fixed match off its offer and its demand, and off its licence the tonnes
    committed in the busiest of the years the licence can still ship in (`licence_years`).

    A licence's tonnage is a year's: a match uses the year it ships in (`licence_year`).
    The network has one node a licence, so its capacity must hold in every year a new
    route of it could use: the annual tonnage less the most any of those years has
    committed. That never promises a year more than it has, and a licence full this year
    still takes demands wholly in the next."""
    demands = tuple(demands)
    licences = tuple(licences)
    by_offer: dict[str, Decimal] = defaultdict(lambda: ZERO_TONNES)
    by_demand: dict[str, Decimal] = defaultdict(lambda: ZERO_TONNES)
    by_licence_year: dict[str, dict[int, Decimal]] = defaultdict(dict)
    for match in fixed:
        by_offer[match.offer_id] += match.tonnes
        by_demand[match.demand_id] += match.tonnes
        if match.licence_id is not None and match.licence_year >= today.year:
            years = by_licence_year[match.licence_id]
            years[match.licence_year] = years.get(match.licence_year, ZERO_TONNES) + match.tonnes
    by_licence = _busiest_years(by_licence_year, licences, demands, today)
    return NetCapacities(
        offers=tuple(
            replace(o, remaining_tonnes=_less(o.remaining_tonnes, by_offer.get(o.offer_id)))
            if o.offer_id in by_offer
            else o
            for o in offers
        ),
        demands=tuple(
            replace(d, remaining_tonnes=_less(d.remaining_tonnes, by_demand.get(d.demand_id)))
            if d.demand_id in by_demand
            else d
            for d in demands
        ),
        licences=tuple(
            replace(
                lic, used_tonnes_this_year=lic.used_tonnes_this_year + by_licence[lic.licence_id]
            )
            if lic.licence_id in by_licence
            else lic
            for lic in licences
        ),
    )


def licence_year(window_start: date, today: date) -> int:
    """The year whose licensed tonnage a match uses: the year its shipments start, or this
    year once that has passed. A round takes off a licence the busiest year its routes
    could start in (`apply_fixed`), so tonnage promised for a year is never promised twice.
    The price: the network has one node a licence, so once its holder's demands reach two
    years, the new routes of *both* years share what the fuller year has left (a 1,000 t
    licence with nothing committed is proposed 1,000 t in all over December and next
    January's demands, not 1,000 t each); per-year capacities would free the other year
    (tried and not kept: `docs/performance.md`, the licence-year slots)."""
    return max(window_start.year, today.year)


def licence_years(licence: LicenceView, demands: Iterable[DemandSlot], today: date) -> set[int]:
    """The years a new route of `licence` could start in: from its holder's demands that
    ask for a code it may take, over the days both they and the licence run from today
    (a route starts on or after both windows' starts and today, and ends by both ends)."""
    years: set[int] = set()
    for demand in demands:
        if demand.enterprise_id != licence.enterprise_id:
            continue
        if not any(licence.may_take(code) for code in demand.waste_codes):
            continue
        first = max(demand.window.start, licence.valid_from, today)
        last = min(demand.window.end, licence.valid_until)
        if first <= last:
            years.update(range(first.year, last.year + 1))
    return years


def _busiest_years(
    committed: dict[str, dict[int, Decimal]],
    licences: Sequence[LicenceView],
    demands: Sequence[DemandSlot],
    today: date,
) -> dict[str, Decimal]:
    """By licence id, the most tonnes committed in one of its `licence_years` (with none,
    no route uses it: the busiest year of all, as its remaining tonnage then reads)."""
    if not committed:
        return {}
    demands_of: dict[str, list[DemandSlot]] = defaultdict(list)
    for demand in demands:
        demands_of[demand.enterprise_id].append(demand)
    busiest: dict[str, Decimal] = {}
    for licence in licences:
        by_year = committed.get(licence.licence_id)
        if by_year is None:
            continue
        years = licence_years(licence, demands_of[licence.enterprise_id], today) or by_year
        busiest[licence.licence_id] = max(by_year.get(year, ZERO_TONNES) for year in years)
    return busiest


def _less(amount: Decimal, taken: Decimal | None) -> Decimal:
    return max(ZERO_TONNES, amount - (taken or ZERO_TONNES))
