"""Bootstrap of the catalog service: wires settings, storage, use cases, the GraphQL
subgraph, the Kafka consumers and the expiry sweep into one runtime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from starlette.applications import Starlette

from wastex_catalog.adapters.migrations import LOCATION
from wastex_catalog.adapters.tables import messaging
from wastex_catalog.entrypoints.graphql import schema
from wastex_catalog.entrypoints.graphql.context import CatalogServices, make_loaders
from wastex_catalog.entrypoints.kafka import build_router
from wastex_catalog.expiry import expiry_sweeper
from wastex_catalog.queries import CatalogQueries
from wastex_catalog.service import CatalogService
from wastex_catalog.settings import CatalogSettings
from wastex_shared.calendar import china_today
from wastex_shared.codes.district_file import load_districts
from wastex_shared.graphql.app import SubgraphApp
from wastex_shared.runtime import Runtime, build_runtime, create_app
from wastex_shared.storage import UnitOfWorkFactory


def build_services(
    settings: CatalogSettings, uow: UnitOfWorkFactory, clock: Callable[[], date] | None = None
) -> CatalogServices:
    # Read once, at start-up: a file that is no register stops the service here.
    districts = load_districts(settings.districts_file)
    commands = CatalogService(
        clock or china_today,
        districts=districts,
        require_china=settings.require_china,
        renewal_grace_days=settings.renewal_grace_days,
    )
    return CatalogServices(
        uow=uow, commands=commands, queries=CatalogQueries(uow), districts=districts
    )


def build_graphql_app(
    settings: CatalogSettings,
    uow: UnitOfWorkFactory,
    *,
    clock: Callable[[], date] | None = None,
) -> SubgraphApp:
    """The subgraph alone (no broker, no lifespan): what `build_app` serves on /graphql."""
    services = build_services(settings, uow, clock)
    return SubgraphApp(
        schema, settings.jwt, services=services, loaders=lambda: make_loaders(services.queries)
    )


def build_runtime_for(settings: CatalogSettings) -> Runtime:
    runtime = build_runtime(settings, messaging, LOCATION)
    services = build_services(settings, runtime.uow)
    runtime.graphql_app = SubgraphApp(
        schema, settings.jwt, services=services, loaders=lambda: make_loaders(services.queries)
    )
    router, consumers = build_router(settings, runtime.uow, services.commands)
    runtime.include(router, consumers)
    runtime.background.append(
        expiry_sweeper(runtime.uow, services.commands.today, settings.expiry_sweep_seconds)
    )
    return runtime


def build_app(settings: CatalogSettings | None = None) -> Starlette:
    return create_app(build_runtime_for(settings or CatalogSettings()))
