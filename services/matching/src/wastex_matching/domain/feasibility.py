"""The feasibility rules for one offer–demand pair, checked one by one with a reason.

A pair is feasible when all hold (first broken rule is the reason, `reasons.py`):

1. different enterprises (same enterprise is in-plant use, not an exchange);
2. the demand asks for the offer's waste code;
3. a licence of the recycler lists the code, and may carry it: an HW code needs a
   HAZARDOUS_WASTE_OPERATING licence, a GENERAL_UTILISATION licence covers SW codes only;
4. the windows overlap, and the overlap has not ended before today. The *transfer
   window* is that overlap from today on;
5. such licences hold on every day of the transfer window (a shipment may happen on any of
   them): one of them is valid on its first day, and it alone or with the others that
   continue it without a gap (each starting no later than the day after the previous one
   ends: a licence to 31 December and its renewal from 1 January) covers it to its last
   day (`model.covered_until`, decision 031). The licence valid on the first day is the
   pair's (its tonnage, the match's licence), so a revoked renewal, or one that does not
   list the code or may not carry it, breaks the chain;
6. the road distance (haversine × road factor, whole metres) is within the demand's
   radius (floored to the metre);
7. the offer, the demand and at least one licence of rule 5 (valid on the first day) have
   tonnage left (licence: annual capacity minus this year's use).

`candidates.build_candidate_edges` applies the same rules to whole arrays for the
optimiser; a test holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from wastex_matching.domain import reasons
from wastex_matching.domain.geo import metres_to_km, radius_metres, road_metres
from wastex_matching.domain.lifecycle import Party
from wastex_matching.domain.model import (
    ZERO_TONNES,
    DemandSlot,
    LicenceView,
    OfferSlot,
    Window,
    covered_until,
)


@dataclass(frozen=True, slots=True)
class PairAssessment:
    """The verdict on one pair: `reason` is None when feasible."""

    reason: str | None
    message: str
    distance_metres: int
    transfer_window: Window | None = None
    #: Licences the match could use (valid on the transfer window's first day and, with
    #: those continuing them, to its last; tonnage left).
    usable_licence_ids: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        return self.reason is None


def candidate_reason(
    offer: OfferSlot,
    demand: DemandSlot,
    licences: Iterable[LicenceView],
    today: date,
    *,
    road_factor: float = 1.0,
) -> str | None:
    """Why `offer` cannot go to `demand` (a `reasons` code), or None when it can."""
    return assess_pair(offer, demand, licences, today, road_factor=road_factor).reason


def assess_pair(
    offer: OfferSlot,
    demand: DemandSlot,
    licences: Iterable[LicenceView],
    today: date,
    *,
    road_factor: float = 1.0,
) -> PairAssessment:
    """Check the rules in order; `licences` may hold anyone's (only the recycler's count)."""
    code = offer.waste_code
    metres = road_metres(offer.point, demand.point, road_factor)

    def refuse(reason: str, message: str) -> PairAssessment:
        return PairAssessment(reason, message, metres)

    if offer.enterprise_id == demand.enterprise_id:
        return refuse(reasons.SAME_ENTERPRISE, "offer and demand belong to the same enterprise")
    if not demand.accepts(code):
        wanted = ", ".join(sorted(demand.waste_codes))
        return refuse(reasons.CODE_NOT_DEMANDED, f"the demand takes {wanted}, not {code}")
    listing = [
        lic for lic in licences if lic.enterprise_id == demand.enterprise_id and lic.lists(code)
    ]
    if not listing:
        return refuse(reasons.LICENCE_NOT_COVERING_CODE, f"no licence of the recycler lists {code}")
    permitted = [lic for lic in listing if lic.may_take(code)]
    if not permitted:
        return refuse(
            reasons.HAZARDOUS_NEEDS_OPERATING_LICENCE,
            f"{code} is hazardous and the recycler holds no HAZARDOUS_WASTE_OPERATING "
            "licence listing it",
        )
    overlap = offer.window.overlap(demand.window)
    if overlap is None:
        return refuse(
            reasons.WINDOW_NOT_OVERLAPPING,
            f"offer {_span(offer.window)} and demand {_span(demand.window)} share no day",
        )
    transfer = overlap.from_day(today)
    if transfer is None:
        return refuse(reasons.WINDOW_PASSED, f"the common window {_span(overlap)} is over")
    valid = [
        lic
        for lic in permitted
        if lic.valid_on(transfer.start)
        and (lic.valid_until >= transfer.end or covered_until(lic, code, permitted) >= transfer.end)
    ]
    if not valid:
        # No licence ids or dates: explanations reach the other parties of a match, and a
        # recycler's licences are its own (the catalog shows them to it and regulators only).
        return refuse(
            reasons.LICENCE_EXPIRED,
            f"no licence of the recycler permitting {code} is valid over {_span(transfer)}",
        )
    radius = radius_metres(demand.max_distance_km)
    if metres > radius:
        return refuse(
            reasons.OUT_OF_RADIUS,
            f"{metres_to_km(metres)} km by road, beyond the demand's {demand.max_distance_km} km",
        )
    if offer.remaining_tonnes <= 0:
        return refuse(reasons.NO_CAPACITY, "the offer has no tonnes left")
    if demand.remaining_tonnes <= 0:
        return refuse(reasons.NO_CAPACITY, "the demand has no intake left")
    usable = tuple(lic.licence_id for lic in valid if lic.remaining_tonnes > 0)
    if not usable:
        return refuse(
            reasons.NO_CAPACITY, f"the recycler's licences for {code} have no annual tonnage left"
        )
    return PairAssessment(
        None,
        f"feasible: {metres_to_km(metres)} km, transfer window {_span(transfer)}",
        metres,
        transfer,
        usable,
    )


def _span(window: Window) -> str:
    return f"{window.start}–{window.end}"


def licence_tonnage_refusal(
    licence: LicenceView, year: int, committed: Decimal, tonnes: Decimal, *, told: Party
) -> str | None:
    """Why a proposal's first acceptance would commit more of its licence's `year` than is
    left beside the `committed` tonnes of the licence's other accepted matches that year,
    or None. The rounds never propose more; a licence cut since the proposal (decision 017)
    leaves proposals over the new limit until the next round supersedes them. Only the
    recycler is `told` what is left: to the supplier it would tell of the recycler's other
    deals (decision 022)."""
    room = max(licence.annual_capacity_tonnes - committed, ZERO_TONNES)
    if tonnes <= room:
        return None
    if told is Party.RECYCLER:
        return f"your licence has {room} t left for {year}, not {tonnes} t"
    return f"the recycler's licence has no room for {tonnes} t more in {year}"


def licence_refusal(
    licence: LicenceView,
    code: str,
    window: Window,
    today: date,
    licences: Iterable[LicenceView],
    *,
    first: bool,
) -> str | None:
    """Why a match's licence no longer lets it go ahead (it, or a licence continuing it, was
    amended or revoked since the proposal), or None: like rules 3 and 5 for a pair, it must
    carry the code, and it and those of its holder's `licences` that continue it without a
    gap hold over what is left of the match's window. A `first` acceptance commits the
    tonnes to the licence: it must hold on the first day left, as for a proposal (a
    December proposal accepted in January goes to the renewal's tonnage by the next round).
    An accepted match's licence may have run out since, its renewal taking over."""
    if not licence.may_take(code):
        return f"the recycler's licence no longer permits {code}"
    rest = window.from_day(today)
    if rest is None:
        return None
    begun = licence.valid_on(rest.start) if first else licence.valid_from <= rest.start
    if not begun or covered_until(licence, code, licences) < rest.end:
        return f"the recycler's licence no longer holds over {_span(rest)}"
    return None
