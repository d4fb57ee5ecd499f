"""Each service's migrations build exactly its table models, on both databases: a model
changed without a migration (or a migration without its model) fails here, not in a
deployed database that the services' own tests never see (they run on migrated schemas)."""

from __future__ import annotations

import importlib

import pytest

from wastex_shared.storage import make_engine
from wastex_shared.storage.migrate import pending_changes, upgrade

SERVICES = ("catalog", "matching", "ledger")


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_build_the_table_models(database_url: str, service: str) -> None:
    tables = importlib.import_module(f"wastex_{service}.adapters.tables")
    migrations = importlib.import_module(f"wastex_{service}.adapters.migrations")
    engine = make_engine(database_url)
    try:
        await upgrade(engine, migrations.LOCATION)
        assert await pending_changes(engine, tables.metadata) == []
    finally:
        await engine.dispose()
