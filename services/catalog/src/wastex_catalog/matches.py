"""Use case driven by matching's lifecycle: accepted matches hold tonnes of an offer and a
demand; rejected, expired, superseded or cancelled ones give them back.

A match takes its tonnes when first accepted (by either party) or confirmed, and gives them
back when rejected, expired or superseded after that, or cancelled (its shipment called off
in the ledger before it left); a shipment lighter than the match gives the shortfall back
and the match holds what left (decision 032). The events of one match travel on
different topics, so they may arrive out of order: the allocation row of a released match
stays as a tombstone, and a late `accepted` for it changes nothing. Nothing orders the
events of different matches either: a match's hold may come before the release of the
match that held the same tonnes before it, and is recorded past the quantity until that
release comes (`Listing.hold`). A listing a release finds past its last day leaves the
market then (EXPIRED), not back onto it: a fully matched one is not on the market, so the
expiry sweep passed it by.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Final, TypeVar

from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.domain import Demand, Offer
from wastex_catalog.domain import errors as codes
from wastex_catalog.domain.listing import Listing
from wastex_catalog.events import publish
from wastex_catalog.records import MatchAllocation
from wastex_shared.calendar import china_today
from wastex_shared.envelope import Envelope, utcnow
from wastex_shared.errors import DomainError, NotFound
from wastex_shared.events.catalog import DemandUpdated, OfferUpdated
from wastex_shared.events.matching import MatchFacts, MatchShipped
from wastex_shared.storage import UnitOfWork

#: Lifecycle events after which a match holds its tonnes.
HOLDING: Final = frozenset({"matching.match-accepted", "matching.match-confirmed"})
#: Lifecycle events after which a match holds nothing (terminal in matching).
RELEASING: Final = frozenset(
    {
        "matching.match-rejected",
        "matching.match-expired",
        "matching.match-superseded",
        "matching.match-cancelled",
    }
)
#: Lifecycle events after which a match holds what its shipment left with, when lighter
#: (decision 032).
SHIPPED: Final = "matching.match-shipped"
SHIPPING: Final = frozenset({SHIPPED})
LIFECYCLE: Final = HOLDING | RELEASING | SHIPPING

L = TypeVar("L", Offer, Demand)

ALLOCATED: Final = "ALLOCATED"
RELEASED: Final = "RELEASED"


def _allocation(facts: MatchFacts, state: str, event_type: str) -> MatchAllocation:
    return MatchAllocation(
        match_id=facts.match_id,
        offer_id=facts.offer_id,
        demand_id=facts.demand_id,
        supplier_enterprise_id=facts.supplier_enterprise_id,
        recycler_enterprise_id=facts.recycler_enterprise_id,
        tonnes=facts.tonnes,
        state=state,
        last_event_type=event_type,
    )


def _check_consistent(facts: MatchFacts, offer: Offer, demand: Demand) -> None:
    problems = []
    if offer.enterprise_id != facts.supplier_enterprise_id:
        problems.append(f"offer {offer.id} is not the supplier's")
    if demand.enterprise_id != facts.recycler_enterprise_id:
        problems.append(f"demand {demand.id} is not the recycler's")
    if offer.waste_code != facts.waste_code.strip().upper() or not demand.accepts(facts.waste_code):
        problems.append(f"{facts.waste_code} is not what offer and demand trade")
    if problems:
        raise DomainError(
            codes.MATCH_INCONSISTENT, f"match {facts.match_id}: " + "; ".join(problems), "matchId"
        )


async def apply_match_event(
    uow: UnitOfWork,
    event_type: str,
    facts: MatchFacts,
    cause: Envelope | None = None,
    *,
    today: date | None = None,
) -> None:
    """Hold or release the match's tonnes on its offer and demand; idempotent per match.
    `today`: the city's day (by default, now), past which a released listing expires."""
    if event_type not in LIFECYCLE:
        return  # proposals hold nothing
    repository = CatalogRepository(uow.session)
    await repository.hold_sites()  # the lock order: the sites' count, then listings
    # The offer's row lock first: two consumers applying one match's acceptance and its
    # rejection at once take turns, and the second reads what the first recorded (else
    # the acceptance could write its hold over the rejection's tombstone).
    await repository.offer(facts.offer_id, for_update=True)
    known = await repository.allocation(facts.match_id)
    now = utcnow()
    if event_type in HOLDING:
        if known is not None:
            # Already holding (the second party's acceptance, the confirmation) or already
            # released (an acceptance arriving after its rejection): nothing moves.
            await repository.put_allocation(replace(known, last_event_type=event_type), now)
            return
        allocation = _allocation(facts, ALLOCATED, event_type)
        await _move(repository, uow, allocation, facts, hold=True, at=now, cause=cause, today=None)
        await repository.put_allocation(allocation, now)
        return
    if event_type in SHIPPING:
        await _shipped(repository, uow, known, facts, at=now, cause=cause, today=today)
        return
    if known is None:
        # Released before it ever held (a proposal rejected): a tombstone, nothing moves.
        await repository.put_allocation(_allocation(facts, RELEASED, event_type), now)
        return
    if known.holds:
        day = china_today() if today is None else today
        await _move(repository, uow, known, facts, hold=False, at=now, cause=cause, today=day)
    await repository.put_allocation(replace(known, state=RELEASED, last_event_type=event_type), now)


