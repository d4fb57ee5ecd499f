"""Who may see and do what in the catalog: every such rule, and nowhere else.

Read (contract "Who sees what"):
- an enterprise or recycler sees its own enterprise, sites, licences, offers and demands in
  full; other enterprises' offers and demands only while they are on the market (OPEN or
  PARTIALLY_MATCHED), or when it holds an accepted match on them, and then only the public
  listing: no site (name, coordinates), no enterprise — the district stands for the place;
- a regulator sees everything located in its district (all districts with `*`);
- an admin sees everything (it registers the enterprises and licences);
- the district register (`districts`): anyone signed in;
- without a token, nothing but `wasteCodes` and the schema.
A record the caller may not see is NOT_AUTHORIZED when asked for by id, left out of lists,
and null as a nested field: never half shown.

Write: admin registers and amends enterprises, registers licences (and amends or revokes
licences); a site is
added by its enterprise or an admin; offers and demands are posted and withdrawn by their
own enterprise. Regulators write nothing. (The use cases then check the enterprise owns the
site or listing.)
"""

from __future__ import annotations

import enum
from typing import TypeVar

from wastex_catalog.domain import Demand, Enterprise, Offer, Site
from wastex_catalog.domain.listing import Listing
from wastex_catalog.filters import NOTHING, ListingFilter, Scope
from wastex_catalog.records import Stored
from wastex_shared.auth import ALL_DISTRICTS, Principal, Role
from wastex_shared.errors import NotAuthorized

L = TypeVar("L", bound=Listing)


class Visibility(enum.Enum):
    NONE = "none"
    #: The listing as the market sees it: no site, no enterprise.
    PUBLIC = "public"
    FULL = "full"

    @property
    def visible(self) -> bool:
        return self is not Visibility.NONE


def _sees_everything(principal: Principal) -> bool:
    return principal.role is Role.ADMIN or (
        principal.role is Role.REGULATOR and principal.district == ALL_DISTRICTS
    )


def _owns_or_oversees(principal: Principal, enterprise_id: str, district: str) -> bool:
    return (
        _sees_everything(principal)
        or principal.acts_for(enterprise_id)
        or principal.oversees(district)
    )


def require_signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotAuthorized("sign in: this needs an 'Authorization: Bearer <token>' header")
    return principal


# --- reading single records ------------------------------------------------------------


def can_read_enterprise(principal: Principal | None, enterprise: Enterprise) -> Visibility:
    if principal is not None and _owns_or_oversees(principal, enterprise.id, enterprise.district):
        return Visibility.FULL
    return Visibility.NONE


def can_read_site(principal: Principal | None, site: Site) -> Visibility:
    if principal is not None and _owns_or_oversees(principal, site.enterprise_id, site.district):
        return Visibility.FULL
    return Visibility.NONE


def can_read_licences(principal: Principal | None, enterprise: Enterprise) -> bool:
    return can_read_enterprise(principal, enterprise) is Visibility.FULL


def _can_read_listing(principal: Principal | None, stored: Stored[L]) -> Visibility:
    listing = stored.entity
    if principal is None:
        return Visibility.NONE
    if _owns_or_oversees(principal, listing.enterprise_id, listing.district):
        return Visibility.FULL
    if principal.is_tenant and (
        listing.is_active or principal.enterprise_id in stored.counterparties
    ):
        return Visibility.PUBLIC
    return Visibility.NONE


def can_read_offer(principal: Principal | None, stored: Stored[Offer]) -> Visibility:
    return _can_read_listing(principal, stored)


def can_read_demand(principal: Principal | None, stored: Stored[Demand]) -> Visibility:
    return _can_read_listing(principal, stored)


# --- reading lists (the same rules, as a scope the repository turns into SQL) ----------


def enterprise_scope(principal: Principal | None) -> Scope:
    signed_in = require_signed_in(principal)
    if _sees_everything(signed_in):
        return Scope(everything=True)
    if signed_in.role is Role.REGULATOR and signed_in.district:
        return Scope(districts=frozenset({signed_in.district}))
    if signed_in.is_tenant:
        return Scope(enterprise_id=signed_in.enterprise_id)
    return NOTHING


def listing_scope(principal: Principal | None, wanted: ListingFilter) -> Scope:
    """Offers or demands a caller may list; refuses a tenant filtering on another
    enterprise, which would tie anonymous listings to their owner."""
    signed_in = require_signed_in(principal)
    if _sees_everything(signed_in):
        return Scope(everything=True)
    if signed_in.role is Role.REGULATOR and signed_in.district:
        return Scope(districts=frozenset({signed_in.district}))
    if signed_in.is_tenant:
        if wanted.enterprise_id not in (None, signed_in.enterprise_id):
            raise NotAuthorized(
                "listings of other enterprises are anonymous: filter on your own enterpriseId",
                "filter.enterpriseId",
            )
        return Scope(enterprise_id=signed_in.enterprise_id, open_listings=True)
    return NOTHING


# --- writing ---------------------------------------------------------------------------


def may_register_enterprise(principal: Principal | None) -> None:
    if principal is None or principal.role is not Role.ADMIN:
        raise NotAuthorized("only an admin registers or amends enterprises")


def may_manage_licences(principal: Principal | None) -> None:
    if principal is None or principal.role is not Role.ADMIN:
        raise NotAuthorized("only an admin registers, amends or revokes licences")


def is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.role is Role.ADMIN


def may_add_site(principal: Principal | None, enterprise_id: str) -> None:
    if principal is None or not (principal.role is Role.ADMIN or principal.acts_for(enterprise_id)):
        raise NotAuthorized("only the enterprise itself or an admin adds its sites", "enterpriseId")


def may_amend_site(principal: Principal | None) -> None:
    if principal is None or not (principal.role is Role.ADMIN or principal.is_tenant):
        raise NotAuthorized("only the enterprise itself or an admin amends its sites", "id")


def site_owner(principal: Principal | None) -> str | None:
    """The enterprise whose sites the caller amends: its own (a tenant), any (None: an
    admin)."""
    return None if is_admin(principal) else acting_enterprise(principal)


def acting_enterprise(principal: Principal | None) -> str:
    """The enterprise on whose behalf offers and demands are posted or withdrawn."""
    if principal is None or not principal.is_tenant or principal.enterprise_id is None:
        raise NotAuthorized("only an enterprise posts and withdraws its offers and demands")
    return principal.enterprise_id
