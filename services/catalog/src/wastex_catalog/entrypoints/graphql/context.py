"""What resolvers reach through the request context: the catalog's services, the caller,
per-request DataLoaders, and running a use case in its own unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy.exc import IntegrityError
from strawberry.dataloader import DataLoader

from wastex_catalog.domain import Demand, Enterprise, Licence, Offer, Site
from wastex_catalog.domain import errors as codes
from wastex_catalog.queries import CatalogQueries
from wastex_catalog.records import EnterpriseVersion, LicenceVersion, SiteVersion, Stored
from wastex_catalog.service import CatalogService
from wastex_shared.auth import Principal
from wastex_shared.codes import DistrictRegister
from wastex_shared.errors import DomainError
from wastex_shared.graphql.context import Info
from wastex_shared.storage import UnitOfWork, UnitOfWorkFactory
from wastex_shared.storage.failures import retry_conflicts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CatalogServices:
    uow: UnitOfWorkFactory
    commands: CatalogService
    queries: CatalogQueries
    #: The city's district register (the `districts` query lists it).
    districts: DistrictRegister


@dataclass(frozen=True, slots=True)
class Loaders:
    """One set per request, so nested look-ups (offer.site, enterprise.sites) batch."""

    enterprise: DataLoader[str, Stored[Enterprise] | None]
    site: DataLoader[str, Stored[Site] | None]
    offer: DataLoader[str, Stored[Offer] | None]
    demand: DataLoader[str, Stored[Demand] | None]
    sites_of: DataLoader[str, list[Stored[Site]]]
    licences_of: DataLoader[str, list[Stored[Licence]]]
    licence_versions: DataLoader[str, list[LicenceVersion]]
    enterprise_versions: DataLoader[str, list[EnterpriseVersion]]
    site_versions: DataLoader[str, list[SiteVersion]]


def make_loaders(queries: CatalogQueries) -> dict[str, Any]:
    """The `loaders` factory handed to `SubgraphApp` (called once per request)."""
    return {
        "catalog": Loaders(
            enterprise=DataLoader(load_fn=queries.enterprises),
            site=DataLoader(load_fn=queries.sites),
            offer=DataLoader(load_fn=queries.offers),
            demand=DataLoader(load_fn=queries.demands),
            sites_of=DataLoader(load_fn=queries.sites_of),
            licences_of=DataLoader(load_fn=queries.licences_of),
            licence_versions=DataLoader(load_fn=queries.licence_versions),
            enterprise_versions=DataLoader(load_fn=queries.enterprise_versions),
            site_versions=DataLoader(load_fn=queries.site_versions),
        )
    }


def services(info: Info) -> CatalogServices:
    return cast(CatalogServices, info.context.services)


def loaders(info: Info) -> Loaders:
    return cast(Loaders, info.context.loaders["catalog"])


def principal(info: Info) -> Principal | None:
    return info.context.principal


async def transact(info: Info, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run a use case in a unit of work of its own and commit it (again, should the database
    abort it for a concurrent one)."""

    async def once() -> T:
        try:
            async with services(info).uow() as uow:
                result = await work(uow)
                await uow.commit()
            return result
        except IntegrityError as exc:
            # The use case checked for duplicates; a concurrent writer got there in between.
            raise DomainError(
                codes.CONFLICT, "a concurrent change got there first; try again"
            ) from exc

    return await retry_conflicts(once)
