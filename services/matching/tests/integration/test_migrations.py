"""Migrations that move data: a database written by the previous version comes out as this
version would have written it, and a downgrade leaves what the previous version knows (both
databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from alembic import command
from sqlalchemy import Connection, MetaData, Table, insert, inspect, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from wastex_matching.adapters import repository as repo
from wastex_matching.adapters.migrations import LOCATION
from wastex_matching.domain.lifecycle import MatchStatus
from wastex_shared.storage import make_engine
from wastex_shared.storage.migrate import alembic_config, upgrade


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


#: The revision before the last five (cancellation, listing terms versions, enterprise
#: versions, site versions, shipped tonnes).
BEFORE_CANCELLATION = "c8750f88a0fa"

OLD_ROWS: dict[str, list[dict[str, Any]]] = {
    "enterprises": [
        {
            "id": "steel",
            "name": "武钢",
            "credit_code": "91420100MA4K000001",
            "industry": "C3120",
            "district": "青山区",
            "kind": "FACTORY",
        }
    ],
    "sites": [
        {
            "id": "works",
            "enterprise_id": "steel",
            "name": "works",
            "district": "青山区",
            "latitude": Decimal("30.640000"),
            "longitude": Decimal("114.390000"),
            "industry": "C3120",
        }
    ],
    "licences": [
        {
            "id": "lic",
            "enterprise_id": "cement",
            "number": "鄂-1",
            "waste_codes": '["SW01"]',
            "annual_capacity_tonnes": Decimal("5000.000"),
            "valid_from": date(2026, 1, 1),
            "valid_until": date(2026, 12, 31),
            "licence_type": "GENERAL_UTILISATION",
            "version": 2,
        }
    ],
    "offers": [
        {
            "id": "offer",
            "enterprise_id": "steel",
            "site_id": "works",
            "district": "青山区",
            "latitude": Decimal("30.640000"),
            "longitude": Decimal("114.390000"),
            "waste_code": "SW01",
            "hazardous": False,
            "quantity_tonnes": Decimal("120.500"),
            "available_from": date(2026, 11, 1),
            "available_until": date(2026, 12, 31),
            "description": "slag",
            "market_version": 3,
        }
    ],
    "demands": [
        {
            "id": "demand",
            "enterprise_id": "cement",
            "site_id": "kiln",
            "district": "新洲区",
            "latitude": Decimal("30.840000"),
            "longitude": Decimal("114.800000"),
            "waste_codes": '["SW01"]',
            "quantity_tonnes": Decimal("500.000"),
            "max_distance_km": Decimal("80.000"),
            "available_from": date(2026, 11, 1),
            "available_until": date(2026, 12, 31),
            "market_version": 4,
        }
    ],
    "listing_status": [
        {
            "id": "offer",
            "kind": "offer",
            "status": "PARTIALLY_MATCHED",
            "remaining_tonnes": Decimal("20.500"),
            "version": 3,
            "market_version": 5,
        }
    ],
    "matches": [
        {
            "id": f"m-{status.lower()}",
            "offer_id": "offer",
            "demand_id": "demand",
            "licence_id": "lic",
            "supplier_enterprise_id": "steel",
            "supplier_site_id": "works",
            "supplier_district": "青山区",
            "recycler_enterprise_id": "cement",
            "recycler_site_id": "kiln",
            "recycler_district": "新洲区",
            "waste_code": "SW01",
            "tonnes": Decimal("100.000"),
            "distance_km": Decimal("31.400"),
            "co2e_kg": Decimal("244.920"),
            "avoided_co2e_kg": Decimal("1000.000"),
            "avoided_factor_key": "SW01",
            "freight_factor_key": "road",
            "freight_factor_kg_per_tkm": Decimal("0.078000"),
            "freight_factor_source": "MEE 2024",
            "window_from": date(2026, 11, 10),
            "window_until": date(2026, 12, 20),
            "licence_year": 2026,
            "status": status,
            "supplier_accepted_at": datetime(2026, 11, 2, 8, 0),
            "recycler_accepted_at": datetime(2026, 11, 2, 9, 0),
            "rejected_by": "RECYCLER" if status == "REJECTED" else None,
            "rejection_reason": "quality" if status == "REJECTED" else None,
            "explanation": "{}",
            "alternatives": "[]",
            "generation": 7,
            "proposed_at": datetime(2026, 11, 1, 8, 0),
            "updated_at": datetime(2026, 11, 2, 9, 0),
            "version": 3,
            "expiry_reason": None,
        }
        for status in ("CONFIRMED", "REJECTED")
    ],
}


def utc(value: object) -> object:
    """A time as UTC with its zone said (the services store UTC; SQLite keeps no zone)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def reflected(connection: Connection, name: str) -> Table:
    """The table as the database holds it now (typed: Decimal and dates bind on SQLite)."""
    return Table(name, MetaData(), autoload_with=connection)


async def test_a_database_of_the_revision_before_the_last_five_upgrades_with_its_rows(
    database_url: str,
) -> None:
    """Every row written before cancellation, listing terms, enterprise and site versions
    and shipped tonnes comes through to head as it was, the new columns at what the rows
    meant then; and the service reads the match (matching upgrades at start-up likewise:
    `running` runs `upgrade` first)."""
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version(BEFORE_CANCELLATION))
            for table, rows in OLD_ROWS.items():
                await conn.execute(insert(await conn.run_sync(reflected, table)), rows)
        await upgrade(engine, LOCATION)
        async with engine.connect() as conn:
            for table, rows in OLD_ROWS.items():
                now = await conn.run_sync(reflected, table)
                stored = await conn.execute(select(now).order_by(now.c.id))
                got = [dict(row) for row in stored.mappings()]
                # Every column the rows had, but the sites' industry (dropped: decision 025).
                changed = {
                    (row["id"], name, value, row[name])
                    for row, old in zip(got, rows, strict=True)
                    for name, value in old.items()
                    if name != "industry" and utc(row[name]) != utc(value)
                }
                assert not changed, table
            new = {
                "enterprises": "version",
                "sites": "version",
                "offers": "terms_version",
                "demands": "terms_version",
            }
            for table, column in new.items():
                assert (await conn.execute(text(f"SELECT {column} FROM {table}"))).scalar_one() == 1
            added = (
                await conn.execute(
                    text("SELECT cancelled_by, cancel_reason, shipped_tonnes FROM matches")
                )
            ).all()
        assert [tuple(row) for row in added] == [(None, None, None)] * 2
        async with AsyncSession(engine) as session:
            confirmed = await repo.get_match(session, "m-confirmed")
        assert confirmed is not None
        assert confirmed.status is MatchStatus.CONFIRMED
        assert confirmed.shipped_tonnes is None
        assert confirmed.held_tonnes == Decimal("100.000")
    finally:
        await engine.dispose()
