"""Migrations that move data: a database written by the previous version comes out as this
version would have written it, and a downgrade leaves what the previous version knows (both
databases)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from wastex_ledger.adapters.migrations import LOCATION
from wastex_ledger.adapters.repository import Repository, figures_to_row, licence_from_row
from wastex_ledger.adapters.tables import licences, messaging
from wastex_ledger.adapters.waiting import WaitingReport, WaitingReports
from wastex_ledger.domain import manifest
from wastex_ledger.domain.entries import Entry, EntryKind, SiteFacts, report
from wastex_ledger.domain.figures import COLUMNS, Figures
from wastex_ledger.domain.licences import Drop
from wastex_ledger.domain.manifest import GapCause, Manifest, ManifestStatus, Route
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.scope import CLASSED_KINDS, SEPARATOR
from wastex_ledger.service import projection_deltas
from wastex_shared.messaging.consumer import Delivery, KeptRecord
from wastex_shared.storage import UnitOfWorkFactory, make_engine
from wastex_shared.storage.migrate import alembic_config, upgrade

BEFORE_CLASSES = "e26e26832241"
BEFORE_RESOLUTIONS = "829130b02bd6"
BEFORE_RECEIVER_KINDS = "c419b65d0aba"
BEFORE_WAITING = "d268a1967a9c"
BEFORE_SHIP_FROM = "5d1e0c7b9a24"
#: The projection's columns before d268a1967a9c (a receiver's storage and disposal).
RECEIVER_COLUMNS = ("received_stored", "received_disposed")
OLD_COLUMNS = tuple(name for name in COLUMNS if name not in RECEIVER_COLUMNS)
#: The projection as the versions before d268a1967a9c have it.
OLD_PROJECTION = sa.table(
    "projection",
    *(sa.column(name) for name in ("scope_kind", "scope_value", "period", *OLD_COLUMNS)),
)
D2 = Decimal("0.02")
NOW = datetime(2026, 11, 27, tzinfo=UTC)
STEEL = SiteFacts("site-steel", "ent-steel", "青山区", "C3120")
POWER = SiteFacts("site-power", "ent-power", "新洲区", "D4411")


def journal() -> list[Entry]:
    def entry(n: int, site: SiteFacts, kind: EntryKind, code: str, tonnes: str) -> Entry:
        return report(
            entry_id=f"e{n}",
            kind=kind,
            actor_enterprise_id=site.enterprise_id,
            site=site,
            waste_code=code,
            tonnes=tonnes,
            period=f"2026-0{1 + n % 3}",
            from_prior_stock=False,
            cause_event_id=f"c{n}",
            now=NOW,
        )

    return [
        entry(0, STEEL, EntryKind.GENERATED, "SW01", "100"),
        entry(1, STEEL, EntryKind.UTILISED_IN_PLANT, "SW01", "60"),
        entry(2, STEEL, EntryKind.GENERATED, "HW08", "10"),
        entry(3, STEEL, EntryKind.DISPOSED, "HW08", "4"),
        entry(4, POWER, EntryKind.GENERATED, "SW03", "500"),
        entry(5, POWER, EntryKind.STORED, "SW03", "450"),
        entry(6, POWER, EntryKind.GENERATED, "HW49", "2.5"),
    ]


def to_version(revision: str, *, down: bool = False) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        move = command.downgrade if down else command.upgrade
        move(alembic_config(LOCATION, connection), revision)

    return run


def old_rows(rows: dict[tuple[str, str, str], Figures]) -> list[dict[str, object]]:
    """`rows` as the versions before d268a1967a9c store them."""
    return [
        {
            "scope_kind": k,
            "scope_value": v,
            "period": p,
            **{n: value for n, value in figures_to_row(f).items() if n in OLD_COLUMNS},
        }
        for (k, v, p), f in rows.items()
    ]


async def read_old_rows(
    conn: AsyncConnection,
) -> dict[tuple[str, str, str], dict[str, int]]:
    found = await conn.execute(sa.select(OLD_PROJECTION))
    return {
        (r["scope_kind"], r["scope_value"], r["period"]): {n: int(r[n]) for n in OLD_COLUMNS}
        for r in found.mappings()
    }


def as_before(deltas: dict[tuple[str, str, str], Figures]) -> dict[tuple[str, str, str], Figures]:
    """The rows the previous version kept: one per code-less scope, whatever the class."""
    rows: dict[tuple[str, str, str], Figures] = {}
    classed = {str(kind) for kind in CLASSED_KINDS}
    for (kind, value, period), figures in deltas.items():
        if kind in classed:
            value = value.rsplit(SEPARATOR, 1)[0]
        key = (kind, value, period)
        rows[key] = rows.get(key, Figures()) + figures
    return rows


async def test_the_projection_is_rebuilt_per_waste_class(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version(BEFORE_CLASSES))
        booked = journal()
        expected = projection_deltas(booked)
        factory = UnitOfWorkFactory(engine, messaging)
        async with factory() as uow:
            await Repository(uow.session).insert_entries(booked, NOW)
            old = as_before(expected)
            await uow.session.execute(sa.insert(OLD_PROJECTION), old_rows(old))
            await uow.commit()

        await upgrade(engine, LOCATION)

        async with factory() as uow:
            rows = await Repository(uow.session).projection_rows()
        assert rows == {key: figures_to_row(f) for key, f in expected.items()}

        # And back: the classes' rows fold into the previous version's, exactly.
        async with engine.begin() as conn:
            await conn.run_sync(to_version(BEFORE_CLASSES, down=True))
            rows = await read_old_rows(conn)
        assert rows == {
            (r["scope_kind"], r["scope_value"], r["period"]): {n: r[n] for n in OLD_COLUMNS}
            for r in old_rows(old)
        }
    finally:
        await engine.dispose()


def resolved_manifest() -> Manifest:
    """50 t dispatched, 40 t received, the gap put down to moisture by both parties."""
    m = manifest.create(
        manifest_id="m-1",
        match_id="match-1",
        route=Route(
            supplier_enterprise_id=STEEL.enterprise_id,
            supplier_site_id=STEEL.site_id,
            recycler_enterprise_id=POWER.enterprise_id,
            recycler_site_id=POWER.site_id,
            waste_code="SW01",
            planned_tonnes=Decimal(50),
            distance_km=Decimal(12),
            planned_co2e_kg=Decimal("46.8"),
            freight_factor_key="freight_road_diesel_truck_30t_cn",
            freight_factor_kg_per_tkm=Decimal("0.078"),
            avoided_factor_key=None,
            avoided_factor_kg_per_tonne=None,
        ),
        at=NOW,
    )
    m = m.dispatch(
        actor_enterprise_id=STEEL.enterprise_id,
        tonnes="50",
        from_prior_stock=False,
        period=Period.of(NOW),
        at=NOW,
    )
    m = m.receive(actor_enterprise_id=POWER.enterprise_id, tonnes="40", tolerance=D2, at=NOW)
    for actor in (STEEL, POWER):
        m = m.resolve(
            actor_enterprise_id=actor.enterprise_id,
            cause=GapCause.MOISTURE_CHANGE,
            note="dried",
            at=NOW,
        )
    assert m.status is ManifestStatus.RESOLVED
    return m


async def test_a_downgrade_reopens_resolved_discrepancies(database_url: str) -> None:
    engine = make_engine(database_url)
    factory = UnitOfWorkFactory(engine, messaging)
    try:
        await upgrade(engine, LOCATION)
        async with factory() as uow:
            await Repository(uow.session).insert_manifest(resolved_manifest(), None, None)
            await uow.commit()

        def to_previous_version(connection: Connection) -> None:
            command.downgrade(alembic_config(LOCATION, connection), BEFORE_RESOLUTIONS)

        async with engine.begin() as conn:
            await conn.run_sync(to_previous_version)
            status = (await conn.execute(text("SELECT status FROM manifests"))).scalar_one()
        assert status == "DISCREPANCY"

        await upgrade(engine, LOCATION)
        async with factory() as uow:
            again = await Repository(uow.session).manifest("m-1")
        assert again is not None
        assert (again.status, again.resolution) == (ManifestStatus.DISCREPANCY, None)
    finally:
        await engine.dispose()


async def test_manifests_opened_before_keep_no_window_s_first_day(database_url: str) -> None:
    """a4f2c8e61b37 (decision 037): the column starts empty, so a manifest opened before has
    no first day (it may leave any day, as before); a downgrade drops the day and keeps the
    manifest."""
    engine = make_engine(database_url)
    factory = UnitOfWorkFactory(engine, messaging)

    async def ship_from() -> date | None:
        async with factory() as uow:
            found = await Repository(uow.session).manifest("m-1")
        assert found is not None
        return found.ship_from

    try:
        await upgrade(engine, LOCATION)
        async with factory() as uow:
            opened = replace(resolved_manifest(), ship_from=date(2099, 1, 1))
            await Repository(uow.session).insert_manifest(opened, None, None)
            await uow.commit()
        assert await ship_from() == date(2099, 1, 1)
        async with engine.begin() as conn:
            await conn.run_sync(to_version(BEFORE_SHIP_FROM, down=True))
        await upgrade(engine, LOCATION)
        assert await ship_from() is None
    finally:
        await engine.dispose()


async def test_revocations_stored_before_count_as_read_on_their_first_day(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version("e13cb6ab9569"))
            for licence_id, revoked_on in (("lic-revoked", date(2026, 6, 20)), ("lic-held", None)):
                await conn.execute(
                    text(
                        "INSERT INTO licences (licence_id, enterprise_id, number, waste_codes,"
                        " licence_type, valid_from, valid_until, revoked_on, version) VALUES"
                        " (:id, 'ent-cement', 'N', '[\"SW01\"]', 'GENERAL_UTILISATION',"
                        " :valid_from, :valid_until, :revoked_on, 1)"
                    ),
                    {
                        "id": licence_id,
                        "valid_from": date(2026, 1, 1),
                        "valid_until": date(2026, 12, 31),
                        "revoked_on": revoked_on,
                    },
                )
        await upgrade(engine, LOCATION)
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT licence_id, revocation_read_on FROM licences"))
            read: dict[str, object] = {row[0]: row[1] for row in rows}
        assert {k: None if v is None else str(v) for k, v in read.items()} == {
            "lic-revoked": "2026-06-20",
            "lic-held": None,
        }
    finally:
        await engine.dispose()


async def test_existing_sites_carry_their_enterprise_s_version(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version("3d9b6f0e2a51"))
            await conn.execute(
                text(
                    "INSERT INTO enterprises (enterprise_id, name, industry, district, kind,"
                    " version) VALUES ('ent-steel', 'Steel', 'C3110', '江夏区', 'FACTORY', 3)"
                )
            )
            for site_id, enterprise_id in (("site-steel", "ent-steel"), ("site-x", "ent-x")):
                await conn.execute(
                    text(
                        "INSERT INTO sites (site_id, enterprise_id, name, district, industry,"
                        " enterprise_district) VALUES (:site, :ent, 'works', '青山区', 'C3110',"
                        " '江夏区')"
                    ),
                    {"site": site_id, "ent": enterprise_id},
                )
            await conn.run_sync(to_version("head"))
            found = (
                await conn.execute(text("SELECT site_id, enterprise_version FROM sites"))
            ).all()
        assert dict((str(row[0]), int(row[1])) for row in found) == {
            "site-steel": 3,
            "site-x": 1,
        }
    finally:
        await engine.dispose()


async def test_drops_stored_before_keep_their_day_as_made_and_read(database_url: str) -> None:
    engine = make_engine(database_url)
    insert_licence = text(
        "INSERT INTO licences (licence_id, enterprise_id, number, waste_codes, licence_type,"
        " valid_from, valid_until, version, codes_dropped) VALUES (:id, 'ent-cement', 'N',"
        " '[\"SW02\"]', 'GENERAL_UTILISATION', '2026-01-01', '2026-12-31', 2, :dropped)"
    )
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version("9b2e4d7a1c58"))
            await conn.execute(insert_licence, {"id": "lic-1", "dropped": '{"SW01": "2026-06-12"}'})
            await conn.execute(insert_licence, {"id": "lic-2", "dropped": None})
            await conn.run_sync(to_version("head"))
            found = await conn.execute(select(licences).where(licences.c.licence_id == "lic-1"))
            kept = licence_from_row(found.mappings().one())
            await conn.run_sync(to_version("9b2e4d7a1c58", down=True))
            rows = await conn.execute(text("SELECT licence_id, codes_dropped FROM licences"))
            after_downgrade = {row[0]: row[1] for row in rows}
        assert kept.codes_dropped == (Drop("SW01", date(2026, 6, 12), date(2026, 6, 12)),)
        assert {
            key: json.loads(value) if isinstance(value, str) else value
            for key, value in after_downgrade.items()
        } == {"lic-1": {"SW01": "2026-06-12"}, "lic-2": None}
    finally:
        await engine.dispose()


async def test_existing_sites_are_version_1_and_a_downgrade_keeps_them(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version("c7e3a9f14d62"))
            await conn.execute(
                text(
                    "INSERT INTO sites (site_id, enterprise_id, name, district, industry,"
                    " enterprise_district, enterprise_version) VALUES ('site-steel',"
                    " 'ent-steel', 'works', '青山区', 'C3110', '青山区', 2)"
                )
            )
            await conn.run_sync(to_version("head"))
            upgraded = (
                await conn.execute(text("SELECT version, enterprise_version FROM sites"))
            ).one()
            await conn.run_sync(to_version("c7e3a9f14d62", down=True))
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("sites")}
            )
            left = (await conn.execute(text("SELECT site_id, district FROM sites"))).all()
        assert tuple(upgraded) == (1, 2)
        assert "version" not in columns
        assert [tuple(row) for row in left] == [("site-steel", "青山区")]
    finally:
        await engine.dispose()


async def test_a_receivers_columns_start_at_zero_and_go_only_while_no_entry_needs_them(
    database_url: str,
) -> None:
    """d268a1967a9c (decision 027): existing rows hold 0 in the two new columns, as this
    version would have written them; a downgrade drops them, but is refused (nothing
    changed) once the journal holds a receiver's storage or disposal."""
    engine = make_engine(database_url)
    factory = UnitOfWorkFactory(engine, messaging)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to_version(BEFORE_RECEIVER_KINDS))
        booked = journal()
        expected = projection_deltas(booked)
        async with factory() as uow:
            await Repository(uow.session).insert_entries(booked, NOW)
            await uow.session.execute(sa.insert(OLD_PROJECTION), old_rows(expected))
            await uow.commit()

        await upgrade(engine, LOCATION)
        async with factory() as uow:
            rows = await Repository(uow.session).projection_rows()
        assert rows == {key: figures_to_row(f) for key, f in expected.items()}
        assert all(row[n] == 0 for row in rows.values() for n in RECEIVER_COLUMNS)

        def projection_columns(sync: Connection) -> set[str]:
            return {c["name"] for c in inspect(sync).get_columns("projection")}

        async with engine.begin() as conn:  # no receiver's entry yet: the columns go
            await conn.run_sync(to_version(BEFORE_RECEIVER_KINDS, down=True))
            assert not projection_columns_of(await conn.run_sync(projection_columns))
            assert await read_old_rows(conn) == {
                key: {n: v for n, v in figures_to_row(f).items() if n in OLD_COLUMNS}
                for key, f in expected.items()
            }
        await upgrade(engine, LOCATION)

        stored = report(
            entry_id="e-received",
            kind=EntryKind.RECEIVED_STORED,
            actor_enterprise_id=POWER.enterprise_id,
            site=POWER,
            waste_code="SW01",
            tonnes="5",
            period="2026-01",
            from_prior_stock=False,
            cause_event_id="c-received",
            now=NOW,
        )
        async with factory() as uow:
            await Repository(uow.session).insert_entries([stored], NOW)
            await uow.commit()
        with pytest.raises(RuntimeError, match="cannot read"):
            async with engine.begin() as conn:
                await conn.run_sync(to_version(BEFORE_RECEIVER_KINDS, down=True))
        async with engine.connect() as conn:
            assert projection_columns_of(await conn.run_sync(projection_columns)) == set(
                RECEIVER_COLUMNS
            )
    finally:
        await engine.dispose()


