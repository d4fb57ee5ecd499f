"""Fixed matches take their tonnes off offers, demands and licences before optimising.

Accepted and confirmed matches are not re-optimised; what they hold is simply gone from
the pool. Over-commitment (fixed matches adding up to more than an offer has, after a
race elsewhere) clamps at zero rather than failing: the optimiser then proposes nothing
more for that slot, and the inconsistency is the service's to report.

A licence's annual tonnage is a year's: a match uses the tonnage of the year its shipments
start (`licence_year`). So each licence enters a round as one *slot* per year a match could
start in, from this year to the last year an offer or a demand starts in (one slot for most
of the year, two in December when January's listings are out), each less that year's fixed
matches: December's commitments do not hold next year's tonnage, nor January's this year's.
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
    slot_key,
)


@dataclass(frozen=True)
class NetCapacities:
    """Offers, demands and licence slots (one per licence and year, `first_year` on) with
    the fixed matches taken off."""

    offers: tuple[OfferSlot, ...]
    demands: tuple[DemandSlot, ...]
    licences: tuple[LicenceView, ...]
    #: The year of the earliest slots (this year): a match stamped with an earlier year
    #: starts shipping this year, so it uses this year's slot.
    first_year: int = 0

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
        """Each slot's licence id (a licence has a slot per year)."""
        return [licence.licence_id for licence in self.licences]

    @cached_property
    def licence_keys(self) -> list[str]:
        """Each slot's key (`LicenceView.key`): unique."""
        return [licence.key for licence in self.licences]

    @cached_property
    def licence_positions(self) -> dict[str, int]:
        """Slot key → its position in `licences`."""
        return dict(zip(self.licence_keys, range(len(self.licences)), strict=True))

    def slot_position(self, code: str) -> int:
        """The position of the slot a match of licence and year `code` (`slot_key`, or the
        bare licence id: this year's) uses, or -1 when there is none."""
        found = self.licence_positions.get(code)
        if found is not None:  # a slot's own key, or a plain view's id
            return found
        licence_id, _, year = code.rpartition("@")
        if licence_id and year.isdigit():
            when = max(int(year), self.first_year)
            return self.licence_positions.get(slot_key(licence_id, when), -1)
        return self.licence_positions.get(slot_key(code, self.first_year), -1)

    def offer(self, offer_id: str) -> OfferSlot:
        """The offer of this id (KeyError if it is not among them)."""
        return self.offers[self.offer_positions[offer_id]]

    def demand(self, demand_id: str) -> DemandSlot:
        """The demand of this id (KeyError if it is not among them)."""
        return self.demands[self.demand_positions[demand_id]]

    def with_offers(self, is_new: NDArray[np.bool_], offers: Sequence[OfferSlot]) -> NetCapacities:
        """These capacities with `offers` (net already) where `is_new` is set and this
        one's offers, in their order, in the other places: the same fixed matches taken off
        a market that only gained offers, without a pass over the offers it had. (The
        caller checks the newcomers start within the slots' years: `last_start_year`.)"""
        kept, added = iter(self.offers), iter(offers)
        merged = tuple([next(added) if new else next(kept) for new in is_new.tolist()])
        return NetCapacities(merged, self.demands, self.licences, self.first_year)

    @property
    def last_year(self) -> int:
        """The year of the latest slots."""
        return max((lic.year or self.first_year for lic in self.licences), default=self.first_year)


def apply_fixed(
    offers: Iterable[OfferSlot],
    demands: Iterable[DemandSlot],
    licences: Iterable[LicenceView],
    fixed: Sequence[FixedMatch],
    today: date,
) -> NetCapacities:
    """Take every fixed match off its offer, its demand and its licence's slot of the
    year it uses (`licence_year`; none before this year's)."""
    offers, demands = tuple(offers), tuple(demands)
    first, last = today.year, last_start_year(offers, demands, today)
    by_offer: dict[str, Decimal] = defaultdict(lambda: ZERO_TONNES)
    by_demand: dict[str, Decimal] = defaultdict(lambda: ZERO_TONNES)
    by_slot: dict[tuple[str, int], Decimal] = defaultdict(lambda: ZERO_TONNES)
    for match in fixed:
        by_offer[match.offer_id] += match.tonnes
        by_demand[match.demand_id] += match.tonnes
        if match.licence_id is not None:
            by_slot[match.licence_id, match.licence_year] += match.tonnes
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
                lic,
                year=year,
                # Use outside wastex is this year's (`LicenceView.used_tonnes_this_year`).
                used_tonnes_this_year=(lic.used_tonnes_this_year if year == first else ZERO_TONNES)
                + by_slot.get((lic.licence_id, year), ZERO_TONNES),
            )
            for lic in licences
            for year in range(first, last + 1)
        ),
        first_year=first,
    )


def last_start_year(offers: Iterable[OfferSlot], demands: Iterable[DemandSlot], today: date) -> int:
    """The last year a match of these listings could start shipping in (a match starts when
    both its offer and its demand have begun, and not before today)."""
    starts = [o.window.start.year for o in offers] + [d.window.start.year for d in demands]
    return max([today.year, *starts])


def licence_year(window_start: date, today: date) -> int:
    """The year whose licensed tonnage a match uses: the year its shipments start, or this
    year once that has passed (a round plans each year's tonnage as a slot of its own)."""
    return max(window_start.year, today.year)


def _less(amount: Decimal, taken: Decimal | None) -> Decimal:
    return max(ZERO_TONNES, amount - (taken or ZERO_TONNES))
