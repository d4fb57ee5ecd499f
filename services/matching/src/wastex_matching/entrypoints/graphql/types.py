"""GraphQL types of the matching subgraph."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry

from wastex_matching.adapters.repository import MatchRecord
from wastex_matching.domain.reasons import SAME_ENTERPRISE
from wastex_matching.entrypoints.graphql import policy
from wastex_shared.errors import NotFound
from wastex_shared.graphql.errors import UserError

if TYPE_CHECKING:
    from wastex_shared.auth import Principal
    from wastex_shared.graphql.context import Info


@strawberry.federation.type(keys=["id"], name="Offer")
class OfferRef:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, **_: Any) -> OfferRef:
        return cls(id=id)


@strawberry.federation.type(keys=["id"], name="Demand")
class DemandRef:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, **_: Any) -> DemandRef:
        return cls(id=id)


@strawberry.enum(name="OfferClosure", description="Why an offer left the market.")
class OfferClosureType(Enum):
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    FULLY_MATCHED = "FULLY_MATCHED"


@strawberry.type(
    name="OfferClosed",
    description=(
        "An offer left the market. Only its id and why: other enterprises may no longer "
        "read it. Tonnes released by a match can bring it back (offerChanged)."
    ),
)
class OfferClosedType:
    offer_id: strawberry.ID
    status: OfferClosureType


@strawberry.enum(name="MatchStatus")
class MatchStatusType(Enum):
    PROPOSED = "PROPOSED"
    ACCEPTED_BY_SUPPLIER = "ACCEPTED_BY_SUPPLIER"
    ACCEPTED_BY_RECYCLER = "ACCEPTED_BY_RECYCLER"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"


@strawberry.enum(name="MatchParty")
class PartyType(Enum):
    SUPPLIER = "SUPPLIER"
    RECYCLER = "RECYCLER"


@strawberry.type(name="MatchAlternative", description="Another demand, and why it was not chosen.")
class AlternativeType:
    demand: DemandRef | None = strawberry.field(
        description="That demand, the catalog's (read with your token): null, with "
        "NOT_AUTHORIZED, when the catalog does not show it to you (as for Match.offer)."
    )
    reason: str = strawberry.field(
        description=(
            "Why not: LICENCE_NOT_COVERING_CODE, HAZARDOUS_NEEDS_OPERATING_LICENCE, "
            "LICENCE_EXPIRED, OUT_OF_RADIUS, WINDOW_NOT_OVERLAPPING, WINDOW_PASSED, "
            "REJECTED (a party turned this pairing down, or called off its "
            "confirmed shipment), NO_CAPACITY (its "
            "intake or licensed tonnage went to routes that save more) or COSTLIER (it had "
            "room, but the allocation is cheaper without it)."
        )
    )
    distance_km: Decimal | None = strawberry.field(description="Road distance to that demand.")
    detail: str


@strawberry.federation.type(
    keys=["id"],
    name="Match",
    description=(
        "A proposed transfer of an offer's waste (or part of it) to a demand, and how it "
        "explains itself: distance, tonnes, transport CO2e and CO2e avoided."
    ),
)
class MatchType:
    id: strawberry.ID
    # Nullable: the catalog resolves them with the caller's token, and one it does not show
    # the caller (non-null) would null the whole match, in a list or a push: the caller
    # would lose the match, and its status and reasons, over a field it may not read.
    offer: OfferRef | None = strawberry.field(
        description="The offer, the catalog's (read with your token): null, with "
        "NOT_AUTHORIZED, when the catalog does not show it to you: another enterprise's "
        "offer off the market that no accepted match of yours holds (decision 030), or, "
        "to a regulator, an offer outside its district."
    )
    demand: DemandRef | None = strawberry.field(
        description="The demand, the catalog's (read with your token): null, with "
        "NOT_AUTHORIZED, when the catalog does not show it to you (as for offer)."
    )
    tonnes: Decimal
    distance_km: Decimal = strawberry.field(description="Road km: great-circle × road factor.")
    co2e_kg: Decimal = strawberry.field(description="Transport: tonnes × km × freight factor.")
    avoided_co2e_kg: Decimal | None = strawberry.field(
        description="tonnes × the waste code's avoided-emission factor (null: none on record)."
    )
    avoided_factor_key: str | None
    freight_factor_key: str
    freight_factor_kg_per_tkm: Decimal
    freight_factor_source: str
    waste_code: str
    status: MatchStatusType
    supplier_enterprise_id: strawberry.ID | None = strawberry.field(
        description="The offer's enterprise; shown to the recycler once both have agreed "
        "(CONFIRMED, and after a cancellation), as listings are anonymous until then."
    )
    recycler_enterprise_id: strawberry.ID | None = strawberry.field(
        description="The demand's enterprise; shown to the supplier once both have agreed "
        "(CONFIRMED, and after a cancellation), as listings are anonymous until then."
    )
    supplier_district: str
    recycler_district: str
    licence_id: strawberry.ID | None = strawberry.field(
        description="The recycler's licence whose annual tonnage the match counts against; "
        "shown to the supplier once both have agreed (CONFIRMED, and after a cancellation)."
    )
    window_from: date = strawberry.field(description="First day of the shipping window.")
    window_until: date = strawberry.field(description="Last day of the shipping window.")
    accepted_by_supplier: bool
    accepted_by_recycler: bool
    rejected_by: PartyType | None = strawberry.field(
        description="The party that turned a REJECTED match down, or whose offer or demand "
        "was withdrawn while the match waited for a party to accept it."
    )
    rejection_reason: str | None = strawberry.field(
        description="Why, as that party gave it, or 'the offer … was withdrawn by its owner' "
        "('the demand …')."
    )
    expiry_reason: str | None = strawberry.field(
        description="Why an EXPIRED match could not go ahead: its shipping window ended, its "
        "licence was amended or revoked and no longer allows it, or its offer's or demand's "
        "quantity was amended below what it and the matches accepted before it hold."
    )
    cancelled_by: PartyType | None = strawberry.field(
        description="The party that called a CONFIRMED match's shipment off before it left."
    )
    cancel_reason: str | None
    shipped_tonnes: Decimal | None = strawberry.field(
        description="What a CONFIRMED match's shipment left with (null until dispatched). "
        "A lighter load holds only what left: the rest went back to the offer, the demand "
        "and the licence's year (decision 032)."
    )
    proposed_at: datetime
    updated_at: datetime
    explanation: str
    alternatives: list[AlternativeType] = strawberry.field(
        description="Other demands taking this code, nearest feasible first, and why not them."
    )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID, **_: Any) -> MatchType | None:
        from wastex_matching.entrypoints.graphql.wiring import services

        principal = policy.caller(info.context)
        try:
            record = await services(info).matching.get(str(id))
            return match_for(principal, policy.visible(principal, str(id), record))
        except NotFound:
            return None


@strawberry.type(name="MatchPayload")
class MatchPayload:
    match: MatchType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(name="MatchFilter")
class MatchFilter:
    status: MatchStatusType | None = None
    enterprise_id: strawberry.ID | None = strawberry.field(
        default=None, description="Matches where this enterprise is supplier or recycler."
    )


def _id(value: str | None) -> strawberry.ID | None:
    return strawberry.ID(value) if value else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def match_for(principal: Principal, record: MatchRecord) -> MatchType:
    """The match as `principal` may see it: the parties named as far as theirs to know."""
    parties = policy.parties_shown(principal, record)
    return MatchType(
        id=strawberry.ID(record.id),
        offer=OfferRef(id=strawberry.ID(record.offer_id)),
        demand=DemandRef(id=strawberry.ID(record.demand_id)),
        tonnes=record.tonnes,
        distance_km=record.distance_km,
        co2e_kg=record.co2e_kg,
        avoided_co2e_kg=record.avoided_co2e_kg,
        avoided_factor_key=record.avoided_factor_key,
        freight_factor_key=record.freight_factor_key,
        freight_factor_kg_per_tkm=record.freight_factor_kg_per_tkm,
        freight_factor_source=record.freight_factor_source,
        waste_code=record.waste_code,
        status=MatchStatusType(record.status.value),
        supplier_enterprise_id=_id(parties.supplier_enterprise_id),
        recycler_enterprise_id=_id(parties.recycler_enterprise_id),
        supplier_district=record.supplier_district,
        recycler_district=record.recycler_district,
        licence_id=_id(parties.licence_id),
        window_from=record.window_from,
        window_until=record.window_until,
        accepted_by_supplier=record.supplier_accepted_at is not None,
        accepted_by_recycler=record.recycler_accepted_at is not None,
        rejected_by=PartyType(record.rejected_by) if record.rejected_by else None,
        rejection_reason=record.rejection_reason,
        expiry_reason=record.expiry_reason,
        cancelled_by=PartyType(record.cancelled_by) if record.cancelled_by else None,
        cancel_reason=record.cancel_reason,
        shipped_tonnes=record.shipped_tonnes,
        proposed_at=_aware(record.proposed_at),
        updated_at=_aware(record.updated_at),
        explanation=record.explanation,
        alternatives=[
            AlternativeType(
                demand=DemandRef(id=strawberry.ID(a.demand_id)),
                reason=a.reason,
                distance_km=a.distance_km,
                detail=a.detail,
            )
            for a in record.alternatives
            # Both parties read them: "the same enterprise" would tell the recycler which
            # demands are the supplier's (decision 022); it was never a candidate anyway.
            if a.reason != SAME_ENTERPRISE
        ],
    )
