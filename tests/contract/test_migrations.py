"""Each service's migrations build exactly its table models, on both databases: a model
changed without a migration (or a migration without its model) fails here, not in a
deployed database that the services' own tests never see (they run on migrated schemas)."""

from __future__ import annotations

import asyncio
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


@pytest.mark.parametrize("service", SERVICES)
async def test_processes_starting_together_on_one_database_migrate_it_once(
    database_url: str, service: str
) -> None:
    """Two processes of a service (matching runs two on one database, deploy/README.md)
    started on a database behind its head: each runs `upgrade head` at start-up. Unserialised
    on PostgreSQL, the second waited on the first's DDL and then ran the same migration again
    (a table or column that already exists), and its process stopped. On SQLite the second
    failed only when the first's migrations outlasted the busy timeout ("database is
    locked", then "table already exists"): seen in the whole suite on a loaded machine, not
    on an idle one."""
    tables = importlib.import_module(f"wastex_{service}.adapters.tables")
    migrations = importlib.import_module(f"wastex_{service}.adapters.migrations")
    engines = [make_engine(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine, migrations.LOCATION) for engine in engines))
        assert await pending_changes(engines[0], tables.metadata) == []
    finally:
        for engine in engines:
            await engine.dispose()
