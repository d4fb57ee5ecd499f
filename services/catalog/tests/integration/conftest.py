"""Fixtures for the catalog's integration tests: a migrated database on each engine and a
GraphQL client that talks to the subgraph in-process (ASGI, without the app's lifespan, so
no broker is needed). Helpers and the contract's GraphQL documents: `wastex_catalog.testing`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from wastex_catalog.adapters.migrations import LOCATION
from wastex_catalog.adapters.tables import messaging
from wastex_catalog.main import build_graphql_app
from wastex_catalog.settings import CatalogSettings
from wastex_catalog.testing import Api
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import upgrade


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = make_engine(database_url)
    await upgrade(engine, LOCATION)
    yield UnitOfWorkFactory(engine, messaging)
    await engine.dispose()


@pytest.fixture
async def api(uow_factory: UnitOfWorkFactory) -> AsyncIterator[Api]:
    app = build_graphql_app(CatalogSettings(), uow_factory)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as http:
        yield Api(http)
