"""Alembic, driven from code: each service keeps its migrations in its package and runs
`upgrade head` at start-up on its own database (PostgreSQL or SQLite)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from wastex_shared.storage.lease import in_memory, lease_key, try_lock_file


def alembic_config(script_location: Path, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    return config


#: The advisory lock (PostgreSQL) that processes of one service starting together on one
#: database take in turns to migrate it.
MIGRATION_LOCK_KEY = lease_key("wastex-migrations")


async def upgrade(engine: AsyncEngine, script_location: Path) -> None:
    """Bring the database to head, in one transaction. Processes starting together take
    turns: the second finds head and does nothing, where it would otherwise run the same
    migrations again once the first's DDL let it go (a table that already exists) and stop.
    PostgreSQL: an advisory lock the transaction holds. SQLite (whose DDL the driver does
    not hold in the transaction): a lock on a file beside the database."""

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(script_location, connection), "head")

    async with _file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        await conn.run_sync(run)


@asynccontextmanager
async def _file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """An exclusive `flock` on `<database>.migrate.lock` while the block runs (SQLite files
    only), waited for without holding the event loop."""
    if engine.dialect.name != "sqlite" or in_memory(engine):
        yield
        return
    path = Path(f"{engine.url.database}.migrate.lock")
    while (descriptor := try_lock_file(path)) is None:
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        os.close(descriptor)  # frees the lock


def run_migrations(metadata: MetaData) -> None:
    """The body of every service's `env.py`: online migrations on the connection handed in."""
    connection: Any = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run from code: wastex_shared.storage.migrate.upgrade")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def autogenerate(metadata: MetaData, script_location: Path, message: str) -> None:
    """Write a new revision with what `metadata` has beyond the current head (dev tool)."""
    import tempfile

    from wastex_shared.storage.engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/head.db")
        await upgrade(engine, script_location)

        def revise(connection: Connection) -> None:
            config = alembic_config(script_location, connection)
            command.revision(config, message=message, autogenerate=True)

        async with engine.begin() as conn:
            await conn.run_sync(revise)
        await engine.dispose()


async def pending_changes(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    """Differences between the migrated database and the models (empty when in step),
    column types included, as `autogenerate` (env.py's `compare_type`) compares them."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)
