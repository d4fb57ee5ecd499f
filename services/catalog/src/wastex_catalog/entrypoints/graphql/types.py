"""The catalog's GraphQL object types and enums.

Enterprise, Site, Offer and Demand are federation entities (`@key(fields: "id")`) that
matching and ledger reference by id; each resolves by reference through the same policy as
the queries. Nested relations load through the request's DataLoaders and are null when the
caller may not see them. Tonnes are `Decimal` strings with three places ("120.500").
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from wastex_catalog import domain
from wastex_catalog.entrypoints.graphql import policy
from wastex_catalog.entrypoints.graphql.context import loaders, principal
from wastex_catalog.entrypoints.graphql.policy import Visibility
from wastex_catalog.records import EnterpriseVersion as EnterpriseVersionRecord
from wastex_catalog.records import LicenceVersion as LicenceVersionRecord
from wastex_catalog.records import SiteVersion as SiteVersionRecord
from wastex_catalog.records import Stored
from wastex_shared.codes import WasteCode as WasteCodeRecord
from wastex_shared.codes import lookup
from wastex_shared.errors import NotAuthorized, NotFound
from wastex_shared.graphql.context import Info


@strawberry.enum(description="What an enterprise mainly does with waste.")
class EnterpriseKind(enum.Enum):
    FACTORY = "FACTORY"
    RECYCLER = "RECYCLER"


@strawberry.enum(description="The legal basis a licence gives its holder to take waste in.")
class LicenceType(enum.Enum):
    HAZARDOUS_WASTE_OPERATING = strawberry.enum_value(
        "HAZARDOUS_WASTE_OPERATING", description="危险废物经营许可证; required for any HW code."
    )
    GENERAL_UTILISATION = strawberry.enum_value(
        "GENERAL_UTILISATION",
        description="Verified capability for general industrial solid waste (SW codes).",
    )


@strawberry.enum(description="What made a version of a licence.")
class LicenceChange(enum.Enum):
    REGISTERED = "REGISTERED"
    AMENDED = "AMENDED"
    REVOKED = "REVOKED"


@strawberry.enum(
    description="OPEN → PARTIALLY_MATCHED → FULLY_MATCHED as accepted matches take tonnes "
    "(and back as they are released); WITHDRAWN by the owner; EXPIRED after the window."
)
class ListingStatus(enum.Enum):
    OPEN = "OPEN"
    PARTIALLY_MATCHED = "PARTIALLY_MATCHED"
    FULLY_MATCHED = "FULLY_MATCHED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


@strawberry.federation.type(
    keys=["code"], description="A waste category (HW hazardous, SW general)."
)
class WasteCode:
    code: strawberry.ID
    name_zh: str
    name_en: str
    hazardous: bool
    status: str

    @classmethod
    def of(cls, record: WasteCodeRecord) -> WasteCode:
        return cls(
            code=strawberry.ID(record.code),
            name_zh=record.name_zh,
            name_en=record.name_en,
            hazardous=record.hazardous,
            status=record.status.upper(),
        )

    @classmethod
    def resolve_reference(cls, code: strawberry.ID) -> WasteCode | None:
        found = lookup(code)
        return cls.of(found) if found else None


@strawberry.federation.type(keys=["id"], description="A legal entity that trades waste.")
class Enterprise:
    id: strawberry.ID
    name: str
    credit_code: str = strawberry.field(description="Unified social credit code (18 characters).")
    industry: str = strawberry.field(description="GB/T 4754-2017 industry code, e.g. C3110.")
    district: str
    kind: EnterpriseKind
    created_at: datetime
    version: int = strawberry.field(description="1 when registered, one more each amendment.")
    record: strawberry.Private[Stored[domain.Enterprise]]

    @classmethod
    def of(cls, stored: Stored[domain.Enterprise]) -> Enterprise:
        enterprise = stored.entity
        return cls(
            id=strawberry.ID(enterprise.id),
            name=enterprise.name,
            credit_code=enterprise.credit_code,
            industry=enterprise.industry,
            district=enterprise.district,
            kind=EnterpriseKind(enterprise.kind.value),
            created_at=stored.created_at,
            version=enterprise.version,
            record=stored,
        )

    @strawberry.field(
        description="Every version, oldest first: what the registration and each amendment "
        "left, why, when and by whom."
    )
    async def history(self, info: Info) -> list[EnterpriseVersion]:
        versions = await loaders(info).enterprise_versions.load(str(self.id))
        return [EnterpriseVersion.of(version) for version in versions]

    @strawberry.field(description="Its sites (those you may see), oldest first.")
    async def sites(self, info: Info) -> list[Site]:
        found = await loaders(info).sites_of.load(self.id)
        caller = principal(info)
        return [Site.of(s) for s in found if policy.can_read_site(caller, s.entity).visible]

    @strawberry.field(description="Its licences, by start of validity.")
    async def licences(self, info: Info) -> list[Licence]:
        if not policy.can_read_licences(principal(info), self.record.entity):
            return []
        return [Licence.of(s) for s in await loaders(info).licences_of.load(self.id)]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Enterprise:
        return await enterprise_by_id(info, id)


@strawberry.federation.type(
    keys=["id"], description="A place of an enterprise where waste arises or is taken in."
)
class Site:
    id: strawberry.ID
    name: str
    district: str
    latitude: Decimal = strawberry.field(description="WGS-84 decimal degrees.")
    longitude: Decimal = strawberry.field(description="WGS-84 decimal degrees.")
    created_at: datetime
    version: int = strawberry.field(description="1 when added, one more each amendment.")
    record: strawberry.Private[Stored[domain.Site]]

    @classmethod
    def of(cls, stored: Stored[domain.Site]) -> Site:
        site = stored.entity
        return cls(
            id=strawberry.ID(site.id),
            name=site.name,
            district=site.district,
            latitude=site.latitude,
            longitude=site.longitude,
            created_at=stored.created_at,
            version=site.version,
            record=stored,
        )

    @strawberry.field(
        description="Every version, oldest first: what its addition and each amendment "
        "left, why, when and by whom."
    )
    async def history(self, info: Info) -> list[SiteVersion]:
        versions = await loaders(info).site_versions.load(str(self.id))
        return [SiteVersion.of(version) for version in versions]

    @strawberry.field(description="Its enterprise; null when you may not see it.")
    async def enterprise(self, info: Info) -> Enterprise | None:
        return await visible_enterprise(info, self.record.entity.enterprise_id)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Site:
        return await site_by_id(info, id)


@strawberry.type(
    description="A licence: the codes an enterprise may take in, and until when. An admin may "
    "amend it (version counts the changes) or record its revocation."
)
class Licence:
    id: strawberry.ID
    enterprise_id: strawberry.ID
    number: str
    waste_codes: list[str]
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    type: LicenceType
    created_at: datetime
    revoked_on: date | None = strawberry.field(
        description="The first day the licence no longer holds, when it was revoked."
    )
    revocation_reason: str | None
    last_valid_day: date = strawberry.field(
        description="validUntil, or the day before the revocation when that is earlier."
    )
    version: int

    @strawberry.field(
        description="Every version, oldest first: what the registration, each amendment and "
        "the revocation left, why, when and by whom."
    )
    async def history(self, info: Info) -> list[LicenceVersion]:
        versions = await loaders(info).licence_versions.load(str(self.id))
        return [LicenceVersion.of(version) for version in versions]

    @classmethod
    def of(cls, stored: Stored[domain.Licence]) -> Licence:
        licence = stored.entity
        return cls(
            id=strawberry.ID(licence.id),
            enterprise_id=strawberry.ID(licence.enterprise_id),
            number=licence.number,
            type=LicenceType(licence.type.value),
            created_at=stored.created_at,
            revocation_reason=licence.revocation_reason,
            version=licence.version,
            **_terms(licence),
        )


@strawberry.type(description="An enterprise as its registration or one amendment left it.")
class EnterpriseVersion:
    version: int
    reason: str | None = strawberry.field(
        description="Why it was amended (none for the registration)."
    )
    changed_at: datetime
    changed_by: str | None = strawberry.field(
        description="Who made the change (the admin's sign-in); null for registrations "
        "recorded before the trail was kept."
    )
    name: str
    industry: str
    district: str

    @classmethod
    def of(cls, record: EnterpriseVersionRecord) -> EnterpriseVersion:
        enterprise = record.enterprise
        return cls(
            version=enterprise.version,
            reason=record.reason,
            changed_at=record.at,
            changed_by=record.by,
            name=enterprise.name,
            industry=enterprise.industry,
            district=enterprise.district,
        )


@strawberry.type(description="A site as its addition or one amendment left it.")
class SiteVersion:
    version: int
    reason: str | None = strawberry.field(description="Why it was amended (none for the addition).")
    changed_at: datetime
    changed_by: str | None = strawberry.field(
        description="Who made the change (a sign-in); null for additions recorded before the "
        "trail was kept."
    )
    name: str
    district: str
    latitude: Decimal
    longitude: Decimal

    @classmethod
    def of(cls, record: SiteVersionRecord) -> SiteVersion:
        site = record.site
        return cls(
            version=site.version,
            reason=record.reason,
            changed_at=record.at,
            changed_by=record.by,
            name=site.name,
            district=site.district,
            latitude=site.latitude,
            longitude=site.longitude,
        )


@strawberry.type(description="A licence as one registration, amendment or revocation left it.")
class LicenceVersion:
    version: int
    change: LicenceChange
    reason: str | None = strawberry.field(
        description="Why it was amended or revoked (none for the registration)."
    )
    changed_at: datetime
    changed_by: str | None = strawberry.field(
        description="Who made the change (the admin's sign-in); null for versions recorded "
        "before the trail was kept."
    )
    waste_codes: list[str]
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    revoked_on: date | None
    last_valid_day: date

    @classmethod
    def of(cls, record: LicenceVersionRecord) -> LicenceVersion:
        return cls(
            version=record.licence.version,
            change=LicenceChange(record.change.value),
            reason=record.reason,
            changed_at=record.at,
            changed_by=record.by,
            **_terms(record.licence),
        )


def _terms(licence: domain.Licence) -> dict[str, Any]:
    """What a licence permits and for how long: the fields a licence and each of its
    versions show alike."""
    return {
        "waste_codes": list(licence.waste_codes),
        "annual_capacity_tonnes": licence.annual_capacity_tonnes,
        "valid_from": licence.valid_from,
        "valid_until": licence.valid_until,
        "revoked_on": licence.revoked_on,
        "last_valid_day": licence.last_valid_day,
    }


@strawberry.federation.type(
    keys=["id"],
    description="Waste a site has on hand for a window. Other enterprises see it while it is "
    "on the market, without its site and enterprise (the district stands for the place).",
)
class Offer:
    id: strawberry.ID
    status: ListingStatus
    waste_code: str
    hazardous: bool = strawberry.field(description="Derived from the waste code (HW).")
    quantity_tonnes: Decimal
    matched_tonnes: Decimal = strawberry.field(description="Held by accepted matches.")
    remaining_tonnes: Decimal = strawberry.field(
        description="Not held by accepted matches: on offer while OPEN or PARTIALLY_MATCHED; "
        "once WITHDRAWN or EXPIRED, no longer on offer (a match released after it closed "
        "adds its tonnes here)."
    )
    available_from: date
    available_until: date
    description: str
    moisture_percent: Decimal | None
    particle_size_mm: Decimal | None
    district: str
    created_at: datetime
    record: strawberry.Private[Stored[domain.Offer]]
    visibility: strawberry.Private[Visibility]

    @classmethod
    def of(cls, stored: Stored[domain.Offer], visibility: Visibility) -> Offer:
        offer = stored.entity
        return cls(
            id=strawberry.ID(offer.id),
            status=ListingStatus(offer.status.value),
            waste_code=offer.waste_code,
            hazardous=offer.hazardous,
            quantity_tonnes=offer.quantity_tonnes,
            matched_tonnes=offer.matched_tonnes,
            remaining_tonnes=offer.remaining_tonnes,
            available_from=offer.available_from,
            available_until=offer.available_until,
            description=offer.description,
            moisture_percent=offer.moisture_percent,
            particle_size_mm=offer.particle_size_mm,
            district=offer.district,
            created_at=stored.created_at,
            record=stored,
            visibility=visibility,
        )

    @strawberry.field(description="Where the waste lies; null unless the offer is yours to see.")
    async def site(self, info: Info) -> Site | None:
        if self.visibility is not Visibility.FULL:
            return None
        return await visible_site(info, self.record.entity.site_id)

    @strawberry.field(description="Who offers it; null unless the offer is yours to see.")
    async def enterprise(self, info: Info) -> Enterprise | None:
        if self.visibility is not Visibility.FULL:
            return None
        return await visible_enterprise(info, self.record.entity.enterprise_id)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Offer:
        return await offer_by_id(info, id)


@strawberry.federation.type(
    keys=["id"],
    description="What a site will take in, within its licences. Other enterprises see it "
    "while it is on the market, without its site and enterprise.",
)
class Demand:
    id: strawberry.ID
    status: ListingStatus
    waste_codes: list[str]
    hazardous: bool = strawberry.field(description="Whether any accepted code is hazardous.")
    quantity_tonnes: Decimal
    matched_tonnes: Decimal
    remaining_tonnes: Decimal = strawberry.field(
        description="Not held by accepted matches: still wanted while OPEN or "
        "PARTIALLY_MATCHED; once WITHDRAWN or EXPIRED, no longer wanted (a match released "
        "after it closed adds its tonnes here)."
    )
    max_distance_km: Decimal
    available_from: date
    available_until: date
    district: str
    created_at: datetime
    record: strawberry.Private[Stored[domain.Demand]]
    visibility: strawberry.Private[Visibility]

    @classmethod
    def of(cls, stored: Stored[domain.Demand], visibility: Visibility) -> Demand:
        demand = stored.entity
        return cls(
            id=strawberry.ID(demand.id),
            status=ListingStatus(demand.status.value),
            waste_codes=list(demand.waste_codes),
            hazardous=demand.hazardous,
            quantity_tonnes=demand.quantity_tonnes,
            matched_tonnes=demand.matched_tonnes,
            remaining_tonnes=demand.remaining_tonnes,
            max_distance_km=demand.max_distance_km,
            available_from=demand.available_from,
            available_until=demand.available_until,
            district=demand.district,
            created_at=stored.created_at,
            record=stored,
            visibility=visibility,
        )

    @strawberry.field(description="Where it is taken in; null unless the demand is yours to see.")
    async def site(self, info: Info) -> Site | None:
        if self.visibility is not Visibility.FULL:
            return None
        return await visible_site(info, self.record.entity.site_id)

    @strawberry.field(description="Who asks; null unless the demand is yours to see.")
    async def enterprise(self, info: Info) -> Enterprise | None:
        if self.visibility is not Visibility.FULL:
            return None
        return await visible_enterprise(info, self.record.entity.enterprise_id)

    @strawberry.field(
        description="The last day its holder's licences cover one of its codes, when that "
        "comes before availableUntil (its window was posted or amended past them, or a licence "
        "was amended or revoked since): it leaves the market after it (EXPIRED), or after "
        "awaitsRenewalUntil when a licence runs out on its term that day. Null when they cover "
        "its whole window, or unless the demand is yours to see (a holder's licences are its "
        "own)."
    )
    def licensed_until(self) -> date | None:
        if self.visibility is not Visibility.FULL:
            return None
        return self.record.entity.licensed_until

    @strawberry.field(
        description="Set when licensedUntil is the end of a licence's term (it lapses; a "
        "revocation, or an amendment dropping the codes, gives none): the last day the "
        "demand stays on the market, status unchanged, waiting for a renewal, the catalog's "
        "grace days after licensedUntil (never past availableUntil); set from the posting "
        "when its window runs past its licences' term. No match is made under it for days no "
        "licence covers. A licence registered by then covering its codes "
        "gives back its whole window; otherwise it leaves the market after this day (EXPIRED, "
        "reason UNLICENSED). Null otherwise, or unless the demand is yours to see."
    )
    def awaits_renewal_until(self) -> date | None:
        if self.visibility is not Visibility.FULL:
            return None
        return self.record.entity.awaits_renewal_until

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Demand:
        return await demand_by_id(info, id)


# --- look-ups by id: the policy decides, NOT_AUTHORIZED rather than a partial answer -----


def _hidden(what: str, ident: str) -> NotAuthorized:
    return NotAuthorized(f"{what} {ident} is not yours to see")


async def enterprise_by_id(info: Info, enterprise_id: str) -> Enterprise:
    caller = policy.require_signed_in(principal(info))
    stored = await loaders(info).enterprise.load(enterprise_id)
    if stored is None:
        raise NotFound("enterprise", enterprise_id)
    if not policy.can_read_enterprise(caller, stored.entity).visible:
        raise _hidden("enterprise", enterprise_id)
    return Enterprise.of(stored)


async def site_by_id(info: Info, site_id: str) -> Site:
    caller = policy.require_signed_in(principal(info))
    stored = await loaders(info).site.load(site_id)
    if stored is None:
        raise NotFound("site", site_id)
    if not policy.can_read_site(caller, stored.entity).visible:
        raise _hidden("site", site_id)
    return Site.of(stored)


async def offer_by_id(info: Info, offer_id: str) -> Offer:
    caller = policy.require_signed_in(principal(info))
    stored = await loaders(info).offer.load(offer_id)
    if stored is None:
        raise NotFound("offer", offer_id)
    visibility = policy.can_read_offer(caller, stored)
    if not visibility.visible:
        raise _hidden("offer", offer_id)
    return Offer.of(stored, visibility)


async def demand_by_id(info: Info, demand_id: str) -> Demand:
    caller = policy.require_signed_in(principal(info))
    stored = await loaders(info).demand.load(demand_id)
    if stored is None:
        raise NotFound("demand", demand_id)
    visibility = policy.can_read_demand(caller, stored)
    if not visibility.visible:
        raise _hidden("demand", demand_id)
    return Demand.of(stored, visibility)


async def visible_enterprise(info: Info, enterprise_id: str) -> Enterprise | None:
    stored = await loaders(info).enterprise.load(enterprise_id)
    if stored is None or not policy.can_read_enterprise(principal(info), stored.entity).visible:
        return None
    return Enterprise.of(stored)


async def visible_site(info: Info, site_id: str) -> Site | None:
    stored = await loaders(info).site.load(site_id)
    if stored is None or not policy.can_read_site(principal(info), stored.entity).visible:
        return None
    return Site.of(stored)
