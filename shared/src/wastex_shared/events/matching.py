"""Facts the matching service publishes about the match lifecycle (key = match id)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from wastex_shared.events.registry import EventModel, event
from wastex_shared.topics import (
    MATCHING_MATCH_ACCEPTED,
    MATCHING_MATCH_CANCELLED,
    MATCHING_MATCH_CONFIRMED,
    MATCHING_MATCH_EXPIRED,
    MATCHING_MATCH_PROPOSED,
    MATCHING_MATCH_REJECTED,
    MATCHING_MATCH_SHIPPED,
    MATCHING_MATCH_SUPERSEDED,
)


class MatchFacts(EventModel):
    """What every lifecycle event repeats, so consumers need no other source."""

    match_id: str
    offer_id: str
    demand_id: str
    supplier_enterprise_id: str
    supplier_site_id: str
    recycler_enterprise_id: str
    recycler_site_id: str
    waste_code: str
    tonnes: Decimal
    distance_km: Decimal
    co2e_kg: Decimal
    avoided_co2e_kg: Decimal | None = None
    freight_factor_key: str
    freight_factor_kg_per_tkm: Decimal
    avoided_factor_key: str | None = None
    status: str
    # Added before v1 was released; optional so every producer and fixture stays valid.
    #: The recycler's licence the tonnes count against (annual capacity).
    licence_id: str | None = None
    supplier_district: str | None = None
    recycler_district: str | None = None
    #: Where the freight factor comes from (the emission-factor reference's `source`).
    freight_factor_source: str | None = None
    #: The shipping window: the days both the offer and the demand allow, from the proposal on.
    window_from: date | None = None
    window_until: date | None = None


@event("matching.match-proposed", MATCHING_MATCH_PROPOSED)
class MatchProposed(MatchFacts):
    pass


@event("matching.match-accepted", MATCHING_MATCH_ACCEPTED)
class MatchAccepted(MatchFacts):
    accepted_by: str  # SUPPLIER | RECYCLER


@event("matching.match-confirmed", MATCHING_MATCH_CONFIRMED)
class MatchConfirmed(MatchFacts):
    pass


@event("matching.match-rejected", MATCHING_MATCH_REJECTED)
class MatchRejected(MatchFacts):
    rejected_by: str
    reason: str


@event("matching.match-superseded", MATCHING_MATCH_SUPERSEDED)
class MatchSuperseded(MatchFacts):
    #: Ids of the proposals re-optimisation made instead (may be empty).
    replaced_by: list[str] = Field(default_factory=list)


@event("matching.match-expired", MATCHING_MATCH_EXPIRED)
class MatchExpired(MatchFacts):
    #: Why it can no longer go ahead: its shipping window ended, or its licence was amended
    #: or revoked and no longer allows it.
    reason: str | None = None


@event("matching.match-cancelled", MATCHING_MATCH_CANCELLED)
class MatchCancelled(MatchFacts):
    """A confirmed match whose shipment a party called off before it left
    (`ledger.shipment-cancelled`): its tonnes go back to the offer, the demand and the
    licence."""

    cancelled_by: str  # SUPPLIER | RECYCLER
    reason: str


@event("matching.match-shipped", MATCHING_MATCH_SHIPPED)
class MatchShipped(MatchFacts):
    """A confirmed match's shipment left (`ledger.shipment-dispatched`) weighing
    `shipped_tonnes`: from then on the match holds min(`tonnes`, `shipped_tonnes`) of the
    offer, the demand and the licence's year, and `released_tonnes` (the shortfall, zero for
    a load as heavy as planned or heavier) go back to them (decision 032)."""

    shipped_tonnes: Decimal
    released_tonnes: Decimal
