"""The catalog's pure domain: enterprises, sites, licences, offers and demands.

No I/O and no frameworks: entities are frozen dataclasses, factories (`register`, `add`,
`post`) validate raw input and raise `wastex_shared.errors.DomainError` with the GraphQL
camelCase field at fault, transitions return new objects.
"""

from wastex_catalog.domain.common import Window, covered_by_union, new_id
from wastex_catalog.domain.credit_code import (
    is_valid_credit_code,
    make_credit_code,
    validate_credit_code,
)
from wastex_catalog.domain.demand import MAX_DISTANCE_KM, Demand, DemandStatus
from wastex_catalog.domain.enterprise import Enterprise, EnterpriseKind, Site
from wastex_catalog.domain.licence import (
    Licence,
    LicenceChange,
    LicenceType,
    check_demand_coverage,
    covering_licences,
)
from wastex_catalog.domain.listing import Allocation, ListingStatus
from wastex_catalog.domain.offer import DESCRIPTION_MAX_LENGTH, Offer, OfferStatus
from wastex_shared.codes.industry import SECTIONS, IndustrySection, validate_industry_code

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "MAX_DISTANCE_KM",
    "SECTIONS",
    "Allocation",
    "Demand",
    "DemandStatus",
    "Enterprise",
    "EnterpriseKind",
    "IndustrySection",
    "Licence",
    "LicenceChange",
    "LicenceType",
    "ListingStatus",
    "Offer",
    "OfferStatus",
    "Site",
    "Window",
    "check_demand_coverage",
    "covered_by_union",
    "covering_licences",
    "is_valid_credit_code",
    "make_credit_code",
    "new_id",
    "validate_credit_code",
    "validate_industry_code",
]
