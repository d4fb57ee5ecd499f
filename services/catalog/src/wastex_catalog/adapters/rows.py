"""Row ↔ domain mapping for the catalog tables.

Rows are rehydrated with the plain constructors, never the validating factories, so
stored data is read back as it was written even after a rule has changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from wastex_catalog.domain import (
    Allocation,
    Demand,
    Enterprise,
    EnterpriseKind,
    Licence,
    LicenceChange,
    LicenceType,
    ListingStatus,
    Offer,
    Site,
)
from wastex_catalog.records import (
    EnterpriseVersion,
    LicenceVersion,
    MatchAllocation,
    SiteVersion,
    Stored,
)

Row = Mapping[str, Any]


def as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without their offset; they were stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def plain(value: Any) -> Decimal:
    """A stored measure without the column's padding ("30.640000" → "30.64", 80 stays "80")."""
    number = Decimal(value).normalize()
    exponent = number.as_tuple().exponent
    return number.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else number


def tonnes(value: Any) -> Decimal:
    # SQLite returns Numeric through float; three places is what was stored.
    return Decimal(value).quantize(Decimal("0.001"))


def _trail(version: EnterpriseVersion | SiteVersion | LicenceVersion) -> dict[str, Any]:
    """Why, when and by whom a version was made: the columns every version table has alike."""
    return {"reason": version.reason, "changed_at": version.at, "changed_by": version.by}


def _trail_of(row: Row) -> dict[str, Any]:
    """A version row's `_trail`, as its record takes it."""
    return {"reason": row["reason"], "at": as_utc(row["changed_at"]), "by": row["changed_by"]}


def enterprise_of(row: Row) -> Stored[Enterprise]:
    return Stored(_enterprise(row, row["id"]), as_utc(row["created_at"]), int(row["version"]))


def _enterprise(row: Row, ident: str) -> Enterprise:
    return Enterprise(
        id=ident,
        name=row["name"],
        credit_code=row["credit_code"],
        industry=row["industry"],
        district=row["district"],
        kind=EnterpriseKind(row["kind"]),
        version=int(row["version"]),
    )


def enterprise_values(enterprise: Enterprise, at: datetime) -> dict[str, Any]:
    return {
        "id": enterprise.id,
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "industry": enterprise.industry,
        "district": enterprise.district,
        "kind": enterprise.kind.value,
        "created_at": at,
        "version": enterprise.version,
    }


def enterprise_version_values(version: EnterpriseVersion) -> dict[str, Any]:
    enterprise = version.enterprise
    return {
        "enterprise_id": enterprise.id,
        "version": enterprise.version,
        **_trail(version),
        "name": enterprise.name,
        "industry": enterprise.industry,
        "district": enterprise.district,
    }


def enterprise_version_of(row: Row) -> EnterpriseVersion:
    """A version row joined with its enterprise's credit code and kind (never amended)."""
    return EnterpriseVersion(
        enterprise=_enterprise(row, row["enterprise_id"]),
        **_trail_of(row),
    )


def site_of(row: Row) -> Stored[Site]:
    return Stored(_site(row, row["id"]), as_utc(row["created_at"]), int(row["version"]))


def _site(row: Row, ident: str) -> Site:
    return Site(
        id=ident,
        enterprise_id=row["enterprise_id"],
        name=row["name"],
        district=row["district"],
        latitude=plain(row["latitude"]),
        longitude=plain(row["longitude"]),
        version=int(row["version"]),
    )


def site_values(site: Site, at: datetime) -> dict[str, Any]:
    return {
        "id": site.id,
        "enterprise_id": site.enterprise_id,
        "name": site.name,
        "district": site.district,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "created_at": at,
        "version": site.version,
    }


def site_version_values(version: SiteVersion) -> dict[str, Any]:
    site = version.site
    return {
        "site_id": site.id,
        "version": site.version,
        **_trail(version),
        "name": site.name,
        "district": site.district,
        "latitude": site.latitude,
        "longitude": site.longitude,
    }


def site_version_of(row: Row) -> SiteVersion:
    """A version row joined with its site's enterprise (never amended)."""
    return SiteVersion(
        site=_site(row, row["site_id"]),
        **_trail_of(row),
    )


def licence_of(row: Row) -> Stored[Licence]:
    return Stored(
        Licence(
            id=row["id"],
            enterprise_id=row["enterprise_id"],
            number=row["number"],
            type=LicenceType(row["type"]),
            revocation_reason=row["revocation_reason"],
            version=int(row["version"]),
            **_licence_terms_of(row),
        ),
        as_utc(row["created_at"]),
    )


def _licence_terms_of(row: Row) -> dict[str, Any]:
    """What a licence permits and for how long, as a licence row and a version row hold it."""
    return {
        "waste_codes": tuple(row["waste_codes"]),
        "annual_capacity_tonnes": tonnes(row["annual_capacity_tonnes"]),
        "valid_from": row["valid_from"],
        "valid_until": row["valid_until"],
        "revoked_on": row["revoked_on"],
    }


def _licence_terms(licence: Licence) -> dict[str, Any]:
    """The columns `_licence_terms_of` reads."""
    return {
        "waste_codes": list(licence.waste_codes),
        "annual_capacity_tonnes": licence.annual_capacity_tonnes,
        "valid_from": licence.valid_from,
        "valid_until": licence.valid_until,
        "revoked_on": licence.revoked_on,
    }


