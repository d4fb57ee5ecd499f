"""Migrations that move data: a database written by the previous version comes out as this
version would have written it, and a downgrade leaves what the previous version knows (both
databases)."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from sqlalchemy import Connection, inspect, text

from wastex_matching.adapters.migrations import LOCATION
from wastex_shared.storage import make_engine
from wastex_shared.storage.migrate import alembic_config


def to_version(revision: str, *, down: bool = False) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        move = command.downgrade if down else command.upgrade
        move(alembic_config(LOCATION, connection), revision)

    return run


async def test_existing_sites_are_version_1_and_a_downgrade_keeps_them(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version("5a7c2e9d4b13"))
            await conn.execute(
                text(
                    "INSERT INTO sites (id, enterprise_id, name, district, latitude, longitude)"
                    " VALUES ('kiln', 'cement', 'kiln', '新洲区', 30.84, 114.8)"
                )
            )
            await conn.run_sync(to_version("head"))
            upgraded = (await conn.execute(text("SELECT version FROM sites"))).scalar_one()
            await conn.run_sync(to_version("5a7c2e9d4b13", down=True))
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("sites")}
            )
            left = (await conn.execute(text("SELECT id, district FROM sites"))).all()
        assert upgraded == 1
        assert "version" not in columns
        assert [tuple(row) for row in left] == [("kiln", "新洲区")]
    finally:
        await engine.dispose()
