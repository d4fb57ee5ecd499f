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
    """Take every fixed match off its offer, its demand and, when it uses this year's
    tonnage or a later year's (`licence_year`), its licence."""
    by_offer: dict[str, Decimal] = defaultdict(lambda: ZERO_TONNES)
    by_demand: dict[str, Decimal] = defaultdict(lambda: ZERO_TONNES)
    by_licence: dict[str, Decimal] = defaultdict(lambda: ZERO_TONNES)
    for match in fixed:
        by_offer[match.offer_id] += match.tonnes
        by_demand[match.demand_id] += match.tonnes
        if match.licence_id is not None and match.licence_year >= today.year:
            by_licence[match.licence_id] += match.tonnes
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
    year once that has passed. A round counts this year's matches and every later year's
    against the licence (`apply_fixed`), so tonnage promised for next year is never
    promised twice; the price is that in December next year's commitments also hold this
    year's tonnage (per-year capacities in the network would free it)."""
    return max(window_start.year, today.year)


def _less(amount: Decimal, taken: Decimal | None) -> Decimal:
    return max(ZERO_TONNES, amount - (taken or ZERO_TONNES))