def projection_columns_of(names: set[str]) -> set[str]:
    """Which of the receiver's two columns `names` holds."""
    return names & set(RECEIVER_COLUMNS)


async def test_waiting_reports_start_empty_and_a_downgrade_keeps_any_that_wait(
    database_url: str,
) -> None:
    """4acfd723d67d (decision 029): the table of reports waiting for their site starts
    empty; a downgrade drops it, but is refused (nothing changed) while a report waits: its
    message was consumed, and the previous version would lose it."""
    engine = make_engine(database_url)
    factory = UnitOfWorkFactory(engine, messaging)
    try:
        await upgrade(engine, LOCATION)
        async with factory() as uow:
            assert await WaitingReports(uow.session).count() == 0

        def tables(sync: Connection) -> set[str]:
            return set(inspect(sync).get_table_names())

        async with engine.begin() as conn:  # nothing waits: the table goes
            await conn.run_sync(to_version(BEFORE_WAITING, down=True))
            assert "waiting_reports" not in await conn.run_sync(tables)
        await upgrade(engine, LOCATION)

        record = KeptRecord("ingest.ledger-reports.v1", 0, 7, b"ent", b"{}", ())
        kept = WaitingReport("ent/r-1", "site-new", Delivery(record, "parked-1", "ent"), NOW)
        async with factory() as uow:
            await WaitingReports(uow.session).keep(kept)
            await uow.commit()
        with pytest.raises(RuntimeError, match="wait for their site"):
            async with engine.begin() as conn:
                await conn.run_sync(to_version(BEFORE_WAITING, down=True))
        async with factory() as uow:
            [back] = await WaitingReports(uow.session).take_for_site("site-new")
        assert back == kept
    finally:
        await engine.dispose()
