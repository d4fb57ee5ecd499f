"""Facts the catalog publishes: who exists, what they may take, what is offered and wanted.

Events carry what consumers need to keep their own read models (coordinates, district,
industry), so no service ever reads the catalog's tables.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from wastex_shared.events.registry import EventModel, event
from wastex_shared.topics import (
    CATALOG_DEMAND_POSTED,
    CATALOG_DEMAND_UPDATED,
    CATALOG_DEMAND_WITHDRAWN,
    CATALOG_ENTERPRISE_REGISTERED,
    CATALOG_LICENCE_REGISTERED,
    CATALOG_OFFER_POSTED,
    CATALOG_OFFER_UPDATED,
    CATALOG_OFFER_WITHDRAWN,
    CATALOG_SITE_ADDED,
)


@event("catalog.enterprise-registered", CATALOG_ENTERPRISE_REGISTERED)
class EnterpriseRegistered(EventModel):
    enterprise_id: str
    name: str
    credit_code: str
    industry: str
    district: str
    kind: str


@event("catalog.site-added", CATALOG_SITE_ADDED)
class SiteAdded(EventModel):
    site_id: str
    enterprise_id: str
    name: str
    district: str
    latitude: Decimal
    longitude: Decimal
    industry: str


@event("catalog.licence-registered", CATALOG_LICENCE_REGISTERED)
class LicenceRegistered(EventModel):
    licence_id: str
    enterprise_id: str
    number: str
    waste_codes: list[str]
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    licence_type: str


@event("catalog.offer-posted", CATALOG_OFFER_POSTED)
class OfferPosted(EventModel):
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


@event("catalog.offer-withdrawn", CATALOG_OFFER_WITHDRAWN)
class OfferWithdrawn(EventModel):
    offer_id: str
    enterprise_id: str


@event("catalog.offer-updated", CATALOG_OFFER_UPDATED)
class OfferUpdated(EventModel):
    """Status or remaining tonnage changed (matched, released, expired)."""

    offer_id: str
    enterprise_id: str
    status: str
    remaining_tonnes: Decimal


@event("catalog.demand-posted", CATALOG_DEMAND_POSTED)
class DemandPosted(EventModel):
    demand_id: str
    enterprise_id: str
    site_id: str
    district: str
    latitude: Decimal
    longitude: Decimal
    waste_codes: list[str]
    quantity_tonnes: Decimal
    max_distance_km: Decimal
    available_from: date
    available_until: date


@event("catalog.demand-withdrawn", CATALOG_DEMAND_WITHDRAWN)
class DemandWithdrawn(EventModel):
    demand_id: str
    enterprise_id: str


@event("catalog.demand-updated", CATALOG_DEMAND_UPDATED)
class DemandUpdated(EventModel):
    demand_id: str
    enterprise_id: str
    status: str
    remaining_tonnes: Decimal
