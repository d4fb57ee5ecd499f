"""Fixtures for matching's integration tests: a migrated database on each engine, the
service on a fixed clock, the catalog consumer, and the subgraph over ASGI (no lifespan, so
no broker). Event builders and GraphQL documents: `wastex_matching.testing`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from wastex_matching.adapters.migrations import LOCATION
from wastex_matching.adapters.tables import messaging
from wastex_matching.entrypoints.kafka import matching_consumer
from wastex_matching.main import build_graphql_app
from wastex_matching.service import MatchingService
from wastex_matching.settings import MatchingSettings
from wastex_matching.testing import Api, Catalog, fixed_clock
from wastex_shared.messaging import EventConsumer
from wastex_shared.messaging.live import LiveHub
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import upgrade


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = make_engine(database_url)
    await upgrade(engine, LOCATION)
    yield UnitOfWorkFactory(engine, messaging)
    await engine.dispose()


@pytest.fixture
def settings() -> MatchingSettings:
    return MatchingSettings()


@pytest.fixture
def service(uow_factory: UnitOfWorkFactory, settings: MatchingSettings) -> MatchingService:
    return MatchingService(uow_factory, settings, clock=fixed_clock)


@pytest.fixture
def consumer(service: MatchingService, settings: MatchingSettings) -> EventConsumer:
    return matching_consumer(service, settings)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()


@pytest.fixture
def hub() -> LiveHub:
    return LiveHub()


@pytest.fixture
async def api(
    service: MatchingService, settings: MatchingSettings, hub: LiveHub
) -> AsyncIterator[Api]:
    app = build_graphql_app(settings, service, hub)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://matching") as http:
        yield Api(http, settings.jwt)