def licence_values(licence: Licence, at: datetime) -> dict[str, Any]:
    return {
        "id": licence.id,
        "enterprise_id": licence.enterprise_id,
        "number": licence.number,
        "number_key": licence.number_key,
        "type": licence.type.value,
        "created_at": at,
        **licence_changes(licence),
    }


def licence_changes(licence: Licence) -> dict[str, Any]:
    """The columns an amendment or a revocation may change."""
    return {
        **_licence_terms(licence),
        "revocation_reason": licence.revocation_reason,
        "version": licence.version,
    }


def licence_version_values(version: LicenceVersion) -> dict[str, Any]:
    licence = version.licence
    return {
        "licence_id": licence.id,
        "version": licence.version,
        "change": version.change.value,
        **_trail(version),
        **_licence_terms(licence),
    }


def licence_version_of(row: Row) -> LicenceVersion:
    """A version row joined with its licence's holder, number and type (which never change)."""
    change = LicenceChange(row["change"])
    return LicenceVersion(
        licence=Licence(
            id=row["licence_id"],
            enterprise_id=row["enterprise_id"],
            number=row["number"],
            type=LicenceType(row["type"]),
            revocation_reason=row["reason"] if change is LicenceChange.REVOKED else None,
            version=int(row["version"]),
            **_licence_terms_of(row),
        ),
        change=change,
        **_trail_of(row),
    )


def _optional(value: Any) -> Decimal | None:
    return None if value is None else plain(value)


def _allocations(held: Iterable[MatchAllocation]) -> tuple[tuple[Allocation, ...], frozenset[str]]:
    allocations = tuple(Allocation(a.match_id, a.tonnes) for a in held)
    parties = frozenset(
        party for a in held for party in (a.supplier_enterprise_id, a.recycler_enterprise_id)
    )
    return allocations, parties


def offer_of(row: Row, held: Iterable[MatchAllocation] = ()) -> Stored[Offer]:
    held = list(held)
    allocations, parties = _allocations(held)
    return Stored(
        Offer(
            id=row["id"],
            enterprise_id=row["enterprise_id"],
            site_id=row["site_id"],
            district=row["district"],
            quantity_tonnes=tonnes(row["quantity_tonnes"]),
            available_from=row["available_from"],
            available_until=row["available_until"],
            status=ListingStatus(row["status"]),
            allocations=allocations,
            waste_code=row["waste_code"],
            description=row["description"],
            moisture_percent=_optional(row["moisture_percent"]),
            particle_size_mm=_optional(row["particle_size_mm"]),
        ),
        as_utc(row["created_at"]),
        row["version"],
        parties,
    )


def offer_values(offer: Offer, at: datetime) -> dict[str, Any]:
    return {
        "id": offer.id,
        "enterprise_id": offer.enterprise_id,
        "site_id": offer.site_id,
        "district": offer.district,
        "waste_code": offer.waste_code,
        "hazardous": offer.hazardous,
        "quantity_tonnes": offer.quantity_tonnes,
        "available_from": offer.available_from,
        "available_until": offer.available_until,
        "description": offer.description,
        "moisture_percent": offer.moisture_percent,
        "particle_size_mm": offer.particle_size_mm,
        "status": offer.status.value,
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }


def demand_of(row: Row, held: Iterable[MatchAllocation] = ()) -> Stored[Demand]:
    held = list(held)
    allocations, parties = _allocations(held)
    return Stored(
        Demand(
            id=row["id"],
            enterprise_id=row["enterprise_id"],
            site_id=row["site_id"],
            district=row["district"],
            quantity_tonnes=tonnes(row["quantity_tonnes"]),
            available_from=row["available_from"],
            available_until=row["available_until"],
            status=ListingStatus(row["status"]),
            allocations=allocations,
            waste_codes=tuple(row["waste_codes"]),
            max_distance_km=plain(row["max_distance_km"]),
            licensed_until=row["licensed_until"],
            awaits_renewal_until=row["awaits_renewal_until"],
        ),
        as_utc(row["created_at"]),
        row["version"],
        parties,
    )


def demand_values(demand: Demand, at: datetime) -> dict[str, Any]:
    return {
        "id": demand.id,
        "enterprise_id": demand.enterprise_id,
        "site_id": demand.site_id,
        "district": demand.district,
        "waste_codes": list(demand.waste_codes),
        "quantity_tonnes": demand.quantity_tonnes,
        "max_distance_km": demand.max_distance_km,
        "available_from": demand.available_from,
        "available_until": demand.available_until,
        "licensed_until": demand.licensed_until,
        "awaits_renewal_until": demand.awaits_renewal_until,
        "status": demand.status.value,
        "version": 1,
        "created_at": at,
        "updated_at": at,
    }


def allocation_of(row: Row) -> MatchAllocation:
    return MatchAllocation(
        match_id=row["match_id"],
        offer_id=row["offer_id"],
        demand_id=row["demand_id"],
        supplier_enterprise_id=row["supplier_enterprise_id"],
        recycler_enterprise_id=row["recycler_enterprise_id"],
        tonnes=tonnes(row["tonnes"]),
        state=row["state"],
        last_event_type=row["last_event_type"],
    )
