"""The catalog's queries. Single records by id answer NOT_FOUND or NOT_AUTHORIZED; lists are
Relay connections (`first` ≤ 100, newest first) holding only what the caller may see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Protocol, TypeVar

import strawberry

from wastex_catalog import domain
from wastex_catalog.entrypoints.graphql import policy
from wastex_catalog.entrypoints.graphql.context import loaders, principal, services
from wastex_catalog.entrypoints.graphql.districts import District
from wastex_catalog.entrypoints.graphql.inputs import (
    DemandFilter,
    EnterpriseFilter,
    LicenceRegisterFilter,
    OfferFilter,
    listing_filter,
)
from wastex_catalog.entrypoints.graphql.types import (
    Demand,
    Enterprise,
    Licence,
    Offer,
    Site,
    WasteCode,
    demand_by_id,
    enterprise_by_id,
    offer_by_id,
    site_by_id,
)
from wastex_catalog.filters import EnterpriseFilter as EnterpriseQuery
from wastex_catalog.filters import LicenceFilter as LicenceQuery
from wastex_catalog.filters import PageRequest, Position
from wastex_catalog.records import Stored
from wastex_shared.codes import search
from wastex_shared.graphql.connection import Connection, connection, decode_cursor, page_size
from wastex_shared.graphql.context import Info


async def require_known_district(info: Info, district: str | None) -> None:
    """A district filter the register lists or the catalog's records hold; else
    UNKNOWN_DISTRICT (a typo would read as a district with nothing in it)."""
    if district is not None:
        known = services(info)
        await known.districts.require_queried(
            district, known.queries.holds_district, "filter.district"
        )


class Identified(Protocol):
    @property
    def id(self) -> str: ...


S = TypeVar("S", bound=Identified)
N = TypeVar("N")


def page_request(first: int | None, after: str | None) -> PageRequest:
    raw = decode_cursor(after)
    return PageRequest(page_size(first), Position.decode(raw) if raw is not None else None)


def to_connection(
    items: list[Stored[S]], total: int, first: int, node: Callable[[Stored[S]], N | None]
) -> Connection[N]:
    nodes: list[N] = []
    cursors: list[str] = []
    for stored in items:
        shown = node(stored)
        if shown is not None:  # the scope already left out what the caller may not see
            nodes.append(shown)
            cursors.append(Position(stored.created_at, stored.entity.id).encode())
    return connection(nodes, cursors, first, total)


@strawberry.type
class Query:
    @strawberry.field(description="Waste codes whose code or name (Chinese or English) matches.")
    def waste_codes(
        self, search_text: Annotated[str | None, strawberry.argument(name="search")] = None
    ) -> list[WasteCode]:
        return [WasteCode.of(c) for c in search(search_text)]

    @strawberry.field(
        description="The city's district register (any signed-in caller), in its order: the "
        "names registerEnterprise and addSite accept, each an administrative district or a "
        "functional zone."
    )
    def districts(self, info: Info) -> list[District] | None:
        policy.require_signed_in(principal(info))
        return [District.of(d) for d in services(info).districts]

    @strawberry.field(description="An enterprise you may see.")
    async def enterprise(self, info: Info, id: strawberry.ID) -> Enterprise | None:
        return await enterprise_by_id(info, id)

    @strawberry.field(description="Enterprises you may see, newest first.")
    async def enterprises(
        self,
        info: Info,
        filter: EnterpriseFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Enterprise] | None:
        scope = policy.enterprise_scope(principal(info))
        request = page_request(first, after)
        wanted = filter.query() if filter else EnterpriseQuery()
        await require_known_district(info, wanted.district)
        page = await services(info).queries.enterprise_page(scope, wanted, request)
        return to_connection(page.items, page.total, request.first, Enterprise.of)

    @strawberry.field(description="A site you may see.")
    async def site(self, info: Info, id: strawberry.ID) -> Site | None:
        return await site_by_id(info, id)

    @strawberry.field(description="The licences of an enterprise you may see.")
    async def licences(self, info: Info, enterprise_id: strawberry.ID) -> list[Licence] | None:
        enterprise = await enterprise_by_id(info, enterprise_id)
        return [Licence.of(s) for s in await loaders(info).licences_of.load(enterprise.id)]

    @strawberry.field(
        description="The licence register, newest first: every licence an admin may see, a "
        "regulator's district's (by the holder's district), a tenant's own; filtered by "
        "holder, district, the day they hold on, the day they end by, revocation."
    )
    async def licence_register(
        self,
        info: Info,
        filter: LicenceRegisterFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Licence] | None:
        scope = policy.enterprise_scope(principal(info))  # licences go with their holder
        request = page_request(first, after)
        wanted = filter.query() if filter else LicenceQuery()
        await require_known_district(info, wanted.district)
        page = await services(info).queries.licence_page(scope, wanted, request)
        return to_connection(page.items, page.total, request.first, Licence.of)

    @strawberry.field(description="An offer you may see.")
    async def offer(self, info: Info, id: strawberry.ID) -> Offer | None:
        return await offer_by_id(info, id)

    @strawberry.field(
        description="Your offers, others' offers on the market (public view), or all in your "
        "district as regulator; newest first."
    )
    async def offers(
        self,
        info: Info,
        filter: OfferFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Offer] | None:
        caller = policy.require_signed_in(principal(info))  # before the filter is judged
        wanted = listing_filter(filter)
        await require_known_district(info, wanted.district)
        scope = policy.listing_scope(caller, wanted)
        request = page_request(first, after)
        page = await services(info).queries.offer_page(scope, wanted, request)

        def node(stored: Stored[domain.Offer]) -> Offer | None:
            visibility = policy.can_read_offer(caller, stored)
            return Offer.of(stored, visibility) if visibility.visible else None

        return to_connection(page.items, page.total, request.first, node)

    @strawberry.field(description="A demand you may see.")
    async def demand(self, info: Info, id: strawberry.ID) -> Demand | None:
        return await demand_by_id(info, id)

    @strawberry.field(
        description="Your demands, others' demands on the market (public view), or all in "
        "your district as regulator; newest first."
    )
    async def demands(
        self,
        info: Info,
        filter: DemandFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Demand] | None:
        caller = policy.require_signed_in(principal(info))  # before the filter is judged
        wanted = listing_filter(filter)
        await require_known_district(info, wanted.district)
        scope = policy.listing_scope(caller, wanted)
        request = page_request(first, after)
        page = await services(info).queries.demand_page(scope, wanted, request)

        def node(stored: Stored[domain.Demand]) -> Demand | None:
            visibility = policy.can_read_demand(caller, stored)
            return Demand.of(stored, visibility) if visibility.visible else None

        return to_connection(page.items, page.total, request.first, node)
