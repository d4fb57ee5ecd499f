"""Facts the catalog publishes: who exists, what they may take, what is offered and wanted.

Events carry what consumers need to keep their own read models (coordinates, district,
industry, hazard flag), so no service ever reads the catalog's tables.

Each event is keyed by its aggregate id (enterprise, site, licence, offer or demand id).
An offer's or demand's events travel on several topics (posted, amended, updated,
withdrawn), whose relative order a consumer cannot rely on; `version` counts the listing's
changes (1 when posted) so a consumer keeps the highest version it has seen and ignores
older ones.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from wastex_shared.events.registry import EventModel, event
from wastex_shared.topics import (
    CATALOG_DEMAND_AMENDED,
    CATALOG_DEMAND_POSTED,
    CATALOG_DEMAND_UPDATED,
    CATALOG_DEMAND_WITHDRAWN,
    CATALOG_ENTERPRISE_AMENDED,
    CATALOG_ENTERPRISE_REGISTERED,
    CATALOG_LICENCE_AMENDED,
    CATALOG_LICENCE_REGISTERED,
    CATALOG_OFFER_AMENDED,
    CATALOG_OFFER_POSTED,
    CATALOG_OFFER_UPDATED,
    CATALOG_OFFER_WITHDRAWN,
    CATALOG_SITE_ADDED,
    CATALOG_SITE_AMENDED,
)


class EnterpriseFacts(EventModel):
    """An enterprise as it stands; later versions replace earlier ones whatever the topic
    (registered, amended)."""

    enterprise_id: str
    name: str
    credit_code: str
    #: GB/T 4754-2017 code, e.g. "C3110"; the section letter is its first character.
    industry: str
    #: Where it is registered: which district's regulators oversee it.
    district: str
    kind: str  # FACTORY | RECYCLER
    version: int = 1


@event("catalog.enterprise-registered", CATALOG_ENTERPRISE_REGISTERED)
class EnterpriseRegistered(EnterpriseFacts):
    pass


@event("catalog.enterprise-amended", CATALOG_ENTERPRISE_AMENDED)
class EnterpriseAmended(EnterpriseFacts):
    """Name, industry or registered district corrected by an admin, saying why. Applies
    from when it is read: ledger entries booked before keep the industry and district they
    were booked under (decision 025)."""

    reason: str


@event("catalog.site-added", CATALOG_SITE_ADDED)
class SiteAdded(EventModel):
    site_id: str
    enterprise_id: str
    name: str
    district: str
    latitude: Decimal
    longitude: Decimal
    #: The enterprise's industry and district, so ledger projections by industry or by the
    #: enterprise's district need no other event.
    industry: str
    enterprise_district: str
    #: The version of the enterprise those two are of (a later amendment replaces them).
    enterprise_version: int = 1
    #: The site's own version: 1 when added, one more with each amendment (consumers keep
    #: the highest, whichever of the two topics brings it first).
    version: int = 1


@event("catalog.site-amended", CATALOG_SITE_AMENDED)
class SiteAmended(SiteAdded):
    """Name, coordinates or district corrected, saying why: the whole site as it now
    stands, with its enterprise as it stands. Applies from when it is read: ledger entries
    booked before keep the district they were booked under (decision 026); the site's live
    offers and demands are re-published with it (`offer-amended`, `demand-amended`)."""

    reason: str


class LicenceFacts(EventModel):
    """A licence as it stands; later versions replace earlier ones whatever the topic."""

    licence_id: str
    enterprise_id: str
    number: str
    waste_codes: list[str]
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    licence_type: str  # HAZARDOUS_WASTE_OPERATING | GENERAL_UTILISATION
    #: The first day the licence no longer holds, when it was revoked.
    revoked_on: date | None = None
    version: int = 1


@event("catalog.licence-registered", CATALOG_LICENCE_REGISTERED)
class LicenceRegistered(LicenceFacts):
    pass


@event("catalog.licence-amended", CATALOG_LICENCE_AMENDED)
class LicenceAmended(LicenceFacts):
    """Corrected (codes, tonnage, validity) or revoked, by an admin, saying why."""

    reason: str


class OfferFacts(EventModel):
    """An offer's terms as they stand; later versions replace earlier ones whatever the
    topic (posted, amended)."""

    offer_id: str
    enterprise_id: str
    site_id: str
    district: str
    latitude: Decimal
    longitude: Decimal
    waste_code: str
    hazardous: bool
    quantity_tonnes: Decimal
    available_from: date
    available_until: date
    description: str
    moisture_percent: Decimal | None = None
    particle_size_mm: Decimal | None = None
    status: str = "OPEN"
    version: int = 1


@event("catalog.offer-posted", CATALOG_OFFER_POSTED)
class OfferPosted(OfferFacts):
    """A new offer (version 1)."""


@event("catalog.offer-amended", CATALOG_OFFER_AMENDED)
class OfferAmended(OfferFacts):
    """Its owner changed its quantity, window or description: the whole offer as it now
    stands. Tonnes held by accepted matches stay with them (`matched_tonnes`)."""

    #: The GraphQL names of the fields the amendment changed, e.g. ["quantityTonnes"].
    changed: list[str]
    matched_tonnes: Decimal
    remaining_tonnes: Decimal


@event("catalog.offer-withdrawn", CATALOG_OFFER_WITHDRAWN)
class OfferWithdrawn(EventModel):
    offer_id: str
    enterprise_id: str
    #: Tonnes taken off the market; tonnes already held by accepted matches stay with them.
    remaining_tonnes: Decimal
    status: str = "WITHDRAWN"
    version: int
    #: Its code, for the recyclers told of it by code (None in events published before it
    #: was carried).
    waste_code: str | None = None


@event("catalog.offer-updated", CATALOG_OFFER_UPDATED)
class OfferUpdated(EventModel):
    """Status or remaining tonnage changed: a match took or gave back tonnes, or it expired."""

    offer_id: str
    enterprise_id: str
    status: str
    quantity_tonnes: Decimal
    matched_tonnes: Decimal
    remaining_tonnes: Decimal
    reason: str  # ALLOCATED | RELEASED | EXPIRED | UNLICENSED (demands) | REBUILT
    #: The match whose lifecycle caused an ALLOCATED/RELEASED change.
    match_id: str | None = None
    version: int
    #: Its code, for the recyclers told of it by code (None in events published before it
    #: was carried).
    waste_code: str | None = None


class DemandFacts(EventModel):
    """A demand's terms as they stand; later versions replace earlier ones whatever the
    topic (posted, amended)."""

    demand_id: str
    enterprise_id: str
    site_id: str
    district: str
    latitude: Decimal
    longitude: Decimal
    waste_codes: list[str]
    hazardous: bool
    quantity_tonnes: Decimal
    max_distance_km: Decimal
    available_from: date
    available_until: date
    status: str = "OPEN"
    version: int = 1


@event("catalog.demand-posted", CATALOG_DEMAND_POSTED)
class DemandPosted(DemandFacts):
    """A new demand (version 1)."""


@event("catalog.demand-amended", CATALOG_DEMAND_AMENDED)
class DemandAmended(DemandFacts):
    """Its owner changed its quantity, radius or window: the whole demand as it now
    stands. Tonnes held by accepted matches stay with them (`matched_tonnes`)."""

    #: The GraphQL names of the fields the amendment changed, e.g. ["maxDistanceKm"].
    changed: list[str]
    matched_tonnes: Decimal
    remaining_tonnes: Decimal


@event("catalog.demand-withdrawn", CATALOG_DEMAND_WITHDRAWN)
class DemandWithdrawn(EventModel):
    demand_id: str
    enterprise_id: str
    remaining_tonnes: Decimal
    status: str = "WITHDRAWN"
    version: int


@event("catalog.demand-updated", CATALOG_DEMAND_UPDATED)
class DemandUpdated(EventModel):
    """Status or remaining tonnage changed: a match took or gave back tonnes, or it expired."""

    demand_id: str
    enterprise_id: str
    status: str
    quantity_tonnes: Decimal
    matched_tonnes: Decimal
    remaining_tonnes: Decimal
    reason: str  # ALLOCATED | RELEASED | EXPIRED | UNLICENSED (demands) | REBUILT
    match_id: str | None = None
    version: int
