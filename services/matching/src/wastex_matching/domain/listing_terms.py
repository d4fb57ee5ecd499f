"""Whether a match still fits its offer's and demand's terms after their owners amended them.

The catalog lets an owner change an open listing's quantity or window (a demand's radius
too) while matches proposed on the old terms stand. Such a proposal may ask for more tonnes
than the listing now has, ship on days it no longer covers, or travel further than the
demand now accepts. The next round supersedes it (`listing_change` picks those the
allocation alone would keep: a narrower window leaves the tonnes alike), and until then an
acceptance is refused (`errors.LISTING_CHANGED`). A match one party has accepted keeps
its window and distance (agreed terms), and its tonnes are held; only those are checked
again at the second acceptance: the catalog refuses to amend a quantity below what it
knows to be held, but it may not yet know of an acceptance matching has just made. Such a
match the expiry sweep ends (`holds_past`), rather than let it wait for its window's end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from wastex_matching.domain.geo import metres_to_km, road_metres
from wastex_matching.domain.model import ZERO_TONNES, DemandSlot, OfferSlot, Window

#: A distance recomputed may round a metre apart from the one a round stored.
ONE_METRE = Decimal("0.001")


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchTerms:
    """What a match promises: tonnes from an offer to a demand over a shipping window, the
    road distance between their sites, and the districts it places them in (supplier's,
    recycler's: regulators see a match by them, and its explanation names them)."""

    offer_id: str
    demand_id: str
    tonnes: Decimal
    window: Window
    distance_km: Decimal
    districts: tuple[str, str]


def listing_change(
    match: MatchTerms,
    offer: OfferSlot,
    demand: DemandSlot,
    today: date,
    *,
    held: tuple[Decimal, Decimal] = (ZERO_TONNES, ZERO_TONNES),
    tonnes_only: bool = False,
    road_factor: float | None = None,
) -> str | None:
    """How the offer or the demand now falls short of `match`, or None when it still fits.

    `offer` and `demand` as the read model holds them (their `remaining_tonnes` is their
    whole quantity); `held` the tonnes the offer's and the demand's accepted and confirmed
    matches hold, which `match` cannot have too. Only what is left of the shipping window
    from `today` counts, as for a licence (`feasibility.licence_refusal`): days gone by ship
    nothing, and a window that is over is the expiry's business. With `tonnes_only` (an
    accepted match), only the tonnes. With `road_factor`, a proposal whose offer or demand
    moved (a site amended, decision 026) no longer fits: its distance and carbon are of the
    old place. Nor does one whose offer or demand is now in another district (a site's
    district corrected, decision 026): it would show to the old district's regulator, not
    the new one's."""
    rest = match.window.from_day(today)
    for what, ident, quantity, taken, window in (
        ("offer", offer.offer_id, offer.remaining_tonnes, held[0], offer.window),
        ("demand", demand.demand_id, demand.remaining_tonnes, held[1], demand.window),
    ):
        if match.tonnes > quantity - taken:
            return _short(f"the {what} {ident}", quantity, taken, match.tonnes)
        if tonnes_only:
            continue
        if rest is not None and not rest.within(window.start, window.end):
            return (
                f"the {what} {ident} is now open {_span(window)}, which does not cover the "
                f"shipping window {_span(rest)}"
            )
    if not tonnes_only and road_factor is not None:
        apart = metres_to_km(road_metres(offer.point, demand.point, road_factor))
        if abs(apart - match.distance_km) > ONE_METRE:
            return (
                f"the offer {offer.offer_id} or the demand {demand.demand_id} moved: their "
                f"sites now lie {apart} km apart, and this match travels {match.distance_km} km"
            )
    if not tonnes_only:
        for what, ident, now, then in (
            ("offer", offer.offer_id, offer.district, match.districts[0]),
            ("demand", demand.demand_id, demand.district, match.districts[1]),
        ):
            if now != then:
                return f"the {what} {ident} now lies in {now}, and this match places it in {then}"
    if not tonnes_only and match.distance_km > demand.max_distance_km:
        return (
            f"the demand {demand.demand_id} now takes waste from up to "
            f"{demand.max_distance_km} km, and this match travels {match.distance_km} km"
        )
    return None


def _short(listing: str, quantity: Decimal, held: Decimal, tonnes: Decimal) -> str:
    if held > 0:
        return (
            f"{listing} now has {quantity} t, {held} t of them held by accepted matches: "
            f"not the {tonnes} t of this match"
        )
    return f"{listing} now has {quantity} t, less than the {tonnes} t of this match"


def _span(window: Window) -> str:
    return f"{window.start}–{window.end}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    """The tonnes a fixed (accepted or confirmed) match holds of one listing."""

    match_id: str
    tonnes: Decimal
    confirmed: bool
    #: Its first acceptance (the order in which holds are honoured).
    accepted_at: datetime


def holds_past(quantity: Decimal, holds: Iterable[Hold]) -> list[Hold]:
    """The holds of one listing, accepted by one side only, that its (amended) quantity no
    longer covers: confirmed matches count first (a shipment is planned on them), then the
    accepted ones in the order they were first accepted; an accepted one past what is left
    is returned (a later, smaller one may still fit)."""
    kept = ZERO_TONNES
    past: list[Hold] = []
    for hold in sorted(holds, key=lambda h: (not h.confirmed, h.accepted_at, h.match_id)):
        if hold.confirmed or kept + hold.tonnes <= quantity:
            kept += hold.tonnes
        else:
            past.append(hold)
    return past
