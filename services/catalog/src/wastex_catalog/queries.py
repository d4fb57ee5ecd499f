"""Read use cases: batched look-ups (behind the GraphQL DataLoaders) and scoped pages.

Each call is one short unit of work. Nothing here decides who may see what: callers pass
the `Scope` their policy built, and check single records with that same policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from wastex_catalog.adapters.listing_queries import ListingQueries, Page
from wastex_catalog.adapters.repository import CatalogRepository
from wastex_catalog.domain import Demand, Enterprise, Licence, Offer, Site
from wastex_catalog.filters import (
    EnterpriseFilter,
    LicenceFilter,
    ListingFilter,
    PageRequest,
    Scope,
)
from wastex_catalog.records import EnterpriseVersion, LicenceVersion, SiteVersion, Stored
from wastex_shared.storage import UnitOfWorkFactory


class CatalogQueries:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def holds_district(self, district: str) -> bool:
        """Some enterprise or site is registered in `district` (named before the register)."""
        async with self._uow.reading() as uow:
            return await CatalogRepository(uow.session).holds_district(district)

    async def enterprises(self, ids: Sequence[str]) -> list[Stored[Enterprise] | None]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).enterprises(ids)
        return [found.get(i) for i in ids]

    async def sites(self, ids: Sequence[str]) -> list[Stored[Site] | None]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).sites(ids)
        return [found.get(i) for i in ids]

    async def offers(self, ids: Sequence[str]) -> list[Stored[Offer] | None]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).offers(ids)
        return [found.get(i) for i in ids]

    async def demands(self, ids: Sequence[str]) -> list[Stored[Demand] | None]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).demands(ids)
        return [found.get(i) for i in ids]

    async def sites_of(self, enterprise_ids: Sequence[str]) -> list[list[Stored[Site]]]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).sites_of(enterprise_ids)
        return [found[i] for i in enterprise_ids]

    async def licences_of(self, enterprise_ids: Sequence[str]) -> list[list[Stored[Licence]]]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).licences_of(enterprise_ids)
        return [found[i] for i in enterprise_ids]

    async def enterprise_versions(
        self, enterprise_ids: Sequence[str]
    ) -> list[list[EnterpriseVersion]]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).enterprise_versions(enterprise_ids)
        return [found[i] for i in enterprise_ids]

    async def site_versions(self, site_ids: Sequence[str]) -> list[list[SiteVersion]]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).site_versions(site_ids)
        return [found[i] for i in site_ids]

    async def licence_versions(self, licence_ids: Sequence[str]) -> list[list[LicenceVersion]]:
        async with self._uow.reading() as uow:
            found = await CatalogRepository(uow.session).licence_versions(licence_ids)
        return [found[i] for i in licence_ids]

    async def enterprise_page(
        self, scope: Scope, wanted: EnterpriseFilter, page: PageRequest
    ) -> Page[Enterprise]:
        async with self._uow.reading() as uow:
            return await ListingQueries(uow.session).enterprises(scope, wanted, page)

    async def licence_page(
        self, scope: Scope, wanted: LicenceFilter, page: PageRequest
    ) -> Page[Licence]:
        async with self._uow.reading() as uow:
            return await ListingQueries(uow.session).licences(scope, wanted, page)

    async def offer_page(
        self, scope: Scope, wanted: ListingFilter, page: PageRequest
    ) -> Page[Offer]:
        async with self._uow.reading() as uow:
            return await ListingQueries(uow.session).offers(scope, wanted, page)

    async def demand_page(
        self, scope: Scope, wanted: ListingFilter, page: PageRequest
    ) -> Page[Demand]:
        async with self._uow.reading() as uow:
            return await ListingQueries(uow.session).demands(scope, wanted, page)
