"""GraphQL inputs and list filters, and their translation into use-case commands.

Field names are the contract's (and equal the Kafka ingest `data` of the same action).
Values are only typed here; the domain validates them and answers with userErrors.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from wastex_catalog import service
from wastex_catalog.domain import ListingStatus as DomainStatus
from wastex_catalog.entrypoints.graphql.types import EnterpriseKind, LicenceType, ListingStatus
from wastex_catalog.filters import EnterpriseFilter as EnterpriseQuery
from wastex_catalog.filters import LicenceFilter as LicenceQuery
from wastex_catalog.filters import ListingFilter
from wastex_shared.codes import known
from wastex_shared.codes.industry import validate_industry_code

#: What a district filter takes (a typo is refused rather than answered with nothing).
DISTRICT_FILTER = (
    "A name of the register (the districts query) or one records were stored under before "
    "it, trimmed; any other is refused with UNKNOWN_DISTRICT and the name meant."
)
#: What a waste code filter takes (a typo is refused rather than answered with nothing).
CODE_FILTER = (
    "A code of the catalogue (an abolished one too), case and spaces ignored; any other is "
    "refused with UNKNOWN_WASTE_CODE."
)


@strawberry.input
class RegisterEnterpriseInput:
    name: str
    credit_code: str = strawberry.field(description="Unified social credit code (18 characters).")
    industry: str = strawberry.field(description="GB/T 4754-2017 industry code, e.g. C3110.")
    district: str = strawberry.field(
        description="A name of the city's register (the districts query), trimmed; any other "
        "is UNKNOWN_DISTRICT."
    )
    kind: EnterpriseKind

    def command(self, by: str | None) -> service.RegisterEnterprise:
        return service.RegisterEnterprise(
            name=self.name,
            credit_code=self.credit_code,
            industry=self.industry,
            district=self.district,
            kind=self.kind.value,
            by=by,
        )


@strawberry.input(
    description="What to correct (at least one field), and why. The credit code and the kind "
    "are not amended."
)
class AmendEnterpriseInput:
    reason: str
    name: str | None = None
    industry: str | None = strawberry.field(
        default=None,
        description="GB/T 4754-2017 industry code: the ledger books entries from now on under "
        "it; entries booked before keep theirs.",
    )
    district: str | None = strawberry.field(
        default=None,
        description="The district it is registered in, a name of the city's register: its "
        "regulators from now on (their view of its records follows at once). Its sites stay "
        "where they are.",
    )

    def command(self, enterprise_id: str, by: str | None) -> service.AmendEnterprise:
        return service.AmendEnterprise(
            enterprise_id=enterprise_id,
            reason=self.reason,
            name=self.name,
            industry=self.industry,
            district=self.district,
            by=by,
        )


@strawberry.input
class AddSiteInput:
    enterprise_id: strawberry.ID
    name: str
    district: str = strawberry.field(
        description="A name of the city's register (the districts query), trimmed; any other "
        "is UNKNOWN_DISTRICT."
    )
    latitude: Decimal
    longitude: Decimal

    def command(self, by_admin: bool, by: str | None) -> service.AddSite:
        return service.AddSite(
            enterprise_id=self.enterprise_id,
            name=self.name,
            district=self.district,
            latitude=self.latitude,
            longitude=self.longitude,
            by_admin=by_admin,
            by=by,
        )


@strawberry.input(
    description="What to correct (at least one field), and why. A new place needs both "
    "coordinates. Its enterprise is not amended."
)
class AmendSiteInput:
    reason: str
    name: str | None = None
    district: str | None = strawberry.field(
        default=None,
        description="A name of the city's register: the district whose regulators oversee "
        "the site from now on (its enterprise's own, unless an admin amends it). Ledger "
        "entries booked before keep the district they were booked under.",
    )
    latitude: Decimal | None = None
    longitude: Decimal | None = None

    def command(self, site_id: str, owner: str | None, by: str | None) -> service.AmendSite:
        return service.AmendSite(
            site_id=site_id,
            reason=self.reason,
            name=self.name,
            district=self.district,
            latitude=self.latitude,
            longitude=self.longitude,
            owner=owner,
            by=by,
        )


@strawberry.input
class RegisterLicenceInput:
    enterprise_id: strawberry.ID
    number: str
    waste_codes: list[str]
    annual_capacity_tonnes: Decimal
    valid_from: date
    valid_until: date
    type: LicenceType = LicenceType.GENERAL_UTILISATION

    def command(self, by: str | None) -> service.RegisterLicence:
        return service.RegisterLicence(
            enterprise_id=self.enterprise_id,
            number=self.number,
            waste_codes=self.waste_codes,
            annual_capacity_tonnes=self.annual_capacity_tonnes,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            type=self.type.name,  # names equal values; mypy sees enum_value() wrappers
            by=by,
        )


@strawberry.input(
    description="What to correct in a licence (the fields given replace the registered ones) "
    "and why."
)
class AmendLicenceInput:
    reason: str
    waste_codes: list[str] | None = None
    annual_capacity_tonnes: Decimal | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    def command(self, licence_id: str, by: str | None) -> service.AmendLicence:
        return service.AmendLicence(
            licence_id=licence_id,
            reason=self.reason,
            waste_codes=self.waste_codes,
            annual_capacity_tonnes=self.annual_capacity_tonnes,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            by=by,
        )


@strawberry.input
class PostOfferInput:
    site_id: strawberry.ID
    waste_code: str
    quantity_tonnes: Decimal = strawberry.field(description='Tonnes, e.g. "120.500" (> 0).')
    available_from: date
    available_until: date
    description: str | None = ""
    moisture_percent: Decimal | None = None
    particle_size_mm: Decimal | None = None

    def command(self) -> service.PostOffer:
        return service.PostOffer(
            site_id=self.site_id,
            waste_code=self.waste_code,
            quantity_tonnes=self.quantity_tonnes,
            available_from=self.available_from,
            available_until=self.available_until,
            description=self.description,
            moisture_percent=self.moisture_percent,
            particle_size_mm=self.particle_size_mm,
        )


@strawberry.input(
    description="What to change in one of your offers (the fields given replace the posted "
    "ones, a field left out stays as it is: a moisture or particle size once given is "
    "corrected, not removed); its site and waste code stay."
)
class AmendOfferInput:
    quantity_tonnes: Decimal | None = strawberry.field(
        default=None, description="Not below the tonnes accepted matches hold."
    )
    available_from: date | None = None
    available_until: date | None = None
    description: str | None = None
    moisture_percent: Decimal | None = None
    particle_size_mm: Decimal | None = None

    def command(self, offer_id: str) -> service.AmendOffer:
        return service.AmendOffer(
            offer_id=offer_id,
            quantity_tonnes=self.quantity_tonnes,
            available_from=self.available_from,
            available_until=self.available_until,
            description=self.description,
            moisture_percent=self.moisture_percent,
            particle_size_mm=self.particle_size_mm,
        )


@strawberry.input
class PostDemandInput:
    site_id: strawberry.ID
    waste_codes: list[str]
    quantity_tonnes: Decimal
    max_distance_km: Decimal
    available_from: date
    available_until: date

    def command(self) -> service.PostDemand:
        return service.PostDemand(
            site_id=self.site_id,
            waste_codes=self.waste_codes,
            quantity_tonnes=self.quantity_tonnes,
            max_distance_km=self.max_distance_km,
            available_from=self.available_from,
            available_until=self.available_until,
        )


@strawberry.input(
    description="What to change in one of your demands (the fields given replace the posted "
    "ones; your licences must cover each of its codes on a new window's first day from today, "
    "as a posting's, and it may run past them: licensedUntil); its site and codes stay."
)
class AmendDemandInput:
    quantity_tonnes: Decimal | None = strawberry.field(
        default=None, description="Not below the tonnes accepted matches hold."
    )
    max_distance_km: Decimal | None = None
    available_from: date | None = None
    available_until: date | None = None

    def command(self, demand_id: str) -> service.AmendDemand:
        return service.AmendDemand(
            demand_id=demand_id,
            quantity_tonnes=self.quantity_tonnes,
            max_distance_km=self.max_distance_km,
            available_from=self.available_from,
            available_until=self.available_until,
        )


@strawberry.input(description="All given fields must match.")
class OfferFilter:
    enterprise_id: strawberry.ID | None = None
    waste_code: str | None = strawberry.field(default=None, description=CODE_FILTER)
    status: ListingStatus | None = None
    district: str | None = strawberry.field(default=None, description=DISTRICT_FILTER)
    available_on: date | None = strawberry.field(
        default=None, description="Offers whose availability window contains this day."
    )


@strawberry.input(description="All given fields must match.")
class DemandFilter:
    enterprise_id: strawberry.ID | None = None
    waste_code: str | None = strawberry.field(
        default=None, description=f"Demands that accept this code. {CODE_FILTER}"
    )
    status: ListingStatus | None = None
    district: str | None = strawberry.field(default=None, description=DISTRICT_FILTER)
    available_on: date | None = strawberry.field(
        default=None, description="Demands whose window contains this day."
    )


@strawberry.input(description="All given fields must match.")
class EnterpriseFilter:
    district: str | None = strawberry.field(default=None, description=DISTRICT_FILTER)
    kind: EnterpriseKind | None = None
    industry: str | None = strawberry.field(
        default=None,
        description="A GB/T 4754-2017 section, division, group or class: enterprises whose "
        "code starts with it (C: manufacturing, C31: iron and steel, C3110: ironmaking); "
        "another form is INVALID_INDUSTRY_CODE.",
    )
    name_contains: str | None = strawberry.field(
        default=None, description="Part of the name, case ignored."
    )

    def query(self) -> EnterpriseQuery:
        industry = _trimmed(self.industry) or None  # blank: not filtered
        return EnterpriseQuery(
            district=_trimmed(self.district),
            kind=self.kind.value if self.kind else None,
            industry=industry and validate_industry_code(industry, "filter.industry"),
            name_contains=_trimmed(self.name_contains) or None,
        )


@strawberry.input(description="The licence register's filters; all given must hold.")
class LicenceRegisterFilter:
    enterprise_id: strawberry.ID | None = None
    district: str | None = strawberry.field(
        default=None, description=f"The holder's district. {DISTRICT_FILTER}"
    )
    waste_code: str | None = strawberry.field(
        default=None, description=f"Lists this code. {CODE_FILTER}"
    )
    valid_on: date | None = strawberry.field(
        default=None, description="Holds on this day (valid, not yet revoked)."
    )
    expiring_by: date | None = strawberry.field(
        default=None,
        description="Its last valid day (lastValidDay) is on or before this day; with validOn: "
        "today, the licences running out by then.",
    )
    revoked: bool | None = None

    def query(self) -> LicenceQuery:
        return LicenceQuery(
            enterprise_id=None if self.enterprise_id is None else str(self.enterprise_id),
            district=_trimmed(self.district),
            waste_code=_known_code(self.waste_code),
            valid_on=self.valid_on,
            expiring_by=self.expiring_by,
            revoked=self.revoked,
        )


def listing_filter(wanted: OfferFilter | DemandFilter | None) -> ListingFilter:
    if wanted is None:
        return ListingFilter()
    return ListingFilter(
        enterprise_id=wanted.enterprise_id,
        waste_code=_known_code(wanted.waste_code),
        status=DomainStatus(wanted.status.value) if wanted.status else None,
        district=_trimmed(wanted.district),
        available_on=wanted.available_on,
    )


def _known_code(code: str | None) -> str | None:
    """A filter's waste code as the catalogue writes it (" sw01 " is SW01; an abolished one
    too: listings and licences registered before hold it), else UNKNOWN_WASTE_CODE, as the
    ledger's filters answer it: a typo would read as a market with nothing of it."""
    return None if code is None else known(code, "filter.wasteCode").code


def _trimmed(text: str | None) -> str | None:
    """A filter's text without surrounding spaces (a district as the register writes it)."""
    return None if text is None else text.strip()