async def _shipped(
    repository: CatalogRepository,
    uow: UnitOfWork,
    known: MatchAllocation | None,
    facts: MatchFacts,
    *,
    at: datetime,
    cause: Envelope | None,
    today: date | None,
) -> None:
    """The match's shipment left: it holds no more than the load from now on, and the
    shortfall goes back as a release gives tonnes back (decision 032). Idempotent: an
    allocation already at the load (or below: a heavier load) moves nothing."""
    if not isinstance(facts, MatchShipped):
        raise DomainError(codes.MATCH_INCONSISTENT, f"match {facts.match_id}: no shipped tonnes")
    if known is None:
        # Shipped before the catalog read it accepted or confirmed (other topics): it holds
        # what left, and the acceptance read later finds it held.
        kept = min(facts.tonnes, facts.shipped_tonnes)
        allocation = replace(_allocation(facts, ALLOCATED, SHIPPED), tonnes=kept)
        await _move(repository, uow, allocation, facts, hold=True, at=at, cause=cause, today=None)
        await repository.put_allocation(allocation, at)
        return
    kept = min(known.tonnes, facts.shipped_tonnes)
    if known.holds and kept < known.tonnes:
        day = china_today() if today is None else today
        await _lightened(repository, uow, known, kept, at=at, cause=cause, today=day)
    # A released match (a tombstone) stays released: nothing ships after a release.
    tonnes = kept if known.holds else known.tonnes
    await repository.put_allocation(replace(known, tonnes=tonnes, last_event_type=SHIPPED), at)


async def _lightened(
    repository: CatalogRepository,
    uow: UnitOfWork,
    allocation: MatchAllocation,
    kept: Decimal,
    *,
    at: datetime,
    cause: Envelope | None,
    today: date,
) -> None:
    """The offer and the demand with the allocation lowered to `kept` tonnes."""
    offer, demand = await _listings_of(repository, allocation)
    offer, why_offer = _given_back(offer.ship(allocation.match_id, kept), today)
    demand, why_demand = _given_back(demand.ship(allocation.match_id, kept), today)
    changed: tuple[Listing, Listing] = (offer, demand)
    for listing, reason in zip(changed, (why_offer, why_demand), strict=True):
        version = await repository.save_listing(listing, at)
        await publish_update(uow, listing, version, reason, allocation.match_id, cause)


async def _listings_of(
    repository: CatalogRepository, allocation: MatchAllocation
) -> tuple[Offer, Demand]:
    """The allocation's offer and demand, locked in that order (the release path's)."""
    stored_offer = await repository.offer(allocation.offer_id, for_update=True)
    if stored_offer is None:
        raise NotFound("offer", allocation.offer_id, "offerId")
    stored_demand = await repository.demand(allocation.demand_id, for_update=True)
    if stored_demand is None:
        raise NotFound("demand", allocation.demand_id, "demandId")
    return stored_offer.entity, stored_demand.entity


async def _move(
    repository: CatalogRepository,
    uow: UnitOfWork,
    allocation: MatchAllocation,
    facts: MatchFacts,
    *,
    hold: bool,
    at: datetime,
    cause: Envelope | None,
    today: date | None,
) -> None:
    """Hold the allocation's tonnes, or (given `today`) give them back."""
    offer, demand = await _listings_of(repository, allocation)
    if hold:
        _check_consistent(facts, offer, demand)
        changed: tuple[Listing, Listing] = (
            offer.hold(allocation.match_id, allocation.tonnes),
            demand.hold(allocation.match_id, allocation.tonnes),
        )
        reasons = ["ALLOCATED", "ALLOCATED"]
    else:
        assert today is not None
        (offer, why_offer), (demand, why_demand) = (
            _released(offer, allocation.match_id, today),
            _released(demand, allocation.match_id, today),
        )
        changed, reasons = (offer, demand), [why_offer, why_demand]
    for listing, reason in zip(changed, reasons, strict=True):
        version = await repository.save_listing(listing, at)
        await publish_update(uow, listing, version, reason, allocation.match_id, cause)


def _released(listing: L, match_id: str, today: date) -> tuple[L, str]:
    """`listing` with the match's tonnes given back, and why it changed: back on the market
    only within its days. One past them leaves it now (EXPIRED): fully matched, it was off
    the market, so the expiry sweep passed it by, and back OPEN it was pushed to recyclers
    as on offer until the sweep came round."""
    return _given_back(listing.release(match_id), today)


def _given_back(back: L, today: date) -> tuple[L, str]:
    """A listing given tonnes back, and why it changed (see `_released`)."""
    expired = back.expire_if_due(today)
    return (back, "RELEASED") if expired is back else (expired, expired.expiry_reason)


async def publish_update(
    uow: UnitOfWork,
    listing: Listing,
    version: int,
    reason: str,
    match_id: str | None = None,
    cause: Envelope | None = None,
) -> None:
    """Queue offer-updated or demand-updated with the listing's state after a change."""
    if isinstance(listing, Offer):
        await publish(
            uow,
            OfferUpdated(
                offer_id=listing.id,
                enterprise_id=listing.enterprise_id,
                status=listing.status.value,
                quantity_tonnes=listing.quantity_tonnes,
                matched_tonnes=listing.matched_tonnes,
                remaining_tonnes=listing.remaining_tonnes,
                reason=reason,
                match_id=match_id,
                version=version,
                waste_code=listing.waste_code,
            ),
            listing.id,
            cause,
        )
        return
    await publish(
        uow,
        DemandUpdated(
            demand_id=listing.id,
            enterprise_id=listing.enterprise_id,
            status=listing.status.value,
            quantity_tonnes=listing.quantity_tonnes,
            matched_tonnes=listing.matched_tonnes,
            remaining_tonnes=listing.remaining_tonnes,
            reason=reason,
            match_id=match_id,
            version=version,
        ),
        listing.id,
        cause,
    )
